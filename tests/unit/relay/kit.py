"""The relay's core with a made-up clock and a store in a dict: no sockets, no threads.

:class:`Shell` carries out the core's actions as the real shell does, at once: it answers
loads, creations and bindings from memory, keeps what each connection was sent, and commits
what the core sequenced when a test says so.
"""

import dataclasses
import itertools
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pairup import protocol as wire
from pairup import seal
from pairup.relay.core.actions import (
    Abort,
    Action,
    Bind,
    Close,
    Create,
    Load,
    Moment,
    Refuse,
    Remember,
    Replay,
    Send,
    Touch,
)
from pairup.relay.core.rules import LET_IN, REMOVED, Loaded, RelayCore
from pairup.relay.limits import Limits

KEYS: dict[str, Ed25519PrivateKey] = {}


def key_of(participant: str) -> Ed25519PrivateKey:
    return KEYS.setdefault(participant, Ed25519PrivateKey.generate())


def new_link() -> wire.JoinLink:
    return wire.JoinLink("ws://relay", secrets.token_urlsafe(9), secrets.token_bytes(16))


@dataclass
class Stored:
    """A session as the dict store keeps it."""

    record: Loaded
    events: list[tuple[int, bytes]] = field(default_factory=list)


@dataclass
class Connection:
    """What one connection was sent and how it ended."""

    conn: int
    frames: list[wire.RelayFrame] = field(default_factory=list)
    ended: tuple[str, int, str] | None = None
    """``("refused" | "closed", code, reason)``, or ``("aborted", 0, "")``."""

    def of(self, kind: type) -> list:
        return [frame for frame in self.frames if isinstance(frame, kind)]

    @property
    def code(self) -> int | None:
        return None if self.ended is None else self.ended[1]


class Shell:
    """The core, a clock and a store in memory."""

    def __init__(self, **limits: object) -> None:
        self.now = 1000.0
        self.limits = Limits(**limits)  # type: ignore[arg-type]
        self.core = RelayCore(self.limits, epoch="epoch-one", file_limit=4096, now=self.moment())
        self.store: dict[str, Stored] = {}
        self.removed: list[tuple[str, str]] = []
        self.touched: list[str] = []
        self.replays: list[Replay] = []
        self.connections: dict[int, Connection] = {}
        self.challenges: dict[int, bytes] = {}
        self._ids = itertools.count(1)
        self.hold_binds = False
        """Keep ``Bind`` actions in :attr:`held` instead of answering them."""
        self.held: list[Bind] = []

    def moment(self) -> Moment:
        return Moment(self.now + 1_790_000_000.0, self.now)

    def later(self, seconds: float) -> None:
        """Move the clock on and carry out the timers that are due."""
        self.now += seconds
        self.run(self.core.tick(self.moment()))

    # -- connections -----------------------------------------------------------------------------

    def open(self, path: str, address: str = "192.0.2.1") -> Connection:
        """A connection made and upgraded on ``path``."""
        conn = next(self._ids)
        connection = self.connections[conn] = Connection(conn)
        self.challenges[conn] = secrets.token_bytes(wire.CHALLENGE_BYTES)
        self.run(self.core.connect(conn, address, self.challenges[conn], self.moment()))
        assert self.core.request(conn, path, self.moment()) is None
        self.core.opened(conn)
        return connection

    def hello(
        self,
        link: wire.JoinLink,
        participant: str,
        *,
        key: Ed25519PrivateKey | None = None,
        address: str = "192.0.2.1",
        **options: object,
    ) -> Connection:
        """A connection that says hello as ``participant`` holding ``link``."""
        connection = self.open(f"/s/{link.session}", address)
        hello = wire.hello(
            link,
            participant,
            key or key_of(participant),
            self.challenges[connection.conn],
            name=f"{participant} shown",
            **options,  # type: ignore[arg-type]
        )
        self.send(connection, wire.encode(hello))
        return connection

    def send(self, connection: Connection, data: str | bytes) -> None:
        self.run(self.core.received(connection.conn, data, self.moment()))

    def frame(self, connection: Connection, frame: wire.ClientFrame) -> None:
        self.send(connection, wire.encode(frame))

    def publish(self, connection: Connection, link: wire.JoinLink, sender: str, id: str) -> None:
        body = seal.seal(link.body_key, b"{}", seal.event_aad(link.session, sender, id))
        self.frame(connection, wire.Publish(id=id, sender=sender, body=body))

    def drop(self, connection: Connection) -> None:
        """The connection is lost."""
        self.run(self.core.closed(connection.conn, self.moment()))

    def commit(self) -> None:
        """The writer stores what the core sequenced."""
        batch = self.core.take_sequenced()
        for event, _ in batch:
            self.store[event.session].events.append((event.seq, event.frame))
        self.run(self.core.stored(batch))

    def answer_binds(self) -> None:
        held, self.held = self.held, []
        for bind in held:
            self.run(self.core.bound(bind, self._bind(bind), self.moment()))

    # -- carrying out ----------------------------------------------------------------------------

    def run(self, actions: list[Action] | tuple[()]) -> None:
        for action in actions:
            if isinstance(action, Send):
                connection = self.connections[action.conn]
                for frame in action.frames:
                    parsed = wire.RELAY_FRAME.validate_json(frame)
                    if isinstance(parsed, wire.Events):
                        connection.frames.extend(parsed.events)
                    else:
                        connection.frames.append(parsed)
            elif isinstance(action, Refuse):
                self.connections[action.conn].ended = ("refused", action.code, action.reason)
            elif isinstance(action, Close):
                self.connections[action.conn].ended = ("closed", action.code, action.reason)
            elif isinstance(action, Abort):
                self.connections[action.conn].ended = ("aborted", 0, "")
            elif isinstance(action, Load):
                stored = self.store.get(action.session)
                record = None if stored is None else _read(stored.record)
                self.run(self.core.loaded(action.session, record, self.moment()))
            elif isinstance(action, Create):
                self._create(action)
            elif isinstance(action, Bind):
                if self.hold_binds:
                    self.held.append(action)
                else:
                    self.run(self.core.bound(action, self._bind(action), self.moment()))
            elif isinstance(action, Remember):
                self.removed.append((action.session, action.participant))
                self.store[action.session].record.standings[action.participant] = REMOVED
            elif isinstance(action, Replay):
                self.replays.append(action)
            elif isinstance(action, Touch):
                self.touched.append(action.session)

    def _create(self, create: Create) -> None:
        if create.session not in self.store:
            self.store[create.session] = Stored(
                Loaded(
                    session=create.session,
                    verifier=create.verifier,
                    watch_verifier=create.watch_verifier,
                    host=create.host,
                    approve=create.approve,
                    max_participants=create.max_participants,
                    last_seq=0,
                    last_active=self.moment().wall,
                    restored=create.restored,
                    ids={},
                    identities={},
                    standings={},
                    watcher_ids=set(),
                )
            )
        record = _read(self.store[create.session].record)
        self.run(self.core.loaded(create.session, record, self.moment()))

    def _bind(self, bind: Bind) -> bytes:
        record = self.store[bind.session].record
        # The store's own copy, as a new load would read it.
        bound = record.identities.setdefault(bind.participant, bind.key)
        if bind.watcher and bound is bind.key:
            record.watcher_ids.add(bind.participant)
        if bind.let_in:
            record.standings[bind.participant] = LET_IN
        return bound


def _read(record: Loaded) -> Loaded:
    """The record as a load reads it: the core's copy, not the store's."""
    return dataclasses.replace(
        record,
        ids=dict(record.ids),
        identities=dict(record.identities),
        standings=dict(record.standings),
        watcher_ids=set(record.watcher_ids),
    )
