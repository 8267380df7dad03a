"""The TUI's side of a session: the link, what it shows, and what its keys ask for.

This module brings in the session core, pydantic and the network. The app imports it in a
thread after its first frame is on screen, so the screen appears without waiting for them.
"""

import asyncio
import contextlib
import math
import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileStatus
from rich.cells import cell_len
from rich.text import Text

from pairup import moment
from pairup.adr.export import ExportError, Where, export
from pairup.commands import CommandError, command_event
from pairup.git.coauthors import resolve
from pairup.git.live import toplevel
from pairup.git.repo import GitError, commit, open_repository
from pairup.git.trailers import Person
from pairup.journal import JournalBusy, JournalError, journal_path, read_info
from pairup.link.client import CLOSED, FINISHED, LEFT, EventTooLarge, Link
from pairup.link.joining import Introductions, in_the_session
from pairup.link.presence import keep_presence
from pairup.link.repository import keep_repository
from pairup.link.timekeeper import keep_time
from pairup.printable import printable, printable_block
from pairup.session import events as ev
from pairup.session import timer
from pairup.session.credit import Credit, co_authors
from pairup.session.reduce import amend_refused, end_refused, take_out_refused
from pairup.session.rotation import next_driver
from pairup.session.state import Member, State
from pairup.tui import text
from pairup.tui.shown import (
    CommitPreview,
    CommitRow,
    DecisionRow,
    KnockRow,
    RosterRow,
    Snapshot,
)
from pairup.tui.widgets import fit

ROUTINE = {"roles.rotated", "break.ended", "participant.away"}
"""Kinds every client sends when a countdown runs out or someone has been gone too long; only
the first counts, so the refusal of the others is routine and not worth a word."""
LEAVE_WAIT_SECONDS = 2.0
END_WAIT_SECONDS = 3.0
WATCHING = "You are watching this session: a watch link cannot change it."
UNAUTHENTIC = (
    "An event from the relay failed authentication and was not applied: the relay, or "
    "something between, changed or made it. The session goes on."
)
INDEX_CHANGES = (
    FileStatus.INDEX_NEW
    | FileStatus.INDEX_MODIFIED
    | FileStatus.INDEX_DELETED
    | FileStatus.INDEX_RENAMED
    | FileStatus.INDEX_TYPECHANGE
)
WORKTREE_CHANGES = (
    FileStatus.WT_MODIFIED
    | FileStatus.WT_DELETED
    | FileStatus.WT_TYPECHANGE
    | FileStatus.WT_RENAMED
)


@dataclass(frozen=True, slots=True)
class Preferences:
    """How this participant likes to be told about changes, and what the screen should say."""

    bell: bool = True
    notify_command: tuple[str, ...] = ()
    retro: bool = True
    hosting: bool = False
    """Whether the relay runs inside this process (so quitting disconnects everyone)."""
    journal: Path | None = None
    adr_format: str = "adr"
    adr_dir: str = ""
    record_dir: str = ".pairup/sessions"


class Participation:
    """One participant in one session, as the screen needs it."""

    def __init__(
        self,
        link: Link,
        me: ev.Participant,
        *,
        settings: ev.SessionSettings | None = None,
        prefs: Preferences | None = None,
        connect: bool = True,
        repository: Path | None = None,
        credit: Credit = "present",
    ) -> None:
        self.link = link
        self.repository = repository
        self.credit = credit
        self.me = me
        self.settings = settings
        self.prefs = prefs or Preferences()
        self.connect = connect
        self.ever_connected = False
        self._outgoing: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._introductions: Introductions | None = None

    @property
    def join_link(self) -> str:
        return str(self.link.join)

    @property
    def watch_link(self) -> str:
        """The session's watch link: anyone holding the join link can make it."""
        return str(self.link.join.watching())

    @property
    def watching(self) -> bool:
        return self.link.watching_only

    @property
    def hosts(self) -> bool:
        """This participant opened the session: its screen shows the links to share."""
        return self.link.create

    @property
    def session_id(self) -> str:
        return self.link.join.session

    # -- reading ---------------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        link = self.link
        view = link.view
        now = link.now()
        following = next_driver(view.members, view.driver)
        return Snapshot(
            phase=view.phase,
            turn=view.turn,
            driver=view.driver,
            driver_name=_name(view, view.driver),
            next_name=_name(view, following),
            mine=view.driver == self.me.id,
            remaining=_whole_seconds(timer.remaining(view, now)),
            length=view.phase_length or float(view.settings.turn_seconds),
            here=len(view.here),
            paused_for=view.paused_for is not None,
            roster=tuple(
                RosterRow(
                    id=member.id,
                    name=member.participant.name,
                    you=member.id == self.me.id,
                    role=_role(member, view.driver, following),
                    online=member.id in link.online,
                    away_since=member.away.since if member.away is not None else None,
                    take_out_refused=(
                        ""
                        if member.id == self.me.id
                        else take_out_refused(view, self.me.id, member, now) or ""
                    ),
                )
                for member in view.members
            ),
            decisions=tuple(
                DecisionRow(
                    id=decision.id,
                    number=decision.number,
                    title=decision.title,
                    context=decision.context,
                    decision=decision.decision,
                    consequences=decision.consequences,
                    status=decision.status,
                    by=_name(view, decision.proposed_by),
                    at=decision.proposed_at,
                    amendments=len(decision.amendments),
                    amend_refused=amend_refused(view, self.me.id, decision) or "",
                )
                for decision in view.decisions_in_order()
            ),
            commits=tuple(
                CommitRow(
                    sha=record.sha,
                    summary=record.summary,
                    author=record.author.name,
                    co_authors=len(record.co_authors),
                )
                for record in view.commits_in_order()
            ),
            connection=text.connection(link.status, link.clock(), link.chaos, link.fingerprint),
            connection_state=link.status.state,
            problem=link.status.reason if link.status.state != "connected" else "",
            end_refused=end_refused(view, self.me.id) or "",
            watchers=tuple(name or pid for pid, name in sorted(link.watchers.items())),
            knocking=tuple(
                KnockRow(knock.participant, knock.name, knock.fingerprint, knock.returning)
                for knock in link.knocking
            ),
            watching=link.watching_only,
            host=link.host == self.me.id,
        )

    def summary(self) -> Text:
        """The end screen: how the session went and where its log is."""
        view = self.link.view
        ended = view.ended_at or self.link.now()
        started = view.opened_at or ended
        summary = Text()
        summary.append("The session has ended.\n\n", style="bold")
        length = moment.between(started, ended)
        summary.append(
            f"{text.time_of_day(started)} to {text.time_of_day(ended)}, "
            f"{moment.UNKNOWN_LENGTH if length is None else text.driven(length)}, "
            f"{view.turn} turn{'' if view.turn == 1 else 's'}.\n\n"
        )
        summary.append("Who drove how long\n", style="bold")
        driven = timer.driving_times(view, ended)
        width = max((cell_len(_shown_name(view, member)) for member in driven), default=0)
        for member_id, seconds in driven.items():
            name = _shown_name(view, member_id)
            pad = " " * (min(width, 40) - cell_len(name))
            summary.append(f"  {name}{pad}  {text.driven(seconds):>14}\n")
        decisions = view.decisions_in_order()
        summary.append(f"\nDecisions ({len(decisions)})\n", style="bold")
        for decision in decisions:
            summary.append(
                f"  {decision.number}. {printable(decision.title)} ({decision.status})\n"
            )
        commits = view.commits_in_order()
        summary.append(f"\nCommits ({len(commits)})\n", style="bold")
        for record in commits:
            credit = ", ".join(printable(person.name) for person in record.co_authors)
            with_whom = f" (with {credit})" if credit else ""
            summary.append(
                f"  {record.sha[:7]} {printable(record.summary)}: "
                f"{printable(record.author.name)}{with_whom}\n"
            )
        lessons = view.lessons_in_order()
        if lessons:
            summary.append(f"\nLessons learned ({len(lessons)})\n", style="bold")
            for lesson in lessons:
                body = printable_block(lesson.text).replace("\n", "\n    ")
                summary.append(f"  - {body} ({_shown_name(view, lesson.by)})\n")
        summary.append("\nThe session log is kept at\n", style="bold")
        summary.append(f"  {self.prefs.journal or 'the data directory of pairup'}\n")
        if self.repository is not None:
            summary.append(
                f"\nExport (e): the decisions as draft ADRs ({self.prefs.adr_format}) and the "
                f"session record, into {self.repository}.\n"
            )
        else:
            summary.append("\nExport: run pairup export in the repository (see --help).\n")
        return summary

    def export(self) -> tuple[bool, str]:
        """The session as draft ADRs and a session record in the repository (blocking: call it
        from a thread): whether it worked, and a line saying what was written or why not."""
        top = toplevel(self.repository) if self.repository is not None else None
        if top is None:
            return False, "pairup is not running inside a git repository: nothing to export into"
        where = Where(repo=top, adr_dir=self.prefs.adr_dir, record_dir=self.prefs.record_dir)
        try:
            info = read_info(journal_path(self.link.data_dir, self.session_id))
            written = export(info, self.prefs.adr_format, where, record=True, now=self.link.now())
        except (ExportError, OSError, JournalError) as error:
            return False, str(error)
        changed = [item for item in written if item.action in ("created", "updated")]
        kept = [item.path.name for item in written if item.action == "kept"]
        said = f"{len(changed)} file(s) written, {len(written) - len(changed) - len(kept)} "
        said += f"unchanged, in {top}"
        if kept:
            said += (
                f". Kept as you changed them: {', '.join(kept)} "
                "(pairup export --force writes pairup's version, saving yours beside it)"
            )
        return True, said

    # -- committing (blocking: call these from a thread) ------------------------------------------

    def credited(self) -> tuple[Person, ...]:
        """Whom a commit made now credits, read from the session on the event loop (the view
        changes under a thread's feet)."""
        return tuple(
            Person(name=p.name, email=p.email)
            for p in co_authors(self.link.view, self.me.id, self.credit, self.link.ever_online)
        )

    def _resolve(self, people: tuple[Person, ...]) -> tuple[tuple[Person, ...], tuple[str, ...]]:
        """``people`` with .git-coauthors corrections, and warnings (reads files: a thread)."""
        start = self.repository or Path.cwd()
        return resolve(people, [toplevel(start) or start, Path.home()])

    def commit_preview(self, people: tuple[Person, ...]) -> CommitPreview | str:
        """What the commit form shows, or why no commit can be made here (blocking)."""
        try:
            repo = open_repository(self.repository or Path.cwd())
            repo.index.read(force=True)
            status = sorted(repo.status(untracked_files="no").items())
            branch = "detached HEAD" if repo.head_is_detached else repo.head.shorthand
        except (GitError, pygit2.GitError) as error:
            return str(error)
        staged = [path for path, flags in status if flags & INDEX_CHANGES]
        changed = [path for path, flags in status if flags & WORKTREE_CHANGES]
        fixed, problems = self._resolve(people)
        trailers = tuple(
            str(person.trailer())
            for person in fixed
            if person.email.strip() and person.email.casefold() != self.me.email.casefold()
        )
        return CommitPreview(branch, tuple(staged), tuple(changed), trailers, problems)

    def make_commit(
        self, message: str, people: tuple[Person, ...], *, stage_all: bool
    ) -> tuple[bool, str]:
        """Commit as this participant, crediting ``people`` (blocking): whether it was made,
        and a line saying what was made or why not."""
        fixed, _ = self._resolve(people)
        try:
            repo = open_repository(self.repository or Path.cwd())
            made = commit(repo, message, co_authors=fixed, env=os.environ, stage_all=stage_all)
        except GitError as error:
            return False, str(error)
        credit = ", ".join(person.name for person in made.co_authors)
        return True, f"{made.sha[:7]} {made.summary}" + (f" (with {credit})" if credit else "")

    # -- asking ----------------------------------------------------------------------------------

    def ask(self, command: dict[str, Any]) -> str | None:
        """Turn ``command`` into an event against the session as shown now and queue it;
        or say in one line why it cannot be."""
        if self.link.watching_only:
            return WATCHING
        try:
            event = command_event(command, self.link.view, self.me.id, self.link.now())
        except CommandError as error:
            return str(error)
        self._outgoing.put_nowait(event)
        return None

    async def let_in(self, participant: str) -> bool:
        """The host lets a waiting newcomer in; whether they were still waiting."""
        return await self.link.let_in(participant)

    async def turn_away(self, participant: str) -> bool:
        """The host turns a waiting newcomer away; whether they were still waiting."""
        return await self.link.turn_away(participant)

    async def leave(self) -> None:
        """Say goodbye to the others (a guest), and wait a moment for it to leave this machine;
        no reconnect joins again after that."""
        if self.prefs.hosting or self.link.watching_only:
            return
        if self._introductions is not None:
            self._introductions.stop()
        self.ask({"cmd": "leave"})
        await self._sent(LEAVE_WAIT_SECONDS)

    async def end(self) -> None:
        """End the session for everyone, and wait a moment for the relay to take it."""
        self.ask({"cmd": "end"})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(END_WAIT_SECONDS):
                while self.link.confirmed.phase != "ended":
                    await asyncio.sleep(0.05)

    async def _sent(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                while not self._outgoing.empty() or self.link.pending:
                    await asyncio.sleep(0.05)

    # -- running ---------------------------------------------------------------------------------

    def watch(self, changed: Callable[[], None]) -> None:
        """Call ``changed`` whenever the session or the connection changes; take one's place in
        the session at every (re)connection."""

        def on_change() -> None:
            if self.link.status.state == "connected":
                self.ever_connected = True
            changed()

        if not self.link.watching_only:
            self._introductions = Introductions(self.link, self.me, self.settings)
        self.link.listeners.append(on_change)

    def tasks(self, problem: Callable[[str], None]) -> list[Awaitable[None]]:
        """What must run while the screen is up: the connection, the timekeeper, the sender
        (one, so events leave in the order they were asked for), and a watch on refusals."""
        if self.link.watching_only:
            # A watcher follows the session and sends nothing: no join, no reports, no commits.
            return [self._refusals(problem)]
        tasks = [
            keep_time(self.link),
            keep_presence(self.link),
            self._send_forever(problem),
            self._refusals(problem),
        ]
        if self.repository is not None:
            tasks.append(keep_repository(self.link, self.me, self.repository, self.credit))
        return tasks

    async def run(self) -> str | None:
        """Stay in the session until it ends or the link is closed; or why entry failed."""
        try:
            await self.link.run()
        except JournalBusy as error:
            return str(error)
        reason = self.link.status.reason
        if reason in FINISHED:
            return None
        return reason or f"could not take part in the session at {self.link.status.relay}"

    async def close(self) -> None:
        left = self.link.view.member(self.me.id)
        await self.link.close(LEFT if left is not None and not left.present else CLOSED)

    def run_notify_command(self, message: str) -> None:
        """The user's own notifier, run without a shell, with the message as its last argument.
        It may take a while: call it from a thread."""
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            command = [*self.prefs.notify_command, message]
            subprocess.run(command, timeout=10, check=False, capture_output=True)

    async def _send_forever(self, problem: Callable[[str], None]) -> None:
        while True:
            event = await self._outgoing.get()
            if event.kind != "participant.left":
                # Only members act: something asked for before one's own join waits for it.
                await in_the_session(self.link, self.me.id)
            try:
                await self.link.submit(event)
            except EventTooLarge as error:
                problem(str(error))
                continue
            if isinstance(event, ev.ParticipantLeft) and event.participant_id != event.actor:
                # Taken out: the relay disconnects them, and only the host lets them back.
                await self.link.remove(event.participant_id)

    async def _refusals(self, problem: Callable[[str], None]) -> None:
        while True:
            applied = await self.link.applied.get()
            event = applied.event
            if event is None:
                reason = applied.rejected or ""
                problem(
                    UNAUTHENTIC
                    if applied.unauthentic
                    else f"Not applied: {reason[:1].upper()}{reason[1:]}."
                )
            elif applied.forged:
                problem(f"An event from the relay was not applied: {applied.rejected}")
            elif applied.rejected and event.actor == self.me.id and not _routine(event):
                problem(f"Not applied: {applied.rejected}")


def _routine(event: ev.Event) -> bool:
    """A report every client sends (about someone else, for an absence) whose refusal only
    means another client was first."""
    return event.kind in ROUTINE and getattr(event, "participant_id", None) != event.actor


def _role(member: Member, driver: str | None, following: str | None) -> str:
    if not member.present:
        return "left"
    if member.away is not None:
        return "away"
    if member.id == driver:
        return "driver"
    return "next" if member.id == following else "navigator"


def _whole_seconds(seconds: float | None) -> float | None:
    """Rounded up, as the countdown shows it: within one second the snapshot stays the same,
    so the screen redraws once a second rather than at every tick."""
    return None if seconds is None else float(math.ceil(seconds - 1e-9))


def _shown_name(view: State, participant_id: str) -> str:
    """A name as the end screen shows it: visible controls, at most 40 cells."""
    return fit(printable(_name(view, participant_id)), 40)


def _name(view: State, participant_id: str | None) -> str:
    if participant_id is None:
        return "nobody"
    member = view.member(participant_id)
    return member.participant.name if member is not None else participant_id
