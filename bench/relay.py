"""pairup's relay against a bare websockets broadcast relay, measured in the same run.

Each run starts a relay in a process of its own; the load comes from other processes, each
with its share of the sessions, the same for both relays, on loopback only, bounded in count
and time. Runs alternate between the two relays, so both see the same machine. Two figures:

- throughput: sessions of two, one side publishing with a window of events in flight, counted
  as events delivered to the other side per second. pairup's relay admits, validates,
  sequences and commits each event to SQLite (fsync) before fanning it out; the bare relay
  forwards each text frame to the other connections of its room. Two load processes by
  default: one alone runs near a full core and holds the bare relay back further (on two
  cores, neither relay is saturated either way; docs/benchmarks.md says what that means).
- fan-out latency: 500 sessions of two, each client sending one event every 2 s at a random
  phase; latency is the time from send to arrival at the other client. One load process by
  default: the load is light, and a second process only adds scheduling noise on a small
  machine (the bare relay's p99 rises from about 2.7 ms to 4.1 ms on two cores).

Both load generators send the same bytes a real client would, formatted directly rather
than through pydantic models, so what they cost is the same for both relays and the figures
measure the relays. A body is as long as a sealed one and base64url like it (:func:`opaque`):
the relay reads nothing of it but its size, so the load does not pay for the sealing, which
is the participants' (``bench.signing`` measures it).

    python -m bench.relay            # 3 runs of each: 50 sessions, 5 s; 500 sessions, 10 s
    python -m bench.relay --quick    # a few seconds, only checks the benchmark still works
    python -m bench.relay --load-processes 1    # all the throughput load from one process
    python -m bench.relay --latency-floor       # how much of the fan-out p99 is acks, the store

With ``--latency-floor`` it measures fan-out latency only, of four relays in turn: the bare
relay; the bare relay answering each message's sender with a short acknowledgement, as any
relay must that tells a sender its event is safe; pairup's; and pairup's with a store that
keeps nothing (sessions are stored, events are not), so the events still pass through the
relay's writer thread but never reach SQLite. The second and the fourth are diagnostics, not
something pairup ships: the one shows the p99 of acknowledging alone, before any sequencing or
storing, the other the p99 that is left when the store's part is taken away (building the
statement, SQLite's insert, the fsync).
"""

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.figures import Figure, Goal, add_options, counted, percentile, save, verdict_text
from pairup import protocol as wire

if TYPE_CHECKING:
    from pairup.relay.limits import Limits

LOOPBACK = "127.0.0.1"
KINDS = ("bare", "pairup")
UNSTORED = "pairup-unstored"
"""A diagnostic relay of ``--latency-floor``: pairup's, with a store that keeps no events."""
ACKED = "bare-acked"
"""A diagnostic relay of ``--latency-floor``: the bare relay, also sending each message's
sender :data:`ACK` once the others' copies are written."""
ACK = "ack"
BARE_KINDS = ("bare", ACKED)
"""The relays that speak the bare relay's protocol to their clients."""
GRACE = 30.0
"""How long a load generator may run past its measuring time (connecting, draining) before it
is stopped: a relay that stalls fails the benchmark instead of hanging it."""


# -- the relays, each in its own process -------------------------------------------------------


async def serve_bare(*, acked: bool = False) -> None:
    rooms: dict[str, set[ServerConnection]] = {}

    async def handler(connection: ServerConnection) -> None:
        room = rooms.setdefault(str(await connection.recv()), set())
        room.add(connection)
        try:
            async for message in connection:
                broadcast(room - {connection}, message)
                if acked:
                    broadcast([connection], ACK)
        finally:
            room.discard(connection)

    async with serve(handler, LOOPBACK, 0, compression=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


def lifted_limits() -> "Limits":
    """The limits pairup's relays run with in the benchmarks (bench.fleet's too). The load
    comes from one address, and each of its sessions sends far more than a pair does (the
    throughput phase, about 800 events a second each), so the caps per address, per
    participant and per session are lifted for the benchmark; its checks still run."""
    from pairup.relay.limits import Limits

    return Limits(
        connections_per_ip=100_000,
        sessions_created_per_ip=100_000,
        sessions_created=100_000,
        messages_per_second=1e6,
        burst=1_000_000,
        session_events_per_second=1e6,
        session_event_burst=1_000_000,
        session_bytes_per_second=1e12,
        session_byte_burst=10**12,
    )


async def serve_pairup(data_dir: Path, *, keep_events: bool = True) -> None:
    from pairup.relay.server import Relay, open_store

    store = open_store(data_dir)
    limits = lifted_limits()
    commits: list[tuple[float, int]] = []
    waits: list[float] = []
    # The diagnostic relay's store keeps sessions, not events: its appends do nothing.
    append = store.append if keep_events else lambda events: None

    def timed_append(events: list) -> None:
        # Where the relay's time goes, reported at exit: each group commit's duration and
        # size, and how long each event waited for its commit to start (queued behind the
        # commit before, then handed to a thread) since the relay sequenced it.
        started = time.time()
        waits.extend(started - event.at for event in events)
        began = time.perf_counter()
        append(events)
        commits.append((time.perf_counter() - began, len(events)))

    store.append = timed_append  # type: ignore[method-assign]
    relay = Relay(store, limits=limits)
    server = await relay.start(LOOPBACK, 0)
    gc.freeze()  # as pairup relay does once it listens (pairup.relay.run)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    print(json.dumps({"commits": commits, "waits": waits}), flush=True)


@dataclass(frozen=True)
class Target:
    """Which relay a load process loads: what it speaks, its port, its process id."""

    kind: str
    port: int
    pid: int


@dataclass
class RelayProcess:
    """A relay started for one run, listening on ``port`` of the loopback address."""

    kind: str
    process: subprocess.Popen[str]
    port: int

    @property
    def target(self) -> Target:
        speaks = "bare" if self.kind in BARE_KINDS else "pairup"
        return Target(speaks, self.port, self.process.pid)

    def stop(self) -> str:
        """Stop the relay; what it printed after its port (pairup: its commit statistics)."""
        self.process.terminate()
        tail, _ = self.process.communicate(timeout=30)
        return tail


def start_relay(kind: str, data_dir: Path) -> RelayProcess:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.relay", "--serve", kind, "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    return RelayProcess(kind, process, int(process.stdout.readline()))


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """User and system CPU time of a running process, or of one of its threads, from /proc."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- clients -------------------------------------------------------------------------------------


SEAL_OVERHEAD = b"\0" * 28
"""A sealed body's nonce and tag (:data:`pairup.seal.OVERHEAD`), in bytes."""


def opaque(payload: dict[str, Any]) -> str:
    """``payload`` as a body the size and alphabet of a sealed one, which the reader opens
    with :func:`unopaque`."""
    raw = json.dumps(payload).encode() + SEAL_OVERHEAD
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unopaque(body: str) -> dict[str, Any]:
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    return json.loads(raw[: -len(SEAL_OVERHEAD)])


def publish_frame(id: str, sender: str, body: str) -> str:
    """The bytes ``wire.encode(wire.Publish(...))`` writes, formatted directly: validating a
    model for every event would make the load generator the cost being measured.
    :func:`check_publish_frame` holds the two to the same bytes."""
    return (
        f'{{"type":"publish","id":{wire.json_string(id)},"sender":{wire.json_string(sender)},'
        f'"body":{wire.json_string(body)}}}'
    )


def check_publish_frame() -> None:
    body = opaque({"sent": time.time()})
    modelled = wire.encode(wire.Publish(id="ann-00000001", sender="ann", body=body))
    if publish_frame("ann-00000001", "ann", body) != modelled:
        raise RuntimeError("the load generator's publish frame differs from the protocol's")


@dataclass
class Client:
    """One participant of a session on one of the relays."""

    ws: ClientConnection
    kind: str
    name: str
    sent: int = 0

    async def send(self, stamp: float) -> None:
        self.sent += 1
        body = opaque({"sent": stamp})
        if self.kind == "bare":
            await self.ws.send(body)
        else:
            await self.ws.send(publish_frame(f"{self.name}-{self.sent:08d}", self.name, body))

    async def heard(self) -> AsyncIterator[tuple[float, float | None]]:
        """Each event from another client as it arrives: its send time, and the time pairup's
        relay sequenced it (``None`` from the bare relay, which stamps nothing). pairup's relay
        packs a commit's events for a client in one frame; what else it sends (presence, this
        client's own events) is read and passed over, as a real client would."""
        async for raw in self.ws:
            if self.kind == "bare":
                if raw != ACK:
                    yield unopaque(str(raw))["sent"], None
                continue
            frame = json.loads(raw)
            for event in frame["events"] if frame["type"] == "events" else [frame]:
                if event["type"] == "event" and event["sender"] != self.name:
                    yield unopaque(event["body"])["sent"], event["at"]

    async def drain(self) -> None:
        """Read everything the relay sends, without looking at it."""
        with contextlib.suppress(ConnectionClosed):
            async for _ in self.ws:
                pass

    async def close(self) -> None:
        # Reading while closing: a client that stopped reading with frames still queued would
        # otherwise wait out the closing handshake's timeout.
        await asyncio.gather(self.ws.close(), self.drain())


def hello_text(
    ws: ClientConnection,
    port: int,
    session: str,
    secret: bytes,
    participant: str,
    *,
    create: bool = False,
    key: Ed25519PrivateKey | None = None,
) -> str:
    """The ``hello`` a participant holding the link answers its connection's challenge with,
    as tests/integration/relaykit.py's ``hello_text`` makes it; a new key for the participant
    unless one is given."""
    response = ws.response
    challenge = wire.challenge_bytes(
        None if response is None else response.headers.get(wire.CHALLENGE_HEADER)
    )
    if challenge is None:
        raise RuntimeError("the relay gave the benchmark's client no challenge")
    link = wire.JoinLink(f"ws://{LOOPBACK}:{port}", session, secret)
    identity = key or Ed25519PrivateKey.generate()
    return wire.encode(wire.hello(link, participant, identity, challenge, create=create))


async def open_session(kind: str, port: int) -> tuple[Client, Client]:
    """A session of two, ``ann`` and ``bob``, both connected (and admitted, on pairup's relay)."""
    if kind == "bare":
        room = secrets.token_hex(8)
        clients = []
        for name in ("ann", "bob"):
            ws = await connect(f"ws://{LOOPBACK}:{port}", compression=None)
            await ws.send(room)
            clients.append(Client(ws, kind, name))
        return clients[0], clients[1]
    session, secret = secrets.token_urlsafe(9), secrets.token_bytes(16)
    clients = []
    for name in ("ann", "bob"):
        ws = await connect(f"ws://{LOOPBACK}:{port}/s/{session}", compression=None)
        await ws.send(hello_text(ws, port, session, secret, name, create=name == "ann"))
        welcome = json.loads(await ws.recv())
        if welcome["type"] != "welcome":
            raise RuntimeError(f"the relay did not admit the benchmark's client: {welcome}")
        clients.append(Client(ws, kind, name))
    return clients[0], clients[1]


async def stop_all(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


@dataclass
class Window:
    """One load process's measuring window: how long it was, and the CPU time the relay and the
    load process itself spent in it, so the costs leave out starting up and connecting."""

    relay_pid: int
    start: Barrier
    """Passed by every load process once it has connected its clients: all measure together."""
    wall: float = 0.0
    relay_cpu: float = 0.0
    loop_cpu: float = 0.0
    """The relay's main thread, which runs its event loop."""
    load_cpu: float = 0.0

    async def open(self) -> None:
        await asyncio.to_thread(self.start.wait)
        self.wall = -time.monotonic()
        self.relay_cpu = -cpu_seconds(self.relay_pid)
        self.loop_cpu = -cpu_seconds(self.relay_pid, self.relay_pid)
        self.load_cpu = -time.process_time()

    def close(self) -> None:
        self.wall += time.monotonic()
        self.relay_cpu += cpu_seconds(self.relay_pid)
        self.loop_cpu += cpu_seconds(self.relay_pid, self.relay_pid)
        self.load_cpu += time.process_time()


@dataclass
class Delays:
    """Fan-out delays in ms, from send to arrival at the other client; for pairup's relay also
    split where the relay stamped the event (the relay and the load share the machine's clock):
    into the relay (send to sequenced), and through it and out (sequenced to arrival: the
    commit, the hand-back, the fan-out, the client's read)."""

    total: list[float] = field(default_factory=list)
    to_relay: list[float] = field(default_factory=list)
    from_relay: list[float] = field(default_factory=list)

    def add(self, sent: float, sequenced: float | None, arrived: float) -> None:
        self.total.append((arrived - sent) * 1000)
        if sequenced is not None:
            self.to_relay.append((sequenced - sent) * 1000)
            self.from_relay.append((arrived - sequenced) * 1000)

    def extend(self, other: "Delays") -> None:
        self.total += other.total
        self.to_relay += other.to_relay
        self.from_relay += other.from_relay

    def describe(self, name: str) -> str:
        return (
            f"    {name} fan-out delay, all runs: send to sequenced p50 "
            f"{percentile(self.to_relay, 0.5):.2f} ms, p99 {percentile(self.to_relay, 0.99):.2f}"
            f" ms; sequenced to arrival p50 {percentile(self.from_relay, 0.5):.2f} ms, p99 "
            f"{percentile(self.from_relay, 0.99):.2f} ms"
        )


async def throughput(
    kind: str, port: int, sessions: int, seconds: float, window: Window, *, in_flight: int = 32
) -> float:
    pairs = [await open_session(kind, port) for _ in range(sessions)]
    delivered = 0
    await window.open()
    deadline = time.monotonic() + seconds

    async def drive(ann: Client, bob: Client) -> None:
        credit = asyncio.Semaphore(in_flight)

        async def count() -> None:
            nonlocal delivered
            async for _ in bob.heard():
                delivered += 1
                credit.release()

        readers = [asyncio.create_task(count()), asyncio.create_task(ann.drain())]
        while time.monotonic() < deadline:
            await credit.acquire()
            await ann.send(time.time())
        await stop_all(readers)

    await asyncio.gather(*(drive(*pair) for pair in pairs))
    window.close()
    await asyncio.gather(*(client.close() for pair in pairs for client in pair))
    return delivered / window.wall


async def latency(
    kind: str, port: int, sessions: int, seconds: float, window: Window, *, period: float = 2.0
) -> Delays:
    clients = [client for _ in range(sessions) for client in await open_session(kind, port)]
    delays = Delays()
    await window.open()
    deadline = time.monotonic() + seconds

    async def drive(client: Client) -> None:
        await asyncio.sleep(random.uniform(0, period))
        while time.monotonic() < deadline:
            await client.send(time.time())
            await asyncio.sleep(period)

    async def listen(client: Client) -> None:
        async for sent, sequenced in client.heard():
            delays.add(sent, sequenced, time.time())

    listeners = [asyncio.create_task(listen(client)) for client in clients]
    await asyncio.gather(*(drive(client) for client in clients))
    window.close()
    await asyncio.sleep(0.5)
    await stop_all(listeners)
    await asyncio.gather(*(client.close() for client in clients))
    return delays


def load(
    phase: str,
    relay: Target,
    sessions: int,
    *,
    seconds: float,
    start: Barrier,
    results: "Queue[tuple[Any, float, float, float, float]]",
) -> None:
    """One load generator process: its share of the sessions, measured once every load
    process has connected its own; bounded in time, so a relay that stalls fails the run."""
    check_publish_frame()
    measure = throughput if phase == "throughput" else latency
    window = Window(relay.pid, start)

    async def bounded() -> Any:
        async with asyncio.timeout(seconds + GRACE):
            return await measure(relay.kind, relay.port, sessions, seconds, window)

    value = asyncio.run(bounded())
    results.put((value, window.wall, window.relay_cpu, window.loop_cpu, window.load_cpu))


@dataclass
class Costs:
    """Where the CPU went in one phase's measuring windows, for one relay."""

    wall: float = 0.0
    relay_cpu: float = 0.0
    loop_cpu: float = 0.0
    """The relay's event-loop thread; the rest of the relay's CPU is its other threads'."""
    load_cpu: float = 0.0
    commits: list[tuple[float, int]] = field(default_factory=list)
    """pairup's relay: each group commit's duration and size, as it reported them at exit."""
    waits: list[float] = field(default_factory=list)
    """pairup's relay: how long each event waited for its commit to start."""

    def describe(self, name: str) -> str:
        return (
            f"    {name:<13} relay process {self.relay_cpu / self.wall * 100:3.0f}% of a core "
            f"(event loop {self.loop_cpu / self.wall * 100:3.0f}%), "
            f"load generators {self.load_cpu / self.wall * 100:3.0f}%"
        )

    def describe_commits(self) -> str:
        durations = [duration * 1000 for duration, _ in self.commits] or [0.0]
        sizes = [size for _, size in self.commits] or [0]
        waits = [wait * 1000 for wait in self.waits] or [0.0]
        return (
            f"    pairup group commits: {len(self.commits)}, "
            f"{statistics.mean(sizes):.1f} events each, p50 {percentile(durations, 0.5):.2f} ms, "
            f"p99 {percentile(durations, 0.99):.2f} ms\n"
            f"    pairup events waiting for their commit to start: "
            f"p50 {percentile(waits, 0.5):.2f} ms, p99 {percentile(waits, 0.99):.2f} ms"
        )


def spread_load(
    phase: str,
    relay: RelayProcess,
    sessions: int,
    *,
    seconds: float,
    processes: int,
    costs: Costs,
) -> list[Any]:
    """Run the load in ``processes`` processes at once, splitting the sessions between them;
    each one's result. Adds the measuring window's costs to ``costs``."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(processes)
    results = context.Queue()
    shares = [sessions // processes + (i < sessions % processes) for i in range(processes)]
    workers = [
        context.Process(
            target=load,
            args=(phase, relay.target, share),
            kwargs={"seconds": seconds, "start": start, "results": results},
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    outcome = [results.get(timeout=seconds + 2 * GRACE) for _ in workers]
    for worker in workers:
        worker.join()
    # The windows overlap: the relay's CPU is counted over the first one, the load's over all.
    _, wall, relay_cpu, loop_cpu, _ = outcome[0]
    costs.wall += wall
    costs.relay_cpu += relay_cpu
    costs.loop_cpu += loop_cpu
    costs.load_cpu += sum(load_cpu for *_, load_cpu in outcome)
    return [value for value, *_ in outcome]


Run = Callable[[RelayProcess, Costs], Any]


def alternate(
    runs: int, scratch: Path, phase: str, run: Run, kinds: tuple[str, ...] = KINDS
) -> tuple[dict, dict[str, Costs]]:
    """``runs`` runs against each relay, alternating; each run's result and each relay's costs.

    Every run gets a relay process of its own, stopped as soon as the run ends: no run inherits
    another's sessions, and no relay's after-work (pairup's relay writes down each session
    that empties) overlaps the other relay's run.
    """
    results: dict[str, list[Any]] = {kind: [] for kind in kinds}
    costs = {kind: Costs() for kind in kinds}
    for number in range(runs):
        for kind in kinds:
            relay = start_relay(kind, scratch / f"{kind}-{phase}-{number}")
            try:
                results[kind].append(run(relay, costs[kind]))
            finally:
                tail = relay.stop().strip()
            if relay.target.kind == "pairup":
                report = json.loads(tail.splitlines()[-1])
                costs[kind].commits.extend(report["commits"])
                costs[kind].waits.extend(report["waits"])
    return results, costs


@dataclass(frozen=True)
class Plan:
    """How much load, for how long, how many times: the full run's sizes or quick mode's."""

    runs: int
    sessions: int
    seconds: float
    processes: int
    latency_sessions: int
    latency_seconds: float
    latency_processes: int


def fan_out_delays(
    plan: Plan, scratch: Path, kinds: tuple[str, ...]
) -> tuple[dict[str, list[Delays]], dict[str, Costs]]:
    """The fan-out latency phase against each of ``kinds``, alternating: each run's delays,
    and each relay's costs."""
    return alternate(plan.runs, scratch, "latency", fan_out_run(plan), kinds)


def throughput_run(plan: Plan) -> Run:
    """One throughput run against a relay: the events delivered in its window."""

    def run(relay: RelayProcess, costs: Costs) -> int:
        return sum(
            spread_load(
                "throughput",
                relay,
                plan.sessions,
                seconds=plan.seconds,
                processes=plan.processes,
                costs=costs,
            )
        )

    return run


def fan_out_run(plan: Plan) -> Run:
    """One fan-out latency run against a relay: every event's delays."""

    def run(relay: RelayProcess, costs: Costs) -> Delays:
        return pooled(
            spread_load(
                "latency",
                relay,
                plan.latency_sessions,
                seconds=plan.latency_seconds,
                processes=plan.latency_processes,
                costs=costs,
            )
        )

    return run


def pooled(runs: list[Delays]) -> Delays:
    """Every run's delays together."""
    delays = Delays()
    for run in runs:
        delays.extend(run)
    return delays


def relay_figures(plan: Plan, scratch: Path) -> tuple[list[Figure], str]:
    """The relay's figures, and a report of where each relay's time went."""
    rates, throughput_costs = alternate(plan.runs, scratch, "throughput", throughput_run(plan))
    delays, latency_costs = fan_out_delays(plan, scratch, KINDS)
    load = f"{plan.sessions} sessions x 2 clients, runs of {plan.seconds:g} s"
    fan_out = (
        f"{plan.latency_sessions} sessions x 2 clients, 1 event / 2 s each, "
        f"runs of {plan.latency_seconds:g} s"
    )
    figures = [
        Figure(
            name="relay throughput",
            unit="events/s",
            pairup=tuple(rates["pairup"]),
            baseline=tuple(rates["bare"]),
            baseline_name="bare relay",
            goal=Goal(0.8, on_ratio=True, at_least=True),
            decimals=0,
            note=load,
        ),
        *(
            Figure(
                name=f"relay fan-out latency {name}",
                unit="ms",
                pairup=tuple(percentile(run.total, fraction) for run in delays["pairup"]),
                baseline=tuple(percentile(run.total, fraction) for run in delays["bare"]),
                baseline_name="bare relay",
                goal=goal,
                decimals=2,
                note=fan_out,
            )
            for name, fraction, goal in (
                ("p50", 0.50, None),
                ("p99", 0.99, Goal(2.0, on_ratio=True)),
            )
        ),
    ]
    report = [
        f"throughput: {load}, {counted(plan.processes, 'load process', 'load processes')}, "
        f"{counted(plan.runs, 'run')} each",
        *(cost.describe(f"{kind} relay") for kind, cost in throughput_costs.items()),
        throughput_costs["pairup"].describe_commits(),
        f"fan-out latency: {fan_out}, "
        f"{counted(plan.latency_processes, 'load process', 'load processes')}, "
        f"{min(len(run.total) for runs in delays.values() for run in runs)}+ samples a run",
        *(cost.describe(f"{kind} relay") for kind, cost in latency_costs.items()),
        latency_costs["pairup"].describe_commits(),
        pooled(delays["pairup"]).describe("pairup"),
    ]
    return figures, "\n".join(report)


def latency_floor(plan: Plan, scratch: Path) -> str:
    """Fan-out latency of the bare relay, the bare relay acknowledging, pairup's, and pairup's
    with a store that keeps no events, alternating; one line each with the median p50 and p99
    of the runs."""
    kinds = ("bare", ACKED, "pairup", UNSTORED)
    delays, _ = fan_out_delays(plan, scratch, kinds)
    lines = [
        f"fan-out latency: {plan.latency_sessions} sessions x 2 clients, 1 event / 2 s each, "
        f"runs of {plan.latency_seconds:g} s, {counted(plan.runs, 'run')} each (median of runs)"
    ]
    for kind in kinds:
        p50, p99 = (
            statistics.median(percentile(run.total, fraction) for run in delays[kind])
            for fraction in (0.5, 0.99)
        )
        spread = ", ".join(f"{percentile(run.total, 0.99):.2f}" for run in delays[kind])
        lines.append(f"  {kind + ' relay':<24} p50 {p50:5.2f} ms  p99 {p99:5.2f} ms ({spread})")
    lines += [pooled(delays[kind]).describe(kind) for kind in ("pairup", UNSTORED)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup's relay against a bare broadcast relay")
    add_options(parser, "a few seconds, only checks the benchmark still works")
    parser.add_argument(
        "--load-processes",
        type=int,
        metavar="N",
        default=2,
        help="throughput load generator processes, each with its share of the sessions",
    )
    parser.add_argument(
        "--latency-load-processes",
        type=int,
        metavar="N",
        default=1,
        help="fan-out latency load generator processes",
    )
    parser.add_argument(
        "--latency-floor",
        action="store_true",
        help="fan-out latency only, with two more relays: the bare one acknowledging each "
        "message to its sender, and pairup's with a store that keeps no events, to show how "
        "much of the p99 acknowledging is and how much the store (prints, saves no figures)",
    )
    parser.add_argument("--serve", choices=(*KINDS, ACKED, UNSTORED), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve in BARE_KINDS:
        asyncio.run(serve_bare(acked=args.serve == ACKED))
        return
    if args.serve in ("pairup", UNSTORED):
        asyncio.run(serve_pairup(args.data_dir, keep_events=args.serve == "pairup"))
        return
    if args.latency_floor and args.figures:
        parser.error("--latency-floor saves no figures: drop --figures")
    plan = Plan(
        runs=1 if args.quick else 3,
        sessions=5 if args.quick else 50,
        seconds=1.0 if args.quick else 5.0,
        processes=args.load_processes,
        latency_sessions=20 if args.quick else 500,
        latency_seconds=2.0 if args.quick else 10.0,
        latency_processes=args.latency_load_processes,
    )
    if args.latency_floor:
        with tempfile.TemporaryDirectory() as scratch:
            print(latency_floor(plan, Path(scratch)))
        return
    with tempfile.TemporaryDirectory() as scratch:
        figures, report = relay_figures(plan, Path(scratch))
    for figure in figures:
        print(f"{figure.name} ({figure.note})")
        print(f"  bare relay    {figure.shown(figure.baseline)}")
        print(f"  pairup relay  {figure.shown(figure.pairup)}")
        verdict = verdict_text(figure, quick=args.quick)
        print(f"  ratio pairup/bare {figure.ratio:.2f}  {verdict}".rstrip())
    print(report)
    save(args.figures, figures)


if __name__ == "__main__":
    main()
