"""The git side of the handover (:mod:`pairup.git.handover`) with real repositories.

Ann drives and Bob navigates, each in a clone of one origin. Ann's work is taken, packed
against what Bob holds, unpacked and applied in Bob's clone; git's own command line is the
oracle: ``git status``, the diffs, the index and every non-ignored file with its exec bit come
out the same on both clones. Each test's git runs with a home and identity of its own and no
global or system config.
"""

import hashlib
import os
import shlex
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest
from pygit2.enums import ObjectType

from pairup.git import handover

from .test_git_commits import git, git_env, new_repo

IGNORED = "*.log\nbuild/\n"
MAX_SIZE = 1 << 20


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **git_env(tmp_path),
        "GIT_AUTHOR_NAME": "Ann",
        "GIT_AUTHOR_EMAIL": "ann@example.test",
        "GIT_COMMITTER_NAME": "Ann",
        "GIT_COMMITTER_EMAIL": "ann@example.test",
    }


@pytest.fixture
def origin(tmp_path: Path, env: dict[str, str]) -> Path:
    """README.md, a .gitignore, a script, a binary file, a symlink and a nested file."""
    repo = new_repo(tmp_path / "origin", env)
    (repo / ".gitignore").write_text(IGNORED)
    (repo / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (repo / "tool.sh").chmod(0o755)
    (repo / "data.bin").write_bytes(bytes(range(256)) * 4)
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("".join(f"line {n}\n" for n in range(20)))
    (repo / "readme-link").symlink_to("README.md")
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "Files of every kind", env=env)
    return repo


@pytest.fixture
def ann(tmp_path: Path, origin: Path, env: dict[str, str]) -> Path:
    git(tmp_path, "clone", "-q", str(origin), "ann", env=env)
    return tmp_path / "ann"


@pytest.fixture
def bob(tmp_path: Path, origin: Path, env: dict[str, str]) -> Path:
    git(tmp_path, "clone", "-q", str(origin), "bob", env=env)
    return tmp_path / "bob"


def repository(path: Path) -> pygit2.Repository:
    return pygit2.Repository(str(path))


def packed(sender: Path, receiver: Path, max_size: int = MAX_SIZE) -> handover.Package:
    driver = repository(sender)
    snapshot = handover.take(driver, "turn")
    return handover.package(driver, snapshot, handover.holding(repository(receiver)), max_size)


def hand_over(sender: Path, receiver: Path, name: str = "turn") -> handover.Outcome:
    """Ann's working tree to Bob's clone, the whole way: take, package, unpack, apply."""
    package = packed(sender, receiver)
    clone = repository(receiver)
    handover.unpack(clone, package.data, package.snapshot.commit)
    return handover.apply(clone, handover.read(clone, package.snapshot.commit), name)


def files(repo: Path, env: dict[str, str]) -> dict[str, tuple[bytes, bool]]:
    """Every file git does not ignore: its content (a symlink's target) and its exec bit."""
    listed = git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard", env=env)
    found: dict[str, tuple[bytes, bool]] = {}
    for path in filter(None, listed.split("\0")):
        full = repo / path
        if full.is_symlink():
            found[path] = (b"symlink to " + os.fsencode(os.readlink(full)), False)
        elif full.is_file():
            found[path] = (full.read_bytes(), bool(full.stat().st_mode & stat.S_IXUSR))
    return found


def state(repo: Path, env: dict[str, str]) -> dict[str, object]:
    """What git says of the clone: status, HEAD and its branch, the index, the diffs, files."""

    def run(*args: str) -> str:
        return git(repo, *args, env=env)

    return {
        "status": run("status", "--porcelain", "--untracked-files=all"),
        "head": run("rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "-q", "HEAD", env=env, check=False),
        "index": run("ls-files", "--stage"),
        "staged": run("diff", "--cached", "--binary"),
        "unstaged": run("diff", "--binary"),
        "files": files(repo, env),
    }


def refs(repo: Path, env: dict[str, str]) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)", env=env)


def saved_refs(repo: Path, env: dict[str, str]) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)", "refs/pairup/saved", env=env).split()


# -- what a turn leaves, and that it arrives as it is -------------------------------------------


def edit_tracked(repo: Path, env: dict[str, str]) -> None:
    (repo / "src" / "app.py").write_text("line 0\nchanged\n")
    (repo / "README.md").write_text("# demo, staged\n")
    git(repo, "add", "README.md", env=env)


def add_untracked(repo: Path, env: dict[str, str]) -> None:
    nested = repo / "new" / "deeper" / "deepest"
    nested.mkdir(parents=True)
    (nested / "leaf.txt").write_text("a leaf\n")
    (repo / "new" / "top.txt").write_text("top\n")
    (repo / "staged-new.txt").write_text("staged\n")
    git(repo, "add", "staged-new.txt", env=env)


def delete(repo: Path, env: dict[str, str]) -> None:
    (repo / "data.bin").unlink()
    git(repo, "rm", "-q", "tool.sh", env=env)


def rename_staged(repo: Path, env: dict[str, str]) -> None:
    git(repo, "mv", "src/app.py", "src/main.py", env=env)
    (repo / "moved").mkdir()
    git(repo, "mv", "data.bin", "moved/data.bin", env=env)


def rename_unstaged(repo: Path, env: dict[str, str]) -> None:
    (repo / "src" / "app.py").rename(repo / "app.py")
    (repo / "elsewhere").mkdir()
    (repo / "tool.sh").rename(repo / "elsewhere" / "tool.sh")


def change_modes(repo: Path, env: dict[str, str]) -> None:
    (repo / "tool.sh").chmod(0o644)
    (repo / "src" / "app.py").chmod(0o755)
    (repo / "README.md").chmod(0o755)
    git(repo, "add", "README.md", env=env)


def symlinks(repo: Path, env: dict[str, str]) -> None:
    (repo / "readme-link").unlink()
    (repo / "readme-link").symlink_to("src/app.py")
    (repo / "dir-link").symlink_to("src")
    (repo / "dangling").symlink_to("nowhere/at/all")
    (repo / "tool.sh").unlink()
    (repo / "tool.sh").symlink_to("README.md")


def binary(repo: Path, env: dict[str, str]) -> None:
    (repo / "data.bin").write_bytes(bytes(reversed(range(256))) * 8 + b"\0\xff\0")
    (repo / "assets").mkdir()
    (repo / "assets" / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(4000))
    (repo / "assets" / "empty.bin").write_bytes(b"")


def staged_and_unstaged(repo: Path, env: dict[str, str]) -> None:
    """Each combination git status tells apart: MM, AM, AD, D plus ??, M with -x."""
    (repo / "src" / "app.py").write_text("staged\n")
    git(repo, "add", "src/app.py", env=env)
    (repo / "src" / "app.py").write_text("staged\nthen more, not staged\n")
    (repo / "added.txt").write_text("added\n")
    git(repo, "add", "added.txt", env=env)
    (repo / "added.txt").write_text("added, then changed\n")
    (repo / "added-gone.txt").write_text("added, then deleted\n")
    git(repo, "add", "added-gone.txt", env=env)
    (repo / "added-gone.txt").unlink()
    git(repo, "rm", "-q", "--cached", "data.bin", env=env)
    (repo / "tool.sh").chmod(0o644)
    git(repo, "add", "tool.sh", env=env)
    (repo / "tool.sh").write_text("#!/bin/sh\necho changed\n")


CHANGES: dict[str, Callable[[Path, dict[str, str]], None]] = {
    "tracked edits": edit_tracked,
    "new files in new directories": add_untracked,
    "deletions": delete,
    "staged renames": rename_staged,
    "unstaged renames": rename_unstaged,
    "exec bits": change_modes,
    "symlinks": symlinks,
    "binary files": binary,
    "staged and unstaged": staged_and_unstaged,
}


@pytest.mark.parametrize("change", list(CHANGES.values()), ids=list(CHANGES))
def test_the_working_tree_arrives_as_it_is(
    change: Callable[[Path, dict[str, str]], None], ann: Path, bob: Path, env: dict[str, str]
) -> None:
    change(ann, env)
    expected = state(ann, env)
    assert git(ann, "status", "--porcelain", env=env), "the change left nothing to hand over"

    outcome = hand_over(ann, bob)

    assert state(bob, env) == expected
    assert state(ann, env) == expected, "taking a snapshot touched the driver's files"
    assert outcome.saved is None
    assert outcome.restore == ""
    assert saved_refs(bob, env) == []


def test_everything_at_once_and_back_again(ann: Path, bob: Path, env: dict[str, str]) -> None:
    for change in (edit_tracked, add_untracked, binary, symlinks):
        change(ann, env)
    hand_over(ann, bob, "to-bob")
    assert state(bob, env) == state(ann, env)

    rename_unstaged(bob, env)
    (bob / "new" / "top.txt").write_text("Bob's turn\n")
    git(bob, "add", "new/top.txt", env=env)
    expected = state(bob, env)
    hand_over(bob, ann, "to-ann")
    assert state(ann, env) == expected


def test_ignored_files_neither_travel_nor_go(ann: Path, bob: Path, env: dict[str, str]) -> None:
    (ann / "ann.log").write_text("Ann's log\n")
    (ann / "build").mkdir()
    (ann / "build" / "ann.o").write_bytes(b"\0ann")
    (ann / "kept.txt").write_text("travels\n")
    (bob / "bob.log").write_text("Bob's log\n")
    (bob / "build").mkdir()
    (bob / "build" / "bob.o").write_bytes(b"\0bob")
    (bob / "build" / "nested").mkdir()
    (bob / "build" / "nested" / "deep.o").write_bytes(b"\0deep")

    hand_over(ann, bob)

    assert (bob / "kept.txt").read_text() == "travels\n"
    assert not (bob / "ann.log").exists()
    assert not (bob / "build" / "ann.o").exists()
    assert (bob / "bob.log").read_text() == "Bob's log\n"
    assert (bob / "build" / "bob.o").read_bytes() == b"\0bob"
    assert (bob / "build" / "nested" / "deep.o").read_bytes() == b"\0deep"
    assert state(bob, env) == state(ann, env)


# -- HEAD, branches and commits -----------------------------------------------------------------


def test_commits_made_during_the_turn_travel(ann: Path, bob: Path, env: dict[str, str]) -> None:
    for number in range(3):
        (ann / f"commit-{number}.txt").write_text(f"{number}\n")
        git(ann, "add", ".", env=env)
        git(ann, "commit", "-q", "-m", f"Commit {number} of the turn", env=env)
    (ann / "after.txt").write_text("not committed\n")

    hand_over(ann, bob)

    assert state(bob, env) == state(ann, env)
    assert git(bob, "rev-parse", "main", env=env) == git(ann, "rev-parse", "main", env=env)
    assert git(bob, "log", "--format=%H %s", env=env) == git(ann, "log", "--format=%H %s", env=env)
    git(bob, "fsck", "--no-progress", "--connectivity-only", env=env)


def test_a_new_branch_and_a_receiver_on_another_branch(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    git(bob, "checkout", "-q", "-b", "bobs-idea", env=env)
    (bob / "idea.txt").write_text("Bob's idea\n")
    git(bob, "add", "idea.txt", env=env)
    git(bob, "commit", "-q", "-m", "Bob's idea", env=env)
    idea = git(bob, "rev-parse", "bobs-idea", env=env)
    git(ann, "checkout", "-q", "-b", "feature", env=env)
    (ann / "feature.txt").write_text("the feature\n")
    git(ann, "add", "feature.txt", env=env)
    git(ann, "commit", "-q", "-m", "The feature", env=env)

    outcome = hand_over(ann, bob)

    assert state(bob, env) == state(ann, env)
    assert git(bob, "symbolic-ref", "HEAD", env=env) == "refs/heads/feature\n"
    assert git(bob, "rev-parse", "bobs-idea", env=env) == idea
    assert outcome.saved is None, "a clean clone on its own branch loses nothing"


def test_a_detached_head_travels_detached(ann: Path, bob: Path, env: dict[str, str]) -> None:
    git(ann, "checkout", "-q", "--detach", "HEAD~0", env=env)
    (ann / "detached.txt").write_text("on no branch\n")
    git(ann, "add", "detached.txt", env=env)
    git(ann, "commit", "-q", "-m", "On no branch", env=env)
    main = git(bob, "rev-parse", "main", env=env)

    hand_over(ann, bob)

    assert state(bob, env) == state(ann, env)
    assert git(bob, "symbolic-ref", "-q", "HEAD", env=env, check=False) == ""
    assert git(bob, "rev-parse", "main", env=env) == main


def test_commits_on_a_detached_head_are_saved(ann: Path, bob: Path, env: dict[str, str]) -> None:
    git(bob, "checkout", "-q", "--detach", env=env)
    (bob / "experiment.txt").write_text("Bob's experiment\n")
    git(bob, "add", "experiment.txt", env=env)
    git(bob, "commit", "-q", "-m", "An experiment on no branch", env=env)
    experiment = git(bob, "rev-parse", "HEAD", env=env).strip()
    (ann / "turn.txt").write_text("Ann's turn\n")

    outcome = hand_over(ann, bob)

    assert state(bob, env) == state(ann, env)
    assert outcome.saved is not None
    git(bob, "merge-base", "--is-ancestor", experiment, outcome.saved, env=env)


def test_a_branch_that_would_move_backwards_or_diverged_is_refused_untouched(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (bob / "bobs.txt").write_text("committed by Bob only\n")
    git(bob, "add", "bobs.txt", env=env)
    git(bob, "commit", "-q", "-m", "Bob's own commit", env=env)
    (bob / "README.md").write_text("Bob typing\n")
    (bob / "scratch.txt").write_text("Bob's scratch\n")
    (ann / "anns.txt").write_text("Ann's\n")
    before, refs_before = state(bob, env), refs(bob, env)

    with pytest.raises(handover.HandoverError, match=r"1 commit the driver's lacks.*branch -m"):
        hand_over(ann, bob)

    assert state(bob, env) == before
    assert refs(bob, env) == refs_before

    git(ann, "commit", "-q", "--allow-empty", "-m", "Ann's own commit", env=env)
    with pytest.raises(handover.HandoverError, match="never rewrites a branch"):
        hand_over(ann, bob)
    assert state(bob, env) == before
    assert refs(bob, env) == refs_before


# -- the receiver's own work --------------------------------------------------------------------


def test_a_navigators_stray_edits_are_saved_and_come_back_with_git_stash(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (bob / "README.md").write_text("Bob, staged\n")
    git(bob, "add", "README.md", env=env)
    (bob / "README.md").write_text("Bob, staged, then typing more\n")
    (bob / "src" / "app.py").write_text("Bob's unstaged edit\n")
    (bob / "tool.sh").chmod(0o644)
    (bob / "bobs-notes").mkdir()
    (bob / "bobs-notes" / "todo.txt").write_text("Bob's new file\n")
    (bob / "data.bin").unlink()
    (bob / "added-then-gone.txt").write_text("staged, then deleted\n")
    git(bob, "add", "added-then-gone.txt", env=env)
    (bob / "added-then-gone.txt").unlink()
    bobs = state(bob, env)
    (ann / "turn.txt").write_text("Ann's turn\n")

    outcome = hand_over(ann, bob, "rotation-7")

    assert outcome.saved == "refs/pairup/saved/rotation-7"
    assert outcome.restore == "git stash apply --index refs/pairup/saved/rotation-7"
    assert saved_refs(bob, env) == [outcome.saved]
    assert state(bob, env) == state(ann, env)

    git(bob, "reset", "-q", "--hard", env=env)
    git(bob, "clean", "-q", "-f", "-d", env=env)
    git(bob, *shlex.split(outcome.restore)[1:], env=env)
    assert state(bob, env) == bobs


def test_a_second_save_under_the_same_name_keeps_the_first(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (bob / "first.txt").write_text("first stray\n")
    (ann / "one.txt").write_text("1\n")
    first = hand_over(ann, bob, "same")
    (bob / "second.txt").write_text("second stray\n")
    (ann / "two.txt").write_text("2\n")
    second = hand_over(ann, bob, "same")

    assert first.saved == "refs/pairup/saved/same"
    assert second.saved == "refs/pairup/saved/same-2"
    assert "first.txt" in git(bob, "ls-tree", "-r", "--name-only", f"{first.saved}^3", env=env)
    assert "second.txt" in git(bob, "ls-tree", "-r", "--name-only", f"{second.saved}^3", env=env)


def test_a_clean_receiver_or_one_as_last_received_is_not_saved(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (ann / "one.txt").write_text("one\n")
    assert hand_over(ann, bob, "first").saved is None
    assert git(bob, "rev-parse", handover.LAST_REF, env=env).strip() != ""

    (ann / "two.txt").write_text("two\n")
    (ann / "README.md").write_text("Ann again\n")
    second = hand_over(ann, bob, "second")
    assert second.saved is None, "Bob's tree was exactly what he last received"
    assert saved_refs(bob, env) == []
    assert state(bob, env) == state(ann, env)

    (bob / "one.txt").write_text("Bob touched what he received\n")
    (ann / "three.txt").write_text("three\n")
    assert hand_over(ann, bob, "third").saved == "refs/pairup/saved/third"


# -- what is refused ----------------------------------------------------------------------------


def test_a_handover_over_max_size_names_its_largest_files(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    sizes = {"huge.bin": 90_000, "media/big.bin": 70_000, "mid.bin": 50_000}
    sizes |= {f"small-{n}.bin": 30_000 - n for n in range(4)}
    for path, size in sizes.items():
        (ann / path).parent.mkdir(exist_ok=True)
        (ann / path).write_bytes(os.urandom(size))

    with pytest.raises(handover.TooLarge) as refused:
        packed(ann, bob, max_size=100_000)

    error = refused.value
    assert error.size > error.limit == 100_000
    assert error.largest == (
        ("huge.bin", 90_000),
        ("media/big.bin", 70_000),
        ("mid.bin", 50_000),
        ("small-0.bin", 30_000),
        ("small-1.bin", 29_999),
    )
    assert "huge.bin" in str(error)
    assert "handover.max_size" in str(error)
    assert packed(ann, bob, max_size=1 << 20).objects > len(sizes)


def flipped(data: bytes, at: int) -> bytes:
    changed = bytearray(data)
    changed[at] ^= 0x01
    return bytes(changed)


PARTS = (
    "index header",
    "index fan-out",
    "index names",
    "index crc",
    "index offsets",
    "index offsets, last",
    "index pack checksum",
    "index checksum",
    "pack header",
    "pack object count",
    "pack objects",
    "pack checksum",
)


def layout(data: bytes) -> dict[str, int]:
    """A byte in each part of a package: the pack index (version 2), then the pack."""
    index = 4
    count = int.from_bytes(data[index + 1028 : index + 1032], "big")
    names = index + 8 + 1024
    pack = index + int.from_bytes(data[:4], "big")
    at = (
        index,
        index + 8 + 4 * 0x80,
        names + 20,
        names + 20 * count,
        names + 24 * count,
        names + 28 * count - 4,
        pack - 40,
        pack - 1,
        pack + 3,
        pack + 11,
        pack + 12 + (len(data) - pack - 32) // 2,
        len(data) - 1,
    )
    return dict(zip(PARTS, at, strict=True))


@pytest.mark.parametrize("part", PARTS)
def test_a_package_changed_on_the_way_is_refused_and_changes_nothing(
    part: str, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    edit_tracked(ann, env)
    binary(ann, env)
    git(ann, "commit", "-q", "-a", "-m", "During the turn", env=env)
    add_untracked(ann, env)
    package = packed(ann, bob)
    before, refs_before = state(bob, env), refs(bob, env)
    clone = repository(bob)

    with pytest.raises(handover.HandoverError):
        handover.unpack(
            clone, flipped(package.data, layout(package.data)[part]), package.snapshot.commit
        )

    assert state(bob, env) == before
    assert refs(bob, env) == refs_before
    handover.unpack(clone, package.data, package.snapshot.commit)
    handover.apply(clone, handover.read(clone, package.snapshot.commit), "after all")
    assert state(bob, env) == state(ann, env)


def pointing(data: bytes, offset: int, large: bytes = b"") -> bytes:
    """The package with its index's first offset made ``offset`` (and ``large`` its table of
    large offsets), and the index's checksum made right again, as a hostile sender would."""
    size = int.from_bytes(data[:4], "big")
    index, pack = data[4 : 4 + size], data[4 + size :]
    at = 8 + 1024 + 24 * int.from_bytes(index[1028:1032], "big")
    index = index[:at] + offset.to_bytes(4, "big") + index[at + 4 : -40] + large + index[-40:-20]
    index += hashlib.sha1(index).digest()
    return len(index).to_bytes(4, "big") + index + pack


@pytest.mark.parametrize(
    ("offset", "large"),
    [
        (1 << 24, b""),
        (0x7FFFFFFF, b""),
        (0, b""),
        (0x80000000, b""),
        (0x80000000, (1 << 40).to_bytes(8, "big")),
    ],
    ids=["past the end", "far past the end", "in the header", "large, missing", "large, past"],
)
def test_an_index_that_points_outside_its_pack_is_refused_though_its_checksums_are_right(
    offset: int, large: bytes, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    edit_tracked(ann, env)
    package = packed(ann, bob)
    before = state(bob, env)

    with pytest.raises(handover.HandoverError, match="does not check"):
        handover.unpack(
            repository(bob), pointing(package.data, offset, large), package.snapshot.commit
        )

    assert state(bob, env) == before


@pytest.mark.parametrize("cut", [0, 3, 4, 1000, -33, -1])
def test_a_package_cut_short_is_refused(
    cut: int, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    edit_tracked(ann, env)
    package = packed(ann, bob)
    with pytest.raises(handover.HandoverError):
        handover.unpack(repository(bob), package.data[:cut], package.snapshot.commit)


def test_a_package_missing_a_base_commit_says_to_fetch(
    tmp_path: Path, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    """Packed for a clone that holds Ann's commit, carried to Bob, who does not."""
    (ann / "committed.txt").write_text("in a commit Bob lacks\n")
    git(ann, "add", "committed.txt", env=env)
    git(ann, "commit", "-q", "-m", "Bob lacks this", env=env)
    (ann / "README.md").write_text("uncommitted\n")
    driver = repository(ann)
    snapshot = handover.take(driver, "turn")
    package = handover.package(driver, snapshot, [snapshot.head], MAX_SIZE)
    before, refs_before = state(bob, env), refs(bob, env)

    with pytest.raises(handover.HandoverError, match=r"lacks: fetch it \(git fetch\)"):
        handover.unpack(repository(bob), package.data, snapshot.commit)

    assert state(bob, env) == before
    assert refs(bob, env) == refs_before


# -- a hostile tree -----------------------------------------------------------------------------

Entry = tuple[bytes, bytes, pygit2.Oid]
HOOK = b"#!/bin/sh\ntouch pwned\n"


def raw_tree(repo: pygit2.Repository, entries: list[Entry]) -> pygit2.Oid:
    """A tree written as raw bytes, past the checks of pygit2's TreeBuilder."""
    data = b"".join(mode + b" " + name + b"\0" + oid.raw for mode, name, oid in entries)
    return repo.odb.write(ObjectType.TREE, data)


def hostile(repo: pygit2.Repository, outside: Path) -> dict[str, list[Entry]]:
    """Entries a tree must never get written by: into .git, or out of the working tree."""
    hook = repo.odb.write(ObjectType.BLOB, HOOK)
    hooks = raw_tree(repo, [(b"100755", b"pre-commit", hook)])
    git_dir = raw_tree(repo, [(b"40000", b"hooks", hooks)])
    escape = raw_tree(repo, [(b"100644", b"escape", hook)])
    target = repo.odb.write(ObjectType.BLOB, os.fsencode(outside))
    return {
        ".git": [(b"40000", b".git", git_dir)],
        ".GIT": [(b"40000", b".GIT", git_dir)],
        "git~1": [(b"40000", b"GIT~1", git_dir)],
        "..": [(b"40000", b"..", escape)],
        "../escape": [(b"100644", b"../escape", hook)],
        "a/../../escape": [(b"100644", b"a/../../outside/escape", hook)],
        "symlink and directory": [(b"120000", b"link", target), (b"40000", b"link", escape)],
    }


CASES = [".git", ".GIT", "git~1", "..", "../escape", "a/../../escape", "symlink and directory"]


def hostile_snapshot(
    repo: pygit2.Repository, entries: list[Entry], where: str
) -> handover.Snapshot:
    """A stash-format commit whose working tree (or untracked files) hold ``entries``."""
    head = repo.head.target
    base = [(b"100644", b"README.md", repo.revparse_single("HEAD:README.md").id)]
    tree = raw_tree(repo, sorted(base + entries, key=lambda entry: entry[1]))
    plain = repo.revparse_single("HEAD").tree_id
    when = pygit2.Signature("Mallory", "mallory@example.test", 1, 0)
    index = repo.create_commit(None, when, when, "index on main: x\n", plain, [head])
    parents = [head, index]
    work = tree
    if where == "untracked":
        untracked = raw_tree(repo, entries)
        parents.append(repo.create_commit(None, when, when, "untracked\n", untracked, []))
        work = plain
    commit = repo.create_commit(None, when, when, "On main: hostile\n", work, parents)
    return handover.read(repo, str(commit))


def take_it(clone: pygit2.Repository, data: bytes, commit: str) -> None:
    """Unpack and apply, as the service does: a hostile tree is refused at one or the other."""
    handover.unpack(clone, data, commit)
    handover.apply(clone, handover.read(clone, commit), "hostile")


def whole_package(repo: pygit2.Repository, commit: str) -> bytes:
    """Every object ``commit`` reaches, in a package's format, packed the way a sender that is
    not pairup could: :func:`handover.package` itself reads the trees it sends."""
    builder = pygit2.PackBuilder(repo)
    for made in repo.walk(commit):
        builder.add_recur(made.id)
    with tempfile.TemporaryDirectory() as folder:
        builder.write(folder)
        index = next(Path(folder).glob("*.idx")).read_bytes()
        pack = next(Path(folder).glob("*.pack")).read_bytes()
    return len(index).to_bytes(4, "big") + index + pack


@pytest.mark.parametrize("where", ["tracked", "untracked"])
@pytest.mark.parametrize("case", CASES)
def test_a_hostile_tree_writes_nothing_outside_the_working_tree(
    case: str, where: str, tmp_path: Path, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    driver = repository(ann)
    snapshot = hostile_snapshot(driver, hostile(driver, outside)[case], where)
    before, refs_before = state(bob, env), refs(bob, env)
    hooks = sorted(path.name for path in (bob / ".git" / "hooks").iterdir())
    clone = repository(bob)

    with pytest.raises(handover.HandoverError, match=r"nothing changed|nothing was applied"):
        take_it(clone, whole_package(driver, snapshot.commit), snapshot.commit)

    assert list(outside.iterdir()) == []
    assert sorted(path.name for path in (bob / ".git" / "hooks").iterdir()) == hooks
    assert not (tmp_path / "escape").exists()
    assert not (bob / "link").exists()
    assert state(bob, env) == before
    assert refs(bob, env) == refs_before


def test_a_symlink_to_outside_replaced_by_a_directory_is_not_followed(
    tmp_path: Path, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (ann / "link").symlink_to(outside)
    hand_over(ann, bob, "first")
    assert (bob / "link").resolve() == outside
    (ann / "link").unlink()
    (ann / "link").mkdir()
    (ann / "link" / "escape").write_text("must land inside Bob's clone\n")

    hand_over(ann, bob, "second")

    assert list(outside.iterdir()) == []
    assert not (bob / "link").is_symlink()
    assert (bob / "link" / "escape").read_text() == "must land inside Bob's clone\n"
    assert state(bob, env) == state(ann, env)


SYMLINKS = ["the navigator's own", "untracked, from a handover", "staged, from a handover"]


@pytest.mark.parametrize("replaced_by", ["a file", "a directory"])
@pytest.mark.parametrize("symlink", [*SYMLINKS, "ignored", "in an ignored directory"])
def test_a_symlink_where_the_handover_has_a_path_is_replaced_never_written_through(
    symlink: str, replaced_by: str, tmp_path: Path, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    """A symlink HEAD does not have, to a file or a directory outside the clone, where the
    handover brings a file or a directory: what it points to stays as it was."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("outside the clone\n")
    name = {"ignored": "notes.log", "in an ignored directory": "build/notes"}.get(symlink, "notes")
    points_to = outside / "victim" if replaced_by == "a file" else outside
    if symlink in SYMLINKS[1:]:
        (ann / name).symlink_to(points_to)
        if symlink.startswith("staged"):
            git(ann, "add", name, env=env)
        hand_over(ann, bob, "first")
        (ann / name).unlink()
    else:
        (bob / name).parent.mkdir(exist_ok=True)
        (bob / name).symlink_to(points_to)
    if replaced_by == "a file":
        (ann / name).parent.mkdir(exist_ok=True)
        (ann / name).write_text("Ann's file\n")
    else:
        (ann / name).mkdir(parents=True)
        (ann / name / "victim").write_text("Ann's file\n")
    if symlink.startswith(("staged", "ignored", "in an ignored")):
        git(ann, "add", "-f", name, env=env)
    assert (bob / name).is_symlink()

    outcome = hand_over(ann, bob, "second")

    assert [path.name for path in outside.iterdir()] == ["victim"]
    assert (outside / "victim").read_text() == "outside the clone\n"
    assert not (bob / name).is_symlink()
    assert state(bob, env) == state(ann, env)
    if symlink == "the navigator's own":
        assert outcome.saved is not None
        kept = git(bob, "ls-tree", f"{outcome.saved}^3", name, env=env)
        assert kept.startswith("120000 blob"), kept


@pytest.mark.parametrize("attributes", ["*.txt text eol=crlf\n", "*.txt -text\n", ""])
def test_files_git_converts_on_the_way_in_come_out_as_git_would_store_them(
    attributes: str, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    """A blob found by hashing a file's bytes is only used where git stores the bytes as
    they are; where .gitattributes converts line ends, the file goes through git's filters."""
    (ann / ".gitattributes").write_text(attributes)
    (ann / "notes.txt").write_bytes(b"one\r\ntwo\r\n")
    git(ann, "add", ".gitattributes", "notes.txt", env=env)
    git(ann, "commit", "-qm", "notes", env=env)
    (ann / "notes.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    (bob / "stray.txt").write_bytes(b"bob's\r\n")

    hand_over(ann, bob)
    hand_over(bob, ann, "back")

    assert state(bob, env) == state(ann, env)
    stored = repository(ann).revparse_single("HEAD:notes.txt").data
    assert stored == (b"one\ntwo\n" if "eol=crlf" in attributes else b"one\r\ntwo\r\n")


def test_the_package_is_a_pack_and_index_git_itself_verifies(
    tmp_path: Path, ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (ann / "big.bin").write_bytes(os.urandom(70_000))
    (ann / "README.md").write_text("# demo, changed\n" * 40)
    package = packed(ann, bob)
    index_length = int.from_bytes(package.data[:4], "big")
    index, pack = package.data[4 : 4 + index_length], package.data[4 + index_length :]
    (tmp_path / "check.pack").write_bytes(pack)
    (tmp_path / "check.idx").write_bytes(index)

    listed = git(tmp_path, "verify-pack", "-v", str(tmp_path / "check.idx"), env=env)

    kinds = [line.split()[1] for line in listed.splitlines() if len(line.split()) > 4]
    assert len(kinds) == package.objects
    assert {"commit", "tree", "blob"} <= set(kinds)
    assert f"{tmp_path / 'check.pack'}: ok" in listed


# -- what git status does not show, and what a partner's package may not do --------------


def reachable(repo: Path, env: dict[str, str], content: bytes) -> bool:
    """Whether any ref reaches a blob with ``content``."""
    blob = pygit2.hash(content)
    listed = git(repo, "rev-list", "--objects", "--all", env=env)
    return str(blob) in listed


def test_ignored_files_the_handover_writes_over_are_saved_first(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (bob / ".git" / "info").mkdir(exist_ok=True)
    (bob / ".git" / "info" / "exclude").write_text("settings.local\nbuild/\n")
    (bob / "settings.local").write_text("BOB'S API TOKEN\n")
    (bob / "build").mkdir()
    (bob / "build" / "cache.db").write_bytes(b"bob's cache")
    (ann / "settings.local").write_text("ann's settings\n")
    (ann / "build").write_text("a file where bob has a folder\n")

    outcome = hand_over(ann, bob)

    assert (bob / "settings.local").read_text() == "ann's settings\n"
    assert outcome.saved is not None
    assert reachable(bob, env, b"BOB'S API TOKEN\n")
    assert reachable(bob, env, b"bob's cache")


def test_a_repository_nested_in_the_tree_stays(ann: Path, bob: Path, env: dict[str, str]) -> None:
    nested = bob / "vendor" / "lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q", env=env)
    (nested / "code.c").write_text("int main;\n")
    (ann / "app.txt").write_text("ann's turn\n")

    hand_over(ann, bob)

    assert (nested / ".git").is_dir()
    assert (nested / "code.c").read_text() == "int main;\n"


KILLED_MID_APPLY = """
import sys, os, signal, pygit2
from pairup.git import handover
repo = pygit2.Repository(sys.argv[1])
target = handover.read(repo, sys.argv[2])
handover._check = lambda *args: os.kill(os.getpid(), signal.SIGKILL)
handover.apply(repo, target, "killed")
"""


def test_recover_undoes_nothing_once_someone_has_moved_on_and_keeps_the_before(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (ann / "README.md").write_text("ann's turn\n")
    package = packed(ann, bob)
    clone = repository(bob)
    handover.unpack(clone, package.data, package.snapshot.commit)
    (bob / "mine.txt").write_text("bob's before\n")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_APPLY, str(bob), package.snapshot.commit],
        capture_output=True,
        env={**os.environ, **env},
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    time.sleep(0.01)
    git(bob, "checkout", "-qb", "feature", env=env)
    (bob / "later.txt").write_text("work done after the kill\n")
    git(bob, "add", "later.txt", env=env)
    git(bob, "commit", "-qm", "later", env=env)

    said = handover.recover(pygit2.Repository(str(bob)))

    assert said is not None
    assert "left as it is" in said
    assert (bob / "later.txt").read_text() == "work done after the kill\n"
    assert git(bob, "rev-parse", "--abbrev-ref", "HEAD", env=env).strip() == "feature"
    assert reachable(bob, env, b"bob's before\n")
    assert handover.recover(pygit2.Repository(str(bob))) is None


def test_a_package_that_inflates_past_its_limit_is_refused_before_it_is_inflated(
    ann: Path, bob: Path
) -> None:
    (ann / "zeros.bin").write_bytes(bytes(8 << 20))
    package = packed(ann, bob, max_size=1 << 20)
    assert len(package.data) < 64 << 10
    clone = repository(bob)

    with pytest.raises(handover.HandoverError, match=r"more than 1\.0 MiB once unpacked"):
        handover.unpack(clone, package.data, package.snapshot.commit, max_inflated=1 << 20)


def test_a_tree_git_would_not_write_is_refused_before_the_pack_is_installed(
    ann: Path, bob: Path
) -> None:
    driver = repository(ann)
    blob = driver.create_blob(b"#!/bin/sh\necho owned\n")
    raw = b"100644 .git\0" + blob.raw
    evil = driver.odb.write(pygit2.enums.ObjectType.TREE, raw)
    sig = pygit2.Signature("M", "m@example.test", 1, 0)
    head = driver.head.target
    index = driver.create_commit(None, sig, sig, "index on main: x\n", driver[head].tree_id, [head])
    commit = driver.create_commit(None, sig, sig, "On main: evil\n", evil, [head, index])
    package = handover.package(driver, handover.read(driver, str(commit)), [str(head)], 1 << 20)
    clone = repository(bob)
    packs = sorted((bob / ".git" / "objects" / "pack").glob("*.pack"))

    with pytest.raises(handover.HandoverError, match="tree git would not write"):
        handover.unpack(clone, package.data, str(commit))

    assert sorted((bob / ".git" / "objects" / "pack").glob("*.pack")) == packs
    assert str(evil) not in repository(bob).odb


def test_a_lock_taken_after_a_killed_apply_is_left_to_whoever_took_it(
    ann: Path, bob: Path, env: dict[str, str]
) -> None:
    (ann / "README.md").write_text("ann's turn\n")
    package = packed(ann, bob)
    clone = repository(bob)
    handover.unpack(clone, package.data, package.snapshot.commit)
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_MID_APPLY, str(bob), package.snapshot.commit],
        capture_output=True,
        env={**os.environ, **env},
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    marker = bob / ".git" / handover.MARKER
    long_ago = marker.stat().st_mtime - 3600
    os.utime(marker, (long_ago, long_ago))
    lock = bob / ".git" / "index.lock"
    lock.write_bytes(b"")

    with pytest.raises(pygit2.GitError):
        handover.recover(pygit2.Repository(str(bob)))

    assert lock.exists()
