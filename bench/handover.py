"""The code moving with the role: a handover of 100 changed files in a 20,000-file repository,
against mob.sh's path done with plain git, in the same run.

pairup's figure is the time from the rotation (the driver submits ``skip``) until the new
driver's handover service says the code is applied in their clone. It runs the real thing in
this process, as tests/integration/test_handover_link.py does: a relay on an ephemeral
loopback port with its SQLite store, two links each with their introductions and handover
service, and two clones of a generated repository (``git fast-import``, then ``git clone``).
The baseline is what ``mob next`` and ``mob start`` do with the git command line, on two
other clones of the same repository and a bare remote: ``git add --all``, ``git commit``,
``git push`` on the driver's clone, then ``git fetch`` and ``git merge --ff-only`` of the WIP
branch on the next driver's, timed from the start of the add to the end of the merge.

Each turn makes the same change (edits to tracked files, a few new files, a deletion or two)
on both drivers' clones, and the direction alternates. The first turns start from a committed
tree (both pairup clones commit what they hold between turns, outside the timing, as a pair
that commits would): that is the figure with the goal. The turns after let the uncommitted
work pile up, as a pair that never commits would see it. The git steps of pairup's path are
timed as they run (the functions of pairup.git.handover wrapped) and each screen's stages
stamped, so the report says where pairup's time goes.

    python -m bench.handover            # 20,000 files, 100 changed, 7 turns of each kind
    python -m bench.handover --quick    # 1,000 files, 20 changed, 2 of each: still works?
"""

import argparse
import asyncio
import functools
import os
import random
import secrets
import statistics
import subprocess
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pygit2
from pygit2.enums import ConfigLevel

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text
from pairup import protocol as wire
from pairup.commands import command_event
from pairup.config.model import HandoverConfig
from pairup.git import handover as git_handover
from pairup.link.client import Link
from pairup.link.handover import Handovers, News
from pairup.link.joining import Introductions
from pairup.relay.server import Relay
from pairup.relay.store import Store
from pairup.session import events as ev

LOOPBACK = "127.0.0.1"
GOAL = 1.0
WAIT = 60.0
"""Seconds to wait for any one thing the pair should do: join, hand over, say what it holds."""
CONFIG = HandoverConfig(mode="link", max_size="8 MiB", open=(), remote="origin", finish="squash")
"""The shipped defaults (config/pairup.toml)."""
WIP = "mob/main"
"""The WIP branch mob.sh would use for ``main``."""
NAMES = ("ann", "bob")
TIMED = ("take", "package", "_moved", "unpack", "apply", "_move", "_check")
"""The functions of pairup.git.handover whose time the report shows."""
STAGE_LABELS = {
    ("take", 0): "sender: take (the working tree as a snapshot)",
    ("package", 0): "sender: package (pack what the receiver lacks)",
    ("_moved", 1): "  of which: what moved (diff, lines)",
    ("unpack", 0): "receiver: unpack (check the pack, put it in the object store)",
    ("apply", 0): "receiver: apply",
    ("take", 1): "  of which: take (the receiver's state first)",
    ("_move", 1): "  of which: move (the files that differ, HEAD, the index)",
    ("_check", 1): "  of which: check (those files, HEAD, the index)",
}

Change = dict[str, bytes | None]
"""Path in the repository to its new bytes, None for a deletion."""

VOCABULARY = (
    "session driver navigator rotation relay handover commit branch index tree blob "
    "snapshot offer apply journal event sequence participant turn timer break screen "
    "config setting value result error reason buffer stream packet frame socket token "
    "parse render update refresh record export import module package count total"
)
WORDS = tuple(VOCABULARY.split())


# -- the repository ----------------------------------------------------------------------------


def git_env(home: Path) -> dict[str, str]:
    """Git's environment: nothing of this machine's config is read (git nor libgit2)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(home / "gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "LANG": "C",
        "LC_ALL": "C",
    }


def run_git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def module_text(rng: random.Random, name: str) -> str:
    """A small Python module of 20 to 60 lines, as a repository has thousands of."""
    words = rng.sample(WORDS, 6)
    lines = [f'"""The {words[0]} of the {words[1]}: {" ".join(rng.sample(WORDS, 8))}."""', ""]
    lines += [f"from .{rng.choice(WORDS)} import {rng.choice(WORDS)}_{rng.randrange(9)}", ""]
    for function in range(rng.randrange(2, 6)):
        verb, noun = rng.choice(WORDS), rng.choice(WORDS)
        lines += ["", f"def {verb}_{noun}_{function}({noun}, limit={rng.randrange(100)}):"]
        lines.append(f'    """{" ".join(rng.sample(WORDS, 7)).capitalize()} of {name}."""')
        for _ in range(rng.randrange(2, 8)):
            lines.append(f"    {rng.choice(WORDS)} = {noun}.{rng.choice(WORDS)}(limit)")
        lines.append(f"    return {noun}")
    return "\n".join(lines) + "\n"


def file_path(number: int) -> str:
    """Where file ``number`` lives: 40 packages of 20 directories of 25 files each, mostly
    Python, some Markdown and JSON."""
    package, folder, item = number // 500, number // 25 % 20, number % 25
    suffix = ".md" if item == 24 else ".json" if item == 23 else ".py"
    return f"src/pkg{package:02d}/part{folder:02d}/m{number:05d}{suffix}"


def generate(bare: Path, files: int, env: dict[str, str]) -> list[str]:
    """A bare repository whose one commit on ``main`` has ``files`` files, written with
    ``git fast-import`` (seconds, not minutes); the paths, in order."""
    run_git(bare.parent, env, "init", "-q", "--bare", "-b", "main", bare.name)
    rng = random.Random(20)
    paths = [file_path(number) for number in range(files)]
    stream = bytearray(
        b"commit refs/heads/main\n"
        b"committer Gen <gen@example.test> 1700000000 +0000\n"
        b"data 10\nGenerated\n\n"
    )
    for path in [".gitignore", *paths]:
        text = "*.log\n__pycache__/\n" if path == ".gitignore" else module_text(rng, path)
        data = text.encode()
        stream += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
    stream += b"done\n"
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done"],
        cwd=bare,
        env=env,
        input=bytes(stream),
        check=True,
        capture_output=True,
    )
    return [".gitignore", *paths]


def clone(source: Path, target: Path, env: dict[str, str], who: str) -> Path:
    """A clone of ``source`` with its own identity in its config."""
    run_git(target.parent, env, "clone", "-q", str(source), target.name)
    run_git(target, env, "config", "user.name", who.capitalize())
    run_git(target, env, "config", "user.email", f"{who}@example.test")
    return target


def make_change(
    rng: random.Random, root: Path, untouched: list[str], count: int, turn: int
) -> Change:
    """``count`` files changed as a driver would in a turn: most edited, a few new files, a
    deletion or two. Each is taken out of ``untouched``, so no file changes twice in a run and
    every clone still has it as generated."""
    new = max(1, count // 12)
    deleted = max(1, count // 50) if count >= 10 else 0
    edited = count - new - deleted
    chosen = [untouched.pop(rng.randrange(len(untouched))) for _ in range(edited + deleted)]
    change: Change = {}
    for path in chosen[:edited]:
        lines = (root / path).read_text().splitlines(keepends=True)
        at = rng.randrange(1, len(lines))
        lines[at] = f"    {rng.choice(WORDS)} = {rng.choice(WORDS)}({turn})\n"
        lines.insert(at, f"    # turn {turn}: {' '.join(rng.sample(WORDS, 5))}\n")
        change[path] = "".join(lines).encode()
    for path in chosen[edited:]:
        change[path] = None
    for item in range(new):
        path = f"{Path(rng.choice(chosen)).parent}/new_t{turn}_{item}.py"
        change[path] = module_text(rng, path).encode()
    return change


def write_change(root: Path, change: Change) -> None:
    for path, data in change.items():
        full = root / path
        if data is None:
            full.unlink()
        else:
            full.parent.mkdir(parents=True, exist_ok=True)
            full.write_bytes(data)


def files_of(root: Path) -> dict[str, bytes]:
    """Every file of a working tree, outside .git."""
    found = {}
    for folder, dirs, names in os.walk(root):
        if ".git" in dirs:
            dirs.remove(".git")
        for name in names:
            full = Path(folder) / name
            found[str(full.relative_to(root))] = full.read_bytes()
    return found


def check_same(one: Path, other: Path, what: str) -> None:
    """The two working trees hold the same files with the same bytes."""
    first, second = files_of(one), files_of(other)
    if first != second:
        differ = sorted(set(first) ^ set(second)) or sorted(
            path for path in first if first[path] != second[path]
        )
        raise RuntimeError(f"{what}: the two clones differ, e.g. {differ[:5]}")


# -- mob.sh's path with plain git ----------------------------------------------------------------

BASELINE_STEPS = ("add --all", "commit", "push", "fetch", "merge --ff-only")


def start_wip(driver: Path, other: Path, env: dict[str, str]) -> None:
    """What ``mob start`` does once: the WIP branch, pushed and checked out on both clones."""
    run_git(driver, env, "checkout", "-q", "-b", WIP)
    run_git(driver, env, "push", "-q", "--set-upstream", "origin", WIP)
    run_git(other, env, "fetch", "-q", "origin")
    run_git(other, env, "checkout", "-q", "-b", WIP, "--track", f"origin/{WIP}")


def mob_next(driver: Path, receiver: Path, env: dict[str, str], turn: int) -> dict[str, float]:
    """``mob next`` on the driver's clone, ``mob start`` on the receiver's: each step's
    seconds."""
    steps = (
        (driver, ("add", "--all")),
        (driver, ("commit", "-q", "--no-verify", "-m", f"mob next [ci-skip] {turn}")),
        (driver, ("push", "-q", "--no-verify", "origin", WIP)),
        (receiver, ("fetch", "-q", "origin")),
        (receiver, ("merge", "-q", "--ff-only", f"origin/{WIP}")),
    )
    took = {}
    for name, (cwd, args) in zip(BASELINE_STEPS, steps, strict=True):
        started = time.perf_counter()
        run_git(cwd, env, *args)
        took[name] = time.perf_counter() - started
    return took


# -- pairup's path ---------------------------------------------------------------------------------


class Stopwatch:
    """Times the functions of pairup.git.handover as the handover service calls them, with
    how deeply each call is nested in another timed one (apply takes a snapshot first)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, float]] = []
        self.objects: list[int] = []
        self._local = threading.local()
        self._lock = threading.Lock()

    def install(self) -> None:
        for name in TIMED:
            setattr(git_handover, name, self._wrapped(name, getattr(git_handover, name)))

    def _wrapped(self, name: str, original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._local, "depth", 0)
            self._local.depth = depth + 1
            started = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self._local.depth = depth
                with self._lock:
                    self.calls.append((name, depth, time.perf_counter() - started))
            if isinstance(result, git_handover.Package):
                self.objects.append(result.objects)
            return result

        return timed

    def take_round(self) -> dict[tuple[str, int], float]:
        """Seconds per (function, depth) since the last call, and start afresh."""
        with self._lock:
            calls, self.calls = self.calls, []
        summed: dict[tuple[str, int], float] = defaultdict(float)
        for name, depth, seconds in calls:
            summed[name, depth] += seconds
        return summed


@dataclass
class Round:
    """One handover as both screens saw it: when each stage was reported."""

    rotated: float
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    """Participant to stage to when it was first reported."""


@asynccontextmanager
async def running_relay(data_dir: Path) -> AsyncIterator[str]:
    """A relay with the shipped limits on an ephemeral loopback port; its URL."""
    store = Store.open(data_dir / "relay.sqlite3")
    relay = Relay(store)
    server = await relay.start(LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://{LOOPBACK}:{port}"
    finally:
        await relay.stop(server)
        store.close()


class Pair:
    """Two participants with links, introductions and handover services, on one relay."""

    def __init__(self, scratch: Path, url: str, clones: dict[str, Path]) -> None:
        self.join = wire.JoinLink(
            url, secrets.token_urlsafe(9), secrets.token_bytes(wire.SECRET_BYTES)
        )
        self.scratch = scratch
        self.clones = clones
        self.links: dict[str, Link] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self.current: Round | None = None
        self.git_lock: dict[str, asyncio.Lock] = {}

    def add(self, name: str, *, host: bool = False) -> Link:
        link = Link(self.join, name, self.scratch / f"data-{name}", create=host)
        me = ev.Participant(id=name, name=name.capitalize(), email=f"{name}@example.test")
        settings = ev.SessionSettings(turn_seconds=24 * 3600) if host else None
        Introductions(link, me, settings)
        self.git_lock[name] = asyncio.Lock()
        service = Handovers(
            link,
            name,
            self.clones[name],
            CONFIG,
            git_lock=self.git_lock[name],
            report=functools.partial(self._stamp, name),
        )

        async def feed() -> None:
            while True:
                service.saw(await link.applied.get())

        self.tasks += [
            asyncio.create_task(link.run()),
            asyncio.create_task(service.run()),
            asyncio.create_task(feed()),
        ]
        self.links[name] = link
        return link

    def _stamp(self, name: str, news: News) -> None:
        now = time.perf_counter()
        if news.stage == "refused":
            raise RuntimeError(f"{name}: {news.text}")
        if self.current is not None:
            self.current.stages.setdefault(name, {}).setdefault(news.stage, now)

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            for task in self.tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise RuntimeError(f"while waiting until {what}") from task.exception()
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting until {what}")
            await asyncio.sleep(0.005)

    async def ask(self, name: str, command: dict[str, object]) -> None:
        link = self.links[name]
        await link.submit(command_event(command, link.view, name, link.now()))

    def holds_its_last(self, name: str) -> bool:
        """Everyone sees ``name`` hold the snapshot its clone last sent or received (so a
        sender leaves out what it already has, as in a session whose turns last minutes)."""
        repo = pygit2.Repository(str(self.clones[name]))
        expected = set(git_handover.holding(repo))
        return all(expected <= set(link.view.holding.get(name, ())) for link in self.links.values())

    async def hand_over(self, driver: str, receiver: str) -> Round:
        """Skip the turn and wait until the receiver's service says the code is applied."""
        self.current = Round(rotated=time.perf_counter())
        await self.ask(driver, {"cmd": "skip"})
        current = self.current
        await self.until(
            lambda: "applied" in current.stages.get(receiver, {}), f"{receiver} applied"
        )
        self.current = None
        await self.until(lambda: self.links[receiver].view.driver == receiver, "the rotation")
        return current

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Series:
    """Rounds of one kind: pairup's runs and the baseline's, and what pairup's were made of."""

    clean: bool
    """Each turn starts from a committed tree (else uncommitted work piles up, turn after
    turn)."""
    pairup: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    baseline_steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    stages: dict[tuple[str, int], list[float]] = field(default_factory=lambda: defaultdict(list))
    timeline: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    sizes: list[int] = field(default_factory=list)
    objects: list[int] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)


@dataclass
class Results:
    files: int
    changed: int
    series: list[Series] = field(default_factory=list)
    setup: dict[str, float] = field(default_factory=dict)


@contextmanager
def timed(results: Results, what: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    results.setup[what] = time.perf_counter() - started


def isolate(scratch: Path) -> dict[str, str]:
    """This process's git (the command line and libgit2) reads no config of this machine."""
    home = scratch / "home"
    (home / ".config").mkdir(parents=True)
    (home / "gitconfig").write_text("")
    env = git_env(home)
    os.environ.update(env)
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = str(home / "none")
    return env


def timeline(record: Round, driver: str, receiver: str) -> dict[str, float]:
    """Milliseconds of each leg of a handover, from the stages both screens were told of."""
    sent, got = record.stages.get(driver, {}), record.stages.get(receiver, {})
    marks = [
        ("rotation → packing starts (sender)", record.rotated, sent.get("packing")),
        ("packing → last part sent (take, package, parts)", sent.get("packing"), sent["offered"]),
        ("offer sent → applying starts (relay, receiver)", sent["offered"], got.get("applying")),
        ("applying → applied (unpack, apply, applied event)", got.get("applying"), got["applied"]),
    ]
    return {
        name: (end - start) * 1000
        for name, start, end in marks
        if start is not None and end is not None
    }


async def measure(scratch: Path, files: int, changed: int, rounds: int) -> Results:
    """``rounds`` handovers from a committed tree each, then ``rounds`` more with the work
    piling up uncommitted; the baseline beside each."""
    env = isolate(scratch)
    results = Results(files, changed)
    with timed(results, "generate"):
        paths = generate(scratch / "origin.git", files, env)
    with timed(results, "clone"):
        remote = scratch / "remote.git"
        run_git(scratch, env, "clone", "-q", "--bare", str(scratch / "origin.git"), remote.name)
        ours = {name: clone(scratch / "origin.git", scratch / name, env, name) for name in NAMES}
        theirs = {name: clone(remote, scratch / f"{name}-git", env, name) for name in NAMES}
    start_wip(theirs["ann"], theirs["bob"], env)
    watch = Stopwatch()
    watch.install()
    rng = random.Random(100)
    untouched = paths[1:]
    async with running_relay(scratch) as url:
        if not url.startswith(f"ws://{LOOPBACK}:"):
            raise RuntimeError(f"the relay is not on loopback: {url}")
        pair = Pair(scratch, url, ours)
        try:
            ann = pair.add("ann", host=True)
            await pair.until(lambda: ann.view.member("ann") is not None, "ann joined")
            bob = pair.add("bob")
            await pair.until(lambda: bob.view.driver == "ann", "ann drives")
            await pair.ask("ann", {"cmd": "start"})
            turn = 0
            for clean in (True, False):
                series = Series(clean)
                results.series.append(series)
                for number in range(rounds):
                    turn += 1
                    driver, receiver = NAMES[(turn - 1) % 2], NAMES[turn % 2]
                    if clean or number == 0:
                        commit_both(ours, env, turn)
                    await pair.until(lambda: all(map(pair.holds_its_last, NAMES)), "holding")
                    await pair.until(lambda d=driver: ann.view.driver == d, f"{driver} drives")
                    change = make_change(rng, ours[driver], untouched, changed, turn)
                    write_change(ours[driver], change)
                    write_change(theirs[driver], change)
                    watch.take_round()
                    if turn % 2:  # alternate which path goes first, should the machine drift
                        await baseline_round(series, theirs[driver], theirs[receiver], env, turn)
                    await pairup_round(series, pair, watch, driver, receiver)
                    if not turn % 2:
                        await baseline_round(series, theirs[driver], theirs[receiver], env, turn)
                    for root in (ours[receiver], theirs[receiver]):
                        check_change(root, change)
        finally:
            await pair.close()
    check_same(ours["ann"], ours["bob"], "pairup")
    check_same(theirs["ann"], theirs["bob"], "mob.sh's path")
    return results


def commit_both(clones: dict[str, Path], env: dict[str, str], turn: int) -> None:
    """The work both clones hold (the same, after a handover) committed in each, as one
    commit with the same name: as if the pair had committed it and shared it. Outside any
    timing; nothing when there is nothing to commit."""
    same = {
        **env,
        "GIT_AUTHOR_NAME": "Pair",
        "GIT_AUTHOR_EMAIL": "pair@example.test",
        "GIT_COMMITTER_NAME": "Pair",
        "GIT_COMMITTER_EMAIL": "pair@example.test",
        "GIT_AUTHOR_DATE": f"{1_700_000_000 + turn} +0000",
        "GIT_COMMITTER_DATE": f"{1_700_000_000 + turn} +0000",
    }
    heads = set()
    for root in clones.values():
        if run_git(root, env, "status", "--porcelain"):
            run_git(root, same, "add", "--all")
            run_git(root, same, "commit", "-q", "-m", f"The work of turn {turn - 1}")
        heads.add(run_git(root, env, "rev-parse", "HEAD"))
    if len(heads) != 1:
        raise RuntimeError("the two clones did not hold the same work to commit")


def check_change(root: Path, change: Change) -> None:
    """The receiver's clone has the driver's change."""
    for path, data in change.items():
        full = root / path
        if (full.read_bytes() if full.exists() else None) != data:
            raise RuntimeError(f"{full} did not come out as the driver had it")


async def pairup_round(
    results: Series, pair: Pair, watch: Stopwatch, driver: str, receiver: str
) -> None:
    record = await pair.hand_over(driver, receiver)
    results.pairup.append((record.stages[receiver]["applied"] - record.rotated) * 1000)
    for name, ms in timeline(record, driver, receiver).items():
        results.timeline[name].append(ms)
    for key, seconds in watch.take_round().items():
        results.stages[key].append(seconds * 1000)
    handover = pair.links[receiver].view.handovers_in_order()[-1]
    if handover.outcome != "applied":
        raise RuntimeError(f"the handover was {handover.outcome}: {handover.reason}")
    results.sizes.append(handover.size)
    results.objects.append(watch.objects[-1])
    results.moved.append(
        f"{handover.files} files, +{handover.insertions} -{handover.deletions}, "
        f"{handover.parts} part{'s' if handover.parts != 1 else ''}"
    )


async def baseline_round(
    results: Series, driver: Path, receiver: Path, env: dict[str, str], turn: int
) -> None:
    # In a thread, so the links keep talking to the relay meanwhile, as they would.
    took = await asyncio.to_thread(mob_next, driver, receiver, env, turn)
    results.baseline.append(sum(took.values()) * 1000)
    for name, seconds in took.items():
        results.baseline_steps[name].append(seconds * 1000)


def series_figure(series: Series, files: int, changed: int) -> Figure:
    if series.clean:
        name, note = "handover at a rotation", f"{changed} changed files"
    else:
        name, note = "handover, work piling up", f"{changed} more changed files each turn"
    return Figure(
        name=f"{name}, {files:,}-file repository",
        unit="ms",
        pairup=tuple(series.pairup),
        baseline=tuple(series.baseline),
        baseline_name="git commit, push, fetch, merge",
        goal=Goal(GOAL, on_ratio=True) if series.clean else None,
        decimals=0,
        note=note,
    )


def report(results: Results, figures: list[Figure], *, quick: bool) -> str:
    first = results.series[0]
    rounds = len(first.pairup)
    lines = [
        f"handover at a rotation, {results.files:,}-file repository (generated in "
        f"{results.setup['generate']:.1f} s, cloned 5 times in {results.setup['clone']:.1f} s), "
        f"{counted(rounds, 'turn')} of each kind, direction alternating"
    ]
    for series, figure in zip(results.series, figures, strict=True):
        lines += ["", *series_report(series, figure, results.changed, quick=quick)]
    return "\n".join(lines)


def series_report(series: Series, figure: Figure, changed: int, *, quick: bool) -> list[str]:
    median = statistics.median
    rounds = len(series.pairup)
    if series.clean:
        title = (
            f"{changed} files changed each turn from a committed tree (both clones commit "
            "the turn before's work between turns, outside the timing)"
        )
    else:
        title = f"{changed} more files changed each turn, nothing committed: the work piles up"
    ratio = f"ratio pairup/baseline {figure.ratio:.2f}"
    lines = [
        title,
        f"  pairup, rotation to applied      {figure.shown(figure.pairup)}",
        f"  mob.sh's path with plain git     {figure.shown(figure.baseline)}",
        f"  {ratio}  {verdict_text(figure, quick=quick)}".rstrip(),
        f"  handover size {median(series.sizes):,.0f} B (spread {min(series.sizes):,}-"
        f"{max(series.sizes):,}), {median(series.objects):.0f} objects "
        f"(spread {min(series.objects)}-{max(series.objects)}); last moved {series.moved[-1]}",
        "  pairup's time, leg by leg (median ms, as the screens were told):",
    ]
    lines += [f"    {median(ms):8.1f}  {name}" for name, ms in series.timeline.items()]
    git_work = [
        sum(series.stages[key, 0][index] for key in ("take", "package", "unpack", "apply"))
        for index in range(rounds)
    ]
    share = median(work / total for work, total in zip(git_work, series.pairup, strict=True))
    lines.append(
        f"  pairup's git work (median ms per handover, timed as it ran; in all {share:.0%} "
        "of the time from rotation to applied):"
    )
    for key, label in STAGE_LABELS.items():
        if key in series.stages:
            lines.append(f"    {median(series.stages[key]):8.1f}  {label}")
    lines.append("  the baseline, step by step (median ms):")
    lines += [f"    {median(ms):8.1f}  git {name}" for name, ms in series.baseline_steps.items()]
    lines.append("  turn by turn: pairup ms, baseline ms, handover objects and KiB")
    lines += [
        f"    {number:2d}  {pairup:6.0f} {baseline:6.0f} {objects:6d} {size / 1024:7.1f}"
        for number, (pairup, baseline, objects, size) in enumerate(
            zip(series.pairup, series.baseline, series.objects, series.sizes, strict=True),
            start=1,
        )
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description="handover at a rotation against mob.sh's path")
    add_options(parser, "1,000 files, 20 changed, 2 turns of each kind: only checks it works")
    args = parser.parse_args()
    files, changed, rounds = (1_000, 20, 2) if args.quick else (20_000, 100, 7)
    with tempfile.TemporaryDirectory(prefix="pairup-bench-handover-") as scratch:
        results = asyncio.run(measure(Path(scratch), files, changed, rounds))
    figures = [series_figure(series, files, changed) for series in results.series]
    print(report(results, figures, quick=args.quick))
    save(args.figures, figures)


if __name__ == "__main__":
    main()
