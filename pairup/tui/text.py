"""How the screen words things: countdowns, times of day, durations, the connection.

Plain functions of plain values, so the wording is tested without a terminal. Times and lengths
come from the session's log, which may hold any time at all: each goes through
:mod:`pairup.moment`, so an impossible one reads as unknown and an absurd length as "over".
"""

import math
from typing import TYPE_CHECKING

from pairup import moment

if TYPE_CHECKING:
    from pairup.link.client import Status

NO_TIME = "--:--"
"""A clock face with nothing to show: no countdown, or a time pairup cannot believe."""


def countdown(seconds: float) -> str:
    """``12:34``, or ``1:02:03`` past an hour. Rounded up, so 0:00 shows only when time is up.
    Past :data:`pairup.moment.LONGEST` no countdown is believable, so none is shown."""
    left, over = moment.capped(seconds)
    if over:
        return NO_TIME
    whole = math.ceil(left - 1e-9)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def span(seconds: float) -> str:
    """A duration in words a person reads at a glance: ``45 s``, ``12 min``, ``1 h 05 min``."""
    length, over = moment.capped(seconds)
    whole = round(length)
    if whole < 60:
        said = f"{whole} s"
    elif whole < 3600:
        said = f"{whole // 60} min"
    else:
        minutes = whole // 60
        said = f"{minutes // 60} h {minutes % 60:02d} min"
    return f"over {said}" if over else said


def driven(seconds: float) -> str:
    """Time at the keyboard, to the second: ``45 s``, ``12 min 05 s``, ``1 h 02 min 05 s``."""
    length, over = moment.capped(seconds)
    minutes, secs = divmod(round(length), 60)
    if not minutes:
        said = f"{secs} s"
    elif minutes < 60:
        said = f"{minutes} min {secs:02d} s"
    else:
        hours, minutes = divmod(minutes, 60)
        said = f"{hours} h {minutes:02d} min {secs:02d} s"
    return f"over {said}" if over else said


def time_of_day(instant: float | None) -> str:
    """Local wall-clock time, hours and minutes; ``--:--`` for a time pairup cannot believe."""
    shown = moment.local(instant)
    return NO_TIME if shown is None else shown.strftime("%H:%M")


def connection(status: "Status", now: float, chaos: str = "", fingerprint: str = "") -> str:
    """The connection indicator's words, with the relay's address, and a warning while the
    relay runs a fault drill; while waiting for the host, this participant's key fingerprint,
    which the host is shown to compare."""
    if status.state == "connected":
        drill = f" · ⚠ fault drill on: {chaos}" if chaos else ""
        return f"● connected to {status.relay}{drill}"
    if status.state == "connecting":
        return f"◌ connecting to {status.relay}…"
    if status.state == "waiting":
        yours = f" · your key's fingerprint: {fingerprint}" if fingerprint else ""
        return f"◌ {status.reason or 'waiting for the host to let you in'}{yours}"
    if status.state == "reconnecting":
        wait = 0.0 if status.retry_at is None else max(0.0, status.retry_at - now)
        if status.reason:
            return f"◌ {status.reason} · trying again in {math.ceil(wait)} s"
        return f"◌ reconnecting in {math.ceil(wait)} s to {status.relay}"
    reason = f": {status.reason}" if status.reason else ""
    return f"✕ offline{reason} ({status.relay})"
