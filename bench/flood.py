"""Floods against pairup's relay with its default limits (issue 18, ADR 25): what one
participant or one session gets stored, and what a flood costs an honest pair beside it,
against the same pair with no flood, in the same run.

- stored: events a second one participant gets stored however it uses connections: one
  connection flooding; reconnecting after every refusal; eight connections at once, each
  reconnecting; and, for one session, 32 identities at once (the most a session of eight
  admits). The goal is the budget: a participant's rate with its burst spread over the run
  (50 + 200 / 5 = 90 a second), a session's likewise (100 + 1,000 / 5 = 300). The
  adversarial pass stored 3,600 a second (109,254 in 30 s) by reconnecting.
- round trip: an honest pair's round trip (a publish to its own event back, 20 a second),
  beside a flood (the ways above at once in sessions of their own, 200 idle connections and
  32 pinging before hello) and with nothing else, in alternating runs.

The relay runs in a process of its own with ``pairup relay``'s defaults, the flood in another,
the honest pair in this one; all on loopback, the flood from 127.0.0.2 up (the caps count by
address), the pair from 127.0.0.1.

    python -m bench.flood            # 3 runs of 5 s each way
    python -m bench.flood --quick    # a few seconds, only checks the benchmark still works
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from bench.figures import Figure, Goal, add_options, percentile, save, verdict_text
from bench.relay import LOOPBACK, RelayProcess, hello_text, opaque, publish_frame
from pairup.relay.limits import Limits

LIMITS = Limits()
"""The relay's defaults, which the flood runs against."""
HONEST_RATE = 20.0
"""Events a second the honest pair's publisher sends: busy for people, half the link's most."""


async def serve(data_dir: Path) -> None:
    from pairup.relay.server import Relay, open_store

    store = open_store(data_dir)
    relay = Relay(store, limits=LIMITS)
    server = await relay.start(LOOPBACK, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    await relay.stop(server)
    store.close()


def start_relay(data_dir: Path) -> RelayProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.flood", "--serve", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return RelayProcess("pairup", process, int(process.stdout.readline()))


# -- participants -------------------------------------------------------------------------------


@dataclass
class Session:
    """A session on the relay under test, and the key of each participant who entered it."""

    port: int
    id: str
    secret: bytes
    keys: dict[str, Ed25519PrivateKey]
    """Each participant's key: an id is bound to the key it first entered with."""

    @classmethod
    def new(cls, port: int) -> "Session":
        return cls(port, secrets.token_urlsafe(9), secrets.token_bytes(16), {})

    async def enter(
        self, participant: str, *, source: str = LOOPBACK, create: bool = False
    ) -> ClientConnection | None:
        """A connection admitted as ``participant``, or ``None`` if the relay refused it."""
        key = self.keys.setdefault(participant, Ed25519PrivateKey.generate())
        try:
            ws = await connect(
                f"ws://{LOOPBACK}:{self.port}/s/{self.id}",
                compression=None,
                local_addr=(source, 0),
                open_timeout=5,
            )
        except (InvalidHandshake, OSError, TimeoutError):
            return None  # HTTP 429 or 503, or cut at once
        admitted = False
        try:
            await ws.send(
                hello_text(ws, self.port, self.id, self.secret, participant, create=create, key=key)
            )
            admitted = json.loads(await ws.recv())["type"] == "welcome"
        except ConnectionClosed:
            pass
        finally:
            if not admitted:
                ws.transport.abort()  # refused, or the flood's time is up mid-hello
        return ws if admitted else None


async def drain(ws: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        async for _ in ws:
            pass


async def flood_on(ws: ClientConnection, participant: str, ids: itertools.count) -> None:
    """Publish new events as fast as the connection takes them, until the relay closes it.
    A send that the socket takes at once does not yield to the event loop, so the loop is
    given a turn every 64: a flooder that never read would not see its close for seconds."""
    reading = asyncio.create_task(drain(ws))
    try:
        while True:
            for _ in range(64):
                await ws.send(
                    publish_frame(f"{participant}-{next(ids):010d}", participant, opaque({}))
                )
            await asyncio.sleep(0)
    except ConnectionClosed:
        pass
    finally:
        reading.cancel()
        ws.transport.abort()


async def one_connection(session: Session, participant: str, source: str) -> None:
    ws = await session.enter(participant, source=source)
    if ws is not None:
        await flood_on(ws, participant, itertools.count())
    await asyncio.Future()  # refused, or cut: this way has nothing left to try


async def reconnecting(session: Session, participant: str, source: str) -> None:
    """Flood, and when cut or refused, come straight back: what the adversarial pass did."""
    ids = itertools.count(secrets.randbelow(10**9) * 1000)
    while True:
        ws = await session.enter(participant, source=source)
        if ws is None:
            await asyncio.sleep(0)
        else:
            await flood_on(ws, participant, ids)


async def at_once(session: Session, participant: str, source: str, count: int = 8) -> None:
    await asyncio.gather(*(reconnecting(session, participant, source) for _ in range(count)))


async def identities(session: Session, participant: str, source: str, count: int = 32) -> None:
    await asyncio.gather(
        *(reconnecting(session, f"{participant}{n}", source) for n in range(count))
    )


Way = Callable[[Session, str, str], Awaitable[None]]
WAYS: dict[str, Way] = {
    "one connection flooding": one_connection,
    "reconnecting after each refusal": reconnecting,
    "8 connections at once": at_once,
    "32 identities of one session at once": identities,
}


async def counted_flood(port: int, way: Way, seconds: float, source: str) -> float:
    """Events a second stored from the flooder: counted by the session's host, who stays
    connected and hears every stored event, over the flood and until the relay has stored
    what it had read of it (a relay busy with a flood reads it late, and stores it then)."""
    session = Session.new(port)
    host = await session.enter("host", create=True)
    if host is None:
        raise RuntimeError("the benchmark's host was not admitted")
    stored = 0
    started = last = time.monotonic()

    async def count() -> None:
        nonlocal stored, last
        async for raw in host:
            frame = json.loads(raw)
            for event in frame["events"] if frame["type"] == "events" else [frame]:
                if event["type"] == "event" and event["sender"] != "host":
                    stored += 1
                    last = time.monotonic()

    counting = asyncio.create_task(count())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await way(session, "mallory", source)
    await asyncio.sleep(0.5)
    counting.cancel()
    host.transport.abort()
    return stored / max(seconds, last - started)


# -- an honest pair beside a flood -------------------------------------------------------------


async def round_trips(port: int, seconds: float, begin: Callable[[], None]) -> list[float]:
    """An honest pair from 127.0.0.1: ann publishes ``HONEST_RATE`` events a second and times
    each from send to her own copy back, in ms; bob reads along. ``begin`` runs once both
    are in: a flood of many addresses keeps newcomers out while it lasts (ADR 25), and this
    pair is a session already going when the flood comes."""
    session = Session.new(port)
    ann = await session.enter("ann", create=True)
    bob = await session.enter("bob")
    if ann is None or bob is None:
        raise RuntimeError("the honest pair was not admitted")
    await asyncio.to_thread(begin)
    sent: dict[str, float] = {}
    trips: list[float] = []

    async def hear() -> None:
        async for raw in ann:
            arrived = time.perf_counter()
            frame = json.loads(raw)
            for event in frame["events"] if frame["type"] == "events" else [frame]:
                if event["type"] == "event" and event["id"] in sent:
                    trips.append((arrived - sent.pop(event["id"])) * 1000)

    listening = [asyncio.create_task(hear()), asyncio.create_task(drain(bob))]
    deadline = time.monotonic() + seconds
    for number in itertools.count():
        if time.monotonic() >= deadline:
            break
        event_id = f"ann-{number:08d}"
        sent[event_id] = time.perf_counter()
        await ann.send(publish_frame(event_id, "ann", opaque({})))
        await asyncio.sleep(1 / HONEST_RATE)
    await asyncio.sleep(1.0)
    for task in listening:
        task.cancel()
    lost = len(sent)
    if lost:
        raise RuntimeError(f"{lost} of the honest pair's events never came back")
    ann.transport.abort()
    bob.transport.abort()
    return trips


async def idle_and_pinging(port: int) -> None:
    """200 connections that never say a word, and 32 that ping before hello, again and again."""
    idle = []
    for n in range(200):
        with contextlib.suppress(OSError):
            idle.append(
                await asyncio.open_connection(LOOPBACK, port, local_addr=(f"127.0.1.{n + 1}", 0))
            )

    async def ping_first(source: str) -> None:
        while True:
            try:
                ws = await connect(
                    f"ws://{LOOPBACK}:{port}/s/{secrets.token_urlsafe(9)}",
                    local_addr=(source, 0),
                    open_timeout=5,
                )
                while True:
                    await ws.ping()
            except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError):
                await asyncio.sleep(0)

    await asyncio.gather(*(ping_first(f"127.0.2.{n + 1}") for n in range(32)))


def flood_process(port: int, started: Event) -> None:
    """Every way of flooding at once, each from an address of its own, until terminated."""

    async def everything() -> None:
        floods = [
            asyncio.create_task(counted_flood(port, way, 3600.0, f"127.0.0.{n + 2}"))
            for n, way in enumerate(WAYS.values())
        ]
        floods.append(asyncio.create_task(idle_and_pinging(port)))
        await asyncio.sleep(0.5)
        started.set()
        await asyncio.gather(*floods)

    asyncio.run(everything())


def beside_a_flood(data_dir: Path, seconds: float, flooded: bool) -> list[float]:
    """The honest pair's round trips on a relay of its own, with a flood or without."""
    relay = start_relay(data_dir)
    context = multiprocessing.get_context("spawn")
    started = context.Event()
    flooding = context.Process(target=flood_process, args=(relay.port, started))

    def begin() -> None:
        if flooded:
            flooding.start()
            if not started.wait(30):
                raise RuntimeError("the flood did not start")

    try:
        return asyncio.run(round_trips(relay.port, seconds, begin))
    finally:
        if flooding.is_alive():
            flooding.terminate()
            flooding.join()
        relay.stop()


# -- figures ---------------------------------------------------------------------------------


def flood_figures(runs: int, seconds: float, scratch: Path) -> list[Figure]:
    stored: dict[str, list[float]] = {name: [] for name in WAYS}
    quiet: list[list[float]] = []
    loud: list[list[float]] = []
    for run in range(runs):
        relay = start_relay(scratch / f"stored-{run}")
        try:
            for number, (name, way) in enumerate(WAYS.items()):
                source = f"127.0.0.{number + 2}"
                stored[name].append(asyncio.run(counted_flood(relay.port, way, seconds, source)))
        finally:
            relay.stop()
        quiet.append(beside_a_flood(scratch / f"quiet-{run}", seconds, flooded=False))
        loud.append(beside_a_flood(scratch / f"loud-{run}", seconds, flooded=True))
    participant = LIMITS.messages_per_second + LIMITS.burst / seconds
    session = LIMITS.session_events_per_second + LIMITS.session_event_burst / seconds
    note = f"{seconds:g} s each, relay defaults"
    figures = [
        Figure(
            name=f"events stored for one {'session' if 'identities' in name else 'participant'}"
            f", {name}",
            unit="events/s",
            pairup=tuple(stored[name]),
            goal=Goal(session if "identities" in name else participant),
            decimals=0,
            note=note,
        )
        for name in WAYS
    ]
    figures += [
        Figure(
            name=f"honest round trip {label} beside a flood",
            unit="ms",
            pairup=tuple(percentile(trips, fraction) for trips in loud),
            baseline=tuple(percentile(trips, fraction) for trips in quiet),
            baseline_name="no flood",
            goal=goal,
            decimals=2,
            note=f"{HONEST_RATE:g} events/s for {seconds:g} s",
        )
        for label, fraction, goal in (("p50", 0.5, None), ("p99", 0.99, Goal(50.0)))
    ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_options(parser, "a few seconds, only checks the benchmark still works")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.data_dir))
        return
    runs, seconds = (1, 1.0) if args.quick else (3, 5.0)
    with tempfile.TemporaryDirectory() as scratch:
        figures = flood_figures(runs, seconds, Path(scratch))
    print("the issue's flood stored 3,642 events a second from one participant (109,254 in 30 s)")
    for figure in figures:
        print(f"{figure.name} ({figure.note})")
        if figure.baseline:
            print(f"  no flood       {figure.shown(figure.baseline)}")
            print(f"  beside a flood {figure.shown(figure.pairup)}")
            print(f"  ratio {figure.ratio:.2f}  {verdict_text(figure, quick=args.quick)}".rstrip())
        else:
            print(f"  {figure.shown(figure.pairup)}  {verdict_text(figure, quick=args.quick)}")
    save(args.figures, figures)


if __name__ == "__main__":
    main()
