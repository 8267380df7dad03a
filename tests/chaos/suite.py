"""The chaos suite: sessions of peers deciding through a relay that misbehaves and gets killed.

For each seed: a relay process runs a fault drill (``pairup relay --chaos``), N sessions of M
peers each make K decisions at random moments, and meanwhile the relay is killed with SIGKILL
and started again on the same data directory R times. Once every peer has made its decisions
the suite waits for the sessions to converge, stops everything, and hands what is left (the
relay's store, every peer's journal, an export of each session) to :mod:`tests.chaos.checker`.

Peers are in-process :class:`pairup.link.client.Link` objects, the same ones the TUI and
headless mode use, each with its own journal directory. The relay is a separate process so it
can be killed for real.

In fleet mode (``--fleet``) the relay is a fleet: three relay processes, each with the same
drill, keep their sessions in a three-node JetStream cluster (``pairup relay --store
nats://…``) and sit behind one TCP balancer, which every peer's join link points at; a peer
whose relay dies reconnects through it to a live one. The relays are killed with SIGKILL now
and then and started again on the same port, and a JetStream node (the stream's leader) is
killed with SIGKILL and restarted while the peers decide. The relay's log the checker reads is
then the stream's, every commit of ``pairup.log.>``.

    python -m tests.chaos.suite --quick         # about a minute; CI runs this
    python -m tests.chaos.suite                 # the long run of docs/reliability.md
    python -m tests.chaos.suite --fleet         # the long run with a fleet of relays
    python -m tests.chaos.suite --variant no-resend --seeds 1   # a broken link: must FAIL
"""

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import nats

from pairup import protocol as wire
from pairup.adr.export import Where, export
from pairup.journal import journal_path, read_info
from pairup.link.client import Link
from pairup.link.joining import Introductions, in_the_session
from pairup.link.timekeeper import new_id
from pairup.relay.jetstream import STREAM, JetStreamStore
from pairup.session import events as ev

from ..fleet.balancer import Balancer
from ..fleet.cluster import JetStreamCluster
from ..integration.relaykit import LOOPBACK, free_port
from .broken import LINKS, RELAY_MODULES
from .checker import Entry, SessionEvidence, Verdict, check

LONG_SPEC = "drop=0.3,dup=0.1,delay=0-100ms,disconnect=0.02"
VARIANTS = ("sound", "no-resend", "no-dedupe", "out-of-order")
FLEET_RELAYS = 3
FLEET_NODES = 3


@dataclass(frozen=True)
class Drill:
    """How big a run is and what it injects."""

    seeds: tuple[int, ...]
    sessions: int
    peers: int
    decisions: int
    spec: str
    """The fault drill without its seed; each seed's run adds ``seed=N``."""
    restarts: int
    """SIGKILLs of a relay per seed (in a fleet, of one of its relays picked at random)."""
    variant: str = "sound"
    gap: float = 0.1
    """Mean seconds between one peer's decisions."""
    converge_timeout: float = 120.0
    fleet: bool = False
    """Three relays over a three-node JetStream cluster behind a balancer, not one relay."""
    node_kills: int = 1
    """In a fleet, SIGKILLs of a JetStream node (each then restarted) per seed."""


@dataclass
class SeedResult:
    seed: int
    verdict: Verdict
    faults: Counter[str]
    restarts: int
    converge: list[float]
    """Seconds from a session's last decision to every peer holding the same whole log."""
    converged: bool
    seconds: float
    events: int = 0
    """Entries in the relay's log (the store's, or the stream's), every session's."""
    node_kills: int = 0
    failed_starts: int = 0
    """A fleet's relay lives that exited before listening, and were started again."""


@dataclass
class RelayProcess:
    """A relay in a process of its own, on a fixed port and data directory, killable."""

    port: int
    data_dir: Path
    spec: str
    variant: str
    logs: Path
    store: str | None = None
    """A fleet's ``--store nats://…``; none for a relay of its own SQLite file."""
    patience: float = 0.0
    lives: int = 0
    failed_starts: int = 0
    """Lives that exited before listening, each started again."""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def command(self) -> list[str]:
        module = RELAY_MODULES.get(self.variant)
        head = [sys.executable, "-m", module] if module else [sys.executable, "-m", "pairup"]
        return [
            *head,
            "relay",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *(["--store", self.store] if self.store else []),
            "--chaos",
            self.spec,
            "--verbose",
        ]

    def start(self) -> None:
        """Start the relay and wait until it listens. One that exits before (a fleet's relay
        finds JetStream electing a stream leader, say) is started again, as a supervisor
        would, for ``patience`` seconds."""
        deadline = time.monotonic() + self.patience
        while True:
            try:
                self._start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                self.failed_starts += 1
            else:
                return

    def _start(self) -> None:
        self.lives += 1
        log = self.logs / f"relay-{self.lives}.log"
        stderr = log.open("wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        stderr.close()
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if "listening on" not in line:
            self.process.wait()
            tail = log.read_text(errors="replace").splitlines()[-5:]
            raise RuntimeError(f"the relay did not start: {line!r}; {log} ends {tail}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def faults(self) -> Counter[str]:
        """Every fault any life of this relay logged (a killed one prints no summary)."""
        counts: Counter[str] = Counter()
        for log in self.logs.glob("relay-*.log"):
            for match in re.finditer(rb"chaos: (\w+), (in|out)", log.read_bytes()):
                counts[match.group(1).decode()] += 1
        return counts


@dataclass
class Peer:
    name: str
    link: Link
    task: asyncio.Task[None] | None = None
    made: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)


@dataclass
class Session:
    session: str
    join: wire.JoinLink
    peers: list[Peer]
    last_decision: float = 0.0
    converged_at: float | None = None


@dataclass
class Stage:
    """Where the peers connect and what the drill kills: one relay, or a fleet of relays over a
    JetStream cluster behind a balancer."""

    url: str
    relays: list[RelayProcess]
    cluster: JetStreamCluster | None = None

    def faults(self) -> Counter[str]:
        return sum((relay.faults() for relay in self.relays), Counter())

    async def disrupt(self, drill: Drill, rng: random.Random) -> tuple[int, int]:
        """Kill relays (and, in a fleet, JetStream nodes) while the peers decide; how many."""
        if self.cluster is None:
            return await _kill_now_and_then(self.relays, drill, rng), 0
        relay_kills, node_kills = await asyncio.gather(
            _kill_now_and_then(self.relays, drill, random.Random(rng.random())),
            _kill_nodes(self.cluster, drill, random.Random(rng.random())),
        )
        return relay_kills, node_kills

    async def read_logs(self) -> dict[str, list[Entry]]:
        """Stop the relays and read what they stored: the SQLite file, or the stream."""
        for relay in self.relays:
            relay.stop()
        if self.cluster is None:
            return _relay_logs(self.relays[0].data_dir / "relay.sqlite3")
        return await _stream_logs(self.cluster)


@contextlib.asynccontextmanager
async def _stage(drill: Drill, seed: int, scratch: Path) -> AsyncIterator[Stage]:
    """Start the relay (or the fleet) for one seed, and stop all of it at the end."""
    logs = scratch / "logs"
    logs.mkdir(parents=True)
    async with contextlib.AsyncExitStack() as stack:
        if not drill.fleet:
            relay = RelayProcess(
                free_port(), scratch / "relay", f"{drill.spec},seed={seed}", drill.variant, logs
            )
            stack.callback(relay.stop)
            relay.start()
            yield Stage(f"ws://{LOOPBACK}:{relay.port}", [relay])
            return
        cluster = JetStreamCluster(scratch / "nats", nodes=FLEET_NODES)
        stack.callback(cluster.stop)
        await asyncio.to_thread(cluster.start)
        relays = []
        for index in range(FLEET_RELAYS):
            relay = RelayProcess(
                free_port(),
                scratch / f"relay{index}",
                f"{drill.spec},seed={seed * 10 + index}",
                drill.variant,
                logs / f"relay{index}",
                store=cluster.url,
                patience=drill.converge_timeout,
            )
            relay.logs.mkdir()
            stack.callback(relay.stop)
            await asyncio.to_thread(relay.start)
            relays.append(relay)
        balancer = Balancer([(LOOPBACK, relay.port) for relay in relays])
        await stack.enter_async_context(balancer)
        yield Stage(f"ws://{LOOPBACK}:{balancer.port}", relays, cluster)


async def run_seed(drill: Drill, seed: int, scratch: Path) -> SeedResult:
    started = time.monotonic()
    rng = random.Random(seed)
    async with _stage(drill, seed, scratch) as stage:
        sessions = _sessions(drill, seed, rng, stage.url, scratch)
        restarts = node_kills = 0
        try:
            await asyncio.gather(*(_open(session, drill.converge_timeout) for session in sessions))
            disruption = asyncio.create_task(stage.disrupt(drill, rng))
            await asyncio.gather(
                *(
                    _decide(session, peer, drill, random.Random(rng.random()))
                    for session in sessions
                    for peer in session.peers
                )
            )
            restarts, node_kills = await disruption
            converged = await _converge(sessions, drill.converge_timeout)
        finally:
            await _close(sessions)
        relay_logs = await stage.read_logs()
    verdict = Verdict()
    for session in sessions:
        evidence, decisions = _evidence(session, relay_logs.get(session.session, []), scratch)
        verdict.add(check(evidence, decisions))
    return SeedResult(
        seed=seed,
        verdict=verdict,
        faults=stage.faults(),
        restarts=restarts,
        converge=[
            session.converged_at - session.last_decision
            for session in sessions
            if session.converged_at is not None
        ],
        converged=converged,
        seconds=time.monotonic() - started,
        events=sum(len(log) for log in relay_logs.values()),
        node_kills=node_kills,
        failed_starts=sum(relay.failed_starts for relay in stage.relays),
    )


def _sessions(
    drill: Drill, seed: int, rng: random.Random, url: str, scratch: Path
) -> list[Session]:
    link_class = LINKS.get(drill.variant, Link)
    sessions = []
    for number in range(drill.sessions):
        session_id = f"drill{seed:03d}s{number:02d}"
        join = wire.JoinLink(url, session_id, rng.randbytes(wire.SECRET_BYTES))
        peers = [
            Peer(
                name,
                link_class(
                    join,
                    name,
                    scratch / "peers" / session_id / name,
                    create=index == 0,
                    ping_interval=1.0,
                    resend_after=0.5,
                    rng=random.Random(rng.random()),
                ),
            )
            for index, name in enumerate(f"p{index}" for index in range(drill.peers))
        ]
        sessions.append(Session(session_id, join, peers))
    return sessions


async def _close(sessions: list[Session]) -> None:
    for session in sessions:
        for peer in session.peers:
            await peer.link.close()
            if peer.task is not None:
                peer.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await peer.task


async def _open(session: Session, seconds: float) -> None:
    """Start the host's link and wait until the session is open in the log; then the guests'.

    A host shares its link once it is in the session, and the first to join is the session's
    host: a guest whose join overtook the host's (a frame of the host's lost, say) would be
    the host, and the real one's rules would be refused at every reconnect, its log still
    growing after the peers agreed."""
    host, *guests = session.peers
    settings = ev.SessionSettings(turn_seconds=900)
    for peer in (host, *guests):
        me = ev.Participant(id=peer.name, name=peer.name.upper(), email=f"{peer.name}@drill.test")
        Introductions(peer.link, me, settings if peer is host else None)
        peer.task = asyncio.create_task(peer.link.run())
        if peer is host:
            # A link that never resends (a broken variant) may never get there: the drill
            # goes on, and the checker says what it lost.
            with contextlib.suppress(TimeoutError):
                await _opened(peer.link, seconds)


async def _opened(link: Link, seconds: float) -> None:
    """Wait until the session's log, as ``link`` has confirmed it, holds its opening."""
    changed = asyncio.Event()
    link.listeners.append(changed.set)
    try:
        async with asyncio.timeout(seconds):
            while not link.confirmed.opened:
                changed.clear()
                await changed.wait()
    finally:
        link.listeners.remove(changed.set)


async def _decide(session: Session, peer: Peer, drill: Drill, rng: random.Random) -> None:
    # Only members act: a decision must follow its maker's join, as the headless and TUI
    # commands do. The join may still be on its way through the faults.
    await in_the_session(peer.link, peer.name, seconds=drill.converge_timeout)
    for number in range(1, drill.decisions + 1):
        await asyncio.sleep(rng.uniform(0, 2 * drill.gap))
        title = f"decision {number} of {peer.name} in {session.session}"
        event = ev.DecisionRecorded(
            id=new_id(),
            actor=peer.name,
            at=peer.link.now(),
            decision_id=new_id(),
            title=title,
        )
        peer.made.append(event.id)
        peer.titles[event.id] = title
        await peer.link.submit(event)
    session.last_decision = max(session.last_decision, time.monotonic())


async def _kill_now_and_then(relays: list[RelayProcess], drill: Drill, rng: random.Random) -> int:
    """SIGKILL a relay ``restarts`` times while the peers decide, and start it again."""
    expected = drill.decisions * drill.gap
    for _ in range(drill.restarts):
        await asyncio.sleep(rng.uniform(0.5, 1.5) * expected / drill.restarts)
        relay = relays[0] if len(relays) == 1 else rng.choice(relays)
        relay.kill()
        await asyncio.sleep(rng.uniform(0.1, 0.5))
        await asyncio.to_thread(relay.start)
    return drill.restarts


async def _kill_nodes(cluster: JetStreamCluster, drill: Drill, rng: random.Random) -> int:
    """SIGKILL a JetStream node ``node_kills`` times while the peers decide: the stream's
    leader, so that its replicas elect another, and restart it once the rest noticed."""
    expected = drill.decisions * drill.gap
    for _ in range(drill.node_kills):
        await asyncio.sleep(rng.uniform(0.2, 0.8) * expected / drill.node_kills)
        leader = await _stream_leader(cluster)
        node = cluster.names.index(leader) if leader in cluster.names else rng.randrange(3)
        await asyncio.to_thread(cluster.kill, node)
        await asyncio.sleep(rng.uniform(0.5, 2.0))
        await asyncio.to_thread(cluster.restart, node)
    return drill.node_kills


async def _stream_leader(cluster: JetStreamCluster) -> str | None:
    connection = await nats.connect(servers=cluster.urls)
    try:
        info = await connection.jetstream().stream_info(STREAM)
    finally:
        await connection.close()
    return info.cluster.leader if info.cluster else None


async def _converge(sessions: list[Session], timeout: float) -> bool:
    """Wait until, in every session, no peer has anything unconfirmed and all hold the same
    log; note when each session got there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for session in sessions:
            if session.converged_at is None and _agrees(session):
                session.converged_at = time.monotonic()
        if all(session.converged_at is not None for session in sessions):
            return True
        await asyncio.sleep(0.05)
    return False


def _agrees(session: Session) -> bool:
    links = [peer.link for peer in session.peers]
    if any(link.pending for link in links):
        return False
    return len({link.confirmed.last_seq for link in links}) == 1


def _relay_logs(path: Path) -> dict[str, list[Entry]]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT c.session, c.first_seq + i.key, i.value"
            " FROM chunks AS c, json_each(c.ids) AS i ORDER BY 1, 2"
        ).fetchall()
    finally:
        db.close()
    logs: dict[str, list[Entry]] = {}
    for session, seq, event_id in rows:
        logs.setdefault(session, []).append((seq, event_id))
    return logs


async def _stream_logs(cluster: JetStreamCluster) -> dict[str, list[Entry]]:
    """Every session's log as the fleet holds it: the commits on ``pairup.log.<session>`` in
    the stream's order, numbered as every relay numbers them when it reads them (ADR 35)."""
    store = await JetStreamStore.connect(cluster.url, name="pairup-chaos")
    try:
        return {
            session: [(event.seq, event.id) for event in await store.events(session)]
            for session in await store.sessions()
        }
    finally:
        await store.close()


def _journal(path: Path) -> tuple[list[Entry], set[str]]:
    """A peer's journal as written, line by line: every sequenced copy in file order, and the
    ids of the decisions it holds, made by this peer or not."""
    entries: list[Entry] = []
    decisions: set[str] = set()
    for line in path.read_text().splitlines()[1:]:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if not isinstance(record, dict):
                continue
            if record.get("seq") is not None:
                entries.append((record["seq"], record["id"]))
            if record.get("kind") == "decision.recorded":
                decisions.add(record["id"])
    return entries, decisions


def _evidence(
    session: Session, relay_log: list[Entry], scratch: Path
) -> tuple[SessionEvidence, frozenset[str]]:
    """What the session left behind, and the ids of every decision in it: made by a peer, or
    found in a journal though nobody made it."""
    peer_logs: dict[str, list[Entry]] = {}
    decisions = {decision for peer in session.peers for decision in peer.made}
    for peer in session.peers:
        peer_logs[peer.name], found = _journal(journal_path(peer.link.data_dir, session.session))
        decisions |= found
    host = session.peers[0]
    out = scratch / "export" / session.session
    written = export(
        read_info(journal_path(host.link.data_dir, session.session)),
        "adr",
        Where(repo=scratch, out=out),
        record=False,
        now=time.time(),
    )
    texts = [item.path.read_text() for item in written]
    exported = {
        event_id: sum(f"# {title}\n" in text or f". {title}\n" in text for text in texts)
        for peer in session.peers
        for event_id, title in peer.titles.items()
    }
    made = {peer.name: list(peer.made) for peer in session.peers}
    evidence = SessionEvidence(session.session, relay_log, peer_logs, made, exported)
    return evidence, frozenset(decisions)


def run_drill(
    drill: Drill, *, report: Callable[[SeedResult], None] = lambda _: None
) -> list[SeedResult]:
    results = []
    for seed in drill.seeds:
        with tempfile.TemporaryDirectory(prefix=f"pairup-chaos-{seed}-") as scratch:
            result = asyncio.run(run_seed(drill, seed, Path(scratch)))
        report(result)
        results.append(result)
    return results


def summarise(drill: Drill, results: list[SeedResult]) -> str:
    """The table of docs/reliability.md: one row per seed, then the totals. A fleet's adds the
    JetStream node kills and the events in the stream."""
    kills = ["relay kills", "node kills", "events"] if drill.fleet else ["restarts"]
    columns = ["seed", "decisions", "faults injected", *kills, "converge p50", "converge p99"]
    columns += ["lost", "duplicated", "divergent", "result"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    total = Verdict()
    for result in results:
        total.add(result.verdict)
        lines.append(_row(drill, str(result.seed), [result], result.verdict, _result(result)))
    passed = all(result.converged and result.verdict.ok for result in results)
    lines.append(_row(drill, f"all {len(results)}", results, total, "PASS" if passed else "FAIL"))
    return "\n".join(lines)


def _row(
    drill: Drill, label: str, results: list[SeedResult], verdict: Verdict, outcome: str
) -> str:
    """One line of the table: a seed's, or the sums over ``results``."""
    converge = [seconds for result in results for seconds in result.converge]
    restarts = [str(sum(result.restarts for result in results))]
    if drill.fleet:
        restarts += [
            str(sum(result.node_kills for result in results)),
            str(sum(result.events for result in results)),
        ]
    cells = [
        label,
        str(verdict.decisions),
        _faults(sum((result.faults for result in results), Counter())),
        *restarts,
        _seconds(converge, 0.5),
        _seconds(converge, 0.99),
        str(verdict.lost),
        str(verdict.duplicated),
        str(verdict.divergent),
        outcome,
    ]
    return "| " + " | ".join(cells) + " |"


def _faults(counts: Counter[str]) -> str:
    shown = [
        f"{name} {counts[name]}" for name in ("drop", "dup", "delay", "disconnect") if counts[name]
    ]
    shown += [f"{name} {counts[name]}" for name in ("reorder", "pause") if counts[name]]
    return ", ".join(shown) or "none"


def _seconds(samples: list[float], fraction: float) -> str:
    if not samples:
        return "-"
    ordered = sorted(samples)
    return f"{ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]:.2f} s"


def _result(result: SeedResult) -> str:
    if not result.converged:
        return "FAIL (did not converge)"
    return "pass" if result.verdict.ok else "FAIL"


def quick_drill(
    variant: str = "sound", seeds: tuple[int, ...] = (1, 2), *, fleet: bool = False
) -> Drill:
    """The CI run: small, about thirty seconds a seed, with every fault of the long run."""
    return Drill(
        seeds=seeds,
        sessions=2,
        peers=3,
        decisions=12,
        spec=LONG_SPEC,
        restarts=2,
        variant=variant,
        converge_timeout=60.0,
        fleet=fleet,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup's chaos suite")
    parser.add_argument("--quick", action="store_true", help="the short CI run")
    parser.add_argument("--seeds", type=int, default=20, help="how many seeds (from 1)")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--peers", type=int, default=3)
    parser.add_argument("--decisions", type=int, default=40, help="decisions per peer")
    parser.add_argument("--restarts", type=int, default=5, help="SIGKILLs of the relay per seed")
    parser.add_argument("--spec", default=LONG_SPEC, help=f"faults (default {LONG_SPEC})")
    parser.add_argument("--variant", choices=VARIANTS, default="sound")
    parser.add_argument(
        "--fleet",
        action="store_true",
        help=f"{FLEET_RELAYS} relays over a {FLEET_NODES}-node JetStream cluster, not one relay",
    )
    parser.add_argument(
        "--node-kills", type=int, default=1, help="SIGKILLs of a JetStream node per seed (fleet)"
    )
    args = parser.parse_args()
    if args.quick:
        drill = dataclasses.replace(
            quick_drill(args.variant, fleet=args.fleet), node_kills=args.node_kills
        )
    else:
        drill = Drill(
            seeds=tuple(range(1, args.seeds + 1)),
            sessions=args.sessions,
            peers=args.peers,
            decisions=args.decisions,
            spec=args.spec,
            restarts=args.restarts,
            variant=args.variant,
            fleet=args.fleet,
            node_kills=args.node_kills,
        )
    fleet = (
        f", a fleet of {FLEET_RELAYS} relays over {FLEET_NODES} JetStream nodes with "
        f"{drill.node_kills} node SIGKILL restarts per seed"
        if drill.fleet
        else ""
    )
    print(
        f"chaos suite: {len(drill.seeds)} seeds x {drill.sessions} sessions x {drill.peers} "
        f"peers x {drill.decisions} decisions, faults {drill.spec}, {drill.restarts} SIGKILL "
        f"restarts per seed, variant {drill.variant}{fleet}",
        flush=True,
    )
    started = time.monotonic()
    results = run_drill(
        drill,
        report=lambda r: print(
            f"  seed {r.seed}: {_result(r)} in {r.seconds:.0f} s "
            f"(lost {r.verdict.lost}, duplicated {r.verdict.duplicated}, "
            f"divergent {r.verdict.divergent}, gaps {r.verdict.gaps}"
            f"{f', relay starts that failed {r.failed_starts}' if drill.fleet else ''})",
            flush=True,
        ),
    )
    print(summarise(drill, results))
    print(f"whole run: {time.monotonic() - started:.0f} s")
    for result in results:
        for problem in result.verdict.problems[:5]:
            print(f"  seed {result.seed}: {problem}")
    ok = all(result.converged and result.verdict.ok for result in results)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
