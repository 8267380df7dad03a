"""A recorded session and a repository to export it into, made in a test's own directory.

The session is a real journal of real events (folded by the export as any other), timed on a
fake clock; the repository is a real git repository made with pygit2, with its own identity in
its own config, so nothing depends on the home directory or the machine's git config.
"""

import itertools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pygit2
import pytest

from pairup.journal import Journal, JournalInfo, journal_path, read_info
from pairup.session import events as ev

T0 = 1_795_683_600  # 2026-11-26 09:00 UTC


class Clock:
    """Events with increasing ids, ``at`` seconds after ``T0``."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def __call__(self, cls: type, at: float, actor: str = "ann", **fields: object) -> ev.Event:
        return cls(id=f"evt-{next(self.ids):06d}", actor=actor, at=T0 + at, **fields)


def make_repo(path: Path) -> pygit2.Repository:
    """A repository with one commit, whose identity is set in its own config."""
    repo = pygit2.init_repository(str(path), initial_head="main")
    repo.config["user.name"] = "Ann"
    repo.config["user.email"] = "ann@example.test"
    commit_file(repo, "README.md", "# demo\n", "Start")
    return repo


def commit_file(repo: pygit2.Repository, name: str, text: str, message: str) -> str:
    """Commit ``name`` holding ``text`` on the current branch; the new commit's sha."""
    workdir = Path(repo.workdir)
    (workdir / name).write_text(text, encoding="utf-8")
    repo.index.add(name)
    repo.index.write()
    tree = repo.index.write_tree()
    signature = pygit2.Signature("Ann", "ann@example.test", int(T0), 0)
    parents = [] if repo.head_is_unborn else [repo.head.target]
    return str(repo.create_commit("HEAD", signature, signature, message, tree, parents))


def record_session(
    data_dir: Path, session_id: str, events: Sequence[ev.Event], *, more: bool = False
) -> JournalInfo:
    """The journal of ``session_id`` holding ``events`` (added to it when ``more``)."""
    path = journal_path(data_dir, session_id)
    journal = Journal.open(path) if more else Journal.create(data_dir, session_id, created_at=T0)
    with journal:
        journal.append_many(events)
    return read_info(path)


def adr_tools(repo: Path, home: Path, *args: str) -> str:
    """adr-tools run in ``repo`` with a home of the test's own; its standard output."""
    adr = shutil.which("adr")
    if adr is None:
        if os.environ.get("CI"):
            pytest.fail("adr-tools is missing; bash .ci/run installs it")
        pytest.skip("adr-tools is not installed")
    environment = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "EDITOR": "true"}
    done = subprocess.run(
        [adr, *args], cwd=repo, env=environment, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
