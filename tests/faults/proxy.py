"""A loopback TCP proxy that breaks connections on purpose, for tests of what survives it.

It sits between participants and a real relay and forwards bytes both ways, unless told to
misbehave:

- **reset**: both sides of a connection get a TCP RST (``SO_LINGER`` of zero, then close), as
  when a NAT box or a crashed router forgets the connection;
- **stall**: one or both directions stop moving without anything being closed (a half-open
  connection); the proxy stops reading, so the sender's buffers fill as with a peer that is gone;
- **slicing**: bytes go on in pieces of a few bytes with short pauses, so every frame and
  every handshake arrives cut at arbitrary places;
- **latency**: each piece is held back for a while before it goes on, in order.

Faults are seeded, so a failing run can be repeated. The proxy knows nothing of WebSockets: it
only carries bytes, and keeps a copy of what it carried so tests can look for frames in it.
"""

import asyncio
import contextlib
import enum
import random
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from pairup import protocol as wire

LOOPBACK = "127.0.0.1"
READ_SIZE = 64 * 1024


class Direction(enum.Flag):
    """Which way bytes travel: up is participant to relay, down is relay to participant."""

    UP = enum.auto()
    DOWN = enum.auto()
    BOTH = UP | DOWN


@dataclass(frozen=True, slots=True)
class Shape:
    """How bytes travel through the proxy; a new shape applies to bytes not yet sent."""

    latency: float = 0.0
    """Seconds each piece waits before it is forwarded."""
    pieces: tuple[int, int] | None = None
    """Forward in pieces of this many bytes (inclusive range), or as read when ``None``."""
    pause: tuple[float, float] = (0.0, 0.0)
    """Seconds to wait after each piece (inclusive range), when forwarding in pieces."""


class Pipe:
    """One participant's connection through the proxy, and the proxy's to the relay."""

    def __init__(
        self,
        proxy: "FaultProxy",
        client: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        relay: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    ) -> None:
        self.proxy = proxy
        self._ends: dict[Direction, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {
            Direction.UP: (client[0], relay[1]),
            Direction.DOWN: (relay[0], client[1]),
        }
        self._writers = (client[1], relay[1])
        self.stalled = Direction(0)
        self._stall_after: dict[Direction, bytes] = {}
        self.carried = {Direction.UP: bytearray(), Direction.DOWN: bytearray()}
        """Every byte forwarded each way, for tests that look for a frame in the stream."""
        self.pieces = {Direction.UP: 0, Direction.DOWN: 0}
        """How many writes each direction took: more than one per frame means slicing worked."""
        self._lanes: list[asyncio.Task[None]] = []

    def stall(self, direction: Direction = Direction.BOTH, *, after: bytes | None = None) -> None:
        """Stop forwarding ``direction`` for good, now or once ``after`` has gone through."""
        if after is None:
            self.stalled |= direction
            return
        for one in (Direction.UP, Direction.DOWN):
            if one in direction:
                self._stall_after[one] = after

    def reset(self) -> None:
        """Close both sockets with a TCP RST: the peers see ECONNRESET, not an orderly close."""
        for writer in self._writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        for lane in self._lanes:
            lane.cancel()

    async def run(self) -> None:
        """Carry bytes both ways until either side ends, then close the other side too."""
        self._lanes = [asyncio.create_task(self._carry(direction)) for direction in self._ends]
        await asyncio.wait(self._lanes, return_when=asyncio.FIRST_COMPLETED)
        for lane in self._lanes:
            lane.cancel()
        await asyncio.gather(*self._lanes, return_exceptions=True)
        for writer in self._writers:
            writer.transport.close()

    async def _carry(self, direction: Direction) -> None:
        """Read one direction and queue what arrives for delivery, until it ends."""
        reader, writer = self._ends[direction]
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        delivery = asyncio.create_task(self._deliver(direction, queue, writer))
        loop = asyncio.get_running_loop()
        try:
            while True:
                if direction in self.stalled:
                    await _forever()
                try:
                    data = await reader.read(READ_SIZE)
                except OSError:
                    # The peer reset: pass the reset on, as a router in between would.
                    self.reset()
                    return
                queue.put_nowait((loop.time() + self.proxy.shape.latency, data))
                if not data:
                    await delivery  # what is still queued goes first
                    return
        finally:
            delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await delivery

    async def _deliver(
        self,
        direction: Direction,
        queue: asyncio.Queue[tuple[float, bytes]],
        writer: asyncio.StreamWriter,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            if not data:
                return
            if due > loop.time():
                await asyncio.sleep(due - loop.time())
            data = self._until_stall(direction, data)
            for piece in self._cut(data):
                try:
                    writer.write(piece)
                    await writer.drain()
                except OSError:
                    self.reset()
                    return
                self.carried[direction] += piece
                self.pieces[direction] += 1
                low, high = self.proxy.shape.pause
                if high > 0:
                    await asyncio.sleep(self.proxy.rng.uniform(low, high))
            if direction in self.stalled:
                await _forever()

    def _until_stall(self, direction: Direction, data: bytes) -> bytes:
        """What of ``data`` may still go through, stalling the direction at its marker."""
        if direction in self.stalled:
            return b""
        marker = self._stall_after.get(direction)
        if marker is None:
            return data
        seen = bytes(self.carried[direction][-len(marker) :]) + data
        end = seen.find(marker)
        if end < 0:
            return data
        del self._stall_after[direction]
        self.stalled |= direction
        return data[: end + len(marker) - (len(seen) - len(data))]

    def _cut(self, data: bytes) -> list[bytes]:
        sizes = self.proxy.shape.pieces
        if sizes is None:
            return [data] if data else []
        pieces = []
        while data:
            size = self.proxy.rng.randint(*sizes)
            pieces.append(data[:size])
            data = data[size:]
        return pieces


class FaultProxy:
    """A TCP proxy on an ephemeral loopback port in front of ``relay_port``.

    Faults are applied through the open :attr:`pipes` (``reset_all``, ``stall_all``), to every
    byte through :attr:`shape`, or to each new connection through :attr:`on_accept`.
    """

    def __init__(self, relay_port: int, *, seed: int = 0) -> None:
        self.relay = (LOOPBACK, relay_port)
        self.rng = random.Random(seed)
        self.shape = Shape()
        self.pipes: list[Pipe] = []
        """The connections open now, oldest first."""
        self.accepted = 0
        self.on_accept: Callable[[Pipe], None] | None = None
        """Called with each new connection before any byte goes through it."""
        self._server: asyncio.Server | None = None
        self._runs: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def port(self) -> int:
        assert self._server is not None, "the proxy is not listening"
        return self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    def join(self, link: wire.JoinLink) -> wire.JoinLink:
        """The same session and secret, reached through this proxy."""
        return wire.JoinLink(self.url, link.session, link.secret)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, LOOPBACK, 0)

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        # Resetting ends every pipe's run; cancelling a connection's task instead would make
        # asyncio (3.11) report the cancellation as an error.
        for pipe in list(self.pipes):
            pipe.reset()
        await asyncio.gather(*self._runs)
        if self._server is not None:
            await self._server.wait_closed()

    def reset_all(self) -> int:
        """Reset every open connection; how many there were."""
        pipes = list(self.pipes)
        for pipe in pipes:
            pipe.reset()
        return len(pipes)

    def stall_all(self, direction: Direction = Direction.BOTH) -> int:
        """Make every open connection half-open in ``direction``; new ones still work."""
        for pipe in self.pipes:
            pipe.stall(direction)
        return len(self.pipes)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        run = asyncio.current_task()
        assert run is not None
        self._runs.add(run)
        try:
            try:
                relay = await asyncio.open_connection(*self.relay)
            except OSError:
                writer.transport.abort()
                return
            pipe = Pipe(self, (reader, writer), relay)
            if self._closing:
                pipe.reset()
                return
            if self.on_accept is not None:
                self.on_accept(pipe)
            self.pipes.append(pipe)
            try:
                await pipe.run()
            finally:
                self.pipes.remove(pipe)
        finally:
            self._runs.discard(run)


async def _forever() -> None:
    """Wait until cancelled: what a stalled direction does with the bytes it is offered."""
    await asyncio.get_running_loop().create_future()


@contextlib.asynccontextmanager
async def fault_proxy(relay_url: str, *, seed: int = 0) -> AsyncIterator[FaultProxy]:
    """A proxy in front of the relay at ``relay_url`` (``ws://127.0.0.1:PORT``), while in use."""
    proxy = FaultProxy(int(relay_url.rsplit(":", 1)[1]), seed=seed)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()
