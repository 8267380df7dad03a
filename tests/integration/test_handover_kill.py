"""A handover's apply killed with SIGKILL at random moments, in a process of its own.

The receiver's clone is a copy of one prepared clone each time: the handover's objects are in
it already, and it holds stray work of its own (a change, a new file, an ignored file), so the
apply saves it first. The sender changed all 1,500 files (deleted some, changed modes), most in
a commit on the branch, some not committed, staged or not, and added new files. After each
kill, :func:`recover` must leave the working tree, the index, HEAD and the branch exactly as
before the apply or exactly as after it, never in between; the handover then applies again.
The delays are random, each in its own slice of one apply's duration, measured first.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from pairup.git import handover

from .test_git_commits import git, git_env, new_repo

FILES = 1500
KILLS = 8
SEED = 20

APPLY = """
import sys

import pygit2

from pairup.git import handover

repo = pygit2.Repository(sys.argv[1])
target = handover.read(repo, sys.argv[2])
print("go", flush=True)
handover.apply(repo, target, "killed")
print("done", flush=True)
"""


@dataclass(frozen=True)
class Prepared:
    receiver: Path
    """The receiver's clone with the handover's objects in, not applied: copied for each run."""
    target: handover.Snapshot
    before: handover.Snapshot
    env: dict[str, str]


def path_of(number: int) -> str:
    return f"d{number % 25}/e{number % 6}/f{number}.txt"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    top = tmp_path_factory.mktemp("kill")
    env = {
        **git_env(top),
        "GIT_AUTHOR_NAME": "Ann",
        "GIT_AUTHOR_EMAIL": "ann@example.test",
        "GIT_COMMITTER_NAME": "Ann",
        "GIT_COMMITTER_EMAIL": "ann@example.test",
    }
    sender = new_repo(top / "sender", env)
    (sender / ".gitignore").write_text("*.log\n")
    for number in range(FILES):
        file = sender / path_of(number)
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"line of {number}\n" * 10)
    git(sender, "add", "-A", env=env)
    git(sender, "commit", "-q", "-m", "Many files", env=env)
    receiver = top / "receiver"
    git(top, "clone", "-q", str(sender), str(receiver), env=env)

    # The driver's turn: every file changes, most in a commit on main, some not committed.
    for number in range(FILES):
        file = sender / path_of(number)
        if number % 50 == 0:
            file.unlink()
        else:
            file.write_text(f"changed {number}\n" * 10)
        if number % 100 == 1:
            file.chmod(0o755)
    git(sender, "add", "-A", env=env)
    git(sender, "commit", "-q", "-m", "During the turn", env=env)
    for number in range(0, FILES, 10):
        (sender / path_of(number + 3)).write_text(f"not committed {number}\n")
    for number in range(100):
        (sender / "new" / f"n{number % 4}").mkdir(parents=True, exist_ok=True)
        (sender / "new" / f"n{number % 4}" / f"{number}.bin").write_bytes(bytes([number]) * 300)
    git(sender, "add", "d0", "new/n0", env=env)

    # The navigator's own work, saved before the apply and kept.
    (receiver / path_of(7)).write_text("the navigator's line\n")
    (receiver / "notes.txt").write_text("the navigator's notes\n")
    (receiver / "build.log").write_text("ignored, never touched\n")

    driver = pygit2.Repository(str(sender))
    clone = pygit2.Repository(str(receiver))
    target = handover.take(driver, "turn")
    package = handover.package(driver, target, handover.holding(clone), 100 << 20)
    handover.unpack(clone, package.data, target.commit)
    # Packed, so that each copy is quick: a ref keeps the handover's objects in the pack.
    git(receiver, "update-ref", "refs/test/handover", target.commit, env=env)
    git(receiver, "repack", "-a", "-d", "-q", env=env)
    git(receiver, "update-ref", "-d", "refs/test/handover", env=env)
    before = handover.take(clone, "before")
    assert before.key != target.key
    return Prepared(receiver, target, before, env)


def copy(prepared: Prepared, where: Path) -> Path:
    shutil.copytree(prepared.receiver, where, symlinks=True)
    return where


def start(repo: Path, prepared: Prepared) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", APPLY, str(repo), prepared.target.commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=prepared.env,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "go\n", process.stderr.read() if process.stderr else ""
    return process


def state(repo: Path) -> tuple[object, ...]:
    """The working tree, the index, HEAD and the branch, as a snapshot's key."""
    return handover.take(pygit2.Repository(str(repo)), "now").key


def test_an_apply_killed_at_any_moment_is_undone_or_done_and_applies_again(
    prepared: Prepared, tmp_path: Path
) -> None:
    timed = copy(prepared, tmp_path / "timed")
    process = start(timed, prepared)
    began = time.monotonic()
    out, err = process.communicate(timeout=120)
    duration = time.monotonic() - began
    assert process.returncode == 0, err
    assert out == "done\n"
    assert state(timed) == prepared.target.key

    rng = random.Random(SEED)
    outcomes: list[str] = []
    for kill in range(KILLS):
        repo = copy(prepared, tmp_path / f"kill-{kill}")
        delay = duration * (kill + rng.random()) / KILLS
        process = start(repo, prepared)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=120)

        clone = pygit2.Repository(str(repo))
        recovered = handover.recover(clone)
        now = state(repo)
        where = f"kill {kill} after {delay:.3f}s of {duration:.3f}s"
        assert now in (prepared.before.key, prepared.target.key), where
        assert not (Path(clone.path) / handover.MARKER).exists(), where
        assert handover.APPLYING_REF not in clone.references, where
        assert (repo / "build.log").read_text() == "ignored, never touched\n", where
        outcomes.append(
            "undone" if recovered else "after" if now == prepared.target.key else "before"
        )

        handover.apply(clone, prepared.target, "again")
        assert state(repo) == prepared.target.key, where
        saved = [name for name in clone.references if name.startswith(handover.SAVED_PREFIX)]
        assert saved, where
        for name in saved:
            kept = handover.read(clone, str(clone.references[name].target))
            assert kept.key == prepared.before.key, (where, name)

    assert "undone" in outcomes, outcomes


def test_git_agrees_the_recovered_tree_is_the_one_before(
    prepared: Prepared, tmp_path: Path
) -> None:
    """Killed as soon as the first files changed, then git's own view: status, diffs and
    files as they were."""
    reference = copy(prepared, tmp_path / "reference")
    repo = copy(prepared, tmp_path / "killed")
    status = git(reference, "status", "--porcelain", "--untracked-files=all", env=prepared.env)
    first = repo / path_of(25)
    was = first.read_bytes()
    process = start(repo, prepared)
    deadline = time.monotonic() + 60
    while first.exists() and first.read_bytes() == was:
        assert process.poll() is None, "the apply ended before a file changed"
        assert time.monotonic() < deadline
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=120)

    assert handover.recover(pygit2.Repository(str(repo))) is not None
    assert git(repo, "status", "--porcelain", "--untracked-files=all", env=prepared.env) == status
    assert git(repo, "diff", env=prepared.env) == git(reference, "diff", env=prepared.env)
    assert git(repo, "diff", "--cached", env=prepared.env) == git(
        reference, "diff", "--cached", env=prepared.env
    )
    assert (repo / path_of(7)).read_text() == "the navigator's line\n"
    assert (repo / "notes.txt").read_text() == "the navigator's notes\n"
    for number in (0, 1, 2, 50, 101, FILES - 1):
        assert (repo / path_of(number)).read_bytes() == (reference / path_of(number)).read_bytes()
        assert os.access(repo / path_of(number), os.X_OK) == os.access(
            reference / path_of(number), os.X_OK
        )


KILLED_HOLDING_THE_INDEX_LOCK = """
import os
import signal
import sys
from pathlib import Path

import pygit2

from pairup.git import handover

repo = pygit2.Repository(sys.argv[1])


def killed_while_writing(index: pygit2.Index) -> None:
    (Path(repo.path) / "index.lock").write_bytes(b"")
    os.kill(os.getpid(), signal.SIGKILL)


pygit2.Index.write = killed_while_writing
handover.apply(repo, handover.read(repo, sys.argv[2]), "killed")
"""


def test_an_apply_killed_holding_the_index_lock_is_undone(
    prepared: Prepared, tmp_path: Path
) -> None:
    """The kill lands in libgit2's index write, deterministically: the files are the
    handover's, git's lock file is left behind."""
    repo = copy(prepared, tmp_path / "killed")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_HOLDING_THE_INDEX_LOCK, str(repo), prepared.target.commit],
        capture_output=True,
        text=True,
        env=prepared.env,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert (repo / ".git" / "index.lock").exists()

    handover.recover(pygit2.Repository(str(repo)))

    assert state(repo) == prepared.before.key
    assert not (repo / ".git" / "index.lock").exists()
    again = pygit2.Repository(str(repo))
    handover.apply(again, handover.read(again, prepared.target.commit), "again")
    assert state(repo) == prepared.target.key
