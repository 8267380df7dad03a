"""The session's rules, one example each, with a fake clock (plain numbers)."""

import pytest

from pairup.session import events as ev
from pairup.session import fold, reduce, step
from pairup.session.rotation import next_driver
from pairup.session.state import State
from pairup.session.timer import ROTATION_TOLERANCE, driving_times, expires_at, is_due, remaining

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test")
CY = ev.Participant(id="cy", name="Cy")


class Log:
    """Builds events with increasing ids; ``at`` is the fake clock reading."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(
        self, cls: type, at: float, actor: str | None = None, **fields: object
    ) -> ev.Event:
        """Everyone joins as themselves; everything else is Ann's unless ``actor`` says."""
        self.count += 1
        if actor is None:
            joining = fields.get("participant")
            actor = joining.id if isinstance(joining, ev.Participant) else "ann"
        return cls(id=f"evt-{self.count:06d}", actor=actor, at=at, **fields)


@pytest.fixture
def log() -> Log:
    return Log()


def running_pair(log: Log, **settings: object) -> State:
    return fold(
        [
            log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=600, **settings)),
            log(ev.ParticipantJoined, 0, participant=ANN),
            log(ev.ParticipantJoined, 5, participant=BOB),
            log(ev.TurnStarted, 10, turn=1),
        ]
    )


def test_the_first_to_join_drives_and_the_rest_navigate(log):
    state = running_pair(log)
    assert state.driver == "ann"
    assert state.navigators == ("bob",)
    assert state.phase == "running"
    assert expires_at(state) == 610
    assert remaining(state, 310) == 300


def test_rotation_before_the_time_is_up_is_refused(log):
    state = running_pair(log)
    result = step(state, log(ev.RolesRotated, 610 - ROTATION_TOLERANCE - 3, turn=1))
    assert result.rejected == "turn 1 still has 5s left"
    assert result.state.driver == "ann"


def test_a_second_rotation_of_the_same_turn_is_a_no_op(log):
    state = running_pair(log)
    first = step(state, log(ev.RolesRotated, 610, actor="ann", turn=1))
    second = step(first.state, log(ev.RolesRotated, 610.2, actor="bob", turn=1))
    assert first.rejected is None
    assert first.state.driver == "bob"
    assert first.state.turn == 2
    assert second.rejected == "refers to turn 1, but the session is at turn 2"
    assert second.state.driver == "bob"


def test_pause_freezes_the_countdown_and_resume_continues_it(log):
    state = running_pair(log)
    state = step(state, log(ev.TimerPaused, 110, turn=1)).state
    assert remaining(state, 10_000) == 500
    assert not is_due(state, 10_000)
    state = step(state, log(ev.TimerResumed, 410, turn=1)).state
    assert expires_at(state) == 910
    assert step(state, log(ev.TimerResumed, 420, turn=1)).rejected is not None


def test_extend_adds_time_to_the_current_turn(log):
    state = running_pair(log)
    state = step(state, log(ev.TimerExtended, 20, turn=1, seconds=300)).state
    assert expires_at(state) == 910


def test_skip_hands_over_at_once(log):
    state = step(running_pair(log), log(ev.TurnSkipped, 20, turn=1)).state
    assert (state.driver, state.turn, state.phase) == ("bob", 2, "running")
    assert state.phase_started_at == 20


def test_with_driver_start_the_next_turn_waits_for_a_key(log):
    state = running_pair(log, auto_start=False)
    state = step(state, log(ev.RolesRotated, 610, turn=1)).state
    assert state.phase == "waiting"
    assert remaining(state, 700) is None
    state = step(state, log(ev.TurnStarted, 700, actor="bob", turn=2)).state
    assert state.phase == "running"
    assert expires_at(state) == 1300


def test_a_break_comes_after_every_n_turns_with_its_own_countdown(log):
    state = running_pair(log, break_every=2, break_seconds=120)
    state = step(state, log(ev.RolesRotated, 610, turn=1)).state
    assert state.phase == "running"
    state = step(state, log(ev.RolesRotated, 1210, turn=2)).state
    assert (state.phase, state.turn, state.driver) == ("break", 3, "ann")
    assert expires_at(state) == 1330
    assert is_due(state, 1330)
    state = step(state, log(ev.BreakEnded, 1330, turn=3)).state
    assert state.phase == "running"
    assert [(b.start, b.end) for b in state.break_timeline()] == [(1210, 1330)]


def test_the_driver_leaving_hands_the_keyboard_to_the_next_present_person(log):
    state = running_pair(log)
    state = step(state, log(ev.ParticipantJoined, 20, participant=CY)).state
    state = step(state, log(ev.ParticipantLeft, 30, participant_id="ann")).state
    assert state.driver == "bob"
    state = step(state, log(ev.ParticipantLeft, 40, "bob", participant_id="bob")).state
    assert state.driver == "cy"
    state = step(state, log(ev.ParticipantLeft, 50, "cy", participant_id="cy")).state
    assert state.driver is None


def test_someone_who_rejoins_keeps_their_place_in_the_rotation(log):
    state = running_pair(log)
    state = step(state, log(ev.ParticipantJoined, 20, participant=CY)).state
    state = step(state, log(ev.ParticipantLeft, 30, "bob", participant_id="bob")).state
    state = step(state, log(ev.ParticipantJoined, 40, participant=BOB)).state
    assert [m.id for m in state.members] == ["ann", "bob", "cy"]
    assert next_driver(state.members, "ann") == "bob"


def test_a_full_session_turns_the_next_person_away(log):
    state = fold([log(ev.SessionOpened, 0, settings=ev.SessionSettings(max_participants=2))])
    state = step(state, log(ev.ParticipantJoined, 1, participant=ANN)).state
    state = step(state, log(ev.ParticipantJoined, 2, participant=BOB)).state
    result = step(state, log(ev.ParticipantJoined, 3, participant=CY))
    assert result.rejected == "the session is full (2 participants)"
    assert len(result.state.present) == 2


def test_reorder_must_name_everyone_once(log):
    state = running_pair(log)
    assert step(state, log(ev.RotationReordered, 20, order=("bob",))).rejected is not None
    reordered = step(state, log(ev.RotationReordered, 20, order=("bob", "ann"))).state
    assert [m.id for m in reordered.members] == ["bob", "ann"]
    assert reordered.driver == "ann"


def test_decisions_keep_who_proposed_them_and_every_amendment(log):
    state = running_pair(log)
    state = step(
        state,
        log(ev.DecisionRecorded, 30, actor="bob", decision_id="dec-0001", title="Use SQLite"),
    ).state
    state = step(
        state,
        log(ev.DecisionAmended, 40, actor="bob", decision_id="dec-0001", status="accepted"),
    ).state
    unchanged = step(
        state, log(ev.DecisionAmended, 50, actor="bob", decision_id="dec-0001", status="accepted")
    )
    assert unchanged.rejected == "the amendment changes nothing"
    (decision,) = state.decisions_in_order()
    assert (decision.proposed_by, decision.proposed_at, decision.status) == ("bob", 30, "accepted")
    assert [(a.by, a.changed) for a in decision.amendments] == [("bob", ("status",))]


def two_decisions(log: Log) -> State:
    state = running_pair(log)
    for number, title in ((1, "Use SQLite"), (2, "Use Postgres")):
        decided = log(ev.DecisionRecorded, 20 + number, decision_id=f"dec-000{number}", title=title)
        state = step(state, decided).state
    return state


def test_each_person_agrees_or_objects_once_and_may_change_their_mind(log):
    state = two_decisions(log)
    state = step(state, log(ev.DecisionOpinion, 30, decision_id="dec-0001", stance="agree")).state
    objection = log(
        ev.DecisionOpinion, 31, actor="bob", decision_id="dec-0001", stance="object", why="Locks"
    )
    state = step(state, objection).state
    again = step(state, log(ev.DecisionOpinion, 32, decision_id="dec-0001", stance="agree"))
    assert again.rejected == "that is already Ann's opinion of decision 1"
    state = step(state, log(ev.DecisionOpinion, 33, decision_id="dec-0001", stance="object")).state
    decision = state.decisions["dec-0001"]
    assert decision.agreed == ()
    assert decision.objected == ("bob", "ann")
    assert [(o.participant, o.why, o.at) for o in decision.opinions] == [
        ("bob", "Locks", 31),
        ("ann", "", 33),
    ]
    missing = step(state, log(ev.DecisionOpinion, 34, decision_id="dec-0009", stance="agree"))
    assert missing.rejected is not None


def test_only_the_proposer_supersedes_and_the_links_go_both_ways(log):
    state = two_decisions(log)
    theirs = step(
        state, log(ev.DecisionSuperseded, 30, actor="bob", decision_id="dec-0001", by="dec-0002")
    )
    assert theirs.rejected == "decision 1 is Ann's to amend"
    state = step(state, log(ev.DecisionSuperseded, 31, decision_id="dec-0001", by="dec-0002")).state
    older, newer = state.decisions_in_order()
    assert (older.status, older.superseded_by, newer.supersedes) == (
        "superseded",
        "dec-0002",
        ("dec-0001",),
    )
    assert [(a.by, a.at, a.changed) for a in older.amendments] == [("ann", 31, ("status",))]
    twice = step(state, log(ev.DecisionSuperseded, 32, decision_id="dec-0001", by="dec-0002"))
    assert twice.rejected == "decision 1 is already superseded by decision 2"
    circle = step(state, log(ev.DecisionSuperseded, 33, decision_id="dec-0002", by="dec-0001"))
    assert circle.rejected == "decision 1 is itself superseded, by way of 2"
    itself = step(state, log(ev.DecisionSuperseded, 34, decision_id="dec-0002", by="dec-0002"))
    assert itself.rejected == "decision 2 cannot supersede itself"


def test_accepting_a_superseded_decision_again_drops_the_links(log):
    state = two_decisions(log)
    state = step(state, log(ev.DecisionSuperseded, 30, decision_id="dec-0001", by="dec-0002")).state
    again = log(ev.DecisionAmended, 31, decision_id="dec-0001", status="accepted")
    state = step(state, again).state
    older, newer = state.decisions_in_order()
    assert (older.status, older.superseded_by, newer.supersedes) == ("accepted", None, ())


def test_a_decision_carries_its_drivers_and_options_and_the_chosen_one_stays_an_option(log):
    state = running_pair(log)
    options = (
        ev.ConsideredOption(name="SQLite", pros=("One file",), cons=("One writer",)),
        ev.ConsideredOption(name="Postgres", pros=("Many writers",)),
    )
    recorded = log(
        ev.DecisionRecorded,
        20,
        decision_id="dec-0001",
        title="Store",
        drivers=("Nothing acknowledged is lost",),
        options=options,
        chosen="SQLite",
    )
    state = step(state, recorded).state
    decision = state.decisions["dec-0001"]
    assert (decision.drivers, decision.options, decision.chosen) == (
        ("Nothing acknowledged is lost",),
        options,
        "SQLite",
    )
    with pytest.raises(ValueError, match="not one of the options"):
        log(ev.DecisionRecorded, 21, decision_id="dec-0002", title="T", options=options, chosen="X")
    unknown = step(state, log(ev.DecisionAmended, 22, decision_id="dec-0001", chosen="MySQL"))
    assert unknown.rejected == "'MySQL' is not one of decision 1's options"
    renamed = log(ev.DecisionAmended, 23, decision_id="dec-0001", options=options[1:])
    assert step(state, renamed).state.decisions["dec-0001"].chosen == ""


def test_a_commit_is_recorded_once(log):
    state = running_pair(log)
    commit = {"sha": "ab" * 20, "summary": "Add relay", "author": ev.Person(name="Ann")}
    state = step(state, log(ev.CommitRecorded, 30, **commit)).state
    again = step(state, log(ev.CommitRecorded, 31, **commit))
    assert again.rejected is not None
    assert [c.sha for c in again.state.commits_in_order()] == ["ab" * 20]


def test_nothing_applies_after_the_session_ended(log):
    state = step(running_pair(log), log(ev.SessionEnded, 100)).state
    result = step(state, log(ev.LessonNoted, 110, text="Late"))
    assert result.rejected == "the session has ended"
    assert driving_times(result.state, 10_000) == {"ann": 90.0, "bob": 0.0}


def test_the_relay_stamp_is_the_time_that_counts(log):
    state = running_pair(log)
    early = log(ev.RolesRotated, 0, turn=1).model_copy(update={"seq": 9, "stamped_at": 610.0})
    result = step(state, early)
    assert result.rejected is None
    assert result.state.last_seq == 9


def test_when_the_driver_leaves_mid_turn_the_next_driver_gets_a_turn_of_their_own(log):
    state = running_pair(log)
    state = step(state, log(ev.ParticipantLeft, 590, participant_id="ann")).state
    assert (state.driver, state.turn, state.phase) == ("bob", 2, "running")
    assert remaining(state, 590) == 600
    assert step(state, log(ev.RolesRotated, 610, actor="bob", turn=1)).rejected is not None


def test_when_everyone_leaves_the_countdown_stops(log):
    state = running_pair(log)
    state = step(state, log(ev.ParticipantLeft, 100, "bob", participant_id="bob")).state
    state = step(state, log(ev.ParticipantLeft, 110, participant_id="ann")).state
    assert (state.driver, state.phase) == (None, "waiting")
    assert remaining(state, 5000) is None
    state = step(state, log(ev.ParticipantJoined, 3000, participant=BOB)).state
    assert state.driver == "bob"
    assert not is_due(state, 3001)


def test_a_skip_while_paused_leaves_the_next_turn_waiting(log):
    state = running_pair(log)
    state = step(state, log(ev.TimerPaused, 100, turn=1)).state
    state = step(state, log(ev.TurnSkipped, 200, turn=1)).state
    assert (state.driver, state.turn, state.phase) == ("bob", 2, "waiting")


def test_a_break_by_hand_during_a_turn_hands_over_after_the_break(log):
    state = running_pair(log)
    state = step(state, log(ev.BreakStarted, 100, turn=1, seconds=60)).state
    assert (state.phase, state.turn, state.driver) == ("break", 2, "bob")
    assert expires_at(state) == 160
    assert step(state, log(ev.BreakEnded, 120, turn=2)).rejected == "the break still has 40s left"
    state = step(state, log(ev.BreakEnded, 120, turn=2, early=True)).state
    assert (state.phase, state.phase_started_at) == ("running", 120)


def test_extending_a_turn_whose_time_is_up_counts_from_now(log):
    state = running_pair(log)
    state = step(state, log(ev.TimerExtended, 700, turn=1, seconds=60)).state
    assert expires_at(state) == 760
    assert not is_due(state, 700)


def test_reorder_may_name_just_the_people_present(log):
    state = running_pair(log)
    state = step(state, log(ev.ParticipantJoined, 20, participant=CY)).state
    state = step(state, log(ev.ParticipantLeft, 30, "bob", participant_id="bob")).state
    state = step(state, log(ev.RotationReordered, 40, order=("cy", "ann"))).state
    assert [m.id for m in state.members] == ["cy", "ann", "bob"]


def test_the_rules_are_set_once(log):
    state = running_pair(log)
    lobby = fold([log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=300))])
    again = step(lobby, log(ev.SessionOpened, 1, actor="bob"))
    assert again.rejected == "the session's rules are already set"
    assert again.state.settings.turn_seconds == 300
    assert step(state, log(ev.SessionOpened, 20)).rejected is not None


def test_rules_that_would_turn_people_away_who_are_already_here_are_refused(log):
    state = fold([log(ev.ParticipantJoined, 0, participant=p) for p in (ANN, BOB, CY)])
    small = ev.SessionSettings(max_participants=2)
    result = step(state, log(ev.SessionOpened, 1, settings=small))
    assert result.rejected == "3 people are present, more than the rules allow"


def test_only_the_host_sets_the_rules(log):
    state = fold([log(ev.ParticipantJoined, 0, participant=p) for p in (ANN, BOB)])
    result = step(state, log(ev.SessionOpened, 1, actor="bob", settings=ev.SessionSettings()))
    assert result.rejected == "only the host (Ann) sets the session's rules"
    assert not result.state.opened
    assert step(state, log(ev.SessionOpened, 1, settings=ev.SessionSettings())).rejected is None


def test_the_relays_copy_of_an_event_applied_early_counts_once_and_takes_its_offset(log):
    state = running_pair(log)
    mine = log(ev.TimerExtended, 20, turn=1, seconds=60)
    state = step(state, mine).state
    relayed = step(state, ev.sequenced(mine, 5, 21.0))
    assert relayed.rejected == "already applied (repeated event id)"
    assert relayed.state.last_seq == 5
    assert expires_at(relayed.state) == 670
    assert reduce(relayed.state, mine) == relayed.state


@pytest.mark.parametrize(("seq", "stamp"), [(0, 1.0), (1, float("nan")), (1, float("inf"))])
def test_sequencing_refuses_offsets_and_times_that_could_not_be_replayed(log, seq, stamp):
    with pytest.raises(ValueError, match="offset >= 1 and a finite time"):
        ev.sequenced(log(ev.LessonNoted, 1, text="x"), seq, stamp)
