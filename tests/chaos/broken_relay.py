"""A relay that forgets which event ids it has stored: the suite's ``no-dedupe`` variant.

Run as ``python -m tests.chaos.broken_relay relay --host H --port P --data-dir D --chaos SPEC
--verbose``, the same arguments as ``pairup relay``. The store checks offsets, not ids, so
nothing behind the relay's map of ids catches what it lets by.
"""

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from pairup.protocol import Publish
from pairup.relay.chaos import Chaos, ChaosSpec
from pairup.relay.core.actions import Action, Moment
from pairup.relay.core.rules import Peer, RelayCore, Room
from pairup.relay.server import Relay
from pairup.relay.store import Store


class ForgetfulCore(RelayCore):
    def _sequence(
        self, peer: Peer, room: Room, frame: Publish, now: Moment
    ) -> list[Action] | tuple[()]:
        room.ids.pop(frame.id, None)
        return super()._sequence(peer, room, frame, now)


class ForgetfulRelay(Relay):
    async def start(self, *args: Any, **kwargs: Any) -> asyncio.Server:
        server = await super().start(*args, **kwargs)
        # The relay makes its core as it starts (it needs the file limit): the same core,
        # with the rule that forgets ids.
        self.core.__class__ = ForgetfulCore
        return server


async def serve(host: str, port: int, data_dir: Path, spec: ChaosSpec) -> None:
    store = Store.open(data_dir / "relay.sqlite3")
    relay = ForgetfulRelay(store, chaos=Chaos(spec))
    server = await relay.start(host, port)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    print(f"forgetful relay listening on ws://{host}:{port}", flush=True)
    try:
        await stop
    finally:
        await relay.stop(server)
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["relay"])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--chaos", required=True)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    asyncio.run(serve(args.host, args.port, args.data_dir, ChaosSpec.parse(args.chaos)))


if __name__ == "__main__":
    main()
