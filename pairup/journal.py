"""The append-only, crash-safe local log of one session's events.

Every participant keeps the whole session log on its own disk and writes each event here
*before* sending it, so a crash, a lost network or a dead relay loses nothing: export and
resume read the journal later. The format is JSON Lines (one UTF-8 object per ``\\n``-ended
line) so a person can read it with ``tail``; line 1 is a header, every further line is one
event exactly as :func:`~pairup.session.events.encode_event` writes it.

An event id may appear twice: first as written before sending (no ``seq``), later as the relay
sequenced it. Readers collapse copies by id (see :func:`load`). A crash can cut only the last
line, so a torn last line is skipped when reading and cut off when reopening for appends; a bad
line anywhere else is real corruption and raises :class:`JournalError`.

A journal that can be kept no longer raises :class:`JournalFailure`: writing it failed for a
reason only its user can fix (a full disk, a quota, a read-only file system, no permission:
:func:`writing`), or it is damaged and was moved aside (:func:`set_aside`). Its message says
what is kept and what to run, in one line.

All I/O is plain and blocking; callers run it in a thread worker. See ADR 6.
"""

import contextlib
import errno
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Annotated, BinaryIO, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pairup.durable import StorageError, make_dirs, sync_dir
from pairup.session.events import Event, decode_event, encode_event

log = logging.getLogger("pairup.journal")

_SESSIONS_DIR = "sessions"
_SUFFIX = ".jsonl"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class JournalError(ValueError):
    """A journal file that cannot be read; the message names the file and, if known, the line."""


class JournalBusy(JournalError):
    """Another process has this journal open for appending (pairup twice in one session)."""


class JournalFailure(JournalError, StorageError):
    """The journal can be kept no longer: it cannot be written (see :func:`writing`), or it was
    damaged and moved aside (see :func:`set_aside`). Whoever holds it stops taking part; the
    message says what is kept and what to run."""


AGAIN = "run the same pairup command again (pairup start --resume for a host)"
"""What brings a participant back once the journal can be kept: every event confirmed is on
the relay, and the link catches up from there."""
_CANNOT_WRITE = {
    errno.ENOSPC: ("the disk is full", "free some space"),
    errno.EFBIG: ("the file has grown as large as this system allows", "free some space"),
    errno.EROFS: ("the file system is read-only", "make it writable"),
    errno.EACCES: ("permission denied", "make the folder yours to write"),
    errno.EPERM: ("permission denied", "make the folder yours to write"),
}
if hasattr(errno, "EDQUOT"):
    _CANNOT_WRITE[errno.EDQUOT] = ("the disk quota is used up", "free some space")


@contextlib.contextmanager
def writing(directory: Path) -> Iterator[None]:
    """Turn a write in ``directory`` that failed for a reason only the user can fix into a
    :class:`JournalFailure` that names the folder, the reason and the way back; any other
    error passes as it is. ``EFBIG`` (a file size limit reached) counts as a full disk."""
    try:
        yield
    except OSError as error:
        cannot = _CANNOT_WRITE.get(error.errno or 0)
        if cannot is None:
            raise
        why, remedy = cannot
        raise JournalFailure(
            f"cannot write the session's journal in {directory}: {why}; everything written "
            f"before is kept: {remedy}, then {AGAIN}"
        ) from error


def set_aside(path: Path, damage: JournalError) -> JournalFailure:
    """Move a damaged journal out of the way, never deleting it, and say so: the file goes to
    ``NAME.damaged-TIMESTAMP`` beside it (a new name each time), where pairup reads it no more
    and a person still can. The returned failure's message names both files and the command
    that takes the participant back with a fresh journal."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    count = 1
    while aside.exists():
        count += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{count}")
    with writing(path.parent):
        path.rename(aside)
    return JournalFailure(
        f"{damage}; pairup moved it aside, to {aside.name} beside it, and deleted nothing: "
        f"events the relay never confirmed are only there; {AGAIN} to take part with a fresh "
        "journal, which the relay fills with every confirmed event"
    )


def _check_session_id(session_id: str) -> str:
    """Return ``session_id`` if it is safe as a file name, else raise ``ValueError``.

    Session ids become file names, so anything beyond letters, digits, ``_`` and ``-`` (a
    slash, a dot, a newline) is refused rather than escaped.
    """
    if not _SESSION_ID.fullmatch(session_id):
        raise ValueError(f"session id must be 1-64 letters, digits, '_' or '-', got {session_id!r}")
    return session_id


def journal_path(data_dir: Path, session_id: str) -> Path:
    """Where the journal of ``session_id`` lives: one file per session under ``sessions/``."""
    return data_dir / _SESSIONS_DIR / f"{_check_session_id(session_id)}{_SUFFIX}"


class _Header(BaseModel):
    """Line 1 of a journal: which session it is, and free-form strings for the caller."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    pairup_journal: Literal[1]
    session: str
    created_at: Annotated[float, Field(allow_inf_nan=False)]
    meta: dict[str, str]

    @field_validator("session")
    @classmethod
    def _valid_session(cls, value: str) -> str:
        return _check_session_id(value)


@dataclass(frozen=True)
class JournalContents:
    """A journal as read back.

    ``events`` is the collapsed log: the relay-sequenced events in ``seq`` order, then the
    not-yet-sequenced ones in the order they were written. ``pending`` is just those
    unsequenced ones, the outbox to resend after a restart. ``torn`` says the last line was
    cut mid-write and skipped.
    """

    session_id: str
    created_at: float
    meta: dict[str, str]
    events: list[Event]
    pending: list[Event]
    torn: bool


@dataclass(frozen=True)
class JournalInfo:
    """One session on disk, as :func:`list_sessions` finds it from the header alone."""

    session_id: str
    path: Path
    created_at: float
    meta: dict[str, str]
    modified_at: float
    size: int


class Journal:
    """A journal open for appending. Make one with :meth:`create` or :meth:`open`.

    An event counts as written only once :meth:`append` or :meth:`append_many` returns: the
    lines are flushed and fsynced by then. After a failed write the journal closes itself,
    since what reached the disk is unknown; :meth:`open` it again to cut off any torn tail.
    """

    def __init__(self, path: Path, session_id: str, file: BinaryIO) -> None:
        self._path = path
        self._session_id = session_id
        self._file = file

    @classmethod
    def create(
        cls,
        data_dir: Path,
        session_id: str,
        *,
        created_at: float,
        meta: Mapping[str, str] | None = None,
    ) -> Self:
        """Start the journal of a new session; refuse if that session already has one.

        The header is fsynced, and so is the directory, so the new file itself survives a
        crash and not just its contents. If writing the header fails, no file is left behind
        to block a second attempt.
        """
        path = journal_path(data_dir, session_id)
        header = _Header(
            pairup_journal=1,
            session=session_id,
            created_at=created_at,
            meta=dict(meta or {}),
        )
        with writing(path.parent):
            make_dirs(path.parent)
            try:
                file = path.open("xb")
            except FileExistsError:
                raise FileExistsError(
                    f"session {session_id!r} already has a journal at {path}; "
                    "open it to resume instead of creating it again"
                ) from None
            try:
                _lock(path, file)
                file.write(header.model_dump_json().encode() + b"\n")
                _sync(file)
                sync_dir(path.parent)
            except BaseException:
                file.close()
                path.unlink(missing_ok=True)
                raise
        return cls(path, session_id, file)

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open an existing journal to append to it, cutting off a torn last line first.

        Without the cut, the next event would be glued onto half of an old one and turn a
        harmless torn tail into corruption in the middle of the log; the cut is logged as a
        warning, once, since the next open finds nothing to cut. A journal that is already
        corrupt in the middle raises :class:`JournalError` rather than growing further.
        """
        with writing(path.parent):
            file = path.open("r+b")
            try:
                _lock(path, file)
                scan = _scan(path, file.read())
                if scan.torn:
                    file.truncate(scan.end)
                    _sync(file)
                    log.warning(
                        "%s: its last line was cut off mid-write (pairup or the machine "
                        "stopped while writing it); that line is dropped, every complete one "
                        "is kept",
                        path,
                    )
                file.seek(0, os.SEEK_END)
            except BaseException:
                file.close()
                raise
        return cls(path, scan.header.session, file)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def session_id(self) -> str:
        return self._session_id

    @property
    def closed(self) -> bool:
        return self._file.closed

    def append(self, event: Event) -> None:
        """Write one event durably; see :meth:`append_many`."""
        self.append_many((event,))

    def append_many(self, events: Iterable[Event]) -> None:
        """Write events durably, with a single fsync for the whole batch."""
        if self._file.closed:
            raise ValueError(f"journal {self._path} is closed")
        data = b"".join(_encode_line(event) for event in events)
        if not data:
            return
        try:
            with writing(self._path.parent):
                self._file.write(data)
                _sync(self._file)
        except BaseException:
            with contextlib.suppress(OSError):
                self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def load(path: Path) -> JournalContents:
    """Read a journal back, collapsing the copies of each event id.

    A sequenced copy supersedes an unsequenced one; of two sequenced copies of one id the
    first is kept. A torn last line is skipped and reported in ``torn``; a bad line anywhere
    else raises :class:`JournalError`, as does a missing or invalid header. A missing file
    raises ``FileNotFoundError``.
    """
    scan = _scan(path, path.read_bytes())
    latest: dict[str, Event] = {}
    for event in scan.events:
        known = latest.get(event.id)
        if known is None or (known.seq is None and event.seq is not None):
            latest[event.id] = event
    sequenced = sorted(
        (event for event in latest.values() if event.seq is not None),
        key=lambda event: event.seq or 0,
    )
    pending = [event for event in latest.values() if event.seq is None]
    return JournalContents(
        session_id=scan.header.session,
        created_at=scan.header.created_at,
        meta=dict(scan.header.meta),
        events=[*sequenced, *pending],
        pending=pending,
        torn=scan.torn,
    )


def read_info(path: Path) -> JournalInfo:
    """What a journal's header says, read without the events after it."""
    with path.open("rb") as file:
        header = _parse_header(path, file.readline())
        stat = os.fstat(file.fileno())
    return JournalInfo(
        session_id=header.session,
        path=path,
        created_at=header.created_at,
        meta=dict(header.meta),
        modified_at=stat.st_mtime,
        size=stat.st_size,
    )


def list_sessions(data_dir: Path) -> list[JournalInfo]:
    """The sessions journaled under ``data_dir``, newest first by ``created_at``.

    Only the header is read. Files that are not journals (no valid header, a name that is not
    ``<session id>.jsonl``, or a header for a different session than the name says) are
    skipped silently: the only way pairup leaves one is a crash inside :meth:`Journal.create`,
    before the session had any events. A missing directory means no sessions.
    """
    directory = data_dir / _SESSIONS_DIR
    try:
        candidates = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    found: list[JournalInfo] = []
    for path in candidates:
        if path.suffix != _SUFFIX or not _SESSION_ID.fullmatch(path.stem):
            continue
        try:
            info = read_info(path)
        except (OSError, JournalError):
            continue
        if info.session_id == path.stem:
            found.append(info)
    found.sort(key=lambda info: (info.created_at, info.session_id), reverse=True)
    return found


@dataclass(frozen=True, slots=True)
class _Scan:
    """A journal's lines as written: every complete event in file order, before collapsing.

    ``end`` is the byte offset just past the last good line, where a torn tail is cut off.
    """

    header: _Header
    events: list[Event]
    torn: bool
    end: int


def _scan(path: Path, data: bytes) -> _Scan:
    """Parse a whole journal; one reader for both :func:`load` and :meth:`Journal.open`, so
    what loading skips as torn is exactly what reopening cuts off."""
    newline = data.find(b"\n")
    header = _parse_header(path, data[: newline + 1] if newline >= 0 else data)
    events: list[Event] = []
    start = newline + 1
    number = 1
    while start < len(data):
        number += 1
        stop = data.find(b"\n", start)
        if stop < 0:
            return _Scan(header, events, torn=True, end=start)
        try:
            events.append(decode_event(data[start:stop]))
        except ValidationError as error:
            # Only the last line can be torn, and a torn line is never valid JSON. A complete
            # JSON line that is not an event we know (written by a newer pairup?) is kept.
            if stop + 1 == len(data) and _is_not_json(error):
                return _Scan(header, events, torn=True, end=start)
            raise JournalError(
                f"{path} is damaged: line {number} is not a valid event ({_why(error)})"
            ) from None
        start = stop + 1
    return _Scan(header, events, torn=False, end=start)


def _parse_header(path: Path, line: bytes) -> _Header:
    """Line 1, which must be complete: a header cut by a crash means the journal never began."""
    if not line.endswith(b"\n"):
        raise JournalError(
            f"{path} is not a pairup journal, or is damaged: line 1, the header, is missing"
        )
    try:
        return _Header.model_validate_json(line)
    except ValidationError as error:
        raise JournalError(
            f"{path} is not a pairup journal, or is damaged: line 1 is not a valid header "
            f"({_why(error)})"
        ) from None


def _encode_line(event: Event) -> bytes:
    return encode_event(event) + b"\n"


def _is_not_json(error: ValidationError) -> bool:
    return all(detail["type"] == "json_invalid" for detail in error.errors())


def _why(error: ValidationError) -> str:
    """The first problem pydantic found, short enough for one line of an error message."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" if where else first["msg"]


def _sync(file: BinaryIO) -> None:
    file.flush()
    os.fsync(file.fileno())


def _lock(path: Path, file: BinaryIO) -> None:
    """Take the journal for this process alone, for as long as the file is open.

    Two writers would interleave their lines and each fight the other for the relay
    connection. The lock is advisory (flock) and goes with the file, so a crash releases it.
    Where flock does not exist (Windows) there is no lock.
    """
    try:
        import fcntl
    except ImportError:
        return
    try:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise JournalBusy(
            f"{path}: this session is already open in another pairup on this machine"
        ) from None
