"""Who is credited on a commit: examples of the presence rule, and its properties."""

import itertools

from hypothesis import given

from pairup.session import events as ev
from pairup.session import fold
from pairup.session.credit import co_authors, credit_window_start

from .strategies import session_logs

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test")
CY = ev.Participant(id="cy", name="Cy", email="cy@example.test")
SHA = "0123456789abcdef0123456789abcdef01234567"


IDS = itertools.count(1)


def event(cls: type, at: float, actor: str = "ann", **fields: object) -> ev.Event:
    return cls(id=f"evt-{next(IDS):06d}", actor=actor, at=at, **fields)


def mob(*later: ev.Event) -> list[ev.Event]:
    return [
        event(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=600)),
        event(ev.ParticipantJoined, 0, participant=ANN),
        event(ev.ParticipantJoined, 1, actor="bob", participant=BOB),
        event(ev.ParticipantJoined, 2, actor="cy", participant=CY),
        event(ev.TurnStarted, 10, turn=1),
        *later,
    ]


def names(people: list[ev.Participant]) -> list[str]:
    return [person.name for person in people]


def test_everyone_else_present_is_credited_navigators_included() -> None:
    assert names(co_authors(fold(mob()), "ann")) == ["Bob", "Cy"]
    assert names(co_authors(fold(mob()), "bob")) == ["Ann", "Cy"]


def test_someone_who_left_during_the_turn_is_still_credited() -> None:
    state = fold(mob(event(ev.ParticipantLeft, 300, actor="cy", participant_id="cy")))
    assert names(co_authors(state, "ann")) == ["Bob", "Cy"]


def test_someone_who_left_before_the_turn_and_the_last_commit_is_not() -> None:
    state = fold(
        mob(
            event(ev.ParticipantLeft, 100, actor="cy", participant_id="cy"),
            event(
                ev.CommitRecorded,
                200,
                sha=SHA,
                summary="Add the relay",
                author=ev.Person(name="Ann", email="ann@example.test"),
            ),
            event(ev.TurnSkipped, 300, turn=1),
        )
    )
    assert credit_window_start(state) == 200
    assert names(co_authors(state, "bob")) == ["Ann"]
    assert names(co_authors(state, "bob", "all-participants")) == ["Ann", "Cy"]


def test_someone_who_came_back_is_credited_again() -> None:
    state = fold(
        mob(
            event(ev.ParticipantLeft, 100, actor="cy", participant_id="cy"),
            event(ev.TurnSkipped, 300, turn=1),
            event(ev.ParticipantJoined, 400, actor="cy", participant=CY),
        )
    )
    assert names(co_authors(state, "ann")) == ["Bob", "Cy"]


@given(session_logs())
def test_nobody_is_their_own_co_author_and_everyone_here_is_credited(
    log: list[ev.Event],
) -> None:
    state = fold(log)
    for member in state.members:
        credited = {person.id for person in co_authors(state, member.id)}
        assert member.id not in credited
        # Everyone at a keyboard; someone away since before the turn and the last commit is not.
        assert {m.id for m in state.here} - {member.id} <= credited
        everyone = {person.id for person in co_authors(state, member.id, "all-participants")}
        assert credited <= everyone == {m.id for m in state.members} - {member.id}


def test_only_members_the_relay_has_seen_connected_are_credited():
    """A member who never connected (joined through a re-seed, say) has not paired: with the
    ids the relay has seen connected, they get no credit, in either mode."""
    state = fold(mob())
    assert names(co_authors(state, "ann")) == ["Bob", "Cy"]
    assert names(co_authors(state, "ann", connected={"ann", "bob"})) == ["Bob"]
    everyone = co_authors(state, "ann", "all-participants", connected={"ann", "cy"})
    assert names(everyone) == ["Cy"]
