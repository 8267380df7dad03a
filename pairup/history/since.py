"""``--since``: a day (``2026-11-02``, from its midnight here) or a time ago (``2w``, ``3d``,
or anything :mod:`pairup.duration` reads, such as ``12h``)."""

import re
from datetime import datetime

from pairup.duration import DurationError, parse_duration

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_AGO = re.compile(r"(\d{1,5})([dw])")
_UNIT = {"d": 24 * 3600, "w": 7 * 24 * 3600}
EXAMPLES = "a day like 2026-11-02, or a time ago like 2w, 3d or 12h"


class SinceError(ValueError):
    """A ``--since`` that cannot be read; the message says what a good one looks like."""


def parse_since(text: str, now: float) -> float:
    """The time ``text`` names, seconds since the epoch; ``now`` is when a time ago counts
    back from."""
    compact = text.strip().lower()
    if not compact.isascii():
        # ``\d`` and ``int`` take any script's digits (``٣``); pairup's examples are ASCII.
        raise SinceError(f"--since: expected {EXAMPLES}, got {text!r}")
    if _DAY.fullmatch(compact):
        try:
            return datetime.strptime(compact, "%Y-%m-%d").timestamp()
        except (ValueError, OverflowError, OSError):
            raise SinceError(f"--since: {text!r} is not a day of the calendar") from None
    ago = _AGO.fullmatch(compact)
    if ago is not None:
        return now - int(ago[1]) * _UNIT[ago[2]]
    try:
        return now - parse_duration(compact)
    except DurationError:
        raise SinceError(f"--since: expected {EXAMPLES}, got {text!r}") from None
