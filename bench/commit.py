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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text
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


def commit_figures(files: int, rounds: int, scratch: Path) -> tuple[list[Figure], str]:
    """The commit figure, and a report of both commands' times."""
    home = scratch / "home"
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
    repo = scratch / "repo"
    repo.mkdir()
    generate(repo, files, env)
    host = subprocess.Popen(
        [str(PAIRUP), "start", "--headless", "--name", "Ann", "--email", "ann@example.test"],
        cwd=repo,
        env={
            **env,
            "PAIRUP_DATA_DIR": str(scratch / "data"),
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
    figure = Figure(
        name=f"pairup commit, {files:,}-file repository",
        unit="ms",
        pairup=tuple(timings["pairup"]),
        baseline=tuple(timings["git"]),
        baseline_name="git commit",
        goal=Goal(GOAL, on_ratio=True),
        decimals=1,
        note="one changed file",
    )
    report = [
        f"commit of one changed file in a {files:,}-file repository, "
        f"{counted(rounds, 'commit')} with each",
        f"  git commit      {figure.shown(timings['git'])}",
        f"  pairup commit   {figure.shown(timings['pairup'])}",
        f"  ratio pairup/git {figure.ratio:.2f}  ",
    ]
    return [figure], "\n".join(report)


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup commit against git commit")
    add_options(parser, "500 files, 2 commits each: only checks the benchmark still works")
    args = parser.parse_args()
    files, rounds = (500, 2) if args.quick else (20_000, 15)
    with tempfile.TemporaryDirectory() as scratch:
        figures, report = commit_figures(files, rounds, Path(scratch))
    print(report + verdict_text(figures[0], quick=args.quick))
    save(args.figures, figures)


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
            timings[kind].append(run(filled, repo, env) * 1000)
    return timings


if __name__ == "__main__":
    main()
