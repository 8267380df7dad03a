"""Commits through pygit2: from the index, authored by you, crediting who paired with you.

pygit2 runs no hooks, so the repository's ``pre-commit``, ``prepare-commit-msg``,
``commit-msg`` and ``post-commit`` hooks are run here, as git would run them. Everything here
blocks: call it from a thread when an event loop is running.
"""

import functools
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

import pygit2
from pygit2.enums import FileStatus

from pairup.git.trailers import Person, add_co_authors, parse_trailers

P = ParamSpec("P")
R = TypeVar("R")
HOOK_TIMEOUT = 600.0
CO_AUTHORED_BY = "co-authored-by"


class GitError(Exception):
    """Something about the repository the user has to sort out; the message says what."""


@dataclass(frozen=True, slots=True)
class Committed:
    sha: str
    summary: str
    author: Person
    co_authors: tuple[Person, ...]


def open_repository(start: Path) -> pygit2.Repository:
    try:
        path = pygit2.discover_repository(str(start))
        if path is None:
            raise GitError(f"{start} is not inside a git repository")
        repo = pygit2.Repository(path)
    except pygit2.GitError as error:
        raise GitError(f"cannot open the repository: {error}") from None
    if repo.is_bare:
        raise GitError("the repository is bare: commit from a working tree")
    return repo


def identity(repo: pygit2.Repository, env: Mapping[str, str], role: str = "AUTHOR") -> Person:
    """Who commits: ``GIT_AUTHOR_NAME`` / ``GIT_AUTHOR_EMAIL`` first (or the committer's), then
    the repository's git config, as git does."""
    config = repo.config
    name = env.get(f"GIT_{role}_NAME") or _config(config, "user.name")
    email = env.get(f"GIT_{role}_EMAIL") or _config(config, "user.email")
    if not name or not email:
        raise GitError(
            "git does not know who you are: set it with "
            "git config user.name 'Your Name' and git config user.email you@example.com"
        )
    return Person(name=name, email=email)


def _config(config: pygit2.Config, key: str) -> str:
    try:
        return str(config[key])
    except KeyError:
        return ""


def stage_tracked(repo: pygit2.Repository) -> None:
    """``git commit -a``: stage what changed in files git already tracks, deletions included."""
    index = repo.index
    for path, flags in repo.status(untracked_files="no").items():
        if flags & FileStatus.WT_DELETED:
            index.remove(path)
        elif flags & (FileStatus.WT_MODIFIED | FileStatus.WT_TYPECHANGE | FileStatus.WT_RENAMED):
            index.add(path)
    index.write()


def _refusals_reported(function: Callable[P, R]) -> Callable[P, R]:
    """libgit2's own refusals (a locked index, a broken ref) as one-line :class:`GitError`."""

    @functools.wraps(function)
    def reported(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except pygit2.GitError as error:
            raise GitError(f"git refused: {error}") from None

    return reported


@_refusals_reported
def commit(
    repo: pygit2.Repository,
    message: str,
    *,
    co_authors: Iterable[Person],
    env: Mapping[str, str],
    stage_all: bool = False,
    verify: bool = True,
    index_read: bytes | None = None,
) -> Committed:
    """Commit the index as you, with Co-authored-by trailers for ``co_authors``.

    The index is read from its file first, whatever ``git add`` staged a moment ago; unless
    ``index_read`` is the file's :func:`index_stamp` from when ``repo.index`` was last read
    (:func:`read_index`) and the file still has it.
    """
    _check_state(repo)
    author = identity(repo, env, "AUTHOR")
    committer = identity(repo, env, "COMMITTER")
    index = repo.index
    if index_read is None or index_stamp(repo) != index_read:
        index.read(force=True)
    if stage_all:
        stage_tracked(repo)
    if verify and _run_hook(repo, "pre-commit", [], env):
        index.read(force=True)  # the hook may have staged fixes
    parents, parent_tree = _parents(repo)
    tree = index.write_tree()
    if tree == parent_tree:
        raise GitError("nothing to commit: stage changes with git add, or use -a")
    cleaned = _clean(message)
    if not cleaned:
        raise GitError("the commit message is empty")
    text = _clean(add_co_authors(cleaned, co_authors, author_email=author.email))
    text = _message_through_hooks(repo, text, env, verify=verify)
    sha = repo.create_commit("HEAD", _signature(author), _signature(committer), text, tree, parents)
    _run_hook(repo, "post-commit", [], env, check=False)
    return Committed(str(sha), _summary(text), author, credited(text))


HASH_TAIL = 32
"""The last bytes of an index file: the hash git writes over all before it (SHA-1 or SHA-256)."""


def index_stamp(repo: pygit2.Repository) -> bytes | None:
    """What tells one index file's contents from another's: its trailing hash. ``None`` when
    there is none to trust: no index yet, or one written without it (``index.skipHash``)."""
    try:
        with open(os.path.join(repo.path, "index"), "rb") as file:
            file.seek(-HASH_TAIL, os.SEEK_END)
            tail = file.read(HASH_TAIL)
    except OSError:
        return None
    return None if tail[-20:] == bytes(20) else tail


@_refusals_reported
def read_index(repo: pygit2.Repository) -> bytes | None:
    """Read the index file into ``repo.index``; the stamp it had when the read began, so a
    file replaced during the read is read again by the next :func:`commit`."""
    stamp = index_stamp(repo)
    repo.index.read(force=True)
    return stamp


@_refusals_reported
def amend_with_co_authors(
    repo: pygit2.Repository, co_authors: Iterable[Person], env: Mapping[str, str]
) -> Committed | None:
    """Add the trailers to HEAD's message, keeping its author and giving it a fresh committer;
    None if HEAD already credits everyone."""
    _check_state(repo)
    if repo.head_is_unborn:
        raise GitError("there is no commit to amend yet")
    head = repo[repo.head.target]
    assert isinstance(head, pygit2.Commit)
    author = Person(name=head.author.name, email=head.author.email)
    before = _clean(head.message)
    text = _clean(add_co_authors(before, co_authors, author_email=author.email))
    if text == before:
        return None
    committer = _signature(identity(repo, env, "COMMITTER"))
    sha = repo.amend_commit(head, "HEAD", committer=committer, message=text)
    return Committed(str(sha), _summary(text), author, credited(text))


def credited(message: str) -> tuple[Person, ...]:
    """The co-authors a commit message credits, from its trailers."""
    people = []
    for trailer in parse_trailers(message):
        if trailer.key.lower() == CO_AUTHORED_BY:
            name, _, email = trailer.value.partition("<")
            people.append(Person(name=name.strip(), email=email.rstrip(">").strip()))
    return tuple(people)


def _check_state(repo: pygit2.Repository) -> None:
    git_dir = Path(repo.path)
    for marker, what in (
        ("MERGE_HEAD", "a merge"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase or git am"),
    ):
        if (git_dir / marker).exists():
            raise GitError(f"{what} is in progress: finish it with git first")


def _parents(repo: pygit2.Repository) -> tuple[list[pygit2.Oid], pygit2.Oid | None]:
    if repo.head_is_unborn:
        return [], None
    head = repo[repo.head.target]
    assert isinstance(head, pygit2.Commit)
    return [head.id], head.tree_id


def _signature(person: Person) -> pygit2.Signature:
    """Now, in this machine's time zone (summer time included)."""
    now = time.time()
    offset = (time.localtime(now).tm_gmtoff or 0) // 60
    return pygit2.Signature(person.name, person.email, int(now), offset)


def _clean(message: str) -> str:
    """As git's default clean-up: no trailing spaces, no leading or trailing blank lines, one
    newline at the end."""
    lines = [line.rstrip() for line in message.replace("\r\n", "\n").split("\n")]
    text = "\n".join(lines).strip("\n")
    return f"{text}\n" if text else ""


def _summary(message: str) -> str:
    return message.split("\n", 1)[0][:200]


def _hooks_dir(repo: pygit2.Repository) -> Path:
    configured = _config(repo.config, "core.hooksPath")
    if configured:
        base = Path(repo.workdir or repo.path)
        return (base / os.path.expanduser(configured)).resolve()
    common = Path(repo.path)
    pointer = common / "commondir"
    if pointer.exists():
        common = (common / pointer.read_text().strip()).resolve()
    return common / "hooks"


def _run_hook(
    repo: pygit2.Repository,
    name: str,
    arguments: list[str],
    env: Mapping[str, str],
    *,
    check: bool = True,
) -> bool:
    """Run the repository's hook ``name`` if it has one; say whether it did."""
    hook = _hooks_dir(repo) / name
    if not (hook.is_file() and os.access(hook, os.X_OK)):
        return False
    hook_env = {
        **env,
        "GIT_INDEX_FILE": str(Path(repo.path) / "index"),
        "GIT_DIR": str(Path(repo.path)),
        "GIT_EDITOR": ":",
    }
    try:
        result = subprocess.run(
            [str(hook), *arguments],
            cwd=repo.workdir,
            env=hook_env,
            capture_output=True,
            text=True,
            timeout=HOOK_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        if check:
            raise GitError(f"the {name} hook could not run: {error}") from None
        return True
    if check and result.returncode != 0:
        said = (result.stderr or result.stdout).strip().splitlines()
        detail = f": {said[-1]}" if said else ""
        # --no-verify skips pre-commit and commit-msg only, as in git.
        way_out = "" if name == "prepare-commit-msg" else ", or skip the hooks with --no-verify"
        raise GitError(
            f"the {name} hook refused the commit (exit {result.returncode}){detail}; "
            f"fix it{way_out}"
        )
    return True


def _message_through_hooks(
    repo: pygit2.Repository, text: str, env: Mapping[str, str], *, verify: bool
) -> str:
    """Run ``prepare-commit-msg`` and (unless ``verify`` is off, as with ``git commit
    --no-verify``) ``commit-msg`` on the message, through ``COMMIT_EDITMSG``, as git does."""
    path = Path(repo.path) / "COMMIT_EDITMSG"
    path.write_text(text, encoding="utf-8")
    _run_hook(repo, "prepare-commit-msg", [str(path), "message"], env)
    if verify:
        _run_hook(repo, "commit-msg", [str(path)], env)
    edited = _clean(path.read_text(encoding="utf-8"))
    if not edited:
        raise GitError("the commit message hooks left the message empty")
    return edited
