"""Properties of the fold that must hold for any log, not just the ones we thought of."""

import itertools
import math
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from pairup.session import decode_event, encode_event, fold, reduce, step
from pairup.session import events as ev
from pairup.session.state import State
from pairup.session.timer import ROTATION_TOLERANCE, driving_times, expires_at, tally_at

from .strategies import PEOPLE, session_logs


def states_along(log: list[ev.Event]) -> list[State]:
    states = [State()]
    for event in log:
        states.append(reduce(states[-1], event))
    return states


@given(session_logs())
def test_exactly_one_driver_whenever_anyone_is_here(log):
    for state in states_along(log):
        present = {member.id for member in state.present}
        here = {member.id for member in state.here}
        if here:
            assert state.driver in present
            assert set(state.navigators) == here - {state.driver}
        else:
            assert state.driver is None or state.driver in present
        if not present:
            assert state.driver is None


@given(session_logs())
def test_nobody_away_drives_while_time_runs_or_is_waited_for(log):
    for state in states_along(log):
        here = {member.id for member in state.here}
        if state.phase == "running" or (here and state.phase in ("lobby", "waiting", "break")):
            assert state.driver in here, (state.phase, state.driver, here)


@given(session_logs())
def test_an_absence_that_paused_the_countdown_names_its_driver(log):
    for state in states_along(log):
        if state.paused_for is not None:
            assert state.phase == "paused"
            assert state.paused_for == state.driver


@given(session_logs())
def test_never_more_present_than_the_session_allows(log):
    for state in states_along(log):
        assert len(state.present) <= state.settings.max_participants


@given(session_logs())
def test_replaying_the_same_log_gives_the_same_state(log):
    decoded = [decode_event(encode_event(event)) for event in log]
    assert fold(decoded) == fold(log)


@given(session_logs())
def test_folding_a_log_equals_reducing_it_event_by_event(log):
    assert fold(log) == states_along(log)[-1]


@given(session_logs(), st.data())
def test_folding_in_two_parts_equals_folding_at_once(log, data):
    cut = data.draw(st.integers(0, len(log)))
    assert fold(log[cut:], fold(log[:cut])) == fold(log)


@given(session_logs())
def test_applying_an_event_twice_equals_applying_it_once(log):
    state = State()
    for event in log:
        once = reduce(state, event)
        assert reduce(once, event) == once
        state = once


@given(session_logs(), st.data())
def test_a_resent_event_later_in_the_log_changes_nothing(log, data):
    if not log:
        return
    resent = data.draw(st.sampled_from(log))
    assert fold([*log, resent]) == fold(log)


@given(session_logs())
def test_step_is_total_and_refusals_leave_state_unchanged(log):
    state = State()
    for event in log:
        result = step(state, event)
        if result.rejected is not None:
            bookkeeping = {"seen": state.seen, "last_seq": state.last_seq}
            assert replace(result.state, **bookkeeping) == state
            assert reduce(result.state, event) == result.state
        state = result.state


@given(session_logs(), st.floats(0, 10_000, allow_nan=False))
def test_time_adds_up_to_the_elapsed_session_time(log, later):
    state = fold(log)
    if state.opened_at is None or state.clock is None:
        return
    now = state.clock + later
    tally = tally_at(state, now)
    driving = sum(driving_times(state, now).values())
    accounted = driving + tally.paused + tally.breaks + tally.idle
    end = state.ended_at if state.ended_at is not None else now
    assert math.isclose(accounted, end - state.opened_at, rel_tol=1e-9, abs_tol=1e-6)


@given(session_logs())
def test_driving_time_equals_the_recorded_stints(log):
    state = fold(log)
    if state.clock is None:
        return
    from_stints: dict[str, float] = {}
    for stint in state.timeline():
        from_stints[stint.driver] = from_stints.get(stint.driver, 0.0) + stint.end - stint.start
    if state.stint_start is not None and state.driver is not None:
        from_stints[state.driver] = (
            from_stints.get(state.driver, 0.0) + state.clock - state.stint_start
        )
    totals = driving_times(state, state.clock)
    for person, seconds in totals.items():
        assert math.isclose(seconds, from_stints.get(person, 0.0), rel_tol=1e-9, abs_tol=1e-6)


@given(session_logs())
def test_countdowns_end_only_when_their_time_is_up(log):
    state = State()
    for event in log:
        result = step(state, event)
        timed_end = event.kind == "roles.rotated" or (
            event.kind == "break.ended" and not event.early
        )
        if timed_end and result.rejected is None:
            end = expires_at(state)
            assert end is not None
            assert max(event.time, state.clock or event.time) >= end - ROTATION_TOLERANCE
        state = result.state


@given(session_logs())
def test_the_driver_changes_only_by_rotation_or_presence(log):
    state = State()
    for event in log:
        after = reduce(state, event)
        if after.driver != state.driver:
            assert state.driver is None or event.kind in {
                "roles.rotated",
                "turn.skipped",
                "break.started",
                "break.ended",
                "participant.joined",
                "participant.left",
                "participant.away",
                "participant.back",
            }, event.kind
        state = after


@given(session_logs())
def test_turn_numbers_and_sequence_offsets_never_go_back(log):
    states = states_along(log)
    for before, after in itertools.pairwise(states):
        assert after.turn >= before.turn
        assert after.last_seq >= before.last_seq


@settings(max_examples=200)
@given(
    st.integers(2, 8),
    st.integers(1, 30),
    st.lists(st.integers(0, 7), max_size=8, unique=True),
    st.sampled_from(["skip", "rotate"]),
)
def test_rotation_visits_everyone_in_order(size, turns, reorder_seed, how):
    people = PEOPLE[:size]
    log: list[ev.Event] = []
    now = 0.0

    def add(cls: type, **fields: object) -> None:
        joining = fields.get("participant")
        actor = joining.id if isinstance(joining, ev.Participant) else "p0"
        log.append(cls(id=f"evt-{len(log):06d}", actor=actor, at=now, **fields))

    add(ev.SessionOpened, settings=ev.SessionSettings(turn_seconds=60))
    for person in people:
        add(ev.ParticipantJoined, participant=person)
    order = [p.id for p in people]
    if reorder_seed:
        ranks = {
            pid: reorder_seed[i] if i < len(reorder_seed) else 8 + i for i, pid in enumerate(order)
        }
        order = sorted(order, key=lambda pid: ranks[pid])
        add(ev.RotationReordered, order=tuple(order))
    add(ev.TurnStarted, turn=1)
    state = fold(log)
    first = state.driver
    drivers = [state.driver]
    for turn in range(1, turns + 1):
        now += 60
        event_type = ev.TurnSkipped if how == "skip" else ev.RolesRotated
        state = reduce(state, event_type(id=f"rot-{turn:06d}", actor="p1", at=now, turn=turn))
        drivers.append(state.driver)
    start = order.index(first)
    expected = [order[(start + i) % size] for i in range(turns + 1)]
    assert drivers == expected


@given(session_logs())
def test_supersede_links_go_both_ways_and_never_round_in_a_circle(log):
    state = fold(log)
    for decision in state.decisions.values():
        if decision.superseded_by is not None:
            newer = state.decisions[decision.superseded_by]
            assert decision.status == "superseded"
            assert decision.id in newer.supersedes
        for older in decision.supersedes:
            assert state.decisions[older].superseded_by == decision.id
        seen = {decision.id}
        follow = decision
        while follow.superseded_by is not None:
            follow = state.decisions[follow.superseded_by]
            assert follow.id not in seen, "a circle of supersedes"
            seen.add(follow.id)


@given(session_logs())
def test_an_opinion_per_person_their_latest_and_they_took_part(log):
    state = fold(log)
    for decision in state.decisions.values():
        people = [opinion.participant for opinion in decision.opinions]
        assert len(people) == len(set(people))
        assert set(people) <= set(decision.present)
        assert set(decision.agreed).isdisjoint(decision.objected)
