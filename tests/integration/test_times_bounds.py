"""Journals holding impossible times, read by the real ``pairup sessions`` and ``pairup export``.

The relay's clock stamps new events, but a journal written before that rule, replayed from
another machine or edited by hand may hold any finite time: 1e13 (the year 318857), -1 (before
pairup existed), 1e300, or a gap of 1e12 seconds between two turns. Each test writes such a
journal itself, runs pairup in a subprocess with a home and a data dir of its own, and checks
that the command works and shows something a person can believe: an unknown time as unknown,
a length beyond belief as "over" its cap, and never a number of millions of hours.
"""

import re
from pathlib import Path

from pairup.journal import Journal
from pairup.session import Event, sequenced
from pairup.session import events as ev
from tests.export_kit import T0, make_repo

from .test_git_commits import pairup
from .test_headless import environment

FUTURE = "s-future-times"
GAP = "s-gap-of-ages"
DECADES = "s-decades-long"
ANN = ev.Participant(id="ann", name="Ann")
BOB = ev.Participant(id="bob", name="Bob")
ABSURD = re.compile(r"\d{4,} ?h\b|\b\d{5,}-\d\d|\b19[0-6]\d-\d\d")
"""A length of a thousand hours or more, a year of five digits, a year before 1970."""


def journal(data_dir: Path, session: str, created_at: float, events: list[Event]) -> None:
    """The journal of ``session`` as the relay sequenced ``events``, each at its own ``at``."""
    stamped = [sequenced(event, seq, event.at) for seq, event in enumerate(events, start=1)]
    with Journal.create(data_dir, session, created_at=created_at) as written:
        written.append_many(stamped)


def future_session(data_dir: Path) -> None:
    """Opened in the year 318857, joined before 1970, decided at 1e300, ended further still."""
    journal(
        data_dir,
        FUTURE,
        1e13,
        [
            ev.SessionOpened(id="evt-future-01", actor="ann", at=1e13, title="Far out"),
            ev.ParticipantJoined(id="evt-future-02", actor="ann", at=1e13, participant=ANN),
            ev.ParticipantJoined(id="evt-future-03", actor="bob", at=-1.0, participant=BOB),
            ev.TurnStarted(id="evt-future-04", actor="ann", at=-1.0, turn=1),
            ev.DecisionRecorded(
                id="evt-future-05",
                actor="ann",
                at=1e300,
                decision_id="dec-future-1",
                title="Keep the clock honest",
            ),
            ev.TimerPaused(id="evt-future-06", actor="bob", at=-1.0, turn=1),
            ev.TimerResumed(id="evt-future-07", actor="ann", at=1e300, turn=1),
            ev.LessonNoted(id="evt-future-08", actor="bob", at=-1.0, text="Clocks lie."),
            ev.SessionEnded(id="evt-future-09", actor="ann", at=1e300),
        ],
    )


def gap_session(data_dir: Path) -> None:
    """An ordinary morning, but Ann's turn ends 1e12 seconds (31,700 years) after it began."""
    journal(
        data_dir,
        GAP,
        T0,
        [
            ev.SessionOpened(id="evt-gap-0001", actor="ann", at=T0, title="A long turn"),
            ev.ParticipantJoined(id="evt-gap-0002", actor="ann", at=T0, participant=ANN),
            ev.ParticipantJoined(id="evt-gap-0003", actor="bob", at=T0 + 1, participant=BOB),
            ev.TurnStarted(id="evt-gap-0004", actor="ann", at=T0 + 60, turn=1),
            ev.DecisionRecorded(
                id="evt-gap-0005",
                actor="ann",
                at=T0 + 120,
                decision_id="dec-gap-1",
                title="Rotate every turn",
            ),
            ev.RolesRotated(id="evt-gap-0006", actor="bob", at=T0 + 60 + 1e12, turn=1),
            ev.SessionEnded(id="evt-gap-0007", actor="ann", at=T0 + 60 + 1e12 + 600),
        ],
    )


def decades_session(data_dir: Path) -> None:
    """Opened this morning and ended 31 years later: both times believable, the length not."""
    journal(
        data_dir,
        DECADES,
        T0,
        [
            ev.SessionOpened(id="evt-decade-01", actor="ann", at=T0, title="Left open"),
            ev.ParticipantJoined(id="evt-decade-02", actor="ann", at=T0, participant=ANN),
            ev.SessionEnded(id="evt-decade-03", actor="ann", at=T0 + 1e9),
        ],
    )


def without_marker(text: str) -> str:
    """A file's text above pairup's marker line, whose digest may hold any run of digits."""
    return text.rstrip("\n").rsplit("\n", 1)[0]


def test_sessions_lists_impossible_times_as_unknown_and_caps_lengths(tmp_path: Path) -> None:
    env = environment(tmp_path, "a")
    data_dir = Path(env["PAIRUP_DATA_DIR"])
    future_session(data_dir)
    gap_session(data_dir)
    decades_session(data_dir)

    done = pairup(tmp_path, env, "sessions")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    rows = {line.split()[2]: line.split() for line in done.stdout.splitlines()[1:]}
    assert set(rows) == {FUTURE, GAP, DECADES}
    assert rows[FUTURE][:2] == ["unknown", "time"]
    assert rows[FUTURE][3] == "unknown", "a length from an impossible time is unknown"
    assert rows[GAP][3] == "unknown", "so is one to an impossible time"
    assert rows[DECADES][3:5] == ["over", "720h"]
    assert not ABSURD.search(done.stdout), done.stdout


def test_export_writes_impossible_times_as_unknown(tmp_path: Path) -> None:
    env = environment(tmp_path, "a")
    future_session(Path(env["PAIRUP_DATA_DIR"]))
    repo = Path(make_repo(tmp_path / "repo").workdir)

    done = pairup(repo, env, "export", FUTURE)

    assert done.returncode == 0, done.stderr
    (adr,) = (repo / "doc/adr").glob("*.md")
    (record,) = (repo / ".pairup/sessions").glob("*.md")
    assert record.name == f"undated-{FUTURE}.md"
    decision = adr.read_text(encoding="utf-8")
    assert "\nDate: unknown date\n" in decision
    assert "in a pairing session on unknown date by Ann" in decision
    text = without_marker(record.read_text(encoding="utf-8"))
    assert "- Started: unknown time\n" in text
    assert "- Ended: unknown time\n" in text
    assert "- unknown time to unknown time UTC: turn 1 paused (unknown length)" in text
    assert "    section Turns\n```" in text, "a turn at impossible times is not charted"
    assert not ABSURD.search(text + without_marker(decision))


def test_export_caps_a_turn_of_ages_and_says_so(tmp_path: Path) -> None:
    env = environment(tmp_path, "a")
    gap_session(Path(env["PAIRUP_DATA_DIR"]))
    repo = Path(make_repo(tmp_path / "repo").workdir)

    done = pairup(repo, env, "export", GAP, "--format", "log4brains")

    assert done.returncode == 0, done.stderr
    (adr,) = (repo / "docs/adr").glob("*.md")
    assert adr.name == "20261126-rotate-every-turn.md"
    (record,) = (repo / ".pairup/sessions").glob("*.md")
    text = without_marker(record.read_text(encoding="utf-8"))
    assert "- Started: 2026-11-26 09:00 UTC\n- Ended: unknown time\n" in text
    assert "| Ann | over 720 h | " in text
    assert "| Bob | 10 min | " in text
    assert "    section Turns\n```" in text, "a turn longer than any turn is not charted"
    assert not ABSURD.search(text), text
