"""The client link: one participant's connection to a session, used by the TUI and headless mode.

Journal first, then send: an event is on this machine's disk before it leaves it, and stays
in the outbox until the relay's sequenced copy comes back. Relay events are applied strictly
in offset order; on a gap or a reconnect the link asks to resume after the last offset it has.
The connection comes back on its own, with exponential backoff and jitter, and reports its
state so a screen can show it. If the relay has lost its data (a new epoch), the link re-seeds
it from the journal, so no decision is lost.

A connection can also lose a frame without closing (a relay running a fault drill drops some on
purpose) or stop answering without a close (a half-open connection). So, while connected, the
link resends an event the relay has not confirmed after ``resend_after`` seconds (the relay
stores an id once and acks a repeat with its offset), asks to resume again when it knows the
relay's log reaches further than its own and nothing has arrived since, and drops a connection
that has said nothing for three ping intervals.
"""

import asyncio
import contextlib
import errno
import json
import logging
import math
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pairup import identity
from pairup import protocol as wire
from pairup.journal import (
    Journal,
    JournalBusy,
    JournalError,
    JournalFailure,
    journal_path,
    load,
    set_aside,
    writing,
)
from pairup.link.clock import ClockOffset
from pairup.printable import printable
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

log = logging.getLogger("pairup.link")

Clock = Callable[[], float]
FATAL = {wire.Close.NOT_ADMITTED, wire.Close.SESSION_FULL, wire.Close.POLICY}
"""Close codes that another try will not change: a wrong link, a full session."""
OUTBOX_RATE = 40.0
"""Events a second at most that the link sends from its outbox, below the relay's rate limit
(50 a second), so a long outbox after a day offline does not get the connection closed."""
RESEND_LONGEST = 30.0
"""An event the relay keeps not confirming is resent less and less often, down to this."""
EARLY_LIMIT = 10_000
"""At most this many events held back waiting for a gap to fill; beyond, they are asked for
again once it is."""
OPEN_TIMEOUT = 5.0
"""Seconds a connection may take to open before the relay counts as not answering."""
ENDED = "session ended"
LEFT = "left the session"
CLOSED = "closed"
FINISHED = frozenset({ENDED, LEFT, CLOSED})
"""The reasons a link stops that are nobody's failure: the session ended, or this participant
left or closed it."""
SILENT = (errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)


@dataclass(frozen=True, slots=True)
class Status:
    """What a screen shows about the connection."""

    state: Literal["connecting", "connected", "reconnecting", "offline"]
    relay: str
    retry_at: float | None = None
    """Local clock time of the next attempt, while reconnecting."""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Applied:
    event: Event
    rejected: str | None
    forged: bool = False
    """The event is not its actor's (no signature by their key): never applied, and the
    screens say that something in the session's log was not made by whom it names."""


Listener = Callable[[], None]


class Link:
    """A participant's view of one session: the confirmed log, the outbox, the connection."""

    def __init__(
        self,
        join: wire.JoinLink,
        participant: str,
        data_dir: Path,
        *,
        create: bool = False,
        max_participants: int = 8,
        clock: Clock = time.time,
        rng: random.Random | None = None,
        ping_interval: float = 15.0,
        resend_after: float = 2.0,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        self.join = join
        self.meta = {"relay": join.relay, "participant": participant, **(meta or {})}
        """What the journal's header says about this participant's session (export and
        ``pairup sessions`` read it), e.g. the repository it was held in."""
        self.participant = participant
        self.data_dir = data_dir
        self.create = create
        self.max_participants = max_participants
        self.clock = clock
        self.rng = rng or random.Random()
        self.ping_interval = ping_interval
        self.resend_after = resend_after
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
        self.chaos = ""
        """The fault drill the relay says it runs (its spec), empty when none."""
        self.listeners: list[Listener] = []
        self.applied: asyncio.Queue[Applied] = asyncio.Queue()
        """Every sequenced event in offset order, with why it did not apply if it did not."""
        self._journal: Journal | None = None
        self._journal_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._closed = asyncio.Event()
        self._resuming = False
        self._relay_had = 0
        """How far the relay's log reached when this connection began."""
        self._relay_has = 0
        """How far the relay's log is known to reach: from the welcome, acks, pongs, events."""
        self._sent_at: dict[str, float] = {}
        """When each event of the outbox last left on this connection (monotonic clock)."""
        self._sends: dict[str, int] = {}
        """How many times each event of the outbox left on this connection."""
        self._heard_at = 0.0
        """When the relay last said anything on this connection (monotonic clock)."""
        self._arrivals = 0
        """Event frames received so far: a repair round that saw none may ask again."""
        self._early: dict[int, wire.Sequenced] = {}
        """Events that arrived before an offset they follow, held until the gap is filled;
        kept across reconnects, since an offset's event never changes while the relay keeps
        its log (a relay that lost it is re-seeded, and this is emptied)."""
        self._caught_up = asyncio.Event()
        self._pings: dict[float, float] = {}
        """The ping in flight: its wall-clock stamp and when it left, by the monotonic clock."""
        self._close_reason = CLOSED
        # Whether the relay's log of the session was re-seeded (its welcome says so): only
        # then may an event be published by someone other than its author.
        self.restored = False
        # This participant's key for the session (see pairup.identity), once read.
        self._identity: Ed25519PrivateKey | None = None

    # -- what the application uses ----------------------------------------------------------------

    @property
    def view(self) -> State:
        """The session as it will be once the outbox is through: confirmed, then pending."""
        return fold(self.pending.values(), self.confirmed) if self.pending else self.confirmed

    def now(self) -> float:
        """The session clock: this machine's clock corrected to the relay's."""
        return self.clock() + self.offset.seconds

    async def submit(self, event: Event) -> None:
        """Write ``event`` to the journal, then send it (now, or after the next reconnect).

        An event too large to publish is refused here, before it reaches the journal, so it
        can never wedge the outbox. One the journal cannot take (a full disk) is refused with
        :class:`~pairup.journal.JournalFailure`: never sent, since nothing sent may be lost,
        and the link stops, offline with the failure as its reason.
        """
        event = identity.signed(event, self.join.session, await self._key())
        if len(_body(event).encode()) > wire.MAX_BODY_BYTES:
            raise EventTooLarge(
                f"{event.kind} is over {wire.MAX_BODY_BYTES // 1024} KiB; shorten its text"
            )
        try:
            journal = await self._open_journal()
            async with self._journal_lock:
                journal = self._journal or journal
                await asyncio.to_thread(journal.append, event)
                self.pending[event.id] = event
        except JournalFailure as failure:
            await self.close(str(failure))
            raise
        self._changed()
        if self._ws is not None and event.id in self._sendable():
            with contextlib.suppress(ConnectionClosed):
                await self._publish(self._ws, event)

    async def caught_up(self) -> None:
        """Wait until this connection has everything the relay had when it began."""
        await self._caught_up.wait()

    @property
    def current(self) -> bool:
        """Whether this connection has caught up with what the relay had when it began."""
        return self._caught_up.is_set()

    async def close(self, reason: str = CLOSED) -> None:
        """Stop taking part; the final status says ``reason``."""
        self._close_reason = reason
        self._closed.set()
        if self._ws is not None:
            await self._ws.close()

    async def run(self) -> None:
        """Stay connected until the session ends, :meth:`close` is called, or entry is refused.

        The journal is this link's while it runs, and closed (and unlocked) when it stops. A
        journal that can be kept no longer (a full disk; a damaged file, moved aside) stops the
        link, offline with the reason, and raises :class:`~pairup.journal.JournalFailure` for
        the caller to say it: going on would confirm events this machine cannot keep.
        """
        try:
            await self._stay_connected()
        except JournalFailure as failure:
            self._set_status(Status("offline", self.join.relay, reason=str(failure)))
            raise
        finally:
            async with self._journal_lock:
                if self._journal is not None:
                    await asyncio.to_thread(self._journal.close)
                    self._journal = None

    async def _stay_connected(self) -> None:
        def said(text: str) -> str:
            """What a relay says of a refusal, as one line of text for the screen."""
            return printable(" ".join(text.split()))[:200]

        await self._open_existing_journal()
        attempt = 0
        problem = ""
        while not self._closed.is_set() and self.confirmed.phase != "ended":
            self._set_status(Status("connecting", self.join.relay, reason=problem))
            try:
                async with connect(
                    self.join.url,
                    compression=None,
                    max_size=wire.CLIENT_MAX_FRAME_BYTES,
                    open_timeout=OPEN_TIMEOUT,
                ) as ws:
                    await self._converse(ws)
                problem = ""
            except InvalidStatus as refused:
                status = refused.response.status_code
                if 400 <= status < 500 and status != HTTPStatus.TOO_MANY_REQUESTS:
                    reason = f"the relay refused the connection (HTTP {status})"
                    self._set_status(Status("offline", self.join.relay, reason=reason))
                    return
                log.info("relay %s answered HTTP %d", self.join.relay, status)
                # A busy relay (429, 503) says why and for how long in the answer's body.
                why = said(refused.response.body.decode(errors="replace"))
                problem = f"the relay at {self._address} answered HTTP {status}" + (
                    f": {why}" if why else ""
                )
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                if code in FATAL:
                    reason = closed.rcvd.reason if closed.rcvd else ""
                    self._set_status(Status("offline", self.join.relay, reason=reason))
                    return
                # Over a limit (how long to wait), the relay full, its disk full: worth
                # showing while the link waits and tries again with its outbox kept.
                passing = (
                    wire.Close.RATE_LIMITED,
                    wire.Close.TOO_MANY_CONNECTIONS,
                    wire.Close.STORAGE_FAILED,
                )
                problem = said(closed.rcvd.reason) if closed.rcvd and code in passing else ""
            except OlderRelay as older:
                self._set_status(Status("offline", self.join.relay, reason=str(older)))
                return
            except (OSError, InvalidHandshake, TimeoutError, ValidationError) as error:
                log.info("cannot reach %s: %s", self.join.relay, error)
                # Closed before any answer: a relay past every cap on connections opening
                # cuts them unanswered (ADR 25); anything else is a relay that is not one.
                problem = (
                    f"the relay at {self._address} closed the connection without answering "
                    "(it may be too busy); trying again"
                    if isinstance(error.__cause__, EOFError)
                    else self._unreachable(error)
                )
            finally:
                # A relay that welcomed us is up: the next try comes after the shortest
                # delay. One that cannot be reached, or refuses, is tried less and less often.
                if self._ws is not None:
                    attempt = 0
                self._ws = None
                self._caught_up.clear()
                self.online = frozenset()
            if self._closed.is_set() or self.confirmed.phase == "ended":
                break
            delay = min(30.0, 0.5 * 2**attempt) * self.rng.uniform(0.5, 1.0)
            attempt += 1
            retry_at = self.clock() + delay
            self._set_status(Status("reconnecting", self.join.relay, retry_at, reason=problem))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
        ended = self.confirmed.phase == "ended"
        self._set_status(
            Status("offline", self.join.relay, reason=ENDED if ended else self._close_reason)
        )

    @property
    def _address(self) -> str:
        return urlsplit(self.join.relay).netloc

    def _unreachable(self, error: Exception) -> str:
        """Why the relay cannot be reached, in words its user can act on."""
        where = self._address
        if isinstance(error, ConnectionRefusedError):
            return f"the host at {where} refuses connections (is its pairup running?)"
        if isinstance(error, socket.gaierror):
            return f"cannot find the host {urlsplit(self.join.relay).hostname}"
        if isinstance(error, TimeoutError) or (
            isinstance(error, OSError) and error.errno in SILENT
        ):
            return f"the host at {where} does not answer"
        if isinstance(error, OSError):
            return f"cannot reach the host at {where}: {error.strerror or error}"
        return f"the relay at {where} does not speak pairup's protocol"

    # -- the conversation ------------------------------------------------------------------------

    async def _key(self) -> Ed25519PrivateKey:
        """This participant's key for the session: the one it entered with, or a new one."""
        if self._identity is None:
            self._identity = await asyncio.to_thread(
                identity.load_or_make, self.data_dir, self.join.session, self.participant
            )
        return self._identity

    async def _converse(self, ws: ClientConnection) -> None:
        challenge = wire.challenge_bytes(
            ws.response.headers.get(wire.CHALLENGE_HEADER) if ws.response else None
        )
        if challenge is None:
            raise OlderRelay(
                f"the relay at {self._address} runs an older pairup: upgrade it "
                "(pip install -U pairup) to the version every participant runs"
            )
        hello = wire.hello(
            self.join,
            self.participant,
            await self._key(),
            challenge,
            # Someone who has been in the session may re-create it on a relay that lost it.
            create=self.create or self.epoch is not None,
            restore=self.epoch is not None,
            max_participants=self.max_participants,
        )
        try:
            # A relay silent before its welcome is dropped like any silent connection, and cut
            # rather than closed: a close would wait for an answer that is not coming.
            async with asyncio.timeout(3 * self.ping_interval):
                await ws.send(wire.encode(hello))
                welcome = wire.RELAY_FRAME.validate_json(await ws.recv())
                while not isinstance(welcome, wire.Welcome):
                    # An error frame: the close that follows says why, and ends this attempt.
                    welcome = wire.RELAY_FRAME.validate_json(await ws.recv())
        except TimeoutError:
            log.info("relay %s said nothing after the handshake; reconnecting", self.join.relay)
            ws.transport.abort()
            raise TimeoutError("the relay said nothing after the handshake") from None
        lost = welcome.epoch != self.epoch or welcome.last_seq < self.confirmed.last_seq
        if self.epoch is not None and lost:
            # A new epoch, or the same one with a shorter log (the session expired and was
            # created again): either way the relay lost what this journal holds.
            await self._reseed()
        await self._remember_epoch(welcome.epoch)
        self.chaos = welcome.chaos
        self.restored = welcome.restored
        if self._closed.is_set():
            return
        self._ws = ws
        self._relay_had = self._relay_has = welcome.last_seq
        self._heard_at = time.monotonic()
        self._sent_at.clear()
        self._sends.clear()
        self._note_progress()
        self._set_status(Status("connected", self.join.relay))
        keepers = [
            asyncio.create_task(self._watch(ws)),
            asyncio.create_task(self._ping(ws)),
            asyncio.create_task(self._repair(ws)),
        ]
        try:
            await self._resume(ws)
            await self._send_outbox(ws)
            async for raw in ws:
                self._heard_at = time.monotonic()
                await self._receive(ws, raw)
                if self.confirmed.phase == "ended":
                    return
        finally:
            for keeper in keepers:
                keeper.cancel()

    async def _publish(self, ws: ClientConnection, event: Event) -> None:
        body = _body(event)
        # The envelope's sender is whoever publishes (the relay insists on it); the body's
        # actor is whoever made the event, which differs only for events re-seeded for others.
        frame = wire.Publish(id=event.id, sender=self.participant, kind=event.kind, body=body)
        self._sent_at[event.id] = time.monotonic()
        self._sends[event.id] = self._sends.get(event.id, 0) + 1
        await ws.send(wire.encode(frame))

    async def _send_outbox(self, ws: ClientConnection, budget: int | None = None) -> None:
        """Send, oldest first, the events of the outbox that are due: never sent on this
        connection, or sent and not confirmed for ``resend_after`` seconds, doubling with each
        try. At most ``budget`` of them (one round's worth at :data:`OUTBOX_RATE` unless
        given); the next round sends on. Nothing after a join goes out before the join is
        confirmed (see :meth:`_sendable`)."""
        now = time.monotonic()
        if budget is None:
            budget = max(1, math.ceil(OUTBOX_RATE * self.resend_after))
        if budget <= 0:
            return
        sendable = self._sendable()
        for event in [self.pending[event_id] for event_id in sendable]:
            sends = self._sends.get(event.id, 0)
            wait = min(RESEND_LONGEST, self.resend_after * 2 ** max(0, sends - 1))
            if sends == 0 or self._sent_at[event.id] + wait <= now:
                await self._publish(ws, event)
                budget -= 1
                if budget == 0:
                    return

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

    async def _watch(self, ws: ClientConnection) -> None:
        """Drop the connection once the relay has said nothing for three ping intervals, even
        while a send waits on it (a half-open connection that nobody reads)."""
        while True:
            await asyncio.sleep(self.ping_interval)
            if time.monotonic() - self._heard_at > 3 * self.ping_interval:
                log.info("relay %s has been silent; reconnecting", self.join.relay)
                ws.transport.abort()
                return

    async def _ping(self, ws: ClientConnection) -> None:
        """Ping for the clock offset and the relay's log length."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                sent = self.clock()
                self._pings = {sent: time.monotonic()}
                await ws.send(wire.encode(wire.Ping(sent=sent)))
                await asyncio.sleep(self.ping_interval)

    async def _repair(self, ws: ClientConnection) -> None:
        """Recover what a connection lost without closing: resend the events the relay has
        not confirmed in time, and, when the relay has more than this link and no event
        arrived for a whole round (so no replay is still on its way), ask for every gap."""
        with contextlib.suppress(ConnectionClosed):
            budget = max(1, math.ceil(OUTBOX_RATE * self.resend_after))
            arrived = self._arrivals
            while True:
                await asyncio.sleep(self.resend_after)
                gaps = self._gaps()[:budget] if self._arrivals == arrived else []
                arrived = self._arrivals
                for after, until in gaps:
                    await ws.send(wire.encode(wire.Resume(after=after, until=until)))
                await self._send_outbox(ws, budget - len(gaps))

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

    async def _resume(self, ws: ClientConnection) -> None:
        """Ask for what this link lacks before the events it holds back, or for everything
        after its log when it holds none back."""
        self._resuming = True
        after = self.confirmed.last_seq
        until = min(self._early) - 1 if self._early else None
        await ws.send(wire.encode(wire.Resume(after=after, until=until)))

    async def _receive(self, ws: ClientConnection, raw: str | bytes) -> None:
        try:
            frame = wire.RELAY_FRAME.validate_json(raw)
        except ValidationError:
            log.warning("ignoring a frame the relay should not have sent")
            return
        if isinstance(frame, wire.Pong):
            started = self._pings.pop(frame.sent, None)
            if started is not None:
                self.offset.add(frame.sent, frame.now, time.monotonic() - started)
            await self._relay_reaches(ws, frame.last_seq)
        elif isinstance(frame, wire.Ack):
            await self._relay_reaches(ws, frame.seq)
        elif isinstance(frame, wire.Sequenced):
            await self._arrived(ws, frame)
        elif isinstance(frame, wire.Events):
            for event in frame.events:
                await self._arrived(ws, event)
        elif isinstance(frame, wire.Presence):
            self.online = frozenset(frame.connected)
            self.ever_online |= self.online
            self._changed()
        elif isinstance(frame, wire.Error):
            log.warning("relay says: %r (%d)", frame.reason, frame.code)

    async def _arrived(self, ws: ClientConnection, frame: wire.Sequenced) -> None:
        self._arrivals += 1
        self._relay_has = max(self._relay_has, frame.seq)
        await self._apply(ws, frame)

    async def _apply(self, ws: ClientConnection, frame: wire.Sequenced) -> None:
        """Apply the event if it is the next offset, and any held back that follow it; hold
        back one that arrived early, and ask for what is missing before it."""
        last = self.confirmed.last_seq
        if frame.seq <= last:
            return
        if frame.seq > last + 1:
            if len(self._early) < EARLY_LIMIT:
                self._early[frame.seq] = frame
            if not self._resuming:
                await self._resume(ws)
            return
        self._resuming = False
        joining = self._joining()
        await self._apply_next(frame)
        while (early := self._early.pop(self.confirmed.last_seq + 1, None)) is not None:
            await self._apply_next(early)
        for seq in [seq for seq in self._early if seq <= self.confirmed.last_seq]:
            del self._early[seq]
        if self._early:
            # Past this gap, another: ask for it at once.
            await self._resume(ws)
        if joining != self._joining():
            # A join of the outbox is in the log: what waited for it goes out now.
            await self._send_outbox(ws)
        self._note_progress()
        self._changed()

    async def _apply_next(self, frame: wire.Sequenced) -> None:
        """Apply the event at the next offset: journal it, then step the confirmed state."""
        event = _event_from(frame)
        journal = await self._open_journal()
        forged = None
        if event is not None and event.actor != frame.sender and not self.restored:
            # Only a log made again from journals holds events re-seeded by someone else.
            forged = f"{frame.sender} published {event.kind} in the name of {event.actor}"
        elif event is not None:
            forged = identity.forged(self.confirmed, self.join.session, event)
        if event is None:
            log.warning("offset %d carries an unreadable event; skipping it", frame.seq)
            self.confirmed = skip_offset(self.confirmed, frame.seq)
        elif forged is not None:
            # Nobody in the session made it, whoever sent it: it is never applied, and the
            # screens say so.
            log.warning("offset %d: %s; not applying it", frame.seq, forged)
            self.confirmed = skip_offset(self.confirmed, frame.seq)
            # One of this participant's own (its key was lost, say) is settled all the same:
            # sending it again would only be refused again.
            self._settled(event.id)
            self.applied.put_nowait(Applied(event, forged, forged=True))
        else:
            await asyncio.to_thread(journal.append, event)
            result = step(self.confirmed, event)
            self.confirmed = result.state
            self._settled(event.id)
            self.applied.put_nowait(Applied(event, result.rejected))

    def _settled(self, event_id: str) -> None:
        """The event has its place in the log: it leaves the outbox."""
        self.pending.pop(event_id, None)
        self._sent_at.pop(event_id, None)
        self._sends.pop(event_id, None)

    async def _relay_reaches(self, ws: ClientConnection, seq: int) -> None:
        """The relay's log reaches ``seq``: if this link has less and is not already
        resuming, ask for the rest (the event frames themselves may have been lost)."""
        self._relay_has = max(self._relay_has, seq)
        if seq > self.confirmed.last_seq and not self._resuming:
            await self._resume(ws)

    def _note_progress(self) -> None:
        if self._ws is not None and self.confirmed.last_seq >= self._relay_had:
            self._caught_up.set()

    # -- journal and epochs ------------------------------------------------------------------------

    async def _open_journal(self) -> Journal:
        async with self._journal_lock:
            if self._journal is None:
                self._journal = await asyncio.to_thread(self._load_or_create)
        return self._journal

    async def _open_existing_journal(self) -> None:
        """Take up where this participant's journal of the session left off, if it has one."""
        if await asyncio.to_thread(journal_path(self.data_dir, self.join.session).exists):
            await self._open_journal()

    def _load_or_create(self) -> Journal:
        """This participant's journal of the session, opened for appending: the one it has
        (with a torn last line cut off), or a new one. One damaged past its last line (or not
        a journal at all) is moved aside, never deleted, and raises
        :class:`~pairup.journal.JournalFailure` saying so."""
        path = journal_path(self.data_dir, self.join.session)
        if not path.exists():
            return Journal.create(
                self.data_dir, self.join.session, created_at=self.clock(), meta=self.meta
            )
        try:
            journal = Journal.open(path)
        except JournalBusy:
            raise
        except JournalError as damage:
            raise set_aside(path, damage) from None
        try:
            contents = load(path)
        except BaseException:
            journal.close()
            raise
        sequenced_log = [event for event in contents.events if event.seq is not None]
        self.confirmed = fold(sequenced_log)
        self.pending = {event.id: event for event in contents.pending}
        self.epoch = _read_epoch(path)
        return journal

    async def _remember_epoch(self, epoch: str) -> None:
        # Admitted: the session is this participant's from now on, and its journal exists
        # (a join that never got this far leaves nothing behind).
        await self._open_journal()
        if epoch != self.epoch:
            self.epoch = epoch
            path = journal_path(self.data_dir, self.join.session)
            with writing(path.parent):
                await asyncio.to_thread(_write_epoch, path, epoch)

    async def _reseed(self) -> None:
        """The relay lost this session: offer it everything this journal holds, in order.

        Events keep the relay time they were first stamped with, so rules that look at the
        clock judge them as they were judged before. Ids are kept, so events every participant
        re-seeds are stored once. The old journal is kept aside, and nothing is submitted
        while the new one is written.
        """
        log.warning("relay %s lost the session; re-seeding it from the journal", self.join.relay)
        await self._open_journal()
        async with self._journal_lock:
            journal = self._journal
            assert journal is not None
            contents = await asyncio.to_thread(load, journal.path)
            events = [event.model_copy(update={"seq": None}) for event in contents.events]
            await asyncio.to_thread(journal.close)
            path = journal.path
            aside = path.with_name(f"{path.stem}.reseeded-{int(self.clock())}.bak")
            with writing(path.parent):
                await asyncio.to_thread(path.rename, aside)
            self._journal = await asyncio.to_thread(
                Journal.create,
                self.data_dir,
                self.join.session,
                created_at=contents.created_at,
                meta=self.meta,
            )
            await asyncio.to_thread(self._journal.append_many, events)
            self.confirmed = State()
            self.pending = {event.id: event for event in events}
            self._early.clear()
        self._changed()

    # -- notifications ---------------------------------------------------------------------------

    def _set_status(self, status: Status) -> None:
        if status != self.status:
            self.status = status
            self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()


class OlderRelay(Exception):
    """The relay does not speak this pairup's protocol: another try will not change that."""


class EventTooLarge(ValueError):
    """An event whose text would not fit in one frame; the message says so in one line."""


def _body(event: Event) -> str:
    """The event as peers exchange it: JSON, without the offset (the relay assigns that)."""
    return encode_event(event.model_copy(update={"seq": None})).decode()


def _event_from(frame: wire.Sequenced) -> Event | None:
    """The event a sequenced frame carries, stamped with its offset, if it is what it claims."""
    try:
        event = decode_event(frame.body)
    except ValidationError:
        return None
    if (event.id, event.kind) != (frame.id, frame.kind):
        return None
    if event.actor != frame.sender and event.stamped_at is None:
        # Only a re-seeded event (already stamped once) may be published by someone else.
        return None
    # A re-seeded event keeps the time it was first stamped with, which can only be earlier
    # than the relay's time now: whatever a body claims, an event's time is never in the future.
    first_stamp = frame.at if event.stamped_at is None else min(event.stamped_at, frame.at)
    return sequenced(event, frame.seq, first_stamp)


def _epoch_file(path: Path) -> Path:
    return path.with_suffix(".epoch")


def _read_epoch(path: Path) -> str | None:
    try:
        return json.loads(_epoch_file(path).read_text())["epoch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_epoch(path: Path, epoch: str) -> None:
    """Atomically: write beside, fsync, rename over."""
    target = _epoch_file(path)
    temporary = target.with_suffix(".epoch.tmp")
    with temporary.open("w") as file:
        json.dump({"epoch": epoch}, file)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(target)
