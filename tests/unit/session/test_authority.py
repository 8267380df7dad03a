"""Nobody acts for someone else: for any log, each event changes only what its actor may.

An event about a participant is valid only from that participant, except where a rule names
who else may (docs/protocol.md has the table): someone here may say that another is away, or
take someone who is away out of the session; the host ends the session, or anyone here while
the host is not. These properties hold at every step of any log the strategies build, whoever
sends what about whom.
"""

import pytest
from hypothesis import given

from pairup.session import events as ev
from pairup.session import fold, step
from pairup.session.reduce import amend_refused, end_refused
from pairup.session.state import State

from .strategies import session_logs

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test", key="A" * 43)
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test", key="B" * 43)
MALLORY = ev.Participant(id="mal", name="Mallory", email="mal@example.test", key="M" * 43)


def _is_here(state: State, participant_id: str) -> bool:
    member = state.member(participant_id)
    return member is not None and member.here


def check_step(before: State, event: ev.Event, after: State) -> None:
    actor = event.actor
    for member in after.members:
        earlier = before.member(member.id)
        if member.id == actor:
            continue
        assert earlier is not None, f"{actor} added {member.id} to the session"
        assert member.participant == earlier.participant, f"{actor} changed {member.id}"
        if earlier.present and not member.present:
            host = before.host == actor and _is_here(before, actor)
            assert earlier.away is not None or host, f"{actor} took {member.id} out while here"
            # Taken out by someone here, or their seat given to someone arriving in a full
            # session because they were seen disconnected (never when they chose to step away).
            freed = event.kind == "participant.joined" and not earlier.away.by_choice
            assert _is_here(before, actor) or freed
        if earlier.away is None and member.away is not None:
            assert _is_here(before, actor), f"{actor} reported {member.id} away from afar"
            assert not member.away.by_choice
        if earlier.away is not None and member.away is None and member.present:
            pytest.fail(f"{actor} said {member.id} was back")
    for decision in after.decisions.values():
        earlier_decision = before.decisions.get(decision.id)
        others = [o for o in decision.opinions if o.participant != actor]
        if earlier_decision is not None:
            assert others == [o for o in earlier_decision.opinions if o.participant != actor], (
                f"{actor} changed someone's opinion"
            )
        if decision.proposed_by == actor:
            continue
        assert earlier_decision is not None, f"{actor} recorded a decision as someone else"
        words = (
            "title",
            "context",
            "decision",
            "consequences",
            "status",
            "drivers",
            "options",
            "chosen",
            "superseded_by",
        )
        assert [getattr(decision, w) for w in words] == [
            getattr(earlier_decision, w) for w in words
        ], f"{actor} amended {decision.proposed_by}'s decision"
    if after.phase == "ended" and before.phase != "ended":
        host = before.host
        assert actor == host or (host is None or not _is_here(before, host))
    for handover in after.handovers.values():
        earlier_handover = before.handovers.get(handover.id)
        if earlier_handover is None:
            assert handover.by == actor, f"{actor} handed over for {handover.by}"
            assert handover.outcome == "refused" or handover.to not in (None, actor)
        elif earlier_handover != handover:
            assert actor in (handover.to, handover.by), f"{actor} settled someone's handover"
            assert handover.outcome == "refused" or actor == handover.to
    for record in after.commits.values():
        names = {m.participant.name for m in after.members}
        emails = {m.participant.email.casefold() for m in after.members} - {""}
        for person in record.co_authors:
            assert person.name in names or person.email.casefold() in emails


@given(session_logs(max_events=80))
def test_no_event_changes_what_only_someone_else_may_change(log):
    state = State()
    for event in log:
        after = step(state, event).state
        check_step(state, event, after)
        state = after


def trio() -> State:
    return fold(
        [
            ev.ParticipantJoined(id="join-ann-1", actor="ann", at=0, participant=ANN),
            ev.SessionOpened(id="open-ann-1", actor="ann", at=0),
            ev.ParticipantJoined(id="join-bob-1", actor="bob", at=1, participant=BOB),
            ev.ParticipantJoined(id="join-mal-1", actor="mal", at=2, participant=MALLORY),
            ev.DecisionRecorded(
                id="dec-ann-1", actor="ann", at=3, decision_id="dec-ann-01", title="Use SQLite"
            ),
        ]
    )


def refused(state: State, event: ev.Event) -> str:
    result = step(state, event)
    assert result.rejected is not None, f"{event.kind} applied"
    assert result.state.members == state.members
    assert result.state.phase == state.phase
    assert dict(result.state.decisions) == dict(state.decisions)
    return result.rejected


@pytest.mark.parametrize(
    ("event", "because"),
    [
        (
            ev.ParticipantJoined(
                id="forged-01",
                actor="mal",
                at=5,
                participant=BOB.model_copy(update={"name": "B0b"}),
            ),
            "mal cannot join the session for bob: only they can",
        ),
        (
            ev.ParticipantJoined(
                id="forged-02",
                actor="mal",
                at=5,
                participant=ev.Participant(id="linus", name="Linus Torvalds"),
            ),
            "mal cannot join the session for linus: only they can",
        ),
        (
            ev.ParticipantLeft(id="forged-03", actor="mal", at=5, participant_id="bob"),
            "Bob is here: only they can leave (others can once they are away)",
        ),
        (
            ev.ParticipantBack(id="forged-04", actor="mal", at=5, participant_id="ann"),
            "Ann is not away",
        ),
        (ev.SessionEnded(id="forged-05", actor="mal", at=5), "only the host (Ann) can end"),
        (
            ev.DecisionAmended(
                id="forged-06",
                actor="mal",
                at=5,
                decision_id="dec-ann-01",
                decision="Use a flat file",
                status="accepted",
            ),
            "decision 1 is Ann's to amend",
        ),
        (
            ev.DecisionSuperseded(
                id="forged-10", actor="mal", at=5, decision_id="dec-ann-01", by="dec-ann-01"
            ),
            "decision 1 is Ann's to amend",
        ),
        (
            ev.SessionOpened(id="forged-07", actor="mal", at=5),
            "the session's rules are already set",
        ),
        (
            ev.LessonNoted(id="forged-08", actor="stranger", at=5, text="I was never here"),
            "stranger is not in the session",
        ),
        (
            ev.ParticipantJoined(
                id="forged-09", actor="bob", at=5, participant=BOB.model_copy(update={"key": None})
            ),
            None,
        ),
    ],
)
def test_a_participant_cannot_act_for_another(event, because):
    state = trio()
    if because is None:
        # A rejoin that names no key keeps the key the id is bound to.
        rejoined = step(state, event)
        assert rejoined.rejected is None
        assert rejoined.state.member("bob").participant.key == BOB.key
        return
    assert refused(state, event).startswith(because)


def test_an_id_is_bound_to_the_key_it_first_joined_with():
    state = trio()
    taken = BOB.model_copy(update={"key": "X" * 43, "name": "Not Bob"})
    reason = refused(
        state, ev.ParticipantJoined(id="take-over-1", actor="bob", at=5, participant=taken)
    )
    assert reason == "bob is someone else's id in this session (their key is not this one)"


def test_an_absence_is_acted_on_only_once_the_log_has_held_it_for_away_after():
    state = trio()
    reported = ev.ParticipantAway(
        id="bob-away-1", actor="mal", at=100, participant_id="bob", since=0
    )
    state = step(state, reported).state
    out = ev.ParticipantLeft(id="bob-out-01", actor="mal", at=101, participant_id="bob")
    assert refused(state, out) == "Bob has not been away long enough to be taken out"
    later = out.model_copy(update={"at": 100 + state.settings.away_after_seconds})
    assert not step(state, later).state.member("bob").present


def test_the_host_takes_anyone_out_at_once_and_nobody_takes_the_host_out_early():
    state = trio()
    out = ev.ParticipantLeft(id="bob-out-02", actor="ann", at=5, participant_id="bob")
    assert not step(state, out).state.member("bob").present
    host_out = ev.ParticipantLeft(id="ann-out-01", actor="bob", at=5, participant_id="ann")
    assert (
        refused(state, host_out)
        == "Ann is here: only they can leave (others can once they are away)"
    )


def test_someone_who_left_can_no_longer_act():
    state = trio()
    left = ev.ParticipantLeft(id="mal-leaves", actor="mal", at=5, participant_id="mal")
    state = step(state, left).state
    reason = refused(state, ev.LessonNoted(id="mal-late-1", actor="mal", at=6, text="still here?"))
    assert reason == "Mallory has left the session"


def test_while_the_host_is_away_anyone_here_can_end_the_session():
    state = trio()
    assert end_refused(state, "bob") is not None
    state = step(
        state, ev.ParticipantAway(id="ann-away-1", actor="bob", at=10, participant_id="ann")
    ).state
    assert end_refused(state, "bob") is None
    assert step(state, ev.SessionEnded(id="bob-ends-1", actor="bob", at=11)).state.phase == "ended"


def test_only_the_proposer_amends_a_decision():
    state = trio()
    decision = state.decisions["dec-ann-01"]
    assert amend_refused(state, "ann", decision) is None
    assert amend_refused(state, "bob", decision) == "decision 1 is Ann's to amend"


def test_credit_on_a_recorded_commit_goes_only_to_members():
    state = trio()
    commit = ev.CommitRecorded(
        id="commit-1",
        actor="mal",
        at=5,
        sha="ab" * 20,
        summary="Fix",
        author=ev.Person(name="Mallory"),
        co_authors=(
            ev.Person(name="Linus Torvalds", email="torvalds@example.org"),
            ev.Person(name="Robert", email="BOB@example.test"),
        ),
    )
    record = step(state, commit).state.commits["ab" * 20]
    # Credited as the session knows him; nobody else, whatever name or address was typed.
    assert record.co_authors == (ev.Person(name="Bob", email="bob@example.test"),)


def test_a_seat_held_by_someone_seen_disconnected_goes_to_whoever_arrives():
    small = ev.SessionSettings(max_participants=3)
    state = fold(
        [
            ev.ParticipantJoined(id="join-ann-1", actor="ann", at=0, participant=ANN),
            ev.SessionOpened(id="open-ann-1", actor="ann", at=0, settings=small),
            ev.ParticipantJoined(id="join-bob-1", actor="bob", at=1, participant=BOB),
            ev.ParticipantJoined(id="join-mal-1", actor="mal", at=2, participant=MALLORY),
        ]
    )
    cy = ev.Participant(id="cy", name="Cy", key="C" * 43)
    joining = ev.ParticipantJoined(id="join-cy-01", actor="cy", at=10, participant=cy)
    assert step(state, joining).rejected == "the session is full (3 participants)"
    # Mallory said she was away: her seat is hers.
    by_choice = ev.ParticipantAway(id="mal-away-1", actor="mal", at=20, participant_id="mal")
    assert step(step(state, by_choice).state, joining).rejected is not None
    # Seen disconnected: once the log has held it for away_after, the seat goes to Cy, and
    # Mallory counts as gone since she went.
    seen = ev.ParticipantAway(id="mal-away-2", actor="ann", at=80, participant_id="mal", since=20)
    reported = step(state, seen).state
    assert step(reported, joining).rejected == "the session is full (3 participants)"
    later = joining.model_copy(update={"at": 80 + small.away_after_seconds})
    after = step(reported, later)
    assert after.rejected is None
    assert [m.id for m in after.state.present] == ["ann", "bob", "cy"]
    assert after.state.member("mal").left_at == 20
