"""The relay store keeps each session's log gapless and whole, and knows its own epoch."""

import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pairup import protocol as wire
from pairup.relay import store as store_module
from pairup.relay.core.events import StoredEvent, sequenced
from pairup.relay.store import SessionExists, SessionRecord, Store, StoreError

T0 = 1_790_000_000.0
VERIFIER = wire.verifier(wire.JoinLink("ws://relay", "session-a", b"k" * 16))
WATCH_VERIFIER = wire.verifier(wire.JoinLink("ws://relay", "session-a", b"k" * 16).watching())


def _event(
    seq: int, *, session: str = "session-a", at: float | None = None, body: str | None = None
) -> StoredEvent:
    return sequenced(
        session,
        seq=seq,
        id=f"evt-{seq:06d}",
        sender="ana",
        at=T0 + seq if at is None else at,
        body=f'{{"text": "lesson {seq}"}}' if body is None else body,
    )


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "relay" / "store.sqlite3") as opened:
        opened.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
        yield opened


def test_the_epoch_is_made_once_per_file(tmp_path):
    with Store.open(tmp_path / "one.sqlite3") as first:
        epoch = first.epoch
    with Store.open(tmp_path / "one.sqlite3") as again:
        assert again.epoch == epoch
    with Store.open(tmp_path / "two.sqlite3") as other:
        assert other.epoch != epoch
    assert len(epoch) >= 16


def test_open_creates_missing_directories(tmp_path):
    path = tmp_path / "a" / "b" / "store.sqlite3"
    with Store.open(path):
        assert path.is_file()


def test_a_created_session_can_be_looked_up(store):
    assert store.session("session-a") == SessionRecord(
        session="session-a",
        verifier=VERIFIER,
        watch_verifier=b"",
        host="",
        approve=False,
        created_at=T0,
        last_active=T0,
        max_participants=8,
        last_seq=0,
    )
    assert store.session("session-b") is None


def test_create_session_returns_what_it_stored(store):
    record = store.create_session("session-b", VERIFIER, created_at=T0 + 5, max_participants=2)
    assert store.session("session-b") == record


def test_creating_a_session_twice_is_refused_and_keeps_the_first(store):
    other = wire.verifier(wire.JoinLink("ws://relay", "session-a", b"x" * 16))
    with pytest.raises(SessionExists, match="session-a"):
        store.create_session("session-a", other, created_at=T0 + 9, max_participants=2)
    record = store.session("session-a")
    assert record is not None
    assert record.verifier == VERIFIER


def test_events_come_back_in_order_page_by_page(store):
    events = [_event(seq) for seq in range(1, 8)]
    store.append(events[:3])
    store.append(events[3:])

    assert store.events_after("session-a", 0) == events
    assert store.events_after("session-a", 0, limit=3) == events[:3]
    assert store.events_after("session-a", 3, limit=3) == events[3:6]
    assert store.events_after("session-a", 6, limit=3) == events[6:]
    assert store.events_after("session-a", 7) == []
    assert store.events_after("session-b", 0) == []


def test_a_limit_below_one_is_refused(store):
    with pytest.raises(ValueError, match="limit"):
        store.events_after("session-a", 0, limit=0)


def test_last_seq_and_last_active_follow_appends(store):
    store.create_session("session-b", VERIFIER, created_at=T0, max_participants=8)
    store.append([_event(1), _event(1, session="session-b", at=T0 + 50), _event(2, at=T0 + 20)])
    store.append([_event(3, at=T0 + 10)])

    a = store.session("session-a")
    b = store.session("session-b")
    assert a is not None
    assert b is not None
    assert (a.last_seq, a.last_active) == (3, T0 + 20)
    assert (b.last_seq, b.last_active) == (1, T0 + 50)


def test_an_empty_batch_changes_nothing(store):
    before = store.session("session-a")
    store.append([])
    assert store.session("session-a") == before
    assert store.events_after("session-a", 0) == []


def _assert_untouched_after_refusal(store: Store) -> None:
    record = store.session("session-a")
    assert record is not None
    assert record.last_seq == 2
    assert [event.seq for event in store.events_after("session-a", 0)] == [1, 2]
    assert store.ids("session-a") == {"evt-000001": 1, "evt-000002": 2}


@pytest.mark.parametrize(
    ("batch", "reason"),
    [
        pytest.param(
            [_event(3), _event(3)],
            "has seq 3 where the batch needs 4",
            id="seq repeated in the batch",
        ),
        pytest.param(
            [_event(3), _event(2)], "has seq 2 where the batch needs 4", id="seq already stored"
        ),
        pytest.param(
            [_event(3), _event(5)], "has seq 5 where the batch needs 4", id="seq leaves a gap"
        ),
        pytest.param(
            [_event(4)], "is at seq 2, the batch gives seq 4", id="batch starts past the next seq"
        ),
        pytest.param(
            [_event(3), _event(1, session="nobody")], "no session 'nobody'", id="unknown session"
        ),
    ],
)
def test_a_bad_batch_is_refused_whole(store, batch, reason):
    store.append([_event(1), _event(2)])

    with pytest.raises(StoreError, match="nothing stored") as refused:
        store.append(batch)

    assert reason in str(refused.value)

    _assert_untouched_after_refusal(store)
    store.append([_event(3)])
    assert store.events_after("session-a", 2) == [_event(3)]


def test_ids_map_each_event_id_to_its_seq(store):
    store.create_session("session-b", VERIFIER, created_at=T0, max_participants=8)
    store.append([_event(1), _event(2), _event(1, session="session-b")])

    assert store.ids("session-a") == {"evt-000001": 1, "evt-000002": 2}
    assert store.ids("session-b") == {"evt-000001": 1}
    assert store.ids("session-c") == {}


def test_touch_only_moves_last_active_forward(store):
    store.touch("session-a", T0 + 30)
    store.touch("session-a", T0 + 10)
    store.touch("no-such-session", T0 + 40)

    record = store.session("session-a")
    assert record is not None
    assert record.last_active == T0 + 30
    assert store.session("no-such-session") is None


def test_expire_deletes_idle_sessions_and_only_their_events(store):
    store.create_session("session-b", VERIFIER, created_at=T0, max_participants=8)
    store.create_session("session-c", VERIFIER, created_at=T0, max_participants=8)
    store.append([_event(1, at=T0 + 5), _event(1, session="session-b", at=T0 + 100)])
    store.touch("session-c", T0 + 99)

    assert store.expire(idle_before=T0 + 100) == ["session-a", "session-c"]

    assert store.session("session-a") is None
    assert store.session("session-c") is None
    assert store.events_after("session-a", 0) == []
    assert store.ids("session-a") == {}
    assert store.events_after("session-b", 0) == [_event(1, session="session-b", at=T0 + 100)]
    assert store.expire(idle_before=T0 + 100) == []


def test_an_expired_session_can_be_created_again_from_scratch(store):
    store.append([_event(1)])
    store.expire(idle_before=T0 + 1000)

    store.create_session("session-a", VERIFIER, created_at=T0 + 2000, max_participants=8)
    store.append([_event(1, at=T0 + 2001)])

    assert store.events_after("session-a", 0) == [_event(1, at=T0 + 2001)]


def test_everything_survives_a_reopen(tmp_path):
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as store:
        store.create_session("session-a", VERIFIER, created_at=T0, max_participants=3)
        store.append([_event(1), _event(2)])
        record = store.session("session-a")

    with Store.open(path) as reopened:
        assert reopened.session("session-a") == record
        assert reopened.events_after("session-a", 0) == [_event(1), _event(2)]


def test_a_closed_store_refuses_work(tmp_path):
    store = Store.open(tmp_path / "store.sqlite3")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.session("session-a")


def test_a_store_can_be_read_from_another_thread(store):
    store.append([_event(1)])
    seen: list[list[StoredEvent]] = []
    reader = threading.Thread(target=lambda: seen.append(store.events_after("session-a", 0)))
    reader.start()
    reader.join()
    assert seen == [[_event(1)]]


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    content = b"these are my notes, not a database\n" * 200
    path.write_bytes(content)

    with pytest.raises(StoreError, match="not a pairup relay store") as raised:
        Store.open(path)

    assert str(path) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert path.read_bytes() == content


def test_another_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE songs (title TEXT)")
    other.close()
    before = path.read_bytes()

    with pytest.raises(StoreError, match="not a pairup relay store") as raised:
        Store.open(path)

    assert str(path) in str(raised.value)
    assert path.read_bytes() == before


def test_a_store_of_another_schema_version_is_refused(tmp_path):
    path = tmp_path / "store.sqlite3"
    Store.open(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '6' WHERE key = 'schema_version'")
    db.close()

    with pytest.raises(StoreError, match="schema version 6") as raised:
        Store.open(path)

    assert str(path) in str(raised.value)


def _schema_version(path: Path) -> str:
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    db.close()
    return version


@pytest.mark.parametrize("version", ["1", "2", "3", "4"])
def test_a_store_from_before_sealed_bodies_starts_a_new_epoch_without_its_sessions(
    tmp_path, version
):
    """Its events are plaintext no participant of protocol 4 may apply: the store starts
    again, and the new epoch tells participants to re-seed their sessions from their
    journals, sealed."""
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as store:
        store.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
        store.append([_event(1), _event(2)])
        store.bind_identity("session-a", "ana", b"1" * 32)
        epoch = store.epoch
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE standings")
        for column in ("watch_verifier", "host", "approve"):
            db.execute(f"ALTER TABLE sessions DROP COLUMN {column}")
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version,))
    db.close()

    with Store.open(path) as store:
        assert store.epoch != epoch
        assert store.session("session-a") is None
        assert store.events_after("session-a", 0) == []
        assert store.identities("session-a") == {}
        store.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
        store.append([_event(1)])
        assert store.events_after("session-a", 0) == [_event(1)]
        again = store.epoch
    assert _schema_version(path) == "5"
    with Store.open(path) as store:
        assert store.epoch == again


def test_a_session_keeps_its_watch_verifier_host_and_approval(store):
    record = store.create_session(
        "session-b",
        VERIFIER,
        watch_verifier=WATCH_VERIFIER,
        host="ana",
        approve=True,
        created_at=T0,
        max_participants=4,
    )
    assert store.session("session-b") == record
    assert (record.watch_verifier, record.host, record.approve) == (WATCH_VERIFIER, "ana", True)


def test_the_ids_that_came_with_the_watch_link_are_known_as_watchers(store):
    assert store.bind_identity("session-a", "vic", b"1" * 32, watcher=True) == b"1" * 32
    store.bind_identity("session-a", "ana", b"2" * 32)
    # A later entry does not change how the id first came.
    store.bind_identity("session-a", "ana", b"2" * 32, watcher=True)
    assert store.watchers("session-a") == {"vic"}
    assert store.identities("session-a") == {"vic": b"1" * 32, "ana": b"2" * 32}


def test_who_was_let_in_and_who_was_removed_is_remembered_until_the_session_expires(store):
    first, second = b"1" * 32, b"2" * 32
    assert store.let_in("session-a", "bo", first) == first
    assert store.identities("session-a") == {"bo": first}
    store.remove("session-a", "bo")
    store.remove("session-a", "cy")
    assert store.standings("session-a") == {"bo": "removed", "cy": "removed"}
    # Letting in another key keeps the key the id is bound to, and lets nobody in.
    assert store.let_in("session-a", "bo", second) == first
    assert store.standings("session-a") == {"bo": "removed", "cy": "removed"}
    assert store.let_in("session-a", "bo", first) == first
    assert store.standings("session-a") == {"bo": "let in", "cy": "removed"}
    assert store.expire(T0 + 50) == ["session-a"]
    assert store.standings("session-a") == {}


def test_a_participant_id_is_bound_to_the_first_key_only(store):
    first, second = b"1" * 32, b"2" * 32
    assert store.bind_identity("session-a", "ana", first) == first
    assert store.bind_identity("session-a", "ana", second) == first
    assert store.bind_identity("session-a", "bo", second) == second
    assert store.identities("session-a") == {"ana": first, "bo": second}
    store.create_session("session-b", VERIFIER, created_at=T0 + 100, max_participants=8)
    assert store.bind_identity("session-b", "ana", second) == second
    assert store.expire(T0 + 50) == ["session-a"]
    assert store.identities("session-a") == {}
    assert store.identities("session-b") == {"ana": second}


@given(
    events=st.lists(
        st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=40)),
        min_size=1,
        max_size=6,
        unique_by=lambda event: event[0],
    ),
    at=st.floats(min_value=0, max_value=1e11, allow_nan=False, allow_infinity=False),
)
@settings(max_examples=60, deadline=None)
def test_the_store_gives_back_each_frame_and_id_as_it_was_sent(events, at):
    """A resume sends the frames the store holds: they must be the bytes the relay sent. The
    ids come back as they went in, whatever their characters."""
    with (
        tempfile.TemporaryDirectory() as directory,
        Store.open(Path(directory) / "store.sqlite3") as store,
    ):
        store.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
        sent = [
            sequenced("session-a", seq=seq, id=id, sender="ana", at=at, body=body)
            for seq, (id, body) in enumerate(events, 1)
        ]
        store.append(sent)
        stored = store.events_after("session-a", 0)
        assert [event.frame for event in stored] == [event.frame for event in sent]
        assert stored == sent
        assert [json.loads(event.frame)["body"] for event in stored] == [b for _, b in events]
        assert store.ids("session-a") == {id: seq for seq, (id, _) in enumerate(events, 1)}


def test_the_store_runs_in_wal_mode(tmp_path):
    path = tmp_path / "store.sqlite3"
    with Store.open(path):
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        finally:
            db.close()


_WRITER = """
import sys
from pathlib import Path
from pairup.relay.core.events import sequenced
from pairup.relay.store import Store

store = Store.open(Path(sys.argv[1]))
store.create_session("crash-session", b"d" * 32, created_at=0.0, max_participants=8)
seq = 0
while True:
    size = 1 + seq % 7
    batch = [
        sequenced(
            "crash-session", seq=n, id=f"evt-{n:06d}", sender="ana", at=float(n), body="x" * n,
        )
        for n in range(seq + 1, seq + 1 + size)
    ]
    store.append(batch)
    seq += size
    print(seq, flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_every_commit_reported_survives_a_kill(tmp_path):
    """A process killed mid-stream loses nothing it had committed, and leaves no gap.

    This checks atomicity and ordering against a process crash; surviving a power loss rests
    on SQLite's fsync (``synchronous=FULL``), which a test cannot pull the plug on.
    """
    path = tmp_path / "store.sqlite3"
    root = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=root,
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        first = writer.stdout.readline()
        time.sleep(0.5)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=5)
    assert writer.stdout is not None
    printed = [int(line) for line in [first, *writer.stdout.read().splitlines()] if line.strip()]
    writer.stdout.close()
    assert printed, "the writer committed nothing before it was killed"

    with Store.open(path) as store:
        record = store.session("crash-session")
        assert record is not None
        stored = [event.seq for event in store.events_after("crash-session", 0, limit=10**9)]

    assert record.last_seq >= max(printed)
    assert stored == list(range(1, record.last_seq + 1))


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=9), min_size=1, max_size=12),
    after=st.integers(min_value=0, max_value=120),
    limit=st.integers(min_value=1, max_value=40),
)
@settings(max_examples=60, deadline=None)
def test_a_page_is_the_events_after_an_offset_wherever_the_commits_fell(sizes, after, limit):
    with (
        tempfile.TemporaryDirectory() as directory,
        Store.open(Path(directory) / "store.sqlite3") as store,
    ):
        store.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
        events = [_event(seq) for seq in range(1, sum(sizes) + 1)]
        start = 0
        for size in sizes:
            store.append(events[start : start + size])
            start += size
        assert store.events_after("session-a", after, limit) == events[after:][:limit]


def test_a_page_costs_the_same_however_long_the_session_is(tmp_path):
    """A resume reads the chunks that hold its page, not the rest of the session after it:
    counted in SQLite's own steps, so the machine's speed does not enter."""

    def steps_for_a_page(chunks: int) -> int:
        with Store.open(tmp_path / f"{chunks}.sqlite3") as store:
            store.create_session("session-a", VERIFIER, created_at=T0, max_participants=8)
            for seq in range(1, chunks + 1):
                store.append([_event(seq)])
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            store._db.set_progress_handler(count, 10)
            page = store.events_after("session-a", 10, 5)
            assert [event.seq for event in page] == list(range(11, 16))
            store._db.set_progress_handler(None, 0)
            return steps[0]

    assert steps_for_a_page(400) < 1.5 * steps_for_a_page(40)


def _sessions_over_several_statements(store: Store, monkeypatch) -> list[str]:
    """Seven sessions in the store, three chunks to a statement: a batch of all of them takes
    three statements."""
    monkeypatch.setattr(store_module, "_CHUNKS_PER_STATEMENT", 3)
    sessions = [f"session-{letter}" for letter in "bcdefgh"]
    for session in sessions:
        store.create_session(session, VERIFIER, created_at=T0, max_participants=8)
    return sessions


def test_a_batch_of_more_chunks_than_a_statement_takes_is_stored_whole(store, monkeypatch):
    sessions = _sessions_over_several_statements(store, monkeypatch)
    store.append([_event(seq, session=session) for session in sessions for seq in (1, 2)])
    for session in sessions:
        assert store.events_after(session, 0) == [
            _event(1, session=session),
            _event(2, session=session),
        ]
        record = store.session(session)
        assert record is not None
        assert record.last_seq == 2


def test_a_batch_over_several_statements_is_refused_whole(store, monkeypatch):
    sessions = _sessions_over_several_statements(store, monkeypatch)
    batch = [_event(1, session=session) for session in sessions[:-1]]
    with pytest.raises(StoreError, match="session-h"):
        # The last session's chunk, in the last statement, skips an offset.
        store.append([*batch, _event(2, session=sessions[-1])])
    for session in sessions:
        assert store.events_after(session, 0) == []
        record = store.session(session)
        assert record is not None
        assert record.last_seq == 0


def test_an_append_of_one_event_writes_three_pages(tmp_path):
    """The chunk's row, its key in the chunks' index, the session's row: nothing else (the
    index of sessions by last activity that stores used to have added one or two). Counted in
    WAL frames, one per page written, so the machine's speed does not enter."""
    path = tmp_path / "store.sqlite3"
    with Store.open(path) as store:
        page_size = store._db.execute("PRAGMA page_size").fetchone()[0]
        for name in ("session-a", "session-b"):
            store.create_session(name, VERIFIER, created_at=T0, max_participants=8)
        store.append([_event(1)])
        wal = path.with_name(path.name + "-wal")
        before = wal.stat().st_size
        store.append([_event(1, session="session-b", at=T0 + 60)])
        frames, rest = divmod(wal.stat().st_size - before, page_size + 24)
    assert (frames, rest) == (3, 0)
