"""Handovers over many rotations, as properties, with real repositories.

Two (and three) clones of one origin. A random sequence of steps: the driver edits a file
(text or binary), adds one (maybe in a new directory), deletes, renames (``git mv`` or plain
``mv``), flips an exec bit, stages, commits (what is staged, or everything); a navigator makes
a stray change of their own (edits, adds, deletes or stages a file); anyone writes a file git
ignores; and the turn rotates: the driver's work is taken, packed against what the next driver
holds, unpacked and applied there, as pairup's handover service does.

After every rotation the new driver's files (content and exec bit), index, HEAD and branch are
the last driver's, every clone's ignored files are as its own person left them, and nothing is
lost: every version of a file that anyone wrote, and that nobody then overwrote or deleted in
that same clone, is still in a working tree or in a commit some ref of some clone reaches (a
branch, a saved state under ``refs/pairup/saved/``, the last snapshot).
"""

import os
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pygit2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairup.git import handover

from .test_git_commits import git, git_env

IGNORED = ".gitignore"
DIRECTORIES = ("", "src", "src/deep", "new", "new/er/est")

Step = tuple[object, ...]
FILE = st.integers(0, 63)
CLONE = st.integers(0, 2)
STEPS = st.one_of(
    st.tuples(st.just("edit"), FILE, st.booleans()),
    st.tuples(st.just("add"), st.sampled_from(DIRECTORIES), st.booleans()),
    st.tuples(st.just("delete"), FILE, st.booleans()),
    st.tuples(st.just("rename"), FILE, st.sampled_from(DIRECTORIES), st.booleans()),
    st.tuples(st.just("chmod"), FILE),
    st.tuples(st.just("stage"), FILE),
    st.tuples(st.just("commit"), st.booleans()),
    st.tuples(st.just("stray"), CLONE, FILE, st.sampled_from(("edit", "add", "delete", "stage"))),
    st.tuples(st.just("ignored"), CLONE),
    *[st.tuples(st.just("rotate"), CLONE)] * 2,  # twice as likely: many rotations
)


@dataclass
class Mob:
    """The clones, who drives, and what each person wrote."""

    clones: list[Path]
    env: dict[str, str]
    driver: int = 0
    counter: int = 0
    rotations: int = 0
    written: set[bytes] = field(default_factory=set)
    """Every version of a file anyone wrote."""
    dropped: set[bytes] = field(default_factory=set)
    """Versions a person overwrote or deleted in their own clone: theirs to lose."""
    ignored: list[dict[str, bytes]] = field(default_factory=list)

    def git(self, clone: int, *args: str) -> str:
        return git(self.clones[clone], *args, env=self.env)

    def content(self, path: str, binary: bool) -> bytes:
        """A version no one wrote before."""
        self.counter += 1
        if binary:
            return b"\0\xff" + self.counter.to_bytes(4, "big") + bytes(range(0, 256, 7))
        return f"version {self.counter} of {path}\n".encode() * (1 + self.counter % 3)

    def write(self, clone: int, path: str, binary: bool) -> None:
        full = self.clones[clone] / path
        full.parent.mkdir(parents=True, exist_ok=True)
        self.drop(full)
        data = self.content(path, binary)
        full.write_bytes(data)
        self.written.add(data)

    def drop(self, full: Path) -> None:
        if full.is_file():
            self.dropped.add(full.read_bytes())

    def files(self, clone: int) -> list[str]:
        """The clone's files git does not ignore, sorted, but the .gitignore that says so."""
        return sorted(path for path in files_of(self.clones[clone]) if path != IGNORED)

    def pick(self, clone: int, number: int) -> str | None:
        found = self.files(clone)
        return found[number % len(found)] if found else None

    def tracked(self, clone: int, path: str) -> bool:
        return bool(self.git(clone, "ls-files", "--", path))

    def navigators(self) -> list[int]:
        return [clone for clone in range(len(self.clones)) if clone != self.driver]


def files_of(top: Path) -> Iterator[str]:
    for folder, folders, names in os.walk(top):
        folders[:] = [name for name in folders if name not in (".git", "build")]
        for name in names:
            path = Path(folder, name).relative_to(top).as_posix()
            if not name.endswith(".log"):
                yield path


def run(mob: Mob, step: Step) -> None:
    kind, *args = step
    me = mob.driver
    if kind == "edit":
        number, binary = args
        path = mob.pick(me, int(number))
        if path is not None:
            mob.write(me, path, bool(binary))
    elif kind == "add":
        folder, binary = args
        name = f"f{mob.counter}.{'bin' if binary else 'txt'}"
        mob.write(me, f"{folder}/{name}".lstrip("/"), bool(binary))
    elif kind == "delete":
        number, with_git = args
        path = mob.pick(me, int(number))
        if path is not None:
            mob.drop(mob.clones[me] / path)
            if with_git and mob.tracked(me, path):
                mob.git(me, "rm", "-q", "-f", "--", path)
            else:
                (mob.clones[me] / path).unlink()
    elif kind == "rename":
        number, folder, with_git = args
        path = mob.pick(me, int(number))
        if path is not None:
            mob.counter += 1
            new = f"{folder}/r{mob.counter}-{Path(path).name}".lstrip("/")
            (mob.clones[me] / new).parent.mkdir(parents=True, exist_ok=True)
            if with_git and mob.tracked(me, path):
                mob.git(me, "mv", "-f", "--", path, new)
            else:
                (mob.clones[me] / path).rename(mob.clones[me] / new)
    elif kind == "chmod":
        path = mob.pick(me, int(args[0]))
        if path is not None:
            full = mob.clones[me] / path
            full.chmod(full.stat().st_mode ^ 0o111)
    elif kind == "stage":
        path = mob.pick(me, int(args[0]))
        if path is not None:
            mob.git(me, "add", "--", path)
    elif kind == "commit":
        if args[0]:
            mob.git(me, "add", "-A")
        mob.git(me, "commit", "-q", "--allow-empty", "-m", f"Commit {mob.counter}")
        mob.counter += 1
    elif kind == "stray":
        who, number, what = args
        navigator = mob.navigators()[int(who) % len(mob.navigators())]
        path = mob.pick(navigator, int(number))
        if what == "add" or path is None:
            mob.write(navigator, f"stray/s{mob.counter}.txt", binary=False)
        elif what == "edit":
            mob.write(navigator, path, binary=False)
        elif what == "stage":
            mob.git(navigator, "add", "--", path)
        else:
            mob.drop(mob.clones[navigator] / path)
            (mob.clones[navigator] / path).unlink()
    elif kind == "ignored":
        clone = int(args[0]) % len(mob.clones)
        path = f"build/b{mob.counter}.o" if mob.counter % 2 else f"i{mob.counter}.log"
        data = mob.content(path, binary=True)
        (mob.clones[clone] / path).parent.mkdir(exist_ok=True)
        (mob.clones[clone] / path).write_bytes(data)
        mob.ignored[clone][path] = data
    else:
        rotate(mob, mob.navigators()[int(args[0]) % len(mob.navigators())])


def rotate(mob: Mob, receiver: int) -> None:
    """The driver's work to ``receiver``, the way the handover service carries it."""
    mob.rotations += 1
    driver = pygit2.Repository(str(mob.clones[mob.driver]))
    clone = pygit2.Repository(str(mob.clones[receiver]))
    last = driver.references.get(handover.LAST_REF)
    since = None if last is None else str(last.target)
    snapshot = handover.take(driver, f"turn {mob.rotations}")
    package = handover.package(driver, snapshot, handover.holding(clone), 1 << 24, since)
    driver.references.create(handover.SENT_REF, pygit2.Oid(hex=snapshot.commit), force=True)
    handover.unpack(clone, package.data, snapshot.commit)
    handover.apply(clone, handover.read(clone, snapshot.commit), f"rotation-{mob.rotations}")
    # The sender's last once the receiver says it applied it.
    driver.references.create(handover.LAST_REF, pygit2.Oid(hex=snapshot.commit), force=True)
    assert state(mob.clones[receiver]) == state(mob.clones[mob.driver])
    mob.driver = receiver
    check_ignored(mob)
    check_nothing_lost(mob)


def state(top: Path) -> dict[str, object]:
    """Files git does not ignore (content, exec bit), the index, HEAD and its branch."""
    repo = pygit2.Repository(str(top))
    files = {}
    for path in files_of(top):
        info = (top / path).lstat()
        files[path] = ((top / path).read_bytes(), bool(info.st_mode & stat.S_IXUSR))
    index = repo.index
    index.read(force=True)
    return {
        "files": files,
        "index": sorted((entry.path, str(entry.id), entry.mode) for entry in index),
        "head": str(repo.head.target),
        "branch": None if repo.head_is_detached else repo.head.name,
    }


def check_ignored(mob: Mob) -> None:
    for clone, top in enumerate(mob.clones):
        found = {}
        for folder, folders, names in os.walk(top):
            folders[:] = [name for name in folders if name != ".git"]
            for name in names:
                path = Path(folder, name).relative_to(top).as_posix()
                if path.startswith("build/") or path.endswith(".log"):
                    found[path] = (top / path).read_bytes()
        assert found == mob.ignored[clone], f"clone {clone}'s ignored files"


def check_nothing_lost(mob: Mob) -> None:
    kept: set[str] = set()
    for top in mob.clones:
        kept |= {str(pygit2.hash((top / path).read_bytes())) for path in files_of(top)}
        kept |= reachable_blobs(pygit2.Repository(str(top)))
    lost = [data for data in mob.written - mob.dropped if str(pygit2.hash(data)) not in kept]
    assert not lost, f"lost {len(lost)} version(s), the first: {lost[0]!r}"


def reachable_blobs(repo: pygit2.Repository) -> set[str]:
    """Every blob a commit reachable from any ref holds."""
    blobs: set[str] = set()
    trees: set[str] = set()
    commits: set[str] = set()
    todo = [ref.peel(pygit2.Commit).id for ref in repo.references.objects]
    while todo:
        commit = repo[todo.pop()]
        if str(commit.id) in commits:
            continue
        commits.add(str(commit.id))
        todo.extend(commit.parent_ids)
        stack = [commit.tree]
        while stack:
            tree = stack.pop()
            if str(tree.id) in trees:
                continue
            trees.add(str(tree.id))
            for entry in tree:
                if entry.type_str == "tree":
                    stack.append(repo[entry.id])
                elif entry.type_str == "blob":
                    blobs.add(str(entry.id))
    return blobs


def mob_of(top: Path, count: int) -> Mob:
    env = {
        **git_env(top),
        "GIT_AUTHOR_NAME": "Ann",
        "GIT_AUTHOR_EMAIL": "ann@example.test",
        "GIT_COMMITTER_NAME": "Ann",
        "GIT_COMMITTER_EMAIL": "ann@example.test",
    }
    origin = top / "origin"
    origin.mkdir()
    git(origin, "init", "-q", "-b", "main", env=env)
    (origin / IGNORED).write_text("*.log\nbuild/\n")
    (origin / "src").mkdir()
    (origin / "src" / "app.py").write_text("print('app')\n")
    (origin / "README.md").write_text("# mob\n")
    git(origin, "add", "-A", env=env)
    git(origin, "commit", "-q", "-m", "Start", env=env)
    clones = []
    for number in range(count):
        subprocess.run(
            ["git", "clone", "-q", str(origin), f"clone-{number}"],
            cwd=top,
            env=env,
            check=True,
        )
        clones.append(top / f"clone-{number}")
    return Mob(clones, env, ignored=[{} for _ in clones])


@pytest.mark.parametrize("count", [2, 3])
@settings(max_examples=25, deadline=None)
@given(steps=st.lists(STEPS, min_size=10, max_size=30))
def test_the_code_moves_with_the_role_and_nothing_is_lost(count: int, steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory(prefix="pairup-mob-") as folder:
        mob = mob_of(Path(folder), count)
        for step in [*steps, ("rotate", 0)]:
            run(mob, step)
