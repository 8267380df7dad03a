"""Who hands the code over and who takes it: only the driver whose turn ended offers it,
once; whoever drives when the log takes the offer is the one to apply or refuse it."""

from pairup.session import events as ev
from pairup.session import fold, step
from pairup.session.state import State

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test")
CAT = ev.Participant(id="cat", name="Cat", email="cat@example.test")


def after_one_turn() -> State:
    """Ann drove turn 1 and skipped; Bob drives turn 2."""
    return fold(
        [
            ev.ParticipantJoined(id="join-ann-1", actor="ann", at=0, participant=ANN),
            ev.SessionOpened(id="open-ann-1", actor="ann", at=0),
            ev.ParticipantJoined(id="join-bob-1", actor="bob", at=1, participant=BOB),
            ev.ParticipantJoined(id="join-cat-1", actor="cat", at=1, participant=CAT),
            ev.TurnStarted(id="start-ann-1", actor="ann", at=2, turn=1),
            ev.TurnSkipped(id="skip-ann-1", actor="ann", at=3, turn=1),
        ]
    )


def offer(actor: str = "ann", turn: int = 2, handover: str = "hand-0001") -> ev.HandoverOffered:
    return ev.HandoverOffered(
        id=f"{handover}-offer",
        actor=actor,
        at=4,
        turn=turn,
        handover=handover,
        snapshot="a" * 40,
        head="b" * 40,
        parts=2,
        files=3,
    )


def test_the_driver_whose_turn_ended_hands_it_to_whoever_drives_now() -> None:
    state = after_one_turn()
    assert (state.last_driver, state.driver, state.turn) == ("ann", "bob", 2)
    result = step(state, offer())
    assert result.rejected is None
    [record] = result.state.handovers_in_order()
    assert (record.by, record.to, record.turn, record.outcome) == ("ann", "bob", 2, "offered")


def test_nobody_else_offers_a_handover_and_nobody_offers_one_twice() -> None:
    state = after_one_turn()
    assert step(state, offer(actor="cat")).rejected == "only whoever drove turn 1 hands it over"
    assert "turn 3" in (step(state, offer(turn=3)).rejected or "")
    offered = step(state, offer()).state
    again = offer().model_copy(update={"id": "hand-0001-again"})
    assert step(offered, again).rejected == "this handover is already offered"


def test_only_the_receiver_applies_and_a_settled_handover_stays_settled() -> None:
    offered = step(after_one_turn(), offer()).state
    by_cat = ev.HandoverApplied(id="applied-cat", actor="cat", at=5, handover="hand-0001")
    assert step(offered, by_cat).rejected == "only Bob takes this handover"
    by_bob = ev.HandoverApplied(
        id="applied-bob", actor="bob", at=5, handover="hand-0001", saved="refs/pairup/saved/x"
    )
    applied = step(offered, by_bob).state
    [record] = applied.handovers_in_order()
    assert (record.outcome, record.saved, record.settled_at) == ("applied", by_bob.saved, 5)
    refusal = ev.HandoverRefused(
        id="refused-bob", actor="bob", at=6, turn=2, handover="hand-0001", reason="late"
    )
    assert step(applied, refusal).rejected == "this handover is settled already"


def test_the_sender_says_why_nothing_came_and_the_receiver_why_it_was_not_applied() -> None:
    state = after_one_turn()
    too_big = ev.HandoverRefused(
        id="refused-ann", actor="ann", at=4, turn=2, reason="too big", largest=(("a.bin", 9),)
    )
    [record] = step(state, too_big).state.handovers_in_order()
    assert (record.outcome, record.by, record.to, record.largest) == (
        "refused",
        "ann",
        "bob",
        (("a.bin", 9),),
    )
    by_cat = too_big.model_copy(update={"id": "refused-cat", "actor": "cat"})
    assert step(state, by_cat).rejected == "only whoever drove turn 1 says why no handover came"
    offered = step(state, offer()).state
    diverged = ev.HandoverRefused(
        id="refused-bob", actor="bob", at=5, turn=2, handover="hand-0001", reason="diverged"
    )
    refused = step(offered, diverged).state
    [record] = refused.handovers_in_order()
    assert (record.outcome, record.reason) == ("refused", "diverged")
    taken = ev.HandoverApplied(id="applied-bob", actor="bob", at=6, handover="hand-0001")
    [record] = step(refused, taken).state.handovers_in_order()
    assert record.outcome == "applied"
    nothing_sent = step(state, too_big).state
    late = taken.model_copy(update={"handover": too_big.id})
    assert step(nothing_sent, late).rejected == "no such handover is waiting"


def test_what_a_clone_holds_is_its_own_word() -> None:
    state = after_one_turn()
    heads = ("c" * 40, "d" * 40)
    said = step(state, ev.CloneHolding(id="holding-bob", actor="bob", at=4, heads=heads)).state
    assert said.holding["bob"] == heads
    assert "cat" not in said.holding


def test_parts_change_nothing_but_use_up_their_id() -> None:
    state = after_one_turn()
    part = ev.HandoverPart(
        id="hand-0001-0", actor="ann", at=4, handover="hand-0001", index=0, count=2, data="QUJD"
    )
    result = step(state, part)
    assert result.rejected is None
    assert result.state.handovers == state.handovers
    assert step(result.state, part).rejected == "already applied (repeated event id)"
