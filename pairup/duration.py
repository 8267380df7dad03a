"""The one place that parses and formats human durations such as ``90s``, ``15m`` or ``1h30m``.

Pure and dependency-free: the config loader, the CLI flags and the TUI all go through here, so
``--turn 15m`` on the command line and ``turn = "15m"`` in a file can never disagree.
"""

import re

_PART = re.compile(r"(\d+)([hms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_UNIT_ORDER = "hms"
EXAMPLES = "90s, 15m or 1h30m"


class DurationError(ValueError):
    """A duration string that cannot be read; the message says what a good one looks like."""


def parse_duration(text: str) -> int:
    """Return the number of seconds in ``text`` (``"1h30m"`` -> 5400).

    Units are h, m and s, each at most once and in that order; a bare number is refused
    because "15" could mean seconds or minutes and guessing wrong costs a whole turn.
    """
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise DurationError(f"expected a duration like {EXAMPLES}, got an empty string")
    position = 0
    seconds = 0
    last_unit = -1
    for match in _PART.finditer(compact):
        unit_index = _UNIT_ORDER.index(match.group(2))
        if match.start() != position or unit_index <= last_unit:
            break
        seconds += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
        last_unit = unit_index
    if position != len(compact):
        raise DurationError(f"expected a duration like {EXAMPLES}, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Format whole seconds the way :func:`parse_duration` reads them (5400 -> ``"1h30m"``)."""
    remaining = max(0, round(seconds))
    if remaining == 0:
        return "0s"
    parts = []
    for unit in _UNIT_ORDER:
        amount, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)
