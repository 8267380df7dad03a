"""The client link: one participant's connection to a session, used by the TUI and headless mode.

Journal first, then send: an event is on this machine's disk before it leaves it, and stays
in the outbox until the relay's sequenced copy comes back. Relay events are applied strictly
in offset order, each journaled before anyone hears of it; on a gap or a reconnect the link
asks to resume after the last offset it has. The connection comes back on its own, with
exponential backoff and jitter, and reports its state so a screen can show it. If the relay
has lost its data (a new epoch), the link re-seeds it from the journal, so no decision is lost.

A connection can also lose a frame without closing (a relay running a fault drill drops some on
purpose) or stop answering without a close (a half-open connection). So, while connected, the
link resends an event the relay has not confirmed after ``resend_after`` seconds (the relay
stores an id once and acks a repeat with its offset), asks to resume again when it knows the
relay's log reaches further than its own and nothing has arrived since, and drops a connection
that has said nothing for three ping intervals.

Those rules are :class:`pairup.link.core.LinkCore`'s, which does no I/O (ADR 29). This module
is its runner: the websocket, the journal (in threads), the timers, the key, and the
listeners; it hands the core every frame and clock reading and carries out what it says.
"""

import asyncio
import contextlib
import errno
import json
import logging
import os
import random
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pairup import identity, tls
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
from pairup.link.core import (
    WATCH_ONLY,
    Abort,
    Action,
    Applied,
    Changed,
    Deliver,
    EventTooLarge,
    Knock,
    LinkCore,
    OlderRelay,
    Send,
    Status,
    WatchOnly,
    challenge_of,
    check_size,
    closing,
)
from pairup.link.core import Journal as JournalEvents
from pairup.printable import printable
from pairup.session import Event, State

__all__ = [
    "CLOSED",
    "ENDED",
    "FINISHED",
    "LEFT",
    "Applied",
    "EventTooLarge",
    "Knock",
    "Link",
    "OlderRelay",
    "Status",
    "WatchOnly",
]

log = logging.getLogger("pairup.link")

Clock = Callable[[], float]
OPEN_TIMEOUT = 5.0
"""Seconds a connection may take to open before the relay counts as not answering."""
ENDED = "session ended"
LEFT = "left the session"
CLOSED = "closed"
FINISHED = frozenset({ENDED, LEFT, CLOSED})
"""The reasons a link stops that are nobody's failure: the session ended, or this participant
left or closed it."""
SILENT = (errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN)


class WrongCertificate(Exception):
    """The relay shows another certificate than the one the link pins: fatal."""


Listener = Callable[[], None]


class Link:
    """A participant's view of one session: the confirmed log, the outbox, the connection."""

    Core: type[LinkCore] = LinkCore
    """The rules this link runs (the chaos suite's broken variants run others)."""

    def __init__(
        self,
        join: wire.JoinLink,
        participant: str,
        data_dir: Path,
        *,
        name: str = "",
        create: bool = False,
        approve: bool = False,
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
        self.name = name
        self.create = create and not join.watch
        self.asks_approval = approve
        self.max_participants = max_participants
        self.clock = clock
        self.rng = rng or random.Random()
        self.core = self.Core(
            join,
            participant,
            check=identity.forged,
            create=create,
            ping_interval=ping_interval,
            resend_after=resend_after,
        )
        self.confirmed = State()
        """The log as the journal holds it: the core's, once journaled."""
        self.listeners: list[Listener] = []
        self.applied: asyncio.Queue[Applied] = asyncio.Queue()
        """Every sequenced event in offset order, with why it did not apply if it did not."""
        self._journal: Journal | None = None
        self._journal_lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        """What the core says to send on the connection now open, in its order: one task
        sends it, so nothing that decides (above all the silence watchdog) ever waits on a
        send that a full socket holds up."""
        """The connection, once welcomed."""
        self._opening: ClientConnection | None = None
        """The connection before its welcome (one waiting for the host, say)."""
        self._closed = asyncio.Event()
        self._caught_up = asyncio.Event()
        self._close_reason = CLOSED
        # This participant's key for the session (see pairup.identity), once read.
        self._identity: Ed25519PrivateKey | None = None

    # -- what the application uses ----------------------------------------------------------------

    @property
    def watching_only(self) -> bool:
        """The link is a watch link: it sees the session and changes nothing."""
        return self.join.watch

    @property
    def status(self) -> Status:
        return self.core.status

    @property
    def pending(self) -> dict[str, Event]:
        return self.core.pending

    @property
    def epoch(self) -> str | None:
        return self.core.epoch

    @property
    def offset(self) -> ClockOffset:
        return self.core.offset

    @property
    def online(self) -> frozenset[str]:
        """Who the relay says is connected to the session now; empty while this link is not."""
        return self.core.online

    @property
    def ever_online(self) -> frozenset[str]:
        """Everyone the relay has said was connected to the session while this link ran:
        only they can have paired with this participant (credit goes to no one else)."""
        return self.core.ever_online

    @property
    def watchers(self) -> dict[str, str]:
        """Connected watchers: id, and the name they show ("" when none opens)."""
        return self.core.watchers

    @property
    def knocking(self) -> tuple[Knock, ...]:
        """Who waits for the host to let them in."""
        return self.core.knocking

    @property
    def host(self) -> str | None:
        return self.core.host

    @property
    def fingerprint(self) -> str:
        """This participant's key as the host is shown it, to compare aloud: empty until the
        key is read (before the first connection)."""
        if self._identity is None:
            return ""
        return wire.fingerprint(wire.public_bytes(self._identity))

    @property
    def approve(self) -> bool:
        """Newcomers wait for the host to let them in (the welcome says so)."""
        return self.core.approve

    @property
    def chaos(self) -> str:
        """The fault drill the relay says it runs (its spec), empty when none."""
        return self.core.chaos

    @property
    def restored(self) -> bool:
        return self.core.restored

    @property
    def view(self) -> State:
        """The session as it will be once the outbox is through: confirmed, then pending."""
        return self.core.view

    def now(self) -> float:
        """The session clock: this machine's clock corrected to the relay's."""
        return self.clock() + self.core.offset.seconds

    async def submit(self, event: Event) -> None:
        """Write ``event`` to the journal, then send it (now, or after the next reconnect).

        An event too large to publish is refused here, before it reaches the journal, so it
        can never wedge the outbox. One the journal cannot take (a full disk) is refused with
        :class:`~pairup.journal.JournalFailure`: never sent, since nothing sent may be lost,
        and the link stops, offline with the failure as its reason. A watch link submits
        nothing (:class:`WatchOnly`).
        """
        if self.watching_only:
            raise WatchOnly(WATCH_ONLY)
        event = identity.signed(event, self.join.session, await self._key())
        check_size(event)
        try:
            journal = await self._open_journal()
            async with self._journal_lock:
                journal = self._journal or journal
                await asyncio.to_thread(journal.append, event)
                actions = self.core.submit(event, time.monotonic())
        except JournalFailure as failure:
            await self.close(str(failure))
            raise
        with contextlib.suppress(ConnectionClosed):
            await self._carry_out(self._ws, actions)

    async def let_in(self, participant: str) -> bool:
        """Let in ``participant``, who knocks; False when not connected or nobody by that id
        waits."""
        return await self._say(self.core.let_in(participant))

    async def turn_away(self, participant: str) -> bool:
        """Turn ``participant``, who knocks, away; False when not connected or nobody by that
        id waits."""
        return await self._say(self.core.turn_away(participant))

    async def remove(self, participant: str) -> bool:
        """Take ``participant`` out of the session; False when not connected."""
        return await self._say(self.core.remove(participant))

    async def _say(self, send: Send | None) -> bool:
        if send is None or self._ws is None:
            return False
        self._outgoing.put_nowait(wire.encode(send.frame))
        return True

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
        connection = self._ws or self._opening
        if connection is not None:
            await connection.close()

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
            self._notify(self.core.stopped(str(failure)))
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
        problem = ""
        # Without a pin, a wss:// link is checked by the system's certificate authorities.
        pinning = {"ssl": tls.pinned_context()} if self.join.pin else {}
        while not self._closed.is_set() and not self.core.ended:
            self._notify(self.core.connecting(problem))
            try:
                async with connect(
                    self.join.url,
                    compression=None,
                    max_size=wire.CLIENT_MAX_FRAME_BYTES,
                    open_timeout=OPEN_TIMEOUT,
                    **pinning,
                ) as ws:
                    await self._converse(ws)
                problem = ""
            except InvalidStatus as refused:
                status = refused.response.status_code
                if 400 <= status < 500 and status != HTTPStatus.TOO_MANY_REQUESTS:
                    reason = f"the relay refused the connection (HTTP {status})"
                    self._notify(self.core.stopped(reason))
                    return
                log.info("relay %s answered HTTP %d", self.join.relay, status)
                # A busy relay (429, 503) says why and for how long in the answer's body.
                why = said(refused.response.body.decode(errors="replace"))
                problem = f"the relay at {self._address} answered HTTP {status}" + (
                    f": {why}" if why else ""
                )
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
                close = closing(code, said(closed.rcvd.reason) if closed.rcvd else "")
                if close.fatal:
                    self._notify(self.core.stopped(close.reason))
                    return
                problem = close.reason
            except (OlderRelay, WrongCertificate) as fatal:
                self._notify(self.core.stopped(str(fatal)))
                return
            except ssl.SSLCertVerificationError as untrusted:
                # Another try meets the same certificate: say what to do instead.
                log.info("relay %s: %s", self.join.relay, untrusted)
                self._notify(
                    self.core.stopped(
                        f"the relay at {self._address} shows a certificate this machine does "
                        "not trust; a relay with a certificate of its own is joined with the "
                        "whole link, its pin after the secret (#SECRET.PIN)"
                    )
                )
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
                self._ws = self._opening = None
                self._caught_up.clear()
            if self._closed.is_set() or self.core.ended:
                break
            delay, actions = self.core.disconnected(
                self.clock(), self.rng.uniform(0.5, 1.0), problem
            )
            self._notify(actions)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closed.wait(), delay)
        reason = ENDED if self.core.ended else self._close_reason
        self._notify(self.core.stopped(reason))

    @property
    def _address(self) -> str:
        return urlsplit(self.join.relay).netloc

    def _check_pin(self, ws: ClientConnection) -> None:
        """A pinned relay shows the link's certificate, or the link says no hello to it."""
        if not self.join.pin:
            return
        if not tls.shows(ws.transport.get_extra_info("ssl_object"), self.join.pin):
            raise WrongCertificate(
                f"the relay at {self._address} shows another certificate than the link's; "
                "ask for the link again"
            )

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
        self._opening = ws
        if self._closed.is_set():
            return
        self._check_pin(ws)
        headers = ws.response.headers if ws.response else None
        challenge = challenge_of(
            headers.get(wire.CHALLENGE_HEADER) if headers else None,
            headers.get(wire.VERSION_HEADER) if headers else None,
            self._address,
        )
        hello = self.core.hello(
            await self._key(),
            challenge,
            name=self.name,
            approve=self.asks_approval,
            max_participants=self.max_participants,
        )
        welcome = await self._welcome(ws, hello)
        if self.core.lost(welcome):
            await self._reseed()
        await self._remember_epoch(welcome.epoch)
        if self._closed.is_set():
            return
        self._outgoing = asyncio.Queue()
        self._ws = ws
        actions = self.core.welcomed(welcome, time.monotonic())
        ticker = asyncio.create_task(self._tick(ws))
        sender = asyncio.create_task(self._send_forever(ws, self._outgoing))
        try:
            await self._carry_out(ws, actions)
            async for raw in ws:
                await self._carry_out(ws, self.core.received(raw, time.monotonic()))
                if self.core.ended:
                    return
        finally:
            ticker.cancel()
            sender.cancel()

    @staticmethod
    async def _send_forever(ws: ClientConnection, outgoing: "asyncio.Queue[str]") -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.send(await outgoing.get())

    async def _welcome(self, ws: ClientConnection, hello: wire.Hello) -> wire.Welcome:
        """Say hello and wait for the welcome: a relay silent before it is dropped like any
        silent connection, and cut rather than closed (a close would wait for an answer that
        is not coming), unless it says the host has yet to let this participant in: then the
        link waits as long as it takes."""
        try:
            async with asyncio.timeout(self.core.handshake_timeout) as deadline:
                await ws.send(wire.encode(hello))
                while True:
                    # An error frame: the close that follows says why, and ends this attempt.
                    answer = self.core.answer(await ws.recv())
                    if isinstance(answer, wire.Welcome):
                        return answer
                    if isinstance(answer, wire.Waiting):
                        deadline.reschedule(None)
                        self._notify(self.core.waiting(answer))
        except TimeoutError:
            log.info("relay %s said nothing after the handshake; reconnecting", self.join.relay)
            ws.transport.abort()
            raise TimeoutError("the relay said nothing after the handshake") from None

    async def _tick(self, ws: ClientConnection) -> None:
        """Carry out what the core's clock says is due: pings, repair rounds, the cut of a
        connection on which the relay has been silent (even while a send waits on it)."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._carry_out(ws, self.core.tick(time.monotonic(), self.clock()))
                if not self.core.live:
                    return
                await asyncio.sleep(max(0.0, self.core.wake_at() - time.monotonic()))

    async def _carry_out(self, ws: ClientConnection | None, actions: list[Action]) -> None:
        """Do what the core said: its frames queued at once, in its order, then the journal
        before delivering. Frames wait for nothing: while this awaits the journal, another
        task's submit may publish, and its event must not overtake the ones the core
        published first (a log keeps the order events were asked for in). What they carry was
        journaled when it was submitted."""
        if ws is not None and ws is self._ws:
            for action in actions:
                if isinstance(action, Send):
                    self._outgoing.put_nowait(wire.encode(action.frame))
        for action in actions:
            if isinstance(action, JournalEvents):
                if action.events:
                    journal = await self._open_journal()
                    await asyncio.to_thread(journal.append_many, action.events)
                self.confirmed = action.confirmed
            elif isinstance(action, Deliver):
                self.applied.put_nowait(action.applied)
            elif isinstance(action, Abort):
                if ws is not None:
                    log.info("relay %s: %s; reconnecting", self.join.relay, action.reason)
                    ws.transport.abort()
            elif isinstance(action, Changed):
                self._changed()
        if self.core.caught_up and self._ws is not None:
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
        self.core.load(sequenced_log, list(contents.pending), _read_epoch(path))
        self.confirmed = self.core.confirmed
        return journal

    async def _remember_epoch(self, epoch: str) -> None:
        # Admitted: the session is this participant's from now on, and its journal exists
        # (a join that never got this far leaves nothing behind).
        await self._open_journal()
        if epoch != self.core.epoch:
            path = journal_path(self.data_dir, self.join.session)
            with writing(path.parent):
                await asyncio.to_thread(_write_epoch, path, epoch)
            self.core.epoch = epoch

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
            if self.watching_only:
                # A watcher offers nothing: it starts its journal over from the relay's log.
                events = []
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
            self.core.reseeded(events)
            self.confirmed = self.core.confirmed
        self._changed()

    # -- notifications ---------------------------------------------------------------------------

    def _notify(self, actions: list[Action]) -> None:
        """Carry out what the core said about the status (it only ever says it changed)."""
        if any(isinstance(action, Changed) for action in actions):
            self._changed()

    def _changed(self) -> None:
        for listener in self.listeners:
            listener()


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
