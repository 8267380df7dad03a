"""The link's rules without I/O: frames and clock readings in, what to do out.

A :class:`LinkCore` is one participant's (or watcher's) side of a session as rules: which
events of the relay to apply and in what order (held back past a gap, asked for again, never
twice), what the outbox sends and when it sends again, when to ping, when a silent connection
is cut, how long to wait before the next connection, whether the relay lost the session (and
the journal must re-seed it), and the clock offset from pings. It opens every body (a body
that fails authentication is never applied) and seals every body it publishes.

It imports no asyncio, websockets, os, time, socket or random (an import-linter contract
keeps it so): every method takes the time it is (``now``, a monotonic reading in seconds;
``wall``, the wall clock, for what the relay compares with its own), the jitter of a backoff
is an argument, and what it decides comes back as actions for the runner
(:mod:`pairup.link.client`) to carry out in order: :class:`Send` a frame, :class:`Journal`
sequenced events (before anything learns of them), :class:`Deliver` what happened to an
event, :class:`Abort` the connection, :class:`Changed` (tell the listeners). See ADR 29.
"""

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from pydantic import ValidationError

from pairup import protocol as wire
from pairup import seal
from pairup.link.clock import ClockOffset
from pairup.session import (
    Event,
    State,
    decode_event,
    encode_event,
    fold,
    sequenced,
    skip_offset,
    step,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("pairup.link")

FATAL = frozenset(
    {
        wire.Close.NOT_ADMITTED,
        wire.Close.SESSION_FULL,
        wire.Close.POLICY,
        wire.Close.WATCH_ONLY,
        wire.Close.TURNED_AWAY,
        wire.Close.REMOVED,
    }
)
"""Close codes that another try will not change: a wrong link, a full session, a watcher that
tried to publish, a participant the host turned away or took out."""
PASSING = frozenset(
    {wire.Close.RATE_LIMITED, wire.Close.TOO_MANY_CONNECTIONS, wire.Close.STORAGE_FAILED}
)
"""Close codes worth showing while the link waits and tries again with its outbox kept: over
a limit (the reason says how long to wait), the relay full, its disk full."""
OUTBOX_RATE = 40.0
"""Events a second at most that the link sends from its outbox, below the relay's rate limit
(50 a second), so a long outbox after a day offline does not get the connection closed."""
RESEND_LONGEST = 30.0
"""An event the relay keeps not confirming is resent less and less often, down to this."""
EARLY_LIMIT = 10_000
"""At most this many events held back waiting for a gap to fill; beyond, they are asked for
again once it is."""
BACKOFF_FIRST = 0.5
BACKOFF_LONGEST = 30.0
"""A relay that cannot be reached is tried again after 0.5 s, doubling up to 30 s, each delay
scaled by a jitter in [0.5, 1] so participants cut off together do not come back together."""
SILENT_PINGS = 3
"""A connection on which the relay said nothing for this many ping intervals is cut."""
UNAUTHENTIC = "an event from the relay failed authentication"
UNREADABLE = "an event from the relay could not be read as the event its envelope names"
WAITING = "waiting for the host to let you in"
WATCH_ONLY = "you are watching this session: a watch link cannot change it"

Checker = Callable[[State, str, Event], str | None]
"""Why an event is not its actor's (see :func:`pairup.identity.forged`), or ``None``."""


@dataclass(frozen=True, slots=True)
class Status:
    """What a screen shows about the connection."""

    state: Literal["connecting", "waiting", "connected", "reconnecting", "offline"]
    relay: str
    retry_at: float | None = None
    """Local clock time of the next attempt, while reconnecting."""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    """What became of one sequenced event, in offset order."""

    event: Event | None
    """``None`` for a body that failed authentication or does not read as the event its
    envelope names (nothing of it can be believed), and for one of this participant's own
    events whose offset such a body took (``rejected`` says which and what to do)."""
    rejected: str | None
    forged: bool = False
    """The event is not its actor's (no signature by their key): never applied, and the
    screens say that something in the session's log was not made by whom it names."""
    unauthentic: bool = False
    """The body did not open as sealed for this session, sender and id: never applied, and
    the screens say that an event from the relay failed authentication."""
    seq: int = 0
    sender: str = ""


@dataclass(frozen=True, slots=True)
class Knock:
    """Someone waiting for the host to let them in."""

    participant: str
    name: str
    """The name they show, opened; empty when they show none or it does not open."""
    identity: bytes
    fingerprint: str
    """Their key as people compare it aloud (:func:`pairup.protocol.fingerprint`)."""
    returning: bool


class OlderRelay(Exception):
    """The relay does not speak this pairup's protocol: another try will not change that."""


class EventTooLarge(ValueError):
    """An event whose text would not fit in one frame; the message says so in one line."""


class WatchOnly(ValueError):
    """A watch link changes nothing in its session; the message says so in one line."""


@dataclass(frozen=True, slots=True)
class Send:
    frame: wire.Publish | wire.Resume | wire.Ping | wire.Approve | wire.Deny | wire.Remove


@dataclass(frozen=True, slots=True)
class Journal:
    """Append ``events`` (sequenced) to the journal; then the log is ``confirmed``."""

    events: tuple[Event, ...]
    confirmed: State


@dataclass(frozen=True, slots=True)
class Deliver:
    applied: Applied


@dataclass(frozen=True, slots=True)
class Abort:
    """Cut the connection (not close it: a close waits for an answer that is not coming)."""

    reason: str


@dataclass(frozen=True, slots=True)
class Changed:
    """Something a screen shows changed: tell the listeners."""


Action = Send | Journal | Deliver | Abort | Changed
CHANGED = Changed()


@dataclass(frozen=True, slots=True)
class Closing:
    """What a close of the relay means for the link."""

    fatal: bool
    reason: str


def closing(code: int | None, reason: str) -> Closing:
    """A close with ``code`` and the relay's ``reason`` (made printable by the caller): fatal
    (offline with the reason) or worth another try (with the reason shown while waiting, when
    it says something about when)."""
    if code in FATAL:
        return Closing(True, reason)
    return Closing(False, reason if code in PASSING else "")


def challenge_of(challenge: str | None, version: str | None, address: str) -> bytes:
    """The challenge of a relay's handshake answer, if the relay speaks this protocol;
    :class:`OlderRelay` if it does not (no challenge, no version or an older one)."""
    answered = wire.challenge_bytes(challenge)
    speaks = version is not None and version.isdigit() and int(version) >= wire.PROTOCOL_VERSION
    if answered is None or not speaks:
        raise OlderRelay(
            f"the relay at {address} runs an older pairup: upgrade it "
            "(pip install -U pairup) to the version every participant runs"
        )
    return answered


def body_of(event: Event) -> bytes:
    """The event as peers exchange it before sealing: JSON, without the offset (the relay
    assigns that)."""
    return encode_event(event.model_copy(update={"seq": None}))


def check_size(event: Event) -> None:
    """Refuse an event too large to publish, before it reaches the journal."""
    if len(body_of(event)) > wire.MAX_BODY_BYTES:
        raise EventTooLarge(
            f"{event.kind} is over {wire.MAX_BODY_BYTES // 1024} KiB; shorten its text"
        )


def event_from(frame: wire.Sequenced, body: bytes) -> Event | None:
    """The event an opened body carries, stamped with its offset, if it is what it claims."""
    try:
        event = decode_event(body)
    except ValidationError:
        return None
    if event.id != frame.id:
        return None
    if event.actor != frame.sender and event.stamped_at is None:
        # Only a re-seeded event (already stamped once) may be published by someone else.
        return None
    # A re-seeded event keeps the time it was first stamped with, which can only be earlier
    # than the relay's time now: whatever a body claims, an event's time is never in the future.
    first_stamp = frame.at if event.stamped_at is None else min(event.stamped_at, frame.at)
    return sequenced(event, frame.seq, first_stamp)


@dataclass
class _Batch:
    """What one frame from the relay applied: journaled first, then delivered, then sent."""

    events: list[Event] = field(default_factory=list)
    delivered: list[Deliver] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)
    changed: bool = False

    def actions(self, confirmed: State, applied: bool) -> list[Action]:
        actions: list[Action] = []
        if applied:
            actions.append(Journal(tuple(self.events), confirmed))
        actions += self.delivered
        actions += self.sends
        if self.changed or applied:
            actions.append(CHANGED)
        return actions


class LinkCore:
    """One participant's rules for one session: the confirmed log, the outbox, the connection."""

    def __init__(
        self,
        join: wire.JoinLink,
        participant: str,
        *,
        check: Checker,
        create: bool = False,
        ping_interval: float = 15.0,
        resend_after: float = 2.0,
    ) -> None:
        self.join = join
        self.participant = participant
        self.check = check
        self.create = create and not join.watch
        self.ping_interval = ping_interval
        self.resend_after = resend_after
        self.key = join.body_key
        self.offset = ClockOffset()
        self.confirmed = State()
        self.pending: dict[str, Event] = {}
        self.epoch: str | None = None
        self.status = Status("connecting", join.relay)
        self.online: frozenset[str] = frozenset()
        """Who the relay says is connected to the session now; empty while this link is not."""
        self.ever_online: frozenset[str] = frozenset()
        """Everyone the relay has said was connected to the session while this link ran:
        only they can have paired with this participant (credit goes to no one else)."""
        self.watchers: dict[str, str] = {}
        """Connected watchers: id, and the name they show (empty when none opens)."""
        self.knocking: tuple[Knock, ...] = ()
        self.host: str | None = None
        self.approve = False
        self.chaos = ""
        """The fault drill the relay says it runs (its spec), empty when none."""
        self.restored = False
        """Whether the relay's log of the session was re-seeded (its welcome says so): only
        then may an event be published by someone other than its author."""
        self.live = False
        """Welcomed on the connection now open."""
        self.caught_up = False
        """This connection has everything the relay had when it began."""
        self._attempt = 0
        self._resuming = False
        self._relay_had = 0
        """How far the relay's log reached when this connection began."""
        self._relay_has = 0
        """How far the relay's log is known to reach: from the welcome, acks, pongs, events."""
        self._sent_at: dict[str, float] = {}
        """When each event of the outbox last left on this connection."""
        self._sends: dict[str, int] = {}
        """How many times each event of the outbox left on this connection."""
        self._heard_at = 0.0
        """When the relay last said anything on this connection."""
        self._arrivals = 0
        """Event frames received so far: a repair round that saw none may ask again."""
        self._round_arrivals = 0
        self._next_ping = math.inf
        self._next_round = math.inf
        self._early: dict[int, wire.Sequenced] = {}
        """Events that arrived before an offset they follow, held until the gap is filled;
        kept across reconnects, since an offset's event never changes while the relay keeps
        its log (a relay that lost it is re-seeded, and this is emptied)."""
        self._pings: dict[float, float] = {}
        """The ping in flight: its wall-clock stamp and when it left."""

    # -- what the runner reads -------------------------------------------------------------------

    @property
    def watching(self) -> bool:
        return self.join.watch

    @property
    def view(self) -> State:
        """The session as it will be once the outbox is through: confirmed, then pending."""
        return fold(self.pending.values(), self.confirmed) if self.pending else self.confirmed

    @property
    def ended(self) -> bool:
        return self.confirmed.phase == "ended"

    @property
    def handshake_timeout(self) -> float:
        """Seconds the relay may take to answer a hello before the connection is cut."""
        return SILENT_PINGS * self.ping_interval

    def wake_at(self) -> float:
        """When :meth:`tick` next has something to do (``inf`` while not connected)."""
        if not self.live:
            return math.inf
        silent_at = self._heard_at + SILENT_PINGS * self.ping_interval
        return min(self._next_ping, self._next_round, silent_at)

    # -- the journal -----------------------------------------------------------------------------

    def load(self, log: list[Event], pending: list[Event], epoch: str | None) -> None:
        """Take up where the journal left off: its sequenced log, its outbox, its epoch."""
        self.confirmed = fold(log)
        self.pending = {event.id: event for event in pending}
        self.epoch = epoch

    def lost(self, welcome: wire.Welcome) -> bool:
        """Whether the relay lost what the journal holds: a new epoch, or the same one with a
        shorter log (the session expired and was created again). Then the journal re-seeds
        it (:meth:`reseeded`)."""
        lost = welcome.epoch != self.epoch or welcome.last_seq < self.confirmed.last_seq
        return self.epoch is not None and lost

    def reseeded(self, events: list[Event]) -> None:
        """The journal was started again with ``events`` (offsets dropped): they are the
        outbox now, in their old order. A watcher publishes nothing: it starts over."""
        self.confirmed = State()
        self.pending = {} if self.watching else {event.id: event for event in events}
        self._early.clear()

    # -- the outbox ------------------------------------------------------------------------------

    def submit(self, event: Event, now: float) -> list[Action]:
        """``event`` is journaled: it is in the outbox, and goes out now if it may."""
        if self.watching:
            raise WatchOnly(WATCH_ONLY)
        self.pending[event.id] = event
        actions: list[Action] = [CHANGED]
        if self.live and event.id in self._sendable():
            actions.append(self._publish(event, now))
        return actions

    def _publish(self, event: Event, now: float) -> Send:
        # The envelope's sender is whoever publishes (the relay insists on it); the body's
        # actor is whoever made the event, which differs only for events re-seeded for others.
        aad = seal.event_aad(self.join.session, self.participant, event.id)
        frame = wire.Publish(
            id=event.id, sender=self.participant, body=seal.seal(self.key, body_of(event), aad)
        )
        self._sent_at[event.id] = now
        self._sends[event.id] = self._sends.get(event.id, 0) + 1
        return Send(frame)

    def _send_outbox(self, now: float, budget: int | None = None) -> list[Send]:
        """Send, oldest first, the events of the outbox that are due: never sent on this
        connection, or sent and not confirmed for ``resend_after`` seconds, doubling with each
        try. At most ``budget`` of them (one round's worth at :data:`OUTBOX_RATE` unless
        given); the next round sends on. Nothing after a join goes out before the join is
        confirmed (see :meth:`_sendable`)."""
        if budget is None:
            budget = self._round_budget
        sends: list[Send] = []
        if budget <= 0:
            return sends
        for event in [self.pending[event_id] for event_id in self._sendable()]:
            count = self._sends.get(event.id, 0)
            wait = min(RESEND_LONGEST, self.resend_after * 2 ** max(0, count - 1))
            if count == 0 or self._sent_at[event.id] + wait <= now:
                sends.append(self._publish(event, now))
                if len(sends) == budget:
                    break
        return sends

    @property
    def _round_budget(self) -> int:
        return max(1, math.ceil(OUTBOX_RATE * self.resend_after))

    def _joining(self) -> frozenset[str]:
        """The ids of the joins in the outbox, not yet confirmed."""
        return frozenset(
            event.id for event in self.pending.values() if event.kind == "participant.joined"
        )

    def _sendable(self) -> list[str]:
        """The outbox, oldest first, up to and with its first join: what may go out now.

        Only members act, and peers check each event against the key its actor's join bound,
        so an event sequenced before that join would be refused everywhere and used up for
        good. A lost frame and its resend can reorder the outbox on the way to the relay, so
        what follows a join waits until the join is in the log; in order, so a re-seeded log
        keeps its order whoever re-seeds it."""
        sendable = []
        for event in self.pending.values():
            sendable.append(event.id)
            if event.kind == "participant.joined":
                break
        return sendable

    def _settled(self, event_id: str) -> None:
        """The event has its place in the log: it leaves the outbox."""
        self.pending.pop(event_id, None)
        self._sent_at.pop(event_id, None)
        self._sends.pop(event_id, None)

    # -- the connection --------------------------------------------------------------------------

    def connecting(self, problem: str = "") -> list[Action]:
        return self._set_status(Status("connecting", self.join.relay, reason=problem))

    def hello(
        self,
        identity: "Ed25519PrivateKey",
        challenge: bytes,
        *,
        name: str = "",
        approve: bool = False,
        max_participants: int = 8,
    ) -> wire.Hello:
        """The hello for this connection. Someone who has been in the session may create it
        again on a relay that lost it, and says so (``restore``)."""
        return wire.hello(
            self.join,
            self.participant,
            identity,
            challenge,
            name=name,
            create=self.create or self.epoch is not None,
            approve=approve,
            restore=self.epoch is not None,
            max_participants=max_participants,
        )

    def answer(self, raw: str | bytes) -> wire.RelayFrame:
        """A frame of the relay before its welcome (a welcome, a waiting, an error)."""
        return wire.RELAY_FRAME.validate_json(raw)

    def waiting(self, frame: wire.Waiting) -> list[Action]:
        """The session waits for its host to let this participant in: the link waits on the
        same connection, uncut however long it takes, until the welcome or the close."""
        reason = WAITING if frame.host_connected else f"{WAITING} (the host is not connected)"
        return self._set_status(Status("waiting", self.join.relay, reason=reason))

    def welcomed(self, welcome: wire.Welcome, now: float) -> list[Action]:
        """Welcomed (after any re-seed): ask for what this link lacks, send the outbox."""
        self.epoch = welcome.epoch
        self.chaos = welcome.chaos
        self.restored = welcome.restored
        self.host = welcome.host
        self.approve = welcome.approve
        self.live = True
        self._attempt = 0
        self._relay_had = self._relay_has = welcome.last_seq
        self._heard_at = now
        self._sent_at.clear()
        self._sends.clear()
        self._pings.clear()
        self._next_ping = now
        self._next_round = now + self.resend_after
        self._round_arrivals = self._arrivals
        self._note_progress()
        actions = self._set_status(Status("connected", self.join.relay))
        actions.append(self._resume())
        actions += self._send_outbox(now)
        return actions

    def disconnected(
        self, wall: float, jitter: float, problem: str = ""
    ) -> tuple[float, list[Action]]:
        """The connection is gone: seconds to wait before the next, which comes sooner after
        a connection that was welcomed (``jitter`` in [0.5, 1] scales it)."""
        self._gone()
        delay = min(BACKOFF_LONGEST, BACKOFF_FIRST * 2**self._attempt) * jitter
        self._attempt += 1
        status = Status("reconnecting", self.join.relay, wall + delay, reason=problem)
        return delay, self._set_status(status)

    def stopped(self, reason: str) -> list[Action]:
        """The link stops for good: offline with ``reason``."""
        self._gone()
        return self._set_status(Status("offline", self.join.relay, reason=reason))

    def _gone(self) -> None:
        """No connection: nobody is seen connected, watching or knocking through it."""
        self.live = False
        self.caught_up = False
        self.online = frozenset()
        self.watchers = {}
        self.knocking = ()
        self._next_ping = self._next_round = math.inf

    def tick(self, now: float, wall: float) -> list[Action]:
        """What is due at ``now``: cut a silent connection, ping, a round of repair."""
        if not self.live:
            return []
        if now - self._heard_at >= SILENT_PINGS * self.ping_interval:
            log.info("relay %s has been silent; reconnecting", self.join.relay)
            self.live = False
            return [Abort("the relay has been silent")]
        actions: list[Action] = []
        if now >= self._next_ping:
            # Ping for the clock offset and the relay's log length.
            self._pings = {wall: now}
            self._next_ping = now + self.ping_interval
            actions.append(Send(wire.Ping(sent=wall)))
        if now >= self._next_round:
            self._next_round = now + self.resend_after
            actions += self._repair(now)
        return actions

    def _repair(self, now: float) -> list[Action]:
        """Recover what a connection lost without closing: resend the events the relay has
        not confirmed in time, and, when the relay has more than this link and no event
        arrived for a whole round (so no replay is still on its way), ask for every gap."""
        budget = self._round_budget
        quiet = self._arrivals == self._round_arrivals
        self._round_arrivals = self._arrivals
        gaps = self._gaps()[:budget] if quiet else []
        actions: list[Action] = [Send(wire.Resume(after=a, until=u)) for a, u in gaps]
        actions += self._send_outbox(now, budget - len(gaps))
        return actions

    def _gaps(self) -> list[tuple[int, int | None]]:
        """The offsets this link lacks, as resume ranges ``(after, until)``: each gap before
        an event held back, then whatever the relay has past them all."""
        gaps: list[tuple[int, int | None]] = []
        last = self.confirmed.last_seq
        for seq in sorted(self._early):
            if seq > last + 1:
                gaps.append((last, seq - 1))
            last = seq
        if self._relay_has > last:
            gaps.append((last, None))
        return gaps

    def _resume(self) -> Send:
        """Ask for what this link lacks before the events it holds back, or for everything
        after its log when it holds none back."""
        self._resuming = True
        until = min(self._early) - 1 if self._early else None
        return Send(wire.Resume(after=self.confirmed.last_seq, until=until))

    # -- frames from the relay -------------------------------------------------------------------

    def received(self, raw: str | bytes, now: float) -> list[Action]:
        """A frame from the relay on the welcomed connection."""
        self._heard_at = now
        try:
            frame = wire.RELAY_FRAME.validate_json(raw)
        except ValidationError:
            log.warning("ignoring a frame the relay should not have sent")
            return []
        batch = _Batch()
        applied = False
        if isinstance(frame, wire.Pong):
            started = self._pings.pop(frame.sent, None)
            if started is not None:
                self.offset.add(frame.sent, frame.now, now - started)
            self._relay_reaches(frame.last_seq, batch)
        elif isinstance(frame, wire.Ack):
            lost = self.pending.get(frame.id)
            if lost is not None and frame.seq <= self.confirmed.last_seq:
                # Its offset held a body that did not open, or did not read, as this event:
                # a resend is only acked again, and what follows a join would wait forever.
                self._settled(frame.id)
                reason = f"your {lost.kind} did not reach the session intact; do it again"
                batch.delivered.append(
                    Deliver(Applied(None, reason, seq=frame.seq, sender=self.participant))
                )
                batch.changed = True
            self._relay_reaches(frame.seq, batch)
        elif isinstance(frame, wire.Sequenced | wire.Events):
            joining = self._joining()
            for event in frame.events if isinstance(frame, wire.Events) else (frame,):
                applied = self._arrived(event, batch) or applied
            if applied and joining != self._joining():
                # A join of the outbox is in the log: what waited for it goes out now.
                batch.sends += self._send_outbox(now)
            self._note_progress()
        elif isinstance(frame, wire.Presence):
            self._presence(frame)
            batch.changed = True
        elif isinstance(frame, wire.Error):
            log.warning("relay says: %r (%d)", frame.reason, frame.code)
        return batch.actions(self.confirmed, applied)

    def _presence(self, frame: wire.Presence) -> None:
        self.online = frozenset(frame.connected)
        self.ever_online |= self.online
        self.watchers = {
            shown.participant: wire.open_name(self.join, shown.participant, shown.name) or ""
            for shown in frame.watching
        }
        knocks = []
        for knock in frame.waiting:
            key = wire.key_bytes(knock.identity)
            name = wire.open_name(self.join, knock.participant, knock.name) or ""
            knocks.append(
                Knock(knock.participant, name, key, wire.fingerprint(key), knock.returning)
            )
        self.knocking = tuple(knocks)

    def _relay_reaches(self, seq: int, batch: _Batch) -> None:
        """The relay's log reaches ``seq``: if this link has less and is not already
        resuming, ask for the rest (the event frames themselves may have been lost)."""
        self._relay_has = max(self._relay_has, seq)
        if seq > self.confirmed.last_seq and not self._resuming:
            batch.sends.append(self._resume())

    def _arrived(self, frame: wire.Sequenced, batch: _Batch) -> bool:
        """Apply the event if it is the next offset, and any held back that follow it; hold
        back one that arrived early, and ask for what is missing before it. Whether any
        offset was used."""
        self._arrivals += 1
        self._relay_has = max(self._relay_has, frame.seq)
        last = self.confirmed.last_seq
        if frame.seq <= last:
            return False
        if frame.seq > last + 1:
            if len(self._early) < EARLY_LIMIT:
                self._early[frame.seq] = frame
            if not self._resuming:
                batch.sends.append(self._resume())
            return False
        self._resuming = False
        self._apply_next(frame, batch)
        while (early := self._early.pop(self.confirmed.last_seq + 1, None)) is not None:
            self._apply_next(early, batch)
        for seq in [seq for seq in self._early if seq <= self.confirmed.last_seq]:
            del self._early[seq]
        if self._early:
            # Past this gap, another: ask for it at once.
            batch.sends.append(self._resume())
        return True

    def _apply_next(self, frame: wire.Sequenced, batch: _Batch) -> None:
        """Apply the event at the next offset: to be journaled, then delivered."""
        aad = seal.event_aad(self.join.session, frame.sender, frame.id)
        body = seal.open_sealed(self.key, frame.body, aad)
        if body is None:
            # Altered, cut short, or sealed for another session, sender or event: nothing of it
            # can be believed, and nobody in the session may have made it.
            log.warning("offset %d failed authentication; not applying it", frame.seq)
            self.confirmed = skip_offset(self.confirmed, frame.seq)
            applied = Applied(
                None, UNAUTHENTIC, unauthentic=True, seq=frame.seq, sender=frame.sender
            )
            batch.delivered.append(Deliver(applied))
            return
        event = event_from(frame, body)
        if event is None:
            log.warning("offset %d carries an unreadable event; skipping it", frame.seq)
            self.confirmed = skip_offset(self.confirmed, frame.seq)
            unreadable = Applied(None, UNREADABLE, seq=frame.seq, sender=frame.sender)
            batch.delivered.append(Deliver(unreadable))
            return
        forged = None
        if event.actor != frame.sender and not self.restored:
            # Only a log made again from journals holds events re-seeded by someone else.
            forged = f"{frame.sender} published {event.kind} in the name of {event.actor}"
        else:
            forged = self.check(self.confirmed, self.join.session, event)
        if forged is not None:
            # Nobody in the session made it, whoever sent it: it is never applied, and the
            # screens say so.
            log.warning("offset %d: %s; not applying it", frame.seq, forged)
            self.confirmed = skip_offset(self.confirmed, frame.seq)
            # One of this participant's own (its key was lost, say) is settled all the same:
            # sending it again would only be refused again.
            self._settled(event.id)
            applied = Applied(event, forged, forged=True, seq=frame.seq, sender=frame.sender)
        else:
            batch.events.append(event)
            result = step(self.confirmed, event)
            self.confirmed = result.state
            self._settled(event.id)
            applied = Applied(event, result.rejected, seq=frame.seq, sender=frame.sender)
        batch.delivered.append(Deliver(applied))

    def _note_progress(self) -> None:
        if self.live and self.confirmed.last_seq >= self._relay_had:
            self.caught_up = True

    # -- the host's and everyone's say over who takes part -----------------------------------------

    def let_in(self, participant: str) -> Send | None:
        """Let in someone who knocks; ``None`` when not connected or nobody by that id waits."""
        knock = self._knock(participant)
        if knock is None:
            return None
        return Send(wire.Approve(participant=participant, identity=wire.key_text(knock.identity)))

    def turn_away(self, participant: str) -> Send | None:
        knock = self._knock(participant)
        if knock is None:
            return None
        return Send(wire.Deny(participant=participant, identity=wire.key_text(knock.identity)))

    def remove(self, participant: str) -> Send | None:
        """Take someone out of the session (the relay judges who may); ``None`` when not
        connected."""
        return Send(wire.Remove(participant=participant)) if self.live else None

    def _knock(self, participant: str) -> Knock | None:
        if not self.live:
            return None
        return next((k for k in self.knocking if k.participant == participant), None)

    # -- status ----------------------------------------------------------------------------------

    def _set_status(self, status: Status) -> list[Action]:
        if status == self.status:
            return []
        self.status = status
        return [CHANGED]
