"""A loopback TCP load balancer: round-robin over backends, skipping those that refuse.

It stands in for HAProxy or an nginx ``stream`` block in front of a relay fleet: one address,
each new connection piped to the next backend that accepts it. Either side ending or failing
closes both.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from types import TracebackType
from typing import Self

LOOPBACK = "127.0.0.1"
CHUNK = 65536

Address = tuple[str, int]


class Balancer:
    """Listens on 127.0.0.1 (port 0 by default) and forwards each connection to a backend."""

    def __init__(
        self, backends: Sequence[Address], *, port: int = 0, connect_timeout: float = 2.0
    ) -> None:
        self.backends: list[Address] = list(backends)
        """The backends; replace the list at any time, new connections use the new one."""
        self.count: Counter[Address] = Counter()
        """Connections forwarded to each backend, over the balancer's life."""
        self.refused = 0
        """Client connections closed because no backend accepted them."""
        self.port = port
        self.connect_timeout = connect_timeout
        self._next = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> int:
        """Client connections open right now."""
        return len(self._handlers)

    async def start(self) -> Self:
        """Listen; ``port`` is then the port bound."""
        self._server = await asyncio.start_server(self._serve, LOOPBACK, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening and close every connection being piped."""
        if self._server is not None:
            self._server.close()
        handlers = list(self._handlers)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    def _order(self) -> list[Address]:
        """The backends to try for one connection: the next in turn first, then the others."""
        backends = list(self.backends)
        if not backends:
            return []
        start = self._next % len(backends)
        self._next = start + 1
        return backends[start:] + backends[:start]

    async def _connect(
        self, backends: list[Address]
    ) -> tuple[Address, asyncio.StreamReader, asyncio.StreamWriter] | None:
        for backend in backends:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(*backend), self.connect_timeout
                )
            except (OSError, TimeoutError):
                continue
            return backend, reader, writer
        return None

    async def _serve(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        backend_out: asyncio.StreamWriter | None = None
        try:
            connected = await self._connect(self._order())
            if connected is None:
                self.refused += 1
                return
            backend, backend_in, backend_out = connected
            self.count[backend] += 1
            up = asyncio.create_task(_pipe(client_in, backend_out))
            down = asyncio.create_task(_pipe(backend_in, client_out))
            try:
                await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                up.cancel()
                down.cancel()
                await asyncio.gather(up, down, return_exceptions=True)
        finally:
            writers = [client_out] if backend_out is None else [client_out, backend_out]
            for writer in writers:
                writer.close()
            try:
                for writer in writers:
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
            finally:
                self._handlers.discard(task)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    while data := await source.read(CHUNK):
        sink.write(data)
        await sink.drain()
