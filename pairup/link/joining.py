"""Taking one's place in a session once connected: open it (the host), then join it."""

import asyncio

from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev

CATCH_UP_SECONDS = 30.0
"""A connection that has not caught up by then has most likely dropped; the next one tries."""


async def introduce(link: Link, me: ev.Participant, settings: ev.SessionSettings | None) -> None:
    """Open the session (when ``settings`` are given, as the host) and join it, unless the log
    already says so. Called on every (re)connection; it waits until the link has caught up
    with the relay, so it judges by the whole log and sends nothing the log already has."""
    try:
        async with asyncio.timeout(CATCH_UP_SECONDS):
            await link.caught_up()
    except TimeoutError:
        return
    view = link.view
    now = link.now()
    if settings is not None and not view.opened and view.phase == "lobby":
        opened = ev.SessionOpened(id=new_id(), actor=me.id, at=now, settings=settings)
        await link.submit(opened)
    member = link.view.member(me.id)
    if member is None or not member.present or member.participant != me:
        await link.submit(ev.ParticipantJoined(id=new_id(), actor=me.id, at=now, participant=me))


def introduce_on_connect(
    link: Link, me: ev.Participant, settings: ev.SessionSettings | None
) -> None:
    """Take one's place in the session (see :func:`introduce`) at every (re)connection."""
    running: set[asyncio.Task[None]] = set()
    last = [""]

    def on_change() -> None:
        state = link.status.state
        if state == last[0]:
            return
        last[0] = state
        if state == "connected":
            task = asyncio.get_running_loop().create_task(introduce(link, me, settings))
            running.add(task)
            task.add_done_callback(running.discard)

    link.listeners.append(on_change)
