"""The live-session file, .git-coauthors and the hook's installation, in real repositories."""

import os
import socket
import subprocess
from pathlib import Path

import pytest

from pairup.git.coauthors import FILE_NAME, corrected, known_emails, unusable
from pairup.git.hook import CHAINED, NAME, HookError, install, uninstall
from pairup.git.live import LIVE_FILE, LiveSession, git_dirs, read_live, remove_live, write_live
from pairup.git.trailers import Person


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Git here, and in the code under test, reads no config but the repository's own, and no
    inherited ``GIT_*`` variable (a git hook that runs the tests sets ``GIT_DIR`` and
    ``GIT_INDEX_FILE``, which would point git at the outer repository)."""
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)
    isolated = {
        "HOME": str(tmp_path / "home"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for key, value in isolated.items():
        monkeypatch.setenv(key, value)
    return dict(os.environ)


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def repository(path: Path, env: dict[str, str]) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "config", "user.name", "Ann", env=env)
    git(path, "config", "user.email", "ann@example.test", env=env)
    git(path, "commit", "-q", "--allow-empty", "-m", "Start", env=env)
    return path


def live(pid: int) -> LiveSession:
    return LiveSession(
        session="s1",
        participant="ann",
        me=Person("Ann", "ann@example.test"),
        co_authors=(Person("Bob", "bob@example.test"),),
        pid=pid,
        host=socket.gethostname(),
    )


def test_git_dirs_finds_the_repository_from_a_subdirectory_and_a_worktree(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = repository(tmp_path / "repo", env)
    (repo / "src" / "deep").mkdir(parents=True)
    assert git_dirs(repo / "src" / "deep", env={}) == ((repo / ".git"), (repo / ".git"))
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), env=env)
    found = git_dirs(tmp_path / "wt", env={})
    assert found is not None
    assert found[1] == (repo / ".git").resolve()
    assert found[0] != found[1]
    outside = tmp_path / "outside"
    outside.mkdir()
    assert git_dirs(outside, env={}) is None


def test_the_live_file_is_read_back_only_while_its_process_runs(
    tmp_path: Path, env: dict[str, str]
) -> None:
    common = repository(tmp_path / "repo", env) / ".git"
    write_live(common, live(os.getpid()))
    assert read_live(common) == live(os.getpid())
    dead = subprocess.Popen(["true"])
    dead.wait()
    write_live(common, live(dead.pid))
    assert read_live(common) is None
    write_live(common, live(os.getpid()))
    remove_live(common, "another-session")
    assert (common / LIVE_FILE).exists()
    remove_live(common, "s1")
    assert not (common / LIVE_FILE).exists()
    (common / LIVE_FILE).write_text("{not json")
    assert read_live(common) is None


def test_git_coauthors_files_correct_emails_repository_first(tmp_path: Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    (repo / FILE_NAME).write_text('{"coauthors": {"b": {"name": "Bob", "email": "bob@corp.test"}}}')
    (home / FILE_NAME).write_text(
        '{"coauthors": {"b": {"name": "bob", "email": "bob@home.test"},'
        ' "c": {"name": "Cy", "email": "cy@home.test"}}}'
    )
    emails = known_emails([repo, home, tmp_path / "missing"])
    people = corrected(
        [Person("Bob", ""), Person("Cy", "cy@old.test"), Person("Di", "d@x")], emails
    )
    assert [p.email for p in people] == ["bob@corp.test", "cy@home.test", "d@x"]
    (repo / FILE_NAME).write_text("[not, the, format]")
    assert known_emails([repo]) == {}


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("", "has no email"),
        ("bob", "is not an address"),
        ("bob@localhost", "local address"),
        ("bob@laptop.local", "local address"),
        ("bob@example.test", None),
    ],
)
def test_emails_github_cannot_match_are_named(email: str, problem: str | None) -> None:
    said = unusable(Person("Bob", email))
    assert (said is None) if problem is None else (problem in (said or ""))


def test_install_chains_an_existing_hook_and_uninstall_puts_it_back(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = repository(tmp_path / "repo", env)
    hooks = repo / ".git" / "hooks"
    own = hooks / NAME
    own.write_text('#!/bin/sh\necho mine >> "$1"\n')
    own.chmod(0o755)
    assert "runs first" in install(repo)
    assert (hooks / CHAINED).read_text().startswith("#!/bin/sh\necho mine")
    assert "pairup" in own.read_text()
    assert os.access(own, os.X_OK)
    assert install(repo).startswith("refreshed")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Solo", env=env)
    message = git(repo, "log", "-1", "--format=%B", env=env)
    assert "mine" in message
    assert "Co-authored-by" not in message
    uninstall(repo)
    assert own.read_text().startswith("#!/bin/sh\necho mine")
    assert not (hooks / CHAINED).exists()
    with pytest.raises(HookError, match="not installed"):
        uninstall(repo)


def test_a_hooks_path_outside_the_repository_is_refused(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = repository(tmp_path / "repo", env)
    git(repo, "config", "core.hooksPath", str(tmp_path / "shared-hooks"), env=env)
    with pytest.raises(HookError, match="outside this repository"):
        install(repo)
    assert not (tmp_path / "shared-hooks").exists()
