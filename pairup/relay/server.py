"""The relay's shell: sockets, the store and the clock around the rules of :mod:`pairup.relay.core`.

The rules (admission, sequencing, dedupe, resume, presence, limits, approval, watchers and
removal) are in :class:`~pairup.relay.core.rules.RelayCore`, which does no I/O. This module
carries out what it asks: it speaks WebSocket through websockets' sans-I/O
:class:`~websockets.server.ServerProtocol` under an :class:`asyncio.Protocol` of its own, so
each frame reaches the rules as it is parsed, without a task's wake-up per message (ADR 18,
ADR 28); it reads the store off the event loop, and commits through a writer thread of its
own, a group at a time, fanning each commit out once it is on disk (ADR 14, ADR 16). A fault
drill (:mod:`pairup.relay.chaos`) stands between the sockets and the rules when one runs.

The relay reads only the envelope of an event (id, sender, body size): the body is sealed.
Bad input costs the sender its connection (an error frame, then a close code from
:class:`pairup.protocol.Close`) and nobody else anything.
"""

import asyncio
import contextlib
import functools
import ipaddress
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable, Coroutine, Sequence
from http import HTTPStatus
from pathlib import Path
from ssl import SSLContext
from typing import Any

from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event, State
from websockets.server import ServerProtocol

from pairup import protocol as wire
from pairup import web
from pairup.relay.chaos import Chaos
from pairup.relay.core.actions import (
    Abort,
    Action,
    Bind,
    Close,
    Create,
    Load,
    Moment,
    Pending,
    Refuse,
    Remember,
    Replay,
    Send,
    Touch,
)
from pairup.relay.core.doorway import Doorway
from pairup.relay.core.rules import Loaded, RelayCore
from pairup.relay.guard import AcceptErrors, StoreTrouble, raise_file_limit
from pairup.relay.limits import Limits
from pairup.relay.store import SessionExists, Store, StoreError

log = logging.getLogger("pairup.relay")
_connections_log = logging.getLogger("pairup.relay.connections")
"""websockets' lines per connection: for debugging, and quiet under ``pairup relay -v`` (a
flood would be a flood of lines)."""

Clock = Callable[[], float]

INVALID_DATA = 1007
INTERNAL_ERROR = 1011
CLOSE_REASON_BYTES = 123
"""The most a WebSocket close frame holds of a reason (RFC 6455: 125 bytes, 2 for the code)."""


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
        stored: Callable[[list[Pending]], None],
        failed: Callable[[list[Pending]], None],
        trouble: StoreTrouble | None = None,
    ) -> None:
        self._store = store
        self._batch = batch
        self._stored = stored
        self._failed = failed
        self._trouble = trouble or StoreTrouble(log)
        self._queue: queue.SimpleQueue[list[Pending] | None] = queue.SimpleQueue()
        self._given_up: weakref.WeakSet[object] = weakref.WeakSet()
        """Rooms of a failed commit: the loop lets them go, and their later events, whose
        offsets follow ones that are not on disk, are dropped (their senders resend them)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="pairup-relay-writer", daemon=True)
        self._thread.start()

    def put(self, sequenced: list[Pending]) -> None:
        """Events in offset order; the list is the writer's from now on."""
        self._queue.put(sequenced)

    async def stop(self) -> None:
        """Commit and hand back what was put before, then end the thread."""
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        waiting: list[Pending] = []
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

    def _commit(self, batch: list[Pending]) -> None:
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

    def _hand_back(self, to: Callable[[list[Pending]], None], batch: list[Pending]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed without stopping the relay
            self._loop.call_soon_threadsafe(to, batch)


class _Wire(asyncio.Protocol):
    """One TCP connection: websockets' sans-I/O protocol over it, and each whole message,
    ping and HTTP request handed to the relay as soon as it is parsed."""

    __slots__ = (
        "_close_timer",
        "_parts",
        "_paused",
        "_seen",
        "_text",
        "address",
        "behind",
        "challenge",
        "conn",
        "done",
        "pinged",
        "protocol",
        "relay",
        "transport",
    )

    def __init__(self, relay: "Relay", conn: int) -> None:
        self.relay = relay
        self.conn = conn
        self.protocol = ServerProtocol(
            origins=[None, *relay.origins],
            select_subprotocol=_page_subprotocol,
            max_size=wire.MAX_FRAME_BYTES,
            logger=_connections_log,
        )
        self.transport: asyncio.Transport
        self.address = "unknown"
        self.challenge = wire.new_challenge()
        """What this connection's hello must sign: a captured hello is worth nothing on any
        other connection."""
        self.done = False
        """Refused or closing: nothing it sends now is handled, even what came with the frame
        it was refused for."""
        self.pinged = False
        """A keepalive ping is out, unanswered."""
        self.behind: list[str | bytes] | None = None
        """While a resume is answered: the messages that came after it, handled once it is
        (a participant hears answers in the order it asked)."""
        self._parts: list[bytes] = []
        """A fragmented message so far."""
        self._text = True
        self._seen = b""
        """The last bytes of the request head so far, to find its end across reads."""
        self._close_timer: asyncio.TimerHandle | None = None
        self._paused: asyncio.Future[None] | None = None
        """While the transport's buffer is over its high-water mark: a replay waits on it."""

    @property
    def id(self) -> int:
        """How the fault drill's log names the connection."""
        return self.conn

    # -- asyncio's callbacks ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if peer:
            self.address = str(peer[0])
        self.relay.connected(self)

    def data_received(self, data: bytes) -> None:
        if self.protocol.state is State.CONNECTING:
            # Up to the end of the request head first, so it is answered before anything
            # after it is read: websockets parses bytes behind a request as frames, and a
            # response sent after that fails its assertions.
            joined = self._seen + data
            end = joined.find(b"\r\n\r\n")
            if end < 0:
                self._seen = joined[-3:]
            else:
                cut = end + 4 - len(self._seen)
                self._seen = b""
                self._receive(data[:cut])
                if cut < len(data) and not self.done:
                    self._receive(data[cut:])
                return
        self._receive(data)

    def _receive(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        events = self.protocol.events_received()
        if events:
            try:
                self.relay.arrived(self, events)
            except Exception:
                # A bug, not bad input (that is refused with its code): this connection ends
                # as websockets ends one whose handler raised, and the relay goes on.
                log.exception("handling a connection's frames failed")
                self.refuse(INTERNAL_ERROR, "the relay failed on your frame; reconnect")
        self.flush()

    def eof_received(self) -> None:
        self.protocol.receive_eof()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.receive_eof()
        self.done = True
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self.relay.lost(self)

    def pause_writing(self) -> None:
        self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._paused is not None and not self._paused.done():
            self._paused.set_result(None)
        self._paused = None

    # -- what the relay does with it -------------------------------------------------------------

    def message(self, frame: Frame) -> str | bytes | None:
        """The whole message a data frame completes, or ``None`` while it is in pieces."""
        if frame.opcode is not Opcode.CONT:
            self._text = frame.opcode is Opcode.TEXT
        if frame.fin and not self._parts:
            data = frame.data
        else:
            self._parts.append(bytes(frame.data))
            if not frame.fin:
                return None
            data, self._parts = b"".join(self._parts), []
        # Text is UTF-8, which websockets' sans-I/O layer leaves to its reader to check.
        return bytes(data).decode() if self._text else bytes(data)

    def flush(self) -> None:
        """Write what the protocol has to send; half-close when it is done."""
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
            else:
                self.transport.close()
        if self.protocol.close_expected():
            self._expect_close()

    def send(self, frames: list[bytes]) -> None:
        """Text frames in one write."""
        if self.protocol.state is not State.OPEN or self.done:
            return
        for frame in frames:
            self.protocol.send_text(frame)
        self.transport.write(b"".join(self.protocol.data_to_send()))

    async def drained(self) -> None:
        if self._paused is not None:
            await self._paused

    def refuse(self, code: int, reason: str) -> None:
        """The error frame with the whole reason, then the close with as much of it as a
        close frame holds, both at once: a peer refused for a flood has stopped reading
        what the relay sends, and is not waited for."""
        self.done = True
        if self.protocol.state is State.OPEN:
            self.protocol.send_text(wire.encode(wire.Error(code=code, reason=reason)).encode())
            self.protocol.fail(code, _close_reason(reason))
        self.flush()
        self._expect_close()

    def close(self, code: int, reason: str) -> None:
        """Close without an error frame; a peer that does not take its close within
        ``close_timeout`` (one that stopped reading) is cut."""
        self.done = True
        if self.protocol.state is State.OPEN:
            self.protocol.send_close(code, _close_reason(reason))
        self.flush()
        self._expect_close()

    def abort(self) -> None:
        self.done = True
        self.transport.abort()

    def ping(self) -> None:
        """Keepalive: cut a connection that did not answer the last ping."""
        if self.protocol.state is not State.OPEN:
            return
        if self.pinged:
            self.abort()
            return
        self.pinged = True
        self.protocol.send_ping(b"")
        self.flush()

    def _expect_close(self) -> None:
        if self._close_timer is None:
            self._close_timer = asyncio.get_running_loop().call_later(
                self.relay.limits.close_timeout, self.transport.abort
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
        """A fault drill, if one runs: it stands between admitted participants and the rules."""
        self.limits = limits or Limits()
        self.clock = clock
        self.timer = timer
        """The clock of the rate limits and timeouts: only its differences count."""
        self.origins = origins
        self.tls = False
        """Whether this relay serves TLS itself (set by :meth:`start`)."""
        self.core: RelayCore
        """The rules; made by :meth:`start`, which knows the file limit."""
        self._trouble = StoreTrouble(log)
        self._accept_errors = AcceptErrors(self.limits.refusal_log_interval)
        self._wires: dict[int, _Wire] = {}
        self._standings = asyncio.Lock()
        """Who was let in or taken out reaches the store in the order the rules said it: a
        removal right after an approval (or the other way round) is never overtaken."""
        self._ids = itertools.count(1)
        self._writer: _Writer | None = None
        self._handing_over = False
        self._alarm: asyncio.TimerHandle | None = None
        self._alarm_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._all_gone: asyncio.Event | None = None
        """Set once stopping and every connection is gone."""
        self._work: set[asyncio.Task[None]] = set()
        """Store calls and replays under way; kept so they are not collected before they run."""

    @property
    def door(self) -> Doorway:
        """Every connection counted by address and phase, under the caps."""
        return self.core.door

    def now(self) -> Moment:
        return Moment(self.clock(), self.timer())

    async def start(self, host: str, port: int, *, ssl: SSLContext | None = None) -> asyncio.Server:
        """Listen on ``host:port`` (port 0: any free port) and run the writer and expiry.

        The process's limit on open files is raised to its hard limit where allowed, and the
        relay's connections are capped below it (ADR 25)."""
        self.core = self._new_core(raise_file_limit())
        self.tls = ssl is not None
        logging.getLogger("asyncio").addFilter(self._accept_errors)
        await self._begin()
        # The watch page's files, read and gzipped once, off the event loop (milliseconds
        # that would otherwise stall every connection at the first browser's request).
        self._spawn(self._read_page())
        loop = asyncio.get_running_loop()
        try:
            return await loop.create_server(
                lambda: _Wire(self, next(self._ids)), host, port, ssl=ssl
            )
        except BaseException:
            # The address is taken, say: nothing is left running behind the error.
            await self._end_work()
            raise

    def _new_core(self, file_limit: int) -> RelayCore:
        chaos = "" if self.chaos is None else str(self.chaos.spec)
        return RelayCore(
            self.limits, epoch=self.store.epoch, file_limit=file_limit, now=self.now(), chaos=chaos
        )

    async def _begin(self) -> None:
        """Start the writer, and the work done now and then."""
        self._writer = _Writer(
            self.store, self.limits.commit_batch, self._stored, self._failed, self._trouble
        )
        self._tasks = [
            asyncio.create_task(self._expire_forever(), name="pairup-relay-expire"),
            asyncio.create_task(self._summarise_refusals(), name="pairup-relay-refusals"),
            asyncio.create_task(self._keep_alive(), name="pairup-relay-keepalive"),
        ]

    async def stop(self, server: asyncio.Server) -> None:
        if self.chaos is not None:
            self.chaos.cancel()
        server.close()
        self._all_gone = asyncio.Event()
        for connection in list(self._wires.values()):
            connection.close(wire.Close.GOING_AWAY, "the relay is stopping")
        if self._wires:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.close_timeout):
                    await self._all_gone.wait()
        for connection in list(self._wires.values()):
            connection.abort()
        await server.wait_closed()
        await self._end_work()

    async def _end_work(self) -> None:
        """Let the writer commit what it was given, then end it and every task."""
        if self._writer is not None:
            self._hand_over()
            await self._writer.stop()
        if self._alarm is not None:
            self._alarm.cancel()
        tasks = [*self._tasks, *self._work]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        logging.getLogger("asyncio").removeFilter(self._accept_errors)
        self._summarise()  # the refusals since the last line, not lost with the relay

    # -- from the connections --------------------------------------------------------------------

    def connected(self, connection: _Wire) -> None:
        self._wires[connection.conn] = connection
        challenge = wire.challenge_bytes(connection.challenge)
        assert challenge is not None, "the relay makes well-formed challenges"
        self._do(self.core.connect(connection.conn, connection.address, challenge, self.now()))

    def lost(self, connection: _Wire) -> None:
        self._wires.pop(connection.conn, None)
        if self._all_gone is not None and not self._wires:
            self._all_gone.set()
        if self.chaos is not None:
            self.chaos.forget(connection)
        self._do(self.core.closed(connection.conn, self.now()))

    def arrived(self, connection: _Wire, events: list[Event]) -> None:
        """What websockets parsed from one read: a request, or frames."""
        now = self.now()
        core = self.core
        for event in events:
            if connection.done:
                break
            if not isinstance(event, Frame):
                if isinstance(event, Request):
                    self._answer(connection, event, now)
                continue
            opcode = event.opcode
            if opcode is Opcode.CLOSE:
                continue
            if opcode is Opcode.PING or opcode is Opcode.PONG:
                connection.pinged = False
                self._do(core.control(connection.conn, now))
                continue
            try:
                data = connection.message(event)
            except UnicodeDecodeError:
                connection.refuse(INVALID_DATA, "text frames are UTF-8")
                break
            if data is None:
                continue
            if connection.behind is not None:
                connection.behind.append(data)
                continue
            if self.chaos is not None and core.member(connection.conn):
                self._drilled(connection, data)
                continue
            actions = core.received(connection.conn, data, now)
            if actions:
                self._do(actions)
        if core.sequencing and not self._handing_over:
            self._handing_over = True
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._arm()

    def _answer(self, connection: _Wire, request: Request, now: Moment) -> None:
        """The handshake: upgraded, with the challenge and the protocol's version, or an
        HTTP answer (``/healthz``, a wrong path, a cap), after which the connection ends."""
        upgrade = "websocket" in _header(request, "Upgrade").lower()
        answer = self.core.request(connection.conn, request.path, now, upgrade=upgrade)
        protocol = connection.protocol
        if answer is None:
            origin = _header(request, "Origin")
            if self._served_here(origin, request):
                # The watch page this relay served: the browser says where the page came
                # from, and no page from anywhere else can say it came from here.
                protocol.origins = [*(protocol.origins or ()), origin]
            response = protocol.accept(request)
            if response.status_code == 101:
                response.headers[wire.CHALLENGE_HEADER] = connection.challenge
                response.headers[wire.VERSION_HEADER] = str(wire.PROTOCOL_VERSION)
        elif answer.page is not None:
            response = _page_response(protocol, answer.page, request)
        else:
            response = protocol.reject(answer.status, answer.text)
        protocol.send_response(response)
        if response.status_code == 101:
            self.core.opened(connection.conn)
            if protocol.subprotocol == wire.PAGE_SUBPROTOCOL:
                challenge = wire.Challenge(challenge=connection.challenge)
                connection.send([wire.encode(challenge).encode()])
        else:
            connection.done = True
            connection.flush()
            connection.transport.close()

    def _drilled(self, connection: _Wire, data: str | bytes) -> None:
        """A member's message through the fault drill: lost, repeated, late or on time."""
        assert self.chaos is not None
        for delay, raw in self.chaos.incoming(connection, data):
            if delay:
                asyncio.get_running_loop().call_later(delay, self._late, connection, raw)
            else:
                self._do(self.core.received(connection.conn, raw, self.now()))

    def _late(self, connection: _Wire, raw: str | bytes) -> None:
        if not connection.done and self.core.member(connection.conn):
            self._do(self.core.received(connection.conn, raw, self.now()))
            if self.core.sequencing:
                self._hand_over()

    # -- carrying out what the rules say ---------------------------------------------------------

    def _do(self, actions: list[Action] | tuple[()]) -> None:
        for action in actions:
            match action:
                case Send():
                    self._post(action)
                case Refuse(conn, code, reason):
                    if (connection := self._wires.get(conn)) is not None:
                        connection.refuse(code, reason)
                case Close(conn, code, reason):
                    if (connection := self._wires.get(conn)) is not None:
                        connection.close(code, reason)
                case Abort(conn):
                    if (connection := self._wires.get(conn)) is not None:
                        connection.abort()
                case Load() | Create():
                    self._spawn(self._load(action))
                case Bind():
                    self._spawn(self._bind(action))
                case Remember(session, participant):
                    self._spawn(self._remember(session, participant))
                case Replay(conn):
                    if (connection := self._wires.get(conn)) is not None:
                        connection.behind = []
                        # Nothing more is read until the replay is out: what is already read
                        # waits behind it, and a peer that does not take its replay cannot
                        # pile up more.
                        connection.transport.pause_reading()
                        self._spawn(self._replay(connection, action))
                case Touch(session, at):
                    self._spawn(self._touch(session, at))
                case _:
                    self._fleet(action)
        self._arm()

    def _fleet(self, action: Action) -> None:
        """What only a relay of a fleet is asked (:class:`pairup.relay.fleet.FleetRelay`)."""
        raise AssertionError(f"a relay of one store was asked to {action}")

    def _post(self, send: Send) -> None:
        connection = self._wires.get(send.conn)
        if connection is None:
            return
        if self.chaos is None or send.door:
            self._send_all(connection, send.frames)
        else:
            self.chaos.outgoing(connection, send.frames, self._send_all)

    def _send_all(self, connection: _Wire, frames: list[bytes]) -> None:
        """Send frames (a commit's, packed) to one connection in one write, or close it if it
        is too far behind.

        Fan-out never waits for a slow reader, so without the limit a peer that stops
        reading would grow the relay's buffers without bound. It can reconnect and resume.
        Weighed before the write: one commit's frames always go out whole, so a burst of
        large events (a re-seed) does not cut a reader that keeps up.
        """
        if connection.done:
            return
        if connection.transport.get_write_buffer_size() > self.limits.max_unsent_bytes:
            connection.close(wire.Close.TOO_SLOW, "too far behind; resume")
            return
        connection.send(frames)

    def _arm(self) -> None:
        """Ring when the rules' next timer is due."""
        deadline = self.core.next_deadline()
        if deadline is None:
            return
        if self._alarm is not None:
            if self._alarm_at <= deadline:
                return
            self._alarm.cancel()
        self._alarm_at = deadline
        delay = max(0.0, deadline - self.timer())
        self._alarm = asyncio.get_running_loop().call_later(delay, self._ring)

    def _ring(self) -> None:
        self._alarm = None
        self._do(self.core.tick(self.now()))

    async def _read_page(self) -> None:
        await asyncio.to_thread(web.page_file, "watch.html")

    def _spawn(self, work: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    # -- the store -------------------------------------------------------------------------------

    async def _load(self, action: Load | Create) -> None:
        try:
            record = await asyncio.to_thread(self._read, action)
        except StoreError as error:
            self._trouble.report(error)
            self._do(self.core.load_failed(action.session, self._trouble.reason))
            return
        self._do(self.core.loaded(action.session, record, self.now()))

    def _read(self, action: Load | Create) -> Loaded | None:
        """The session from the store, made first for ``Create``; in a thread."""
        store, session = self.store, action.session
        if isinstance(action, Create):
            with contextlib.suppress(SessionExists):
                store.create_session(session, action.verifier, **creation(action, self.clock()))
        record = store.session(session)
        if record is None:
            return None
        return Loaded(
            session=record.session,
            verifier=record.verifier,
            watch_verifier=record.watch_verifier,
            host=record.host,
            approve=record.approve,
            max_participants=record.max_participants,
            last_seq=record.last_seq,
            last_active=record.last_active,
            restored=record.restored,
            ids=store.ids(session),
            identities=store.identities(session),
            standings=store.standings(session),
            watcher_ids=store.watchers(session),
        )

    async def _bind(self, bind: Bind) -> None:
        store = self.store
        call = (
            store.let_in
            if bind.let_in
            else functools.partial(store.bind_identity, watcher=bind.watcher)
        )
        try:
            if bind.let_in:
                async with self._standings:
                    key = await asyncio.to_thread(call, bind.session, bind.participant, bind.key)
            else:
                key = await asyncio.to_thread(call, bind.session, bind.participant, bind.key)
        except StoreError as error:
            self._trouble.report(error)
            self._do(self.core.bind_failed(bind, self._trouble.reason))
            return
        self._do(self.core.bound(bind, key, self.now()))

    async def _touch(self, session: str, at: float) -> None:
        await self._write(self.store.touch, session, at)

    async def _remember(self, session: str, participant: str) -> None:
        async with self._standings:
            await self._write(self.store.remove, session, participant)

    async def _write(self, call: Callable[[str, object], None], *args: object) -> None:
        try:
            await asyncio.to_thread(call, *args)  # type: ignore[arg-type]
        except StoreError as error:
            self._trouble.report(error)

    async def _replay(self, connection: _Wire, replay: Replay) -> None:
        """Answer a resume, then handle what came after it."""
        try:
            await self._pages(connection, replay)
        finally:
            if not connection.done:
                connection.transport.resume_reading()
        behind, connection.behind = connection.behind or [], None
        for position, data in enumerate(behind):
            if connection.done:
                return
            self._do(self.core.received(connection.conn, data, self.now()))
            if connection.behind is not None:
                # Another resume: the rest wait for it in turn.
                connection.behind[:0] = behind[position + 1 :]
                break
        if self.core.sequencing:
            self._hand_over()

    async def _pages(self, connection: _Wire, replay: Replay) -> None:
        """A page of stored events at a time, each page's frames once the last have left."""
        after = replay.after
        while after < replay.end:
            if connection.done:
                return
            limit = min(500, replay.end - after)
            try:
                page = await asyncio.to_thread(
                    self.store.frames_after, replay.session, after, limit
                )
            except StoreError as error:
                self._trouble.report(error)
                connection.close(wire.Close.STORAGE_FAILED, self._trouble.reason)
                return
            if not page:
                return
            frames = wire.pack_events([frame for _, frame in page])
            if self.chaos is None:
                connection.send(frames)
                await connection.drained()
            else:
                self.chaos.outgoing(connection, frames, self._send_all)
            after = page[-1][0]

    def _hand_over(self) -> None:
        """Give the writer what this turn of the event loop sequenced, in one ``put``."""
        self._handing_over = False
        sequenced = self.core.take_sequenced()
        if sequenced:
            assert self._writer is not None, "the relay takes events only once started"
            self._writer.put(sequenced)

    def _stored(self, batch: list[Pending]) -> None:
        self._do(self.core.stored(batch))

    def _failed(self, batch: list[Pending]) -> None:
        # Why, in words its pairup shows: a full disk is not the participant's to fix, and
        # its events wait in its outbox meanwhile.
        self._do(self.core.failed(batch, self._trouble.reason))

    # -- now and then ----------------------------------------------------------------------------

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.expiry_interval)
            now = self.now()
            try:
                for session in self.core.in_use():
                    await asyncio.to_thread(self.store.touch, session, now.wall)
                # A session nobody ever gave an event goes after an hour, not a week: making
                # one needs no secret, so they are cheap to make in numbers.
                expired = await asyncio.to_thread(
                    self.store.expire,
                    now.wall - self.limits.idle_session_seconds,
                    unused_before=now.wall - self.limits.unused_session_seconds,
                )
            except StoreError as error:
                self._trouble.report(error)  # Said once; tried again at the next interval.
                continue
            self.core.expired(expired, now)
            if expired:
                log.info("expired %d idle sessions", len(expired))

    async def _summarise_refusals(self) -> None:
        """One line of log per interval for every connection refused in it, however many: a
        flood must not write a line, let alone a traceback, per connection."""
        while True:
            await asyncio.sleep(self.limits.refusal_log_interval)
            self._summarise()

    def _summarise(self) -> None:
        line = self.core.door.summary(self.timer())
        if line is not None:
            log.warning("%s", line)

    def _served_here(self, origin: str, request: Request) -> bool:
        """Whether a websocket's ``Origin`` is a page this relay served, at the host and port
        the request came to. Over ``https://`` only where TLS ends at this relay or at a proxy
        in front of it: a page of another site that rebinds its name to this relay's address
        cannot have the certificate. Over plain ``http://`` only on this machine's loopback
        names (the one place a browser gives such a page WebCrypto), which no other site's
        page can use as its own."""
        scheme, _, place = origin.lower().partition("://")
        host = _header(request, "Host").lower()
        if not host or place != host:
            return False
        if scheme == "https":
            proxied = _header(request, "X-Forwarded-Proto").lower() == "https"
            return self.tls or proxied
        return scheme == "http" and not self.tls and _loopback(host)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.limits.keepalive_interval)
            for connection in list(self._wires.values()):
                connection.ping()


def _header(request: Request, name: str) -> str:
    """A request header's value, its repeats joined as HTTP reads them; empty when absent."""
    return ", ".join(request.headers.get_all(name))


def _loopback(host: str) -> bool:
    """Whether ``host`` (a ``Host`` header's value) names this machine's loopback."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _page_subprotocol(protocol: ServerProtocol, offered: Sequence[str]) -> str | None:
    """A browser page asks for its subprotocol; everyone else asks for none."""
    return wire.PAGE_SUBPROTOCOL if wire.PAGE_SUBPROTOCOL in offered else None


def _page_response(protocol: ServerProtocol, name: str, request: Request) -> Response:
    """One of the watch page's files, or "not modified" when the browser has it already."""
    found = web.page_file(name)
    if found is None:
        return protocol.reject(HTTPStatus.NOT_FOUND, "pairup relay: the page has no such file\n")
    headers = Headers(found.headers)
    body, etag = found.body, found.etag
    if web.takes_gzip(_header(request, "Accept-Encoding")):
        body, etag = found.compressed, found.compressed_etag
        headers["Content-Encoding"] = "gzip"
    headers["ETag"] = etag
    if etag in (tag.strip() for tag in _header(request, "If-None-Match").split(",")):
        return Response(HTTPStatus.NOT_MODIFIED, "Not Modified", headers, b"")
    headers["Content-Length"] = str(len(body))
    return Response(HTTPStatus.OK, "OK", headers, body)


def _close_reason(reason: str) -> str:
    """As much of ``reason`` as a close frame holds, ending in … when cut."""
    if len(reason.encode()) <= CLOSE_REASON_BYTES:
        return reason
    return reason.encode()[: CLOSE_REASON_BYTES - 3].decode(errors="ignore") + "…"


def creation(create: Create, created_at: float) -> dict[str, Any]:
    """What a store's ``create_session`` takes besides the session and its verifier."""
    return {
        "watch_verifier": create.watch_verifier,
        "host": create.host,
        "approve": create.approve,
        "created_at": created_at,
        "max_participants": create.max_participants,
        "restored": create.restored,
    }


def open_store(data_dir: Path) -> Store:
    """The relay's store in ``data_dir``, created on first use."""
    return Store.open(data_dir / "relay.sqlite3")
