"""The relay core's budgets and doorway as rules with a made-up clock (ADR 25)."""

from http import HTTPStatus

import pytest

from pairup.relay.core.budgets import RecentByAddress, SessionBudget, TokenBucket, wait_text
from pairup.relay.core.doorway import Doorway, Phase
from pairup.relay.limits import Limits


def test_a_bucket_gives_its_burst_then_its_rate_and_says_how_long_to_wait():
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.wait(0.0) == 0.5
    assert bucket.take(0.5)
    assert not bucket.take(0.5)
    assert bucket.wait(100.0) == 0  # it refills up to its burst, no further
    assert bucket.tokens == 3


def test_a_session_budget_takes_an_event_whole_or_not_at_all():
    limits = Limits(session_event_burst=5, session_byte_burst=100, session_bytes_per_second=10.0)
    budget = SessionBudget(limits, now=0.0)
    assert budget.take(60, now=0.0) == 0
    assert budget.take(60, now=0.0) == pytest.approx(2.0)  # 40 bytes left, 20 more in 2 s
    assert budget.events.tokens == 4, "an event refused for its bytes costs no event"
    assert budget.take(60, now=2.0) == 0


def test_waits_read_as_a_person_says_them():
    assert [wait_text(s) for s in (0.01, 1.0, 1.2, 119, 120, 3600)] == [
        "wait 1 s",
        "wait 1 s",
        "wait 2 s",
        "wait 119 s",
        "wait 2 min",
        "wait 60 min",
    ]


def test_the_caps_stay_below_the_file_limit_with_room_kept_for_admitted_participants():
    door = Doorway(Limits(), file_limit=1024, now=0.0)
    assert (door.most, door.most_pending, door.most_admitted) == (768, 192, 384)
    asked_too_much = Doorway(Limits(connections=10_000, pending_connections=10), 1024, 0.0)
    assert (asked_too_much.most, asked_too_much.most_pending) == (768, 10)
    roomy = Doorway(Limits(), file_limit=1 << 20, now=0.0)
    assert (roomy.most_pending, roomy.most_admitted) == (256, (1 << 20) - 256 - 512)


def test_connections_opening_from_one_address_are_refused_then_cut():
    door = Doorway(Limits(pending_per_ip=2), file_limit=1024, now=0.0)
    phases = [door.arrive("192.0.2.7")[0] for _ in range(5)]
    assert phases == [Phase.PENDING] * 2 + [Phase.REFUSING] * 2 + [Phase.TURNED_AWAY]
    assert door.arrive("198.51.100.1")[0] is Phase.PENDING
    assert door.arrive("192.0.2.7")[1:] == (
        HTTPStatus.TOO_MANY_REQUESTS,
        "too many connections opening from your address (at most 2)",
    )
    assert door.from_address("192.0.2.7") == 4
    door.leave("192.0.2.7", Phase.PENDING)
    assert door.arrive("192.0.2.7")[0] is Phase.PENDING


def test_the_relay_full_of_participants_lets_only_a_replacement_in():
    door = Doorway(Limits(connections=12, pending_connections=3), file_limit=1024, now=0.0)
    assert door.most_admitted == 6
    for n in range(6):
        assert door.arrive(f"192.0.2.{n}")[0] is Phase.PENDING
        assert door.admit(f"192.0.2.{n}", replacing=False)
    assert door.arrive("192.0.2.9")[0] is Phase.PENDING
    assert not door.admit("192.0.2.9", replacing=False)
    assert door.admit("192.0.2.9", replacing=True)
    assert door.open == 7


def test_refusals_are_summed_up_in_one_line_and_forgotten():
    door = Doorway(Limits(pending_per_ip=1), file_limit=1024, now=0.0)
    for _ in range(4):
        door.arrive("192.0.2.7")
    door.arrive("198.51.100.1")
    door.arrive("198.51.100.1")
    door.refused("203.0.113.5", "locked out after failed admissions")
    assert door.summary(now=60.0) == (
        "refused 5 connections in the last 60 s from 3 addresses: 192.0.2.7 (3), "
        "198.51.100.1 (1), 203.0.113.5 (1) (4 over 1 opening from one address; "
        "1 locked out after failed admissions)"
    )
    assert door.summary(now=90.0) is None


def test_what_happened_lately_is_counted_per_address_and_forgotten():
    recent = RecentByAddress(window=60.0)
    recent.add("192.0.2.7", 0.0)
    recent.add("192.0.2.7", 30.0)
    assert recent.count("192.0.2.7", 59.0) == 2
    assert recent.count("192.0.2.7", 61.0) == 1
    for number in range(100):
        recent.add(f"2001:db8::{number:x}", 10.0)
    recent.forget_old(100.0)
    assert recent.count("192.0.2.7", 100.0) == 0
    assert not recent._times, "addresses with nothing in the window are forgotten"
