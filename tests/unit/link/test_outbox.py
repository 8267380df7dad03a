"""The outbox in the link core: sent once connected, resent when the relay does not confirm,
less and less often, never faster than the relay's rate limit allows, nothing past a join
before the join is in the log; and a watch link has no outbox at all."""

import pytest

from pairup import protocol as wire
from pairup.link.core import (
    OUTBOX_RATE,
    RESEND_LONGEST,
    WATCH_ONLY,
    EventTooLarge,
    WatchOnly,
    check_size,
)

from .kit import JOIN, core, joined, lesson, published, raw, sent, sequenced, welcome


def test_an_event_submitted_while_connected_goes_out_sealed_and_offline_waits():
    link = core()
    event = joined("ann")
    assert published(link.submit(event, now=0.0)) == []
    actions = link.welcomed(welcome(), now=1.0)
    assert published(actions) == [event.id]
    (frame,) = [f for f in sent(actions) if isinstance(f, wire.Publish)]
    assert frame.sender == "ann"
    assert "participant.joined" not in frame.body
    # The relay's copy opens as the event, and settles it.
    link.received(raw(wire.Sequenced(seq=1, at=5.0, id=event.id, sender="ann", body=frame.body)), 2)
    assert link.pending == {}
    assert link.confirmed.member("ann") is not None


def test_an_unconfirmed_event_is_resent_after_resend_after_then_twice_as_long_up_to_the_longest():
    link = core(resend_after=2.0, ping_interval=1000.0)
    link.welcomed(welcome(), now=0.0)
    event = joined("ann")
    assert published(link.submit(event, now=0.0)) == [event.id]
    resent_at = []
    now = 0.0
    while now < 200.0:
        now = link.wake_at()
        if published(link.tick(now, wall=now)):
            resent_at.append(now)
    gaps = [b - a for a, b in zip([0.0, *resent_at], resent_at, strict=False)]
    assert gaps[:6] == [2.0, 4.0, 8.0, 16.0, RESEND_LONGEST, RESEND_LONGEST]


def test_a_long_outbox_goes_out_at_the_outbox_rate():
    link = core(resend_after=2.0, ping_interval=1000.0)
    link.submit(joined("ann"), now=0.0)
    link.welcomed(welcome(), now=0.0)
    link.received(raw(sequenced(1, joined("ann"))), now=0.0)
    for _ in range(300):
        link.submit(lesson("ann"), now=0.0)
    link.live = False
    per_round = int(OUTBOX_RATE * 2.0)
    rounds = [published(link.welcomed(welcome(last_seq=1), now=10.0))]
    for now in range(12, 40, 2):
        rounds.append(published(link.tick(float(now), wall=float(now))))
    assert [len(sends) for sends in rounds[:4]] == [per_round] * 4
    assert all(len(sends) <= per_round for sends in rounds)
    # Oldest first, resends of the unconfirmed included: all are out within half a minute.
    assert {event_id for sends in rounds for event_id in sends} == set(link.pending)


def test_nothing_after_a_join_goes_out_before_the_join_is_in_the_log():
    link = core()
    join, after = joined("ann"), lesson("ann")
    link.submit(join, now=0.0)
    link.submit(after, now=0.0)
    assert published(link.welcomed(welcome(), now=0.0)) == [join.id]
    assert published(link.submit(lesson("ann"), now=0.0)) == []
    actions = link.received(raw(sequenced(1, join)), now=1.0)
    assert published(actions)[0] == after.id
    assert len(published(actions)) == 2


def test_a_watch_link_submits_nothing():
    watcher = core("wendy", join=JOIN.watching())
    with pytest.raises(WatchOnly, match=WATCH_ONLY):
        watcher.submit(lesson("wendy"), now=0.0)
    assert watcher.pending == {}


def test_a_repair_round_asks_for_the_gaps_only_after_a_round_without_arrivals():
    link = core(resend_after=2.0, ping_interval=1000.0)
    link.welcomed(welcome(last_seq=0), now=0.0)
    frames = [sequenced(1, joined("ann")), sequenced(2, lesson("ann")), sequenced(3, lesson("ann"))]
    link.received(raw(frames[0]), now=0.5)
    link.received(raw(frames[2]), now=0.5)
    # Events arrived in this round: a replay may still be on its way.
    assert _resumes(link.tick(2.0, wall=2.0)) == []
    assert _resumes(link.tick(4.0, wall=4.0)) == [(1, 2)]
    # A pong says the relay has more than the link.
    link.received(raw(wire.Pong(sent=1.0, now=1.0, last_seq=5)), now=4.5)
    assert _resumes(link.tick(6.0, wall=6.0)) == [(1, 2), (3, None)]


def _resumes(actions):
    return [(f.after, f.until) for f in sent(actions) if isinstance(f, wire.Resume)]


def test_an_event_too_large_for_a_frame_is_refused_with_its_kind_and_the_limit():
    huge = lesson("ann", "x" * 2000).model_copy(update={"sig": "s" * (wire.MAX_BODY_BYTES)})
    with pytest.raises(
        EventTooLarge, match=f"lesson.noted is over {wire.MAX_BODY_BYTES // 1024} KiB"
    ):
        check_size(huge)
    check_size(lesson("ann", "x" * 2000))
