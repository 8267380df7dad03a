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

from pairup.protocol import Publish
from pairup.relay.chaos import Chaos, ChaosSpec
from pairup.relay.server import Relay, ServerConnection, _Room
from pairup.relay.store import Store


class ForgetfulRelay(Relay):
    def _sequence(
        self, connection: ServerConnection, room: _Room, participant: str, frame: Publish
    ) -> None:
        room.ids.pop(frame.id, None)
        super()._sequence(connection, room, participant, frame)


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
