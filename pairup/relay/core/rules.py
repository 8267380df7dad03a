"""The relay's rules, without I/O: who is let in, how events are sequenced, who hears what.

:class:`RelayCore` takes what happens to connections (one made, its request, a whole message,
a ping, its end), what the store answers, and the time, each as an argument; it returns
:mod:`actions <pairup.relay.core.actions>` for its shell to carry out. It never waits: a
hello for a session it has not loaded asks for it (``Load``) and goes on when the shell calls
:meth:`RelayCore.loaded`. Events it sequences wait in :meth:`RelayCore.take_sequenced` for the
shell's writer; a commit comes back through :meth:`RelayCore.stored`. Its timers (the hello
timeout, a refused connection's grace, the delay of a refusal, a newcomer's wait for the host)
are deadlines the shell asks for (:meth:`RelayCore.next_deadline`) and hands back
(:meth:`RelayCore.tick`). ADR 28 says why; ADR 14, 18, 24 and 25 say what the rules are for.
"""

import enum
import heapq
import logging
from dataclasses import dataclass, field
from http import HTTPStatus

from pairup import protocol as wire
from pairup.relay.core.actions import (
    Abort,
    Action,
    Announce,
    Answer,
    Bind,
    Close,
    Create,
    LetIn,
    Load,
    Moment,
    Pending,
    Refuse,
    Remember,
    Replay,
    Send,
    Tell,
    Touch,
)
from pairup.relay.core.budgets import RecentByAddress, SessionBudget, TokenBucket, wait_text
from pairup.relay.core.doorway import Doorway, Phase
from pairup.relay.core.events import StoredEvent, sequenced
from pairup.relay.limits import Limits

log = logging.getLogger("pairup.relay")

LET_IN = "let in"
REMOVED = "removed"
NOTHING: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class Loaded:
    """A session as the store has it: its record and what admission needs of it."""

    session: str
    verifier: bytes
    watch_verifier: bytes
    host: str
    approve: bool
    max_participants: int
    last_seq: int
    last_active: float
    restored: bool
    ids: dict[str, int]
    identities: dict[str, bytes]
    standings: dict[str, str]
    watcher_ids: set[str] = field(default_factory=set)
    """The ids that first came with the watch link."""


@dataclass(frozen=True, slots=True)
class Part:
    """In a fleet: who another relay said is connected to a session there, and when it said
    so (``mono``)."""

    connected: tuple[str, ...]
    watching: tuple[wire.Shown, ...]
    waiting: tuple[wire.Knock, ...]
    heard: float


@dataclass(eq=False)
class Room:
    """A session as the relay holds it while anyone is connected or events flow."""

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
    """The key each id of the session is bound to (ADR 24)."""
    standings: dict[str, str]
    """Who the host let in, and who was taken out."""
    watcher_ids: set[str] = field(default_factory=set)
    """The ids in ``identities`` that first came with the watch link: they count against
    the watchers' ids, so a watch link cannot use up the participants'."""
    restored: bool = False
    members: dict[int, str] = field(default_factory=dict)
    """Welcomed connections, participants and watchers, with their ids."""
    watchers: dict[int, str | None] = field(default_factory=dict)
    """The members that hold the watch link, with the sealed names they show."""
    waiting: dict[int, wire.Knock] = field(default_factory=dict)
    """Connections waiting for the host to let them in."""
    budgets: dict[str, TokenBucket] = field(default_factory=dict)
    """Each admitted id's frames over time: the room outlives connections, so reconnecting
    refills nothing (ADR 25)."""
    budget: SessionBudget | None = None
    pending: set[str] = field(default_factory=set)
    """In a fleet: ids of events this relay took and has not yet seen in the shared log."""
    elsewhere: dict[str, Part] = field(default_factory=dict)
    """In a fleet: who the other relays have connected to this session, by relay."""
    loaded_at: float = 0.0
    """When it was loaded (``mono``): until a whole presence interval later, it may not have
    heard every relay say who is connected there."""
    empty_since: float | None = None
    """Since when nobody is connected here (``mono``); in a fleet, an empty room is let go
    after a while, and loaded again when someone comes."""

    def here(self) -> set[str]:
        """The participants connected to this relay (watchers apart)."""
        return {id for conn, id in self.members.items() if conn not in self.watchers}

    def connected(self) -> tuple[str, ...]:
        """The participants connected to the session, to this relay or another of its fleet."""
        here = self.here()
        for part in self.elsewhere.values():
            here.update(part.connected)
        return tuple(sorted(here))

    def presence(self, *, local: bool = False) -> bytes:
        """The ``presence`` frame: of the whole fleet, or of this relay alone (``local``),
        which is what it tells the others."""
        watching = {self.members[conn]: name for conn, name in self.watchers.items()}
        knocks = {knock.participant: knock for knock in self.waiting.values()}
        connected = tuple(sorted(self.here())) if local else self.connected()
        if not local:
            for part in self.elsewhere.values():
                for shown in part.watching:
                    watching.setdefault(shown.participant, shown.name)
                for knock in part.waiting:
                    knocks.setdefault(knock.participant, knock)
        shown = tuple(
            wire.Shown(participant=id, name=name) for id, name in sorted(watching.items())
        )
        waiting = tuple(knock for _, knock in sorted(knocks.items()))
        presence = wire.Presence(connected=connected, watching=shown, waiting=waiting)
        return wire.encode(presence).encode()


ROOM_KEPT = 12
"""In a fleet, presence intervals a room with nobody in it stays in memory: a minute."""
WAITING_KEEPALIVE_RATE = 0.2
WAITING_KEEPALIVE_BURST = 4
"""Pings and pongs a connection waiting for the host may send: a ping and a pong every 20 s
is websockets' keepalive; a flood of them is not."""


class Stage(enum.Enum):
    """Where a connection is in the conversation."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    """Upgraded, no hello yet."""
    ADMITTING = "admitting"
    """Its hello is being looked at: a session or a key on its way from the store."""
    WAITING = "waiting"
    """For the host to let it in."""
    MEMBER = "member"
    DONE = "done"
    """Refused or closed: nothing it sends counts."""


class Timer(enum.Enum):
    HELLO = "hello"
    GRACE = "grace"
    REJECT = "reject"
    APPROVAL = "approval"


@dataclass(eq=False, slots=True)
class Peer:
    """One connection as the rules see it."""

    conn: int
    address: str
    challenge: bytes
    phase: Phase
    stage: Stage = Stage.HANDSHAKE
    path: str = ""
    answer: Answer | None = None
    """Over a cap: what its request is answered with."""
    hello: wire.Hello | None = None
    room: Room | None = None
    timer: Timer | None = None
    budget: TokenBucket | None = None


class RelayCore:
    """One relay's rules over all its sessions. Every input takes the time."""

    def __init__(
        self,
        limits: Limits,
        *,
        epoch: str,
        file_limit: int,
        now: Moment,
        chaos: str = "",
        shared: bool = False,
    ) -> None:
        self.limits = limits
        self.epoch = epoch
        self.shared = shared
        """One relay of a fleet over a shared log: events are stored when the log holds them
        (:meth:`logged`), whichever relay took them, and presence and the host's answers
        are shared with the other relays (ADR 35)."""
        self.chaos = chaos
        """The fault drill the shell runs, as welcomes say it."""
        self.door = Doorway(limits, file_limit, now.mono)
        self.rooms: dict[str, Room] = {}
        self.peers: dict[int, Peer] = {}
        self._loading: dict[str, list[int]] = {}
        """Connections whose hello waits for its session to come from the store."""
        self._creating: set[str] = set()
        self._sequenced: list[Pending] = []
        self._timers: list[tuple[float, int, int, Timer]] = []
        self._timer_count = 0
        self._refused = RecentByAddress(limits.failure_window)
        self._created = RecentByAddress(limits.failure_window)
        self._created_in_all = RecentByAddress(limits.sessions_created_window)
        """Every address's new sessions under one key: many addresses could each stay below
        their own limit and still make thousands."""

    def member(self, conn: int) -> bool:
        """Whether the connection is a welcomed member: what a fault drill works on."""
        peer = self.peers.get(conn)
        return peer is not None and peer.stage is Stage.MEMBER

    @property
    def sequencing(self) -> bool:
        """Events wait for :meth:`take_sequenced`."""
        return bool(self._sequenced)

    # -- a connection's life ---------------------------------------------------------------------

    def connect(self, conn: int, address: str, challenge: bytes, now: Moment) -> list[Action]:
        """A TCP connection was made: counted against its address from its first byte."""
        phase, status, why = self.door.arrive(address)
        peer = Peer(conn, address, challenge, phase)
        if phase is Phase.TURNED_AWAY:
            # Over every cap: cut before a byte is read, so a flood costs an accept and a
            # close each, and no line of log.
            return [Abort(conn)]
        self.peers[conn] = peer
        if phase is Phase.REFUSING:
            peer.answer = Answer(status, f"{why}\n")
            self._arm(peer, Timer.GRACE, now.mono + self.limits.refusal_grace)
        else:
            self._arm(peer, Timer.HELLO, now.mono + self.limits.hello_timeout)
        return []

    def request(self, conn: int, path: str, now: Moment, *, upgrade: bool = True) -> Answer | None:
        """Its HTTP request: an answer, or ``None`` to upgrade it to a websocket. A request
        that asks for no websocket (a browser opening a link) gets the watch page's files."""
        peer = self.peers[conn]
        if peer.answer is not None:
            return peer.answer
        if path == "/healthz":
            return Answer(HTTPStatus.OK, "ok\n")
        page = None if upgrade else wire.page_file(path)
        if page is None and (upgrade is False or not path.startswith("/s/")):
            return Answer(
                HTTPStatus.NOT_FOUND,
                "pairup relay: join links look like ws://HOST:PORT/s/SESSION#SECRET, "
                "watch links like http://HOST:PORT/w/SESSION#SECRET\n",
            )
        address, limits, mono = peer.address, self.limits, now.mono
        # The door counts every connection from its first byte, this one included.
        if self.door.from_address(address) > limits.connections_per_ip:
            why = f"too many connections from your address (at most {limits.connections_per_ip})"
            self.door.refused(address, f"over {limits.connections_per_ip} from one address")
        elif page is not None:
            # The same files for everyone, whatever the session: nothing to count but the
            # connection itself.
            return Answer(HTTPStatus.OK, "", page=page)
        elif self._created.count(address, mono) >= limits.sessions_created_per_ip:
            why = "too many new sessions from your address; wait a minute"
            self.door.refused(address, "over the new sessions of one address")
        elif self._refused.count(address, mono) >= limits.failed_admissions_per_ip:
            why = "too many failed attempts from your address; wait a minute"
            self.door.refused(address, "locked out after failed admissions")
        else:
            peer.path = path
            return None
        return Answer(HTTPStatus.TOO_MANY_REQUESTS, f"{why}\n")

    def opened(self, conn: int) -> None:
        """The websocket handshake is done: frames may come."""
        self.peers[conn].stage = Stage.OPEN

    def control(self, conn: int, now: Moment) -> list[Action]:
        """A ping or a pong came. Before admission nothing may come but the hello: a ping
        costs the relay a pong and a wake-up while nobody is accountable for it. After, it
        costs its participant's budget like a message."""
        peer = self.peers.get(conn)
        if peer is None or peer.stage is Stage.DONE:
            return []
        if peer.stage is Stage.WAITING:
            # Keepalive while the host decides: websockets pings on its own and answers the
            # relay's pings. A few a minute are that; more are refused.
            assert peer.budget is not None, "a waiting connection has a budget for keepalive"
            if peer.budget.take(now.mono):
                return []
            return self._refuse(peer, wire.Close.POLICY, "waiting for the host: only keepalive")
        if peer.stage is not Stage.MEMBER:
            return self._refuse(peer, wire.Close.POLICY, "send hello first: nothing before it")
        assert peer.budget is not None, "a member has a budget"
        if not peer.budget.take(now.mono):
            return self._refuse(peer, wire.Close.RATE_LIMITED, self._too_many(peer.budget, now))
        return []

    def received(self, conn: int, data: str | bytes, now: Moment) -> list[Action] | tuple[()]:
        """A whole message came (text as ``str``)."""
        peer = self.peers.get(conn)
        if peer is None:
            return NOTHING
        stage = peer.stage
        if stage is Stage.MEMBER:
            return self._converse(peer, data, now)
        if stage is Stage.OPEN:
            return self._hello(peer, data, now)
        if stage is Stage.DONE:
            return NOTHING
        # Admitting or waiting: one hello, then nothing until the welcome.
        return self._refuse(peer, wire.Close.INVALID, "one hello, then nothing until the welcome")

    def closed(self, conn: int, now: Moment) -> list[Action]:
        """The connection is gone."""
        peer = self.peers.pop(conn, None)
        if peer is None:
            return []
        self.door.leave(peer.address, peer.phase)
        peer.timer = None
        room = peer.room
        if room is None:
            return []
        actions: list[Action] = []
        if conn in room.members:
            del room.members[conn]
            room.watchers.pop(conn, None)
            actions += self._presence(room)
            if not room.members:
                room.empty_since = now.mono
                actions.append(Touch(room.session, now.wall))
        elif room.waiting.pop(conn, None) is not None:
            actions += self._presence(room)
        return actions

    # -- the hello -------------------------------------------------------------------------------

    def _hello(self, peer: Peer, data: str | bytes, now: Moment) -> list[Action]:
        try:
            hello = _decode(data)
        except wire.FrameError as error:
            return self._refuse(peer, error.code, error.reason)
        if not isinstance(hello, wire.Hello):
            return self._refuse(peer, wire.Close.INVALID, "the first frame must be hello")
        if peer.path != f"/s/{hello.session}":
            return self._refuse(peer, wire.Close.POLICY, "hello names another session than the URL")
        peer.hello = hello
        peer.stage = Stage.ADMITTING
        peer.timer = None
        room = self.rooms.get(hello.session)
        if room is not None:
            return self._admit(peer, room, now)
        waiting = self._loading.get(hello.session)
        if waiting is not None:
            waiting.append(peer.conn)
            return []
        self._loading[hello.session] = [peer.conn]
        return [Load(hello.session)]

    def loaded(self, session: str, record: Loaded | None, now: Moment) -> list[Action]:
        """The store's answer to ``Load`` or ``Create``: the session, or ``None``."""
        self._creating.discard(session)
        waiting = [conn for conn in self._loading.pop(session, []) if conn in self.peers]
        actions: list[Action] = []
        if record is None:
            for position, conn in enumerate(waiting):
                peer = self.peers[conn]
                assert peer.hello is not None
                if peer.hello.create and peer.hello.role == "participant":
                    actions += self._create(peer, now)
                    if session in self._creating:
                        # The rest wait for the session this hello makes.
                        self._loading[session] = [conn, *waiting[position + 1 :]]
                        return actions
                else:
                    actions += self._not_admitted(peer, now)
            return actions
        room = self.rooms.get(session)
        if room is None:
            room = Room(
                session=record.session,
                verifier=record.verifier,
                watch_verifier=record.watch_verifier,
                host=record.host,
                approve=record.approve,
                max_participants=record.max_participants,
                last_seq=record.last_seq,
                stored_seq=record.last_seq,
                last_at=record.last_active,
                ids=record.ids,
                identities=record.identities,
                standings=record.standings,
                watcher_ids=record.watcher_ids,
                restored=record.restored,
                loaded_at=now.mono,
                empty_since=now.mono,
            )
            self.rooms[session] = room
        for conn in waiting:
            actions += self._admit(self.peers[conn], room, now)
        return actions

    def load_failed(self, session: str, reason: str) -> list[Action]:
        """The store could not answer ``Load`` or ``Create``: whoever waited for it is told."""
        self._creating.discard(session)
        actions: list[Action] = []
        for conn in self._loading.pop(session, []):
            peer = self.peers.get(conn)
            if peer is not None:
                actions += self._close(peer, wire.Close.STORAGE_FAILED, reason)
        return actions

    def _create(self, peer: Peer, now: Moment) -> list[Action]:
        """Make the session a hello asks for: it costs a durable write, so it counts against
        the address and against every address together (making one needs no secret)."""
        hello = peer.hello
        assert hello is not None
        made = self._created_in_all.count("", now.mono)
        if made >= self.limits.sessions_created:
            self.door.refused(peer.address, "over the new sessions of every address")
            return self._refuse(
                peer,
                wire.Close.RATE_LIMITED,
                f"this relay made {made} new sessions lately, the most it makes in "
                f"{self.limits.sessions_created_window / 60:g} min; try again later",
            )
        self._created.add(peer.address, now.mono)
        self._created_in_all.add("", now.mono)
        self._creating.add(hello.session)
        return [
            Create(
                hello.session,
                verifier=b"" if hello.verifier is None else wire.key_bytes(hello.verifier),
                watch_verifier=(
                    b"" if hello.watch_verifier is None else wire.key_bytes(hello.watch_verifier)
                ),
                host=hello.participant,
                approve=hello.approve,
                max_participants=hello.max_participants,
                restored=hello.restore,
            )
        ]

    def _not_admitted(self, peer: Peer, now: Moment) -> list[Action]:
        """An unknown session or a wrong proof: the same code after the same delay, counted
        against the address."""
        self._refused.add(peer.address, now.mono)
        assert peer.hello is not None
        log.info("refused %s for session %s", peer.address, peer.hello.session)
        self._arm(peer, Timer.REJECT, now.mono + self.limits.reject_delay)
        return []

    def _admit(self, peer: Peer, room: Room, now: Moment) -> list[Action]:
        hello = peer.hello
        assert hello is not None
        peer.room = room
        watcher = hello.role == "watcher"
        verifier = room.watch_verifier if watcher else room.verifier
        if not verifier or not hello.admitted_by(verifier, peer.challenge):
            return self._not_admitted(peer, now)
        participant = hello.participant
        if watcher:
            refusal = self._no_room_to_watch(room, participant)
            if refusal:
                return self._refuse(peer, wire.Close.SESSION_FULL, refusal)
        else:
            refusal = self._full(room, participant)
            if refusal:
                return self._refuse(peer, wire.Close.SESSION_FULL, refusal)
        refusal = self._newcomer(room, peer, now)
        if refusal:
            return refusal
        key = wire.key_bytes(hello.identity)
        bound = room.identities.get(participant)
        if not hello.proves_identity(peer.challenge) or (bound is not None and bound != key):
            # Before anything else: nobody can take someone's id to push them out or to
            # take their place in the queue for the host.
            return self._refuse(
                peer,
                wire.Close.POLICY,
                f"participant id {participant} belongs to someone else in this session; "
                "join with your own (a new data dir, or the one you joined with)",
            )
        if watcher and any(knock.participant == participant for knock in room.waiting.values()):
            # Its id is in the queue for the host, unbound yet: a watcher that bound it now
            # would have the newcomer refused as someone else once the host lets them in.
            return self._refuse(
                peer, wire.Close.POLICY, f"participant id {participant} waits for the host"
            )
        if self._needs_approval(room, participant, watcher):
            return self._wait(peer, room, now)
        if bound is None:
            # The id's first entry: bound before the welcome, in memory at once, so a second
            # hello for it meanwhile meets this key.
            room.identities[participant] = key
            if watcher:
                room.watcher_ids.add(participant)
            return [Bind(peer.conn, room.session, participant, key, watcher=watcher)]
        return self._enter(peer, room, now)

    def bound(self, bind: Bind, key: bytes, now: Moment) -> list[Action]:
        """The store's answer to ``bind``: the key its id is bound to."""
        room = self.rooms.get(bind.session)
        if room is not None:
            room.identities[bind.participant] = key
            if bind.let_in and key == bind.key:
                # Only the key the host let in: an id someone else bound meanwhile stays out.
                room.standings[bind.participant] = LET_IN
        peer = self.peers.get(bind.conn)
        if peer is None or peer.room is None or peer.hello is None:
            return []
        if peer.stage is not Stage.ADMITTING and peer.stage is not Stage.WAITING:
            return []  # Refused or gone meanwhile.
        hello = peer.hello
        if room is not peer.room:
            # A failed commit let the session go meanwhile: coming back, the client finds the
            # stored session.
            return self._close(peer, wire.Close.STORAGE_FAILED, "the relay could not store events")
        if key != wire.key_bytes(hello.identity):
            return self._refuse(
                peer,
                wire.Close.POLICY,
                f"participant id {hello.participant} belongs to someone else in this session",
            )
        watcher = hello.role == "watcher"
        if not bind.let_in and self._needs_approval(room, hello.participant, watcher):
            # Taken out while its first entry was on its way to the store.
            return self._wait(peer, room, now)
        return self._enter(peer, room, now)

    def bind_failed(self, bind: Bind, reason: str) -> list[Action]:
        """The store could not bind a key: the participant comes back later."""
        room = self.rooms.get(bind.session)
        if room is not None and not bind.let_in:
            room.identities.pop(bind.participant, None)
            room.watcher_ids.discard(bind.participant)
        peer = self.peers.get(bind.conn)
        return [] if peer is None else self._close(peer, wire.Close.STORAGE_FAILED, reason)

    def _full(self, room: Room, participant: str) -> str:
        """Why the session cannot seat ``participant`` now, or nothing."""
        already = room.connected()
        if participant not in already and len(already) >= room.max_participants:
            return f"session full ({room.max_participants} participants)"
        # An id the session has never admitted, once it has admitted as many as it ever
        # will: each new id is a fresh message budget and a row in the store.
        most = self.limits.ids_per_seat * room.max_participants
        participants = len(room.identities) - len(room.watcher_ids)
        if participant not in room.identities and participants >= most:
            return (
                f"session full: {most} different participants have been in it, the most it "
                "takes; start a new session"
            )
        return ""

    def _no_room_to_watch(self, room: Room, watcher: str) -> str:
        """Why the session cannot take ``watcher`` now, or nothing: as many watchers
        connected as it takes, or as many different watcher ids over its life."""
        watching = {room.members[conn] for conn in room.watchers}
        most = self.limits.watchers_per_session
        if watcher not in watching and len(watching) >= most:
            return f"session full ({most} watchers)"
        ever = self.limits.ids_per_seat * most
        if watcher not in room.identities and len(room.watcher_ids) >= ever:
            return (
                f"session full: {ever} different watchers have been in it, the most it takes; "
                "watch with the id you watched with before"
            )
        return ""

    def _newcomer(self, room: Room, peer: Peer, now: Moment) -> list[Action]:
        """Refuse an id whose budget is still empty: only looked at (a hello for someone
        else's id cannot drain theirs), and counted against the address like a failed
        admission, so an address that keeps coming back is turned away before its
        handshake."""
        assert peer.hello is not None
        budget = room.budgets.get(peer.hello.participant)
        if budget is not None and budget.wait(now.mono) > 0:
            self._refused.add(peer.address, now.mono)
            return self._refuse(peer, wire.Close.RATE_LIMITED, self._too_many(budget, now))
        return []

    def _needs_approval(self, room: Room, participant: str, watcher: bool) -> bool:
        if participant == room.host and not watcher:
            return False  # Nobody lets the host in: the host is the one who lets people in.
        standing = room.standings.get(participant)
        if standing == REMOVED:
            return True
        return room.approve and not watcher and standing != LET_IN

    def _wait(self, peer: Peer, room: Room, now: Moment) -> list[Action]:
        """Put a newcomer before the host: it waits, seen by the members, until the host
        lets it in or turns it away, or ``approval_wait`` is over."""
        hello = peer.hello
        assert hello is not None
        actions: list[Action] = []
        for conn, knock in list(room.waiting.items()):
            if knock.participant != hello.participant:
                continue
            if knock.identity != hello.identity:
                # Someone else already waits as this id: nobody pushes them out of the queue.
                return self._refuse(
                    peer,
                    wire.Close.POLICY,
                    f"participant id {hello.participant} waits for the host already; join "
                    "with your own",
                )
            # The same newcomer again: its older connection gives way.
            del room.waiting[conn]
            actions += self._close(self.peers[conn], wire.Close.GOING_AWAY, "replaced")
        if len(room.waiting) >= self.limits.waiting_per_session:
            return [
                *actions,
                *self._refuse(
                    peer,
                    wire.Close.SESSION_FULL,
                    f"{len(room.waiting)} people are waiting for the host already; try later",
                ),
            ]
        peer.stage = Stage.WAITING
        peer.budget = TokenBucket(WAITING_KEEPALIVE_RATE, WAITING_KEEPALIVE_BURST, now.mono)
        room.waiting[peer.conn] = wire.Knock(
            participant=hello.participant,
            name=hello.name,
            identity=hello.identity,
            returning=room.standings.get(hello.participant) == REMOVED,
        )
        self._arm(peer, Timer.APPROVAL, now.mono + self.limits.approval_wait)
        host_connected = room.host in room.connected()
        waiting = wire.encode(wire.Waiting(host_connected=host_connected)).encode()
        return [*actions, Send(peer.conn, [waiting], door=True), *self._presence(room)]

    def _enter(self, peer: Peer, room: Room, now: Moment) -> list[Action]:
        """Welcome a connection that proved the link and its id, within the relay's room
        for admitted connections; an older connection of the same id gives way."""
        hello = peer.hello
        assert hello is not None
        participant = hello.participant
        replacing = participant in room.members.values()
        if not self.door.admit(peer.address, replacing=replacing):
            return self._refuse(
                peer,
                wire.Close.TOO_MANY_CONNECTIONS,
                f"the relay has {self.door.most_admitted} participants connected, the most it "
                "takes; try again in a few minutes",
            )
        peer.phase = Phase.ADMITTED
        budget = room.budgets.get(participant)
        if budget is None:
            budget = TokenBucket(self.limits.messages_per_second, self.limits.burst, now.mono)
            room.budgets[participant] = budget
        peer.budget = budget
        peer.timer = None
        actions: list[Action] = []
        for conn, id in list(room.members.items()):
            if id == participant:
                # The same person again (a reconnect the old socket has not noticed yet).
                del room.members[conn]
                room.watchers.pop(conn, None)
                actions += self._close(self.peers[conn], wire.Close.GOING_AWAY, "replaced")
        watcher = hello.role == "watcher"
        connected = set(room.connected())
        if not watcher:
            connected.add(participant)
        welcome = wire.Welcome(
            session=room.session,
            epoch=self.epoch,
            last_seq=room.last_seq,
            now=now.wall,
            connected=tuple(sorted(connected)),
            chaos=self.chaos,
            restored=room.restored,
            role=hello.role,
            host=room.host,
            approve=room.approve,
        )
        actions.append(Send(peer.conn, [wire.encode(welcome).encode()], door=True))
        if self.shared and room.empty_since is not None:
            # Someone is here: no relay of the fleet expires it from now on.
            actions.append(Touch(room.session, now.wall))
        room.empty_since = None
        peer.stage = Stage.MEMBER
        room.members[peer.conn] = participant
        if watcher:
            room.watchers[peer.conn] = hello.name
        actions += self._presence(room)
        return actions

    # -- members ---------------------------------------------------------------------------------

    def _converse(self, peer: Peer, data: str | bytes, now: Moment) -> list[Action] | tuple[()]:
        budget = peer.budget
        assert budget is not None
        assert peer.room is not None
        assert peer.hello is not None
        if not budget.take(now.mono):
            return self._refuse(peer, wire.Close.RATE_LIMITED, self._too_many(budget, now))
        try:
            frame = _decode(data)
        except wire.FrameError as error:
            return self._refuse(peer, error.code, error.reason)
        room = peer.room
        if type(frame) is wire.Publish and peer.conn not in room.watchers:
            return self._sequence(peer, room, frame, now)
        if peer.conn in room.watchers and not isinstance(frame, wire.Resume | wire.Ping):
            return self._refuse(
                peer, wire.Close.WATCH_ONLY, "a watch link cannot change the session"
            )
        if isinstance(frame, wire.Resume):
            end = room.last_seq if frame.until is None else min(frame.until, room.last_seq)
            return [Replay(peer.conn, room.session, frame.after, end)] if frame.after < end else []
        if isinstance(frame, wire.Ping):
            pong = wire.Pong(sent=frame.sent, now=now.wall, last_seq=room.stored_seq)
            return [Send(peer.conn, [wire.encode(pong).encode()])]
        if isinstance(frame, wire.Approve | wire.Deny):
            return self._answer(peer, room, frame)
        if isinstance(frame, wire.Remove):
            return self._remove(peer, room, frame, now)
        return self._refuse(peer, wire.Close.INVALID, "hello only once, at the start")

    def _sequence(
        self, peer: Peer, room: Room, frame: wire.Publish, now: Moment
    ) -> list[Action] | tuple[()]:
        """Give the event its offset and queue it for the next commit.

        The sender hears of it with everyone, once it is durable: its own copy is its
        acknowledgement. A repeated id is not stored again: if its event is on disk the
        sender gets an ack with the offset it has; if not, its event frame is on its way to
        every member already. A new event costs the session's budget, which a repeat does
        not: participants re-seeding one log together store it once.
        """
        assert peer.hello is not None
        if frame.sender != peer.hello.participant:
            return self._refuse(peer, wire.Close.POLICY, "events must be sent as yourself")
        known = room.ids.get(frame.id)
        if known is not None:
            if known <= room.stored_seq:
                return [Send(peer.conn, [wire.encode_ack(frame.id, known)])]
            return NOTHING
        if frame.id in room.pending:
            return NOTHING
        if room.budget is None:
            room.budget = SessionBudget(self.limits, now.mono)
        wait = room.budget.take(len(frame.body), now.mono)
        if wait:
            limits = self.limits
            return self._refuse(
                peer,
                wire.Close.RATE_LIMITED,
                f"this session sends too much: {wait_text(wait)} (the relay stores "
                f"{limits.session_events_per_second:g} of its events or "
                f"{limits.session_bytes_per_second / 1024:g} KiB a second)",
            )
        room.last_at = max(now.wall, room.last_at)
        if self.shared:
            # Its offset is the shared log's to give, by where the commit lands in it among
            # every relay's: the event comes back through ``logged``.
            room.pending.add(frame.id)
            pending = StoredEvent(
                room.session, 0, frame.id, frame.sender, room.last_at, frame.body, b""
            )
            self._sequenced.append((pending, room))
            return NOTHING
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
        self._sequenced.append((event, room))
        return NOTHING

    def _answer(self, peer: Peer, room: Room, frame: wire.Approve | wire.Deny) -> list[Action]:
        """The host lets a newcomer in or turns it away; anyone else who tries is forging."""
        assert peer.hello is not None
        if peer.hello.participant != room.host:
            return self._refuse(
                peer, wire.Close.POLICY, "only the host lets people in or turns them away"
            )
        for conn, knock in room.waiting.items():
            if knock.participant == frame.participant and knock.identity == frame.identity:
                newcomer = self.peers[conn]
                break
        else:
            if any(
                knock.participant == frame.participant and knock.identity == frame.identity
                for part in room.elsewhere.values()
                for knock in part.waiting
            ):
                if type(frame) is wire.Deny:
                    return [Tell(room.session, wire.encode(frame).encode())]
                refusal = self._full(room, frame.participant)
                if refusal:
                    return [_error(peer, refusal)]
                # Bound and let in in the store: the relay they wait at reads it in the log.
                key = wire.key_bytes(frame.identity)
                return [LetIn(room.session, frame.participant, key)]
            return [_error(peer, f"nobody waits as {frame.participant} with that key")]
        if type(frame) is wire.Approve:
            refusal = self._full(room, frame.participant)
            if refusal:
                return [_error(peer, refusal)]
        return self._let(room, conn, newcomer, frame)

    def _let(
        self, room: Room, conn: int, newcomer: Peer, frame: wire.Approve | wire.Deny
    ) -> list[Action]:
        """Let a newcomer waiting here in, or turn it away, as the host said (the host's
        relay may be another of the fleet)."""
        if isinstance(frame, wire.Deny):
            del room.waiting[conn]
            return [
                *self._refuse(newcomer, wire.Close.TURNED_AWAY, "the host did not let you in"),
                *self._presence(room),
            ]
        # Out of the queue at once: a second approval finds nobody, and the newcomer is
        # welcomed once its id is bound and remembered as let in.
        del room.waiting[conn]
        newcomer.timer = None
        key = wire.key_bytes(frame.identity)
        return [Bind(conn, room.session, frame.participant, key, True), *self._presence(room)]

    def _remove(self, peer: Peer, room: Room, frame: wire.Remove, now: Moment) -> list[Action]:
        """Take someone out of the session: the host anyone but itself; when the session does
        not ask for approval, anyone someone not connected now."""
        assert peer.hello is not None
        target = frame.participant
        if target == peer.hello.participant:
            return [_error(peer, "you cannot take yourself out; leave the session instead")]
        if target not in room.identities and target not in room.connected():
            return [_error(peer, f"nobody called {target} has been in this session")]
        if target == room.host:
            return [_error(peer, "nobody takes the host out of the session")]
        connected = target in room.members.values() or target in room.connected()
        hearing = self.shared and now.mono - room.loaded_at < self.limits.presence_interval
        if peer.hello.participant != room.host and hearing:
            # Loaded a moment ago: the other relays may not have said yet who is with them.
            return [_error(peer, "this relay is still hearing who is connected; try again")]
        if peer.hello.participant != room.host and (room.approve or connected):
            # Refused, not punished: the session's rules may have let the same participant
            # take them out of the rotation, which the relay does not read.
            return [
                _error(
                    peer,
                    "only the host takes out someone connected, or anyone when the host "
                    "approves newcomers",
                )
            ]
        # In a fleet, the other relays read the removal in the log and close their
        # connections of the participant too.
        return [Remember(room.session, target), *self._take_out(room, target)]

    def _take_out(self, room: Room, target: str) -> list[Action]:
        """``target`` is out of the session: its connections here are closed."""
        room.standings[target] = REMOVED
        actions: list[Action] = []
        for conn, id in list(room.members.items()):
            if id == target:
                del room.members[conn]
                room.watchers.pop(conn, None)
                actions += self._refuse(
                    self.peers[conn],
                    wire.Close.REMOVED,
                    "you were taken out of the session; the host can let you back in",
                )
        return [*actions, *self._presence(room)]

    # -- the store -------------------------------------------------------------------------------

    def take_sequenced(self) -> list[Pending]:
        """The events sequenced since the last call, in offset order, for the writer."""
        taken, self._sequenced = self._sequenced, []
        return taken

    def stored(self, batch: list[Pending]) -> list[Action]:
        """A commit is on disk: each event goes to every member of its session, the sender
        included, a connection's frames of the commit packed together."""
        outgoing: dict[int, list[bytes]] = {}
        for event, room in batch:
            assert isinstance(room, Room)
            room.stored_seq = max(room.stored_seq, event.seq)
            for member in room.members:
                frames = outgoing.get(member)
                if frames is None:
                    outgoing[member] = [event.frame]
                else:
                    frames.append(event.frame)
        return [Send(conn, wire.pack_events(frames)) for conn, frames in outgoing.items()]

    def failed(self, batch: list[Pending], reason: str) -> list[Action]:
        """A commit failed: offsets were handed out for events that are not on disk, so the
        sessions are forgotten in memory (they load again) and their members closed; their
        pairups resume and send again from their outboxes."""
        actions: list[Action] = []
        for _, room in batch:
            assert isinstance(room, Room)
            actions += self._let_go(room, reason)
        return actions

    def let_go(self, session: str, reason: str) -> list[Action]:
        """Forget ``session`` in memory and close whoever is in it or waits for it: what this
        relay holds of it can no longer be trusted (in a fleet, a commit read wrong). They
        come back to a session loaded again."""
        room = self.rooms.get(session)
        return [] if room is None else self._let_go(room, reason)

    def _let_go(self, room: Room, reason: str) -> list[Action]:
        if self.rooms.get(room.session) is not room:
            return []
        del self.rooms[room.session]
        actions: list[Action] = []
        # Those waiting for the host too: their knock was in the room let go.
        for conn in [*room.members, *room.waiting]:
            actions += self._close(self.peers[conn], wire.Close.STORAGE_FAILED, reason)
        room.waiting.clear()
        return actions

    # -- a fleet: the shared log, and the other relays ------------------------------------------

    def logged(self, session: str, events: list[StoredEvent]) -> list[Action]:
        """In a fleet: events the shared log holds for ``session``, in its order and numbered
        by it (:func:`pairup.relay.core.events.fold`), from whichever relay committed them.
        Each goes to every member here, its sender included (its copy is its
        acknowledgement); those already applied are passed over."""
        room = self.rooms.get(session)
        if room is None:
            return []
        frames: list[bytes] = []
        for event in events:
            if event.seq <= room.stored_seq:
                continue
            room.stored_seq = room.last_seq = event.seq
            room.ids[event.id] = event.seq
            room.pending.discard(event.id)
            room.last_at = max(room.last_at, event.at)
            frames.append(event.frame)
        if not frames or not room.members:
            return []
        packed = wire.pack_events(frames)
        return [Send(conn, packed) for conn in room.members]

    def heard(self, session: str, relay: str, presence: wire.Presence, now: Moment) -> list[Action]:
        """In a fleet: ``relay`` says who is connected to ``session`` there. Members here
        hear the fleet's presence if that changed it; a relay heard for the first time hears
        back who is here."""
        room = self.rooms.get(session)
        if room is None:
            return []
        before = room.presence()
        known = relay in room.elsewhere
        if presence.connected or presence.watching or presence.waiting:
            room.elsewhere[relay] = Part(
                presence.connected, presence.watching, presence.waiting, now.mono
            )
        else:
            room.elsewhere.pop(relay, None)
        actions: list[Action] = []
        if not known and (room.members or room.waiting):
            actions.append(Announce(session, room.presence(local=True)))
        after = room.presence()
        if after != before:
            actions += [Send(conn, [after]) for conn in room.members]
        return actions

    def sweep(self, now: Moment) -> list[Action]:
        """In a fleet, every ``presence_interval``: say again who is connected here, forget
        what a relay not heard for three intervals said (it stopped, or was cut off), and let
        go the rooms nobody has been in for :data:`ROOM_KEPT` intervals, with nothing of
        theirs waiting for the log (the shell drops their lanes)."""
        if not self.shared:
            return []
        stale = now.mono - 3 * self.limits.presence_interval
        unused = now.mono - ROOM_KEPT * self.limits.presence_interval
        for room in list(self.rooms.values()):
            if (
                room.empty_since is not None
                and room.empty_since < unused
                and not room.waiting
                and not room.pending
                and room.session not in self._loading
            ):
                # Nobody here for a while: reading its log on would cost every commit.
                del self.rooms[room.session]
        actions: list[Action] = []
        for room in self.rooms.values():
            gone = [relay for relay, part in room.elsewhere.items() if part.heard < stale]
            if gone:
                for relay in gone:
                    del room.elsewhere[relay]
                actions += self._presence(room)
            elif room.members or room.waiting:
                actions.append(Announce(room.session, room.presence(local=True)))
        return actions

    def told(self, session: str, frame: wire.Deny, now: Moment) -> list[Action]:
        """In a fleet: the host turned away a newcomer, at another relay; if it waits here,
        it is told."""
        room = self.rooms.get(session)
        if room is None:
            return []
        for conn, knock in list(room.waiting.items()):
            if knock.participant == frame.participant and knock.identity == frame.identity:
                return self._let(room, conn, self.peers[conn], frame)
        return []

    def who(
        self,
        session: str,
        participant: str,
        now: Moment,
        *,
        key: bytes | None = None,
        watcher: bool = False,
        standing: str | None = None,
    ) -> list[Action]:
        """In a fleet: an entry of the session's log of who is who, written by any relay and
        read by every relay in the same order: ``participant`` bound to ``key`` (the first
        binding counts), let in with ``key``, or taken out."""
        room = self.rooms.get(session)
        if room is None:
            return []
        if standing is None:
            if key is not None and participant not in room.identities:
                room.identities[participant] = key
                if watcher:
                    room.watcher_ids.add(participant)
            return []
        if standing == REMOVED:
            return self._take_out(room, participant)
        if key is None or room.identities.get(participant) != key:
            return []  # Let in with a key the id is not bound to: it stays out.
        room.standings[participant] = LET_IN
        identity = wire.key_text(key)
        for conn, knock in list(room.waiting.items()):
            if knock.participant == participant and knock.identity == identity:
                del room.waiting[conn]
                newcomer = self.peers[conn]
                newcomer.timer = None
                return self._enter(newcomer, room, now)
        return []

    def in_use(self) -> list[str]:
        """Sessions someone is connected to: kept alive at each look for expired ones."""
        return [room.session for room in self.rooms.values() if room.members]

    def expired(self, sessions: list[str], now: Moment) -> None:
        """The store deleted ``sessions``: those nobody is in are forgotten."""
        for session in sessions:
            room = self.rooms.get(session)
            if room is not None and not room.members:
                del self.rooms[session]
        for recent in (self._refused, self._created, self._created_in_all):
            recent.forget_old(now.mono)

    # -- timers ----------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The ``mono`` time of the next timer, if any."""
        while self._timers:
            when, _, conn, timer = self._timers[0]
            peer = self.peers.get(conn)
            if peer is not None and peer.timer is timer:
                return when
            heapq.heappop(self._timers)
        return None

    def tick(self, now: Moment) -> list[Action]:
        """Carry out the timers that are due."""
        actions: list[Action] = []
        while self._timers and self._timers[0][0] <= now.mono:
            _, _, conn, timer = heapq.heappop(self._timers)
            peer = self.peers.get(conn)
            if peer is None or peer.timer is not timer:
                continue
            peer.timer = None
            actions += self._fire(peer, timer)
        return actions

    def _fire(self, peer: Peer, timer: Timer) -> list[Action]:
        if timer is Timer.GRACE:
            return [Abort(peer.conn)]
        if timer is Timer.HELLO:
            # Counted from the connection's first byte, its HTTP handshake included: one
            # still in its handshake is cut, an open one is told why.
            if peer.stage is Stage.HANDSHAKE:
                return [Abort(peer.conn)]
            return self._refuse(peer, wire.Close.HELLO_TIMEOUT, "say hello first")
        if timer is Timer.REJECT:
            return self._refuse(
                peer, wire.Close.NOT_ADMITTED, "not admitted: unknown session or wrong secret"
            )
        room = peer.room
        assert room is not None
        room.waiting.pop(peer.conn, None)
        minutes = self.limits.approval_wait / 60
        return [
            *self._refuse(
                peer,
                wire.Close.TURNED_AWAY,
                f"the host did not answer in {minutes:g} min; ask them, then join again",
            ),
            *self._presence(room),
        ]

    def _arm(self, peer: Peer, timer: Timer, when: float) -> None:
        peer.timer = timer
        self._timer_count += 1
        heapq.heappush(self._timers, (when, self._timer_count, peer.conn, timer))

    # -- saying so -------------------------------------------------------------------------------

    def _presence(self, room: Room) -> list[Action]:
        actions: list[Action] = []
        if self.shared:
            actions.append(Announce(room.session, room.presence(local=True)))
        if room.members:
            presence = room.presence()
            actions += [Send(conn, [presence]) for conn in room.members]
        return actions

    def _refuse(self, peer: Peer, code: int, reason: str) -> list[Action]:
        peer.stage = Stage.DONE
        peer.timer = None
        return [Refuse(peer.conn, code, reason)]

    def _close(self, peer: Peer, code: int, reason: str) -> list[Action]:
        peer.stage = Stage.DONE
        peer.timer = None
        return [Close(peer.conn, code, reason)]

    def _too_many(self, budget: TokenBucket, now: Moment) -> str:
        """Why a participant is cut for its frames, and how long until it may come back."""
        limits = self.limits
        return (
            f"too many messages: {wait_text(budget.wait(now.mono))} before reconnecting (at "
            f"most {limits.messages_per_second:g} a second, bursts of {limits.burst})"
        )


def _decode(data: str | bytes) -> wire.ClientFrame:
    if isinstance(data, bytes):
        raise wire.FrameError(wire.Close.MALFORMED, "frames are JSON text, not binary")
    return wire.decode_client_frame(data)


def _error(peer: Peer, reason: str) -> Send:
    """An error frame that refuses one frame and keeps the connection."""
    return Send(
        peer.conn, [wire.encode(wire.Error(code=wire.Close.INVALID, reason=reason)).encode()]
    )
