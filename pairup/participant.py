"""One participant in one session, whichever front end drives it.

The TUI (:mod:`pairup.tui.session`) and headless mode (:mod:`pairup.headless`) are two front
ends over one :class:`ParticipantRuntime`, which the command line builds once. It takes this
participant's place in the session at every connection, runs what must run beside the link
(the timekeeper, presence, the repository, the one sender of events, and any service added
to it), turns commands into events, commits for the session, and hands every sequenced event
the link applies to everyone listening. A watcher (a watch link) runs none of what sends: no
join, no reports, no commits.
"""

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from pairup.commands import CommandError, command_event
from pairup.config.model import HandoverConfig
from pairup.git.repo import GitError
from pairup.git.trailers import Person
from pairup.journal import JournalFailure, journal_path
from pairup.link.client import LEFT, Applied, EventTooLarge, Link
from pairup.link.core import WATCH_ONLY
from pairup.link.handover import Handovers, News
from pairup.link.joining import Introductions, in_the_session
from pairup.link.presence import keep_presence
from pairup.link.repository import SessionRepository, session_credits
from pairup.link.timekeeper import keep_time
from pairup.session import events as ev
from pairup.session.credit import Credit

Service = Callable[[], Awaitable[None]]
"""Something that runs as long as the participant takes part: started by
:meth:`ParticipantRuntime.run`, cancelled when the link stops."""
AppliedListener = Callable[[Applied], None]
ProblemListener = Callable[[str], None]
HandoverListener = Callable[[News], None]
LEAVE: Mapping[str, Any] = {"cmd": "leave"}
POLL_SECONDS = 0.05
NO_REPOSITORY = "pairup takes part from no repository here: start it inside one to commit"
NO_HANDOVER = "the code does not move here: start pairup inside a repository, with handover.mode on"


class ParticipantRuntime:
    """``me`` taking part in the session ``link`` reaches, as the host (``settings`` given)
    or a guest, working in ``workdir``, crediting commits by the rule ``credit``, handing the
    code over at every rotation as ``handover`` says (none: it stays where it is)."""

    def __init__(
        self,
        link: Link,
        me: ev.Participant,
        *,
        settings: ev.SessionSettings | None = None,
        workdir: Path | None = None,
        credit: Credit = "present",
        handover: HandoverConfig | None = None,
    ) -> None:
        self.link = link
        self.me = me
        self.settings = settings
        self.workdir = workdir
        """Where this participant works: the git repository around it gets the live-session
        file and the commit socket, and has its commits recorded (see
        :mod:`pairup.link.repository`)."""
        self.credit = credit
        self.repository = (
            SessionRepository(link, me, workdir, credit)
            if workdir is not None and not link.watching_only
            else None
        )
        """The repository service, with the lock (``git_lock``) any git work here holds;
        ``None`` for a watcher, or with no working directory."""
        self.handover_listeners: list[HandoverListener] = []
        """Told how each handover this participant sends or takes is getting on."""
        self.handovers = (
            Handovers(
                link,
                me.id,
                self.repository.cwd,
                handover,
                git_lock=self.repository.git_lock,
                report=self._handover_news,
            )
            if self.repository is not None and handover is not None and handover.mode != "off"
            else None
        )
        """Sends this participant's work when their turn ends, takes what is handed to them."""
        self.services: list[Service] = []
        """More services to run beside the link, added before :meth:`run`."""
        self.applied_listeners: list[AppliedListener] = []
        """Told of every sequenced event the link applies (or refuses), in order."""
        self.problem_listeners: list[ProblemListener] = []
        """Told in one line when an event :meth:`ask` queued could not be sent."""
        self._outgoing: asyncio.Queue[tuple[ev.Event, asyncio.Future[None] | None]] = (
            asyncio.Queue()
        )
        self._introductions = None if link.watching_only else Introductions(link, me, settings)
        self._failure: JournalFailure | None = None

    @property
    def watching(self) -> bool:
        return self.link.watching_only

    # -- running ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Take part until the link stops (the session ended, it was closed, entry was
        refused), with every service running beside it, cancelled then; every event applied
        by then has been handed to the listeners.

        Raises what the link raises (:class:`~pairup.journal.JournalBusy`,
        :class:`~pairup.journal.JournalFailure`), a journal failure met by a service or a
        commit once the link has stopped with it as its reason, and a service's bug at once.
        """
        taking_part = asyncio.create_task(self.link.run())
        services = [asyncio.create_task(service()) for service in self._all_services()]
        try:
            await self._while_linked(taking_part, services)
        finally:
            for task in (*services, taking_part):
                task.cancel()
            await asyncio.gather(taking_part, *services, return_exceptions=True)
        while not self.link.applied.empty():
            self._hand_on(self.link.applied.get_nowait())
        if self.handovers is not None and self.link.confirmed.phase == "ended":
            await self.handovers.at_end()
        taking_part.result()
        if self._failure is not None:
            raise self._failure

    def _all_services(self) -> list[Service]:
        own: list[Service] = [self._hand_out]
        if not self.watching:
            own += [partial(keep_time, self.link), partial(keep_presence, self.link)]
            own.append(self._send_forever)
            if self.repository is not None:
                own.append(self.repository.run)
            if self.handovers is not None:
                own.append(self.handovers.run)
        return own + self.services

    async def _while_linked(
        self, taking_part: asyncio.Task[None], services: list[asyncio.Task[None]]
    ) -> None:
        waiting: set[asyncio.Task[None]] = {taking_part, *services}
        while not taking_part.done():
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {taking_part}:
                error = None if task.cancelled() else task.exception()
                if isinstance(error, JournalFailure):
                    # The journal refused an event the service asked for: the link stops with
                    # the failure as its reason, and :meth:`run` raises it then.
                    self._failure = self._failure or error
                elif error is not None:
                    raise error

    async def _hand_out(self) -> None:
        """The one reader of the link's applied events: each goes to every listener."""
        while True:
            self._hand_on(await self.link.applied.get())

    def _hand_on(self, applied: Applied) -> None:
        if self.handovers is not None:
            self.handovers.saw(applied)
        for listener in list(self.applied_listeners):
            listener(applied)

    def _handover_news(self, news: News) -> None:
        for listener in list(self.handover_listeners):
            listener(news)

    def take_again(self) -> tuple[bool, str]:
        """Take the last handover to this participant again, after its refusal was sorted
        out: whether it will be, and a line that says so or why not."""
        if self.handovers is None:
            return False, NO_HANDOVER
        return self.handovers.take_again()

    # -- asking ----------------------------------------------------------------------------------

    def ask(self, command: Mapping[str, Any]) -> str | None:
        """Turn ``command`` into an event against the session as shown now and queue it for
        the sender; or say in one line why it cannot be. A problem on its way out goes to
        the problem listeners."""
        try:
            event = self._event(command)
        except CommandError as error:
            return str(error)
        self._outgoing.put_nowait((event, None))
        return None

    async def send(self, command: Mapping[str, Any]) -> ev.Event:
        """Turn ``command`` into an event against the session as it is once this participant
        is in it (a command typed before one's own join would be refused), queue it, and
        return it once it is journaled and on its way. Raises
        :class:`~pairup.commands.CommandError`, :class:`~pairup.link.client.EventTooLarge`,
        and :class:`~pairup.journal.JournalFailure` (the link has stopped then)."""
        if self.watching:
            raise CommandError(WATCH_ONLY)
        if command.get("cmd") != "leave":
            await in_the_session(self.link, self.me.id)
        return await self._sent(self._event(command))

    def _event(self, command: Mapping[str, Any]) -> ev.Event:
        if self.watching:
            raise CommandError(WATCH_ONLY)
        return command_event(dict(command), self.link.view, self.me.id, self.link.now())

    async def _sent(self, event: ev.Event) -> ev.Event:
        sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outgoing.put_nowait((event, sent))
        await sent
        return event

    async def _send_forever(self) -> None:
        """The one sender: events leave in the order they were asked for."""
        while True:
            event, sent = await self._outgoing.get()
            try:
                await self._submit(event)
            except EventTooLarge as error:
                if sent is None:
                    self._tell(str(error))
                elif not sent.done():
                    sent.set_exception(error)
                continue
            except JournalFailure as failure:
                if sent is not None and not sent.done():
                    sent.set_exception(failure)
                raise
            if sent is not None and not sent.done():
                sent.set_result(None)

    async def _submit(self, event: ev.Event) -> None:
        if event.kind != "participant.left":
            # Only members act: something asked for before one's own join waits for it.
            await in_the_session(self.link, self.me.id)
        await self.link.submit(event)
        if isinstance(event, ev.ParticipantLeft) and event.participant_id != event.actor:
            # Taken out: the relay disconnects them, and only the host lets them back.
            await self.remove(event.participant_id)

    def _tell(self, problem: str) -> None:
        for listener in list(self.problem_listeners):
            listener(problem)

    # -- who is in -------------------------------------------------------------------------------

    async def let_in(self, participant: str) -> bool:
        """The host lets a waiting newcomer in; whether they were still waiting."""
        return await self.link.let_in(participant)

    async def turn_away(self, participant: str) -> bool:
        """The host turns a waiting newcomer away; whether they were still waiting."""
        return await self.link.turn_away(participant)

    async def remove(self, participant: str) -> bool:
        """Have the relay disconnect ``participant``, taken out of the session, and bar their
        id; False when not connected."""
        return await self.link.remove(participant)

    async def leave(
        self,
        wait: float,
        command: Mapping[str, Any] = LEAVE,
        *,
        said: Callable[[ev.Event], None] | None = None,
    ) -> None:
        """Leave the session for good and close the link: nothing joins again. The others
        are told goodbye (``said`` is told of it once it is on its way), and it is given up
        to ``wait`` seconds to leave this machine, behind whatever was asked before it; a
        watcher, or someone never let in (no journal of the session here), says none, since
        a goodbye would record a session that never took place.

        ``command`` is the leave command as asked: a malformed one raises
        :class:`~pairup.commands.CommandError` before anything happens. A journal failure
        raises, the link stopped with it as its reason."""
        goodbye = command_event(dict(command), self.link.view, self.me.id, self.link.now())
        if self._introductions is not None:
            self._introductions.stop()
        if not self.watching and await asyncio.to_thread(self._took_part):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._sent(goodbye)
                    if said is not None:
                        said(goodbye)
                    while goodbye.id in self.link.pending:
                        await asyncio.sleep(POLL_SECONDS)
        await self.link.close(LEFT)

    async def end(self, wait: float) -> str | None:
        """End the session for everyone, and wait up to ``wait`` seconds for the relay to take
        it; or say in one line why it cannot be asked."""
        problem = self.ask({"cmd": "end"})
        if problem is None:
            await _until(lambda: self.link.confirmed.phase == "ended", wait)
        return problem

    def _took_part(self) -> bool:
        """Whether this machine has a journal of the session: the link makes it once the relay
        admits this participant (or when something is sent before that)."""
        return journal_path(self.link.data_dir, self.link.join.session).exists()

    # -- committing ------------------------------------------------------------------------------

    def credited(self) -> tuple[Person, ...]:
        """Whom a commit made now credits (read on the event loop)."""
        return session_credits(self.link, self.me, self.credit)

    async def commit(
        self, message: str, *, stage_all: bool = False, verify: bool = True
    ) -> tuple[bool, str]:
        """Commit as this participant through the repository service (its lock, and the
        commit recorded in the session at once), crediting who pairs now: whether it was
        made, and a line saying what was made or why not."""
        if self.watching:
            return False, WATCH_ONLY
        if self.repository is None:
            return False, NO_REPOSITORY
        try:
            done = await self.repository.commit(
                message, dict(os.environ), stage_all=stage_all, verify=verify
            )
        except GitError as error:
            return False, str(error)
        except JournalFailure as failure:
            # Made, but the session cannot record it: the link has stopped with the failure
            # as its reason, which :meth:`run` raises.
            self._failure = self._failure or failure
            return False, f"committed, but not recorded in the session: {failure}"
        made = done.made
        credit = ", ".join(person.name for person in made.co_authors)
        return True, f"{made.sha[:7]} {made.summary}" + (f" (with {credit})" if credit else "")


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until ``condition`` holds, or ``seconds`` have passed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while not condition():
                await asyncio.sleep(POLL_SECONDS)
