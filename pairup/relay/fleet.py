"""One relay of a fleet: the shell of :mod:`pairup.relay.server` over a shared JetStream log.

Any number of these serve the same sessions (``pairup relay --store nats://…``). What differs
from a relay of its own SQLite file (ADR 35):

- **The log gives the offsets.** Events a participant sends here wait in the session's lane;
  one commit at a time per session goes to JetStream, without offsets, less what the log
  already holds. Every relay reads every commit of the sessions it holds from one ordered
  consumer, in the stream's order, and numbers their events as it reads them
  (:func:`~pairup.relay.core.events.fold`, which passes over an event the log already held,
  committed by two relays a participant resent it to): every relay gives the same events the
  same offsets and sends them in the same order. The core hears of each, its own and the
  others', through ``logged``, and only then are they sent.
- **Who is who is in the log too.** Bindings of ids to keys, the host's approvals and
  removals are written to the session's ``pairup.who`` subject, which every relay reads in
  order with the commits: the relay where a newcomer waits lets it in when it reads the
  approval, and every relay closes a removed participant's connections when it reads the
  removal.
- **Presence goes over the bus**: each relay says who is connected to it, every
  ``presence_interval`` and at each change, and forgets a relay not heard for three
  intervals; the host's refusal of a newcomer waiting at another relay goes there too.
- **Rooms come and go.** A session nobody is connected to here is let go after a minute,
  so a relay reads on only the sessions someone uses through it.
"""

import asyncio
import bisect
import contextlib
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from pairup import protocol as wire
from pairup.relay.core.actions import (
    Action,
    Announce,
    Bind,
    Create,
    LetIn,
    Load,
    Pending,
    Replay,
    Tell,
)
from pairup.relay.core.events import StoredEvent, Taken, fold
from pairup.relay.core.rules import RelayCore
from pairup.relay.jetstream import JetStreamStore, Mark, Who, commit, who
from pairup.relay.server import Relay, _Wire, creation
from pairup.relay.store import SessionExists, StoreError

log = logging.getLogger("pairup.relay")

PATIENCE = 30.0
"""Seconds a commit is tried again while JetStream cannot take it (a node died and its
streams elect a new leader: a few seconds) before its session's members are told."""
PAGE = 500


@dataclass(eq=False)
class Lane:
    """A session's commits from this relay, one at a time, and how far this relay has read
    the session's log."""

    stream_seq: int
    """The stream sequence of the session's latest commit read."""
    last_at: float
    """The time of the session's latest event, as the fold gave it."""
    marks: list[Mark] = field(default_factory=list)
    """Where each commit read starts, in order: where a resume starts reading."""
    queue: list[Pending] = field(default_factory=list)
    busy: bool = False
    who_seq: int = 0
    """The stream sequence of the session's latest entry of who is who read."""
    written: int = 0
    """The stream sequence of this relay's latest commit of the session."""
    overdue: bool = False
    """That commit was not read back at the last look: the next look reads the log."""

    def read(self, stream_seq: int, first_seq: int, events: list[StoredEvent]) -> None:
        """A commit of the session, of this relay's or another's, numbered."""
        self.marks.append(Mark(first_seq, stream_seq, self.last_at))
        self.stream_seq = stream_seq
        if events:
            self.last_at = events[-1].at

    def mark_of(self, seq: int) -> Mark:
        """Where to start reading for the session's events from offset ``seq``."""
        at = bisect.bisect_right(self.marks, (seq, float("inf"), float("inf"))) - 1
        return self.marks[at] if at >= 0 else Mark(1, 1, 0.0)


class FleetRelay(Relay):
    """A relay whose sessions live in JetStream, shared with any number of relays."""

    def __init__(self, store: JetStreamStore, **options: Any) -> None:
        # Every method of Relay that uses its store is one this class replaces.
        super().__init__(store, **options)  # type: ignore[arg-type]
        self.log = store
        self.name = secrets.token_hex(6)
        """How the other relays tell this one's presence from theirs."""
        self._lanes: dict[str, Lane] = {}
        self._loading: dict[str, list[tuple[str, int, bytes]]] = {}
        """Sessions being read from the log, with what the consumer handed over meanwhile."""
        self._commits = itertools.count(1)

    def _new_core(self, file_limit: int) -> RelayCore:
        chaos = "" if self.chaos is None else str(self.chaos.spec)
        return RelayCore(
            self.limits,
            epoch=self.log.epoch,
            file_limit=file_limit,
            now=self.now(),
            chaos=chaos,
            shared=True,
        )

    async def _begin(self) -> None:
        await self.log.follow(self._followed)
        await self.log.listen(self._heard)
        self._tasks = [
            asyncio.create_task(self._expire_forever(), name="pairup-relay-expire"),
            asyncio.create_task(self._summarise_refusals(), name="pairup-relay-refusals"),
            asyncio.create_task(self._keep_alive(), name="pairup-relay-keepalive"),
            asyncio.create_task(self._say_who_is_here(), name="pairup-relay-presence"),
        ]

    async def _end_work(self) -> None:
        """Let the commits under way end (within the close timeout), then stop."""
        await self.log.stop_listening()
        self._hand_over()
        busy = [task for task in self._work if task.get_name().startswith("pairup-commit")]
        if busy:
            await asyncio.wait(busy, timeout=self.limits.close_timeout)
        await super()._end_work()

    # -- what only a fleet is asked --------------------------------------------------------------

    def _fleet(self, action: Action) -> None:
        match action:
            case Announce(session, frame):
                self._spawn(self.log.say("presence", session, self.name.encode() + b"\n" + frame))
            case Tell(session, frame):
                self._spawn(self.log.say("tell", session, self.name.encode() + b"\n" + frame))
            case LetIn(session, participant, key):
                self._spawn(self._let_in(session, participant, key))
            case _:
                raise AssertionError(f"a relay of a fleet was asked to {action}")

    async def _heard(self, kind: str, session: str, data: bytes) -> None:
        """A message of another relay: who is connected there, or the host's refusal of a
        newcomer waiting here."""
        sender, _, frame = data.partition(b"\n")
        if sender == self.name.encode() or session not in self.core.rooms:
            return
        try:
            if kind == "presence":
                presence = wire.RELAY_FRAME.validate_json(frame)
                if isinstance(presence, wire.Presence):
                    self._do(self.core.heard(session, sender.decode(), presence, self.now()))
            elif kind == "tell":
                told = wire.decode_client_frame(frame)
                if isinstance(told, wire.Deny):
                    self._do(self.core.told(session, told, self.now()))
        except (ValidationError, wire.FrameError, UnicodeDecodeError):
            log.warning("a message on the fleet's bus is not pairup's: %.80r", data)

    async def _say_who_is_here(self) -> None:
        while True:
            await asyncio.sleep(self.limits.presence_interval)
            self._do(self.core.sweep(self.now()))
            for session in [s for s in self._lanes if s not in self.core.rooms]:
                if not self._lanes[session].busy:
                    del self._lanes[session]  # Let go with its room: nobody was in it.
            self._look_for_overdue_commits()

    def _look_for_overdue_commits(self) -> None:
        """A commit of this relay's not read back through the log's consumer within a whole
        interval is read from the log: its senders wait for it until it is, and a consumer
        that lost its way must not leave them waiting."""
        for session, lane in self._lanes.items():
            late = lane.written > lane.stream_seq
            if late and lane.overdue:
                self._spawn(self._catch_up(session, lane))
            lane.overdue = late

    async def _catch_up(self, session: str, lane: Lane) -> None:
        try:
            chunks = await self.log.log(session, lane.stream_seq)
        except StoreError as error:
            self._trouble.report(error)
            return
        try:
            for chunk in chunks:
                self._read_commit(session, chunk.stream_seq, chunk.taken)
        except Exception:
            self._lost_place(session)

    # -- the log ---------------------------------------------------------------------------------

    async def _load(self, action: Load | Create) -> None:
        session = action.session
        self._loading[session] = []
        try:
            if isinstance(action, Create):
                with contextlib.suppress(SessionExists):
                    await self.log.create_session(
                        session, action.verifier, **creation(action, self.clock())
                    )
            stored = await self.log.load(session)
        except Exception as error:
            self._loading.pop(session, None)
            if isinstance(error, StoreError):
                self._trouble.report(error)
                reason = self._trouble.reason
            else:
                log.exception("loading session %s failed", session)
                reason = "the relay could not read the session; try again"
            self._do(self.core.load_failed(session, reason))
            return
        came = self._loading.pop(session, [])
        if stored is None:
            self._do(self.core.loaded(session, None, self.now()))
            return
        if session not in self.core.rooms or session not in self._lanes:
            self._lanes[session] = Lane(
                stored.stream_seq, stored.last_at, stored.marks, who_seq=stored.who_seq
            )
        self._do(self.core.loaded(session, stored.loaded, self.now()))
        for kind, stream_seq, data in came:
            self._followed(kind, session, stream_seq, data)

    def _followed(self, kind: str, session: str, stream_seq: int, data: bytes) -> None:
        """A commit or an entry of who is who, of any relay, as the consumer hands it over in
        the stream's order."""
        waiting = self._loading.get(session)
        if waiting is not None:
            waiting.append((kind, stream_seq, data))
            return
        if session not in self._lanes:
            return
        try:
            if kind == "log":
                self._read_commit(session, stream_seq, commit(data))
            else:
                self._read_who(session, stream_seq, who(data))
        except Exception:
            self._lost_place(session)

    def _lost_place(self, session: str) -> None:
        """Reading the session from the log failed on a bug, or on something not pairup's on
        its subjects: what this relay holds of it may now differ from the others', so it lets
        the session go and its members resume on a session loaded anew."""
        log.exception("reading session %s from the log failed", session)
        self._lanes.pop(session, None)
        self._do(self.core.let_go(session, "the relay lost its place in the session; resume"))

    def _read_who(self, session: str, stream_seq: int, entry: Who) -> None:
        lane = self._lanes.get(session)
        if lane is None or stream_seq <= lane.who_seq:
            return
        lane.who_seq = stream_seq
        self._do(
            self.core.who(
                session,
                entry.participant,
                self.now(),
                key=entry.key,
                watcher=entry.watcher,
                standing=entry.standing,
            )
        )

    def _read_commit(self, session: str, stream_seq: int, taken: list[Taken]) -> None:
        """Number a commit of the session's, of this relay or another, after what this relay
        read before it, and hand its events to the rules; one already read is passed over."""
        lane = self._lanes.get(session)
        room = self.core.rooms.get(session)
        if lane is None or room is None or stream_seq <= lane.stream_seq:
            return
        first = room.stored_seq + 1
        logged = fold(
            session, taken, last_seq=room.stored_seq, last_at=lane.last_at, first_seen=room.ids.get
        )
        lane.read(stream_seq, first, logged)
        self._do(self.core.logged(session, logged))

    def _hand_over(self) -> None:
        """Queue what this turn of the event loop took in its sessions' lanes."""
        self._handing_over = False
        for pending in self.core.take_sequenced():
            session = pending[0].session
            lane = self._lanes.get(session)
            if lane is None:
                if self.core.rooms.get(session) is pending[1]:
                    # No lane for a room held: its events would wait for ever. Start again.
                    log.error("session %s has no lane; letting it go", session)
                    self._do(self.core.let_go(session, "the relay lost its place; resume"))
                continue  # Its room was let go meanwhile: the sender resends.
            lane.queue.append(pending)
            if not lane.busy:
                lane.busy = True
                task = asyncio.create_task(self._commit(session, lane), name="pairup-commit")
                self._work.add(task)
                task.add_done_callback(self._work.discard)

    async def _commit(self, session: str, lane: Lane) -> None:
        """Commit the lane's events, one commit at a time, in the order they were taken,
        less those the log holds already (another relay committed a resend of them)."""
        try:
            while lane.queue:
                room = self.core.rooms.get(session)
                known = room.ids if room is not None else {}
                lane.queue = [
                    pending
                    for pending in lane.queue
                    if pending[1] is room and pending[0].id not in known
                ]
                batch = lane.queue[: self.limits.commit_batch]
                if not batch:
                    return
                taken = [Taken(event.id, event.sender, event.at, event.body) for event, _ in batch]
                written = await self._append(session, taken, f"{self.name}.{next(self._commits)}")
                lane.written = max(lane.written, written)
                del lane.queue[: len(batch)]
        except Exception as error:
            if isinstance(error, StoreError):
                self._trouble.report(error)
                reason = self._trouble.reason
            else:
                # A bug, not the store: the session's members resume on a room loaded anew
                # rather than wait on a lane that stopped.
                log.exception("committing session %s failed", session)
                reason = "the relay failed storing events; resume"
            failed, lane.queue = lane.queue, []
            if failed:
                if self._lanes.get(session) is lane:
                    del self._lanes[session]
                self._do(self.core.failed(failed, reason))
        finally:
            lane.busy = False

    async def _append(self, session: str, taken: list[Taken], commit_id: str) -> int:
        """Append, trying again while JetStream cannot answer (a leader being elected); the
        commit's id makes a try that did land count once."""
        deadline = self.timer() + PATIENCE
        pause = 0.05
        while True:
            try:
                stream_seq = await self.log.append(session, taken, commit_id)
            except StoreError:
                if self.timer() + pause > deadline:
                    raise
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            self._trouble.over()
            return stream_seq

    async def _pages(self, connection: _Wire, replay: Replay) -> None:
        """A resume: the stored events after ``replay.after``, read again from the commit
        that holds the first and numbered as when they were first read, a page at a time."""
        lane = self._lanes.get(replay.session)
        room = self.core.rooms.get(replay.session)
        if lane is None or room is None:
            connection.close(wire.Close.STORAGE_FAILED, "the relay let the session go; resume")
            return
        mark = lane.mark_of(replay.after + 1)
        try:
            chunks = await self.log.log(replay.session, mark.stream_seq - 1)
        except StoreError as error:
            self._trouble.report(error)
            connection.close(wire.Close.STORAGE_FAILED, self._trouble.reason)
            return
        frames: list[bytes] = []
        seq, at = mark.first_seq - 1, mark.at_before
        for chunk in chunks:
            if seq >= replay.end:
                break
            events = fold(
                replay.session, chunk.taken, last_seq=seq, last_at=at, first_seen=room.ids.get
            )
            frames += [e.frame for e in events if replay.after < e.seq <= replay.end]
            if events:
                seq, at = events[-1].seq, events[-1].at
        for first in range(0, len(frames), PAGE):
            if connection.done:
                return
            packed = wire.pack_events(frames[first : first + PAGE])
            if self.chaos is None:
                connection.send(packed)
                await connection.drained()
            else:
                self.chaos.outgoing(connection, packed, self._send_all)

    # -- who is who, and expiry ------------------------------------------------------------------

    async def _bind(self, bind: Bind) -> None:
        try:
            if bind.let_in:
                async with self._standings:
                    key = await self.log.let_in(bind.session, bind.participant, bind.key)
            else:
                key = await self.log.bind_identity(
                    bind.session, bind.participant, bind.key, watcher=bind.watcher
                )
        except StoreError as error:
            self._trouble.report(error)
            self._do(self.core.bind_failed(bind, self._trouble.reason))
            return
        self._do(self.core.bound(bind, key, self.now()))

    async def _let_in(self, session: str, participant: str, key: bytes) -> None:
        """The host let in someone waiting at another relay: written for every relay to read."""
        async with self._standings:
            try:
                await self.log.let_in(session, participant, key)
            except StoreError as error:
                self._trouble.report(error)

    async def _remember(self, session: str, participant: str) -> None:
        async with self._standings:
            try:
                await self.log.remove(session, participant)
            except StoreError as error:
                self._trouble.report(error)

    async def _touch(self, session: str, at: float) -> None:
        try:
            await self.log.touch(session, at)
        except StoreError as error:
            self._trouble.report(error)

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.expiry_interval)
            now = self.now()
            try:
                for session in self.core.in_use():
                    await self.log.touch(session, now.wall)
                expired = await self.log.expire(
                    now.wall - self.limits.idle_session_seconds,
                    unused_before=now.wall - self.limits.unused_session_seconds,
                )
            except StoreError as error:
                self._trouble.report(error)
                continue
            # Another relay may have expired sessions this one holds with nobody in them.
            try:
                left = set(await self.log.sessions())
            except StoreError as error:
                self._trouble.report(error)
                left = set(self.core.rooms)
            gone = sorted(
                {*expired, *(session for session in self.core.rooms if session not in left)}
            )
            self.core.expired(gone, now)
            for session in gone:
                if session not in self.core.rooms:
                    self._lanes.pop(session, None)
            if expired:
                log.info("expired %d idle sessions", len(expired))
