"""A participant's side of the handover: when a turn ends, the last driver's pairup sends
their work; the new driver's pairup takes it and puts it in place (see
:mod:`pairup.git.handover` for the git side and docs/protocol.md for the events).

In ``link`` mode the work travels as a git pack cut into sealed ``handover.part`` events,
then a ``handover.offered`` that names its size and SHA-256; in ``branch`` mode it is pushed
to a WIP branch of a shared remote (:mod:`pairup.git.wip`) and the offer names the commit.
The session's log decides who receives: whoever drives when the offer is sequenced. The
receiver says ``handover.applied`` or ``handover.refused`` with the reason, so both screens
show the outcome. Git work runs in a thread under the repository's git lock, never on the
event loop; the sender paces its parts by the outbox, so a large handover never trips the
relay's rate limits.
"""

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, ParamSpec, TypeVar

import pygit2

from pairup.config.model import HandoverConfig
from pairup.git import handover as git
from pairup.git.repo import GitError, open_repository
from pairup.journal import JournalError, journal_path, load
from pairup.link.client import Applied, Link
from pairup.link.joining import in_the_session
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.state import Handover, State

log = logging.getLogger("pairup.handover")
P = ParamSpec("P")
R = TypeVar("R")

WINDOW = 32
"""Parts at most in the outbox at once: the relay takes a burst of 200 frames."""
HOLDING_EVERY = 5.0
"""Seconds between two looks at whether this clone's commits changed, to say so."""
LOOK_AGAIN = 1.0
"""Seconds at most between two looks at whether a handover is due, whatever happens."""
JOURNAL_AGAIN = 5.0
"""Seconds at least between two reads of the journal for the parts of a handover."""
PARTS_DEADLINE = 120.0
"""Seconds a handover's parts may take to arrive once its offer is here; then it is refused."""
BYTES_PER_SECOND = 200 * 1024
BYTES_AT_ONCE = 12 * 1024 * 1024
"""How fast parts go out: inside what a relay stores of a session by default (256 KiB a
second, 16 MiB at once), so a large handover, or two in a row, are never cut off."""
INFLATED_PER_SIZE = 32
"""A package may take this many times ``handover.max_size`` once its objects are inflated."""
Stage = Literal[
    "recovered",
    "packing",
    "sending",
    "offered",
    "receiving",
    "applying",
    "applied",
    "refused",
    "finished",
]


@dataclass(frozen=True, slots=True)
class News:
    """What a screen shows of a handover: the stage, progress, and a line to read."""

    stage: Stage
    text: str
    done: int = 0
    total: int = 0
    handover: str = ""
    saved: str = ""
    restore: str = ""
    file: str = ""
    line: int = 0


Report = Callable[[News], None]


def _quiet(news: News) -> None:
    log.info("%s", news.text)


def moved_text(record: Handover) -> str:
    """What a handover carried, in one line."""
    files = f"{record.files} file{'s' if record.files != 1 else ''}"
    commits = (
        f", {record.commits} commit{'s' if record.commits != 1 else ''}" if record.commits else ""
    )
    where = f"; last touched {record.last_file}:{record.last_line}" if record.last_file else ""
    return f"{files}, +{record.insertions} -{record.deletions}{commits}{where}"


class Handovers:
    """Sends this participant's work when their turn ends, takes a handover meant for them."""

    def __init__(
        self,
        link: Link,
        me: str,
        cwd: Path,
        config: HandoverConfig,
        *,
        git_lock: asyncio.Lock,
        report: Report = _quiet,
    ) -> None:
        self.link = link
        self.me = me
        self.cwd = cwd
        self.config = config
        self.git_lock = git_lock
        self.report = report
        self._parts: dict[tuple[str, str], dict[int, str]] = {}
        """Parts by (sender, handover): only the offer's own sender's count."""
        self._journal_read: dict[str, float] = {}
        self._first_try: dict[str, float] = {}
        self._last_marked = 0
        """The number of the newest handover ``refs/pairup/last`` stands for."""
        self._budget = float(BYTES_AT_ONCE)
        self._budget_at = time.monotonic()
        self._offering: set[int] = set()
        """Turns this process has offered (or is offering)."""
        self._taking: set[str] = set()
        """Handovers this process has taken (or is taking)."""
        self._said_holding: tuple[str, ...] | None = None
        self._again: str | None = None
        """A refused handover to take again, as this participant asked."""
        self._changed = asyncio.Event()

    # -- what the runtime calls --------------------------------------------------------------------

    def saw(self, applied: Applied) -> None:
        """Every event as the log applies it: parts are kept until their offer comes."""
        event = applied.event
        if isinstance(event, ev.HandoverOffered) and event.actor == self.me and applied.rejected:
            self.report(
                News("refused", f"your work was not handed over, it stays here: {applied.rejected}")
            )
        if isinstance(event, ev.HandoverPart) and applied.rejected is None:
            parts = self._parts.setdefault((event.actor, event.handover), {})
            parts[event.index] = event.data
            state = self.link.view
            if state.driver == self.me and event.actor == state.last_driver != self.me:
                self.report(
                    News(
                        "receiving",
                        f"receiving the code: {len(parts)}/{event.count}",
                        len(parts),
                        event.count,
                        event.handover,
                    )
                )
        self._changed.set()

    async def run(self) -> None:
        """Until the session ends: undo an apply a kill cut short, say what this clone holds,
        and send or take each handover as the log calls for it."""
        if self.config.mode == "off" or self.link.watching_only:
            return
        try:
            repo = await asyncio.to_thread(open_repository, self.cwd)
        except GitError:
            return
        try:
            undone = await self._git(git.recover, repo)
        except (git.HandoverError, GitError, pygit2.GitError, OSError) as error:
            # The clone is as the kill left it: nothing more is handed to or from it here.
            self.report(
                News(
                    "refused",
                    f"a handover cut short could not be undone ({error}); no handover is "
                    "taken here until it is: remove git's lock file if no git command runs, "
                    "then start pairup again",
                )
            )
            return
        if undone:
            self.report(News("recovered", undone))
        # Nothing to say or do before the relay is reached and its log read: a participant
        # resuming from its journal is in the session at once, but not yet on the link.
        await self.link.caught_up()
        # What this clone holds is said once the session is opened: the log starts with the
        # host's join and rules.
        if not await in_the_session(self.link, self.me, opened=True):
            return
        self.link.listeners.append(self._changed.set)
        holding = asyncio.create_task(self._keep_saying_holding(repo))
        try:
            while self.link.view.phase != "ended":
                self._changed.clear()
                await self._step(repo)
                # A handover whose parts the journal did not hold yet is looked at again
                # even if nothing else happens.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(LOOK_AGAIN):
                        await self._changed.wait()
        finally:
            holding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holding
            with contextlib.suppress(ValueError):
                self.link.listeners.remove(self._changed.set)

    # -- deciding ----------------------------------------------------------------------------------

    async def _step(self, repo: pygit2.Repository) -> None:
        await self._mark_last(repo)
        # Take what was handed to this participant before handing on: a turn skipped at once
        # hands on the code it just received.
        record = self._waiting_for_me()
        if record is not None and record.id not in self._taking:
            self._taking.add(record.id)
            taken = False
            try:
                taken = await self._take(repo, record)
            finally:
                if not taken:
                    self._taking.discard(record.id)
        state = self.link.view
        if self._turn_ended_mine(state) and state.turn not in self._offering:
            self._offering.add(state.turn)
            await self._offer(repo, state)

    async def _mark_last(self, repo: pygit2.Repository) -> None:
        """Once the newest handover this clone took part in is one it sent and the receiver
        applied, its tree is what this clone last sent: ``refs/pairup/last``, which an apply
        may replace without saving. Not before: a handover refused or lost leaves the work
        here, to be saved if the turn comes back."""
        state = self.link.view
        mine = [
            h
            for h in state.handovers.values()
            if h.outcome == "applied" and self.me in (h.by, h.to)
        ]
        if not mine:
            return
        newest = max(mine, key=lambda h: h.number)
        if newest.number <= self._last_marked:
            return
        self._last_marked = newest.number
        if newest.by == self.me:
            await self._git(_mark_sent, repo, newest)

    def _turn_ended_mine(self, state: State) -> bool:
        """This participant drove the turn that ended, someone else drives now, and no
        handover of this turn is in the log or on its way."""
        if state.last_driver != self.me or state.driver in (None, self.me):
            return False
        return not any(h.turn == state.turn and h.by == self.me for h in state.handovers.values())

    def _waiting_for_me(self) -> Handover | None:
        """The newest handover meant for this participant, still to be taken, unless this
        participant has handed on since (its tree went on without it)."""
        state = self.link.view
        mine = [h for h in state.handovers.values() if h.to == self.me]
        if not mine:
            return None
        newest = max(mine, key=lambda h: h.number)
        handed_on = any(
            h.by == self.me and h.number > newest.number for h in state.handovers.values()
        )
        if handed_on:
            return None
        if newest.outcome == "offered" or (
            newest.outcome == "refused" and newest.id == self._again
        ):
            return newest
        return None

    def take_again(self) -> tuple[bool, str]:
        """Take the last handover meant for this participant again, once the reason it was
        refused is sorted out: whether it will be, and a line that says so or why not."""
        state = self.link.view
        mine = [h for h in state.handovers.values() if h.to == self.me and h.snapshot]
        if not mine:
            return False, "no handover has come to you"
        newest = max(mine, key=lambda h: h.number)
        if newest.outcome != "refused":
            where = "in place already" if newest.outcome == "applied" else "on its way"
            return False, f"the last handover to you is {where}"
        self._again = newest.id
        self._taking.discard(newest.id)
        self._changed.set()
        return True, f"taking the handover of turn {newest.turn} again"

    # -- sending -----------------------------------------------------------------------------------

    async def _offer(self, repo: pygit2.Repository, state: State) -> None:
        turn, receiver = state.turn, state.driver
        assert receiver is not None
        theirs = tuple(state.holding.get(receiver, ()))
        self.report(News("packing", "taking your work to hand over"))
        try:
            ready = self._push_branch if self.config.mode == "branch" else self._package
            offer, parts = await self._git(ready, repo, turn, theirs)
        except git.TooLarge as error:
            await self._refuse_to_send(turn, str(error), error.size, error.largest)
            return
        except (git.HandoverError, GitError, pygit2.GitError, OSError) as error:
            await self._refuse_to_send(turn, str(error))
            return
        for index, data in enumerate(parts):
            await self._room(len(data))
            await self.link.submit(
                ev.HandoverPart(
                    id=new_id(),
                    actor=self.me,
                    at=self.link.now(),
                    handover=offer.handover,
                    index=index,
                    count=len(parts),
                    data=data,
                )
            )
            self.report(
                News(
                    "sending",
                    f"sending your work: {index + 1}/{len(parts)}",
                    index + 1,
                    len(parts),
                    offer.handover,
                )
            )
        await self.link.submit(offer)
        self.report(
            News("offered", "your work is on its way to the next driver", handover=offer.handover)
        )
        # The receiver's next handover need not carry back what this clone has just sent.
        await self._say_holding(repo)

    def _package(
        self, repo: pygit2.Repository, turn: int, theirs: tuple[str, ...]
    ) -> tuple[ev.HandoverOffered, list[str]]:
        """Link mode, in a thread: the snapshot packed for ``theirs``, cut into parts, and
        the offer that names them."""
        since = _last(repo)
        snapshot = git.take(repo, f"pairup handover of turn {turn - 1}")
        package = git.package(repo, snapshot, theirs, self.config.max_size, since)
        repo.references.create(git.SENT_REF, pygit2.Oid(hex=snapshot.commit), force=True)
        text = base64.b64encode(package.data).decode("ascii")
        parts = [text[i : i + ev.PART_CHARS] for i in range(0, len(text), ev.PART_CHARS)]
        if len(parts) > ev.MAX_PARTS:
            raise git.HandoverError(f"the handover needs more than {ev.MAX_PARTS} parts")
        offer = self._offer_of(
            turn,
            snapshot,
            package.moved,
            snapshot=snapshot.commit,
            parts=len(parts),
            size=len(package.data),
            digest=hashlib.sha256(package.data).hexdigest(),
        )
        return offer, parts

    def _push_branch(
        self, repo: pygit2.Repository, turn: int, theirs: tuple[str, ...]
    ) -> tuple[ev.HandoverOffered, list[str]]:
        """Branch mode, in a thread: the snapshot pushed as a WIP commit, and the offer that
        names it (no parts)."""
        from pairup.git import wip

        since = _last(repo)
        snapshot = git.take(repo, f"pairup handover of turn {turn - 1}")
        branch = wip.wip_branch_for(snapshot.branch)
        commit = wip.push(Path(repo.workdir), snapshot, self.config.remote, branch, os.environ)
        repo.references.create(git.SENT_REF, pygit2.Oid(hex=snapshot.commit), force=True)
        offer = self._offer_of(
            turn,
            snapshot,
            git.what_moved(repo, snapshot, since, list(theirs)),
            mode="branch",
            snapshot=commit,
            remote=self.config.remote[:200],
            wip_branch=branch[:200],
        )
        return offer, []

    def _offer_of(
        self, turn: int, taken: git.Snapshot, moved: git.Moved, **how: object
    ) -> ev.HandoverOffered:
        """The offer of the snapshot ``taken`` for ``turn``; ``how`` says how it travels
        (and, as ``snapshot``, the commit the receiver takes)."""
        return ev.HandoverOffered(
            id=new_id(),
            actor=self.me,
            at=self.link.now(),
            turn=turn,
            handover=f"t{turn}-{taken.commit[:24]}",
            head=taken.head,
            branch=taken.branch,
            files=moved.files,
            insertions=moved.insertions,
            deletions=moved.deletions,
            commits=moved.commits,
            last_file=moved.last_file[:4096],
            last_line=moved.last_line,
            **how,  # type: ignore[arg-type]
        )

    async def _refuse_to_send(
        self, turn: int, reason: str, size: int = 0, largest: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.report(News("refused", f"your work was not handed over: {reason}"))
        await self.link.submit(
            ev.HandoverRefused(
                id=new_id(),
                actor=self.me,
                at=self.link.now(),
                turn=turn,
                reason=reason[:2000],
                size=size,
                largest=tuple((path[:200], count) for path, count in largest[:10]),
            )
        )

    async def _room(self, size: int) -> None:
        """Wait until the outbox has room for another part, and the pace allows ``size``
        more bytes."""
        while len(self.link.pending) >= WINDOW:
            self._changed.clear()
            await self._changed.wait()
        now = time.monotonic()
        self._budget = min(
            float(BYTES_AT_ONCE), self._budget + (now - self._budget_at) * BYTES_PER_SECOND
        )
        self._budget_at = now
        if self._budget < size:
            await asyncio.sleep((size - self._budget) / BYTES_PER_SECOND)
            self._budget = float(size)
            self._budget_at = time.monotonic()
        self._budget -= size

    # -- receiving ---------------------------------------------------------------------------------

    async def _take(self, repo: pygit2.Repository, record: Handover) -> bool:
        """Apply ``record``; False when its parts are not all here yet."""
        name = f"{self.link.join.session[:12]}-turn-{record.turn}"
        try:
            if record.size > self.config.max_size:
                raise git.HandoverError(
                    f"it is {record.size:,} bytes, over your handover.max_size "
                    f"({self.config.max_size:,}); raise it to take this one"
                )
            if record.mode == "branch":
                self.report(News("applying", f"fetching {record.wip_branch} from {record.remote}"))
                outcome = await self._git(self._fetch_and_apply, repo, record, name)
            else:
                text = await self._assemble(record)
                if text is None:
                    return False
                self.report(News("applying", "putting the code in place", handover=record.id))
                outcome = await self._git(self._apply, repo, record, text, name)
        except Exception as error:
            # Whatever a partner's handover makes go wrong here is a refusal, never a crash
            # (which would come back at every start, the handover still waiting).
            if not isinstance(error, git.HandoverError | GitError | pygit2.GitError | OSError):
                log.exception("taking handover %s failed", record.id)
            reason = str(error) or type(error).__name__
            self.report(
                News("refused", f"the handover was not applied: {reason}", handover=record.id)
            )
            await self.link.submit(
                ev.HandoverRefused(
                    id=new_id(),
                    actor=self.me,
                    at=self.link.now(),
                    turn=record.turn,
                    handover=record.id,
                    reason=reason[:2000],
                )
            )
            return True
        self._parts.pop((record.by, record.id), None)
        await self.link.submit(
            ev.HandoverApplied(
                id=new_id(),
                actor=self.me,
                at=self.link.now(),
                handover=record.id,
                saved=(outcome.saved or "")[:200],
            )
        )
        said = f"the code is here: {moved_text(record)}"
        if outcome.saved:
            said += f". Your own changes were saved: {outcome.restore} brings them back"
        self.report(
            News(
                "applied",
                said,
                handover=record.id,
                saved=outcome.saved or "",
                restore=outcome.restore,
                file=record.last_file,
                line=record.last_line,
            )
        )
        await self._say_holding(repo)
        await asyncio.to_thread(self._open, repo, record)
        return True

    async def _assemble(self, record: Handover) -> str | None:
        """The package of ``record`` from its sender's parts, as the text they carry (decoded
        and checked with the apply, in its thread); None while some are missing
        (the journal is read for them at most every few seconds), a refusal once they have
        been missing for :data:`PARTS_DEADLINE` seconds."""
        key = (record.by, record.id)
        parts = self._parts.setdefault(key, {})
        now = time.monotonic()
        if len(parts) < record.parts and now - self._journal_read.get(record.id, 0.0) >= (
            JOURNAL_AGAIN
        ):
            self._journal_read[record.id] = now
            parts.update(await asyncio.to_thread(self._parts_in_journal, record))
        if len(parts) < record.parts:
            first = self._first_try.setdefault(record.id, now)
            if now - first > PARTS_DEADLINE:
                raise git.HandoverError(
                    f"only {len(parts)} of its {record.parts} parts arrived in "
                    f"{PARTS_DEADLINE:.0f} s: ask for the turn to be handed over again"
                )
            return None
        try:
            return "".join(parts[i] for i in range(record.parts))
        except KeyError as error:
            raise git.HandoverError(f"the handover's parts do not read ({error})") from None

    def _parts_in_journal(self, record: Handover) -> dict[int, str]:
        """The handover's parts from its sender, as this participant's journal holds them."""
        try:
            contents = load(journal_path(self.link.data_dir, self.link.join.session))
        except (OSError, JournalError):
            return {}
        return {
            event.index: event.data
            for event in contents.events
            if isinstance(event, ev.HandoverPart)
            and (event.actor, event.handover) == (record.by, record.id)
            and event.seq
        }

    def _apply(
        self, repo: pygit2.Repository, record: Handover, text: str, name: str
    ) -> git.Outcome:
        try:
            data = base64.b64decode(text, validate=True)
        except ValueError as error:
            raise git.HandoverError(f"the handover's parts do not read ({error})") from None
        if len(data) != record.size or hashlib.sha256(data).hexdigest() != record.digest:
            raise git.HandoverError("the handover arrived damaged (its digest does not match)")
        git.unpack(repo, data, record.snapshot, INFLATED_PER_SIZE * self.config.max_size)
        return git.apply(repo, git.read(repo, record.snapshot), name)

    def _fetch_and_apply(self, repo: pygit2.Repository, record: Handover, name: str) -> git.Outcome:
        from pairup.git import wip

        branch = record.wip_branch
        if not branch.startswith(wip.WIP_PREFIX) or not pygit2.reference_is_valid_name(
            f"refs/heads/{branch}"
        ):
            raise git.HandoverError(
                f"the handover names a WIP branch pairup does not use: {branch!r}"
            )
        # This clone's own remote, whatever the sender calls theirs: a partner never chooses
        # where this machine fetches from.
        workdir = Path(repo.workdir)
        snapshot = wip.fetch(workdir, self.config.remote, branch, record.snapshot, os.environ)
        return git.apply(repo, git.read(repo, snapshot), name)

    def _open(self, repo: pygit2.Repository, record: Handover) -> None:
        """Run ``handover.open`` on the file the last driver touched last, if it is here."""
        if not self.config.open or not record.last_file:
            return
        top = Path(repo.workdir).resolve()
        path = (top / record.last_file).resolve()
        if not path.is_relative_to(top) or not path.is_file():
            return
        values = {"{file}": str(path), "{line}": str(record.last_line)}
        command = []
        for part in self.config.open:
            filled = part
            for placeholder, value in values.items():
                filled = filled.replace(placeholder, value)
            command.append(filled)
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

    async def at_end(self) -> None:
        """Once the session has ended, in branch mode, on the clone of whoever holds the
        work: squash or keep the WIP branch, as ``handover.finish`` says."""
        from pairup.git import wip

        if self.config.mode != "branch":
            return
        try:
            repo = await asyncio.to_thread(open_repository, self.cwd)
        except GitError:
            return
        state = self.link.confirmed
        branches = {h.wip_branch for h in state.handovers.values() if h.mode == "branch"}
        applied = [h for h in state.handovers_in_order() if h.outcome == "applied"]
        if not branches or not applied or applied[-1].to != self.me:
            return
        try:
            said = await self._git(
                wip.finish,
                Path(repo.workdir),
                self.config.remote,
                applied[-1].wip_branch,
                self.config.finish,
                os.environ,
            )
        except (git.HandoverError, OSError) as error:
            said = str(error)
        self.report(News("finished", said))

    # -- holding -----------------------------------------------------------------------------------

    async def _keep_saying_holding(self, repo: pygit2.Repository) -> None:
        while True:
            await self._say_holding(repo)
            await asyncio.sleep(HOLDING_EVERY)

    async def _say_holding(self, repo: pygit2.Repository) -> None:
        heads = tuple(await self._git(git.holding, repo))
        if heads and heads != self._said_holding:
            self._said_holding = heads
            await self.link.submit(
                ev.CloneHolding(id=new_id(), actor=self.me, at=self.link.now(), heads=heads)
            )

    async def _git(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        async with self.git_lock:
            return await asyncio.to_thread(work, *args, **kwargs)


def _last(repo: pygit2.Repository) -> str | None:
    with contextlib.suppress(KeyError):
        return str(repo.references[git.LAST_REF].target)
    return None


def _mark_sent(repo: pygit2.Repository, record: Handover) -> None:
    """``refs/pairup/last`` is the snapshot ``record`` carried (in branch mode, the WIP
    commit's second parent), which the receiver has applied."""
    with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
        commit = repo[record.snapshot]
        snapshot = commit.parent_ids[1] if record.mode == "branch" else commit.id
        repo.references.create(git.LAST_REF, snapshot, force=True)
