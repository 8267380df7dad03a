"""A fleet's store: every relay's sessions in one NATS JetStream stream (ADR 35).

``pairup relay --store nats://HOST:PORT[,HOST:PORT…]`` keeps what the SQLite store keeps
(:mod:`pairup.relay.store`) in a JetStream cluster, so any number of relays can serve the same
sessions and a relay or a JetStream node can die without losing an event. One stream,
``PAIRUP``, replicated on three nodes by default, holds a subject per session and purpose:

- ``pairup.epoch``: the fleet's epoch, written once (participants re-seed when it changes);
- ``pairup.session.<id>``: the session's record, written once: a second create is refused by
  JetStream itself (the expected last sequence on the subject is 0);
- ``pairup.log.<id>``: the session's events, a message per commit of one relay, each the JSON
  array of the events' frames, as the SQLite store keeps a chunk. A relay appends with the
  subject's expected last sequence, so of two relays appending at once one wins and the
  other reads what it missed and numbers its events after it; the log's order is the order
  every relay sends. ``Nats-Msg-Id`` makes a resent commit (after a timeout, say) land once;
- ``pairup.who.<id>``: the keys participants' ids are bound to (the first binding wins) and
  who the host let in or took out (the latest wins);
- ``pairup.active.<id>``: when someone was last connected, for expiry.

Presence and the host's answers across relays go over plain NATS subjects
(``pairup-bus.presence.<id>``, ``pairup-bus.tell.<id>``), which the stream does not keep.
"""

import base64
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Self

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import api
from nats.js.client import JetStreamContext
from nats.js.manager import JetStreamManager

from pairup.relay.core.events import StoredEvent
from pairup.relay.core.rules import Loaded
from pairup.relay.store import SessionExists, StoreError

STREAM = "PAIRUP"
BUS = "pairup-bus"
WRONG_LAST_SEQUENCE = 10071
"""JetStream's error code for a publish whose expected last sequence is not the subject's."""
DUPLICATE_WINDOW = 120.0
"""Seconds JetStream remembers a commit's ``Nats-Msg-Id``: a resend within it lands once."""
READ_TIMEOUT = 5.0


class Conflict(StoreError):
    """An append whose session's log moved on meanwhile (another relay appended first)."""


@dataclass
class Chunk:
    """One commit of a session's log: its events, and where the stream holds it."""

    stream_seq: int
    events: list[StoredEvent]


@dataclass
class Stored:
    """A session as the fleet's store has it: what the rules need, and where its log ends."""

    loaded: Loaded
    stream_seq: int
    """The stream's sequence of the session's latest commit; 0 before the first."""
    chunks: list[tuple[int, int]] = field(default_factory=list)
    """Each commit's first offset and its stream sequence, in order: where a resume starts."""


class JetStreamStore:
    """The store of one relay of a fleet, connected to the JetStream cluster. Make one with
    :meth:`connect`. Every call may raise :class:`StoreError` with one line that says why."""

    def __init__(self, connection: Client, servers: str, epoch: str) -> None:
        self._nc = connection
        self._js = connection.jetstream(timeout=READ_TIMEOUT)
        self._jsm = connection.jsm(timeout=READ_TIMEOUT)
        self._servers = servers
        self._epoch = epoch

    @classmethod
    async def connect(cls, servers: str, *, replicas: int = 3, name: str = "pairup-relay") -> Self:
        """Connect to ``servers`` (``nats://host:port,host:port``), make the stream if it is
        not there, and read the fleet's epoch (or write it, for the first relay)."""
        urls = _urls(servers)
        try:
            connection = await nats.connect(
                servers=urls,
                name=name,
                connect_timeout=5,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                allow_reconnect=True,
                error_cb=_quiet,
            )
        except (OSError, nats.errors.Error) as error:
            raise StoreError(f"cannot reach JetStream at {servers}: {_why(error)}") from None
        try:
            js = connection.jetstream(timeout=READ_TIMEOUT)
            await _ensure_stream(js, replicas, servers)
            epoch = await _epoch(js, connection.jsm(timeout=READ_TIMEOUT))
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

    async def load(self, session: str) -> Stored | None:
        """The session with its log's ids, keys and standings, or ``None``."""
        record = await self._last(f"pairup.session.{session}")
        if record is None:
            return None
        fields = json.loads(record.data or b"{}")
        identities: dict[str, bytes] = {}
        watchers: set[str] = set()
        standings: dict[str, str] = {}
        for message in await self.read(f"pairup.who.{session}"):
            _who(json.loads(message.data), identities, watchers, standings)
        ids: dict[str, int] = {}
        chunks: list[tuple[int, int]] = []
        last_seq, stream_seq, last_at = 0, 0, float(fields["created_at"])
        for chunk in await self.log(session):
            chunks.append((chunk.events[0].seq, chunk.stream_seq))
            for event in chunk.events:
                ids[event.id] = event.seq
            last_seq, stream_seq = chunk.events[-1].seq, chunk.stream_seq
            last_at = max(last_at, chunk.events[-1].at)
        active = await self._last(f"pairup.active.{session}")
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
        return Stored(loaded, stream_seq, chunks)

    # -- the log ---------------------------------------------------------------------------------

    async def append(self, session: str, expected: int, events: list[StoredEvent]) -> int:
        """Append one commit of ``events`` (numbered to follow the log) after the session's
        commit at stream sequence ``expected``; its stream sequence. :class:`Conflict` if the
        log moved on: nothing of it is stored."""
        frames = b"\n".join(event.frame for event in events)
        msg_id = f"{session}.{events[0].seq}.{events[0].id}.{len(events)}"
        return await self._publish(f"pairup.log.{session}", frames, expected=expected, id=msg_id)

    async def log(self, session: str, after: int = 0) -> list[Chunk]:
        """The session's commits after stream sequence ``after``, in order."""
        return [
            Chunk(message.metadata.sequence.stream, events(session, message.data))
            for message in await self.read(f"pairup.log.{session}", after)
        ]

    async def read(self, subject: str, after: int = 0) -> list[Msg]:
        """Every message of ``subject`` after stream sequence ``after``, in order."""
        last = await self._last(subject)
        if last is None or last.seq <= after:
            return []
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=after + 1,
        )
        messages: list[Msg] = []
        try:
            subscription = await self._js.subscribe(
                subject, stream=STREAM, ordered_consumer=True, config=config
            )
            try:
                while True:
                    message = await subscription.next_msg(timeout=READ_TIMEOUT)
                    messages.append(message)
                    if message.metadata.sequence.stream >= last.seq:
                        return messages
            finally:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot read {subject}: {_why(error)}") from None

    async def follow(self, handle: Callable[[str, Msg], None]) -> None:
        """Hand every commit stored from now on, of every session, to ``handle`` with its
        session, in the stream's order (an ordered consumer: after a lost node it picks up
        where it was)."""
        try:
            info = await self._js.stream_info(STREAM)
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=info.state.last_seq + 1,
            )

            async def delivered(message: Msg) -> None:
                handle(message.subject.rpartition(".")[2], message)

            await self._js.subscribe(
                "pairup.log.>", stream=STREAM, ordered_consumer=True, config=config, cb=delivered
            )
        except nats.errors.Error as error:
            raise StoreError(f"{self.where}: cannot follow the log: {_why(error)}") from None

    # -- who is who ------------------------------------------------------------------------------

    async def bind_identity(
        self, session: str, participant: str, key: bytes, *, watcher: bool = False
    ) -> bytes:
        """Bind ``participant`` to ``key`` unless it is bound; the key it is bound to."""
        entry = {"participant": participant, "key": _b64(key), "watcher": watcher}
        await self._publish(f"pairup.who.{session}", _json(entry))
        identities: dict[str, bytes] = {}
        for message in await self.read(f"pairup.who.{session}"):
            _who(json.loads(message.data), identities, set(), {})
        return identities[participant]

    async def let_in(self, session: str, participant: str, key: bytes) -> bytes:
        """The host let ``participant`` in with ``key``: bound to it if it was not bound, and
        remembered as let in if it is bound to that key; the key it is bound to."""
        bound = await self.bind_identity(session, participant, key)
        if bound == key:
            entry = {"participant": participant, "standing": "let in"}
            await self._publish(f"pairup.who.{session}", _json(entry))
        return bound

    async def remove(self, session: str, participant: str) -> None:
        entry = {"participant": participant, "standing": "removed"}
        await self._publish(f"pairup.who.{session}", _json(entry))

    async def touch(self, session: str, at: float) -> None:
        await self._publish(f"pairup.active.{session}", repr(at).encode())

    async def expire(self, idle_before: float, *, unused_before: float) -> list[str]:
        """Delete the sessions idle since before ``idle_before`` (without an event, since
        before ``unused_before``), every relay's alike; their ids, sorted."""
        try:
            info = await self._js.stream_info(STREAM, subjects_filter="pairup.session.*")
        except nats.errors.Error as error:
            raise StoreError(f"{self.where}: cannot list sessions: {_why(error)}") from None
        expired = []
        for subject in sorted((info.state.subjects or {}).keys()):
            session = subject.rpartition(".")[2]
            record = await self._last(subject)
            if record is None:
                continue
            active = float(json.loads(record.data or b"{}").get("created_at", 0.0))
            last_event = await self._last(f"pairup.log.{session}")
            if last_event is not None:
                active = max(active, events(session, last_event.data)[-1].at)
            touched = await self._last(f"pairup.active.{session}")
            if touched is not None:
                active = max(active, float(touched.data or b"0"))
            if active < (idle_before if last_event is not None else unused_before):
                try:
                    await self._js.purge_stream(STREAM, subject=f"pairup.*.{session}")
                except nats.errors.Error as error:
                    raise StoreError(f"{self.where}: cannot expire: {_why(error)}") from None
                expired.append(session)
        return expired

    # -- the bus ---------------------------------------------------------------------------------

    async def listen(self, handle: Callable[[str, str, bytes], Awaitable[None]]) -> None:
        """Hand every bus message to ``handle`` with its kind (``presence`` or ``tell``), its
        session, and its data."""

        async def heard(message: Msg) -> None:
            _, kind, session = message.subject.split(".", 2)
            await handle(kind, session, message.data)

        await self._nc.subscribe(f"{BUS}.*.*", cb=heard)

    async def say(self, kind: str, session: str, data: bytes) -> None:
        """Publish on the bus; lost if nobody listens (it is said again, or it is moot)."""
        with contextlib.suppress(nats.errors.Error):
            await self._nc.publish(f"{BUS}.{kind}.{session}", data)

    # -- under the hood --------------------------------------------------------------------------

    async def _publish(
        self, subject: str, data: bytes, *, expected: int | None = None, id: str | None = None
    ) -> int:
        headers: dict[str, str] = {}
        if expected is not None:
            headers[api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expected)
        if id is not None:
            headers[api.Header.MSG_ID] = id
        try:
            ack = await self._js.publish(subject, data, stream=STREAM, headers=headers or None)
        except nats.js.errors.APIError as error:
            if error.err_code == WRONG_LAST_SEQUENCE:
                raise Conflict(f"{subject} moved on") from None
            raise StoreError(f"{self.where}: cannot store on {subject}: {_why(error)}") from None
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot store on {subject}: {_why(error)}") from None
        return ack.seq

    async def _last(self, subject: str) -> api.RawStreamMsg | None:
        try:
            return await self._jsm.get_last_msg(STREAM, subject)
        except nats.js.errors.NotFoundError:
            return None
        except (TimeoutError, nats.errors.Error) as error:
            raise StoreError(f"{self.where}: cannot read {subject}: {_why(error)}") from None


def events(session: str, data: bytes | None) -> list[StoredEvent]:
    """The events of one commit, each with its frame as the relay wrote it: a commit is the
    frames a line each (a frame is JSON on one line: strings escape their line breaks)."""
    events = []
    for frame in (data or b"").split(b"\n"):
        fields = json.loads(frame)
        events.append(
            StoredEvent(
                session,
                fields["seq"],
                fields["id"],
                fields["sender"],
                fields["at"],
                fields["body"],
                frame,
            )
        )
    return events


def _who(
    entry: dict[str, object],
    identities: dict[str, bytes],
    watchers: set[str],
    standings: dict[str, str],
) -> None:
    """Fold one ``pairup.who`` entry: the first key of an id wins, the last standing does."""
    participant = str(entry["participant"])
    if "key" in entry:
        if participant not in identities:
            identities[participant] = _unb64(str(entry["key"]))
            if entry.get("watcher"):
                watchers.add(participant)
    else:
        standings[participant] = str(entry["standing"])


async def _ensure_stream(js: JetStreamContext, replicas: int, servers: str) -> None:
    config = api.StreamConfig(
        name=STREAM,
        subjects=["pairup.>"],
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW,
        discard=api.DiscardPolicy.NEW,
    )
    try:
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
        raise StoreError(f"JetStream at {servers} did not answer: {_why(error)}") from None


async def _epoch(js: JetStreamContext, jsm: JetStreamManager) -> str:
    """The fleet's epoch: written by the first relay ever, read by every other."""
    epoch = secrets.token_urlsafe(12)
    headers = {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE: "0"}
    try:
        await js.publish("pairup.epoch", epoch.encode(), stream=STREAM, headers=headers)
        return epoch
    except nats.js.errors.APIError as error:
        if error.err_code != WRONG_LAST_SEQUENCE:
            raise StoreError(f"cannot write the fleet's epoch: {_why(error)}") from None
    except (TimeoutError, nats.errors.Error) as error:
        raise StoreError(f"cannot write the fleet's epoch: {_why(error)}") from None
    message = await jsm.get_last_msg(STREAM, "pairup.epoch")
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
    """nats-py's errors while it reconnects: the relay says what failed where it matters."""
