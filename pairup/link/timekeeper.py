"""Every participant watches the countdown and says when it has run out; the first one wins.

The rotation (or the end of a break) is an event like any other: each client sends one when
its relay-corrected clock says the time is up, the relay orders them, and the session core
applies the first and ignores the rest. So roles rotate on every screen at once, decided by
the core's rules rather than by each screen's guess.
"""

import asyncio
import secrets

from pairup.link.client import Link
from pairup.session import events as ev
from pairup.session.timer import is_due

RETRY_AFTER = 3.0
"""If a rotation we sent was refused (our clock ran ahead), ask again after this long."""


async def keep_time(link: Link, interval: float = 0.2) -> None:
    asked: dict[tuple[str, int], float] = {}
    while True:
        view = link.view
        now = link.now()
        if view.phase in ("running", "break") and is_due(view, now):
            key = (view.phase, view.turn)
            if now - asked.get(key, -RETRY_AFTER) >= RETRY_AFTER:
                asked[key] = now
                kind = ev.RolesRotated if view.phase == "running" else ev.BreakEnded
                await link.submit(kind(id=new_id(), actor=link.participant, at=now, turn=view.turn))
        await asyncio.sleep(interval)


def new_id() -> str:
    """A client-made event id: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)
