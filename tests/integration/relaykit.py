"""A real relay on an ephemeral loopback port, and a bare protocol client to talk to it."""

import asyncio
import contextlib
import random
import secrets
import socket
import time
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect

from pairup import protocol as wire
from pairup import seal
from pairup.launch import new_session_id
from pairup.relay.chaos import Chaos
from pairup.relay.server import Limits, Relay
from pairup.relay.store import Store

LOOPBACK = "127.0.0.1"


@dataclass
class RunningRelay:
    url: str
    relay: Relay
    store: Store


@contextlib.asynccontextmanager
async def running_relay(
    data_dir: Path,
    *,
    timer: Callable[[], float] = time.monotonic,
    chaos: Chaos | None = None,
    **limits: object,
) -> AsyncIterator[RunningRelay]:
    """A relay on an ephemeral loopback port; ``timer`` is the clock of its rate limits, and
    ``chaos`` a fault drill it runs, as ``pairup relay --chaos`` does."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.open(data_dir / "relay.sqlite3")
    relay = Relay(
        store,
        limits=Limits(reject_delay=0.05, **limits),  # type: ignore[arg-type]
        timer=timer,
        chaos=chaos,
    )
    server = await relay.start(LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield RunningRelay(f"ws://{LOOPBACK}:{port}", relay, store)
    finally:
        await relay.stop(server)
        store.close()


class PinnedJitter(random.Random):
    """Backoff jitter pinned to one point of its range, so reconnect times are known."""

    def __init__(self, where: float = 0.0) -> None:
        super().__init__(0)
        self.where = where

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.where


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def relay_on(port: int, data_dir: Path) -> AsyncIterator[RunningRelay]:
    """Like ``running_relay``, on a fixed port, so links can find a restarted or new relay."""
    store = Store.open(data_dir / "relay.sqlite3")
    relay = Relay(store, limits=Limits(reject_delay=0.05))
    server = await relay.start(LOOPBACK, port)
    try:
        yield RunningRelay(f"ws://{LOOPBACK}:{port}", relay, store)
    finally:
        await relay.stop(server)
        store.close()


KEYS: dict[str, Ed25519PrivateKey] = {}
"""One key per participant id across a test run, as a participant keeps its key on disk."""


def key_of(participant: str) -> Ed25519PrivateKey:
    return KEYS.setdefault(participant, Ed25519PrivateKey.generate())


def hello_text(
    ws: ClientConnection,
    url: str,
    session: str,
    secret: bytes,
    participant: str,
    *,
    create: bool = False,
    max_participants: int = 8,
    key: Ed25519PrivateKey | None = None,
    watch: bool = False,
    approve: bool = False,
) -> str:
    """The ``hello`` a participant holding the link (its watch link, with ``watch``) answers
    this connection's challenge with."""
    assert ws.response is not None
    challenge = wire.challenge_bytes(ws.response.headers.get(wire.CHALLENGE_HEADER))
    assert challenge is not None, "the relay gave no challenge"
    link = wire.JoinLink(url, session, secret)
    hello = wire.hello(
        link.watching() if watch else link,
        participant,
        key or key_of(participant),
        challenge,
        name=participant,
        create=create,
        approve=approve,
        max_participants=max_participants,
    )
    return wire.encode(hello)


def sealed_body(session: str, secret: bytes, sender: str, event_id: str, body: str) -> str:
    """``body`` sealed for ``sender``'s event ``event_id`` in the session of ``secret``."""
    key = wire.JoinLink("ws://relay", session, secret).body_key
    return seal.seal(key, body.encode(), seal.event_aad(session, sender, event_id))


def opened_body(session: str, secret: bytes, event: wire.Sequenced) -> str | None:
    """What an event's sealed body says, or ``None`` if it does not open as its own."""
    key = wire.JoinLink("ws://relay", session, secret).body_key
    opened = seal.open_sealed(key, event.body, seal.event_aad(session, event.sender, event.id))
    return None if opened is None else opened.decode()


def new_session() -> tuple[str, bytes]:
    return new_session_id(), secrets.token_bytes(wire.SECRET_BYTES)


class Peer:
    """One participant speaking the wire protocol directly, with no link logic."""

    def __init__(
        self,
        ws: ClientConnection,
        welcome: wire.Welcome | wire.Waiting,
        participant: str,
        session: str,
        secret: bytes,
    ) -> None:
        self.ws = ws
        self.welcome = welcome
        self.participant = participant
        self.session = session
        self.secret = secret
        self.counter = 0

    @classmethod
    async def join(
        cls,
        url: str,
        session: str,
        secret: bytes,
        participant: str,
        *,
        create: bool = False,
        max_participants: int = 8,
        watch: bool = False,
        approve: bool = False,
        waits: bool = False,
    ) -> "Peer":
        """Connected and welcomed, or (``waits``) waiting for the host to let it in."""
        ws = await connect(f"{url}/s/{session}", compression=None)
        await ws.send(
            hello_text(
                ws,
                url,
                session,
                secret,
                participant,
                create=create,
                max_participants=max_participants,
                watch=watch,
                approve=approve,
            )
        )
        frame = await next_frame(ws)
        assert isinstance(frame, wire.Waiting if waits else wire.Welcome), frame
        return cls(ws, frame, participant, session, secret)

    async def publish(self, body: str = "{}", event_id: str | None = None) -> str:
        """Publish ``body`` sealed as the session's participants seal it."""
        self.counter += 1
        event_id = event_id or f"{self.participant}-{self.counter:06d}"
        sealed = sealed_body(self.session, self.secret, self.participant, event_id, body)
        frame = wire.Publish(id=event_id, sender=self.participant, body=sealed)
        await self.ws.send(wire.encode(frame))
        return event_id

    async def send(self, frame: wire.ClientFrame) -> None:
        await self.ws.send(wire.encode(frame))

    async def until(self, kind: type, *, count: int = 1, timeout: float = 5.0) -> list:
        """The next ``count`` frames of one type, skipping the others."""
        found = []
        async with asyncio.timeout(timeout):
            while len(found) < count:
                frame = await next_frame(self.ws)
                if isinstance(frame, kind):
                    found.append(frame)
        return found

    async def close(self) -> None:
        await self.ws.close()


_UNREAD: "weakref.WeakKeyDictionary[ClientConnection, list[wire.Sequenced]]" = (
    weakref.WeakKeyDictionary()
)
"""The rest of an ``events`` frame, per connection, for the next calls of :func:`next_frame`."""


async def next_frame(ws: ClientConnection) -> wire.RelayFrame:
    """The next frame from the relay; the events of an ``events`` frame one at a time, as a
    participant applies them."""
    unread = _UNREAD.get(ws)
    if unread:
        return unread.pop(0)
    frame = wire.RELAY_FRAME.validate_json(await ws.recv())
    if isinstance(frame, wire.Events):
        first, *rest = frame.events
        _UNREAD[ws] = rest
        return first
    return frame


async def refusal(ws: ClientConnection) -> tuple[int, int | None]:
    """The error frame's code and the close code of a connection the relay is refusing."""
    code = None
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            while True:
                frame = await next_frame(ws)
                if isinstance(frame, wire.Error):
                    code = frame.code
    await ws.wait_closed()
    assert ws.close_code is not None
    return ws.close_code, code
