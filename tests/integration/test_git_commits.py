"""Co-authored commits in real repositories, with two headless participants pairing.

Ann hosts from inside her repository, Bob joins from his. While the session is live, Ann's
pairup keeps the live-session file in her repository, so ``pairup commit``, ``pairup trailers``
and the installed hook credit Bob; commits made there are recorded in the session.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pygit2
import pytest

from pairup.commit_request import ask
from pairup.git.live import git_dirs, read_live
from pairup.git.repo import GitError, commit, open_repository
from pairup.git.trailers import Person

from .test_headless import PAIRUP, Participant, environment, guest, host, is_event, participants

BOB_TRAILER = "Co-authored-by: Bob <bob@example.test>"


def git(repo: Path, *args: str, env: dict[str, str], check: bool = True) -> str:
    result = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


def empty_repo(path: Path, env: dict[str, str]) -> Path:
    """A repository with Ann as its git identity, and no commit yet."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main", env=env)
    git(path, "config", "user.name", "Ann", env=env)
    git(path, "config", "user.email", "ann@example.test", env=env)
    return path


def new_repo(path: Path, env: dict[str, str]) -> Path:
    empty_repo(path, env)
    (path / "README.md").write_text("# demo\n")
    git(path, "add", "README.md", env=env)
    git(path, "commit", "-q", "-m", "Start", env=env)
    return path


@pytest.fixture(autouse=True)
def no_inherited_git_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The code under test runs in this process too (``git_dirs``, ``open_repository``), and
    reads its environment: a ``GIT_DIR`` from a hook running the tests would lead it astray."""
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)


def git_env(tmp_path: Path) -> dict[str, str]:
    """This process's environment, with a home and git config of the test's own. Inherited
    ``GIT_*`` variables go (a git hook that runs the tests sets ``GIT_DIR`` and
    ``GIT_INDEX_FILE``, which would point every git command here at the outer repository)."""
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
        "HOME": str(tmp_path),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def ann_env(tmp_path: Path) -> dict[str, str]:
    """Ann's environment for her pairup processes and her git."""
    return {**environment(tmp_path, "a"), "GIT_CONFIG_GLOBAL": os.devnull}


def pairup(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAIRUP), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def co_authors_of(repo: Path, env: dict[str, str], rev: str = "HEAD") -> list[str]:
    out = git(repo, "log", "-1", "--format=%(trailers:key=Co-authored-by)", rev, env=env)
    return [line for line in out.splitlines() if line.strip()]


def wait_for_live(repo: Path, *names: str) -> None:
    dirs = git_dirs(repo)
    assert dirs is not None
    deadline = time.monotonic() + 15
    while True:
        live = read_live(dirs[1])
        if live is not None and sorted(p.name for p in live.co_authors) == sorted(names):
            return
        assert time.monotonic() < deadline, f"live file for {names} never appeared: {live}"
        time.sleep(0.1)


@pytest.fixture
def pairing(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Participant, Participant]]:
    """Ann (hosting, in her repository) and Bob (in his own), both in the session. Ann's
    repository is at a short path: the running pairup's socket goes in its git directory only
    if the path fits a socket's (about 100 bytes), which a test worker's tmp_path may not."""
    env = ann_env(tmp_path)
    short = Path(tempfile.mkdtemp(prefix="pairup-"))
    repo = new_repo(short / "repo", env)
    bob_repo = tmp_path / "bob-repo"
    bob_repo.mkdir()
    with contextlib.ExitStack() as cleanup, participants(tmp_path) as launch:
        cleanup.callback(shutil.rmtree, short, ignore_errors=True)
        ann, link = host(launch, cwd=repo)
        bob = guest(launch, link, cwd=bob_repo)
        ann.expect(
            lambda record: record.get("event", {}).get("participant", {}).get("name") == "Bob",
            "Bob to join",
        )
        wait_for_live(repo, "Bob")
        yield repo, env, ann, bob


def test_pairup_commit_credits_the_partner_once_and_the_session_records_it(pairing) -> None:
    repo, env, _, bob = pairing
    (repo / "relay.py").write_text("print('relay')\n")
    git(repo, "add", "relay.py", env=env)
    made = pairup(repo, env, "commit", "-m", "Add the relay")
    assert made.returncode == 0, made.stderr
    assert "Add the relay" in made.stdout
    assert co_authors_of(repo, env) == [BOB_TRAILER]
    sha = git(repo, "rev-parse", "HEAD", env=env).strip()
    recorded = bob.expect(is_event("commit.recorded"), "the commit in Bob's session")
    assert recorded["event"]["sha"] == sha
    assert recorded["event"]["co_authors"] == [{"name": "Bob", "email": "bob@example.test"}]

    for _ in range(2):
        again = pairup(repo, env, "trailers", "--amend")
        assert again.returncode == 0, again.stderr
        assert "already credits" in again.stdout
        git(repo, "commit", "-q", "--amend", "--no-edit", "--allow-empty", env=env)
    assert co_authors_of(repo, env) == [BOB_TRAILER]
    author = git(repo, "log", "-1", "--format=%an <%ae>", env=env).strip()
    assert author == "Ann <ann@example.test>"


def test_trailers_prints_and_amends_without_duplicates(pairing) -> None:
    repo, env, *_ = pairing
    printed = pairup(repo, env, "trailers")
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.splitlines() == [BOB_TRAILER]
    git(repo, "commit", "-q", "--allow-empty", "-m", "Plain git commit", env=env)
    for _ in range(2):
        amended = pairup(repo, env, "trailers", "--amend")
        assert amended.returncode == 0, amended.stderr
    assert co_authors_of(repo, env) == [BOB_TRAILER]
    committer = git(repo, "log", "-1", "--format=%an|%cn", env=env).strip()
    assert committer == "Ann|Ann"


def test_the_hook_credits_during_the_session_and_not_after_it(pairing) -> None:
    repo, env, ann, bob = pairing
    installed = pairup(repo, env, "hook", "install")
    assert installed.returncode == 0, installed.stderr
    git(repo, "commit", "-q", "--allow-empty", "-m", "During the session", env=env)
    assert co_authors_of(repo, env) == [BOB_TRAILER]
    git(repo, "commit", "-q", "--amend", "--no-edit", "--allow-empty", env=env)
    git(repo, "commit", "-q", "--amend", "--no-edit", "--allow-empty", env=env)
    assert co_authors_of(repo, env) == [BOB_TRAILER]

    ann.send({"cmd": "end"})
    ann.rest(timeout=15)
    bob.rest(timeout=15)
    git(repo, "commit", "-q", "--allow-empty", "-m", "After the session", env=env)
    assert co_authors_of(repo, env) == []
    assert pairup(repo, env, "trailers").returncode == 2


def test_the_hook_leaves_rebased_and_merged_commits_alone(pairing) -> None:
    repo, env, *_ = pairing
    git(repo, "checkout", "-q", "-b", "topic", "HEAD", env=env)
    (repo / "topic.txt").write_text("topic\n")
    git(repo, "add", "topic.txt", env=env)
    git(repo, "commit", "-q", "--no-verify", "-m", "Written before the hook", env=env)
    assert pairup(repo, env, "hook", "install").returncode == 0
    git(repo, "checkout", "-q", "main", env=env)
    git(repo, "commit", "-q", "--allow-empty", "-m", "On main during the session", env=env)
    assert co_authors_of(repo, env) == [BOB_TRAILER]
    git(repo, "checkout", "-q", "topic", env=env)
    git(repo, "rebase", "-q", "main", env=env)
    assert co_authors_of(repo, env) == []
    git(repo, "checkout", "-q", "main", env=env)
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "topic", env=env)
    assert co_authors_of(repo, env) == []


def test_a_failing_pre_commit_hook_stops_pairup_commit(pairing) -> None:
    repo, env, *_ = pairing
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'lint: trailing whitespace in relay.py' >&2\nexit 1\n")
    hook.chmod(0o755)
    (repo / "relay.py").write_text("x = 1 \n")
    git(repo, "add", "relay.py", env=env)
    refused = pairup(repo, env, "commit", "-m", "Add the relay")
    assert refused.returncode == 2
    assert "pre-commit hook refused the commit" in refused.stderr
    assert "lint: trailing whitespace in relay.py" in refused.stderr
    assert git(repo, "log", "--format=%s", env=env).splitlines() == ["Start"]
    skipped = pairup(repo, env, "commit", "-m", "Add the relay", "--no-verify")
    assert skipped.returncode == 0, skipped.stderr


def test_nothing_to_commit_and_no_repository_are_one_line_each(pairing, tmp_path: Path) -> None:
    repo, env, *_ = pairing
    nothing = pairup(repo, env, "commit", "-m", "Nothing")
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("pairup: nothing to commit")
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    outside = pairup(elsewhere, env, "commit", "-m", "x")
    assert outside.returncode == 2
    assert "not inside a git repository" in outside.stderr
    assert outside.stderr.count("\n") == 1


def test_a_file_staged_with_git_after_pairup_opened_the_repository_is_committed(
    tmp_path: Path,
) -> None:
    env = git_env(tmp_path)
    repo_path = new_repo(tmp_path / "repo", env)
    repo = open_repository(repo_path)
    repo.index.read()
    (repo_path / "late.txt").write_text("staged a moment ago\n")
    git(repo_path, "add", "late.txt", env=env)
    bob = Person(name="Bob", email="bob@example.test")
    made = commit(repo, "Add late.txt", co_authors=[bob], env=env)
    tree = repo[made.sha].tree
    assert "late.txt" in tree
    assert made.co_authors == (bob,)
    assert git(repo_path, "status", "--porcelain", env=env) == ""
    assert isinstance(repo[made.sha], pygit2.Commit)


def test_a_first_commit_and_a_commit_on_a_detached_head(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    path = empty_repo(tmp_path / "fresh", env)
    (path / "a.txt").write_text("a\n")
    git(path, "add", "a.txt", env=env)
    bob = Person(name="Bob", email="bob@example.test")
    first = commit(open_repository(path), "First", co_authors=[bob], env=env)
    assert git(path, "rev-parse", "main", env=env).strip() == first.sha
    assert co_authors_of(path, env) == [BOB_TRAILER]

    git(path, "checkout", "-q", "--detach", env=env)
    (path / "a.txt").write_text("b\n")
    detached = commit(
        open_repository(path), "On a detached head", co_authors=[], env=env, stage_all=True
    )
    assert git(path, "rev-parse", "HEAD", env=env).strip() == detached.sha
    assert git(path, "rev-parse", "main", env=env).strip() == first.sha
    assert co_authors_of(path, env) == []


def test_the_running_pairup_commits_on_request_through_its_socket(pairing) -> None:
    repo, env, _, bob = pairing
    dirs = git_dirs(repo)
    assert dirs is not None
    # The live file is written as the session starts, and again once the socket listens.
    deadline = time.monotonic() + 10
    while (live := read_live(dirs[1])) is None or not live.socket:
        assert time.monotonic() < deadline, f"no socket in the live file: {live}"
        time.sleep(0.05)
    assert oct(Path(live.socket).parent.stat().st_mode & 0o777) == "0o700"
    (repo / "socket.txt").write_text("through the socket\n")
    git(repo, "add", "socket.txt", env=env)
    request = {"op": "commit", "message": "Through the socket", "env": env, "cwd": str(repo)}
    reply = ask(live.socket, request, timeout=60)
    assert reply is not None
    assert reply["ok"], reply
    assert reply["co_authors"] == [["Bob", "bob@example.test"]]
    assert git(repo, "rev-parse", "HEAD", env=env).strip() == reply["sha"]
    recorded = bob.expect(is_event("commit.recorded"), "the commit in Bob's session")
    assert recorded["event"]["sha"] == reply["sha"]

    elsewhere = dict(request, cwd=str(repo.parent))
    assert ask(live.socket, elsewhere, timeout=60) == {
        "ok": False,
        "elsewhere": True,
        "error": "another worktree",
    }
    nonsense = ask(live.socket, {"op": "push"}, timeout=60)
    assert nonsense is not None
    assert not nonsense["ok"]


def test_pairup_commit_runs_the_message_hooks_as_git_does(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    path = new_repo(tmp_path / "repo", env)
    hooks = path / ".git" / "hooks"
    for name, line in (
        ("prepare-commit-msg", 'printf "\\nRefs: #42\\n" >> "$1"'),
        ("commit-msg", 'grep -q "Refs: #42" "$1" || { echo "no issue reference" >&2; exit 1; }'),
    ):
        (hooks / name).write_text(f"#!/bin/sh\n{line}\n")
        (hooks / name).chmod(0o755)
    (path / "b.txt").write_text("b\n")
    git(path, "add", "b.txt", env=env)
    made = commit(open_repository(path), "Add b", co_authors=[], env=env)
    message = git(path, "log", "-1", "--format=%B", env=env)
    assert message.strip() == "Add b\n\nRefs: #42"
    assert made.summary == "Add b"


def test_a_locked_index_is_a_one_line_error(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    path = new_repo(tmp_path / "repo", env)
    (path / "README.md").write_text("# changed\n")
    (path / ".git" / "index.lock").write_text("")
    with pytest.raises(GitError, match=r"^git refused: "):
        commit(open_repository(path), "Change", co_authors=[], env=env, stage_all=True)


def test_each_pairup_commit_right_after_git_add_has_what_was_just_staged(pairing) -> None:
    """The running pairup reads the index again as soon as git replaces it; a commit asked
    for while that read is under way, or before it began, still has every staged change."""
    repo, env, _, _ = pairing
    for number in range(4):
        path = repo / f"quick-{number}.txt"
        path.write_text(f"round {number}\n")
        git(repo, "add", path.name, env=env)
        if number % 2:
            (repo / "README.md").write_text(f"# demo, round {number}\n")
            git(repo, "add", "README.md", env=env)
        result = pairup(repo, env, "commit", "-m", f"Round {number}")
        assert result.returncode == 0, result.stderr
        assert git(repo, "status", "--porcelain", env=env) == ""
        tree = git(repo, "ls-tree", "--name-only", "HEAD", env=env).split()
        assert f"quick-{number}.txt" in tree
    assert git(repo, "show", "HEAD:README.md", env=env) == "# demo, round 3\n"
