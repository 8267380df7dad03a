"""The relay's events in the link core: applied in offset order, once, each journaled before
anyone hears of it; held back past a gap and asked for; and never applied when the body does
not open as sealed for this session, sender and id, or is not its actor's."""

import base64

import pytest

from pairup import protocol as wire
from pairup.link.core import CHANGED, EARLY_LIMIT, UNAUTHENTIC, UNREADABLE, Deliver, Journal

from .kit import (
    JOIN,
    SESSION,
    core,
    delivered,
    joined,
    journaled,
    lesson,
    other_secret,
    raw,
    resumes,
    sealed,
    sequenced,
    welcome,
)


def connected(participant: str = "ann", last_seq: int = 0):
    link = core(participant)
    link.welcomed(welcome(last_seq), now=0.0)
    return link


def log_of(*actors_and_events):
    """Sequenced frames 1, 2, … for the events given."""
    return [sequenced(seq, event) for seq, event in enumerate(actors_and_events, start=1)]


def test_events_in_order_are_journaled_then_delivered_then_the_listeners_told():
    link = connected()
    first, second = joined("ann"), lesson("ann")
    actions = link.received(raw(wire.Events(events=tuple(log_of(first, second)))), now=1.0)
    assert isinstance(actions[0], Journal)
    assert [event.id for event in actions[0].events] == [first.id, second.id]
    assert actions[0].confirmed.last_seq == 2
    assert [type(action) for action in actions[1:]] == [Deliver, Deliver, type(CHANGED)]
    assert [(a.seq, a.sender, a.rejected) for a in delivered(actions)] == [
        (1, "ann", None),
        (2, "ann", None),
    ]
    assert link.confirmed.last_seq == 2


def test_an_event_past_a_gap_is_held_and_only_the_gap_is_asked_for():
    link = connected()
    one, two, three = log_of(joined("ann"), lesson("ann"), lesson("ann"))
    link.received(raw(one), now=1.0)
    actions = link.received(raw(three), now=1.0)
    assert resumes(actions) == [(1, 2)]
    assert journaled(actions) == []
    assert link.confirmed.last_seq == 1
    # A second early event asks nothing more while the first ask is out.
    assert resumes(link.received(raw(three), now=1.0)) == []
    actions = link.received(raw(two), now=1.0)
    assert [event.seq for event in journaled(actions)] == [2, 3]
    assert link.confirmed.last_seq == 3


def test_events_arriving_in_any_order_apply_in_offset_order():
    link = connected()
    frames = log_of(joined("ann"), *(lesson("ann", f"lesson {n}") for n in range(6)))
    order = [frames[i] for i in (3, 6, 0, 5, 2, 1, 4)]
    applied = []
    for frame in order:
        applied += journaled(link.received(raw(frame), now=1.0))
    assert [event.seq for event in applied] == list(range(1, 8))


def test_two_gaps_are_asked_for_one_after_the_other():
    link = connected()
    frames = log_of(joined("ann"), *(lesson("ann") for _ in range(4)))
    link.received(raw(frames[0]), now=1.0)
    assert resumes(link.received(raw(frames[2]), now=1.0)) == [(1, 2)]
    link.received(raw(frames[4]), now=1.0)
    # The first gap filled: the next is asked for at once.
    assert resumes(link.received(raw(frames[1]), now=1.0)) == [(3, 4)]


def test_a_repeated_offset_or_a_repeated_id_is_one_event():
    link = connected()
    first, again = joined("ann"), lesson("ann")
    frames = log_of(first, again)
    link.received(raw(frames[0]), now=1.0)
    link.received(raw(frames[1]), now=1.0)
    assert delivered(link.received(raw(frames[1]), now=1.0)) == []
    # The relay (or a replay) puts the same id at a later offset: the session core refuses it.
    actions = link.received(raw(sequenced(3, again)), now=1.0)
    assert delivered(actions)[0].rejected is not None
    assert len(link.confirmed.lessons) == 1
    assert link.confirmed.last_seq == 3


def test_no_more_than_the_early_limit_is_held_back():
    link = connected()
    frames = log_of(*(lesson("ann") for _ in range(3)))
    link._early = dict.fromkeys(range(10, 10 + EARLY_LIMIT), frames[0])
    link.received(raw(sequenced(EARLY_LIMIT + 20, lesson("ann"))), now=1.0)
    assert len(link._early) == EARLY_LIMIT


def flipped(body: str) -> str:
    raw_bytes = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw_bytes[len(raw_bytes) // 2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw_bytes)).rstrip(b"=").decode()


def swapped_session(event) -> str:
    other = wire.JoinLink(JOIN.relay, "another-session", JOIN.secret)
    return sealed(event, join=other)


def earlier_session(event) -> str:
    """The same session id, held before under another link (another secret)."""
    earlier = wire.JoinLink(JOIN.relay, SESSION, other_secret())
    return sealed(event, join=earlier)


UNAUTHENTIC_BODIES = {
    "a flipped bit": lambda event: flipped(sealed(event)),
    "truncated": lambda event: sealed(event)[:-6],
    "cut to its nonce": lambda event: sealed(event)[:16],
    "swapped from another session": swapped_session,
    "replayed from an earlier session": earlier_session,
    "sealed by another sender": lambda event: sealed(event, "bob"),
    "sealed for another event": lambda event: sealed(event, event_id="another-id"),
    "not sealed at all": lambda event: "eyJraW5kIjoibGVzc29uLm5vdGVkIn0",
}


@pytest.mark.parametrize("make", UNAUTHENTIC_BODIES.values(), ids=UNAUTHENTIC_BODIES)
def test_a_body_that_fails_authentication_is_never_applied_and_is_reported(make):
    link = connected()
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    before = link.confirmed
    event = lesson("ann", "slipped in")
    actions = link.received(raw(sequenced(2, event, body=make(event))), now=1.0)
    (applied,) = delivered(actions)
    assert applied.unauthentic
    assert applied.event is None
    assert (applied.rejected, applied.seq, applied.sender) == (UNAUTHENTIC, 2, "ann")
    assert journaled(actions) == []
    assert link.confirmed.lessons == before.lessons
    # The offset is used up, and the session goes on.
    assert link.confirmed.last_seq == 2
    actions = link.received(raw(sequenced(3, lesson("ann", "next"))), now=1.0)
    assert [a.rejected for a in delivered(actions)] == [None]


def test_an_event_in_the_name_of_someone_else_is_forged_outside_a_restored_log():
    link = connected()
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    link.received(raw(sequenced(2, joined("bob"))), now=1.0)
    event = lesson("ann").model_copy(update={"stamped_at": 10.0})
    actions = link.received(raw(sequenced(3, event, sender="bob")), now=1.0)
    (applied,) = delivered(actions)
    assert applied.forged
    assert "in the name of ann" in applied.rejected
    assert journaled(actions) == []


def test_an_unsigned_event_is_forged_and_settles_ones_own_outbox():
    link = connected()
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    unsigned = lesson("ann", signed=False)
    link.pending[unsigned.id] = unsigned
    (applied,) = delivered(link.received(raw(sequenced(2, unsigned)), now=1.0))
    assert applied.forged
    assert applied.event.id == unsigned.id
    assert unsigned.id not in link.pending


def test_a_body_of_another_id_or_an_unstamped_one_from_another_sender_is_skipped():
    link = connected()
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    event = lesson("ann")
    other_id = sequenced(2, event).model_copy(update={"id": "not-its-id"})
    other_id = other_id.model_copy(update={"body": sealed(event, event_id="not-its-id")})
    (reported,) = delivered(link.received(raw(other_id), now=1.0))
    assert (reported.event, reported.seq, reported.unauthentic) == (None, 2, False)
    assert reported.rejected == UNREADABLE
    unstamped = sequenced(3, lesson("ann"), sender="bob")
    (reported,) = delivered(link.received(raw(unstamped), now=1.0))
    assert (reported.event, reported.seq, reported.sender) == (None, 3, "bob")
    assert link.confirmed.last_seq == 3


def test_ones_own_event_whose_offset_an_altered_body_took_leaves_the_outbox_and_is_said():
    """The relay stored something else under its id: a resend is only acked, and a join
    stuck in the outbox would hold back everything after it."""
    link = connected()
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    mine = lesson("ann")
    link.submit(mine, now=1.0)
    altered = sequenced(2, mine).model_copy(update={"body": sealed(lesson("ann"))})
    (unopened,) = delivered(link.received(raw(altered), now=1.5))
    assert unopened.unauthentic
    assert mine.id in link.pending
    actions = link.received(wire.encode(wire.Ack(id=mine.id, seq=2)), now=4.0)
    (lost,) = delivered(actions)
    assert (lost.event, lost.seq, lost.sender) == (None, 2, "ann")
    assert lost.rejected == "your lesson.noted did not reach the session intact; do it again"
    assert mine.id not in link.pending


def test_a_re_seeded_event_keeps_its_first_stamp_but_never_one_in_the_future():
    link = core()
    link.welcomed(welcome(restored=True), now=0.0)
    link.received(raw(sequenced(1, joined("ann"), at=100.0)), now=1.0)
    earlier = lesson("ann").model_copy(update={"stamped_at": 20.0})
    later = lesson("ann").model_copy(update={"stamped_at": 9e9})
    events = journaled(link.received(raw(sequenced(2, earlier, sender="bob", at=100.0)), 1.0))
    events += journaled(link.received(raw(sequenced(3, later, at=100.0)), now=1.0))
    assert [event.stamped_at for event in events] == [20.0, 100.0]


def test_the_connection_is_current_once_it_has_what_the_relay_had():
    link = core()
    link.welcomed(welcome(last_seq=2), now=0.0)
    assert not link.caught_up
    link.received(raw(sequenced(1, joined("ann"))), now=1.0)
    assert not link.caught_up
    link.received(raw(sequenced(2, lesson("ann"))), now=1.0)
    assert link.caught_up


def test_a_frame_the_relay_should_not_have_sent_is_ignored():
    link = connected()
    assert link.received('{"type": "event", "seq": "one"}', now=1.0) == []
    assert link.received("not json", now=1.0) == []
