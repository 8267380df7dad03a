"""The code moving with the role: a working tree taken as git objects, carried as a pack,
and put in place on the next driver's clone all at once, after saving what it replaces.

A **snapshot** is git's own stash format: a commit ``W`` whose tree is the working tree's
tracked files, with parents ``HEAD``, a commit of the index ``I`` and, when there are any, a
root commit ``U`` of the untracked files (``.gitignore`` respected). So a snapshot saved
under ``refs/pairup/saved/`` comes back with ``git stash apply --index REF``.

A **package** is the objects of a snapshot that the receiver lacks, in git's pack format
(pygit2's ``PackBuilder``), with the pack's index. What the receiver has is what it said it
holds (:func:`holding`); the sender leaves out everything those commits reach.

**Applying** is done once the objects are in: the receiver's state is taken as a snapshot
first (and kept under ``refs/pairup/saved/`` unless it is clean or exactly the tree this
clone last sent or received), a marker file names that state, and only then are the files,
the index and ``HEAD`` changed. A process killed in between leaves the marker, and
:func:`recover` puts the saved state back before anything else touches the repository.
A branch only ever moves forward: a history that diverged is refused, never rewritten.

Everything here blocks: call it from a thread when an event loop is running.
"""

import contextlib
import hashlib
import json
import os
import stat
import struct
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pygit2
from pygit2.enums import CheckoutStrategy, FileMode, FileStatus, SortMode

from pairup.git.live import running

LAST_REF = "refs/pairup/last"
"""The snapshot this clone last sent (once applied) or received: its tree may be replaced
without saving."""
SENT_REF = "refs/pairup/sent"
"""The snapshot this clone last sent, applied or not: a handover back need not carry it."""
SAVED_PREFIX = "refs/pairup/saved/"
APPLYING_REF = "refs/pairup/applying"
"""The state an apply under way replaces, kept reachable until the apply is through."""
MARKER = Path("pairup") / "handover-applying.json"
"""In the working tree's git directory while an apply is under way."""
HOLDING_LIMIT = 32
"""Commits at most that a participant says it holds: enough for HEAD, its branches and the
remote branches they track."""
LARGEST_SHOWN = 5
PAIRUP = pygit2.Signature("pairup", "pairup@localhost")
"""Who makes the snapshot commits, which no branch ever points to."""
_UNTRACKED_FLAGS = FileStatus.WT_NEW
_CHANGED_FLAGS = FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE | FileStatus.WT_RENAMED


class HandoverError(Exception):
    """A handover cannot be taken or applied here; the message says why and what to do."""


class TooLarge(HandoverError):
    """The package is over ``handover.max_size``: its size and its largest files."""

    def __init__(self, size: int, limit: int, largest: tuple[tuple[str, int], ...]) -> None:
        self.size = size
        self.limit = limit
        self.largest = largest
        files = ", ".join(f"{path} ({_size(n)})" for path, n in largest)
        super().__init__(
            f"the handover is {_size(size)}, over handover.max_size ({_size(limit)}); "
            f"largest: {files or 'history the next driver lacks'}; commit large files "
            "elsewhere, add them to .gitignore, or raise handover.max_size"
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A working tree as git objects: the stash-format commit and what it is made of."""

    commit: str
    head: str
    branch: str | None
    """The branch HEAD is on (short name), None when detached."""
    index_tree: str
    work_tree: str
    """The tracked files as they are in the working tree."""
    untracked_tree: str | None

    @property
    def key(self) -> tuple[str, str, str, str | None, str | None]:
        """What two snapshots of the same state share (the commit differs by its time)."""
        return (self.head, self.index_tree, self.work_tree, self.untracked_tree, self.branch)


@dataclass(frozen=True, slots=True)
class Moved:
    """What a handover carries, as a person reads it."""

    files: int
    insertions: int
    deletions: int
    commits: int
    last_file: str
    """The changed file the last driver saved last ("" when nothing changed)."""
    last_line: int
    """Its last changed line (1 when there is no line to point at)."""


@dataclass(frozen=True, slots=True)
class Package:
    """A snapshot's objects the receiver lacks, as bytes to carry (pack index, then pack)."""

    data: bytes
    objects: int
    snapshot: Snapshot
    moved: Moved


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an apply did: the saved state, if any, and the command that brings it back."""

    saved: str | None
    restore: str


def _size(count: int) -> str:
    for unit in ("B", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024  # type: ignore[assignment]
    return f"{count:.1f} GiB"


# -- taking ------------------------------------------------------------------------------------


def take(repo: pygit2.Repository, message: str, also: Iterable[str] = ()) -> Snapshot:
    """The working tree, the index and HEAD as a stash-format commit; files untouched.
    ``also`` names files git ignores to keep with the untracked ones (those an apply is
    about to write over)."""
    if repo.head_is_unborn:
        raise HandoverError("this repository has no commit yet: commit once, then hand over")
    head = repo.head.target
    branch = None if repo.head_is_detached else repo.head.shorthand
    index = repo.index
    index.read(force=False)
    if index.conflicts is not None:
        raise HandoverError(
            "the index has unresolved conflicts: resolve them (git status lists them) first"
        )
    index_tree = index.write_tree(repo)
    work = _Lazy(repo, index_tree)
    untracked = pygit2.Index()
    top = Path(repo.workdir)
    attributes = _Attributes(repo)
    for path, flags in repo.status(untracked_files="all").items():
        entry = _entry(index, path)
        if entry is not None and entry.mode == FileMode.COMMIT:
            continue  # a submodule travels as its commit in the index, not its files
        if flags & _UNTRACKED_FLAGS:
            blob = _blob(repo, top, path, attributes)
            if blob is not None:
                untracked.add(blob)
        elif flags & FileStatus.WT_DELETED:
            with contextlib.suppress(OSError, pygit2.GitError):
                work.index.remove(path)
        elif flags & _CHANGED_FLAGS:
            blob = _blob(repo, top, path, attributes)
            if blob is None:
                with contextlib.suppress(OSError, pygit2.GitError):
                    work.index.remove(path)
            else:
                work.index.add(blob)
    for path in also:
        blob = _blob(repo, top, path, attributes)
        if blob is not None:
            untracked.add(blob)
    work_tree = work.tree()
    untracked_tree = untracked.write_tree(repo) if len(untracked) else None
    on = branch or "(no branch)"
    summary = repo[head].message.split("\n", 1)[0]
    base = f"{on}: {str(head)[:7]} {summary}"
    stamp = _now()
    index_commit = repo.create_commit(None, stamp, stamp, f"index on {base}\n", index_tree, [head])
    parents = [head, index_commit]
    if untracked_tree is not None:
        parents.append(
            repo.create_commit(
                None, stamp, stamp, f"untracked files on {base}\n", untracked_tree, []
            )
        )
    commit = repo.create_commit(None, stamp, stamp, f"On {on}: {message}\n", work_tree, parents)
    return Snapshot(
        commit=str(commit),
        head=str(head),
        branch=branch,
        index_tree=str(index_tree),
        work_tree=str(work_tree),
        untracked_tree=None if untracked_tree is None else str(untracked_tree),
    )


class _Lazy:
    """The working tree's files as an index, made from the index's tree only once a file
    differs from it (a clean tree, most often the receiver's, costs no copy)."""

    def __init__(self, repo: pygit2.Repository, index_tree: pygit2.Oid) -> None:
        self.repo = repo
        self.index_tree = index_tree
        self._index: pygit2.Index | None = None

    @property
    def index(self) -> pygit2.Index:
        if self._index is None:
            self._index = pygit2.Index()
            self._index.read_tree(self.repo[self.index_tree])
        return self._index

    def tree(self) -> pygit2.Oid:
        return self.index_tree if self._index is None else self._index.write_tree(self.repo)


def _now() -> pygit2.Signature:
    return pygit2.Signature(PAIRUP.name, PAIRUP.email, int(time.time()), 0)


def _entry(index: pygit2.Index, path: str) -> pygit2.IndexEntry | None:
    try:
        return index[path]
    except (KeyError, ValueError):
        return None


def _blob(
    repo: pygit2.Repository, top: Path, path: str, attributes: "_Attributes"
) -> pygit2.IndexEntry | None:
    """The file at ``path`` as a blob and its mode; None when it vanished meanwhile."""
    full = top / path
    try:
        info = full.lstat()
        if stat.S_ISLNK(info.st_mode):
            oid = repo.create_blob(os.fsencode(os.readlink(full)))
            return pygit2.IndexEntry(path, oid, FileMode.LINK)
        if not stat.S_ISREG(info.st_mode):
            return None
        oid = _as_is(repo, full, path, attributes) or repo.create_blob_fromworkdir(path)
    except (OSError, pygit2.GitError):
        return None
    mode = FileMode.BLOB_EXECUTABLE if info.st_mode & stat.S_IXUSR else FileMode.BLOB
    return pygit2.IndexEntry(path, oid, mode)


def _as_is(
    repo: pygit2.Repository, full: Path, path: str, attributes: "_Attributes"
) -> pygit2.Oid | None:
    """The file's bytes as a blob, found if the repository has it and written if not, where
    git stores the file as it is (no end-of-line conversion, no filter); None where git's
    filters must have their say. Most files at a rotation were written before (by the last
    handover, the last look), and a blob found by its hash costs no compressed file of its
    own; reading the bytes here spares libgit2's look at the attributes again."""
    if attributes.convert(path):
        return None
    data = full.read_bytes()
    oid = pygit2.hash(data)
    return oid if oid in repo.odb else repo.create_blob(data)


_CONVERTING = ("text", "eol", "crlf", "filter", "ident", "working-tree-encoding")
"""The attributes under which git stores a file other than as its bytes."""


class _Attributes:
    """Whether git may store a file other than as its bytes, for one look at the working
    tree. Asking libgit2 costs a lookup per attribute and file; where no attributes file
    can apply to a folder (none in it or above it, in the working tree or the index, and
    none for the whole repository), the answer is no without asking."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo
        self.top = Path(repo.workdir)
        self.index = repo.index
        self.everywhere = _autocrlf(repo) or self._repository_wide()
        self._folders: dict[str, bool] = {}

    def convert(self, path: str) -> bool:
        folder = path.rpartition("/")[0]
        if not self.everywhere and not self._attributed(folder):
            return False
        return any(self.repo.get_attr(path, name) is not None for name in _CONVERTING)

    def _attributed(self, folder: str) -> bool:
        """Whether a .gitattributes file in ``folder`` or a folder above it may apply."""
        known = self._folders.get(folder)
        if known is None:
            name = f"{folder}/.gitattributes" if folder else ".gitattributes"
            here = (self.top / name).exists() or name in self.index
            above = bool(folder) and self._attributed(folder.rpartition("/")[0])
            known = self._folders[folder] = here or above
        return known

    def _repository_wide(self) -> bool:
        """An attributes file for every path: the repository's own, or the user's."""
        if (Path(self.repo.path) / "info" / "attributes").exists():
            return True
        try:
            return bool(self.repo.config["core.attributesFile"])
        except KeyError:
            pass
        home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        return os.path.exists(os.path.join(home, "git", "attributes"))


def _autocrlf(repo: pygit2.Repository) -> bool:
    try:
        value = str(repo.config["core.autocrlf"]).lower()
    except KeyError:
        return False
    return value not in ("false", "0", "no", "off")


def read(repo: pygit2.Repository, commit: str) -> Snapshot:
    """The snapshot whose stash-format commit is ``commit``."""
    try:
        made = repo[commit]
    except (KeyError, ValueError):
        raise HandoverError(f"snapshot {commit[:12]} is not in this repository") from None
    if not isinstance(made, pygit2.Commit) or len(made.parents) not in (2, 3):
        raise HandoverError(f"{commit[:12]} is not a snapshot")
    head, index = made.parents[0], made.parents[1]
    untracked = made.parents[2] if len(made.parents) == 3 else None
    first = made.message.split("\n", 1)[0]
    branch = None
    if first.startswith("On ") and ": " in first:
        name = first[3:].split(": ", 1)[0]
        branch = None if name == "(no branch)" else name
    if branch is not None and not pygit2.reference_is_valid_name(f"refs/heads/{branch}"):
        raise HandoverError(f"snapshot {commit[:12]} names a branch git would not take")
    return Snapshot(
        commit=str(made.id),
        head=str(head.id),
        branch=branch,
        index_tree=str(index.tree_id),
        work_tree=str(made.tree_id),
        untracked_tree=None if untracked is None else str(untracked.tree_id),
    )


def clean(snapshot: Snapshot, repo: pygit2.Repository) -> bool:
    """Nothing in the snapshot that HEAD does not have: no change, nothing untracked."""
    head_tree = str(repo[snapshot.head].tree_id)
    return (
        snapshot.untracked_tree is None
        and snapshot.index_tree == head_tree
        and snapshot.work_tree == head_tree
    )


def holding(repo: pygit2.Repository) -> list[str]:
    """Commits this clone holds (with everything they reach) for a sender to leave out:
    HEAD, the last snapshot sent or received, its branches and the remote branches."""
    found: list[str] = []
    names = ["HEAD", LAST_REF, SENT_REF]
    names += [r for r in repo.references if r.startswith(("refs/heads/", "refs/remotes/"))]
    for name in names:
        with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
            target = repo.revparse_single(name)
            if isinstance(target, pygit2.Commit) and str(target.id) not in found:
                found.append(str(target.id))
        if len(found) >= HOLDING_LIMIT:
            break
    return found


# -- packing -----------------------------------------------------------------------------------


def package(
    repo: pygit2.Repository,
    snapshot: Snapshot,
    theirs: Iterable[str],
    max_size: int,
    since: str | None = None,
) -> Package:
    """The objects of ``snapshot`` that commits in ``theirs`` do not reach, packed; or
    :class:`TooLarge`. ``since`` is the snapshot the turn began from, for what moved."""
    theirs = [commit for commit in theirs if _is_commit(repo, commit)]
    walker = repo.walk(snapshot.commit, SortMode.TOPOLOGICAL)
    for commit in theirs:
        walker.hide(commit)
    # The trees of a snapshot the receiver holds (the last handover): work that was in it and
    # is still uncommitted is not sent again.
    held = [repo[tree] for commit in theirs for tree in _snapshot_trees(repo, commit)]
    objects: dict[pygit2.Oid, str] = {}
    carried = 0
    own = {snapshot.commit, *(str(p) for p in repo[snapshot.commit].parent_ids[1:])}
    for made in walker:
        objects[made.id] = ""
        bases = [made.parents[0].tree] if made.parents else []
        _new_objects(repo, made.tree, bases + held, "", objects)
        carried += str(made.id) not in own
    index, pack = _pack(repo, objects)
    data = len(index).to_bytes(4, "big") + index + pack
    if len(data) > max_size:
        blobs = [(path, repo[oid].size) for oid, path in objects.items() if path]
        largest = tuple(sorted(blobs, key=lambda item: -item[1])[:LARGEST_SHOWN])
        raise TooLarge(len(data), max_size, largest)
    start = since if since is not None and _is_commit(repo, since) else None
    return Package(data, len(objects), snapshot, _moved(repo, snapshot, start, theirs, carried))


def _pack(repo: pygit2.Repository, objects: Iterable[pygit2.Oid]) -> tuple[bytes, bytes]:
    """``objects`` as a git pack (version 2, each object whole, quickly compressed) and its
    index (version 2): the format git and libgit2 read. libgit2's PackBuilder searches
    for deltas among the objects, which costs most of a handover's packing for the few
    kilobytes it saves on changed source files (their bases are not in the pack)."""
    body = bytearray(b"PACK" + struct.pack(">II", 2, 0))
    entries: list[tuple[bytes, int, int]] = []
    for oid in objects:
        kind, raw = repo.odb.read(oid)
        chunk = _object_header(kind, len(raw)) + zlib.compress(raw, 1)
        entries.append((oid.raw, zlib.crc32(chunk), len(body)))
        body += chunk
    body[8:12] = struct.pack(">I", len(entries))
    pack = bytes(body) + hashlib.sha1(body, usedforsecurity=False).digest()
    entries.sort()
    fanout = [0] * 256
    for name, _, _ in entries:
        fanout[name[0]] += 1
    for first in range(1, 256):
        fanout[first] += fanout[first - 1]
    small: list[int] = []
    large: list[int] = []
    for _, _, offset in entries:
        if offset < 0x80000000:
            small.append(offset)
        else:
            small.append(0x80000000 | len(large))
            large.append(offset)
    index = b"".join(
        [
            _INDEX_HEADER,
            struct.pack(">256I", *fanout),
            *(name for name, _, _ in entries),
            struct.pack(f">{len(entries)}I", *(crc for _, crc, _ in entries)),
            struct.pack(f">{len(small)}I", *small),
            struct.pack(f">{len(large)}Q", *large),
            pack[-20:],
        ]
    )
    return index + hashlib.sha1(index, usedforsecurity=False).digest(), pack


def _object_header(kind: int, size: int) -> bytes:
    """A pack entry's type and size: four bits of size in the first byte, seven a byte after."""
    first = (kind << 4) | (size & 0x0F)
    size >>= 4
    header = bytearray()
    while size:
        header.append(first | 0x80)
        first = size & 0x7F
        size >>= 7
    header.append(first)
    return bytes(header)


def what_moved(
    repo: pygit2.Repository, snapshot: Snapshot, since: str | None, theirs: list[str]
) -> Moved:
    """What ``snapshot`` carries to someone holding ``theirs``, without packing it (branch
    mode pushes it instead): files, lines, and the commits they lack."""
    theirs = [commit for commit in theirs if _is_commit(repo, commit)]
    walker = repo.walk(snapshot.head, SortMode.TOPOLOGICAL)
    for commit in theirs:
        walker.hide(commit)
    start = since if since is not None and _is_commit(repo, since) else None
    return _moved(repo, snapshot, start, theirs, sum(1 for _ in walker))


def _is_commit(repo: pygit2.Repository, commit: str) -> bool:
    try:
        return isinstance(repo[commit], pygit2.Commit)
    except (KeyError, ValueError, pygit2.GitError):
        return False


def _snapshot_trees(repo: pygit2.Repository, commit: str) -> list[str]:
    """The trees of ``commit`` if it is a snapshot (its files, index and untracked files)."""
    try:
        snapshot = read(repo, commit)
    except HandoverError:
        return []
    trees = [snapshot.work_tree, snapshot.index_tree]
    return trees if snapshot.untracked_tree is None else [*trees, snapshot.untracked_tree]


def _new_objects(
    repo: pygit2.Repository,
    tree: pygit2.Tree,
    bases: list[pygit2.Tree],
    prefix: str,
    out: dict[pygit2.Oid, str],
) -> None:
    """The trees and blobs of ``tree`` that none of ``bases`` has at the same path."""
    if any(tree.id == base.id for base in bases):
        return
    out.setdefault(tree.id, "")
    had = [{entry.name: entry for entry in base} for base in bases]
    for entry in tree:
        olds = [found for names in had if (found := names.get(entry.name)) is not None]
        if any(old.id == entry.id for old in olds):
            continue
        if entry.filemode == FileMode.TREE:
            older = [repo[old.id] for old in olds if old.filemode == FileMode.TREE]
            _new_objects(repo, repo[entry.id], older, f"{prefix}{entry.name}/", out)
        elif entry.filemode != FileMode.COMMIT and entry.id not in out:
            out[entry.id] = f"{prefix}{entry.name}"


def _moved(
    repo: pygit2.Repository,
    snapshot: Snapshot,
    since: str | None,
    theirs: list[str],
    commits: int,
) -> Moved:
    """Files and lines from the snapshot the turn began with (``since``), else from the
    receiver's HEAD, else from HEAD's; and the ``commits`` the handover carries."""
    now = whole_tree(repo, snapshot)
    if since is not None:
        before_tree = repo[whole_tree(repo, read(repo, since))]
    elif theirs:
        before_tree = repo[theirs[0]].tree
    else:
        before_tree = repo[snapshot.head].tree
    files = insertions = deletions = 0
    last: pygit2.Patch | None = None
    newest = -1.0
    top = Path(repo.workdir)
    for patch in before_tree.diff_to_tree(repo[now]):
        _, added, removed = patch.line_stats
        files, insertions, deletions = files + 1, insertions + added, deletions + removed
        if patch.delta.status_char() == "D":
            continue
        try:
            changed_at = (top / patch.delta.new_file.path).lstat().st_mtime
        except OSError:
            continue
        if changed_at > newest:
            newest, last = changed_at, patch
    if last is None:
        return Moved(files, insertions, deletions, commits, "", 1)
    return Moved(
        files,
        insertions,
        deletions,
        commits,
        last.delta.new_file.path,
        _last_added_line(last),
    )


def _last_added_line(patch: pygit2.Patch) -> int:
    line = 1
    for hunk in patch.hunks:
        for diff_line in hunk.lines:
            if diff_line.origin == "+" and diff_line.new_lineno > 0:
                line = diff_line.new_lineno
        if line == 1:
            line = max(1, hunk.new_start)
    return line


# -- receiving ---------------------------------------------------------------------------------


def unpack(
    repo: pygit2.Repository, data: bytes, snapshot: str, max_inflated: int = 1 << 30
) -> None:
    """Put the package into ``repo`` as the pack it is, once it checks (both checksums, every
    offset inside the pack, every object's bytes hashing to its name, every tree's names
    ones git would write, ``max_inflated`` bytes at most once inflated), and check that the
    snapshot is complete with what the repository had. The pack of a package refused for
    a missing base stays, unreferenced, for git's garbage collection."""
    index, pack = _parts_of(data)
    _check_pack(index, pack)
    name = f"pack-{pack[-20:].hex()}"
    with tempfile.TemporaryDirectory(prefix="pairup-unpack-") as folder:
        packs = Path(folder) / "pack"
        packs.mkdir()
        (packs / f"{name}.pack").write_bytes(pack)
        (packs / f"{name}.idx").write_bytes(index)
        written = _checked_objects(folder, max_inflated)
    _install(repo, name, pack, index)
    missing = _missing(repo, written, snapshot)
    if missing:
        raise HandoverError(
            f"the handover needs {missing[:12]}, which this clone lacks: fetch it "
            "(git fetch), then take the handover again"
        )


def _parts_of(data: bytes) -> tuple[bytes, bytes]:
    """A package's pack index and pack."""
    if len(data) < 4:
        raise HandoverError("the handover arrived cut short")
    index_length = int.from_bytes(data[:4], "big")
    index, pack = data[4 : 4 + index_length], data[4 + index_length :]
    if len(index) != index_length or len(pack) < 32:
        raise HandoverError("the handover arrived cut short")
    return index, pack


_KINDS = {1: b"commit", 2: b"tree", 3: b"blob", 4: b"tag"}


def _checked_objects(folder: str, max_inflated: int) -> set[str]:
    """The ids of the objects in the pack under ``folder``, each read through pygit2 and
    hashed (one whose bytes are not its name is refused), each tree's names checked. Their
    sizes are read from their headers first: a small pack that inflates to more than
    ``max_inflated`` is refused before anything is inflated."""
    odb = pygit2.Odb()
    found: set[str] = set()
    try:
        odb.add_backend(pygit2.OdbBackendPack(folder), 1)
        oids = list(odb)
        if sum(odb.read_header(oid)[1] for oid in oids) > max_inflated:
            raise HandoverError(
                f"the handover would take more than {_size(max_inflated)} once unpacked"
            )
        for oid in oids:
            kind, raw = odb.read(oid)
            header = _KINDS.get(kind, b"?") + b" %d\0" % len(raw)
            if hashlib.sha1(header + raw, usedforsecurity=False).hexdigest() != str(oid):
                raise HandoverError("an object of the handover does not match its name")
            if kind == 2:
                _check_names(_tree_names(raw))
            found.add(str(oid))
    except pygit2.GitError as error:
        raise HandoverError(f"the handover's pack does not read: {error}") from None
    return found


def _tree_names(raw: bytes) -> list[str]:
    """The names of a tree object's entries (``MODE NAME\\0`` and 20 bytes of id each)."""
    names = []
    at = 0
    while at < len(raw):
        space = raw.index(b" ", at)
        end = raw.index(b"\0", space)
        names.append(raw[space + 1 : end].decode("utf-8", "surrogateescape"))
        at = end + 21
    return names


def _install(repo: pygit2.Repository, name: str, pack: bytes, index: bytes) -> None:
    """The pack and its index into the repository's object store, the index last (git reads
    a pack once its index is there), each written whole before it takes its name."""
    folder = _objects(repo) / "pack"
    folder.mkdir(parents=True, exist_ok=True)
    for suffix, data in ((".pack", pack), (".idx", index)):
        path = folder / f"{name}{suffix}"
        if path.exists():
            continue
        partial = folder / f"tmp-{name}{suffix}"
        with partial.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        partial.chmod(0o444)
        os.replace(partial, path)
    _sync_dir(folder)


def _objects(repo: pygit2.Repository) -> Path:
    """The object store, which a linked worktree shares with its main one."""
    git_dir = Path(repo.path)
    try:
        common = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return git_dir / "objects"
    return (git_dir / common).resolve() / "objects"


_INDEX_HEADER = b"\377tOc\0\0\0\2"
"""A pack index of version 2, the one PackBuilder writes."""


def _check_pack(index: bytes, pack: bytes) -> None:
    """Refuse a pack and an index that are not whole and each other's before libgit2 reads
    them: it trusts the index's offsets, and one past the pack's end crashes the process."""
    count = int.from_bytes(pack[8:12], "big")
    table = len(_INDEX_HEADER) + 256 * 4 + count * 24
    large = index[table + count * 4 : -40]
    whole = (
        index.startswith(_INDEX_HEADER)
        and int.from_bytes(index[1028:1032], "big") == count
        and len(index) >= table + count * 4 + 40
        and len(large) % 8 == 0
        and hashlib.sha1(pack[:-20]).digest() == pack[-20:] == index[-40:-20]
        and hashlib.sha1(index[:-20]).digest() == index[-20:]
    )
    if not whole or not all(
        12 <= offset < len(pack) - 20
        for offset in _offsets(index[table : table + count * 4], large)
    ):
        raise HandoverError("the handover's pack does not check: it was damaged on the way")


def _offsets(table: bytes, large: bytes) -> Iterator[int]:
    """Where each object begins in the pack, from the index's table of offsets and its table
    of large ones (-1 for a large one the index lacks)."""
    for at in range(0, len(table), 4):
        offset = int.from_bytes(table[at : at + 4], "big")
        if offset & 0x80000000:
            slot = (offset & 0x7FFFFFFF) * 8
            offset = int.from_bytes(large[slot : slot + 8], "big") if slot + 8 <= len(large) else -1
        yield offset


def _missing(repo: pygit2.Repository, written: set[str], start: str) -> str:
    """An object the snapshot needs that the repository lacks ("" when none). An object the
    repository had before reaches everything it needs already; only new ones are followed."""
    todo = [start]
    seen: set[str] = set()
    while todo:
        oid = todo.pop()
        if oid in seen:
            continue
        seen.add(oid)
        if oid not in written:
            if pygit2.Oid(hex=oid) not in repo.odb:
                return oid
            continue
        found = repo[oid]
        if isinstance(found, pygit2.Commit):
            todo.append(str(found.tree_id))
            todo.extend(str(parent) for parent in found.parent_ids)
        elif isinstance(found, pygit2.Tree):
            todo.extend(str(entry.id) for entry in found if entry.filemode != FileMode.COMMIT)
    return ""


_NOT_A_NAME = frozenset({"", ".", "..", ".git", "git~1"})


def _check_names(names: list[str]) -> None:
    """Refuse a tree git itself would never write: a name twice, an empty one, ``.``,
    ``..``, ``.git`` in any case (or its short name), one with a slash."""
    if len(set(names)) != len(names) or any(
        name.casefold() in _NOT_A_NAME or "/" in name for name in names
    ):
        raise HandoverError("the handover holds a tree git would not write; nothing was applied")


# -- applying ----------------------------------------------------------------------------------


def apply(repo: pygit2.Repository, target: Snapshot, name: str) -> Outcome:
    """Make the working tree, the index and HEAD exactly ``target``'s, all at once, after
    saving what is here under ``refs/pairup/saved/NAME`` unless it is clean or exactly what
    this clone last sent or received. A branch moves forward only; else :class:`HandoverError`
    says why and nothing is touched."""
    recover(repo)
    before = take(repo, f"before handover {name}")
    moved = _branch_move(repo, target)
    ignored = _ignored_in_the_way(repo, before, target)
    if ignored:
        # Files git ignores here but the handover brings: kept with the rest before they go.
        before = take(repo, f"before handover {name}", also=ignored)
    saved = None
    if ignored or (not clean(before, repo) and not _as_last(repo, before)):
        saved = _save(repo, name, before.commit)
    elif before.branch is None and not _reaches(repo, target.head, before.head):
        # A detached HEAD's own commits are on no branch: the snapshot keeps them reachable.
        saved = _save(repo, name, before.commit)
    # The marker before the ref that keeps its state, and away after it (_clear_marker): a
    # kill between the two never leaves the ref without the marker that clears it.
    _write_marker(
        repo,
        {"before": before.commit, "target": target.commit, "ref": moved, "pid": os.getpid()},
    )
    repo.references.create(APPLYING_REF, pygit2.Oid(hex=before.commit), force=True)
    try:
        written = _move(repo, before, target)
        _check(repo, target, written)
    except (OSError, pygit2.GitError, HandoverError) as error:
        recover(repo)
        raise HandoverError(
            f"the handover could not be put in place ({error}); nothing changed"
        ) from None
    if moved is not None and moved[1] is None and target.branch is not None:
        _track(repo, target.branch)
    repo.references.create(LAST_REF, pygit2.Oid(hex=target.commit), force=True)
    _clear_marker(repo)
    return Outcome(saved, "" if saved is None else f"git stash apply --index {saved}")


def recover(repo: pygit2.Repository) -> str | None:
    """Undo an apply that was cut short (the process killed): the working tree, the index,
    HEAD and the branch it moved go back to what they were, after what is there now is
    saved (unless it is just the apply's own doing). Where someone has moved HEAD since,
    nothing is undone: their state before the apply is kept under ``refs/pairup/saved/``.
    Says what it did, or None when nothing was under way."""
    marker = _read_marker(repo)
    if marker is None:
        return None
    _clear_stale_locks(repo, marker)
    before = read(repo, str(marker["before"]))
    target = _target_of(repo, marker)
    now = take(repo, "found by pairup after a handover cut short")
    at = (now.head, now.branch)
    if at not in ((before.head, before.branch), (target.head, target.branch) if target else at):
        kept = _save(repo, "before-a-handover-cut-short", before.commit)
        _clear_marker(repo)
        return (
            "a handover cut short was left as it is, since HEAD has moved on; the working "
            f"tree from before it is kept: git stash apply --index {kept}"
        )
    found = ""
    written = (Path(repo.path) / MARKER).stat().st_mtime
    if not _only_the_apply(repo, now, before, target, written + LOCK_WINDOW):
        found = _save(repo, "found-after-a-handover-cut-short", now.commit)
    moved = marker.get("ref")
    if isinstance(moved, list) and target is not None:
        ref, old = moved
        reference = repo.references.get(ref)
        if reference is not None and str(reference.resolve().target) == target.head:
            if old is None:
                with contextlib.suppress(KeyError, pygit2.GitError):
                    repo.references.delete(ref)
            else:
                repo.references.create(ref, pygit2.Oid(hex=old), force=True)
    _move(repo, now, before)
    _clear_marker(repo)
    said = "a handover cut short was undone: the working tree is as it was before it"
    return said + (f" (what was there is kept: git stash apply --index {found})" if found else "")


def _only_the_apply(
    repo: pygit2.Repository,
    now: Snapshot,
    before: Snapshot,
    target: Snapshot | None,
    until: float,
) -> bool:
    """Whether the state ``now`` holds is only what the apply did before it was cut short:
    the index as before or as the handover has it, and each file that differs from before
    as the handover has it, gone, or written while the apply could have been writing it
    (before ``until``; a file cut off mid-write is the apply's too). A file changed since is
    someone's work."""
    if now.key == before.key:
        return True
    if target is None or now.index_tree not in (before.index_tree, target.index_tree):
        return False
    held = repo[whole_tree(repo, now)]
    wanted = repo[whole_tree(repo, target)]
    top = Path(repo.workdir)
    for path in _changed_paths(repo, before, now):
        mine = _entry_at(held, path)
        if mine is None or mine == _entry_at(wanted, path):
            continue
        try:
            if (top / path).lstat().st_mtime > until:
                return False
        except OSError:
            continue
    return True


def _entry_at(tree: pygit2.Tree, path: str) -> tuple[str, int] | None:
    try:
        found = tree[path]
    except KeyError:
        return None
    return (str(found.id), found.filemode)


def _target_of(repo: pygit2.Repository, marker: dict[str, object]) -> Snapshot | None:
    try:
        return read(repo, str(marker["target"]))
    except (KeyError, HandoverError):
        return None


def _ignored_in_the_way(repo: pygit2.Repository, before: Snapshot, target: Snapshot) -> list[str]:
    """Files on disk that the snapshot of ``before`` does not hold (git ignores them here)
    and that the handover would write over: at a path it brings, in a folder where it
    brings a file, or as a file where it brings a folder."""
    held = repo[whole_tree(repo, before)]
    wanted = repo[whole_tree(repo, target)]
    top = Path(repo.workdir)
    found: set[str] = set()
    for path in _changed_paths(repo, before, target):
        if path not in wanted:
            continue
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            try:
                mode = (top / prefix).lstat().st_mode
            except OSError:
                break
            if stat.S_ISDIR(mode):
                if depth == len(parts):
                    found.update(_files_under(top, prefix, held))
                continue
            if prefix not in held:
                found.add(prefix)
            break
    return sorted(found)


def _files_under(top: Path, folder: str, held: pygit2.Tree) -> list[str]:
    """The files and symlinks in ``folder`` (its symlinks not followed) ``held`` lacks."""
    found = []
    for where, folders, files in os.walk(top / folder):
        for name in files + [f for f in folders if (Path(where) / f).is_symlink()]:
            relative = (Path(where) / name).relative_to(top).as_posix()
            if relative not in held:
                found.append(relative)
    return found


def _branch_move(repo: pygit2.Repository, target: Snapshot) -> tuple[str, str | None] | None:
    """The branch ref the apply moves and where it points now; a move that is not forward
    is refused."""
    if target.branch is None:
        return None
    name = f"refs/heads/{target.branch}"
    existing = repo.references.get(name)
    if existing is None:
        return (name, None)
    tip = str(existing.resolve().target)
    if tip != target.head and not _reaches(repo, target.head, tip):
        ahead = _count(repo, tip, target.head)
        raise HandoverError(
            f"your branch {target.branch} has {ahead} commit{'s' if ahead != 1 else ''} the "
            f"driver's lacks, and pairup never rewrites a branch: push them to share, or move "
            f"them aside (git branch -m {target.branch} {target.branch}-mine), then take the "
            "handover again"
        )
    return (name, tip)


def _track(repo: pygit2.Repository, branch: str) -> None:
    """A branch the apply made tracks its remote namesake, as ``git switch`` would set it."""
    remotes = sorted(repo.remotes.names(), key=lambda name: name != "origin")
    for remote in remotes:
        upstream = repo.branches.remote.get(f"{remote}/{branch}")
        if upstream is not None:
            with contextlib.suppress(pygit2.GitError, KeyError):
                repo.branches.local[branch].upstream = upstream
            return


def _reaches(repo: pygit2.Repository, descendant: str, ancestor: str) -> bool:
    if descendant == ancestor:
        return True
    try:
        return repo.descendant_of(descendant, ancestor)
    except (KeyError, ValueError, pygit2.GitError):
        return False


def _count(repo: pygit2.Repository, tip: str, hidden: str) -> int:
    walker = repo.walk(tip, SortMode.NONE)
    with contextlib.suppress(KeyError, ValueError, pygit2.GitError):
        walker.hide(hidden)
    return sum(1 for _ in walker)


def _as_last(repo: pygit2.Repository, snapshot: Snapshot) -> bool:
    """Whether ``snapshot`` is the state this clone last sent or received."""
    try:
        last = read(repo, str(repo.references[LAST_REF].target))
    except (KeyError, HandoverError):
        return False
    return last.key == snapshot.key


def _save(repo: pygit2.Repository, name: str, commit: str) -> str:
    ref = f"{SAVED_PREFIX}{name}"
    count = 1
    while ref in repo.references:
        count += 1
        ref = f"{SAVED_PREFIX}{name}-{count}"
    repo.references.create(ref, pygit2.Oid(hex=commit))
    return ref


def whole_tree(repo: pygit2.Repository, snapshot: Snapshot) -> str:
    """The working tree's files, tracked and untracked, as one tree."""
    if snapshot.untracked_tree is None:
        return snapshot.work_tree
    files = pygit2.Index()
    files.read_tree(repo[snapshot.work_tree])
    untracked = pygit2.Index()
    untracked.read_tree(repo[snapshot.untracked_tree])
    for entry in untracked:
        files.add(entry)
    return str(files.write_tree(repo))


def _changed_paths(repo: pygit2.Repository, before: Snapshot, target: Snapshot) -> list[str]:
    """The files that differ between the working tree as ``before`` took it and ``target``:
    all the checkout has to write or remove."""
    diff = repo[whole_tree(repo, before)].diff_to_tree(repo[whole_tree(repo, target)])
    paths = {path for delta in diff.deltas for path in (delta.old_file.path, delta.new_file.path)}
    return sorted(paths)


def _move(repo: pygit2.Repository, source: Snapshot, dest: Snapshot) -> list[str]:
    """From the state ``source`` took to ``dest``'s: the files that differ between them
    (each symlink in their way taken out first, the ones ``dest`` lacks removed, the rest
    checked out), then HEAD, then the index. Nothing else on disk is touched: not ignored
    files, not a repository nested in the tree. The paths it wrote or removed."""
    whole = repo[whole_tree(repo, dest)]
    paths = _changed_paths(repo, source, dest)
    held = repo[whole_tree(repo, source)]
    paths = sorted({*paths, *_clear_symlinks(repo, whole, paths)})
    top = Path(repo.workdir)
    for path in paths:
        if path not in whole and not _gitlink(held, path):
            full = top / path
            if full.is_symlink() or full.is_file():
                full.unlink()
                _prune(top, full.parent)
    written = [path for path in paths if path in whole]
    if written:
        # The index is written once, below, when it is the snapshot's. Without
        # DISABLE_PATHSPEC_MATCH each path is a pattern matched against every file.
        strategy = (
            CheckoutStrategy.FORCE
            | CheckoutStrategy.DONT_WRITE_INDEX
            | CheckoutStrategy.DISABLE_PATHSPEC_MATCH
        )
        repo.checkout_tree(whole, strategy=strategy, paths=written)
    if dest.branch is None:
        repo.set_head(pygit2.Oid(hex=dest.head))
    else:
        ref = f"refs/heads/{dest.branch}"
        repo.references.create(ref, pygit2.Oid(hex=dest.head), force=True)
        repo.set_head(ref)
    index = repo.index
    # From the index as the checkout left it, which is not always the files: an entry in no
    # tree and on no disk (a file staged, then deleted) stays in it. What only the index has
    # goes first: a path whose type changes comes as that and what the tree has.
    changes = list(index.diff_to_tree(repo[dest.index_tree]).deltas)
    for delta in changes:
        if delta.status_char() == "A":
            index.remove(delta.new_file.path)
    for delta in changes:
        if delta.status_char() != "A":
            old = delta.old_file
            index.add(pygit2.IndexEntry(old.path, old.id, old.mode))
    index.write()
    return paths


def _gitlink(tree: pygit2.Tree, path: str) -> bool:
    """Whether ``path`` is a submodule in ``tree``: its folder is the submodule's, not ours."""
    try:
        return tree[path].filemode == FileMode.COMMIT
    except KeyError:
        return False


def _prune(top: Path, folder: Path) -> None:
    """Remove ``folder`` and the folders above it (below ``top``) while they are empty."""
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _clear_symlinks(repo: pygit2.Repository, whole: pygit2.Tree, paths: list[str]) -> list[str]:
    """Remove each symlink in the way of ``paths`` (one of them, or a folder they are in)
    where ``whole`` has a path: libgit2's checkout writes that path through the symlink,
    wherever it points, even outside the working tree. The snapshot taken before holds each
    one git does not ignore."""
    top = Path(repo.workdir)
    cleared: list[str] = []
    seen: set[str] = set()
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in seen:
                continue
            seen.add(prefix)
            full = top / prefix
            if full.is_symlink() and prefix in whole:
                full.unlink()
                cleared.append(prefix)
    return cleared


def _check(repo: pygit2.Repository, target: Snapshot, paths: list[str]) -> None:
    """That the apply came out as ``target``: HEAD, the branch, the index, and each of the
    files the checkout wrote or removed (the others it did not touch)."""
    index = repo.index
    index.read(force=False)
    branch = None if repo.head_is_detached else repo.head.shorthand
    came_out = (
        str(repo.head.target) == target.head
        and branch == target.branch
        and str(index.write_tree(repo)) == target.index_tree
    )
    whole = repo[whole_tree(repo, target)]
    top = Path(repo.workdir)
    attributes = _Attributes(repo)
    for path in paths:
        if not came_out:
            break
        try:
            wanted: pygit2.Object | None = whole[path]
        except KeyError:
            wanted = None
        if wanted is not None and wanted.filemode == FileMode.COMMIT:
            continue  # a submodule: its own checkout's business
        if wanted is None or wanted.filemode == FileMode.TREE:
            came_out = (
                os.path.isdir(top / path) if wanted is not None else not os.path.lexists(top / path)
            )
            continue
        found = _blob(repo, top, path, attributes)
        came_out = found is not None and (found.id, found.mode) == (wanted.id, wanted.filemode)
    if not came_out:
        raise HandoverError("the working tree did not come out as the snapshot")


def _clear_stale_locks(repo: pygit2.Repository, marker: dict[str, object]) -> None:
    """Remove the lock files an apply killed in the middle left behind (git's own, for the
    index, HEAD and the refs an apply writes): git never takes them away by itself, and
    every later apply would fail on them. Only when the process that applied is gone, and
    only the locks made while it could have been applying (within :data:`LOCK_WINDOW` of
    its marker): a lock a git command took since is that command's."""
    pid = marker.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or _applying(pid):
        return
    git_dir = Path(repo.path)
    common = _objects(repo).parent
    written = (git_dir / MARKER).stat().st_mtime
    locks = [git_dir / "index.lock", git_dir / "HEAD.lock", common / "packed-refs.lock"]
    moved = marker.get("ref")
    refs = [APPLYING_REF, LAST_REF] + ([moved[0]] if isinstance(moved, list) and moved else [])
    locks += [common / f"{ref}.lock" for ref in refs]
    for lock in locks:
        with contextlib.suppress(OSError):
            if written - 1 <= lock.stat().st_mtime <= written + LOCK_WINDOW:
                lock.unlink()


LOCK_WINDOW = 30.0
"""Seconds after its marker within which a lock can be a killed apply's own."""


def _applying(pid: int) -> bool:
    """Whether ``pid`` is a pairup still running (a pid a new process took since is not)."""
    if not running(pid):
        return False
    try:
        return b"pairup" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _write_marker(repo: pygit2.Repository, marker: dict[str, object]) -> None:
    path = Path(repo.path) / MARKER
    path.parent.mkdir(exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8") as file:
        json.dump(marker, file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    _sync_dir(path.parent)


def _read_marker(repo: pygit2.Repository) -> dict[str, object] | None:
    path = Path(repo.path) / MARKER
    try:
        marker = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        raise HandoverError(
            f"{path} is damaged: remove it if the working tree is as you want it"
        ) from None
    return marker if isinstance(marker, dict) else None


def _clear_marker(repo: pygit2.Repository) -> None:
    with contextlib.suppress(KeyError, pygit2.GitError):
        repo.references.delete(APPLYING_REF)
    (Path(repo.path) / MARKER).unlink(missing_ok=True)


def _sync_dir(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
