"""Where the files pairup ships live: the defaults, the fault-drill presets and the examples.

Their one home is the top-level ``config/`` directory of the source tree (ADR 20). A source
checkout, and an editable install that imports the checkout in place, read them there, beside
the ``pairup`` package. A wheel carries the same directory inside the package as
``pairup/config/shipped/`` (the wheel's ``sources`` in ``pyproject.toml`` put it there), because
an installed package can only count on what is inside it. Which of the two applies is decided
once, by whether the wheel's directory exists; a file missing from it is reported, never
replaced by another copy.
"""

from pathlib import Path

IN_WHEEL = Path(__file__).with_name("shipped")
"""Where a built wheel puts the source tree's ``config/``."""

IN_CHECKOUT = Path(__file__).parents[2] / "config"
"""The source tree's ``config/``, next to the ``pairup`` package it is imported from."""

SHIPPED_DIR = IN_WHEEL if IN_WHEEL.is_dir() else IN_CHECKOUT

MISSING = "missing: this pairup is not installed whole; reinstall it (a checkout has config/)"
"""What to say about a shipped file that is not there, after its path."""
