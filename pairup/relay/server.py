"""The relay: admits participants, sequences each session's events, stores them, fans them out.

It reads only the envelope of an event (id, sender, body size): the body is sealed. Each
accepted event gets the session's next offset and the relay's time, and is committed to the
store *before* anyone hears of it: everyone's copy, the sender's included (which is its
acknowledgement), goes out after the commit, in offset order, a commit's events to each
participant in one frame. Commits are grouped: events that arrive while a commit is running go
into the next one, so one fsync serves many events. A writer thread of its own commits them
and hands each commit back to the event loop to fan out while it starts the next. Events are
taken as websockets parses them, without a turn of the connection's task each. See ADR 14,
ADR 16 and ADR 18.

Bad input costs the sender its connection (an error frame, then a close code from
:class:`pairup.protocol.Close`) and nobody else anything.
"""

import asyncio
import contextlib
import functools
import logging
import queue
import threading
import time
import weakref
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from ssl import SSLContext
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, State

from pairup import protocol as wire
from pairup.relay.chaos import Chaos
from pairup.relay.guard import (
    AcceptErrors,
    Doorway,
    Phase,
    SessionBudget,
    StoreTrouble,
    TokenBucket,
    raise_file_limit,
    wait_text,
)
from pairup.relay.limits import Limits
from pairup.relay.store import SessionExists, Store, StoredEvent, StoreError, sequenced

log = logging.getLogger("pairup.relay")

Clock = Callable[[], float]


@dataclass(eq=False)
class _Room:
    """A session as the relay holds it in memory while anyone is connected or events flow."""

    session: str
    verifier: bytes
    watch_verifier: bytes
    host: str
    approve: bool
    max_participants: int
    last_seq: int
    """The latest offset handed out, stored or on its way to the store."""
    stored_seq: int
    """The latest offset on disk: what a pong tells participants the log reaches."""
    last_at: float
    ids: dict[str, int]
    identities: dict[str, bytes]
    """The key each participant id of the session is bound to (see ADR 24)."""
    restored: bool = False
    """Made again from its participants' journals: welcomes say so (see ``Welcome``)."""
    members: dict[ServerConnection, str] = field(default_factory=dict)
    watchers: dict[ServerConnection, str | None] = field(default_factory=dict)
    """The members who hold the watch link, with the sealed names they show."""
    budgets: dict[str, TokenBucket] = field(default_factory=dict)
    """Each admitted participant's frames over time, by participant id: the room outlives
    connections, so reconnecting refills nothing (ADR 25)."""
    budget: SessionBudget | None = None
    """The session's new events and bytes over time, all participants together; made with
    its first new event since the relay started."""

    def connected(self) -> tuple[str, ...]:
        return tuple(
            sorted({id for member, id in self.members.items() if member not in self.watchers})
        )

    def watching(self) -> tuple[wire.Shown, ...]:
        shown = {self.members[member]: name for member, name in self.watchers.items()}
        return tuple(wire.Shown(participant=id, name=name) for id, name in sorted(shown.items()))


_Pending = tuple[StoredEvent, _Room]
"""An event with its offset, on its way to the disk, and the room it is for."""


class _Writer:
    """The relay's writer: a thread of its own that commits what the event loop sequenced, a
    group at a time, and hands each stored group back to the loop (``stored``), or a group
    that failed (``failed``), in commit order.

    A thread rather than ``asyncio.to_thread`` per commit: the loop hands events over with
    one ``put`` and the thread wakes for them at once, where a task, an executor job and the
    futures between them cost the loop several turns per commit. While the loop fans one
    commit out, the thread is already committing the next. The loop puts what one turn of it
    sequenced as one list: a ``put`` that wakes the thread is a system call, and one per event
    cost the loop more than its frame's encoding.
    """

    def __init__(
        self,
        store: Store,
        batch: int,
        stored: Callable[[list[_Pending]], None],
        failed: Callable[[list[_Pending]], None],
        trouble: StoreTrouble | None = None,
    ) -> None:
        self._store = store
        self._batch = batch
        self._stored = stored
        self._failed = failed
        self._trouble = trouble or StoreTrouble(log)
        self._queue: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._given_up: weakref.WeakSet[_Room] = weakref.WeakSet()
        """Rooms of a failed commit: the loop lets them go, and their later events, whose
        offsets follow ones that are not on disk, are dropped (their senders resend them)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="pairup-relay-writer", daemon=True)
        self._thread.start()

    def put(self, sequenced: list[_Pending]) -> None:
        """Events in offset order; the list is the writer's from now on."""
        self._queue.put(sequenced)

    async def stop(self) -> None:
        """Commit and hand back what was put before, then end the thread."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        waiting: list[_Pending] = []
        stopping = False
        while waiting or not stopping:
            if not waiting:
                given = self._queue.get()
                if given is None:
                    return
                waiting = given
            with contextlib.suppress(queue.Empty):
                while not stopping and len(waiting) < self._batch:
                    given = self._queue.get_nowait()
                    if given is None:
                        stopping = True
                    else:
                        waiting += given
            batch, waiting = waiting[: self._batch], waiting[self._batch :]
            if self._given_up:
                # Without the events of rooms given up (a commit before this one failed);
                # a WeakSet's membership test makes a weak reference, so only when there are.
                batch = [pending for pending in batch if pending[1] not in self._given_up]
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._store.append([event for event, _ in batch])
        except Exception as error:
            if isinstance(error, StoreError):
                # A full disk or a damaged file: one line for as long as it lasts, not one
                # per commit (every reconnected participant's resend is one).
                self._trouble.report(error)
            else:
                log.exception("storing %d events failed", len(batch))
            self._given_up.update(room for _, room in batch)
            self._hand_back(self._failed, batch)
        else:
            self._trouble.over()
            self._hand_back(self._stored, batch)

    def _hand_back(self, to: Callable[[list[_Pending]], None], batch: list[_Pending]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed without stopping the relay
            self._loop.call_soon_threadsafe(to, batch)


class _Connection(ServerConnection):
    """A relay connection that takes an admitted participant's events as they arrive.

    websockets puts each message it reads in a queue, and the connection's task takes them
    out one at a time: a wake-up of the task for every message, and reading paused and
    resumed whenever 16 wait. For events, most of what a relay reads, ``take`` gets each
    whole text frame as soon as it is parsed instead, and the relay sequences it there and
    then (ADR 18). A frame it declines (a resume, a ping, anything wrong) goes the queue's way
    and the task answers it as before; so does every frame behind one still in the queue, so
    frames are handled in the order they came.

    It is also where the relay's limits meet a connection first (ADR 25): it is counted
    against its address from its first byte (:meth:`connection_made`), so idle handshakes
    count; until its participant is admitted it may send one message, its hello, and no
    ping; and from then on its websocket pings cost its participant's budget like messages.
    """

    __slots__ = (
        "_cut",
        "_timer",
        "_unread",
        "address",
        "budget",
        "challenge",
        "heard_hello",
        "phase",
        "refusal",
        "relay",
        "take",
        "taken",
    )
    """In slots: three more keys in the instance's dict made each connection 2.3 KiB bigger
    (``bench.memory``: 17.8 against 15.5 KiB a client)."""

    def __init__(self, *args: Any, relay: "Relay", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay = relay
        self.address = ""
        self.phase = Phase.TURNED_AWAY
        """Where the relay's caps count it: nowhere until it is made."""
        self.refusal: tuple[HTTPStatus, str] | None = None
        """Over a cap: what its request is answered with."""
        self.heard_hello = False
        """Its first message has come: nothing more may, until it is admitted."""
        self.budget: TokenBucket | None = None
        """Its participant's frames over time, once admitted."""
        self._timer: asyncio.TimerHandle | None = None
        """Cuts the connection if it is too slow: to say hello, to hear it is refused, to take
        its close."""
        self._cut = False
        """Refused by :meth:`cut`: nothing it sent after is handled, even what was read with
        the frame it was refused for."""
        self.challenge = wire.new_challenge()
        """What this connection's hello must sign: a captured hello is worth nothing on any
        other connection."""
        self.take: Callable[[bytes], bool] | None = None
        """While a participant is admitted: handles a whole text frame's UTF-8 and says
        ``True``, or declines it (``False``) and leaves it to the task."""
        self.taken = 0
        """Frames ``take`` handled."""
        self._unread = 0
        """Messages put in websockets' queue that the task has not finished with."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.address = _address(self)
        self.phase, status, why = self.relay.door.arrive(self.address)
        limits = self.relay.limits
        if self.phase is Phase.TURNED_AWAY:
            # Over every cap: cut before websockets reads a byte, so a flood costs an accept
            # and a close each, and no line of log.
            transport.abort()
        elif self.phase is Phase.REFUSING:
            self.refusal = (status, why)
            self._cut_after(limits.refusal_grace)
        else:
            self._timer = self.loop.call_later(limits.hello_timeout, self._no_hello)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.relay.door.leave(self.address, self.phase)
        self.phase = Phase.TURNED_AWAY
        super().connection_lost(exc)

    def _no_hello(self) -> None:
        """The hello timeout, counted from the connection's first byte, the HTTP handshake
        included: one still in its handshake is cut, an open one is told why."""
        if self.protocol.state is State.OPEN:
            self.cut(wire.Close.HELLO_TIMEOUT, "say hello first")
        else:
            self.transport.abort()

    def cut(self, code: int, reason: str) -> None:
        """Refuse the peer from where its frames arrive: the error frame and the close go out
        at once, and the connection is cut if it has not taken them within ``close_timeout``.
        Nothing it sends after is read."""
        self.take = None
        self._cut = True
        if self.protocol.state is State.OPEN:
            self.protocol.send_text(wire.encode(wire.Error(code=code, reason=reason)).encode())
            self.protocol.fail(code, _close_reason(reason))
            self.send_data()
        # Read on, if websockets had stopped reading a flood: what comes now is thrown away,
        # and the peer's close or its going away ends the connection at once.
        self.transport.resume_reading()
        self._cut_after(self.relay.limits.close_timeout)

    def _cut_after(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_later(seconds, self.transport.abort)

    def admit(self, budget: TokenBucket) -> None:
        """Its participant is admitted: any frame may come now, and pings cost ``budget``."""
        self.phase = Phase.ADMITTED
        self.budget = budget

    def _checked(self, frame: Frame) -> bool:
        """Whether a frame before admission, or a ping or pong after, may go on to be
        handled; one that may not cuts the connection.

        Before admission, a connection may send its hello and nothing else: a ping there
        costs the relay a pong and a wake-up while nobody is accountable for it (four
        connections pinging took the relay from 42 to 100 MB). After, a ping or a pong is a
        message like any other.
        """
        if frame.opcode is Opcode.CLOSE:
            return True
        if self.phase is Phase.ADMITTED:  # a ping or a pong: data frames do not come here
            assert self.budget is not None, "an admitted connection has a budget"
            now = self.relay.timer()
            if not self.budget.take(now):
                self.cut(wire.Close.RATE_LIMITED, _too_many(self.relay.limits, self.budget, now))
                return False
            return True
        if frame.opcode in DATA_OPCODES and not self.heard_hello:
            # The hello (or whatever comes first, which the task answers), fragments and all.
            if frame.fin:
                self.heard_hello = True
                if self._timer is not None:
                    self._timer.cancel()
            return True
        if frame.opcode in _CONTROL:
            self.cut(wire.Close.POLICY, "send hello first: nothing comes before it, not a ping")
        else:
            self.cut(wire.Close.INVALID, "one hello, then nothing until the welcome")
        return False

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame):
            if self._cut:
                return  # Refused: nothing it sent after is handled, even what came with it.
            looked_at = self.phase is not Phase.ADMITTED or event.opcode in _CONTROL
            if looked_at and not self._checked(event):
                return
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if (
                self.take is not None
                and not self._unread
                and event.fin
                and event.opcode is Opcode.TEXT
                and self._took(bytes(event.data))
            ):
                return
            if event.fin:
                self._unread += 1
        super().process_event(event)

    def _took(self, data: bytes) -> bool:
        assert self.take is not None
        try:
            taken = self.take(data)
        except Exception:
            # A bug, not bad input (that is declined): this connection stops taking frames,
            # and the task answers this one and all after it, as it answers declined ones.
            log.exception("taking a frame as it arrived failed")
            self.take = None
            return False
        self.taken += taken
        return taken

    def finished_one(self) -> None:
        """The task has finished with a message it read from the queue."""
        assert self._unread > 0, "finished with more messages than websockets queued"
        self._unread -= 1


class _RecentByAddress:
    """How many times something happened per address within the last ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: defaultdict[str, deque[float]] = defaultdict(deque)

    def add(self, address: str) -> None:
        self._times[address].append(time.monotonic())

    def forget_old(self) -> None:
        """Drop the addresses with nothing left in the window, so an attacker who keeps
        changing address cannot grow this without bound."""
        for address in list(self._times):
            self.count(address)

    def count(self, address: str) -> int:
        times = self._times.get(address)
        if times is None:
            return 0
        horizon = time.monotonic() - self.window
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            del self._times[address]
        return len(times)


_CONTROL = (Opcode.PING, Opcode.PONG)
"""Frames a peer may send besides messages and the close: free before this relay, now counted."""


def _too_many(limits: Limits, budget: TokenBucket, now: float) -> str:
    """Why a participant is cut for its frames, and how long until it may come back."""
    return (
        f"too many messages: {wait_text(budget.wait(now))} before reconnecting (at most "
        f"{limits.messages_per_second:g} a second, bursts of {limits.burst})"
    )


class Relay:
    """One relay process: any number of sessions over one store."""

    def __init__(
        self,
        store: Store,
        *,
        limits: Limits | None = None,
        clock: Clock = time.time,
        timer: Clock = time.monotonic,
        origins: tuple[str, ...] = (),
        chaos: Chaos | None = None,
    ) -> None:
        self.store = store
        self.chaos = chaos
        """A fault drill, if one runs: it stands between admitted participants and the relay."""
        self.limits = limits or Limits()
        self.clock = clock
        self.timer = timer
        """The clock of the rate limits: only its differences count."""
        self.origins = origins
        self.door: Doorway
        """Every connection counted by address and phase, under the caps; made by
        :meth:`start`, which knows the file limit."""
        self._trouble = StoreTrouble(log)
        self._accept_errors = AcceptErrors(self.limits.refusal_log_interval)
        self._rooms: dict[str, _Room] = {}
        self._admission = asyncio.Lock()
        self._writer: _Writer | None = None
        self._sequenced: list[_Pending] = []
        """Events sequenced in this turn of the event loop, handed to the writer at its end."""
        window = self.limits.failure_window
        self._refused = _RecentByAddress(window)
        self._created = _RecentByAddress(window)
        self._created_in_all = _RecentByAddress(self.limits.sessions_created_window)
        """Every address's new sessions under one key: many addresses could each stay
        below their own limit and still make thousands."""
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: set[asyncio.Task[None]] = set()
        """Tasks that finish on their own (closes, frames a fault drill delays); kept so
        they are not collected before they run."""

    async def start(self, host: str, port: int, *, ssl: SSLContext | None = None) -> Server:
        """Listen on ``host:port`` (port 0: any free port) and run the writer and expiry.

        The process's limit on open files is raised to its hard limit where allowed, and the
        relay's connections are capped below it (ADR 25)."""
        self.door = Doorway(self.limits, raise_file_limit(), time.monotonic())
        logging.getLogger("asyncio").addFilter(self._accept_errors)
        self._writer = _Writer(
            self.store, self.limits.commit_batch, self._fan_out, self._let_go, self._trouble
        )
        self._tasks = [
            asyncio.create_task(self._expire_forever(), name="pairup-relay-expire"),
            asyncio.create_task(self._summarise_refusals(), name="pairup-relay-refusals"),
        ]
        try:
            return await serve(
                self._handle,
                host,
                port,
                ssl=ssl,
                compression=None,
                max_size=wire.MAX_FRAME_BYTES,
                origins=[None, *self.origins],
                process_request=self._check_request,
                process_response=_with_challenge,
                # Its own logger: a line per connection opened and closed is for debugging,
                # and ``pairup relay -v`` keeps it quiet (a flood would be a flood of lines).
                logger=logging.getLogger("pairup.relay.connections"),
                create_connection=functools.partial(_Connection, relay=self),
                # The hello timeout bounds the HTTP handshake too (the connection's own timer
                # counts from its first byte to its hello); websockets' default is 10 s, for
                # this as for a closing handshake.
                open_timeout=self.limits.hello_timeout,
                close_timeout=self.limits.close_timeout,
            )
        except BaseException:
            # The address is taken, say: nothing is left running behind the error.
            await self._end_work()
            raise

    async def stop(self, server: Server) -> None:
        if self.chaos is not None:
            self.chaos.cancel()
        server.close()
        await server.wait_closed()
        await self._end_work()

    async def _end_work(self) -> None:
        """Let the writer commit what it was given, then end it and every task."""
        if self._writer is not None:
            self._hand_over()
            await self._writer.stop()
        tasks = [*self._tasks, *self._closing]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        logging.getLogger("asyncio").removeFilter(self._accept_errors)
        self._summarise()  # the refusals since the last line, not lost with the relay

    # -- before the handshake ------------------------------------------------------------------

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        assert isinstance(connection, _Connection), "the relay serves its own connections"
        if connection.refusal is not None:
            # Over a cap for connections not admitted yet (counted when it was made).
            status, why = connection.refusal
            return connection.respond(status, f"{why}\n")
        if request.path == "/healthz":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if not request.path.startswith("/s/"):
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                "pairup relay: join links look like ws://HOST:PORT/s/SESSION#SECRET\n",
            )
        address, limits = connection.address, self.limits
        # The door counts every connection from its first byte, this one included.
        if self.door.from_address(address) > limits.connections_per_ip:
            why = f"too many connections from your address (at most {limits.connections_per_ip})"
            self.door.refused(address, f"over {limits.connections_per_ip} from one address")
        elif self._created.count(address) >= limits.sessions_created_per_ip:
            why = "too many new sessions from your address; wait a minute"
            self.door.refused(address, "over the new sessions of one address")
        elif self._refused.count(address) >= limits.failed_admissions_per_ip:
            why = "too many failed attempts from your address; wait a minute"
            self.door.refused(address, "locked out after failed admissions")
        else:
            return None
        return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, f"{why}\n")

    # -- one connection ------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert isinstance(connection, _Connection), "the relay serves its own connections"
        address = connection.address
        room: _Room | None = None
        try:
            room = await self._admit(connection, address)
            if room is not None:
                await self._converse(connection, room)
        except wire.FrameError as error:
            await _refuse(connection, error.code, error.reason)
        except ConnectionClosed:
            pass
        except StoreError as error:
            # A full disk or a damaged store: said once in the log, and to the participant
            # as the reason its pairup shows while it keeps its events and comes back.
            self._trouble.report(error)
            self._close_later(connection, wire.Close.STORAGE_FAILED, self._trouble.reason)
        finally:
            if self.chaos is not None:
                self.chaos.forget(connection)
            if room is not None and connection in room.members:
                del room.members[connection]
                room.watchers.pop(connection, None)
                self._tell_presence(room)
                if not room.members:
                    try:
                        await asyncio.to_thread(self.store.touch, room.session, self.clock())
                    except StoreError as error:
                        self._trouble.report(error)

    async def _admit(self, connection: _Connection, address: str) -> _Room | None:
        try:
            raw = await asyncio.wait_for(connection.recv(), self.limits.hello_timeout)
        except TimeoutError:
            await _refuse(connection, wire.Close.HELLO_TIMEOUT, "say hello first")
            return None
        connection.finished_one()
        hello = _decode(raw)
        if not isinstance(hello, wire.Hello):
            raise wire.FrameError(wire.Close.INVALID, "the first frame must be hello")
        if connection.request is None or connection.request.path != f"/s/{hello.session}":
            raise wire.FrameError(wire.Close.POLICY, "hello names another session than the URL")
        challenge = wire.challenge_bytes(connection.challenge)
        assert challenge is not None, "the relay makes well-formed challenges"
        room = await self._room(hello, challenge, address)
        if room is None:
            self._refused.add(address)
            await asyncio.sleep(self.limits.reject_delay)
            log.info("refused %s for session %s", address, hello.session)
            await _refuse(
                connection, wire.Close.NOT_ADMITTED, "not admitted: unknown session or wrong secret"
            )
            return None
        already = set(room.connected())
        watcher = hello.role == "watcher"
        if watcher:
            watching = {room.members[member] for member in room.watchers}
            most = self.limits.watchers_per_session
            if hello.participant not in watching and len(watching) >= most:
                await _refuse(
                    connection, wire.Close.SESSION_FULL, f"session full ({most} watchers)"
                )
                return None
        elif hello.participant not in already and len(already) >= room.max_participants:
            await _refuse(
                connection,
                wire.Close.SESSION_FULL,
                f"session full ({room.max_participants} participants)",
            )
            return None
        self._check_newcomer(room, hello.participant, address)
        if not await self._owns(room, hello, challenge):
            # Before anyone is replaced: nobody can take someone's id to push them out.
            await _refuse(
                connection,
                wire.Close.POLICY,
                f"participant id {hello.participant} belongs to someone else in this session; "
                "join with your own (a new data dir, or the one you joined with)",
            )
            return None
        self._let_in(connection, room, hello.participant)
        for other, participant in list(room.members.items()):
            if participant == hello.participant:
                # The same person again (a reconnect the old socket has not noticed yet).
                del room.members[other]
                room.watchers.pop(other, None)
                self._close_later(other, wire.Close.GOING_AWAY, "replaced by a newer connection")
        connected = tuple(sorted({*room.connected(), *([] if watcher else [hello.participant])}))
        welcome = wire.Welcome(
            session=room.session,
            epoch=self.store.epoch,
            last_seq=room.last_seq,
            now=self.clock(),
            connected=connected,
            chaos="" if self.chaos is None else str(self.chaos.spec),
            restored=room.restored,
            role=hello.role,
            host=room.host,
            approve=room.approve,
        )
        await connection.send(wire.encode(welcome))
        if self._rooms.get(room.session) is not room:
            # A failed commit let the session go while the welcome was on its way: this
            # room takes no more events. Coming back, the client finds the stored session.
            await connection.close(wire.Close.STORAGE_FAILED, "the relay could not store events")
            return None
        # A member only once welcomed: a connection lost before that leaves no ghost behind.
        room.members[connection] = hello.participant
        if watcher:
            room.watchers[connection] = hello.name
        self._tell_presence(room)
        return room

    def _check_newcomer(self, room: _Room, participant: str, address: str) -> None:
        """Refuse, before its id is bound or its proof checked, a participant the session
        must not take now.

        An id the session has never admitted, once it has admitted as many as it ever will:
        ``ids_per_seat`` per seat. Someone who joins from a second machine, or lost their
        data dir, comes back under a new id, and four per seat leaves room for that over a
        session's life; every new id is a fresh message budget and a row in the store, so a
        holder of the link minting ids could otherwise flood the session between them.

        A participant whose budget is still empty: it is only looked at (a hello for someone
        else's id cannot drain theirs), and the refusal counts against the address like a
        failed admission, so an address that keeps coming back for more is turned away before
        its handshake, which costs the relay least."""
        most = self.limits.ids_per_seat * room.max_participants
        if participant not in room.identities and len(room.identities) >= most:
            raise wire.FrameError(
                wire.Close.SESSION_FULL,
                f"session full: {most} different participants have been in it, the most it "
                "takes; start a new session",
            )
        now = self.timer()
        budget = room.budgets.get(participant)
        if budget is not None and budget.wait(now) > 0:
            self._refused.add(address)
            raise wire.FrameError(wire.Close.RATE_LIMITED, _too_many(self.limits, budget, now))

    def _let_in(self, connection: _Connection, room: _Room, participant: str) -> None:
        """Admit a participant who proved the link and its id, within the limits that outlive
        its connections: its messages over time (kept in the room from its first admission),
        and the relay's room for admitted connections."""
        budget = room.budgets.get(participant)
        if budget is None:
            budget = TokenBucket(self.limits.messages_per_second, self.limits.burst, self.timer())
        replacing = participant in room.members.values()
        if not self.door.admit(connection.address, replacing=replacing):
            raise wire.FrameError(
                wire.Close.TOO_MANY_CONNECTIONS,
                f"the relay has {self.door.most_admitted} participants connected, the most it "
                "takes; try again in a few minutes",
            )
        room.budgets[participant] = budget
        connection.admit(budget)

    def _tell_presence(self, room: _Room) -> None:
        presence = wire.Presence(connected=room.connected(), watching=room.watching())
        presence = wire.encode(presence).encode()
        for member in room.members:
            self._post(member, [presence])

    async def _owns(self, room: _Room, hello: wire.Hello, challenge: bytes) -> bool:
        """Whether the hello proves the key its participant id is bound to in the session,
        binding the id to this key if it is the id's first entry."""
        if not hello.proves_identity(challenge):
            return False
        key = wire.key_bytes(hello.identity)
        bound = room.identities.get(hello.participant)
        if bound is None:
            bound = await asyncio.to_thread(
                self.store.bind_identity, room.session, hello.participant, key
            )
            room.identities[hello.participant] = bound
        return bound == key

    async def _room(self, hello: wire.Hello, challenge: bytes, address: str) -> _Room | None:
        """The admitted session, or ``None`` for an unknown one or a wrong proof alike."""
        async with self._admission:
            room = self._rooms.get(hello.session)
            if room is None:
                record = await asyncio.to_thread(self.store.session, hello.session)
                if record is None and hello.create and hello.role == "participant":
                    # Creating costs a durable write: it counts against the address like a
                    # failed admission, so nobody can mint sessions without limit.
                    self._count_creation(address)
                    verifier = b"" if hello.verifier is None else wire.key_bytes(hello.verifier)
                    watch = hello.watch_verifier
                    try:
                        record = await asyncio.to_thread(
                            functools.partial(
                                self.store.create_session,
                                watch_verifier=b"" if watch is None else wire.key_bytes(watch),
                                host=hello.participant,
                                approve=hello.approve,
                            ),
                            hello.session,
                            verifier,
                            created_at=self.clock(),
                            max_participants=hello.max_participants,
                            restored=hello.restore,
                        )
                    except SessionExists:
                        record = await asyncio.to_thread(self.store.session, hello.session)
                if record is None:
                    return None
                ids = await asyncio.to_thread(self.store.ids, hello.session)
                identities = await asyncio.to_thread(self.store.identities, hello.session)
                room = _Room(
                    session=record.session,
                    verifier=record.verifier,
                    watch_verifier=record.watch_verifier,
                    host=record.host,
                    approve=record.approve,
                    max_participants=record.max_participants,
                    last_seq=record.last_seq,
                    stored_seq=record.last_seq,
                    last_at=record.last_active,
                    ids=ids,
                    identities=identities,
                    restored=record.restored,
                )
                self._rooms[hello.session] = room
        verifier = room.watch_verifier if hello.role == "watcher" else room.verifier
        return room if verifier and hello.admitted_by(verifier, challenge) else None

    async def _converse(self, connection: _Connection, room: _Room) -> None:
        participant = room.members[connection]
        # The participant's, kept in the room: a new connection does not get a new one.
        bucket = room.budgets[participant]
        if self.chaos is None:
            # The fault drill sees every frame, so events go the queue's way while it runs.
            connection.take = functools.partial(self._take, connection, room, participant, bucket)
        try:
            async for received in connection:
                now = self.timer()
                if not bucket.take(now):
                    raise wire.FrameError(
                        wire.Close.RATE_LIMITED, _too_many(self.limits, bucket, now)
                    )
                if self.chaos is None:
                    await self._handle_frame(connection, room, participant, _decode(received))
                else:
                    for delay, raw in await self.chaos.incoming(connection, received):
                        if delay:
                            self._handle_later(delay, connection, room, participant, raw)
                        else:
                            frame = _decode(raw)
                            await self._handle_frame(connection, room, participant, frame)
                connection.finished_one()
        finally:
            # Nothing more is taken from a connection whose task has ended: a frame it was
            # refused for stops everything behind it.
            connection.take = None

    def _take(
        self,
        connection: _Connection,
        room: _Room,
        participant: str,
        bucket: TokenBucket,
        data: bytes,
    ) -> bool:
        """Sequence a frame as it arrives if it is an event the participant may send now;
        decline anything else, which the connection's task then answers as ever (the same
        checks, the same refusals)."""
        try:
            frame = _decode(data.decode())
        except (UnicodeDecodeError, wire.FrameError):
            return False
        if (
            not isinstance(frame, wire.Publish)
            or connection in room.watchers
            or frame.sender != participant
            or not bucket.take(self.timer())
        ):
            return False
        try:
            self._sequence(connection, room, participant, frame)
        except wire.FrameError:
            return False  # Over the session's budget: the task refuses it, as ever.
        return True

    def _handle_later(
        self,
        delay: float,
        connection: ServerConnection,
        room: _Room,
        participant: str,
        raw: str | bytes,
    ) -> None:
        """Handle a frame the fault drill holds back, once its delay is over."""

        async def handle() -> None:
            await asyncio.sleep(delay)
            if connection not in room.members:
                return
            try:
                await self._handle_frame(connection, room, participant, _decode(raw))
            except wire.FrameError as error:
                await _refuse(connection, error.code, error.reason)
            except ConnectionClosed:
                pass

        task = asyncio.create_task(handle())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _handle_frame(
        self, connection: ServerConnection, room: _Room, participant: str, frame: wire.ClientFrame
    ) -> None:
        if connection in room.watchers and not isinstance(frame, wire.Resume | wire.Ping):
            raise wire.FrameError(wire.Close.WATCH_ONLY, "a watch link cannot change the session")
        if isinstance(frame, wire.Publish):
            self._sequence(connection, room, participant, frame)
        elif isinstance(frame, wire.Resume):
            await self._replay(connection, room, frame.after, frame.until)
        elif isinstance(frame, wire.Ping):
            pong = wire.Pong(sent=frame.sent, now=self.clock(), last_seq=room.stored_seq)
            self._post(connection, [wire.encode(pong).encode()])
        else:
            raise wire.FrameError(wire.Close.INVALID, "hello only once, at the start")

    def _post(self, connection: ServerConnection, frames: list[bytes]) -> None:
        """Send frames to an admitted participant, through the fault drill if one runs."""
        if self.chaos is None:
            self._send_all(connection, frames)
        else:
            self.chaos.outgoing(connection, frames, self._send_all)

    def _send_all(self, connection: ServerConnection, frames: list[bytes]) -> None:
        """Send frames (a commit's, packed) to one connection in one write, or close it if it
        is too far behind.

        Fan-out never waits for a slow reader, so without the limit a peer that stops
        reading would grow the relay's buffers without bound. It can reconnect and resume.
        One write per connection and commit, not one per frame, saves a system call per
        frame; the frames are the same, in the same order.
        """
        if connection.protocol.state is not State.OPEN:
            return
        # Weighed before the write: one commit's frames always go out whole, so a burst of
        # large events (a re-seed) does not cut a reader that keeps up. A reader that has
        # stopped is cut at the next write, or by the keepalive if none comes.
        if connection.transport.get_write_buffer_size() > self.limits.max_unsent_bytes:
            self._close_later(connection, wire.Close.TOO_SLOW, "too far behind; resume")
            return
        for frame in frames:
            connection.protocol.send_text(frame)
        connection.transport.write(b"".join(connection.protocol.data_to_send()))

    def _close_later(self, connection: ServerConnection, code: int, reason: str) -> None:
        """Close without waiting for the closing handshake, which may take seconds; a peer
        that does not take its close within ``close_timeout`` (one that stopped reading, so
        the close frame waits behind everything unsent) has its connection cut."""

        async def close() -> None:
            try:
                async with asyncio.timeout(self.limits.close_timeout):
                    await connection.close(code, reason)
            except TimeoutError:
                connection.transport.abort()

        closing = asyncio.create_task(close())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _replay(
        self, connection: ServerConnection, room: _Room, after: int, until: int | None
    ) -> None:
        end = room.last_seq if until is None else min(until, room.last_seq)
        while after < end:
            limit = min(500, end - after)
            page = await asyncio.to_thread(self.store.frames_after, room.session, after, limit)
            if not page:
                return
            frames = wire.pack_events([frame for _, frame in page])
            if self.chaos is None:
                for frame in frames:
                    await connection.send(frame, text=True)
            else:
                self._post(connection, frames)
            after = page[-1][0]

    # -- sequencing and group commit -------------------------------------------------------------

    def _sequence(
        self, connection: ServerConnection, room: _Room, participant: str, frame: wire.Publish
    ) -> None:
        """Give the event its offset and queue it for the next commit.

        The sender hears of it with everyone, once it is durable: its own copy of the event
        frame is its acknowledgement, so a connection can have many events in one commit. A
        repeated id is not stored again: if its event is on disk the sender gets an ack with
        the offset it has; if not, its event frame is on its way to every member already.
        A new event costs the session's budget, which a repeat does not: participants
        re-seeding one log together store it once.
        """
        if frame.sender != participant:
            raise wire.FrameError(wire.Close.POLICY, "events must be sent as yourself")
        known = room.ids.get(frame.id)
        if known is not None:
            if known <= room.stored_seq:
                self._post(connection, [wire.encode_ack(frame.id, known)])
            return
        now = self.timer()
        if room.budget is None:
            room.budget = SessionBudget(self.limits, now)
        wait = room.budget.take(len(frame.body.encode()), now)
        if wait:
            limits = self.limits
            raise wire.FrameError(
                wire.Close.RATE_LIMITED,
                f"this session sends too much: {wait_text(wait)} (the relay stores "
                f"{limits.session_events_per_second:g} of its events or "
                f"{limits.session_bytes_per_second / 1024:g} KiB a second)",
            )
        room.last_at = max(self.clock(), room.last_at)
        seq = room.last_seq + 1
        room.last_seq = seq
        room.ids[frame.id] = seq
        event = sequenced(
            room.session,
            seq=seq,
            id=frame.id,
            sender=frame.sender,
            at=room.last_at,
            body=frame.body,
        )
        if not self._sequenced:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._sequenced.append((event, room))

    def _hand_over(self) -> None:
        """Give the writer what this turn of the event loop sequenced, in one ``put``."""
        if self._sequenced:
            assert self._writer is not None, "the relay takes events only once started"
            self._writer.put(self._sequenced)
            self._sequenced = []

    def _fan_out(self, batch: list[_Pending]) -> None:
        """Send each stored event to every member of its session, the sender included."""
        outgoing: defaultdict[ServerConnection, list[bytes]] = defaultdict(list)
        for event, room in batch:
            room.stored_seq = max(room.stored_seq, event.seq)
            for member in room.members:
                outgoing[member].append(event.frame)
        for connection, frames in outgoing.items():
            self._post(connection, wire.pack_events(frames))

    def _let_go(self, batch: list[_Pending]) -> None:
        """After a failed commit: offsets were handed out for events that are not on disk, so
        forget these sessions in memory (they reload from the store) and close their
        connections, whose clients resume and resend from their outboxes."""
        for _, room in batch:
            if self._rooms.get(room.session) is room:
                del self._rooms[room.session]
                for member in list(room.members):
                    # Why, in words its pairup shows: a full disk is not the participant's to
                    # fix, and its events wait in its outbox meanwhile.
                    self._close_later(member, wire.Close.STORAGE_FAILED, self._trouble.reason)

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.expiry_interval)
            self._refused.forget_old()
            self._created.forget_old()
            self._created_in_all.forget_old()
            now = self.clock()
            try:
                for room in list(self._rooms.values()):
                    if room.members:
                        await asyncio.to_thread(self.store.touch, room.session, now)
                # A session nobody ever gave an event goes after an hour, not a week: making
                # one needs no secret, so they are cheap to make in numbers.
                expired = await asyncio.to_thread(
                    self.store.expire,
                    now - self.limits.idle_session_seconds,
                    unused_before=now - self.limits.unused_session_seconds,
                )
            except StoreError as error:
                self._trouble.report(error)  # Said once; tried again at the next interval.
                continue
            for session in expired:
                room = self._rooms.get(session)
                if room is not None and not room.members:
                    del self._rooms[session]
            if expired:
                log.info("expired %d idle sessions", len(expired))

    async def _summarise_refusals(self) -> None:
        """One line of log per interval for every connection refused in it, however many: a
        flood must not write a line, let alone a traceback, per connection."""
        while True:
            await asyncio.sleep(self.limits.refusal_log_interval)
            self._summarise()

    def _summarise(self) -> None:
        line = self.door.summary(time.monotonic())
        if line is not None:
            log.warning("%s", line)

    def _count_creation(self, address: str) -> None:
        """Count a new session against its address (checked before the handshake) and against
        every address together, which is checked here: a session needs no secret to make."""
        made = self._created_in_all.count("")
        if made >= self.limits.sessions_created:
            self.door.refused(address, "over the new sessions of every address")
            raise wire.FrameError(
                wire.Close.RATE_LIMITED,
                f"this relay made {made} new sessions lately, the most it makes in "
                f"{self.limits.sessions_created_window / 60:g} min; try again later",
            )
        self._created.add(address)
        self._created_in_all.add("")


def _with_challenge(connection: ServerConnection, request: Request, response: Response) -> Response:
    """The handshake's answer, with the challenge this connection's hello must sign."""
    assert isinstance(connection, _Connection), "the relay serves its own connections"
    response.headers[wire.CHALLENGE_HEADER] = connection.challenge
    response.headers[wire.VERSION_HEADER] = str(wire.PROTOCOL_VERSION)
    return response


def _decode(raw: str | bytes) -> wire.ClientFrame:
    if isinstance(raw, bytes):
        raise wire.FrameError(wire.Close.MALFORMED, "frames are JSON text, not binary")
    return wire.decode_client_frame(raw)


async def _refuse(connection: ServerConnection, code: int, reason: str) -> None:
    """The error frame with the whole reason, then the close with as much of it as a close
    frame holds (123 bytes of UTF-8), both at once (:meth:`_Connection.cut`): a peer refused
    for a flood has stopped reading what the relay sends, and is not waited for."""
    assert isinstance(connection, _Connection), "the relay serves its own connections"
    connection.cut(code, reason)


CLOSE_REASON_BYTES = 123
"""The most a WebSocket close frame holds of a reason (RFC 6455: 125 bytes, 2 for the code)."""


def _close_reason(reason: str) -> str:
    """As much of ``reason`` as a close frame holds, ending in … when cut."""
    if len(reason.encode()) <= CLOSE_REASON_BYTES:
        return reason
    return reason.encode()[: CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "…"


def _address(connection: ServerConnection) -> str:
    remote = connection.remote_address
    return str(remote[0]) if remote else "unknown"


def open_store(data_dir: Path) -> Store:
    """The relay's store in ``data_dir``, created on first use."""
    return Store.open(data_dir / "relay.sqlite3")
