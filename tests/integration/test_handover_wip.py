"""Branch mode of the handover, with real git: a bare repository in the test's directory is the
shared remote, and Ann and Bob each have a clone of it.

Every git command, the module's own included, runs with a home and a global git config of the
test's own, so nothing of the machine's git setup takes part; the remote is a plain path, so
nothing goes over the network.
"""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pygit2
import pytest

from pairup.git import handover, wip
from pairup.git.handover import HandoverError, Snapshot

WIP = "pairup/main"
TRACKING = f"refs/remotes/origin/{WIP}"


def git(cwd: Path, *args: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@dataclass(frozen=True)
class Pair:
    remote: Path
    ann: Path
    bob: Path
    env: dict[str, str]

    def tip(self) -> str | None:
        """The WIP branch's tip on the remote."""
        out = git(
            self.remote, "for-each-ref", "--format=%(objectname)", f"refs/heads/{WIP}", env=self.env
        )
        return out.strip() or None


@pytest.fixture
def pair(tmp_path: Path) -> Pair:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("GIT_")},
        "HOME": str(home),
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote), env=env)
    clones = []
    for name in ("ann", "bob"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(remote), str(clone), env=env)
        git(clone, "config", "user.name", name.title(), env=env)
        git(clone, "config", "user.email", f"{name}@example.test", env=env)
        clones.append(clone)
    ann, bob = clones
    (ann / ".gitignore").write_text("*.log\n")
    (ann / "app.py").write_text("print('hello')\n")
    (ann / "notes.md").write_text("# notes\n")
    (ann / "old.txt").write_text("to be removed\n")
    (ann / "run.sh").write_text("#!/bin/sh\necho run\n")
    git(ann, "add", ".", env=env)
    git(ann, "commit", "-q", "-m", "Start", env=env)
    git(ann, "push", "-q", "origin", "main", env=env)
    git(bob, "pull", "-q", "origin", "main", env=env)
    return Pair(remote, ann, bob, env)


def work_a_turn(clone: Path, env: dict[str, str], turn: int) -> None:
    """A driver's turn: a commit, then staged, unstaged, partly staged, new, deleted, ignored
    and mode changes left uncommitted."""
    (clone / "app.py").write_text(f"print('turn {turn}')\n")
    git(clone, "commit", "-q", "-am", f"Turn {turn}", env=env)
    (clone / "notes.md").write_text(f"# notes\nstaged in turn {turn}\n")
    git(clone, "add", "notes.md", env=env)
    (clone / "notes.md").write_text(f"# notes\nstaged in turn {turn}\nand more, unstaged\n")
    (clone / "app.py").write_text(f"print('turn {turn}, unstaged')\n")
    (clone / f"new-{turn}.py").write_text(f"NEW = {turn}\n")
    (clone / "data.bin").write_bytes(bytes(range(256)) * turn)
    (clone / "debug.log").write_text(f"ignored, stays on {clone.name}'s machine\n")
    (clone / "old.txt").unlink(missing_ok=True)
    (clone / "run.sh").chmod(0o755 if turn % 2 else 0o644)


def send(clone: Path, env: dict[str, str], turn: int) -> tuple[Snapshot, str]:
    """What the last driver's pairup does: take the work, push it, remember it as last sent."""
    repo = pygit2.Repository(str(clone))
    snapshot = handover.take(repo, f"pairup handover of turn {turn}")
    commit = wip.push(clone, snapshot, "origin", wip.wip_branch_for(snapshot.branch), env)
    repo.references.create(handover.LAST_REF, pygit2.Oid(hex=snapshot.commit), force=True)
    return snapshot, commit


def receive(clone: Path, env: dict[str, str], commit: str, name: str) -> handover.Outcome:
    """What the new driver's pairup does: fetch the WIP branch, apply the snapshot it holds."""
    repo = pygit2.Repository(str(clone))
    snapshot = wip.fetch(clone, "origin", WIP, commit, env)
    return handover.apply(repo, handover.read(repo, snapshot), name)


def files(clone: Path) -> dict[str, tuple[bytes, bool]]:
    """Every file of the working tree but git's own, with whether it is executable."""
    return {
        str(path.relative_to(clone)): (path.read_bytes(), os.access(path, os.X_OK))
        for path in clone.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(clone).parts
    }


def status(clone: Path, env: dict[str, str]) -> str:
    return git(clone, "status", "--porcelain=v1", "--branch", env=env).split("\n", 1)[1]


def test_the_next_driver_gets_the_working_tree_exactly(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    snapshot, commit = send(pair.ann, pair.env, 1)

    outcome = receive(pair.bob, pair.env, commit, "t1")

    assert outcome.saved is None
    bob = pygit2.Repository(str(pair.bob))
    assert handover.take(bob, "check").key == snapshot.key
    assert status(pair.bob, pair.env) == status(pair.ann, pair.env)
    assert " M app.py" in status(pair.bob, pair.env)
    assert "MM notes.md" in status(pair.bob, pair.env)
    assert "?? new-1.py" in status(pair.bob, pair.env)
    ann_files = files(pair.ann)
    del ann_files["debug.log"]
    assert files(pair.bob) == ann_files
    assert bob.head.shorthand == "main"
    assert str(bob.head.target) == snapshot.head


def test_the_wip_commit_is_the_whole_tree_and_no_local_branch_is_made(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    snapshot, commit = send(pair.ann, pair.env, 1)

    ann = pygit2.Repository(str(pair.ann))
    made = ann[commit]
    assert pair.tip() == commit
    assert [str(p) for p in made.parent_ids] == [snapshot.head, snapshot.commit]
    assert "[ci skip]" in made.message
    assert {"app.py", "notes.md", "new-1.py", "data.bin", "run.sh"} <= {e.name for e in made.tree}
    assert "old.txt" not in made.tree
    assert "debug.log" not in made.tree
    assert str(ann.references[TRACKING].target) == commit
    assert f"refs/heads/{WIP}" not in ann.references
    receive(pair.bob, pair.env, commit, "t1")
    bob = pygit2.Repository(str(pair.bob))
    assert str(bob.references[TRACKING].target) == commit
    assert f"refs/heads/{WIP}" not in bob.references


def test_the_second_turn_moves_the_wip_branch_forward(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    _, first = send(pair.ann, pair.env, 1)
    receive(pair.bob, pair.env, first, "t1")

    work_a_turn(pair.bob, pair.env, 2)
    snapshot, second = send(pair.bob, pair.env, 2)
    outcome = receive(pair.ann, pair.env, second, "t2")

    assert pair.tip() == second
    bob = pygit2.Repository(str(pair.bob))
    assert bob[second].parent_ids[0] == pygit2.Oid(hex=first)
    assert outcome.saved is None
    ann = pygit2.Repository(str(pair.ann))
    assert handover.take(ann, "check").key == snapshot.key
    ann_files, bob_files = files(pair.ann), files(pair.bob)
    del ann_files["debug.log"], bob_files["debug.log"]
    assert ann_files == bob_files
    assert str(ann.references[TRACKING].target) == second


def test_a_push_beaten_by_another_one_is_refused_and_nothing_is_forced(
    pair: Pair, tmp_path: Path
) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    _, first = send(pair.ann, pair.env, 1)
    receive(pair.bob, pair.env, first, "t1")
    bob = pygit2.Repository(str(pair.bob))
    theirs = str(
        bob.create_commit(
            None,
            bob.default_signature,
            bob.default_signature,
            "Bob's own WIP\n",
            bob[first].tree_id,
            [pygit2.Oid(hex=first)],
        )
    )
    # Bob's push lands after Ann's pairup looked at the branch and before its push: the
    # remote's receive-pack, as Ann's clone runs it, lets Bob push first.
    race = tmp_path / "race.sh"
    race.write_text(
        "#!/bin/sh\n"
        f"git -C '{pair.bob}' push -q origin '{theirs}:refs/heads/{WIP}' || exit 1\n"
        'exec git receive-pack "$@"\n'
    )
    race.chmod(0o755)
    git(pair.ann, "config", "remote.origin.receivepack", str(race), env=pair.env)
    (pair.ann / "app.py").write_text("print('more')\n")

    with pytest.raises(HandoverError, match="moved while pairup pushed") as refused:
        send(pair.ann, pair.env, 2)

    assert "never forces" in str(refused.value)
    assert pair.tip() == theirs
    ann = pygit2.Repository(str(pair.ann))
    assert str(ann.references[TRACKING].target) == first


def test_a_remote_that_refuses_the_push_says_so(pair: Pair) -> None:
    hook = pair.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'WIP branches are not allowed here' >&2\nexit 1\n")
    hook.chmod(0o755)
    work_a_turn(pair.ann, pair.env, 1)

    with pytest.raises(HandoverError) as refused:
        send(pair.ann, pair.env, 1)

    said = str(refused.value)
    assert said.startswith("git push to origin failed: ! [remote rejected]")
    assert "pre-receive hook declined" in said
    assert said.endswith('check you can push to origin, or set handover.mode = "link"')
    assert "\n" not in said
    assert pair.tip() is None


def test_an_unreachable_remote_says_so(pair: Pair, tmp_path: Path) -> None:
    gone = tmp_path / "gone.git"
    work_a_turn(pair.ann, pair.env, 1)
    _, commit = send(pair.ann, pair.env, 1)
    for clone in (pair.ann, pair.bob):
        git(clone, "remote", "set-url", "origin", str(gone), env=pair.env)

    with pytest.raises(HandoverError, match=r"^could not reach origin: fatal: .*gone\.git"):
        send(pair.ann, pair.env, 2)
    with pytest.raises(HandoverError, match=r"^git fetch from origin failed: fatal: .*gone\.git"):
        wip.fetch(pair.bob, "origin", WIP, commit, pair.env)


def test_a_remote_that_hangs_is_given_up_on(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck = tmp_path / "stuck.sh"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    git(pair.ann, "config", "remote.origin.receivepack", str(stuck), env=pair.env)
    monkeypatch.setattr(wip, "GIT_TIMEOUT", 1.0)
    work_a_turn(pair.ann, pair.env, 1)

    started = time.monotonic()
    with pytest.raises(HandoverError, match=r"^git push to origin took longer than 1 s"):
        send(pair.ann, pair.env, 1)

    assert time.monotonic() - started < 20
    assert pair.tip() is None


def test_a_remote_this_clone_does_not_name_is_refused(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    snapshot = handover.take(pygit2.Repository(str(pair.ann)), "turn 1")

    with pytest.raises(HandoverError, match="no remote named upstream"):
        wip.push(pair.ann, snapshot, "upstream", WIP, pair.env)


def test_a_rewritten_wip_branch_is_refused(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    _, commit = send(pair.ann, pair.env, 1)
    git(pair.ann, "push", "-q", "--force", "origin", f"main:refs/heads/{WIP}", env=pair.env)

    with pytest.raises(HandoverError, match="does not hold the handover"):
        wip.fetch(pair.bob, "origin", WIP, commit, pair.env)


def test_a_detached_head_has_no_wip_branch() -> None:
    assert wip.wip_branch_for("main") == "pairup/main"
    with pytest.raises(HandoverError, match="switch to a branch"):
        wip.wip_branch_for(None)


def test_finish_squash_removes_the_wip_branch_and_leaves_the_work(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    snapshot, commit = send(pair.ann, pair.env, 1)
    receive(pair.bob, pair.env, commit, "t1")

    said = wip.finish(pair.bob, "origin", WIP, "squash", pair.env)

    assert said.startswith("removed pairup/main from origin")
    assert pair.tip() is None
    bob = pygit2.Repository(str(pair.bob))
    assert TRACKING not in bob.references
    assert handover.take(bob, "check").key == snapshot.key
    assert wip.finish(pair.bob, "origin", WIP, "squash", pair.env).endswith("nothing to remove")


def test_finish_squash_leaves_work_this_clone_has_not_put_in_place(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    _, first = send(pair.ann, pair.env, 1)
    receive(pair.bob, pair.env, first, "t1")
    work_a_turn(pair.ann, pair.env, 2)
    _, second = send(pair.ann, pair.env, 2)

    with pytest.raises(HandoverError, match="holds work this working tree does not"):
        wip.finish(pair.bob, "origin", WIP, "squash", pair.env)

    assert pair.tip() == second


def test_finish_keep_leaves_the_wip_branch(pair: Pair) -> None:
    work_a_turn(pair.ann, pair.env, 1)
    _, commit = send(pair.ann, pair.env, 1)
    receive(pair.bob, pair.env, commit, "t1")

    said = wip.finish(pair.bob, "origin", WIP, "keep", pair.env)

    assert said.startswith("kept pairup/main on origin")
    assert pair.tip() == commit
    bob = pygit2.Repository(str(pair.bob))
    assert str(bob.references[TRACKING].target) == commit
