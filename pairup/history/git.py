"""What the history asks git: who last changed a line, and which files a commit touched.

Both go through the git command line. ``git blame --porcelain -L N,N`` answers one line of a
file with 200 commits behind it in a 5,000-commit repository faster than libgit2's blame
(``python -m bench.history`` measures both), and one ``git log --no-walk --stdin`` reads the
files of hundreds of commits in a single process. Neither needs pygit2 loaded.

The files each commit touched never change, so they are kept in ``pairup/history-files.json``
in the repository's git directory, by sha: only commits not seen before are asked about. Which
commits the repository's refs reach is kept beside them (``pairup/history-held.json``), with
the refs it was answered for: how a journal whose session was held at another path (the
repository before it was moved, or another clone or worktree of it) is known to be this
repository's without walking the history again until a ref moves.
"""

import contextlib
import hashlib
import json
import os
import re
import secrets
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

NOT_COMMITTED = re.compile(r"0{40}|0{64}")
"""The sha blame gives a line that is in the working tree but in no commit."""
_HEADER = re.compile(r"(?P<sha>[0-9a-f]{40}|[0-9a-f]{64}) \d+ (?P<line>\d+)(?: \d+)?")
_SHA = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")
FILES_CACHE = Path("pairup") / "history-files.json"
_FILES_FORMAT = 1
HELD_CACHE = Path("pairup") / "history-held.json"
"""The commits the repository's refs reach, of those asked about, for :func:`holding`."""
_HELD_FORMAT = 2
"""2 since a commit counts only if a ref reaches it: format 1 kept every commit the object
store had, which a reset, a rebase or a fetch of another project's objects could fool."""


class GitProblem(Exception):
    """What git could not answer, in one line the user can act on."""


@dataclass(slots=True)
class Blamed:
    """A commit behind some lines of a file, as blame describes it."""

    sha: str
    summary: str = ""
    author: str = ""
    author_mail: str = ""
    author_time: int = 0
    committer_time: int = 0
    lines: list[int] = field(default_factory=list)

    @property
    def committed(self) -> bool:
        return NOT_COMMITTED.fullmatch(self.sha) is None


def blame(repo: Path, path: str, line: int | None = None) -> list[Blamed]:
    """The commits behind ``path`` (relative to ``repo``'s top) as it is in the working tree,
    or behind its line ``line``, newest first. Raises :class:`GitProblem`."""
    command = ["blame", "--porcelain", *([] if line is None else ["-L", f"{line},{line}"])]
    done = _git(repo, [*command, "--", path])
    if done.returncode != 0:
        tracked = _git(repo, ["ls-files", "--error-unmatch", "--", path])
        if tracked.returncode != 0:
            raise GitProblem(f"{path} is not tracked by git: nothing has been committed of it")
        raise GitProblem(f"git blame {path}: {_first_line(done.stderr)}")
    return parse_porcelain(done.stdout.decode("utf-8", "replace"))


def parse_porcelain(text: str) -> list[Blamed]:
    """The commits of ``git blame --porcelain`` output, each with its lines, newest first.

    Each group of lines starts with a header (``SHA ORIG FINAL [COUNT]``); the commit's
    details follow the first header that names it; every line of the file follows as a line
    starting with a tab, which is content and never read as a header.
    """
    commits: dict[str, Blamed] = {}
    current: Blamed | None = None
    for row in text.split("\n"):
        if row.startswith("\t") or not row:
            continue
        header = _HEADER.fullmatch(row)
        if header is not None:
            current = commits.setdefault(header["sha"], Blamed(header["sha"]))
            current.lines.append(int(header["line"]))
            continue
        if current is None:
            continue
        key, _, value = row.partition(" ")
        if key == "summary":
            current.summary = value
        elif key == "author":
            current.author = value
        elif key == "author-mail":
            current.author_mail = value.removeprefix("<").removesuffix(">")
        elif key == "author-time" and _number(value):
            current.author_time = int(value)
        elif key == "committer-time" and _number(value):
            current.committer_time = int(value)
    return sorted(
        commits.values(),
        key=lambda blamed: (not blamed.committed, blamed.committer_time, blamed.sha),
        reverse=True,
    )


def _number(text: str) -> bool:
    """Whether ``text`` is a number as git writes one: ASCII digits (``"²".isdigit()`` is
    true, and ``int`` refuses it)."""
    return text.isascii() and text.isdigit()


def files_touched(repo: Path, git_dir: Path | None, shas: Iterable[str]) -> dict[str, list[str]]:
    """The files each of ``shas`` changed, for those the repository holds (a partner's commit
    reaches it only once pushed and pulled); a merge counts as changing nothing, as ``git log``
    shows it. Answers from the cache in ``git_dir`` where it can."""
    wanted = sorted(set(shas))
    cache = _load_files(git_dir)
    missing = [sha for sha in wanted if sha not in cache]
    if missing:
        present = _in_store(repo, missing)
        if present:
            cache.update(_read_files(repo, present))
            _save_files(git_dir, cache)
    return {sha: cache[sha] for sha in wanted if sha in cache}


def holding(repo: Path, git_dir: Path | None, commits: Mapping[str, Sequence[str]]) -> set[str]:
    """The keys of ``commits`` (a session's id, say) with a commit that the repository's refs
    reach: its branches, tags, remote branches, stash or the HEAD of any of its worktrees.

    Being in the object store is not enough: a commit reset or rebased away stays there until
    git collects it, and a fetch can bring another project's commits in without any ref of this
    repository reaching them. Reachability needs a walk of the history (``git rev-list
    --all``, one process for all the commits asked about), so its answer is kept in ``git_dir``
    (:data:`HELD_CACHE`) with the refs' tips it was given for; a run whose tips are the same
    (one ``git rev-list --all --no-walk``, which walks nothing) and asks about no new commit
    needs no walk. A commit, a reset, a rebase or a fetch moves a tip, and the next run walks
    again.
    """
    wanted = {sha for shas in commits.values() for sha in shas}
    if not wanted:
        return set()
    tips = _tips(repo)
    asked, reachable = _load_held(git_dir, tips)
    if not wanted <= asked:
        asked |= wanted
        reachable = _reachable(repo) & asked
        _save_cache(
            git_dir,
            HELD_CACHE,
            {
                "format": _HELD_FORMAT,
                "tips": tips,
                "asked": sorted(asked),
                "reachable": sorted(reachable),
            },
        )
    return {key for key, shas in commits.items() if not reachable.isdisjoint(shas)}


def _tips(repo: Path) -> str:
    """The commits ``git rev-list --all`` starts from, as one digest: what
    :func:`_reachable` answers depends on them alone."""
    done = _git(repo, ["rev-list", "--all", "--no-walk"])
    if done.returncode != 0:
        raise GitProblem(f"git rev-list: {_first_line(done.stderr)}")
    return hashlib.sha256(b"\n".join(sorted(done.stdout.split()))).hexdigest()


def _reachable(repo: Path) -> set[str]:
    """Every commit the repository's refs reach."""
    done = _git(repo, ["rev-list", "--all"])
    if done.returncode != 0:
        raise GitProblem(f"git rev-list: {_first_line(done.stderr)}")
    return set(done.stdout.decode("ascii", "replace").split())


def _in_store(repo: Path, shas: list[str]) -> list[str]:
    """Those of ``shas`` that name a commit in the repository's object store, reachable or
    not: what ``git log`` can read the files of."""
    done = _git(repo, ["cat-file", "--batch-check"], stdin="".join(f"{sha}\n" for sha in shas))
    if done.returncode != 0:
        return []
    held = []
    for row in done.stdout.decode("ascii", "replace").splitlines():
        sha, _, kind = row.partition(" ")
        if kind.startswith("commit "):
            held.append(sha)
    return held


def _read_files(repo: Path, shas: list[str]) -> dict[str, list[str]]:
    """One ``git log`` over ``shas``: raw output, NUL-separated, which nothing in a path can
    imitate (every path follows a ``:``-led status record, every commit is a bare sha)."""
    done = _git(
        repo,
        [
            "log",
            "--no-walk=unsorted",
            "--stdin",
            "-z",
            "--format=%H",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--root",
            "--no-color",
            "--no-show-signature",
        ],
        stdin="".join(f"{sha}\n" for sha in shas),
    )
    if done.returncode != 0:
        raise GitProblem(f"git log: {_first_line(done.stderr)}")
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    tokens = done.stdout.split(b"\0")
    index = 0
    while index < len(tokens):
        token = tokens[index].lstrip(b"\n")
        if token.startswith(b":") and current is not None and index + 1 < len(tokens):
            current.append(tokens[index + 1].decode("utf-8", "replace"))
            index += 2
            continue
        if _SHA.fullmatch(token):
            current = files.setdefault(token.decode("ascii"), [])
        index += 1
    return files


def _load_files(git_dir: Path | None) -> dict[str, list[str]]:
    if git_dir is None:
        return {}
    try:
        document = json.loads((git_dir / FILES_CACHE).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("format") != _FILES_FORMAT:
        return {}
    commits = document.get("commits")
    if not isinstance(commits, dict):
        return {}
    return {
        sha: [str(path) for path in paths]
        for sha, paths in commits.items()
        if isinstance(paths, list)
    }


def _load_held(git_dir: Path | None, tips: str) -> tuple[set[str], set[str]]:
    """The commits asked about and those found reachable, when the refs' tips were ``tips``;
    nothing for other tips, whose answer may no longer hold."""
    if git_dir is None:
        return set(), set()
    try:
        document = json.loads((git_dir / HELD_CACHE).read_bytes())
    except (OSError, ValueError):
        return set(), set()
    if (
        not isinstance(document, dict)
        or document.get("format") != _HELD_FORMAT
        or document.get("tips") != tips
    ):
        return set(), set()
    asked, reachable = document.get("asked"), document.get("reachable")
    if not isinstance(asked, list) or not isinstance(reachable, list):
        return set(), set()
    asked_set = {sha for sha in asked if isinstance(sha, str)}
    return asked_set, {sha for sha in reachable if sha in asked_set}


def _save_files(git_dir: Path | None, files: Mapping[str, list[str]]) -> None:
    _save_cache(git_dir, FILES_CACHE, {"format": _FILES_FORMAT, "commits": files})


def _save_cache(git_dir: Path | None, name: Path, document: object) -> None:
    """Keep what was read; a cache that cannot be written costs only the next run's speed."""
    if git_dir is None:
        return
    path = git_dir / name
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(exist_ok=True)
        temporary.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _git(
    repo: Path, args: list[str], stdin: str | None = None
) -> subprocess.CompletedProcess[bytes]:
    """git in ``repo``, its messages in English so they read the same to everyone, and every
    path taken as the name it is (``:``, ``*`` or ``[`` in a name are not pathspec magic)."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=repo,
            input=None if stdin is None else stdin.encode("ascii"),
            capture_output=True,
            env={**os.environ, "LC_ALL": "C", "GIT_LITERAL_PATHSPECS": "1"},
            check=False,
        )
    except FileNotFoundError:
        raise GitProblem("git is not installed, or not on PATH: install git") from None


def _first_line(stderr: bytes) -> str:
    text = stderr.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else "failed"
