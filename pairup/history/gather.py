"""The sessions a history is made of: this machine's journals and the logs committed to the
repository, each read once and then answered from a cache.

Two places hold sessions. The journals in the data directory hold every session this machine
took part in, each with the repository it was held in (its header's ``repository``); the
repository holds the session logs people exported and committed (``adr.record_dir``, as
``DATE-SESSION.json``), which is how a partner's sessions reach everyone who pulls. A session
found in both counts once: the copy that got further, which is the journal unless the log was
exported from a longer one (a partner who stayed to the end exported it, say). How far a copy
got is how many events it holds of those a log keeps: both are the relay's one sequence of the
session from its start, a journal missing only the end of it and an exported log only the
handover packages' parts, which in a journal can outnumber the rest
(:attr:`pairup.history.facts.Sitting.events`). Merging the two copies' facts would answer the
same for every session pairup writes, and would have to read both logs again whenever either
changed.

A session is held here if either copy says so, or if it recorded a commit this repository's
refs reach (a commit merely in its object store may have been reset away, or fetched from
another project): the journal named the repository's path then, and it has been moved, cloned
again or opened in a linked worktree since.

Why a cache. ``pairup why`` must answer in well under a second in a repository with hundreds
of sessions, and reading them costs a JSON decode and a fold per event: about a second for 200
sessions, every time. What the history needs of a session is a few kilobytes of facts
(:mod:`pairup.history.facts`), so those are kept in ``history.json`` in the data directory's
``cache`` folder, by each file's path, size and modification time, inode and change time (and
pairup's version, whose fold made them): a checkout, ``rsync -t`` or ``touch -r`` can give a
rewritten file its old size and modification time, but not its change time, which only the
kernel sets. A run reads again only the files that are new or changed since (a journal still
being written, a log just pulled), and gathering from a warm cache loads neither the journal
reader nor the session core. (``pairup why`` and ``pairup log`` load the session core all the
same: the ADR code they find ADRs with, :mod:`pairup.history.adrs`, brings it.) The cache is
only ever a copy: losing it, or failing to write it, costs the next run its speed and nothing else.
"""

import contextlib
import json
import os
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pairup import __version__
from pairup.history.facts import Found, Sitting, from_json, to_json

if TYPE_CHECKING:
    from pairup.session import Event

CACHE_FORMAT = 2
"""2 since a session's ``events`` count only what a log keeps: facts counted before are read
again, not compared with them."""
CACHE_FILE = Path("cache") / "history.json"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_LOG_NAME = re.compile(r"(?:\d{4}-\d{2}-\d{2}|undated)-(?P<session>[A-Za-z0-9_-]{1,64})\.json")
"""The name ``pairup export --format json`` gives a session's log: its day, then its id."""

SourceKind = Literal["journal", "log"]


@dataclass(frozen=True, slots=True)
class Source:
    """A file that holds a session, as the file system describes it now."""

    path: Path
    kind: SourceKind
    session_id: str
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path, kind: SourceKind, session_id: str, stat: os.stat_result) -> "Source":
        """The file as ``stat`` describes it: everything the cache compares."""
        return cls(
            path, kind, session_id, stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns
        )


@dataclass(frozen=True, slots=True)
class _Read:
    """What one file gave: a session, nothing (a journal with no events), or a problem."""

    sitting: Sitting | None
    problem: str | None = None


def gather(data_dir: Path, repo: Path | None, record_dir: str) -> Found:
    """Every session of this machine and of ``repo`` (when given), oldest first, each once,
    with ``here`` set for those held in ``repo``; and one line for each file that could not be
    read, since one damaged file must not hide the others."""
    cache = _Cache(data_dir / CACHE_FILE)
    sources = journal_sources(data_dir)
    scanned = [data_dir / "sessions"]
    if repo is not None:
        folder = repo / record_dir
        sources += log_sources(folder)
        scanned.append(folder)
    found = Found()
    copies: dict[str, list[tuple[Sitting, bool]]] = {}
    here = None if repo is None else str(repo.resolve())
    for source in sources:
        read = cache.get(source)
        if read is None:
            read = _read(source)
            cache.put(source, read)
        if read.problem is not None:
            found.problems.append(read.problem)
        if read.sitting is None:
            continue
        held = source.kind == "log" or (here is not None and _same(read.sitting.repository, here))
        copies.setdefault(read.sitting.session_id, []).append((read.sitting, held))
    cache.save(scanned)
    by_commits = set() if repo is None else _held_by_commits(repo, copies)
    for session_id, versions in copies.items():
        best = max((facts for facts, _ in versions), key=lambda facts: facts.events)
        here_too = session_id in by_commits or any(held for _, held in versions)
        found.sessions.append(replace(best, here=here_too))
    found.sessions.sort(key=lambda facts: (facts.started or 0.0, facts.session_id))
    return found


def journal_sources(data_dir: Path) -> list[Source]:
    """The journals in ``data_dir``, found by their names alone (``SESSION.jsonl``), as
    :func:`pairup.journal.list_sessions` finds them; their headers are read only when the
    cache does not know them."""
    return [
        source
        for path, stat in _entries(data_dir / "sessions")
        if path.suffix == ".jsonl" and _SESSION_ID.fullmatch(path.stem)
        for source in [Source.of(path, "journal", path.stem, stat)]
    ]


def log_sources(folder: Path) -> list[Source]:
    """The session logs in a repository's record folder."""
    sources = []
    for path, stat in _entries(folder):
        match = _LOG_NAME.fullmatch(path.name)
        if match is not None:
            sources.append(Source.of(path, "log", match["session"], stat))
    return sources


def _entries(folder: Path) -> list[tuple[Path, os.stat_result]]:
    """The regular files in ``folder`` (links followed) with what ``stat`` says of them."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        with contextlib.suppress(OSError):
            stat = entry.stat()
            if entry.is_file():
                found.append((Path(entry.path), stat))
    return found


def _held_by_commits(repo: Path, copies: dict[str, list[tuple[Sitting, bool]]]) -> set[str]:
    """The sessions no copy says were held in ``repo`` that recorded a commit its refs reach:
    the journal named the path the repository had then, and it has been moved, cloned again
    or opened in a linked worktree since. One walk of the history for all of them, and none
    while the refs stay as they were (:func:`pairup.history.git.holding`); without git,
    none."""
    from pairup.git.live import git_dirs
    from pairup.history.git import GitProblem, holding

    commits = {
        session_id: shas
        for session_id, versions in copies.items()
        if not any(held for _, held in versions)
        for shas in [[commit.sha for facts, _ in versions for commit in facts.commits]]
        if shas
    }
    if not commits:
        return set()
    dirs = git_dirs(repo)
    try:
        return holding(repo, None if dirs is None else dirs[1], commits)
    except GitProblem:
        return set()


def _same(recorded: str, repo: str) -> bool:
    """Whether a journal's repository is ``repo`` (resolved): pairup records the top of the
    working tree, resolved, as it found it when the session started."""
    if not recorded:
        return False
    if recorded == repo:
        return True
    try:
        return str(Path(recorded).resolve()) == repo
    except OSError:
        return False


def _read(source: Source) -> _Read:
    """The facts of one file, read and folded; a file that is not a session gives a problem
    (a journal whose name and header disagree is not pairup's, and is skipped quietly, as
    :func:`pairup.journal.list_sessions` skips it)."""
    from pairup.history.extract import sitting

    if source.kind == "journal":
        from pairup.journal import JournalError, load

        try:
            contents = load(source.path)
        except (OSError, JournalError) as error:
            return _Read(None, str(error))
        if contents.session_id != source.session_id:
            return _Read(None)
        repository = contents.meta.get("repository", "")
        return _Read(sitting(source.session_id, contents.events, repository))
    events = _log_events(source.path)
    if isinstance(events, str):
        return _Read(None, events)
    return _Read(sitting(source.session_id, events))


def _log_events(path: Path) -> "list[Event] | str":
    """The events of a committed session log, or why it cannot be read."""
    from pydantic import ValidationError

    from pairup.session.events import EVENT_ADAPTER

    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError) as error:
        return f"{path} is not a pairup session log: {_first_line(error)}"
    items = document.get("events") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return f"{path} is not a pairup session log: it has no list of events"
    events: list[Event] = []
    for number, item in enumerate(items, start=1):
        try:
            events.append(EVENT_ADAPTER.validate_python(item))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            return f"{path}: event {number} is not one pairup knows ({where}: {first['msg']})"
    return events


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class _Cache:
    """The facts of every file read before, by path; see the module's docstring."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.seen: set[str] = set()
        self.changed = False
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return
        if (
            isinstance(document, dict)
            and document.get("format") == CACHE_FORMAT
            and document.get("pairup") == __version__
            and isinstance(document.get("files"), dict)
        ):
            self.entries = document["files"]

    def get(self, source: Source) -> _Read | None:
        key = str(source.path)
        self.seen.add(key)
        entry = self.entries.get(key)
        if (
            not isinstance(entry, dict)
            or entry.get("size") != source.size
            or entry.get("mtime_ns") != source.mtime_ns
            or entry.get("ino") != source.ino
            or entry.get("ctime_ns") != source.ctime_ns
            or entry.get("kind") != source.kind
        ):
            return None
        try:
            facts = entry.get("sitting")
            problem = entry.get("problem")
            return _Read(
                None if facts is None else from_json(facts),
                None if problem is None else str(problem),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, source: Source, read: _Read) -> None:
        self.entries[str(source.path)] = {
            "kind": source.kind,
            "size": source.size,
            "mtime_ns": source.mtime_ns,
            "ino": source.ino,
            "ctime_ns": source.ctime_ns,
            "sitting": None if read.sitting is None else to_json(read.sitting),
            "problem": read.problem,
        }
        self.changed = True

    def save(self, scanned: Iterable[Path]) -> None:
        """Write the cache if anything changed, dropping the files gone from the folders
        just read (files of other repositories stay, for when they are asked about)."""
        folders = {str(folder) for folder in scanned}
        for key in list(self.entries):
            if key not in self.seen and str(Path(key).parent) in folders:
                del self.entries[key]
                self.changed = True
        if not self.changed:
            return
        document = {"format": CACHE_FORMAT, "pairup": __version__, "files": self.entries}
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            # Only a copy: the next run reads the files again.
            with contextlib.suppress(OSError):
                temporary.unlink()
