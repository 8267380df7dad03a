"""Who counts as away: the rules of the watch, with the session clock as plain numbers."""

from pairup.link.presence import ASK_AGAIN_AFTER, AbsenceWatch
from pairup.session import events as ev
from pairup.session import fold
from pairup.session.state import State

ANN = ev.Participant(id="ann", name="Ann")
BOB = ev.Participant(id="bob", name="Bob")
CY = ev.Participant(id="cy", name="Cy")


def trio(away_after: int = 60) -> State:
    settings = ev.SessionSettings(away_after_seconds=away_after)
    return fold(
        [
            ev.SessionOpened(id="event-open", actor="ann", at=0, settings=settings),
            ev.ParticipantJoined(id="event-ann", actor="ann", at=0, participant=ANN),
            ev.ParticipantJoined(id="event-bob", actor="bob", at=0, participant=BOB),
            ev.ParticipantJoined(id="event-cy", actor="cy", at=0, participant=CY),
        ]
    )


def test_someone_missing_for_away_after_is_reported_with_when_they_were_first_missed():
    watch, view = AbsenceWatch(), trio()
    everyone = frozenset({"ann", "bob", "cy"})
    assert watch.due(view, everyone, "ann", 0, judging=True) == []
    assert watch.due(view, frozenset({"ann", "cy"}), "ann", 10, judging=True) == []
    assert watch.due(view, frozenset({"ann", "cy"}), "ann", 69, judging=True) == []
    assert watch.due(view, frozenset({"ann", "cy"}), "ann", 70, judging=True) == [("bob", 10)]


def test_a_report_not_yet_applied_is_sent_again_but_not_at_every_look():
    watch, view = AbsenceWatch(), trio()
    online = frozenset({"ann", "cy"})
    watch.due(view, online, "ann", 0, judging=True)
    assert watch.due(view, online, "ann", 60, judging=True) == [("bob", 0)]
    assert watch.due(view, online, "ann", 61, judging=True) == []
    assert watch.due(view, online, "ann", 60 + ASK_AGAIN_AFTER, judging=True) == [("bob", 0)]


def test_coming_back_in_time_starts_the_count_afresh():
    watch, view = AbsenceWatch(), trio()
    watch.due(view, frozenset({"ann", "cy"}), "ann", 0, judging=True)
    watch.due(view, frozenset({"ann", "bob", "cy"}), "ann", 50, judging=True)
    assert watch.due(view, frozenset({"ann", "cy"}), "ann", 70, judging=True) == []
    assert watch.due(view, frozenset({"ann", "cy"}), "ann", 130, judging=True) == [("bob", 70)]


def test_nobody_is_judged_while_this_participant_is_itself_cut_off():
    watch, view = AbsenceWatch(), trio()
    watch.due(view, frozenset({"ann"}), "ann", 0, judging=True)
    assert watch.due(view, frozenset(), "ann", 100, judging=False) == []
    # Connected again: everyone's count starts now, not from before the cut.
    assert watch.due(view, frozenset({"ann"}), "ann", 101, judging=True) == []
    assert watch.due(view, frozenset({"ann"}), "ann", 161, judging=True) == [
        ("bob", 101),
        ("cy", 101),
    ]


def test_oneself_and_those_already_away_or_gone_are_never_reported():
    events = [
        ev.SessionOpened(id="event-open", actor="ann", at=0),
        ev.ParticipantJoined(id="event-ann", actor="ann", at=0, participant=ANN),
        ev.ParticipantJoined(id="event-bob", actor="bob", at=0, participant=BOB),
        ev.ParticipantJoined(id="event-cy", actor="cy", at=0, participant=CY),
        ev.ParticipantAway(id="event-away", actor="bob", at=1, participant_id="bob"),
        ev.ParticipantLeft(id="event-left", actor="cy", at=1, participant_id="cy"),
    ]
    view = fold(events)
    watch = AbsenceWatch()
    watch.due(view, frozenset(), "ann", 0, judging=True)
    assert watch.due(view, frozenset(), "ann", 1000, judging=True) == []
