"""Taking one's place in a session once connected: open it (the host), then join it, or say
one is back after being seen away; at every (re)connection, until one leaves for good."""

import asyncio

from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev

CATCH_UP_SECONDS = 30.0
"""A connection that has not caught up by then has most likely dropped; the next one tries."""


async def introduce(link: Link, me: ev.Participant, settings: ev.SessionSettings | None) -> None:
    """Open the session (when ``settings`` are given, as the host) and join it, unless the log
    already says so. Called on every (re)connection; it waits until the link has caught up
    with the relay, so it judges by the whole log and sends nothing the log already has.

    Someone seen away while disconnected is back by reconnecting; someone who said they were
    away stays away until they say they are back."""
    try:
        async with asyncio.timeout(CATCH_UP_SECONDS):
            await link.caught_up()
    except TimeoutError:
        return
    now = link.now()
    member = link.view.member(me.id)
    if (
        member is None
        or not member.present
        or (member.participant.name, member.participant.email) != (me.name, me.email)
    ):
        await link.submit(ev.ParticipantJoined(id=new_id(), actor=me.id, at=now, participant=me))
    elif member.away is not None and not member.away.by_choice:
        await link.submit(
            ev.ParticipantBack(id=new_id(), actor=me.id, at=now, participant_id=me.id)
        )
    view = link.view
    if settings is not None and not view.opened and view.phase == "lobby":
        # After joining: the rules are set by the host, whose join (and key) comes first.
        opened = ev.SessionOpened(id=new_id(), actor=me.id, at=now, settings=settings)
        await link.submit(opened)


async def in_the_session(
    link: Link, participant: str, seconds: float = CATCH_UP_SECONDS, *, opened: bool = False
) -> bool:
    """Wait (up to ``seconds``) until ``participant`` is in the session as this link sees it,
    their join sent if not yet confirmed: only members act in a session, so a command typed
    before one's own join would be refused; with ``opened``, until the host has set the
    session's rules too (their join comes first, their rules right after it). Whether they are."""

    def ready() -> bool:
        member = link.view.member(participant)
        return member is not None and member.present and (link.view.opened or not opened)

    changed = asyncio.Event()
    link.listeners.append(changed.set)
    try:
        async with asyncio.timeout(seconds):
            while not ready():
                changed.clear()
                await changed.wait()
    except TimeoutError:
        return False
    finally:
        link.listeners.remove(changed.set)
    return True


class Introductions:
    """Takes one's place in the session (see :func:`introduce`) at every (re)connection, until
    :meth:`stop`: someone who left must not be joined again by the next reconnect."""

    def __init__(self, link: Link, me: ev.Participant, settings: ev.SessionSettings | None) -> None:
        self.link = link
        self.me = me
        self.settings = settings
        self.stopped = False
        self._last = ""
        self._running: set[asyncio.Task[None]] = set()
        link.listeners.append(self._on_change)

    def stop(self) -> None:
        self.stopped = True
        for task in self._running:
            task.cancel()

    def _on_change(self) -> None:
        state = self.link.status.state
        if state == self._last:
            return
        self._last = state
        if state == "connected" and not self.stopped:
            task = asyncio.get_running_loop().create_task(
                introduce(self.link, self.me, self.settings)
            )
            self._running.add(task)
            task.add_done_callback(self._running.discard)
