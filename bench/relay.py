"""pairup's relay against a bare websockets broadcast relay, measured in the same run.

Each relay runs in a process of its own; the load comes from other processes (two by default,
each with its share of the sessions, the same for both relays), on loopback only, bounded in
count and time. Two figures:

- throughput: sessions of two, one side publishing with a window of events in flight, counted
  as events delivered to the other side per second. pairup's relay admits, validates,
  sequences and commits each event to SQLite (fsync) before fanning it out; the bare relay
  forwards each text frame to the other connections of its room.
- fan-out latency: many sessions of two, each client sending one event every 2 s at a random
  phase; latency is the time from send to arrival at the other client.

    python -m bench.relay            # 50 sessions for throughput; 500 x 2 clients for latency
    python -m bench.relay --quick    # a few seconds, only checks the benchmark still works
    python -m bench.relay --load-processes 1    # all the load from one process
"""

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from pairup import protocol as wire

LOOPBACK = "127.0.0.1"


# -- the relays, each in its own process -------------------------------------------------------


async def serve_bare() -> None:
    rooms: dict[str, set[ServerConnection]] = {}

    async def handler(connection: ServerConnection) -> None:
        room = rooms.setdefault(str(await connection.recv()), set())
        room.add(connection)
        try:
            async for message in connection:
                broadcast(room - {connection}, message)
        finally:
            room.discard(connection)

    async with serve(handler, LOOPBACK, 0, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


async def serve_pairup(data_dir: Path) -> None:
    from pairup.relay.server import Limits, Relay, open_store

    store = open_store(data_dir)
    # The load comes from one address, so the per-address caps are lifted for the benchmark.
    limits = Limits(
        connections_per_ip=100_000,
        sessions_created_per_ip=100_000,
        messages_per_second=1e6,
        burst=1_000_000,
    )
    commits: list[tuple[float, int]] = []
    append = store.append

    def timed_append(events: list) -> None:
        # Where the relay's time goes: each group commit's duration and size, reported at exit.
        started = time.perf_counter()
        append(events)
        commits.append((time.perf_counter() - started, len(events)))

    store.append = timed_append  # type: ignore[method-assign]
    relay = Relay(store, limits=limits)
    server = await relay.start(LOOPBACK, 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    durations = [duration for duration, _ in commits] or [0.0]
    sizes = [size for _, size in commits] or [0]
    report = {
        "commits": len(commits),
        "commit_p50": percentile(durations, 0.50) * 1000,
        "commit_p99": percentile(durations, 0.99) * 1000,
        "batch_mean": statistics.mean(sizes),
    }
    print(json.dumps(report), flush=True)


def start_relay(kind: str, data_dir: Path) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.relay", "--serve", kind, "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


# -- clients -------------------------------------------------------------------------------------


class Pair:
    """Two connected clients of one session; ``send`` from the first, ``received`` at the second."""

    def __init__(self, sender: ClientConnection, receiver: ClientConnection, kind: str) -> None:
        self.sender = sender
        self.receiver = receiver
        self.kind = kind
        self.count = 0
        # A real client reads everything it is sent (acks, its own events); so does this one.
        self.drain = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.sender:
                pass

    @classmethod
    async def open(cls, kind: str, port: int) -> "Pair":
        if kind == "bare":
            room = secrets.token_hex(8)
            ends = [await connect(f"ws://{LOOPBACK}:{port}", compression=None) for _ in range(2)]
            for end in ends:
                await end.send(room)
            return cls(ends[0], ends[1], kind)
        session, secret = secrets.token_urlsafe(9), secrets.token_bytes(16)
        key = wire.key_text(wire.admission_key(secret, session))
        ends = []
        for index, name in enumerate(("ann", "bob")):
            ws = await connect(f"ws://{LOOPBACK}:{port}/s/{session}", compression=None)
            hello = wire.Hello(session=session, key=key, participant=name, create=index == 0)
            await ws.send(wire.encode(hello))
            await ws.recv()
            ends.append(ws)
        return cls(ends[0], ends[1], kind)

    async def send(self, stamp: float) -> None:
        self.count += 1
        body = json.dumps({"sent": stamp})
        if self.kind == "bare":
            await self.sender.send(body)
        else:
            frame = wire.Publish(
                id=f"ann-{self.count:08d}", sender="ann", kind="lesson.noted", body=body
            )
            await self.sender.send(wire.encode(frame))

    async def received(self) -> float:
        """The send time of the next event to arrive at the receiver."""
        while True:
            raw = await self.receiver.recv()
            if self.kind == "bare":
                return json.loads(raw)["sent"]
            frame = json.loads(raw)
            if frame.get("type") == "event":
                return json.loads(frame["body"])["sent"]

    async def close(self) -> None:
        self.drain.cancel()
        await self.sender.close()
        await self.receiver.close()


async def throughput(
    kind: str, port: int, sessions: int, seconds: float, *, start: Barrier, window: int = 32
) -> float:
    pairs = [await Pair.open(kind, port) for _ in range(sessions)]
    await asyncio.to_thread(start.wait)
    delivered = 0
    deadline = time.monotonic() + seconds

    async def drive(pair: Pair) -> None:
        nonlocal delivered
        in_flight = asyncio.Semaphore(window)

        async def receive() -> None:
            nonlocal delivered
            while True:
                await pair.received()
                delivered += 1
                in_flight.release()

        receiver = asyncio.create_task(receive())
        while time.monotonic() < deadline:
            await in_flight.acquire()
            await pair.send(time.time())
        receiver.cancel()

    started = time.monotonic()
    await asyncio.gather(*(drive(pair) for pair in pairs))
    elapsed = time.monotonic() - started
    await asyncio.gather(*(pair.close() for pair in pairs))
    return delivered / elapsed


async def latency(
    kind: str, port: int, sessions: int, seconds: float, *, start: Barrier, period: float = 2.0
) -> list[float]:
    pairs = [await Pair.open(kind, port) for _ in range(sessions)]
    await asyncio.to_thread(start.wait)
    samples: list[float] = []
    deadline = time.monotonic() + seconds

    async def drive(pair: Pair) -> None:
        await asyncio.sleep(random.uniform(0, period))
        while time.monotonic() < deadline:
            await pair.send(time.time())
            await asyncio.sleep(period)

    async def listen(pair: Pair) -> None:
        while True:
            sent = await pair.received()
            samples.append(time.time() - sent)

    listeners = [asyncio.create_task(listen(pair)) for pair in pairs]
    await asyncio.gather(*(drive(pair) for pair in pairs))
    await asyncio.sleep(0.5)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*(pair.close() for pair in pairs))
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load(
    phase: str, kind: str, port: int, sessions: int, *, seconds: float, start: Barrier, results
) -> None:
    """One load generator process: its share of the sessions, started with the others."""
    if phase == "throughput":
        results.put(asyncio.run(throughput(kind, port, sessions, seconds, start=start)))
    else:
        results.put(asyncio.run(latency(kind, port, sessions, seconds, start=start)))


def spread_load(
    phase: str, kind: str, port: int, sessions: int, *, seconds: float, processes: int
) -> list:
    """Run the load in ``processes`` processes at once, splitting the sessions between them;
    return each one's result."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    shares = [sessions // processes + (i < sessions % processes) for i in range(processes)]
    workers = [
        context.Process(
            target=load,
            args=(phase, kind, port, share),
            kwargs={"seconds": seconds, "start": start, "results": results},
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    outcome = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return outcome


def measure_throughput(kind: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    rates = [
        sum(
            spread_load(
                "throughput",
                kind,
                port,
                args.sessions,
                seconds=args.seconds,
                processes=args.processes,
            )
        )
        for _ in range(args.runs)
    ]
    return {
        "throughput": statistics.median(rates),
        "throughput_min": min(rates),
        "throughput_max": max(rates),
    }


def measure_latency(kind: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    shares = spread_load(
        "latency",
        kind,
        port,
        args.latency_sessions,
        seconds=args.latency_seconds,
        processes=args.processes,
    )
    samples = [sample for share in shares for sample in share]
    return {
        "p50": percentile(samples, 0.50) * 1000,
        "p99": percentile(samples, 0.99) * 1000,
        "samples": len(samples),
    }


Measure = Callable[[str, int, argparse.Namespace], dict[str, float]]


def run_phase(kind: str, measure: Measure, scratch: Path, args: argparse.Namespace) -> dict:
    """One measurement against a relay process of its own, with where that relay's time went:
    its CPU use over its life, the load generators', and (pairup) its group commits."""
    process, port = start_relay(kind, scratch / f"{kind}-{measure.__name__}")
    cpu_before = _children_cpu()
    started = time.monotonic()
    try:
        result = measure(kind, port, args)
    finally:
        cpu_load = _children_cpu()
        process.terminate()
        tail, _ = process.communicate(timeout=30)
    wall = time.monotonic() - started
    result["relay_cpu"] = (_children_cpu() - cpu_load) / wall * 100
    result["client_cpu"] = (cpu_load - cpu_before) / wall * 100
    if kind == "pairup":
        result.update(json.loads(tail.strip().splitlines()[-1]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup's relay against a bare broadcast relay")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--load-processes",
        dest="processes",
        type=int,
        default=2,
        help="load generator processes, each with its share of the sessions (default 2)",
    )
    parser.add_argument("--serve", choices=["bare", "pairup"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve == "bare":
        asyncio.run(serve_bare())
        return
    if args.serve == "pairup":
        asyncio.run(serve_pairup(args.data_dir))
        return
    quick = args.quick
    args.sessions, args.seconds, args.runs = (5, 1.0, 1) if quick else (50, 5.0, 3)
    args.latency_sessions, args.latency_seconds = (20, 3.0) if quick else (500, 20.0)
    phases: dict[str, dict[str, dict]] = {"throughput": {}, "latency": {}}
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("bare", "pairup"):
            phases["throughput"][kind] = run_phase(kind, measure_throughput, Path(scratch), args)
            phases["latency"][kind] = run_phase(kind, measure_latency, Path(scratch), args)
    bare, ours = phases["throughput"]["bare"], phases["throughput"]["pairup"]
    print(
        f"throughput, {args.sessions} sessions x 2 clients, "
        f"median of {args.runs} runs of {args.seconds:.0f}s"
    )
    for name, result in (("bare relay", bare), ("pairup relay", ours)):
        print(
            f"  {name:<13} {result['throughput']:9.0f} events/s "
            f"(spread {result['throughput_min']:.0f}-{result['throughput_max']:.0f})"
        )
    report_costs(bare, ours)
    ratio = ours["throughput"] / bare["throughput"]
    verdict = (
        "quick mode: not judged" if quick else f"goal >= 0.8: {'met' if ratio >= 0.8 else 'MISSED'}"
    )
    print(f"  ratio pairup/bare {ratio:.2f}  ({verdict})")
    print(
        f"fan-out latency, {args.latency_sessions} sessions x 2 clients, 1 event / 2 s each, "
        f"{args.latency_seconds:.0f}s"
    )
    bare, ours = phases["latency"]["bare"], phases["latency"]["pairup"]
    for name, result in (("bare relay", bare), ("pairup relay", ours)):
        print(
            f"  {name:<13} p50 {result['p50']:6.2f} ms  p99 {result['p99']:6.2f} ms  "
            f"({result['samples']:.0f} samples)"
        )
    if quick:
        print("  pairup p99 goal <= 3 ms: quick mode: not judged")
    else:
        print(f"  pairup p99 goal <= 3 ms: {'met' if ours['p99'] <= 3.0 else 'MISSED'}")
    report_costs(bare, ours)


def report_costs(bare: dict, ours: dict) -> None:
    for name, result in (("bare relay", bare), ("pairup relay", ours)):
        print(
            f"    {name:<13} relay process {result['relay_cpu']:3.0f}% of a core, "
            f"load generator {result['client_cpu']:3.0f}%"
        )
    print(
        f"    pairup group commits: {ours['commits']}, {ours['batch_mean']:.0f} events each, "
        f"p50 {ours['commit_p50']:.2f} ms, p99 {ours['commit_p99']:.2f} ms"
    )


def _children_cpu() -> float:
    """CPU seconds of the child processes (relays, load generators) that have ended and been
    waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
