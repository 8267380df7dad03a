"""The relay's durable log: every session it sequences, and every event it accepted, in SQLite.

The relay is the sequencer of each session (ADR 2): it gives every accepted event the session's
next offset ``seq`` and its own time, and commits it here *before* acknowledging it or sending
it on, so an acknowledged event survives a crash and a power loss. The store also carries an
**epoch**, a random id made once when the database file is created: a client that sees a new
epoch knows the relay lost its data and must re-seed it from its journal, while the same epoch
after a restart means nothing was lost.

The API is blocking; the async server calls it through ``asyncio.to_thread``, and appends
through its writer thread. There is one sqlite3 connection, opened with
``check_same_thread=False`` and guarded by a lock, so calls from any thread are serialised.
That is simpler than a connection per thread and costs little: the relay has one writer at a
time, and its reads (a page of events, a session record) are short next to the fsync of a
commit. Only the public half of each session's admission key is stored (it checks proofs
and cannot make one), never the join secret. What one commit stores of a session is one row,
so a commit costs SQLite a row per session in it, not one per event; the row keeps each event
as the very frame participants get (schema 3), so an event is encoded once, when the relay
sequences it, and a resume sends what the store holds. See ADR 7, ADR 14, ADR 16 and ADR 24.
"""

import contextlib
import errno
import functools
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from pairup.durable import make_dirs, sync_dir
from pairup.protocol import json_string
from pairup.relay.core.events import StoredEvent

SCHEMA_VERSION = 5
_APPLICATION_ID = int.from_bytes(b"pair", "big")
"""Written into the SQLite header, so a pairup store is recognised before reading any table."""

_CHUNKS = """CREATE TABLE chunks (
        session TEXT NOT NULL,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        last_at REAL NOT NULL,
        ids TEXT NOT NULL,
        events TEXT NOT NULL,
        PRIMARY KEY (session, first_seq)
    )"""
"""A session's events ``first_seq`` to ``last_seq`` as one row: what one commit stored of the
session. ``ids`` is a JSON array of their ids, ``events`` one of their ``event`` frames, both
in ``seq`` order; ``last_at`` is the
relay's time of the last. A row per commit, not per event: SQLite's cost per row was more than
a bare relay spends on a whole event."""

_CHUNK_TRIGGERS = (
    """CREATE TRIGGER chunks_continue_their_session BEFORE INSERT ON chunks
    BEGIN
        SELECT RAISE(ABORT, 'the chunk does not continue its session')
        WHERE NEW.first_seq IS NOT (SELECT last_seq + 1 FROM sessions WHERE session = NEW.session)
            OR NEW.last_seq < NEW.first_seq;
    END""",
    """CREATE TRIGGER chunks_move_their_session AFTER INSERT ON chunks
    BEGIN
        UPDATE sessions SET last_seq = NEW.last_seq, last_active = max(last_active, NEW.last_at)
        WHERE session = NEW.session;
    END""",
)
"""Every chunk continues its session's log at ``last_seq + 1``, and moves it along in the same
statement: an append is one statement, so its commit waits for the GIL once."""

_IDENTITIES = """CREATE TABLE identities (
        session TEXT NOT NULL,
        participant TEXT NOT NULL,
        key BLOB NOT NULL,
        watcher INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (session, participant)
    )"""
"""The public key each participant id of a session first entered with (schema 4): that id is
admitted only to whoever proves the same key again; ``watcher``: it first came with the watch
link (schema 5), so it counts against the watchers' ids, not the participants'."""

_STANDINGS = """CREATE TABLE standings (
        session TEXT NOT NULL,
        participant TEXT NOT NULL,
        standing TEXT NOT NULL CHECK (standing IN ('let in', 'removed')),
        PRIMARY KEY (session, participant)
    )"""
"""Who the host let in (in a session that asks for approval) and who was taken out (schema
5): a removed id waits for the host's approval again, whatever the session's setting."""

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE sessions (
        session TEXT PRIMARY KEY,
        verifier BLOB NOT NULL,
        watch_verifier BLOB NOT NULL,
        host TEXT NOT NULL,
        approve INTEGER NOT NULL,
        created_at REAL NOT NULL,
        last_active REAL NOT NULL,
        max_participants INTEGER NOT NULL,
        last_seq INTEGER NOT NULL DEFAULT 0,
        restored INTEGER NOT NULL DEFAULT 0
    )""",
    _CHUNKS,
    *_CHUNK_TRIGGERS,
    _IDENTITIES,
    _STANDINGS,
)
_SESSION_COLUMNS = (
    "session, verifier, watch_verifier, host, approve, created_at, last_active, "
    "max_participants, last_seq, restored"
)


class StoreError(Exception):
    """The store cannot do what was asked; the message is one line and names the file."""


class StoreFull(StoreError):
    """The disk under the store is full (SQLite's "database or disk is full", or ENOSPC): a
    write was not done, and will be once someone frees space."""


class StoreDamaged(StoreError):
    """The store's file is damaged (truncated, overwritten, or not SQLite at all); the message
    says how to get a relay going again."""


def damaged(path: Path, detail: str) -> StoreDamaged:
    """Why the store at ``path`` cannot be used, and the way out: a new store, which the
    participants fill again from their journals (docs/protocol.md, "Epochs and re-seeding")."""
    return StoreDamaged(
        f"{path} is damaged ({detail}): with the relay stopped, move it and its -wal and -shm "
        f"files aside (in {path.parent}: mkdir damaged && mv {path.name}* damaged/), then start "
        "again; participants' pairups re-seed their sessions from their journals"
    )


class SessionExists(StoreError):
    """:meth:`Store.create_session` for a session the store already has."""


class _Refused(StoreError):
    """A write that broke a constraint of the schema (a repeated key) and was rolled back."""


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session the relay knows: how to admit participants, and how far its log goes."""

    session: str
    verifier: bytes
    """The public half of the session's admission key (:func:`pairup.protocol.verifier`):
    it checks a participant's proof of the link, and cannot make one."""
    watch_verifier: bytes
    """The same for the session's watch link: it admits watchers, never participants."""
    host: str
    """The participant whose hello created the session: who lets newcomers in."""
    approve: bool
    """Newcomers wait until the host lets them in."""
    created_at: float
    last_active: float
    """The relay's time of the latest event or :meth:`Store.touch`; expiry goes by it."""
    max_participants: int
    last_seq: int
    """The offset of the session's latest event; 0 before the first."""
    restored: bool = False
    """Made again by someone who had been in it, on a relay that had lost it: its log is
    re-seeded, so it holds events one participant published for another (ADR 24)."""


class Store:
    """The relay's store, open on one SQLite file. Make one with :meth:`open`.

    Every method may raise :class:`StoreError`: for a refused write, a failing disk, or use
    after :meth:`close`. A write either happens whole or not at all.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, epoch: str) -> None:
        self._path = path
        self._db = connection
        self._epoch = epoch
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open the store at ``path``, creating it (and its directories) if it does not exist.

        A new store gets its schema and a fresh epoch in one transaction, so a crash while
        creating leaves either no store or a whole one. A file that is not a pairup store, or
        one of another schema version, raises :class:`StoreError` and is left untouched; a
        damaged one (SQLite's quick check reads every page) :class:`StoreDamaged`.
        Commits use WAL with ``synchronous=FULL`` (and ``fullfsync`` where the platform has it),
        so a commit that returned is on disk, not in a cache.
        """
        what = "open the relay store"
        try:
            make_dirs(path.parent)
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except (sqlite3.Error, OSError) as error:
            raise _failure(path, what, error) from None
        try:
            epoch = _prepare(path, connection)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA fullfsync = ON")
            sync_dir(path.parent)
        except (sqlite3.Error, OSError) as error:
            connection.close()
            raise _failure(path, what, error) from None
        except BaseException:
            connection.close()
            raise
        return cls(path, connection, epoch)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def epoch(self) -> str:
        """Made once with the file; a different epoch means a different (or emptied) store."""
        return self._epoch

    def create_session(
        self,
        session: str,
        verifier: bytes,
        *,
        watch_verifier: bytes = b"",
        host: str = "",
        approve: bool = False,
        created_at: float,
        max_participants: int,
        restored: bool = False,
    ) -> SessionRecord:
        """Register a new session, active as of ``created_at``; raise :class:`SessionExists`
        if the store already has it, so a second host cannot take over someone's session.
        Without ``watch_verifier`` it admits no watcher; without ``host``, nobody lets
        newcomers in or removes anyone as its host."""
        record = SessionRecord(
            session=session,
            verifier=verifier,
            watch_verifier=watch_verifier,
            host=host,
            approve=approve,
            created_at=created_at,
            last_active=created_at,
            max_participants=max_participants,
            last_seq=0,
            restored=restored,
        )
        try:
            with self._transaction("create a session") as db:
                db.execute(
                    f"INSERT INTO sessions ({_SESSION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session,
                        verifier,
                        watch_verifier,
                        host,
                        approve,
                        created_at,
                        created_at,
                        max_participants,
                        0,
                        restored,
                    ),
                )
        except _Refused:
            raise SessionExists(f"{self._path}: session {session!r} already exists") from None
        return record

    def session(self, session: str) -> SessionRecord | None:
        """The session's record, or ``None`` if the store does not have it (or it expired)."""
        with self._reading("read a session") as db:
            row = db.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session = ?", (session,)
            ).fetchone()
        if row is None:
            return None
        session, verifier, watch_verifier, host, approve, *rest, restored = row
        return SessionRecord(
            session, verifier, watch_verifier, host, bool(approve), *rest, restored=bool(restored)
        )

    def append(self, events: Sequence[StoredEvent]) -> None:
        """Commit a batch of sequenced events in one transaction, so one fsync covers them all.

        Each session's events must continue its log in order: ``last_seq + 1``, ``+ 2``, and
        so on. The server assigns offsets and drops repeated ids itself, so a batch that
        breaks this is a bug; it raises :class:`StoreError` and nothing of it is stored,
        rather than leaving a gap that clients would resume from. Each session's events of
        the batch become one chunk row, and its ``last_seq`` and ``last_active`` move in the
        same transaction.
        """
        if not events:
            return
        chunks: dict[str, list[StoredEvent]] = {}
        for event in events:
            chunk = chunks.get(event.session)
            if chunk is None:
                chunks[event.session] = [event]
            elif event.seq == chunk[-1].seq + 1:
                chunk.append(event)
            else:
                raise StoreError(
                    f"{self._path}: append refused, nothing stored: session {event.session!r} "
                    f"has seq {event.seq} where the batch needs {chunk[-1].seq + 1}"
                )
        values: list[object] = []
        for session, chunk in chunks.items():
            # The ids are written as the frames write strings, without json.dumps's cost per
            # call.
            ids = ",".join([json_string(event.id) for event in chunk])
            frames = _frames_array([event.frame for event in chunk])
            values += (session, chunk[0].seq, chunk[-1].seq, chunk[-1].at, f"[{ids}]", frames)
        # A chunk per session, as few statements as SQLite's limit on parameters allows (one,
        # unless a batch holds over a thousand sessions), in one transaction; the schema's
        # triggers check that each chunk continues its session and move the session along.
        # sqlite3 releases and retakes the GIL around every statement it steps, and under load
        # each retake can wait a whole switch interval behind the event loop: a commit with one
        # statement waits once. Bound values, not one JSON argument: SQLite would parse each
        # chunk's JSON again for every column taken out of it.
        statements = [
            values[start : start + _CHUNKS_PER_STATEMENT * _CHUNK_COLUMNS]
            for start in range(0, len(values), _CHUNKS_PER_STATEMENT * _CHUNK_COLUMNS)
        ]
        try:
            if len(statements) == 1:
                with self._reading("append events") as db:
                    db.execute(_insert_chunks(len(chunks)), values)
            else:
                with self._transaction("append events") as db:
                    for part in statements:
                        db.execute(_insert_chunks(len(part) // _CHUNK_COLUMNS), part)
        except _Refused:
            # The only constraints a chunk can break say it does not continue its session.
            raise StoreError(self._discontinuity(chunks)) from None

    def _discontinuity(self, chunks: dict[str, list[StoredEvent]]) -> str:
        """Why a batch the schema refused does not continue its sessions, in one line."""
        with self._reading("read sessions") as db:
            known = dict(
                db.execute(
                    "SELECT session, last_seq FROM sessions"
                    " WHERE session IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(chunks)),),
                )
            )
        for session, chunk in chunks.items():
            if session not in known:
                return f"{self._path}: append refused, nothing stored: no session {session!r}"
            if chunk[0].seq != known[session] + 1:
                return (
                    f"{self._path}: append refused, nothing stored: session {session!r} is at "
                    f"seq {known[session]}, the batch gives seq {chunk[0].seq}"
                )
        return (
            f"{self._path}: append refused, nothing stored: a chunk does not continue its session"
        )

    def events_after(self, session: str, after: int, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` of the session's events with ``seq > after``, in ``seq`` order.

        Call again with the last ``seq`` returned to page on; an empty list means caught up.
        """
        return [
            _from_frame(session, frame) for _, frame in self.frames_after(session, after, limit)
        ]

    def frames_after(self, session: str, after: int, limit: int = 1000) -> list[tuple[int, bytes]]:
        """What :meth:`events_after` gives, as each event's ``seq`` and its frame only, read
        without decoding: what a resume sends."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        with self._reading("read events") as db:
            # Along the primary key, from the chunk that holds ``after + 1`` to the last that
            # can hold ``after + limit`` (a chunk holds one event at least); each frame comes
            # back as the text it was stored as.
            rows = db.execute(
                "SELECT first_seq + frame.key, frame.value"
                " FROM chunks, json_each(chunks.events) AS frame"
                " WHERE session = ?1 AND first_seq >= coalesce((SELECT max(first_seq)"
                " FROM chunks WHERE session = ?1 AND first_seq <= ?2 + 1), 0)"
                " AND first_seq <= max(?2, 0) + ?3 AND first_seq + frame.key > ?2"
                " ORDER BY first_seq, frame.key LIMIT ?3",
                (session, after, limit),
            ).fetchall()
        return [(seq, text.encode()) for seq, text in rows]

    def ids(self, session: str) -> dict[str, int]:
        """Every event id of the session and its ``seq``: the server loads this once per
        session, then answers a resent event with its first ``seq`` instead of storing it
        again."""
        with self._reading("read event ids") as db:
            chunks = db.execute("SELECT first_seq, ids FROM chunks WHERE session = ?", (session,))
            return {
                event_id: seq
                for first, ids in chunks
                for seq, event_id in enumerate(json.loads(ids), first)
            }

    def identities(self, session: str) -> dict[str, bytes]:
        """The key each participant id of the session is bound to."""
        with self._reading("read participants' keys") as db:
            rows = db.execute(
                "SELECT participant, key FROM identities WHERE session = ?", (session,)
            )
            return dict(rows.fetchall())

    def watchers(self, session: str) -> set[str]:
        """The ids of the session that first came with its watch link."""
        with self._reading("read watchers' ids") as db:
            rows = db.execute(
                "SELECT participant FROM identities WHERE session = ? AND watcher", (session,)
            )
            return {participant for (participant,) in rows}

    def bind_identity(
        self, session: str, participant: str, key: bytes, *, watcher: bool = False
    ) -> bytes:
        """Bind ``participant`` to ``key`` in ``session`` if it is not bound yet (as a
        watcher's id, with ``watcher``); return the key it is bound to (this one, or the one
        that came first)."""
        with self._transaction("bind a participant's key") as db:
            db.execute(
                "INSERT OR IGNORE INTO identities (session, participant, key, watcher)"
                " VALUES (?, ?, ?, ?)",
                (session, participant, key, watcher),
            )
            (bound,) = db.execute(
                "SELECT key FROM identities WHERE session = ? AND participant = ?",
                (session, participant),
            ).fetchone()
        return bytes(bound)

    def standings(self, session: str) -> dict[str, str]:
        """Who the host let in (``"let in"``) and who was taken out (``"removed"``)."""
        with self._reading("read who was let in") as db:
            rows = db.execute(
                "SELECT participant, standing FROM standings WHERE session = ?", (session,)
            )
            return dict(rows.fetchall())

    def let_in(self, session: str, participant: str, key: bytes) -> bytes:
        """The host let ``participant`` in with ``key``: bind the id to it if it is not bound
        yet, and, if it is bound to that key, remember the id as let in (no longer removed);
        return the key it is bound to."""
        with self._transaction("let a participant in") as db:
            db.execute(
                "INSERT OR IGNORE INTO identities (session, participant, key) VALUES (?, ?, ?)",
                (session, participant, key),
            )
            (bound,) = db.execute(
                "SELECT key FROM identities WHERE session = ? AND participant = ?",
                (session, participant),
            ).fetchone()
            if bytes(bound) == key:
                db.execute(
                    "INSERT OR REPLACE INTO standings (session, participant, standing)"
                    " VALUES (?, ?, 'let in')",
                    (session, participant),
                )
        return bytes(bound)

    def remove(self, session: str, participant: str) -> None:
        """Remember ``participant`` as taken out of the session: it comes back only if the host
        lets it in."""
        with self._transaction("remove a participant") as db:
            db.execute(
                "INSERT OR REPLACE INTO standings (session, participant, standing)"
                " VALUES (?, ?, 'removed')",
                (session, participant),
            )

    def touch(self, session: str, at: float) -> None:
        """Keep a session alive without an event (someone is connected); never moves
        ``last_active`` back. An unknown session is left alone: expiry may have won the race."""
        with self._transaction("touch a session") as db:
            db.execute(
                "UPDATE sessions SET last_active = max(last_active, ?) WHERE session = ?",
                (at, session),
            )

    def expire(self, idle_before: float, *, unused_before: float | None = None) -> list[str]:
        """Delete the sessions idle since before ``idle_before``, and those without a single
        event idle since before ``unused_before``, with all their events, in one transaction;
        return their ids, sorted.

        It reads every session: there is no index of sessions by last activity, which every
        commit would have to write. The relay runs it every ten minutes by default; over
        100,000 sessions it takes about 8 ms."""
        unused = idle_before if unused_before is None else unused_before
        with self._transaction("expire sessions") as db:
            idle = sorted(
                session
                for (session,) in db.execute(
                    "SELECT session FROM sessions"
                    " WHERE last_active < ? OR (last_seq = 0 AND last_active < ?)",
                    (idle_before, unused),
                )
            )
            db.executemany("DELETE FROM chunks WHERE session = ?", [(s,) for s in idle])
            db.executemany("DELETE FROM identities WHERE session = ?", [(s,) for s in idle])
            db.executemany("DELETE FROM standings WHERE session = ?", [(s,) for s in idle])
            db.executemany("DELETE FROM sessions WHERE session = ?", [(s,) for s in idle])
        return idle

    def close(self) -> None:
        """Close the connection; SQLite checkpoints the WAL into the main file. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[sqlite3.Connection]:
        """The connection, held for one statement or read; a database error becomes
        :class:`StoreError`, a broken constraint :class:`_Refused`."""
        with self._lock:
            if self._closed:
                raise StoreError(f"{self._path}: cannot {what}: the store is closed")
            try:
                yield self._db
            except sqlite3.IntegrityError as error:
                raise _Refused(f"{self._path}: {what} refused, nothing stored: {error}") from None
            except sqlite3.Error as error:
                raise _failure(self._path, what, error) from None

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        """The connection inside ``BEGIN IMMEDIATE … COMMIT``, rolled back on any error.

        A constraint violation raises :class:`_Refused` (a :class:`StoreError`) so callers
        can tell "you asked for something the store forbids" from a failing disk.
        """
        with self._reading(what) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except sqlite3.IntegrityError as error:
                _rollback(db)
                raise _Refused(f"{self._path}: {what} refused, nothing stored: {error}") from None
            except BaseException:
                _rollback(db)
                raise


_CHUNK_COLUMNS = 6
_CHUNKS_PER_STATEMENT = 1000
"""6,000 parameters a statement, well below SQLite's limit of 32,766."""


@functools.lru_cache(maxsize=128)
def _insert_chunks(count: int) -> str:
    """The statement that inserts ``count`` chunks, one row of bound values each."""
    row = f"({', '.join('?' * _CHUNK_COLUMNS)})"
    return (
        "INSERT INTO chunks (session, first_seq, last_seq, last_at, ids, events)"
        f" VALUES {', '.join([row] * count)}"
    )


def _frames_array(frames: list[bytes]) -> str:
    """A chunk's ``events`` column: the frames are JSON already, and go into the array as
    they are."""
    return f"[{b','.join(frames).decode()}]"


def _from_frame(session: str, frame: bytes) -> StoredEvent:
    fields = json.loads(frame)
    return StoredEvent(
        session,
        fields["seq"],
        fields["id"],
        fields["sender"],
        fields["at"],
        fields["body"],
        frame,
    )


def _failure(path: Path, what: str, error: sqlite3.Error | OSError) -> StoreError:
    """What a failed SQLite or file call becomes: one line, and for a full disk or a damaged
    file, a class of its own and a message that says what to do."""
    if isinstance(error, OSError):
        full, broken = error.errno == errno.ENOSPC, False
    else:
        # The primary result code: SQLite's extended codes keep it in their low byte.
        code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
        full, broken = code == sqlite3.SQLITE_FULL, code in _DAMAGED
    if full:
        return StoreFull(f"{path}: cannot {what}: the disk is full; free space in {path.parent}")
    if broken:
        return damaged(path, _one_line(str(error)))
    return StoreError(f"{path}: cannot {what}: {_one_line(str(error))}")


_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
"""SQLite's primary result codes for a file that is not a whole database."""


def _one_line(text: str, limit: int = 200) -> str:
    """An error's text fit for one line of a log: some of SQLite's quote the damaged data."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else f"{flat[: limit - 1]}…"


def _rollback(db: sqlite3.Connection) -> None:
    """Undo the open transaction, if SQLite has not already undone it after a failed commit."""
    if db.in_transaction:
        db.execute("ROLLBACK")


def _prepare(path: Path, db: sqlite3.Connection) -> str:
    """Check that ``path`` is a pairup store of our schema, or make it one; return its epoch.

    Runs under the write lock (``BEGIN IMMEDIATE``), so two processes opening a new file at
    once cannot both create the schema and give it two epochs.
    """
    try:
        db.execute("BEGIN IMMEDIATE")
    except sqlite3.DatabaseError as error:
        if error.sqlite_errorcode == sqlite3.SQLITE_NOTADB:
            raise damaged(path, "not a pairup relay store: not an SQLite database") from None
        raise
    try:
        epoch = _create_or_check(path, db)
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise
    return epoch


def _create_or_check(path: Path, db: sqlite3.Connection) -> str:
    (application_id,) = db.execute("PRAGMA application_id").fetchone()
    (objects,) = db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    if application_id == 0 and objects == 0:
        return _create(db)
    if application_id != _APPLICATION_ID:
        raise StoreError(f"{path}: not a pairup relay store (an SQLite database of something else)")
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.OperationalError:
        meta = {}
    version = meta.get("schema_version")
    if version in _BEFORE_SEALING:
        return _start_again(db)
    if version != str(SCHEMA_VERSION):
        raise StoreError(
            f"{path}: relay store of schema version {version}; "
            f"this pairup reads version {SCHEMA_VERSION}"
            if version is not None
            else f"{path}: not a pairup relay store (no schema version)"
        )
    epoch = meta.get("epoch")
    if not epoch:
        raise damaged(path, "a pairup relay store without its epoch")
    # Found now, with one line that says what to do, rather than by the first participant of
    # a session whose pages are broken, again at every reconnect. It reads every page: about
    # 15 ms for 100,000 events.
    problems = [row for (row,) in db.execute("PRAGMA quick_check(3)") if row != "ok"]
    if problems:
        raise damaged(path, _one_line("; ".join(problems)))
    return epoch


def _create(db: sqlite3.Connection) -> str:
    """Give an empty file the schema and a new epoch; return the epoch."""
    epoch = secrets.token_urlsafe(12)
    db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
    for statement in _SCHEMA:
        db.execute(statement)
    db.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("epoch", epoch)],
    )
    return epoch


_BEFORE_SEALING = ("1", "2", "3", "4")
"""Schemas whose frames carry plaintext bodies, which participants of protocol 4 cannot open."""


def _start_again(db: sqlite3.Connection) -> str:
    """A store from before protocol 4 becomes an empty one with a new epoch, within the
    transaction that opens it: its events are plaintext that no participant may apply any
    more, and a new epoch is how participants learn to re-seed their sessions, sealed, from
    their journals (ADR 28). The file stays, so its path and permissions do."""
    tables = [
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith("sqlite_")
    ]
    for name in tables:
        db.execute(f'DROP TABLE "{name}"')
    return _create(db)
