"""The chaos suite in CI: a short drill must lose nothing, and broken variants must be caught.

Each drill runs a real relay process with a fault drill on, kills it with SIGKILL and starts it
again, while real links decide; the checker then reads the relay's store, every journal and an
export. The broken variants show the checker is not satisfied by luck: without resends, without
deduplication or without in-order apply, it reports what went missing, twice or out of order.
"""

import dataclasses

import pytest

from ..fleet.cluster import need_nats_server_here
from .checker import SessionEvidence, check
from .suite import quick_drill, run_drill, summarise


def test_a_short_drill_with_every_fault_and_relay_kills_loses_nothing():
    drill = quick_drill()
    results = run_drill(drill)
    table = summarise(drill, results)
    for result in results:
        assert result.converged, table
        assert result.verdict.ok, result.verdict.problems[:10]
        assert result.verdict.decisions == drill.sessions * drill.peers * drill.decisions
        assert result.restarts == drill.restarts
        for fault in ("drop", "dup", "delay", "disconnect"):
            assert result.faults[fault] > 0, (fault, result.faults)


def test_a_short_fleet_drill_with_relay_and_jetstream_kills_loses_nothing():
    """Three relays over a three-node JetStream cluster behind a balancer, the drill on each:
    a relay is killed with SIGKILL and the stream's leader node too, and the checker reads the
    stream's log, which must hold every event."""
    need_nats_server_here()
    drill = dataclasses.replace(
        quick_drill(seeds=(1,), fleet=True), decisions=6, restarts=1, node_kills=1
    )
    (result,) = run_drill(drill)
    table = summarise(drill, [result])
    assert result.converged, table
    assert result.verdict.ok, result.verdict.problems[:10]
    assert result.verdict.decisions == drill.sessions * drill.peers * drill.decisions
    assert result.events >= result.verdict.decisions, table
    assert (result.restarts, result.node_kills) == (1, 1)
    for fault in ("drop", "dup", "delay"):
        assert result.faults[fault] > 0, (fault, result.faults)


@pytest.mark.parametrize(
    ("variant", "caught_as"),
    [("no-resend", "lost"), ("no-dedupe", "duplicated"), ("out-of-order", "gaps")],
)
def test_the_checker_catches_a_broken_variant(variant, caught_as):
    drill = dataclasses.replace(
        quick_drill(variant, seeds=(3,)),
        sessions=1,
        decisions=8,
        restarts=1,
        converge_timeout=4.0,
    )
    (result,) = run_drill(drill)
    assert not result.verdict.ok
    assert getattr(result.verdict, caught_as) > 0, result.verdict.problems[:10]


# -- the checker on logs made up for it -----------------------------------------------------------

DECISIONS = frozenset({"d1", "d2"})


def evidence(relay, peers, exported=None, made=None):
    return SessionEvidence(
        session="s",
        relay_log=relay,
        peer_logs=peers,
        made=made or {"ann": ["d1"], "bob": ["d2"]},
        exported=exported or {"d1": 1, "d2": 1},
    )


LOG = [(1, "open"), (2, "d1"), (3, "d2")]


def test_identical_whole_logs_pass():
    verdict = check(evidence(LOG, {"ann": LOG, "bob": LOG}), DECISIONS)
    assert (verdict.ok, verdict.decisions) == (True, 2)


def test_a_decision_missing_from_one_peer_is_lost_and_divergent():
    short = LOG[:2]
    verdict = check(evidence(LOG, {"ann": LOG, "bob": short}), DECISIONS)
    assert (verdict.lost, verdict.divergent, verdict.gaps) == (1, 1, 0)


def test_a_decision_stored_twice_is_duplicated():
    doubled = [*LOG, (4, "d1")]
    verdict = check(evidence(doubled, {"ann": doubled, "bob": doubled}), DECISIONS)
    assert (verdict.duplicated, verdict.divergent) == (3, 0)


def test_a_peer_that_applied_past_a_gap_has_a_gap_and_diverges():
    skipped = [(1, "open"), (3, "d2")]
    verdict = check(evidence(LOG, {"ann": LOG, "bob": skipped}), DECISIONS)
    assert (verdict.gaps, verdict.divergent, verdict.lost) == (1, 1, 1)


def test_peers_that_agree_on_another_order_than_the_relay_diverge():
    swapped = [(1, "open"), (2, "d2"), (3, "d1")]
    verdict = check(evidence(LOG, {"ann": swapped, "bob": swapped}), DECISIONS)
    assert (verdict.divergent, verdict.lost) == (2, 0)


def test_a_decision_nobody_made_is_unexpected():
    stray = [*LOG, (4, "d9")]
    verdict = check(evidence(stray, {"ann": stray}), DECISIONS | {"d9"})
    assert verdict.unexpected == 2


def test_the_export_must_hold_each_decision_once():
    verdict = check(evidence(LOG, {"ann": LOG}, exported={"d1": 2, "d2": 0}), DECISIONS)
    assert (verdict.duplicated, verdict.lost) == (1, 1)
