"""Session times and lengths made safe to show: one range of believable times, one cap.

Every time in a session comes from a log: the relay's clock, a partner's clock, a journal
written by an older pairup or replayed from elsewhere. Any finite float can be there, 1e13 or
-1 included, and the standard library cannot turn most of them into a date (``year 318857 is
out of range``), or turns them into nonsense (a session 2,777,278,714 hours long). So every
screen, export and listing that shows a time or a length asks here first:

- :func:`known` says whether a time is believable, between 2000 and 2200; outside that range
  it is shown as unknown (:data:`UNKNOWN_TIME`, ``--:--`` where a clock face is expected) and
  left out of charts, rather than crash or mislead;
- :func:`capped` bounds a length: never negative, and never more than :data:`LONGEST`, past
  which the caller says "over" rather than print a number nobody can believe.

Pure and standard library only (``datetime``, no ``time``): the export's renderers, which must
not read the clock, use it too.
"""

import math
from datetime import UTC, datetime
from typing import TypeGuard

EARLIEST = 946_684_800.0
"""2000-01-01 00:00 UTC: no pairing session took place before pairup existed."""
LATEST = 7_258_118_400.0
"""2200-01-01 00:00 UTC: any later is a clock's mistake, and far inside what dates can hold."""
LONGEST = 30 * 24 * 3600
"""30 days: a longer session, turn or break is a clock's mistake, not a length to report."""
UNKNOWN_TIME = "unknown time"
UNKNOWN_DATE = "unknown date"
UNKNOWN_LENGTH = "unknown length"


def known(at: float | None) -> TypeGuard[float]:
    """Whether ``at`` is a time pairup can believe and show (NaN and infinities are not)."""
    return at is not None and EARLIEST <= at < LATEST


def utc(at: float | None) -> datetime | None:
    """``at`` as an aware UTC datetime, or None when it is not :func:`known`."""
    return datetime.fromtimestamp(at, tz=UTC) if known(at) else None


def local(at: float | None) -> datetime | None:
    """``at`` in this machine's time zone, or None when it is not :func:`known` (or the
    platform's time zone rules cannot place it)."""
    if not known(at):
        return None
    try:
        return datetime.fromtimestamp(at).astimezone()
    except (OverflowError, OSError, ValueError):
        return None


def between(start: float | None, end: float | None) -> float | None:
    """Seconds from ``start`` to ``end`` when both are :func:`known`, never negative; None when
    either is not, since a length measured from an impossible time means nothing."""
    if not (known(start) and known(end)):
        return None
    return max(0.0, end - start)


def capped(seconds: float) -> tuple[float, bool]:
    """``seconds`` within ``[0, LONGEST]``, and whether it had to be cut down to ``LONGEST``
    (the caller then says "over"). Not a number counts as nothing."""
    if math.isnan(seconds) or seconds <= 0:
        return 0.0, False
    if seconds > LONGEST:
        return float(LONGEST), True
    return seconds, False
