"""``pairup commit`` against ``git commit`` on a generated repository of 20,000 files.

Each round changes one file, stages it with ``git add``, and commits it, alternating between
the two commands so both see the same machine; the figure is the wall time of the whole
command, process start included. pairup needs a live session to credit: the benchmark starts
a headless participant in the repository (with its relay on loopback), as a pair would have,
and ``pairup commit`` hands the commit to it.

    python -m bench.commit            # 20,000 files, 15 commits with each
    python -m bench.commit --quick    # 500 files, 2 commits each: only checks it still works
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pairup.git.live import git_dirs, read_live

PAIRUP = Path(sys.executable).with_name("pairup")
GOAL = 1.0


def run(command: list[str], repo: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=repo, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def generate(repo: Path, files: int, env: dict[str, str]) -> None:
    """``files`` small files in directories of 100, committed once."""
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, env=env, check=True)
    for number in range(files):
        path = repo / f"src/d{number // 100:03d}/f{number:05d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {number}\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Generated"], cwd=repo, env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup commit against git commit")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    files, rounds = (500, 2) if args.quick else (20_000, 15)
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_AUTHOR_NAME": "Ann",
            "GIT_AUTHOR_EMAIL": "ann@example.test",
            "GIT_COMMITTER_NAME": "Ann",
            "GIT_COMMITTER_EMAIL": "ann@example.test",
        }
        repo = Path(scratch) / "repo"
        repo.mkdir()
        generate(repo, files, env)
        host = subprocess.Popen(
            [str(PAIRUP), "start", "--headless", "--name", "Ann", "--email", "ann@example.test"],
            cwd=repo,
            env={
                **env,
                "PAIRUP_DATA_DIR": str(Path(scratch) / "data"),
                "PAIRUP_RELAY_HOST": "127.0.0.1",
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for_live_session(repo)
            timings = measure(repo, env, rounds)
        finally:
            host.terminate()
            host.wait(timeout=10)
    report(timings, files, rounds, quick=args.quick)


def wait_for_live_session(repo: Path) -> None:
    dirs = git_dirs(repo)
    assert dirs is not None
    deadline = time.monotonic() + 30
    while (live := read_live(dirs[1])) is None or not live.socket:
        if time.monotonic() > deadline:
            raise RuntimeError("the headless participant never went live in the repository")
        time.sleep(0.05)


def measure(repo: Path, env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    commands = {
        "git": [
            "git",
            "commit",
            "-q",
            "-m",
            "Change {n}\n\nCo-authored-by: Bob <bob@example.test>",
        ],
        "pairup": [str(PAIRUP), "commit", "-m", "Change {n}"],
    }
    timings: dict[str, list[float]] = {"git": [], "pairup": []}
    changed = repo / "src/d000/f00000.txt"
    for number in range(rounds):
        for kind, command in commands.items():
            changed.write_text(f"{kind} {number}\n")
            subprocess.run(["git", "add", str(changed)], cwd=repo, env=env, check=True)
            filled = [part.replace("{n}", str(number)) for part in command]
            timings[kind].append(run(filled, repo, env))
    return timings


def report(timings: dict[str, list[float]], files: int, rounds: int, *, quick: bool) -> None:
    git, ours = (statistics.median(timings[kind]) for kind in ("git", "pairup"))
    print(f"commit of one changed file in a {files:,}-file repository, median of {rounds} each")
    for name, kind in (("git commit", "git"), ("pairup commit", "pairup")):
        low, high = min(timings[kind]) * 1000, max(timings[kind]) * 1000
        median = statistics.median(timings[kind]) * 1000
        print(f"  {name:<14} {median:6.1f} ms  (spread {low:.0f}-{high:.0f} ms)")
    ratio = ours / git
    verdict = (
        "quick mode: not judged"
        if quick
        else (f"goal <= {GOAL}: {'met' if ratio <= GOAL else 'MISSED'}")
    )
    print(f"  ratio pairup/git {ratio:.2f}  ({verdict})")


if __name__ == "__main__":
    main()
