"""Named commands (headless JSON lines, TUI keys) and the events they become."""

import typing

import pytest

from pairup.commands import COMMANDS, CommandError, command_event
from pairup.session import events as ev
from pairup.session import fold
from pairup.session.state import State
from pairup.tui.screens import STATUSES

NOW = 1_800_000_000.0
ANN = ev.Participant(id="ann", name="Ann")
BOB = ev.Participant(id="bob", name="Bob")


def session() -> State:
    events = [
        ev.SessionOpened(id="event-open", actor="ann", at=NOW),
        ev.ParticipantJoined(id="event-ann", actor="ann", at=NOW, participant=ANN),
        ev.ParticipantJoined(id="event-bob", actor="bob", at=NOW, participant=BOB),
        ev.TurnStarted(id="event-turn", actor="ann", at=NOW, turn=1),
        ev.DecisionRecorded(
            id="event-d1", actor="bob", at=NOW, decision_id="decision-1", title="Use SQLite"
        ),
        ev.DecisionRecorded(
            id="event-d2", actor="bob", at=NOW, decision_id="decision-2", title="Use Postgres"
        ),
    ]
    return fold(ev.sequenced(event, seq, NOW) for seq, event in enumerate(events, start=1))


CASES = [
    ({"cmd": "decide", "title": "Pair daily"}, "decision.recorded"),
    ({"cmd": "amend", "number": 1, "status": "accepted"}, "decision.amended"),
    ({"cmd": "accept", "number": 1}, "decision.amended"),
    ({"cmd": "reject", "number": 1}, "decision.amended"),
    ({"cmd": "deprecate", "decision_id": "decision-1"}, "decision.amended"),
    ({"cmd": "agree", "number": 1}, "decision.opinion"),
    ({"cmd": "object", "number": 1, "why": "Locks"}, "decision.opinion"),
    ({"cmd": "supersede", "number": 1, "by": 2}, "decision.superseded"),
    ({"cmd": "start"}, "turn.started"),
    ({"cmd": "rotate"}, "roles.rotated"),
    ({"cmd": "skip"}, "turn.skipped"),
    ({"cmd": "pause"}, "timer.paused"),
    ({"cmd": "resume"}, "timer.resumed"),
    ({"cmd": "extend", "minutes": 5}, "timer.extended"),
    ({"cmd": "extend", "duration": "90s"}, "timer.extended"),
    ({"cmd": "break"}, "break.started"),
    ({"cmd": "end-break"}, "break.ended"),
    ({"cmd": "reorder", "order": ["bob", "ann"]}, "rotation.reordered"),
    ({"cmd": "lesson", "text": "Say the plan out loud"}, "lesson.noted"),
    ({"cmd": "leave"}, "participant.left"),
    ({"cmd": "away"}, "participant.away"),
    ({"cmd": "back"}, "participant.back"),
    ({"cmd": "remove", "participant_id": "bob"}, "participant.left"),
    ({"cmd": "end"}, "session.ended"),
]


@pytest.mark.parametrize(("command", "kind"), CASES)
def test_each_command_becomes_its_event(command: dict, kind: str) -> None:
    event = command_event(command, session(), "ann", NOW)
    assert event.kind == kind
    assert event.actor == "ann"
    assert event.at == NOW


def test_every_command_is_covered_above() -> None:
    assert {command["cmd"] for command, _ in CASES} == set(COMMANDS)


def test_commands_aim_at_the_current_turn_and_decision() -> None:
    view = session()
    extended = command_event({"cmd": "extend", "minutes": 2}, view, "bob", NOW)
    assert isinstance(extended, ev.TimerExtended)
    assert (extended.turn, extended.seconds) == (view.turn, 120)
    amended = command_event(
        {"cmd": "amend", "number": 1, "title": "Use Postgres"}, view, "bob", NOW
    )
    assert isinstance(amended, ev.DecisionAmended)
    assert (amended.decision_id, amended.title) == ("decision-1", "Use Postgres")
    left = command_event({"cmd": "leave"}, view, "bob", NOW)
    assert isinstance(left, ev.ParticipantLeft)
    assert left.participant_id == "bob"
    back = command_event({"cmd": "end-break"}, view, "bob", NOW)
    assert isinstance(back, ev.BreakEnded)
    assert back.early


def test_decide_takes_the_drivers_and_the_options_with_their_pros_and_cons() -> None:
    command = {
        "cmd": "decide",
        "title": "Store the log",
        "drivers": ["Nothing acknowledged is lost"],
        "options": [
            {"name": "SQLite", "pros": ["One file"], "cons": ["One writer"]},
            {"name": "Postgres"},
        ],
        "chosen": "SQLite",
    }
    event = command_event(command, session(), "ann", NOW)
    assert isinstance(event, ev.DecisionRecorded)
    assert [(o.name, o.pros, o.cons) for o in event.options] == [
        ("SQLite", ("One file",), ("One writer",)),
        ("Postgres", (), ()),
    ]
    assert (event.drivers, event.chosen) == (("Nothing acknowledged is lost",), "SQLite")


def test_supersede_names_both_decisions_by_number() -> None:
    event = command_event({"cmd": "supersede", "number": 1, "by": 2}, session(), "bob", NOW)
    assert isinstance(event, ev.DecisionSuperseded)
    assert (event.decision_id, event.by) == ("decision-1", "decision-2")


def test_extend_takes_any_duration_pairup_reads() -> None:
    view = session()
    for given, seconds in (("90s", 90), ("5m", 300), ("1h30m", 5400)):
        event = command_event({"cmd": "extend", "duration": given}, view, "bob", NOW)
        assert isinstance(event, ev.TimerExtended)
        assert event.seconds == seconds


def test_away_and_back_are_about_oneself_and_remove_names_someone_else() -> None:
    view = session()
    away = command_event({"cmd": "away"}, view, "bob", NOW)
    assert isinstance(away, ev.ParticipantAway)
    assert away.participant_id == "bob"
    removed = command_event({"cmd": "remove", "name": "Bob"}, view, "ann", NOW)
    assert isinstance(removed, ev.ParticipantLeft)
    assert (removed.participant_id, removed.actor) == ("bob", "ann")


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ({"cmd": "dance"}, "unknown cmd 'dance'"),
        ({}, "unknown cmd None"),
        ({"cmd": "decide"}, "decide: title: Field required"),
        ({"cmd": "amend", "number": 7}, "amend: there is no decision number 7"),
        ({"cmd": "amend", "title": "x"}, "amend: say which decision"),
        ({"cmd": "extend", "minutes": "5"}, 'extend: "minutes" is a whole number'),
        ({"cmd": "extend"}, 'extend: give one of "duration"'),
        ({"cmd": "extend", "duration": "5 minutes"}, "extend: expected a duration like"),
        ({"cmd": "remove", "name": "Zed"}, "remove: nobody in the session is named 'Zed'"),
        ({"cmd": "away", "participant_id": "bob"}, "away:"),
        ({"cmd": "leave", "participant_id": "bob"}, "leave:"),
        ({"cmd": "pause", "turn": 3}, "pause:"),
        ({"cmd": "agree"}, "agree: say which decision"),
        ({"cmd": "object", "number": 3}, "object: there is no decision number 3"),
        ({"cmd": "object", "number": 1, "stance": "agree"}, "object: unknown field stance"),
        (
            {"cmd": "accept", "number": 1, "status": "rejected"},
            "accept: unknown field status; it takes number or decision_id",
        ),
        ({"cmd": "accept", "number": 1, "title": "Sneaked in"}, "accept: unknown field title"),
        (
            {"cmd": "agree", "number": 1, "decision_id": "decision-2"},
            "agree: give number or decision_id, not both",
        ),
        ({"cmd": "agree", "number": "1"}, "agree: number is a whole number"),
        ({"cmd": "amend", "number": True, "title": "T"}, "amend: number is a whole number"),
        (
            {"cmd": "supersede", "number": 1, "by": 2, "why": "x"},
            "supersede: unknown field why; it takes number or decision_id, and by",
        ),
        ({"cmd": "supersede", "number": 1}, "supersede: say which decision supersedes it"),
        ({"cmd": "supersede", "number": 1, "by": 9}, "supersede: there is no decision number 9"),
        ({"cmd": "decide", "title": "T", "options": [{"name": "A"}], "chosen": "B"}, "decide:"),
    ],
)
def test_a_command_that_cannot_be_an_event_says_why(command: dict, message: str) -> None:
    with pytest.raises(CommandError) as raised:
        command_event(command, session(), "ann", NOW)
    assert str(raised.value).startswith(message)


def test_the_decision_form_offers_exactly_the_statuses_the_core_knows() -> None:
    assert typing.get_args(ev.DecisionStatus) == STATUSES
