"""``pairup why`` and ``pairup stats`` on a repository of 5,000 commits and 200 recorded
sessions (goal: ``why`` well under a second).

The repository is generated with ``git fast-import``: 5,000 commits by six people, each
changing a few lines of one to three files in ten top-level directories. The sessions are
real ones: for each, the events a pair or a mob would publish (joins, the rules, turns,
pauses and rotations, a break, decisions agreed with and objected to, one superseded, lessons, and a
``commit.recorded`` for each of five consecutive commits of the repository), each checked by
the real core as it is made, folded, and written where ``pairup export`` writes them: the JSON
log in ``.pairup/sessions`` and each decision as an adr-tools ADR with pairup's marker.
Beside them, this machine's journals of sessions no log holds, one in ten of as many again
each: sessions held in the repository before it was moved (their header names another path;
their commits, reachable from its branch, say they are this repository's) and sessions of
another repository (commits this one does not hold).

Each figure is timed cold (no cache: the history reads and folds every log, git is asked
which files the commits touched and walks the history for the commits its refs reach) and
warm (the caches from the run before, the refs unchanged), in this process
(``pairup.cli.main``, modules already loaded) and through the real ``pairup`` command in a
subprocess, start-up included. ``why`` asks about a line whose commit a session recorded, a
different one each run. Beside them, one line's blame by ``git blame --porcelain -L N,N``
against libgit2's (pygit2), which is how pairup chose the git command line.

    python -m bench.history            # 5,000 commits, 200 sessions, 5 runs of each
    python -m bench.history --quick    # 300 commits, 12 sessions, 2 runs: still works?
"""

import argparse
import contextlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import ConfigLevel

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text
from pairup.adr.render import facts, render_json
from pairup.adr.write import export_decisions
from pairup.cli import main as pairup_main
from pairup.history.gather import CACHE_FILE
from pairup.history.git import FILES_CACHE, HELD_CACHE
from pairup.journal import Journal
from pairup.session import State, step
from pairup.session import events as ev

PAIRUP = Path(sys.executable).with_name("pairup")
GOAL = 0.5
"""Seconds for ``pairup why`` through the command line, warm: "well under a second"."""
TOP_DIRECTORIES = (
    "api",
    "cli",
    "core",
    "docs",
    "infra",
    "relay",
    "storage",
    "tests",
    "tui",
    "web",
)
PEOPLE = [
    ev.Participant(id=f"p{i}", name=name, email=f"{name.lower()}@example.test")
    for i, name in enumerate(("Ann", "Bob", "Carol", "Dan", "Eve", "Femi"))
]
START = 1_790_000_000.0  # 2026-09-21
COMMITS_PER_SESSION = 5
WORDS = ("relay", "turn", "driver", "commit", "session", "journal", "rotate", "break", "lesson")


@dataclass(frozen=True, slots=True)
class Made:
    """The generated repository and what the benchmark asks about."""

    repo: Path
    data_dir: Path
    env: dict[str, str]
    targets: list[tuple[str, int]]
    """Lines (file, number) whose commit a session recorded."""
    commits: int
    sessions: int
    journals: int
    events: int


# -- the repository ----------------------------------------------------------------------------


def isolate(scratch: Path) -> dict[str, str]:
    """Git, libgit2 and pairup read nothing of this machine's config or data."""
    home = scratch / "home"
    (home / ".config").mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "PAIRUP_DATA_DIR": str(scratch / "data"),
        "LANG": "C.UTF-8",
    }
    for key in [key for key in os.environ if key.startswith(("PAIRUP_", "GIT_"))]:
        del os.environ[key]
    os.environ.update(env)
    for level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
        pygit2.settings.search_path[level] = str(home / "none")
    return env


def module_lines(rng: random.Random, count: int) -> list[str]:
    return [
        f"{rng.choice(WORDS)}_{index} = {rng.choice(WORDS)}({rng.randrange(1000)})"
        for index in range(count)
    ]


def generate_repository(
    repo: Path, env: dict[str, str], commits: int, rng: random.Random
) -> list[str]:
    """A working tree with ``commits`` commits on ``main``; their shas, oldest first."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    for key, value in (("user.name", "Bench"), ("user.email", "bench@example.test")):
        subprocess.run(["git", "config", key, value], cwd=repo, env=env, check=True)
    files = {
        f"{top}/{sub}/m{number:02d}.py": module_lines(rng, rng.randrange(40, 120))
        for top in TOP_DIRECTORIES
        for sub in ("a", "b")
        for number in range(10)
    }
    paths = sorted(files)
    stream = bytearray()
    for number in range(1, commits + 1):
        who = PEOPLE[number % len(PEOPLE)]
        at = int(START + number * 600)
        message = f"Change {number}: {rng.choice(WORDS)} {rng.choice(WORDS)}\n".encode()
        stream += (
            f"commit refs/heads/main\nmark :{number}\n"
            f"author {who.name} <{who.email}> {at} +0000\n"
            f"committer {who.name} <{who.email}> {at} +0000\n"
            f"data {len(message)}\n"
        ).encode() + message
        if number > 1:
            stream += f"from :{number - 1}\n".encode()
        changed = paths if number == 1 else rng.sample(paths, rng.randrange(1, 4))
        for path in changed:
            lines = files[path]
            if number > 1:
                for _ in range(rng.randrange(1, 6)):
                    lines[rng.randrange(len(lines))] = f"{rng.choice(WORDS)} = {number}"
            data = ("\n".join(lines) + "\n").encode()
            stream += f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"
        stream += b"\n"
    marks = repo / ".git" / "bench-marks"
    subprocess.run(
        ["git", "fast-import", "--quiet", f"--export-marks={marks}"],
        cwd=repo,
        env=env,
        input=bytes(stream),
        check=True,
    )
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit-graph", "write", "--reachable"], cwd=repo, env=env, check=True)
    shas = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        shas[int(mark[1:])] = sha
    marks.unlink()
    return [shas[number] for number in range(1, commits + 1)]


# -- the sessions ------------------------------------------------------------------------------


class Session:
    """The events of one session, each checked by the core as it is made."""

    def __init__(self, number: int, at: float) -> None:
        self.number = number
        self.at = at
        self.events: list[ev.Event] = []
        self.state = State()

    def add(self, cls: type, actor: str, **fields: object) -> None:
        seq = len(self.events) + 1
        event = cls(
            id=f"s{self.number:04d}-{seq:06d}",
            actor=actor,
            at=self.at,
            seq=seq,
            stamped_at=self.at,
            **fields,
        )
        done = step(self.state, event)
        if done.rejected is not None:
            raise RuntimeError(f"session {self.number}: {event.kind} refused: {done.rejected}")
        self.events.append(event)
        self.state = done.state

    def later(self, seconds: float) -> None:
        self.at += seconds


def make_session(number: int, rng: random.Random, shas: list[str], first_commit: int) -> Session:
    """A session of two to four people: turns with pauses, a break, three decisions with
    opinions (one superseding another), a lesson, and ``COMMITS_PER_SESSION`` commits
    recorded."""
    commit_at = START + (first_commit + 1) * 600
    session = Session(number, commit_at - 1200)
    people = rng.sample(PEOPLE, rng.randrange(2, 5))
    host = people[0].id
    session.add(ev.ParticipantJoined, host, participant=people[0])
    session.add(
        ev.SessionOpened,
        host,
        settings=ev.SessionSettings(turn_seconds=600, break_every=3, break_seconds=300),
        title=f"Session {number}",
    )
    for person in people[1:]:
        session.later(rng.uniform(5, 60))
        session.add(ev.ParticipantJoined, person.id, participant=person)
    session.add(ev.TurnStarted, host, turn=1)
    decided: list[str] = []
    recorded = 0
    for moment in range(12):
        session.later(rng.uniform(60, 200))
        state = session.state
        member = rng.choice(state.here).id
        if moment in (1, 4, 7):
            decision_id = f"d{number:04d}x{len(decided) + 1:03d}"
            session.add(
                ev.DecisionRecorded,
                member,
                decision_id=decision_id,
                title=f"{rng.choice(WORDS).capitalize()} the {rng.choice(WORDS)} in {number}",
                context="What we found while pairing.",
                decision="We will do it this way.",
            )
            decided.append(decision_id)
            for other in state.here:
                if other.id != member:
                    stance = "agree" if rng.random() < 0.8 else "object"
                    session.add(
                        ev.DecisionOpinion,
                        other.id,
                        decision_id=decision_id,
                        stance=stance,
                        why="Fits what we saw.",
                    )
            if len(decided) == 3:
                old = session.state.decisions[decided[0]]
                session.add(
                    ev.DecisionSuperseded, old.proposed_by, decision_id=old.id, by=decision_id
                )
        elif recorded < COMMITS_PER_SESSION and moment >= 2:
            sha = shas[first_commit + recorded]
            author, *others = [member.participant for member in state.here]
            session.add(
                ev.CommitRecorded,
                member,
                sha=sha,
                summary=f"Change {first_commit + recorded + 1}",
                author=ev.Person(name=author.name, email=author.email),
                co_authors=tuple(ev.Person(name=p.name, email=p.email) for p in others),
            )
            recorded += 1
        for _ in range(rng.randrange(0, 10) if session.state.phase == "running" else 0):
            session.add(ev.TimerPaused, member, turn=session.state.turn)
            session.later(rng.uniform(5, 30))
            session.add(ev.TimerResumed, member, turn=session.state.turn)
        if session.state.phase == "running":
            session.add(ev.TurnSkipped, member, turn=session.state.turn)
            if session.state.phase == "break":
                session.later(300)
                session.add(ev.BreakEnded, member, turn=session.state.turn)
    session.later(30)
    session.add(ev.LessonNoted, people[-1].id, text="Say the plan before typing.")
    session.add(ev.SessionEnded, host)
    return session


def record_sessions(
    repo: Path, shas: list[str], count: int, rng: random.Random
) -> tuple[list[tuple[str, int]], int]:
    """``count`` sessions exported into ``repo`` as ``pairup export`` writes them: the JSON log
    and an adr-tools ADR per decision. The lines whose commits they recorded, and the number of
    events written."""
    records = repo / ".pairup" / "sessions"
    records.mkdir(parents=True)
    adrs = repo / "doc" / "adr"
    stride = len(shas) // count
    session_commits: list[str] = []
    events = 0
    for number in range(count):
        session = make_session(number, rng, shas, number * stride + 1)
        session_id = f"bench-{number:04d}"
        about = facts(session.state, session_id)
        (records / f"{about.file_date}-{session_id}.json").write_text(
            render_json(session.events), encoding="utf-8"
        )
        export_decisions(adrs, "adr", session.state, about)
        session_commits += [c.sha for c in session.state.commits_in_order()]
        events += len(session.events)
    return blamed_by_sessions(repo, set(session_commits)), events


def blamed_by_sessions(repo: Path, recorded: set[str]) -> list[tuple[str, int]]:
    """Lines of the working tree whose last change a session recorded: what ``why`` asks."""
    found = []
    for top in TOP_DIRECTORIES:
        path = f"{top}/a/m00.py"
        out = subprocess.run(
            ["git", "blame", "--porcelain", "--", path],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for row in out.splitlines():
            parts = row.split()
            if len(parts) >= 3 and len(parts[0]) == 40 and parts[0] in recorded:
                found.append((path, int(parts[2])))
                break
    if not found:
        raise RuntimeError("no line of the sample files was last changed in a session")
    return found


def journal_sessions(
    data_dir: Path, shas: list[str], count: int, first: int, rng: random.Random
) -> int:
    """``count`` sessions held in the repository before it was moved, and ``count`` of another
    repository, as this machine's journals; the events written. The first record commits of
    the repository that no logged session recorded (the sixth to tenth of each stretch)."""
    stride = len(shas) // count
    theirs = [f"{rng.getrandbits(160):040x}" for _ in range(count * stride)]
    events = 0
    for index in range(count * 2):
        moved = index < count
        at = (index % count) * stride + 1 + COMMITS_PER_SESSION
        session = make_session(first + index, rng, shas if moved else theirs, at)
        where = "/home/ann/before-the-move/repo" if moved else "/home/ann/another-repo"
        with Journal.create(
            data_dir, f"journal-{index:04d}", created_at=session.at, meta={"repository": where}
        ) as journal:
            journal.append_many(session.events)
        events += len(session.events)
    return events


def make(scratch: Path, commits: int, sessions: int) -> Made:
    env = isolate(scratch)
    rng = random.Random(21)
    repo = scratch / "repo"
    shas = generate_repository(repo, env, commits, rng)
    targets, events = record_sessions(repo, shas, sessions, rng)
    each = max(1, sessions // 10)
    events += journal_sessions(scratch / "data", shas, each, sessions, rng)
    return Made(repo, scratch / "data", env, targets, commits, sessions, 2 * each, events)


# -- timing ------------------------------------------------------------------------------------


def forget(made: Made) -> None:
    """Remove the caches: the next run is cold."""
    (made.data_dir / CACHE_FILE).unlink(missing_ok=True)
    (made.repo / ".git" / FILES_CACHE).unlink(missing_ok=True)
    (made.repo / ".git" / HELD_CACHE).unlink(missing_ok=True)


def in_process(args: list[str]) -> float:
    quiet = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(quiet):
        code = pairup_main(args)
    took = time.perf_counter() - started
    if code != 0:
        raise RuntimeError(f"pairup {' '.join(args)} exited {code}")
    return took


def through_cli(made: Made, args: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(PAIRUP), *args], cwd=made.repo, env=made.env, capture_output=True, check=False
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"pairup {' '.join(args)}: {done.stderr.decode()}")
    return took


def series(
    made: Made, runs: int, run: Callable[[list[str]], float], args: Callable[[int], list[str]]
) -> tuple[list[float], list[float]]:
    """Cold and warm timings of ``runs`` runs each."""
    cold, warm = [], []
    for index in range(runs):
        forget(made)
        cold.append(run(args(index)))
        warm.append(run(args(index)))
    return cold, warm


def blame_figure(made: Made, runs: int) -> Figure:
    """One line's blame: the git command line against libgit2."""
    repository = pygit2.Repository(str(made.repo))
    cli, libgit2 = [], []
    for index in range(runs):
        path, line = made.targets[index % len(made.targets)]
        started = time.perf_counter()
        subprocess.run(
            ["git", "blame", "--porcelain", "-L", f"{line},{line}", "--", path],
            cwd=made.repo,
            env=made.env,
            capture_output=True,
            check=True,
        )
        cli.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        hunks = repository.blame(path, min_line=line, max_line=line)
        libgit2.append((time.perf_counter() - started) * 1000)
        if not len(hunks):
            raise RuntimeError("libgit2 found no hunk")
    return Figure(
        name="one line's blame: git blame --porcelain -L N,N",
        unit="ms",
        pairup=tuple(cli),
        baseline=tuple(libgit2),
        baseline_name="pygit2 blame",
        decimals=0,
    )


def measure(
    made: Made, runs: int
) -> tuple[list[Figure], dict[str, tuple[list[float], list[float]]]]:
    def why(index: int) -> list[str]:
        path, line = made.targets[index % len(made.targets)]
        return ["why", f"{path}:{line}", "--repo", str(made.repo)]

    def stats(index: int) -> list[str]:
        return ["stats", "--repo", str(made.repo)]

    measured = {
        "pairup why PATH:LINE, in process": series(made, runs, in_process, why),
        "pairup stats, in process": series(made, runs, in_process, stats),
        "pairup why PATH:LINE, command line": series(
            made, runs, lambda args: through_cli(made, args), why
        ),
        "pairup stats, command line": series(
            made, runs, lambda args: through_cli(made, args), stats
        ),
    }
    scale = f"{made.commits:,} commits, {made.sessions} sessions"
    figures = []
    for name, (cold, warm) in measured.items():
        for kind, runs_of in (("cold", cold), ("warm", warm)):
            goal = Goal(GOAL) if name.startswith("pairup why") and "command" in name else None
            figures.append(
                Figure(
                    name=f"{name}, {kind} ({scale})",
                    unit="s",
                    pairup=tuple(runs_of),
                    goal=goal if kind == "warm" else None,
                    decimals=3,
                )
            )
    figures.append(blame_figure(made, runs * 2))
    return figures, measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_options(parser, "300 commits, 12 sessions, 2 runs: only checks the benchmark still works")
    args = parser.parse_args()
    commits, sessions, runs = (300, 12, 2) if args.quick else (5_000, 200, 5)
    with tempfile.TemporaryDirectory(prefix="pairup-bench-history-") as scratch:
        started = time.perf_counter()
        made = make(Path(scratch), commits, sessions)
        setup = time.perf_counter() - started
        logs = sum(p.stat().st_size for p in (made.repo / ".pairup" / "sessions").iterdir())
        print(
            f"repository: {counted(made.commits, 'commit')} in {len(TOP_DIRECTORIES)} top-level "
            f"directories; {counted(made.sessions, 'session')} recorded "
            f"({logs / 1e6:.1f} MB of JSON logs) and {counted(made.journals, 'journal')} "
            f"of this machine ({made.events:,} events in all), "
            f"{counted(len(list((made.repo / 'doc' / 'adr').glob('*.md'))), 'ADR')}; "
            f"made in {setup:.1f} s"
        )
        figures, _ = measure(made, runs)
        for figure in figures:
            print(f"  {figure.name}")
            if figure.baseline:
                print(f"    git command line  {figure.shown(figure.pairup)}")
                print(f"    {figure.baseline_name:<17} {figure.shown(figure.baseline)}")
            else:
                line = f"    {figure.shown(figure.pairup)}"
                verdict = verdict_text(figure, quick=args.quick)
                print(f"{line}  {verdict}" if verdict else line)
        shutil.rmtree(made.repo, ignore_errors=True)
    save(args.figures, figures)


if __name__ == "__main__":
    main()
