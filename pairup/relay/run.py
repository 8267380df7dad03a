"""``pairup relay``: the relay as a process of its own, until interrupted."""

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
import sys
from pathlib import Path

from pairup.relay.chaos import Chaos
from pairup.relay.limits import Limits
from pairup.relay.server import Relay, open_store


async def run_relay(
    host: str,
    port: int,
    data_dir: Path,
    *,
    tls: ssl.SSLContext | None = None,
    chaos: Chaos | None = None,
    limits: Limits | None = None,
    store: str | None = None,
    replicas: int = 3,
) -> None:
    """Serve until SIGINT or SIGTERM; say where, once listening, on one line of stdout.

    A fault drill is announced on stderr before the relay listens, and its count of faults
    is printed there when it stops. The connection caps the relay chose from the file limit
    are logged (``pairup relay -v``).
    """
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            own = await asyncio.to_thread(open_store, data_dir)
            stack.callback(own.close)
            epoch, where = own.epoch, f"data in {data_dir}"
            relay = Relay(own, chaos=chaos, limits=limits)
        else:
            from pairup.relay.fleet import FleetRelay
            from pairup.relay.jetstream import JetStreamStore

            fleet = await JetStreamStore.connect(store, replicas=replicas)
            stack.push_async_callback(fleet.close)
            epoch, where = fleet.epoch, f"sessions in {fleet.where}"
            relay = FleetRelay(fleet, chaos=chaos, limits=limits)
        if chaos is not None:
            print(announce(chaos), file=sys.stderr, flush=True)
        server = await relay.start(host, port, ssl=tls)
        try:
            await _serve(relay, server, tls is not None, f"{where}, epoch {epoch}")
        finally:
            await relay.stop(server)
            if chaos is not None:
                print(f"pairup relay: {chaos.summary()}", file=sys.stderr, flush=True)


async def _serve(relay: Relay, server: asyncio.Server, secure: bool, what: str) -> None:
    """Say where the relay listens, then serve until SIGINT or SIGTERM."""
    # What is alive once the relay listens (modules, validators, the store) lives as long as
    # the process: out of the collector's reach, a full collection no longer walks it, and
    # the pause one costs a fan-out shrinks with it (bench.relay's p99, ADR 25).
    gc.freeze()
    door = relay.door
    logging.getLogger("pairup.relay").info(
        "at most %d connections (the file limit less a reserve), %d of them admitted "
        "participants, %d opening at once",
        door.most,
        door.most_admitted,
        door.most_pending,
    )
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    scheme = "wss" if secure else "ws"
    for sock in server.sockets:
        bound_host, bound_port = sock.getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        print(f"pairup relay listening on {scheme}://{shown}:{bound_port} ({what})", flush=True)
    await stop


def announce(chaos: Chaos) -> str:
    """The line that says, before anything else, that this relay misbehaves on purpose."""
    return (
        f"pairup relay: FAULT DRILL ON ({chaos.spec}): messages of every session will be "
        "lost, repeated, delayed or cut off on purpose"
    )
