"""The journal keeps every event written, survives a torn last line and collapses copies by id."""

import itertools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pairup.journal import Journal, JournalBusy, JournalError, journal_path, list_sessions, load
from pairup.session.events import (
    BreakEnded,
    BreakStarted,
    CommitRecorded,
    DecisionAmended,
    DecisionRecorded,
    Event,
    LessonNoted,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    Person,
    RolesRotated,
    SessionEnded,
    SessionOpened,
    SessionSettings,
    TimerExtended,
    TimerPaused,
    TimerResumed,
    TurnStarted,
    encode_event,
    sequenced,
)
from pairup.session.reduce import fold

T0 = 1_790_000_000.0
ANA = Participant(id="ana", name="Ana Lima", email="ana@example.org")
BO = Participant(id="bo", name="Bo Chen", email="bo@example.org")


def _eid(number: int) -> str:
    return f"evt-{number:06d}"


def _session_events() -> list[Event]:
    """A realistic session: joins, a turn with a pause, a decision and its amendment, a commit."""
    return [
        SessionOpened(
            id=_eid(1),
            actor="ana",
            at=T0,
            title="Journal",
            settings=SessionSettings(turn_seconds=60),
        ),
        ParticipantJoined(id=_eid(2), actor="ana", at=T0 + 1, participant=ANA),
        ParticipantJoined(id=_eid(3), actor="bo", at=T0 + 2, participant=BO),
        TurnStarted(id=_eid(4), actor="ana", at=T0 + 3, turn=1),
        DecisionRecorded(
            id=_eid(5),
            actor="bo",
            at=T0 + 10,
            decision_id="dec-000001",
            title="Store the log as JSON Lines",
            context="We need crash safety.\nAnd readability — with `tail`.",
            status="accepted",
        ),
        TimerPaused(id=_eid(6), actor="ana", at=T0 + 20, turn=1),
        TimerResumed(id=_eid(7), actor="ana", at=T0 + 30, turn=1),
        TimerExtended(id=_eid(8), actor="bo", at=T0 + 31, turn=1, seconds=30),
        DecisionAmended(
            id=_eid(9), actor="ana", at=T0 + 40, decision_id="dec-000001", title="JSONL"
        ),
        CommitRecorded(
            id=_eid(10),
            actor="ana",
            at=T0 + 50,
            sha="0123456789abcdef" * 2 + "01234567",
            summary="Add the journal",
            author=Person(name="Ana Lima", email="ana@example.org"),
            co_authors=(Person(name="Bo Chen", email="bo@example.org"),),
        ),
        RolesRotated(id=_eid(11), actor="bo", at=T0 + 100, turn=1),
        LessonNoted(id=_eid(12), actor="bo", at=T0 + 110, text="fsync the directory too ✓"),
        ParticipantLeft(id=_eid(13), actor="bo", at=T0 + 120, participant_id="bo"),
        SessionEnded(id=_eid(14), actor="ana", at=T0 + 130),
    ]


def _write(tmp_path: Path, events: list[Event], session_id: str = "s1") -> Path:
    with Journal.create(tmp_path, session_id, created_at=T0, meta={"relay": "wss://r"}) as journal:
        journal.append_many(events)
        return journal.path


def test_round_trip_keeps_every_event_and_the_header(tmp_path):
    events = _session_events()
    with Journal.create(tmp_path, "s1", created_at=T0, meta={"relay": "wss://relay"}) as journal:
        journal.append(events[0])
        journal.append_many(events[1:5])
        journal.append_many([])
        for event in events[5:]:
            journal.append(event)

    contents = load(journal_path(tmp_path, "s1"))

    assert contents.session_id == "s1"
    assert contents.created_at == T0
    assert contents.meta == {"relay": "wss://relay"}
    assert contents.events == events
    assert contents.pending == events
    assert not contents.torn
    assert fold(contents.events) == fold(events)


def test_the_file_is_one_header_line_then_one_encoded_event_per_line(tmp_path):
    events = _session_events()[:3]
    path = _write(tmp_path, events)

    lines = path.read_bytes().split(b"\n")

    assert path == tmp_path / "sessions" / "s1.jsonl"
    assert json.loads(lines[0]) == {
        "pairup_journal": 1,
        "session": "s1",
        "created_at": T0,
        "meta": {"relay": "wss://r"},
    }
    assert lines[1:] == [*(encode_event(event) for event in events), b""]


def test_a_torn_last_line_is_skipped_at_every_cut(tmp_path):
    events = _session_events()
    path = _write(tmp_path, events)
    data = path.read_bytes()
    last_line = data.rstrip(b"\n").rfind(b"\n") + 1

    for cut in range(last_line + 1, len(data)):
        path.write_bytes(data[:cut])
        contents = load(path)
        assert contents.events == events[:-1], cut
        assert contents.torn, cut


@pytest.mark.parametrize("tail", [b"\0" * 40, b"\0" * 40 + b"\n", b"{not json\n", b"\n"])
def test_garbage_after_the_last_complete_line_is_a_torn_tail(tmp_path, tail):
    events = _session_events()
    path = _write(tmp_path, events)
    with path.open("ab") as file:
        file.write(tail)

    contents = load(path)

    assert contents.events == events
    assert contents.torn


def test_reopening_a_torn_journal_cuts_the_tail_and_appends_cleanly(tmp_path):
    events = _session_events()
    path = _write(tmp_path, events[:-1])
    data = path.read_bytes()
    last_line = data.rstrip(b"\n").rfind(b"\n") + 1

    for cut in range(last_line + 1, len(data), 7):
        path.write_bytes(data[:cut])
        with Journal.open(path) as journal:
            assert journal.session_id == "s1"
            journal.append(events[-1])
        contents = load(path)
        assert not contents.torn, cut
        assert contents.events == [*events[:-2], events[-1]], cut


def test_reopening_an_intact_journal_appends_after_the_last_line(tmp_path):
    events = _session_events()
    path = _write(tmp_path, events[:5])

    with Journal.open(path) as journal:
        journal.append_many(events[5:])

    assert load(path).events == events


def test_a_corrupted_middle_line_is_an_error_naming_the_file_and_line(tmp_path):
    path = _write(tmp_path, _session_events())
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3][:20]
    path.write_bytes(b"\n".join(lines))

    with pytest.raises(JournalError, match=r"line 4 is not a valid event") as caught:
        load(path)
    assert str(path) in str(caught.value)
    with pytest.raises(JournalError, match="line 4"):
        Journal.open(path)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b'{"pairup_journal": 1, "session": "s1", "created_at": 1.0, "meta": {}}',
        b"hello\n",
        b'{"pairup_journal": 2, "session": "s1", "created_at": 1.0, "meta": {}}\n',
        b'{"pairup_journal": 1, "session": "../s1", "created_at": 1.0, "meta": {}}\n',
        b'{"pairup_journal": 1, "session": "s1", "created_at": "1", "meta": {}}\n',
        b'{"pairup_journal": 1, "session": "s1", "created_at": 1.0, "meta": {"a": 1}}\n',
        encode_event(_session_events()[0]) + b"\n",
    ],
)
def test_a_missing_or_invalid_header_is_an_error_naming_the_file(tmp_path, content):
    path = tmp_path / "s1.jsonl"
    path.write_bytes(content)

    with pytest.raises(JournalError, match="not a pairup journal") as caught:
        load(path)
    assert str(path) in str(caught.value)
    with pytest.raises(JournalError):
        Journal.open(path)


def test_a_sequenced_copy_supersedes_the_unsequenced_one_and_orders_by_seq(tmp_path):
    one, two, three, four = _session_events()[:4]
    stamped_two = sequenced(two, 1, T0 + 5)
    stamped_one = sequenced(one, 2, T0 + 6)
    stamped_four = sequenced(four, 3, T0 + 7)
    path = _write(
        tmp_path,
        [
            one,
            two,
            stamped_four,
            three,
            stamped_two,
            stamped_one,
            sequenced(two, 9, T0 + 9),
            four,
        ],
    )

    contents = load(path)

    assert contents.events == [stamped_two, stamped_one, stamped_four, three]
    assert contents.pending == [three]


def test_of_two_unsequenced_copies_the_first_is_kept(tmp_path):
    event = _session_events()[0]
    again = event.model_copy(update={"at": T0 + 1})
    path = _write(tmp_path, [event, again])

    assert load(path).events == [event]


def test_create_refuses_an_existing_journal(tmp_path):
    path = _write(tmp_path, _session_events())
    before = path.read_bytes()

    with pytest.raises(FileExistsError, match="already has a journal"):
        Journal.create(tmp_path, "s1", created_at=T0 + 1)
    assert path.read_bytes() == before


@pytest.mark.parametrize("session_id", ["", "a/b", "..", "a.b", "a" * 65, "abc\n", "é"])
def test_session_ids_that_are_not_safe_file_names_are_refused(tmp_path, session_id):
    with pytest.raises(ValueError, match="session id"):
        journal_path(tmp_path, session_id)
    with pytest.raises(ValueError, match="session id"):
        Journal.create(tmp_path, session_id, created_at=T0)
    assert not (tmp_path / "sessions").exists()


@pytest.mark.parametrize("created_at", [float("nan"), float("inf")])
def test_create_refuses_a_creation_time_that_is_not_a_number(tmp_path, created_at):
    with pytest.raises(ValueError, match="created_at"):
        Journal.create(tmp_path, "s1", created_at=created_at)
    assert not (tmp_path / "sessions").exists()


def test_a_complete_last_line_of_an_unknown_kind_is_kept_as_an_error_not_cut(tmp_path):
    events = _session_events()
    path = _write(tmp_path, events)
    newer = b'{"id":"evt-from-the-future","actor":"ana","at":1.0,"kind":"hologram.opened"}\n'
    with path.open("ab") as file:
        file.write(newer)

    with pytest.raises(JournalError, match=r"line \d+"):
        load(path)
    with pytest.raises(JournalError):
        Journal.open(path)
    assert path.read_bytes().endswith(newer)


def test_appending_to_a_closed_journal_fails(tmp_path):
    with Journal.create(tmp_path, "s1", created_at=T0) as journal:
        pass

    assert journal.closed
    with pytest.raises(ValueError, match="closed"):
        journal.append(_session_events()[0])


def test_list_sessions_is_newest_first_and_ignores_junk(tmp_path):
    for session_id, created_at in [("old", 100.0), ("newest", 300.0), ("middle", 200.0)]:
        Journal.create(tmp_path, session_id, created_at=created_at, meta={"n": session_id}).close()
    sessions = tmp_path / "sessions"
    (sessions / "notes.txt").write_text("not a journal")
    (sessions / "garbage.jsonl").write_bytes(b"\0\0\0")
    (sessions / "empty.jsonl").write_bytes(b"")
    (sessions / "bad.name.jsonl").write_bytes((sessions / "old.jsonl").read_bytes())
    (sessions / "renamed.jsonl").write_bytes((sessions / "old.jsonl").read_bytes())
    (sessions / "folder.jsonl").mkdir()

    found = list_sessions(tmp_path)

    assert [info.session_id for info in found] == ["newest", "middle", "old"]
    assert [info.created_at for info in found] == [300.0, 200.0, 100.0]
    newest = found[0]
    assert newest.path == journal_path(tmp_path, "newest")
    assert newest.meta == {"n": "newest"}
    assert newest.size == newest.path.stat().st_size
    assert newest.modified_at == newest.path.stat().st_mtime


def test_list_sessions_without_a_sessions_directory_is_empty(tmp_path):
    assert list_sessions(tmp_path / "nowhere") == []


_actors = st.sampled_from(["ana", "bo"])
_times = st.floats(min_value=0, max_value=4e9, allow_nan=False, allow_infinity=False)
_turns = st.integers(min_value=1, max_value=4)
_texts = st.text(min_size=1, max_size=40)


@st.composite
def _events(draw: st.DrawFn) -> list[Event]:
    """Events of many kinds with unique ids; whether they apply does not matter to the journal."""
    events: list[Event] = []
    for number in range(draw(st.integers(min_value=0, max_value=25))):
        common = {"id": _eid(number), "actor": draw(_actors), "at": draw(_times)}
        kind = draw(st.integers(min_value=0, max_value=7))
        if kind == 0:
            events.append(ParticipantJoined(**common, participant=draw(st.sampled_from([ANA, BO]))))
        elif kind == 1:
            events.append(TurnStarted(**common, turn=draw(_turns)))
        elif kind == 2:
            events.append(TimerPaused(**common, turn=draw(_turns)))
        elif kind == 3:
            events.append(RolesRotated(**common, turn=draw(_turns)))
        elif kind == 4:
            events.append(BreakStarted(**common, turn=draw(_turns)))
        elif kind == 5:
            events.append(BreakEnded(**common, turn=draw(_turns)))
        elif kind == 6:
            events.append(
                DecisionRecorded(
                    **common,
                    decision_id=f"dec-{draw(st.integers(0, 3)):06d}",
                    title=draw(_texts),
                    context=draw(st.text(max_size=80)),
                )
            )
        else:
            events.append(LessonNoted(**common, text=draw(_texts)))
    return events


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(events=_events(), cuts=st.lists(st.integers(min_value=0, max_value=25), max_size=6))
def test_whatever_is_appended_loads_back_in_order(tmp_path_factory, events, cuts):
    data_dir = tmp_path_factory.mktemp("property")
    bounds = sorted({0, len(events), *(cut for cut in cuts if cut < len(events))})
    with Journal.create(data_dir, "prop", created_at=T0) as journal:
        for start, stop in itertools.pairwise(bounds):
            if stop - start == 1:
                journal.append(events[start])
            else:
                journal.append_many(events[start:stop])

    contents = load(journal.path)

    assert contents.events == events
    assert contents.pending == events
    assert not contents.torn
    assert fold(contents.events) == fold(events)


_WRITER = """
import sys
from pathlib import Path
from pairup.journal import Journal
from pairup.session.events import LessonNoted

with Journal.create(Path(sys.argv[1]), "crash", created_at=0.0) as journal:
    number = 0
    while True:
        batch = [
            LessonNoted(id=f"evt-{n:06d}", actor="ana", at=float(n), text="x" * (1 + n % 300))
            for n in range(number, number + 1 + number % 5)
        ]
        journal.append_many(batch)
        number += len(batch)
        if number == len(batch):
            print("ready", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_writer_killed_mid_stream_leaves_a_loadable_prefix(tmp_path):
    root = Path(__file__).resolve().parents[2]
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)],
        cwd=root,
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"ready\n"
        time.sleep(0.3)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=5)
        if writer.stdout is not None:
            writer.stdout.close()

    contents = load(journal_path(tmp_path, "crash"))

    ids = [event.id for event in contents.events]
    assert len(ids) >= 1
    assert ids == [_eid(number) for number in range(len(ids))]


def test_a_journal_is_open_for_appending_in_one_process_at_a_time(tmp_path):
    events = _session_events()
    path = _write(tmp_path, events)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from pairup.journal import Journal; from pathlib import Path; "
            f"j = Journal.open(Path({str(path)!r})); print('open', flush=True); input()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(JournalBusy, match="already open in another pairup"):
            Journal.open(path)
        assert load(path).events == events
    finally:
        holder.communicate("\n", timeout=10)
    with Journal.open(path) as journal:
        journal.append(events[0].model_copy(update={"id": "evt-after-lock"}))
