"""Memory a relay holds for each connected client: its RSS growth over N clients, divided by N.

A relay for a team runs for weeks on a small machine, with every participant's connection
open all day, so what one idle connection costs decides how many sessions a machine can
serve. Each run starts a fresh relay process (pairup's, or the bare broadcast relay of
``bench.relay``) and a load process on loopback. The load process first opens a few sessions
to warm the relay up (the first connections load code and grow pools every later one shares);
then the relay's resident set size is read from ``/proc``, the load process opens N clients
in sessions of two (admitted ones, on pairup's relay), and once the relay has answered every
one of them, the resident set size is read again. Runs alternate between the two relays.

    python -m bench.memory            # 1,000 clients (500 sessions of two), 3 runs each
    python -m bench.memory --quick    # 100 clients, 1 run: only checks it still works
"""

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text
from bench.relay import KINDS, Client, open_session, start_relay

WARM_UP_SESSIONS = 10
SETTLE = 1.0
"""Seconds between the last client admitted and the second reading, for the relay to finish
what those connections started (presence frames, the store's writes)."""
TIMEOUT = 120.0


def resident_kib(pid: int) -> int:
    """The process's resident set size in KiB, as the kernel counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


async def hold(kind: str, port: int, clients: int) -> None:
    """The load process: warm up, open ``clients`` clients when told, keep them open and
    reading until told to stop. Talks to the benchmark one line at a time on stdin/stdout."""
    loop = asyncio.get_running_loop()
    held: list[Client] = []

    async def open_sessions(count: int) -> None:
        for _ in range(count):
            held.extend(await open_session(kind, port))

    await open_sessions(WARM_UP_SESSIONS)
    print("warm", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    await open_sessions(clients // 2)
    readers = [asyncio.create_task(client.drain()) for client in held]
    print("open", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    await asyncio.gather(*(client.ws.close() for client in held), return_exceptions=True)


def growth_per_client(kind: str, clients: int, scratch: Path) -> tuple[float, int]:
    """KiB of resident memory the relay grew by per client, and its size before them."""
    relay = start_relay(kind, scratch)
    loader = subprocess.Popen(
        [sys.executable, "-m", "bench.memory", "--hold", kind, str(relay.port), str(clients)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert loader.stdin is not None
    assert loader.stdout is not None
    try:
        expect(loader, "warm")
        before = resident_kib(relay.process.pid)
        loader.stdin.write("go\n")
        loader.stdin.flush()
        expect(loader, "open")
        time.sleep(SETTLE)
        after = resident_kib(relay.process.pid)
        loader.stdin.write("stop\n")
        loader.stdin.flush()
        loader.wait(timeout=TIMEOUT)
    finally:
        loader.kill()
        loader.wait()
        relay.stop()
    return (after - before) / clients, before


def expect(loader: subprocess.Popen[str], word: str) -> None:
    assert loader.stdout is not None
    line = loader.stdout.readline().strip()
    if line != word:
        raise RuntimeError(f"the load process said {line!r}, not {word!r}")


def memory_figures(clients: int, runs: int, scratch: Path) -> tuple[list[Figure], str]:
    """The figure, and a report of each relay's size before its clients came."""
    per_client: dict[str, list[float]] = {kind: [] for kind in KINDS}
    base: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for run in range(runs):
        for kind in KINDS:
            grown, before = growth_per_client(kind, clients, scratch / f"{kind}-{run}")
            per_client[kind].append(grown)
            base[kind].append(before)
    figure = Figure(
        name="relay memory per connected client",
        unit="KiB",
        pairup=tuple(per_client["pairup"]),
        baseline=tuple(per_client["bare"]),
        baseline_name="bare relay",
        goal=Goal(40.0),
        note=f"RSS growth / {clients:,} clients",
    )
    report = [
        f"{figure.name}, {clients:,} clients in sessions of two, {counted(runs, 'run')} each",
        f"  bare relay    {figure.shown(figure.baseline)}, "
        f"{max(base['bare']) / 1024:.1f} MiB before the clients",
        f"  pairup relay  {figure.shown(figure.pairup)}, "
        f"{max(base['pairup']) / 1024:.1f} MiB before the clients",
        f"  ratio pairup/bare {figure.ratio:.2f}  ",
    ]
    return [figure], "\n".join(report)


def main() -> None:
    parser = argparse.ArgumentParser(description="relay memory per connected client")
    add_options(parser, "100 clients, 1 run: only checks the benchmark still works")
    parser.add_argument(
        "--hold", nargs=3, metavar=("KIND", "PORT", "CLIENTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.hold:
        kind, port, clients = args.hold
        asyncio.run(hold(kind, int(port), int(clients)))
        return
    clients, runs = (100, 1) if args.quick else (1000, 3)
    with tempfile.TemporaryDirectory() as scratch:
        figures, report = memory_figures(clients, runs, Path(scratch))
    print(report + verdict_text(figures[0], quick=args.quick))
    save(args.figures, figures)


if __name__ == "__main__":
    main()
