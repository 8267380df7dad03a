"""pairup's relay on a JetStream cluster against pairup's relay on SQLite and the bare relay,
and a fleet of 1, 2 and 3 relays on one cluster, measured in the same run.

One run starts a three-node JetStream cluster of ``nats-server`` processes on loopback
(tests/fleet/cluster.py, the stream replicated on all three), then:

- the relay of bench.relay, three ways, alternating: the bare broadcast relay, pairup's relay
  on SQLite and pairup's relay on the cluster (a :class:`~pairup.relay.fleet.FleetRelay`, one
  relay): throughput and fan-out latency with bench.relay's own load generators and sizes;
- a fleet of 1, 2 and 3 relays on the cluster, with bench.relay's throughput load (sessions of
  two, one side publishing with a window of events in flight) spread over the relays: each
  session on one relay, and each session's two sides on two different relays, so every event
  reaches its reader through JetStream and the other relay's copy of the log. Every event
  sent is accounted for: one that never arrives, or arrives twice, is reported.

Every relay is a process of its own and so is the load; the CPU time of each relay, of the
three nats-server processes and of the load is taken over the measuring window, so the report
says what an event costs each of them, and from that what the fleet would do on machines of
its own. Each relay's stderr is kept and its warnings and errors shown.

    python -m bench.fleet            # 3 runs of each: bench.relay's sizes, then the fleet
    python -m bench.fleet --quick    # seconds, only checks the benchmark still works
"""

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import multiprocessing
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

from bench.figures import Figure, add_options, counted, percentile, save
from bench.relay import (
    GRACE,
    LOOPBACK,
    Client,
    Costs,
    Delays,
    Plan,
    RelayProcess,
    Target,
    check_publish_frame,
    cpu_seconds,
    fan_out_run,
    hello_text,
    lifted_limits,
    pooled,
    start_relay,
    stop_all,
    throughput_run,
)

FLEET = "fleet"
"""pairup's relay on the JetStream cluster, as a relay kind beside bench.relay's."""
KINDS = ("bare", "pairup", FLEET)
NAMES = {"bare": "bare relay", "pairup": "SQLite relay", FLEET: "JetStream relay"}
REPLICAS = 3
NODES = 3
SIZES = (1, 2, 3)
"""Fleets measured: this many relays on the one cluster."""
SETTLE = 5.0
"""Seconds the fleet's load waits, after its window, for the events still in flight."""
TROUBLE = ("WARNING", "ERROR", "CRITICAL", "Traceback", "Exception")


# -- the fleet's relay, in a process of its own -------------------------------------------------


async def serve_fleet(store_url: str, replicas: int) -> None:
    """pairup's relay on the cluster at ``store_url``, with bench.relay's lifted limits; prints
    its port, and at SIGTERM each commit's duration and size and each event's wait for it."""
    from pairup.relay.fleet import FleetRelay
    from pairup.relay.jetstream import JetStreamStore

    store = await JetStreamStore.connect(store_url, replicas=replicas)
    commits: list[tuple[float, int]] = []
    waits: list[float] = []
    append = store.append

    async def timed_append(*args: Any, **kwargs: Any) -> Any:
        # As bench.relay's pairup relay does: each commit's round trip to JetStream (the
        # leader's write and its replication to a quorum), its size, and how long each event
        # waited for it since the relay sequenced it. Whatever the append's signature: the
        # commit is its list argument.
        taken = next((arg for arg in args if isinstance(arg, list)), [])
        now = time.time()
        waits.extend(
            now - event.at for event in taken if isinstance(getattr(event, "at", None), float)
        )
        began = time.perf_counter()
        try:
            return await append(*args, **kwargs)
        finally:
            commits.append((time.perf_counter() - began, len(taken)))

    store.append = timed_append  # type: ignore[method-assign]
    relay = FleetRelay(store, limits=lifted_limits())
    server = await relay.start(LOOPBACK, 0)
    gc.freeze()  # as pairup relay does once it listens (pairup.relay.run)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    print(json.dumps({"commits": commits, "waits": waits}), flush=True)
    try:
        async with asyncio.timeout(15):
            await relay.stop(server)
    finally:
        await store.close()


@dataclass
class Fleet:
    """The cluster and what the benchmark keeps of it: its URL, its nodes' process ids, and
    where each relay started on it writes its stderr."""

    url: str
    nats_pids: tuple[int, ...]
    logs: Path
    started: int = 0
    stderr: list[Path] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def start_relay(self) -> RelayProcess:
        """A fleet relay on the cluster, in a process of its own; its stderr kept."""
        return self.start_relays(1)[0]

    def start_relays(self, count: int) -> list[RelayProcess]:
        """``count`` fleet relays, started at once. A relay that exits before it listens is
        started again, once, and its stderr kept in :attr:`failures` for the report."""
        relays: list[RelayProcess] = []
        try:
            for attempt in (1, 2):
                processes = [self._spawn() for _ in range(count - len(relays))]
                for process, path in processes:
                    assert process.stdout is not None
                    line = process.stdout.readline()
                    if line.strip():
                        relays.append(RelayProcess(FLEET, process, int(line)))
                        continue
                    process.wait()
                    self.failures.append(
                        f"a fleet relay exited with status {process.returncode} before it "
                        f"listened (attempt {attempt}); its stderr:\n"
                        + path.read_text(errors="replace")[-3000:]
                    )
                if len(relays) == count:
                    return relays
            raise RuntimeError("fleet relays did not start:\n" + "\n".join(self.failures))
        except BaseException:
            for relay in relays:
                relay.process.kill()
                relay.process.wait()
            raise

    def _spawn(self) -> tuple[subprocess.Popen[str], Path]:
        self.started += 1
        path = self.logs / f"relay-{self.started}.stderr"
        self.stderr.append(path)
        with path.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.fleet", "--serve", self.url],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        return process, path

    def nats_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.nats_pids)

    def trouble(self) -> list[str]:
        """The relays' warnings and errors, each line once with how often it came."""
        seen: dict[str, int] = {}
        for path in self.stderr:
            for line in path.read_text(errors="replace").splitlines():
                if any(word in line for word in TROUBLE):
                    seen[line] = seen.get(line, 0) + 1
        return [f"{count} x {line}" for line, count in seen.items()]


def nats_pids(scratch: Path) -> tuple[int, ...]:
    """The process ids of the cluster's nodes, found by the config each was started with."""
    configs = {str(scratch / f"node{index}" / "nats.conf") for index in range(NODES)}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if len(argv) >= 3 and argv[1] == b"-c" and argv[2].decode() in configs:
                found.append(int(proc.name))
    if len(found) != NODES:
        raise RuntimeError(f"found {len(found)} of the cluster's {NODES} nats-server processes")
    return tuple(found)


# -- bench.relay's figures, three ways -----------------------------------------------------------


@dataclass
class Side:
    """One relay kind's runs in bench.relay's phases, and the cluster's CPU time over them."""

    costs: Costs = field(default_factory=Costs)
    runs: list[Any] = field(default_factory=list)
    nats_cpu: float = 0.0
    nats_wall: float = 0.0


def three_ways(
    plan: Plan, scratch: Path, fleet: Fleet, phase: str, run: Callable[[RelayProcess, Costs], Any]
) -> dict[str, Side]:
    """``plan.runs`` runs of ``phase`` against each kind, alternating, as bench.relay's
    ``alternate`` does (a fresh relay process each run), the JetStream relay among them."""
    sides = {kind: Side() for kind in KINDS}
    for number in range(plan.runs):
        for kind in KINDS:
            side = sides[kind]
            relay = (
                fleet.start_relay()
                if kind == FLEET
                else start_relay(kind, scratch / f"{kind}-{phase}-{number}")
            )
            try:
                # The cluster's CPU over the whole run, connecting included: the load
                # processes' windows are theirs.
                began, cpu = time.monotonic(), fleet.nats_cpu()
                side.runs.append(run(relay, side.costs))
                side.nats_cpu += fleet.nats_cpu() - cpu
                side.nats_wall += time.monotonic() - began
            finally:
                tail = relay.stop().strip()
            if relay.target.kind == "pairup":
                report = json.loads(tail.splitlines()[-1])
                side.costs.commits.extend(report["commits"])
                side.costs.waits.extend(report["waits"])
    return sides


def relay_phases(plan: Plan, scratch: Path, fleet: Fleet) -> tuple[list[Figure], list[str]]:
    """Throughput and fan-out latency of the three relays; their figures and a report."""
    rates = three_ways(
        plan,
        scratch,
        fleet,
        "throughput",
        throughput_run(plan),
    )
    delays = three_ways(
        plan,
        scratch,
        fleet,
        "latency",
        fan_out_run(plan),
    )
    load = f"{plan.sessions} sessions x 2 clients, runs of {plan.seconds:g} s"
    fan_out = (
        f"{plan.latency_sessions} sessions x 2 clients, 1 event / 2 s each, "
        f"runs of {plan.latency_seconds:g} s"
    )
    figures = []
    for baseline in ("pairup", "bare"):
        figures.append(
            Figure(
                name=f"JetStream relay throughput, vs {NAMES[baseline]}",
                unit="events/s",
                pairup=tuple(rates[FLEET].runs),
                baseline=tuple(rates[baseline].runs),
                baseline_name=NAMES[baseline],
                decimals=0,
                note=load,
            )
        )
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        for baseline in ("pairup", "bare"):
            figures.append(
                Figure(
                    name=f"JetStream relay fan-out latency {name}, vs {NAMES[baseline]}",
                    unit="ms",
                    pairup=tuple(percentile(run.total, fraction) for run in delays[FLEET].runs),
                    baseline=tuple(
                        percentile(run.total, fraction) for run in delays[baseline].runs
                    ),
                    baseline_name=NAMES[baseline],
                    decimals=2,
                    note=fan_out,
                )
            )
    report = [
        f"throughput: {load}, {counted(plan.processes, 'load process', 'load processes')}, "
        f"{counted(plan.runs, 'run')} each",
        *(
            f"  {NAMES[kind]:<16} {statistics.median(side.runs):8,.0f} events/s  "
            f"(runs: {', '.join(f'{rate:,.0f}' for rate in side.runs)})"
            for kind, side in rates.items()
        ),
        *(side.costs.describe(NAMES[kind]) for kind, side in rates.items()),
        nats_line(rates[FLEET]),
        rates["pairup"].costs.describe_commits(),
        commits_line(rates[FLEET].costs),
        f"fan-out latency: {fan_out}, "
        f"{counted(plan.latency_processes, 'load process', 'load processes')}, "
        f"{counted(plan.runs, 'run')} each (median of the runs' percentiles)",
        *(
            f"  {NAMES[kind]:<16} p50 {median_of(side.runs, 0.5):6.2f} ms  "
            f"p99 {median_of(side.runs, 0.99):6.2f} ms"
            for kind, side in delays.items()
        ),
        *(side.costs.describe(NAMES[kind]) for kind, side in delays.items()),
        nats_line(delays[FLEET]),
        commits_line(delays[FLEET].costs),
        pooled(delays["pairup"].runs).describe("SQLite relay"),
        pooled(delays[FLEET].runs).describe("JetStream relay"),
    ]
    return figures, report


def median_of(runs: list[Delays], fraction: float) -> float:
    return statistics.median(percentile(run.total, fraction) for run in runs)


def nats_line(side: Side) -> str:
    return (
        f"    nats-server x{NODES}, together, over the JetStream relay's runs (connecting "
        f"included): {side.nats_cpu / side.nats_wall * 100:3.0f}% of a core"
    )


def commits_line(costs: Costs) -> str:
    """bench.relay's line on group commits, for the JetStream relay's appends."""
    return (
        costs.describe_commits()
        .replace("pairup group commits", "JetStream relay appends")
        .replace("pairup events", "JetStream relay events")
    )


# -- a fleet of relays -----------------------------------------------------------------------


@dataclass
class Share:
    """One load process's part of a fleet run: where each of its sessions' two sides go."""

    placements: list[tuple[Target, Target]]
    watched: tuple[int, ...]
    """The relays' and the cluster's process ids, whose CPU time the window takes."""


@dataclass
class Tally:
    """What one load process measured in its window, and what became of its events."""

    wall: float = 0.0
    delivered: int = 0
    sent: int = 0
    missing: int = 0
    """Events sent but not delivered once the window closed and :data:`SETTLE` passed."""
    doubled: int = 0
    """Events delivered more often than sent."""
    stuck: int = 0
    """Sessions with events missing."""
    cpu: dict[int, float] = field(default_factory=dict)
    load_cpu: float = 0.0


async def open_pair(ann: Target, bob: Target) -> tuple[Client, Client]:
    """A session of two, ``ann`` on one relay (it creates the session) and ``bob`` on another,
    or the same: bench.relay's ``open_session``, one relay per side."""
    session, secret = secrets.token_urlsafe(9), secrets.token_bytes(16)
    clients = []
    for name, target in (("ann", ann), ("bob", bob)):
        ws = await connect(f"ws://{LOOPBACK}:{target.port}/s/{session}", compression=None)
        await ws.send(hello_text(ws, target.port, session, secret, name, create=name == "ann"))
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise RuntimeError(f"the relay did not admit the benchmark's client: {welcome}")
        clients.append(Client(ws, "pairup", name))
    return clients[0], clients[1]


async def fleet_throughput(
    share: Share, seconds: float, start: Barrier, tally: Tally, *, in_flight: int = 32
) -> None:
    """bench.relay's throughput load over sessions placed on the fleet's relays; counts every
    event each session's reader hears, and after the window waits for those still on their
    way, so none is lost unseen."""
    pairs = [await open_pair(ann, bob) for ann, bob in share.placements]
    heard = [0] * len(pairs)
    await asyncio.to_thread(start.wait)
    tally.wall = -time.monotonic()
    tally.cpu = {pid: -cpu_seconds(pid) for pid in share.watched}
    tally.load_cpu = -time.process_time()
    deadline = time.monotonic() + seconds

    async def count(index: int, bob: Client, credit: asyncio.Semaphore) -> None:
        async for _ in bob.heard():
            heard[index] += 1
            credit.release()

    async def drive(index: int, ann: Client, bob: Client) -> list[asyncio.Task[Any]]:
        credit = asyncio.Semaphore(in_flight)
        readers = [
            asyncio.create_task(count(index, bob, credit)),
            asyncio.create_task(ann.drain()),
        ]
        while (left := deadline - time.monotonic()) > 0:
            try:
                await asyncio.wait_for(credit.acquire(), left)
            except TimeoutError:
                break
            await ann.send(time.time())
        return readers

    readers = await asyncio.gather(*(drive(i, *pair) for i, pair in enumerate(pairs)))
    tally.wall += time.monotonic()
    tally.delivered = sum(heard)
    tally.cpu = {pid: cpu + cpu_seconds(pid) for pid, cpu in tally.cpu.items()}
    tally.load_cpu += time.process_time()
    sent = [ann.sent for ann, _ in pairs]
    settle = time.monotonic() + SETTLE
    while any(h < s for h, s in zip(heard, sent, strict=True)) and time.monotonic() < settle:
        await asyncio.sleep(0.05)
    tally.sent = sum(sent)
    tally.missing = sum(max(0, s - h) for h, s in zip(heard, sent, strict=True))
    tally.doubled = sum(max(0, h - s) for h, s in zip(heard, sent, strict=True))
    tally.stuck = sum(h < s for h, s in zip(heard, sent, strict=True))
    await stop_all([task for tasks in readers for task in tasks])
    await asyncio.gather(*(client.close() for pair in pairs for client in pair))


def fleet_load(share: Share, seconds: float, start: Barrier, results: "Queue[Tally]") -> None:
    """One load process of a fleet run, bounded in time as bench.relay's are."""
    check_publish_frame()
    tally = Tally()

    async def bounded() -> None:
        async with asyncio.timeout(seconds + SETTLE + GRACE):
            await fleet_throughput(share, seconds, start, tally)

    asyncio.run(bounded())
    results.put(tally)


@dataclass
class FleetRun:
    """One run of a fleet: events delivered per second, and where the CPU went."""

    rate: float
    wall: float
    relay_cpu: float
    nats_cpu: float
    leader_cpu: float
    """The busiest nats-server node's: the stream's leader, which takes every append."""
    load_cpu: float
    commits: int
    """Appends the relays made, and so the events per append."""
    delivered: int
    sent: int
    missing: int
    doubled: int
    stuck: int
    sessions: int


def fleet_run(
    fleet: Fleet, relays: int, *, across: bool, sessions: int, seconds: float, processes: int
) -> FleetRun:
    """``sessions`` spread over ``relays`` fresh relays (round robin; across: each session's
    reader on the relay after its writer's), the load in ``processes`` processes."""
    started = fleet.start_relays(relays)
    try:
        targets = [relay.target for relay in started]
        placements = [
            (targets[i % relays], targets[(i + across) % relays]) for i in range(sessions)
        ]
        watched = (*(target.pid for target in targets), *fleet.nats_pids)
        cuts = [round(sessions * p / processes) for p in range(processes + 1)]
        context = multiprocessing.get_context("spawn")
        start = context.Barrier(processes)
        results = context.Queue()
        workers = [
            context.Process(
                target=fleet_load,
                args=(Share(placements[low:high], watched), seconds, start, results),
            )
            for low, high in itertools.pairwise(cuts)
        ]
        for worker in workers:
            worker.start()
        try:
            tallies: list[Tally] = [
                results.get(timeout=seconds + SETTLE + 2 * GRACE) for _ in workers
            ]
        finally:
            for worker in workers:
                worker.join(timeout=GRACE)
                if worker.is_alive():
                    worker.kill()
                    worker.join()
    finally:
        tails = [relay.stop().strip() for relay in started]
    commits = sum(len(json.loads(tail.splitlines()[-1])["commits"]) for tail in tails if tail)
    # The windows overlap: the relays' and the cluster's CPU over the first, the load's over all.
    first = tallies[0]
    relay_pids = {target.pid for target in targets}
    return FleetRun(
        rate=sum(tally.delivered / tally.wall for tally in tallies),
        wall=first.wall,
        relay_cpu=sum(cpu for pid, cpu in first.cpu.items() if pid in relay_pids),
        nats_cpu=sum(cpu for pid, cpu in first.cpu.items() if pid not in relay_pids),
        leader_cpu=max(cpu for pid, cpu in first.cpu.items() if pid not in relay_pids),
        commits=commits,
        load_cpu=sum(tally.load_cpu for tally in tallies),
        delivered=sum(tally.delivered for tally in tallies),
        sent=sum(tally.sent for tally in tallies),
        missing=sum(tally.missing for tally in tallies),
        doubled=sum(tally.doubled for tally in tallies),
        stuck=sum(tally.stuck for tally in tallies),
        sessions=sessions,
    )


WAYS = {False: "each session on one relay", True: "each session's sides on two relays"}


def fleet_phase(plan: Plan, fleet: Fleet) -> tuple[list[Figure], list[str]]:
    """Throughput of fleets of each size, both ways, runs alternating between them."""
    setups = [(size, False) for size in SIZES] + [(size, True) for size in SIZES if size > 1]
    runs: dict[tuple[int, bool], list[FleetRun]] = {setup: [] for setup in setups}
    bounds: dict[tuple[int, bool], tuple[float, float]] = {}
    for _ in range(plan.runs):
        for size, across in setups:
            runs[size, across].append(
                fleet_run(
                    fleet,
                    size,
                    across=across,
                    sessions=plan.sessions,
                    seconds=plan.seconds,
                    processes=plan.processes,
                )
            )
    load = f"{plan.sessions} sessions x 2 clients, runs of {plan.seconds:g} s"
    one = tuple(run.rate for run in runs[1, False])
    figures = [
        Figure(
            name=f"fleet throughput, {size} relays, {WAYS[across]}",
            unit="events/s",
            pairup=tuple(run.rate for run in runs[size, across]),
            baseline=one,
            baseline_name="1 relay",
            decimals=0,
            note=load,
        )
        for size, across in setups
        if size > 1
    ]
    report = [
        f"fleet throughput: {load}, spread round robin over the relays, "
        f"{counted(plan.processes, 'load process', 'load processes')}, "
        f"{counted(plan.runs, 'run')} each; CPU in ms per event delivered",
        f"  {'relays':<7}{'way':<36}{'events/s':>9} {'per append':>10} {'relays':>7}"
        f" {'nats':>6} {'leader':>7} {'load':>6} {'cores busy':>11}  accounted for",
    ]
    for size, across in setups:
        done = runs[size, across]
        delivered = max(1, sum(run.delivered for run in done))
        costs = {
            name: sum(getattr(run, f"{name}_cpu") for run in done) / delivered * 1000
            for name in ("relay", "nats", "leader", "load")
        }
        busy = sum(run.relay_cpu + run.nats_cpu + run.load_cpu for run in done) / sum(
            run.wall for run in done
        )
        missing = sum(run.missing for run in done)
        doubled = sum(run.doubled for run in done)
        stuck = sum(run.stuck for run in done)
        sent = sum(run.sent for run in done)
        fate = (
            f"all {sent:,} sent arrived once"
            if not missing and not doubled
            else f"{sent:,} sent: {missing:,} MISSING in {stuck} sessions, {doubled:,} TWICE"
        )
        per_append = sum(run.sent for run in done) / max(1, sum(run.commits for run in done))
        report.append(
            f"  {size:<7}{WAYS[across]:<36}"
            f"{statistics.median(run.rate for run in done):>9,.0f} {per_append:>10.1f} "
            f"{costs['relay']:>7.3f} {costs['nats']:>6.3f} {costs['leader']:>7.3f} "
            f"{costs['load']:>6.3f} {busy:>11.2f}  {fate}"
        )
        bounds[size, across] = (
            size / costs["relay"] * 1000,
            1 / costs["leader"] * 1000,
        )
    report += [
        "  (relays: all the fleet's relay processes together; nats: the three nats-server",
        "   processes together; leader: the busiest node, the stream's leader; cores busy:",
        "   the CPU of all of them and of the load over the window, of the machine's cores)",
        "  on machines of their own, from the CPU each event cost here (an upper bound: the",
        "  costs were measured on an oversubscribed machine, with its contention):",
        *(
            f"  {size} relays, {WAYS[across]}: the relays, a core each, would take "
            f"{relays:,.0f} events/s; the stream's leader {leader:,.0f} events/s per core "
            f"it is given"
            for (size, across), (relays, leader) in bounds.items()
        ),
    ]
    return figures, report


# -- the run -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description="pairup's relay on JetStream against SQLite and the bare relay; a fleet"
    )
    add_options(parser, "seconds, only checks the benchmark still works")
    parser.add_argument("--serve", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve_fleet(args.serve, REPLICAS))
        return
    from tests.fleet.cluster import JetStreamCluster

    plan = Plan(
        runs=1 if args.quick else 3,
        sessions=6 if args.quick else 50,
        seconds=1.0 if args.quick else 5.0,
        processes=2,
        latency_sessions=20 if args.quick else 500,
        latency_seconds=1.0 if args.quick else 10.0,
        latency_processes=1,
    )
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        (root / "logs").mkdir()
        cluster = JetStreamCluster(root / "cluster", nodes=NODES)
        try:
            cluster.start()
            fleet = Fleet(cluster.url, nats_pids(root / "cluster"), root / "logs")
            print(
                f"a JetStream cluster of {NODES} nats-server nodes on loopback, stream "
                f"replicated {REPLICAS} times, up in {time.monotonic() - began:.1f} s",
                flush=True,
            )
            figures, report = relay_phases(plan, root, fleet)
            print("\n".join(report), flush=True)
            fleet_figures, fleet_report = fleet_phase(plan, fleet)
            print("\n".join(fleet_report), flush=True)
            trouble = fleet.trouble()
        finally:
            cluster.stop()
    figures += fleet_figures
    print("figures:")
    for figure in figures:
        print(f"  {figure.name} ({figure.note})")
        print(f"    {figure.baseline_name:<16} {figure.shown(figure.baseline)}")
        print(f"    {'measured':<16} {figure.shown(figure.pairup)}  ratio {figure.ratio:.2f}")
    print(
        f"the fleet relays' stderr ({len(fleet.stderr)} relays): "
        + ("no warnings or errors" if not trouble else f"{len(trouble)} kinds of line")
    )
    for line in trouble[:20]:
        print(f"  {line[:300]}")
    for failure in fleet.failures:
        print(f"SUSPICIOUS: {failure}")
    print(LIMITS)
    print(f"{time.monotonic() - began:.0f} s in all")
    save(args.figures, figures)


LIMITS = """what limits these figures here: one machine of 2 cores, shared by the three
nats-server nodes, every relay and the load processes (and whatever else runs on it); each
commit is written by the stream's leader and replicated to the two other nodes (R3) over
loopback, so one machine does the work of three; JetStream does not fsync each commit (its
sync_interval, 2 min by default: durability is the replication), while the SQLite relay
fsyncs each group commit. More relays add event loops but no cores: the figures of 2 and 3
relays say what the cluster and the machine absorb, not what relays on machines of their own
would do; the CPU per event above says that."""


if __name__ == "__main__":
    main()
