"""The TUI's side of a session: what the screen shows of the participant's runtime, and what
its keys ask of it (the runtime, :mod:`pairup.participant`, is the same headless mode drives).

This module brings in the session core, pydantic and the network. The app imports it in a
thread after its first frame is on screen, so the screen appears without waiting for them.
"""

import contextlib
import math
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import FileStatus
from rich.cells import cell_len
from rich.text import Text

from pairup import moment
from pairup.adr.export import ExportError, Where, export
from pairup.git.committing import resolve_credit
from pairup.git.live import toplevel
from pairup.git.repo import GitError, open_repository
from pairup.git.trailers import Person
from pairup.journal import JournalBusy, JournalError, JournalFailure, journal_path, read_info
from pairup.link.client import CLOSED, FINISHED, LEFT, WATCH_ONLY, Applied, Link
from pairup.link.handover import News, moved_text
from pairup.participant import ParticipantRuntime
from pairup.printable import printable, printable_block
from pairup.session import events as ev
from pairup.session import timer
from pairup.session.reduce import amend_refused, end_refused, take_out_refused
from pairup.session.rotation import next_driver
from pairup.session.state import Decision, Member, State
from pairup.tui import text
from pairup.tui.shown import (
    CommitPreview,
    CommitRow,
    DecisionRow,
    HandoverRow,
    KnockRow,
    OpinionRow,
    OptionRow,
    RosterRow,
    Snapshot,
)
from pairup.tui.widgets import fit

MOVING = frozenset({"packing", "sending", "receiving", "applying"})
"""A handover's stages that a progress line shows while they last."""
ROUTINE = {"roles.rotated", "break.ended", "participant.away"}
"""Kinds every client sends when a countdown runs out or someone has been gone too long; only
the first counts, so the refusal of the others is routine and not worth a word."""
LEAVE_WAIT_SECONDS = 2.0
END_WAIT_SECONDS = 3.0
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
    """One participant in one session, as the screen needs it: the screen's adapter over the
    participant's runtime. ``connect`` False shows the session without taking part in it."""

    def __init__(
        self,
        runtime: ParticipantRuntime,
        *,
        prefs: Preferences | None = None,
        connect: bool = True,
    ) -> None:
        self.runtime = runtime
        self.prefs = prefs or Preferences()
        self.connect = connect
        self.ever_connected = False
        self.news: News | None = None
        """What this participant's pairup last said about a handover it sends or takes."""

    @property
    def link(self) -> Link:
        return self.runtime.link

    @property
    def me(self) -> ev.Participant:
        return self.runtime.me

    @property
    def repository(self) -> Path | None:
        """Where this participant works, and commits and exports into."""
        return self.runtime.workdir

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
    def watch_only(self) -> str:
        """Why nothing this participant asks for goes (a watch link), empty if it may."""
        return WATCH_ONLY if self.link.watching_only else ""

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
            decisions=tuple(self._decision_row(view, d) for d in view.decisions_in_order()),
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
            handover=self._handover_row(view),
        )

    def _decision_row(self, view: State, decision: Decision) -> DecisionRow:
        """A decision as the list and its form show it: links by number, opinions by name."""
        return DecisionRow(
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
            drivers=decision.drivers,
            options=tuple(
                OptionRow(option.name, option.pros, option.cons) for option in decision.options
            ),
            chosen=decision.chosen,
            opinions=tuple(
                OpinionRow(
                    _name(view, opinion.participant),
                    opinion.stance,
                    opinion.why,
                    you=opinion.participant == self.me.id,
                )
                for opinion in decision.opinions
            ),
            superseded_by=_number(view, decision.superseded_by),
            supersedes=tuple(
                number
                for older in decision.supersedes
                if (number := _number(view, older)) is not None
            ),
        )

    def _handover_row(self, view: State) -> HandoverRow | None:
        """The handover under way here (with its progress), else the session's last one."""
        news = self.news
        if news is not None and news.stage in MOVING:
            return HandoverRow(news.text, news.stage, news.done, news.total)
        records = view.handovers_in_order()
        if not records:
            return None
        record = records[-1]
        who = _name(view, record.by)
        if record.to is not None:
            who += f" to {_name(view, record.to)}"
        head = f"Handover of turn {record.turn - 1}, {who}"
        mine = record.to == self.me.id
        if record.outcome == "refused":
            again = mine and bool(record.snapshot)
            tail = " · h takes it again" if again else ""
            return HandoverRow(
                f"{head}: not moved, {record.reason}{tail}", "refused", take_again=again
            )
        state = "in place" if record.outcome == "applied" else "on its way"
        line = f"{head}: {moved_text(record)} · {state}"
        if mine and record.saved:
            line += f" · your own changes kept: git stash apply --index {record.saved}"
        return HandoverRow(line, record.outcome)

    def take_again(self) -> tuple[bool, str]:
        """Take the last handover to this participant again (h)."""
        return self.runtime.take_again()

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
                f"  {decision.number}. {printable(decision.title)} "
                f"({_status_line(view, decision)})\n"
            )
            for stance, who in (("agreed", decision.agreed), ("objected", decision.objected)):
                if who:
                    names = ", ".join(_shown_name(view, participant) for participant in who)
                    summary.append(f"     {stance}: {names}\n")
        commits = view.commits_in_order()
        summary.append(f"\nCommits ({len(commits)})\n", style="bold")
        for record in commits:
            credit = ", ".join(printable(person.name) for person in record.co_authors)
            with_whom = f" (with {credit})" if credit else ""
            summary.append(
                f"  {record.sha[:7]} {printable(record.summary)}: "
                f"{printable(record.author.name)}{with_whom}\n"
            )
        handovers = view.handovers_in_order()
        if handovers:
            summary.append(f"\nHandovers ({len(handovers)})\n", style="bold")
            for record in handovers:
                to = f" to {_shown_name(view, record.to)}" if record.to else ""
                how = {"applied": "in place", "offered": "never taken"}.get(record.outcome, "")
                if record.outcome == "refused":
                    how = f"not moved, {printable(record.reason)}"
                summary.append(
                    f"  turn {record.turn - 1}, {_shown_name(view, record.by)}{to}: "
                    f"{printable(moved_text(record)) if record.snapshot else 'nothing sent'}"
                    f" · {how}\n"
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

    # -- committing ------------------------------------------------------------------------------

    def credited(self) -> tuple[Person, ...]:
        """Whom a commit made now credits, read from the session on the event loop (the view
        changes under a thread's feet)."""
        return self.runtime.credited()

    def commit_preview(self, people: tuple[Person, ...]) -> CommitPreview | str:
        """What the commit form shows, or why no commit can be made here (blocking: call it
        from a thread). The trailers are corrected as the commit will correct them."""
        where = self.repository or Path.cwd()
        try:
            repo = open_repository(where)
            repo.index.read(force=True)
            status = sorted(repo.status(untracked_files="no").items())
            branch = "detached HEAD" if repo.head_is_detached else repo.head.shorthand
        except (GitError, pygit2.GitError) as error:
            return str(error)
        staged = [path for path, flags in status if flags & INDEX_CHANGES]
        changed = [path for path, flags in status if flags & WORKTREE_CHANGES]
        fixed, problems = resolve_credit(people, where, os.environ)
        trailers = tuple(
            str(person.trailer())
            for person in fixed
            if person.email.strip() and person.email.casefold() != self.me.email.casefold()
        )
        return CommitPreview(branch, tuple(staged), tuple(changed), trailers, problems)

    async def commit(self, message: str, *, stage_all: bool) -> tuple[bool, str]:
        """Commit as this participant, crediting who pairs now, through the runtime (the
        repository's lock, and the commit recorded in the session at once): whether it was
        made, and a line saying what was made or why not."""
        return await self.runtime.commit(message, stage_all=stage_all)

    # -- asking ----------------------------------------------------------------------------------

    def ask(self, command: dict[str, Any]) -> str | None:
        """Turn ``command`` into an event against the session as shown now and queue it;
        or say in one line why it cannot be."""
        return self.runtime.ask(command)

    async def let_in(self, participant: str) -> bool:
        """The host lets a waiting newcomer in; whether they were still waiting."""
        return await self.runtime.let_in(participant)

    async def turn_away(self, participant: str) -> bool:
        """The host turns a waiting newcomer away; whether they were still waiting."""
        return await self.runtime.turn_away(participant)

    async def leave(self) -> None:
        """Say goodbye to the others (a guest), and wait a moment for it to leave this machine;
        no reconnect joins again after that. The host's quitting is its own question."""
        if self.prefs.hosting:
            return
        with contextlib.suppress(JournalFailure):
            # The link has stopped with the failure as its reason, which :meth:`run` raises.
            await self.runtime.leave(LEAVE_WAIT_SECONDS)

    async def end(self) -> None:
        """End the session for everyone, and wait a moment for the relay to take it."""
        await self.runtime.end(END_WAIT_SECONDS)

    # -- running ---------------------------------------------------------------------------------

    def watch(
        self,
        changed: Callable[[], None],
        problem: Callable[[str], None],
        handover: Callable[[News], None] | None = None,
    ) -> None:
        """Call ``changed`` whenever the session or the connection changes, ``problem``
        with a line for each of this participant's events the session refused, each event
        from the relay that was not applied, and each event that could not be sent, and
        ``handover`` with each word of the handover this participant sends or takes."""

        def on_news(news: News) -> None:
            self.news = news
            if handover is not None:
                handover(news)
            changed()

        self.runtime.handover_listeners.append(on_news)

        def on_change() -> None:
            if self.link.status.state == "connected":
                self.ever_connected = True
            changed()

        def on_applied(applied: Applied) -> None:
            said = _refusal(applied, self.me.id)
            if said is not None:
                problem(said)

        self.link.listeners.append(on_change)
        self.runtime.applied_listeners.append(on_applied)
        self.runtime.problem_listeners.append(problem)

    async def run(self) -> str | None:
        """Stay in the session until it ends or the link is closed; or why entry failed. A
        journal that can be kept no longer raises (:class:`~pairup.durable.StorageError`)."""
        try:
            await self.runtime.run()
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


def _refusal(applied: Applied, me: str) -> str | None:
    """What the screen says of an applied event, if it says anything: one of this
    participant's own events the session refused, or an event from the relay not applied."""
    event = applied.event
    if event is None:
        reason = applied.rejected or ""
        if applied.unauthentic:
            return UNAUTHENTIC
        return f"Not applied: {reason[:1].upper()}{reason[1:]}."
    if applied.forged:
        return f"An event from the relay was not applied: {applied.rejected}"
    if applied.rejected and event.actor == me and not _routine(event):
        return f"Not applied: {applied.rejected}"
    return None


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


def _status_line(view: State, decision: Decision) -> str:
    """A decision's status with the decisions it is linked to: "superseded by 3"."""
    line = decision.status
    if (newer := _number(view, decision.superseded_by)) is not None:
        line += f" by {newer}"
    older = [str(_number(view, d)) for d in decision.supersedes]
    return f"{line}, supersedes {', '.join(older)}" if older else line


def _number(view: State, decision_id: str | None) -> int | None:
    """A decision's number in the log, for a link to it."""
    decision = view.decisions.get(decision_id) if decision_id is not None else None
    return decision.number if decision is not None else None


def _name(view: State, participant_id: str | None) -> str:
    if participant_id is None:
        return "nobody"
    member = view.member(participant_id)
    return member.participant.name if member is not None else participant_id
