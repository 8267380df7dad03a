"""How the screen words things: countdowns, times of day, durations, the connection.

Plain functions of plain values, so the wording is tested without a terminal.
"""

import math
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pairup.link.client import Status


def countdown(seconds: float) -> str:
    """``12:34``, or ``1:02:03`` past an hour. Rounded up, so 0:00 shows only when time is up."""
    whole = max(0, math.ceil(seconds - 1e-9))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def span(seconds: float) -> str:
    """A duration in words a person reads at a glance: ``45 s``, ``12 min``, ``1 h 05 min``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes = whole // 60
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def driven(seconds: float) -> str:
    """Time at the keyboard, to the second: ``45 s``, ``12 min 05 s``, ``1 h 02 min 05 s``."""
    whole = max(0, round(seconds))
    minutes, secs = divmod(whole, 60)
    if not minutes:
        return f"{secs} s"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min {secs:02d} s"
    return f"{hours} h {minutes:02d} min {secs:02d} s"


def time_of_day(instant: float) -> str:
    """Local wall-clock time, hours and minutes; ``--:--`` for a time no clock can show."""
    try:
        return time.strftime("%H:%M", time.localtime(instant))
    except (OverflowError, OSError, ValueError):
        return "--:--"


def connection(status: "Status", now: float, chaos: str = "") -> str:
    """The connection indicator's words, with the relay's address, and a warning while the
    relay runs a fault drill."""
    if status.state == "connected":
        drill = f" · ⚠ fault drill on: {chaos}" if chaos else ""
        return f"● connected to {status.relay}{drill}"
    if status.state == "connecting":
        return f"◌ connecting to {status.relay}…"
    if status.state == "reconnecting":
        wait = 0.0 if status.retry_at is None else max(0.0, status.retry_at - now)
        if status.reason:
            return f"◌ {status.reason} · trying again in {math.ceil(wait)} s"
        return f"◌ reconnecting in {math.ceil(wait)} s to {status.relay}"
    reason = f": {status.reason}" if status.reason else ""
    return f"✕ offline{reason} ({status.relay})"
