"""A relay that forgets which event ids it has stored: the suite's ``no-dedupe`` variant.

Run as ``python -m tests.chaos.broken_relay relay --host H --port P --data-dir D --chaos SPEC
--verbose``, the same arguments as ``pairup relay``. Its store is made without the schema's
``UNIQUE (session, id)``, so the second line of defence does not catch what the first lets by.
"""

import argparse
import asyncio
import logging
import signal
import sqlite3
import sys
from pathlib import Path

from pairup.protocol import Publish
from pairup.relay import store as relay_store
from pairup.relay.chaos import Chaos, ChaosSpec
from pairup.relay.server import Relay, ServerConnection, _Room
from pairup.relay.store import Store


class ForgetfulRelay(Relay):
    async def _sequence(self, connection: ServerConnection, room: _Room, frame: Publish) -> None:
        room.ids.pop(frame.id, None)
        await super()._sequence(connection, room, frame)


def store_without_unique_ids(path: Path) -> None:
    """A relay store of the current schema, minus the constraint that an id is stored once."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute(f"PRAGMA application_id = {relay_store._APPLICATION_ID}")
        for statement in relay_store._SCHEMA:
            db.execute(statement.replace(",\n        UNIQUE (session, id)", ""))
        db.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(relay_store.SCHEMA_VERSION)), ("epoch", "forgetful-epoch")],
        )
    finally:
        db.close()


async def serve(host: str, port: int, data_dir: Path, spec: ChaosSpec) -> None:
    path = data_dir / "relay.sqlite3"
    store_without_unique_ids(path)
    store = Store.open(path)
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
