"""The clock offset to the relay, from ping/pong round trips."""

import pytest

from pairup.link.clock import ClockOffset


def test_no_samples_means_no_correction():
    offset = ClockOffset()
    assert offset.seconds == 0.0
    assert offset.uncertainty is None


def test_the_shortest_round_trip_wins():
    offset = ClockOffset()
    offset.add(sent=100.0, relay_now=130.5, round_trip=1.0)
    offset.add(sent=200.0, relay_now=230.05, round_trip=0.1)
    offset.add(sent=300.0, relay_now=331.0, round_trip=2.0)
    assert offset.seconds == pytest.approx(30.0)
    assert offset.uncertainty == pytest.approx(0.05)


def test_only_the_recent_samples_count():
    offset = ClockOffset(keep=2)
    offset.add(sent=0.0, relay_now=10.0, round_trip=0.0)
    offset.add(sent=1.0, relay_now=6.5, round_trip=1.0)
    offset.add(sent=2.0, relay_now=7.5, round_trip=1.0)
    assert offset.seconds == pytest.approx(5.0)
