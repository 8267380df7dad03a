"""A fleet's store: every relay's sessions in one NATS JetStream stream (ADR 35).

``pairup relay --store nats://HOST:PORT[,HOST:PORT…]`` keeps what the SQLite store keeps
(:mod:`pairup.relay.store`) in a JetStream cluster, so any number of relays can serve the same
sessions and a relay or a JetStream node can die without losing an event. One stream,
``PAIRUP``, replicated on three nodes by default, holds a subject per session and purpose:

- ``pairup.epoch``: the fleet's epoch; the first one written counts;
- ``pairup.session.<id>``: the session's record; the first one written counts, so a second
  create (by a relay that raced another) cannot take the session over;
- ``pairup.log.<id>``: the session's events, a message per commit of one relay, an event a
  line (id, sender, time, sealed body). Offsets are not written: every relay gives them by
  reading the subject in the stream's order (:func:`pairup.relay.core.events.fold`), so all
  agree on one order and one numbering, whichever relay committed what. ``Nats-Msg-Id``
  makes a commit tried again (after a timeout, say) land once;
- ``pairup.who.<id>``: the keys participants' ids are bound to (the first binding wins) and
  who the host let in or took out (the latest wins);

and a second stream, ``PAIRUP_ACTIVE``, keeps the latest of ``pairup-active.<id>``: when
someone was last connected, for expiry.

Nothing in ``PAIRUP`` is ever purged: on nats-server 2.9 a purge of one subject (a rollup too)
can make a consumer that is behind skip messages of other subjects, which would number a
session wrong on every relay that missed one (seen in the chaos drill). Touches, which are
replaced all the time, live apart for that; an expired session's messages are deleted one by
one.

"First" is the stream's order, never an expected-sequence header: on a cluster, a publish
with ``Nats-Expected-Last-Subject-Sequence`` may be let through while another one to the
same subject is still being replicated (seen with nats-server 2.9), so no rule here rests
on it.

Presence and the host's answers across relays go over plain NATS subjects
(``pairup-bus.presence.<id>``, ``pairup-bus.tell.<id>``), which the stream does not keep.
"""

import asyncio
import base64
import contextlib
import functools
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple, Self, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.manager import JetStreamManager

from pairup.relay.core.events import StoredEvent, Taken, fold
from pairup.relay.core.rules import Loaded
from pairup.relay.store import SessionExists, StoreError

_T = TypeVar("_T")
log = logging.getLogger("pairup.relay")
STREAM = "PAIRUP"
ACTIVE = "PAIRUP_ACTIVE"
BUS = "pairup-bus"
WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code for a publish whose expected last sequence is not the subject's."""
DUPLICATE_WINDOW = 120.0
"""Seconds JetStream remembers a commit's ``Nats-Msg-Id``: a resend within it lands once."""
READ_TIMEOUT = 5.0
READ_PATIENCE = 15.0
"""Seconds a read is tried again while the stream elects a leader (5 to 9 s after a lost
leader, on nats-server 2.9)."""
REACH = 10.0
"""Seconds a relay starting tries to reach a node of the cluster before it says it cannot."""


class _NotYet(Exception):
    """JetStream did not answer in time: it may be electing a leader."""


class Conflict(StoreError):
    """A write JetStream refused because the subject has a message already."""


@dataclass
class Chunk:
    """One commit of a session's log as stored: its events without offsets, and where the
    stream holds it."""

    stream_seq: int
    taken: list[Taken]


class Mark(NamedTuple):
    """Where a commit of a session starts: the offset of its first event, its stream
    sequence, and the time of the event before it (the fold starts again from there)."""

    first_seq: int
    stream_seq: int
    at_before: float


@dataclass
class Stored:
    """A session as the fleet's store has it: what the rules need, and where its log ends."""

    loaded: Loaded
    stream_seq: int
    """The stream's sequence of the session's latest commit; 0 before the first."""
    last_at: float
    """The time of the session's latest event, as the fold gives it."""
    marks: list[Mark] = field(default_factory=list)
    who_seq: int = 0
    """The stream's sequence of the session's latest entry of who is who."""


class JetStreamStore:
    """The store of one relay of a fleet, connected to the JetStream cluster. Make one with
    :meth:`connect`. Every call may raise :class:`StoreError` with one line that says why."""

    def __init__(self, connection: Client, servers: str, epoch: str) -> None:
        self._nc = connection
        self._js = connection.jetstream(timeout=READ_TIMEOUT)
        self._jsm = connection.jsm(timeout=READ_TIMEOUT)
        self._servers = servers
        self._epoch = epoch
        self._subscriptions: list[Subscription] = []

    @classmethod
    async def connect(
        cls, servers: str, *, replicas: int = 3, name: str = "pairup-relay", patience: float = 30
    ) -> Self:
        """Connect to ``servers`` (``nats://host:port,host:port``), make the stream if it is
        not there, and read the fleet's epoch (or write it, for the first relay)."""
        connection = Client()
        try:
            # Once connected, the client reconnects for ever (to any node); the first time,
            # a relay that reaches no node says so rather than wait in silence.
            async with asyncio.timeout(REACH):
                await connection.connect(
                    servers=_urls(servers),
                    name=name,
                    connect_timeout=2,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2,
                    error_cb=_quiet,
                )
        except (TimeoutError, OSError, nats.errors.Error) as error:
            await connection.close()
            why = f"no node answered in {REACH:g} s" if isinstance(error, TimeoutError) else ""
            raise StoreError(
                f"cannot reach JetStream at {servers}: {why or _why(error)}; is nats-server "
                "running there with JetStream on (docs/operations.md)?"
            ) from None
        try:
            js = connection.jetstream(timeout=READ_TIMEOUT)
            jsm = connection.jsm(timeout=READ_TIMEOUT)
            deadline = time.monotonic() + patience
            while True:
                try:
                    await _ensure_stream(js, replicas, servers)
                    epoch = await _epoch(js, jsm)
                    break
                except _NotYet:
                    # A cluster starting, or electing a leader after a lost node.
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"JetStream at {servers} did not answer in {patience:g} s: is a "
                            "majority of its nodes up?"
                        ) from None
                    await asyncio.sleep(0.5)
        except BaseException:
            await connection.close()
            raise
        return cls(connection, servers, epoch)

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def where(self) -> str:
        return f"JetStream at {self._servers}"

    async def stop_listening(self) -> None:
        """Take nothing more from the log or the bus: the relay is stopping."""
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        self._subscriptions.clear()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._nc.drain()

    # -- sessions --------------------------------------------------------------------------------

    async def create_session(
        self,
        session: str,
        verifier: bytes,
        *,
        watch_verifier: bytes,
        host: str,
        approve: bool,
        created_at: float,
        max_participants: int,
        restored: bool,
    ) -> None:
        """Register a new session; :class:`SessionExists` if any relay made it first."""
        record = {
            "verifier": _b64(verifier),
            "watch_verifier": _b64(watch_verifier),
            "host": host,
            "approve": approve,
            "created_at": created_at,
            "max_participants": max_participants,
            "restored": restored,
        }
        try:
            await self._publish(f"pairup.session.{session}", _json(record), expected=0)
        except Conflict:
            raise SessionExists(f"session {session!r} already exists") from None
        # Two relays creating it at once may both have written: the first record counts,
        # and a hello that proves another one's link is not admitted by it.

    async def load(self, session: str) -> Stored | None:
        """The session with its log's ids, keys and standings, or ``None``."""
        record = await self._first(f"pairup.session.{session}")
        if record is None:
            return None
        fields = json.loads(record.data or b"{}")
        identities: dict[str, bytes] = {}
        watchers: set[str] = set()
        standings: dict[str, str] = {}
        entries = await self.read(f"pairup.who.{session}")
        for message in entries:
            _who(who(message.data), identities, watchers, standings)
        chunks = await self.log(session)
        logged, marks = numbered(session, chunks)
        ids = {event.id: event.seq for event in logged}
        last_seq, fold_at = (logged[-1].seq, logged[-1].at) if logged else (0, 0.0)
        stream_seq = chunks[-1].stream_seq if chunks else 0
        last_at = max(float(fields["created_at"]), fold_at)
        active = await self._touched(session)
        if active is not None:
            last_at = max(last_at, float(active.data or b"0"))
        loaded = Loaded(
            session=session,
            verifier=_unb64(fields["verifier"]),
            watch_verifier=_unb64(fields["watch_verifier"]),
            host=fields["host"],
            approve=bool(fields["approve"]),
            max_participants=int(fields["max_participants"]),
            last_seq=last_seq,
            last_active=last_at,
            restored=bool(fields["restored"]),
            ids=ids,
            identities=identities,
            standings=standings,
            watcher_ids=watchers,
        )
        who_seq = entries[-1].seq if entries else 0
        return Stored(loaded, stream_seq, fold_at, marks, who_seq)

    # -- the log ---------------------------------------------------------------------------------

    async def append(self, session: str, taken: list[Taken], commit_id: str) -> int:
        """Append one commit of ``taken`` events to the session's log; its stream sequence.
        ``commit_id`` is the commit's own: the same commit tried again lands once."""
        data = b"\n".join(_json(list(event)) for event in taken)
        return await self._publish(f"pairup.log.{session}", data, id=commit_id)

    async def events(self, session: str) -> list[StoredEvent]:
        """The session's whole log, numbered as every relay numbers it."""
        return numbered(session, await self.log(session))[0]

    async def log(self, session: str, after: int = 0) -> list[Chunk]:
        """The session's commits after stream sequence ``after``, in order."""
        return [
            Chunk(message.seq, commit(message.data))
            for message in await self.read(f"pairup.log.{session}", after)
        ]

    async def read(self, subject: str, after: int = 0) -> list[api.RawStreamMsg]:
        """Every message of ``subject`` after stream sequence ``after``, in order: a request
        per message to the stream's leader, each tried again while a leader is elected, so
        a lost node costs a read seconds, never its answer."""
        messages: list[api.RawStreamMsg] = []
        while True:
            message = await self._patiently(self._next, subject, after + 1)
            if message is None:
                return messages
            messages.append(message)
            after = message.seq

    async def _next(self, subject: str, seq: int) -> api.RawStreamMsg | None:
        try:
            return await self._jsm.get_msg(STREAM, seq=seq, subject=subject, next=True)
        except nats.js.errors.NotFoundError:
            return None

    async def _patiently(self, call: Callable[..., Awaitable[_T]], *args: object) -> _T:
        """``call``, tried again for up to :data:`READ_PATIENCE` seconds while JetStream does
        not answer; :class:`StoreError` after that."""
        deadline = time.monotonic() + READ_PATIENCE
        while True:
            try:
                return await call(*args)
            except (TimeoutError, nats.errors.Error) as error:
                if time.monotonic() > deadline:
                    raise StoreError(f"{self.where}: cannot read: {_why(error)}") from None
                await asyncio.sleep(0.2)

    async def follow(self, handle: Callable[[str, str, int, bytes], None]) -> None:
        """Hand every commit and every entry of who is who stored from now on, of every
        session, to ``handle`` with its kind (``log`` or ``who``), its session, its stream
        sequence and its data, in the stream's order (an ordered consumer: after a lost node
        it picks up where it was)."""

        async def delivered(message: Msg) -> None:
            _, kind, session = message.subject.split(".", 2)
            if kind in ("log", "who"):
                handle(kind, session, message.metadata.sequence.stream, message.data)

        info = await self._patiently(self._js.stream_info, STREAM)
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=info.state.last_seq + 1,
        )
        subscription = await self._patiently(
            functools.partial(
                self._js.subscribe,
                "pairup.>",
                stream=STREAM,
                ordered_consumer=True,
                config=config,
                cb=delivered,
            )
        )
        self._subscriptions.append(subscription)

    # -- who is who ------------------------------------------------------------------------------

    async def bind_identity(
        self, session: str, participant: str, key: bytes, *, watcher: bool = False
    ) -> bytes:
        """Bind ``participant`` to ``key`` unless it is bound; the key it is bound to."""
        entry = {"participant": participant, "key": _b64(key), "watcher": watcher}
        await self._publish(f"pairup.who.{session}", _json(entry))
        identities: dict[str, bytes] = {}
        for message in await self.read(f"pairup.who.{session}"):
            _who(who(message.data), identities, set(), {})
        return identities[participant]

    async def let_in(self, session: str, participant: str, key: bytes) -> bytes:
        """The host let ``participant`` in with ``key``: bound to it if it was not bound, and
        remembered as let in if it is bound to that key; the key it is bound to."""
        bound = await self.bind_identity(session, participant, key)
        if bound == key:
            entry = {"participant": participant, "standing": "let in", "key": _b64(key)}
            await self._publish(f"pairup.who.{session}", _json(entry))
        return bound

    async def remove(self, session: str, participant: str) -> None:
        entry = {"participant": participant, "standing": "removed"}
        await self._publish(f"pairup.who.{session}", _json(entry))

    async def touch(self, session: str, at: float) -> None:
        """Someone is connected to ``session`` as of ``at``: the subject keeps the latest."""
        await self._publish(f"pairup-active.{session}", repr(at).encode(), stream=ACTIVE)

    async def sessions(self) -> list[str]:
        """Every session the fleet has, sorted."""
        try:
            info = await self._js.stream_info(STREAM, subjects_filter="pairup.session.*")
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot list sessions: {_why(error)}") from None
        return sorted(subject.rpartition(".")[2] for subject in info.state.subjects or {})

    async def expire(self, idle_before: float, *, unused_before: float) -> list[str]:
        """Delete the sessions idle since before ``idle_before`` (without an event, since
        before ``unused_before``), every relay's alike; their ids, sorted."""
        expired = []
        for session in await self.sessions():
            subject = f"pairup.session.{session}"
            record = await self._first(subject)
            if record is None:
                continue
            active = float(json.loads(record.data or b"{}").get("created_at", 0.0))
            last_event = await self._last(f"pairup.log.{session}")
            if last_event is not None:
                active = max([active, *(event.at for event in commit(last_event.data))])
            touched = await self._touched(session)
            if touched is not None:
                active = max(active, float(touched.data or b"0"))
            if active < (idle_before if last_event is not None else unused_before):
                await self._delete(session)
                expired.append(session)
        return expired

    async def _delete(self, session: str) -> None:
        """Every message of ``session``, deleted one by one (never purged: see the module's
        text); its record last, so a session half deleted is still found and expired."""
        subjects = (f"pairup.log.{session}", f"pairup.who.{session}", f"pairup.session.{session}")
        try:
            for subject in subjects:
                for message in await self.read(subject):
                    with contextlib.suppress(nats.js.errors.NotFoundError):
                        await self._jsm.delete_msg(STREAM, message.seq)
            await self._jsm.purge_stream(ACTIVE, subject=f"pairup-active.{session}")
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot expire {session}: {_why(error)}") from None

    async def _touched(self, session: str) -> api.RawStreamMsg | None:
        return await self._patiently(self._get_last, f"pairup-active.{session}", ACTIVE)

    # -- the bus ---------------------------------------------------------------------------------

    async def listen(self, handle: Callable[[str, str, bytes], Awaitable[None]]) -> None:
        """Hand every bus message to ``handle`` with its kind (``presence`` or ``tell``), its
        session, and its data."""

        async def heard(message: Msg) -> None:
            _, kind, session = message.subject.split(".", 2)
            await handle(kind, session, message.data)

        self._subscriptions.append(await self._nc.subscribe(f"{BUS}.*.*", cb=heard))

    async def say(self, kind: str, session: str, data: bytes) -> None:
        """Publish on the bus; lost if nobody listens (it is said again, or it is moot)."""
        with contextlib.suppress(nats.errors.Error):
            await self._nc.publish(f"{BUS}.{kind}.{session}", data)

    # -- under the hood --------------------------------------------------------------------------

    async def _publish(
        self,
        subject: str,
        data: bytes,
        *,
        expected: int | None = None,
        id: str | None = None,
        stream: str = STREAM,
    ) -> int:
        headers: dict[str, str] = {}
        if expected is not None:
            headers[api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expected)
        if id is not None:
            headers[api.Header.MSG_ID] = id
        try:
            ack = await self._js.publish(subject, data, stream=stream, headers=headers or None)
        except nats.js.errors.APIError as error:
            if error.err_code == WRONG_LAST_SEQUENCE:
                raise Conflict(f"{subject} moved on") from None
            raise StoreError(f"{self.where}: cannot store on {subject}: {_why(error)}") from None
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot store on {subject}: {_why(error)}") from None
        return ack.seq

    async def _last(self, subject: str) -> api.RawStreamMsg | None:
        return await self._patiently(self._get_last, subject)

    async def _get_last(self, subject: str, stream: str = STREAM) -> api.RawStreamMsg | None:
        try:
            return await self._jsm.get_last_msg(stream, subject)
        except nats.js.errors.NotFoundError:
            return None

    async def _first(self, subject: str) -> api.RawStreamMsg | None:
        return await self._patiently(self._next, subject, 1)


def numbered(session: str, chunks: list[Chunk]) -> tuple[list[StoredEvent], list[Mark]]:
    """A session's commits from its first, numbered, and where each starts."""
    ids: dict[str, int] = {}
    events: list[StoredEvent] = []
    marks: list[Mark] = []
    seq, at = 0, 0.0
    for chunk in chunks:
        marks.append(Mark(seq + 1, chunk.stream_seq, at))
        folded = fold(session, chunk.taken, last_seq=seq, last_at=at, first_seen=ids.get)
        for event in folded:
            ids[event.id] = event.seq
        events += folded
        if folded:
            seq, at = folded[-1].seq, folded[-1].at
    return events, marks


def commit(data: bytes | None) -> list[Taken]:
    """The events of one commit as stored: a line each, ``[id, sender, at, body]``."""
    return [Taken(*json.loads(line)) for line in (data or b"").split(b"\n") if line]


class Who(NamedTuple):
    """One entry of a session's log of who is who: ``participant`` bound to ``key``, or let
    in with ``key`` (``standing`` ``"let in"``), or taken out (``"removed"``)."""

    participant: str
    key: bytes | None = None
    watcher: bool = False
    standing: str | None = None


def who(data: bytes | None) -> Who:
    fields = json.loads(data or b"{}")
    key = fields.get("key")
    return Who(
        str(fields["participant"]),
        None if key is None else _unb64(str(key)),
        bool(fields.get("watcher")),
        fields.get("standing"),
    )


def _who(
    entry: Who,
    identities: dict[str, bytes],
    watchers: set[str],
    standings: dict[str, str],
) -> None:
    """Fold one entry: the first key of an id counts; the last standing does, and "let in"
    only with the key the id is bound to."""
    participant = entry.participant
    if entry.standing is None:
        if entry.key is not None and participant not in identities:
            identities[participant] = entry.key
            if entry.watcher:
                watchers.add(participant)
    elif entry.standing != "let in" or identities.get(participant) == entry.key:
        standings[participant] = entry.standing


async def _ensure_stream(js: JetStreamContext, replicas: int, servers: str) -> None:
    config = api.StreamConfig(
        name=STREAM,
        subjects=["pairup.>"],
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW,
        discard=api.DiscardPolicy.NEW,
    )
    active = api.StreamConfig(
        name=ACTIVE,
        subjects=["pairup-active.*"],
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        max_msgs_per_subject=1,
    )
    try:
        try:
            await js.stream_info(ACTIVE)
        except nats.js.errors.NotFoundError:
            await js.add_stream(active)
        try:
            info = await js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            await js.add_stream(config)
            return
        if info.config.num_replicas != replicas:
            raise StoreError(
                f"JetStream at {servers} keeps pairup's stream on {info.config.num_replicas} "
                f"nodes, not {replicas}: start the relay with --replicas "
                f"{info.config.num_replicas}, or change the stream (docs/operations.md)"
            )
    except nats.js.errors.APIError as error:
        raise StoreError(
            f"JetStream at {servers} cannot keep pairup's stream on {replicas} nodes "
            f"({_why(error)}); run a cluster of {replicas} (docs/operations.md) or pass "
            f"--replicas 1 for one server"
        ) from None
    except (TimeoutError, nats.errors.Error) as error:
        raise _NotYet(_why(error)) from None


async def _epoch(js: JetStreamContext, jsm: JetStreamManager) -> str:
    """The fleet's epoch: the first one written, by the first relay ever."""
    headers = {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: "0"}
    try:
        with contextlib.suppress(nats.js.errors.APIError):
            await js.publish(
                "pairup.epoch", secrets.token_urlsafe(12).encode(), stream=STREAM, headers=headers
            )
        # Two relays starting at once on an empty cluster may both have written one.
        message = await jsm.get_msg(STREAM, seq=1, subject="pairup.epoch", next=True)
    except (TimeoutError, nats.errors.Error) as error:
        raise _NotYet(_why(error)) from None
    return (message.data or b"").decode()


def _urls(servers: str) -> list[str]:
    """``nats://a:1,b:2`` (or each with its scheme) as the client takes them."""
    scheme, _, rest = servers.partition("://")
    return [part if "://" in part else f"{scheme}://{part}" for part in rest.split(",") if part]


def _why(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 200 else f"{text[:199]}…"


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


async def _quiet(error: Exception) -> None:
    """nats-py's errors (a node gone while it reconnects, a slow consumer): the relay says
    what failed where it matters, and these only with -v."""
    log.info("NATS: %s", _why(error))
