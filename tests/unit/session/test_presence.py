"""Who is here: absent people leave the rotation, the credit and the clock, and come back."""

from pairup.session import events as ev
from pairup.session import fold, step
from pairup.session.credit import co_authors
from pairup.session.state import State
from pairup.session.timer import driving_times, remaining

from .test_rules import ANN, BOB, CY, Log


def trio(log: Log) -> State:
    """Ann, Bob and Cy; Ann drives a running ten-minute turn from t=10."""
    return fold(
        [
            log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=600)),
            log(ev.ParticipantJoined, 0, participant=ANN),
            log(ev.ParticipantJoined, 5, "bob", participant=BOB),
            log(ev.ParticipantJoined, 5, "cy", participant=CY),
            log(ev.TurnStarted, 10, turn=1),
        ]
    )


def test_someone_away_is_skipped_when_the_next_driver_is_chosen():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 100, "ann", participant_id="bob", since=40)).state
    bob = state.member("bob")
    assert bob is not None
    assert bob.away is not None
    assert bob.away.since == 40
    assert not bob.away.by_choice
    assert state.navigators == ("cy",)
    state = step(state, log(ev.RolesRotated, 610, turn=1)).state
    assert state.driver == "cy"


def test_a_driver_away_pauses_the_countdown_and_their_return_resumes_it():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 310, "bob", participant_id="ann", since=250)).state
    assert (state.phase, state.paused_for) == ("paused", "ann")
    assert remaining(state, 5000) == 300
    refused = step(state, log(ev.TimerResumed, 320, "bob", turn=1))
    assert refused.rejected == "the driver is away: n hands the turn to the next one"
    state = step(state, log(ev.ParticipantBack, 400, "ann", participant_id="ann")).state
    assert (state.phase, state.paused_for) == ("running", None)
    assert remaining(state, 400) == 300
    [pause] = state.pause_timeline()
    assert (pause.start, pause.end, pause.away) == (310, 400, "ann")


def test_nobody_gains_driving_time_while_away():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 310, "bob", participant_id="ann")).state
    assert driving_times(state, 5000)["ann"] == 300


def test_skipping_an_absent_driver_hands_over_to_the_next_one_here():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 100, "bob", participant_id="ann")).state
    state = step(state, log(ev.TurnSkipped, 120, "bob", turn=1)).state
    assert (state.driver, state.turn, state.phase) == ("bob", 2, "waiting")


def test_between_turns_the_role_passes_on_from_someone_away():
    log = Log()
    state = fold(
        [
            log(ev.SessionOpened, 0),
            log(ev.ParticipantJoined, 0, participant=ANN),
            log(ev.ParticipantJoined, 5, "bob", participant=BOB),
        ]
    )
    state = step(state, log(ev.ParticipantAway, 10, "ann", participant_id="ann")).state
    assert state.driver == "bob"
    state = step(state, log(ev.ParticipantBack, 20, "ann", participant_id="ann")).state
    assert state.driver == "bob"


def test_whoever_arrives_drives_when_everyone_else_is_away():
    log = Log()
    state = fold(
        [
            log(ev.SessionOpened, 0),
            log(ev.ParticipantJoined, 0, participant=ANN),
            log(ev.ParticipantAway, 10, "ann", participant_id="ann"),
        ]
    )
    assert state.driver == "ann"
    state = step(state, log(ev.ParticipantJoined, 20, "bob", participant=BOB)).state
    assert state.driver == "bob"
    state = step(state, log(ev.TurnStarted, 30, "bob", turn=1)).state
    assert state.phase == "running"


def test_away_by_choice_and_back_only_by_themselves():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 100, "cy", participant_id="cy")).state
    cy = state.member("cy")
    assert cy is not None
    assert cy.away is not None
    assert cy.away.by_choice
    refused = step(state, log(ev.ParticipantBack, 110, "ann", participant_id="cy"))
    assert refused.rejected == "only Cy can say they are back"
    assert step(state, log(ev.ParticipantAway, 120, "ann", participant_id="cy")).rejected == (
        "Cy is already away"
    )


def test_someone_here_takes_an_absent_person_out_only_once_they_are_away():
    """Anyone but the host, who takes anyone out at once."""
    log = Log()
    state = trio(log)
    refused = step(state, log(ev.ParticipantLeft, 100, "bob", participant_id="cy"))
    assert refused.rejected == "Cy is here: only they can leave (others can once they are away)"
    state = step(state, log(ev.ParticipantAway, 100, "ann", participant_id="cy", since=70)).state
    # Not straight away: Cy's pairup, if it is there, has away_after to say Cy is back.
    early = step(state, log(ev.ParticipantLeft, 130, "bob", participant_id="cy"))
    assert early.rejected == "Cy has not been away long enough to be taken out"
    state = step(state, log(ev.ParticipantLeft, 160, "bob", participant_id="cy")).state
    cy = state.member("cy")
    assert cy is not None
    assert not cy.present
    assert cy.left_at == 70
    # Coming back is joining again: into the rotation, at the same place.
    state = step(state, log(ev.ParticipantJoined, 200, "cy", participant=CY)).state
    assert [m.id for m in state.here] == ["ann", "bob", "cy"]


def test_someone_away_cannot_take_others_out():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 100, "ann", participant_id="cy")).state
    state = step(state, log(ev.ParticipantAway, 100, "bob", participant_id="bob")).state
    refused = step(state, log(ev.ParticipantLeft, 130, "bob", participant_id="cy"))
    assert refused.rejected == "only someone here can take a participant out of the rotation"


def test_credit_skips_whoever_was_away_all_along():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 300, "ann", participant_id="cy", since=240)).state
    state = step(state, log(ev.RolesRotated, 610, turn=1)).state
    author = ev.Person(name="Bob", email="bob@example.test")
    commit = log(ev.CommitRecorded, 620, "bob", sha="a" * 40, summary="Work", author=author)
    state = step(state, commit).state
    # The turn Bob drives began at 610, after Cy went away: Cy paired on none of it.
    assert [p.id for p in co_authors(state, "bob")] == ["ann"]


def test_credit_keeps_whoever_went_away_during_the_turn():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 300, "ann", participant_id="cy", since=200)).state
    assert [p.id for p in co_authors(state, "ann")] == ["bob", "cy"]


def test_a_decision_names_who_was_here_when_it_was_recorded():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.ParticipantAway, 100, "ann", participant_id="cy")).state
    state = step(
        state, log(ev.DecisionRecorded, 110, "bob", decision_id="dec-000001", title="Use SQLite")
    ).state
    assert state.decisions["dec-000001"].present == ("ann", "bob")
    state = step(state, log(ev.ParticipantBack, 120, "cy", participant_id="cy")).state
    state = step(
        state, log(ev.DecisionAmended, 130, "bob", decision_id="dec-000001", status="accepted")
    ).state
    assert state.decisions["dec-000001"].present == ("ann", "bob")


def test_extensions_are_kept_for_the_timeline():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.TimerExtended, 300, "bob", turn=1, seconds=90)).state
    assert [tuple(e) for e in state.extensions_in_order()] == [(1, 300, 90, "bob")]


def test_a_pause_by_hand_is_kept_for_the_timeline():
    log = Log()
    state = trio(log)
    state = step(state, log(ev.TimerPaused, 100, turn=1)).state
    state = step(state, log(ev.TimerResumed, 160, turn=1)).state
    assert [tuple(p) for p in state.pause_timeline()] == [(1, 100, 160, None)]
