"""Every participant watches who is connected; someone gone longer than ``away_after`` is away.

Like the rotation, absence is an event: each client that has seen a member disconnected (by the
relay's presence frames) for the session's ``away_after_seconds`` says so, the relay orders the
reports, and the session core applies the first and ignores the rest. A client judges only
while it is itself connected and caught up, and starts counting afresh after each reconnect, so
its own trouble never makes anyone else away.
"""

import asyncio
import math

from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.state import State

ASK_AGAIN_AFTER = 5.0
"""A report that has not applied (it was lost, or its sender's clock ran ahead) is sent again
after this long."""


class AbsenceWatch:
    """When each member was first seen disconnected, and who has been for too long. Time is
    the session clock, passed in."""

    def __init__(self) -> None:
        self.missing_since: dict[str, float] = {}
        self._reported: dict[str, float] = {}

    def due(
        self, view: State, online: frozenset[str], me: str, now: float, *, judging: bool
    ) -> list[tuple[str, float]]:
        """The members to report away now, each with when they were first missed."""
        if not judging:
            self.missing_since.clear()
            return []
        limit = view.settings.away_after_seconds
        found = []
        for member in view.members:
            if not member.here or member.id == me or member.id in online:
                self.missing_since.pop(member.id, None)
                continue
            since = self.missing_since.setdefault(member.id, now)
            reported = self._reported.get(member.id, -math.inf)
            if now - since >= limit and now - reported >= ASK_AGAIN_AFTER:
                self._reported[member.id] = now
                found.append((member.id, since))
        return found


def reported_away(view: State, me: str) -> bool:
    """Whether the log says ``me`` is away without having said so: wrong while this pairup is
    connected, whoever reported it, and answered at once (see :func:`keep_presence`)."""
    member = view.member(me)
    if member is None or not member.present or member.away is None:
        return False
    return not member.away.by_choice


async def keep_presence(link: Link, interval: float = 0.5) -> None:
    """Report members away as their absence passes the session's ``away_after``; and say this
    participant is back when the log has them away while they are plainly here (a late report,
    or someone reporting them falsely), before anyone could take them out for it."""
    watch = AbsenceWatch()
    said_back = -math.inf
    while True:
        judging = link.status.state == "connected" and link.current
        now = link.now()
        if (
            judging
            and reported_away(link.view, link.participant)
            and now - said_back >= ASK_AGAIN_AFTER
        ):
            said_back = now
            await link.submit(
                ev.ParticipantBack(
                    id=new_id(),
                    actor=link.participant,
                    at=link.now(),
                    participant_id=link.participant,
                )
            )
        for participant_id, since in watch.due(
            link.view, link.online, link.participant, link.now(), judging=judging
        ):
            await link.submit(
                ev.ParticipantAway(
                    id=new_id(),
                    actor=link.participant,
                    at=link.now(),
                    participant_id=participant_id,
                    since=since,
                )
            )
        await asyncio.sleep(interval)
