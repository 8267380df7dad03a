"""The connection's rules in the link core: what the relay's handshake answer must say, the
hello, waiting for the host, close codes, reconnect backoff, pings and the clock offset, the
silence watchdog, epochs and re-seeding, presence, and letting people in."""

import math

import pytest

from pairup import protocol as wire
from pairup.link.core import (
    WAITING,
    Abort,
    OlderRelay,
    challenge_of,
    closing,
)

from .kit import JOIN, core, joined, key_of, lesson, raw, sent, sequenced, welcome

CHALLENGE = "A" * 22


# -- the handshake ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, "", "3", "three"])
def test_a_relay_without_the_version_or_with_an_older_one_is_older(version):
    with pytest.raises(OlderRelay, match="upgrade it"):
        challenge_of(CHALLENGE, version, "relay.test:1")


def test_a_relay_without_a_challenge_is_older():
    with pytest.raises(OlderRelay, match="older pairup"):
        challenge_of(None, "4", "relay.test:1")


def test_a_relay_of_this_version_gives_its_challenge():
    assert challenge_of(CHALLENGE, "4", "relay.test:1") == wire.challenge_bytes(CHALLENGE)


def test_the_host_creates_a_returning_participant_restores_a_watcher_does_neither():
    challenge = b"c" * 16
    host = core(create=True).hello(key_of("ann"), challenge, name="Ann", approve=True)
    assert (host.create, host.approve, host.restore, host.role) == (
        True,
        True,
        False,
        "participant",
    )
    assert wire.open_name(JOIN, "ann", host.name) == "Ann"
    returning = core("bob")
    returning.load([], [], "epoch-one")
    hello = returning.hello(key_of("bob"), challenge)
    assert (hello.create, hello.restore) == (True, True)
    watcher = core("wendy", join=JOIN.watching(), create=True)
    watcher.load([], [], "epoch-one")
    hello = watcher.hello(key_of("wendy"), challenge, name="Wendy")
    assert (hello.role, hello.create, hello.restore) == ("watcher", False, False)


def test_waiting_for_the_host_says_so_and_whether_the_host_is_connected():
    link = core("bob")
    link.waiting(wire.Waiting(host_connected=True))
    assert (link.status.state, link.status.reason) == ("waiting", WAITING)
    link.waiting(wire.Waiting(host_connected=False))
    assert link.status.reason == f"{WAITING} (the host is not connected)"
    # No watchdog runs before the welcome, however long the host takes.
    assert link.wake_at() == math.inf
    assert link.tick(1e6, wall=1e6) == []


@pytest.mark.parametrize(
    "code",
    [
        wire.Close.NOT_ADMITTED,
        wire.Close.SESSION_FULL,
        wire.Close.POLICY,
        wire.Close.WATCH_ONLY,
        wire.Close.TURNED_AWAY,
        wire.Close.REMOVED,
    ],
)
def test_closes_that_another_try_will_not_change_are_fatal_with_the_relays_reason(code):
    close = closing(code, "why")
    assert (close.fatal, close.reason) == (True, "why")


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (wire.Close.RATE_LIMITED, "wait 3 s"),
        (wire.Close.TOO_MANY_CONNECTIONS, "wait 3 s"),
        (wire.Close.STORAGE_FAILED, "wait 3 s"),
        (wire.Close.GOING_AWAY, ""),
        (None, ""),
    ],
)
def test_other_closes_are_tried_again_showing_the_reason_of_a_limit(code, shown):
    close = closing(code, "wait 3 s")
    assert (close.fatal, close.reason) == (False, shown)


# -- backoff, pings, silence -----------------------------------------------------------------------


def test_reconnects_back_off_doubling_to_thirty_seconds_with_jitter_and_reset_once_welcomed():
    link = core()
    delays = [link.disconnected(wall=100.0, jitter=1.0)[0] for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert link.status.state == "reconnecting"
    assert link.status.retry_at == 130.0
    assert link.disconnected(wall=0.0, jitter=0.5)[0] == 15.0
    link.welcomed(welcome(), now=0.0)
    assert link.disconnected(wall=0.0, jitter=0.5, problem="gone")[0] == 0.25
    assert link.status.reason == "gone"


def test_a_ping_at_once_then_every_interval_and_the_pong_sets_the_clock_offset():
    link = core(ping_interval=15.0, resend_after=1000.0)
    link.welcomed(welcome(), now=100.0)
    assert link.wake_at() == 100.0
    (ping,) = sent(link.tick(100.0, wall=5000.0))
    assert ping == wire.Ping(sent=5000.0)
    assert link.wake_at() == 115.0
    link.received(raw(wire.Pong(sent=5000.0, now=5030.5, last_seq=0)), now=101.0)
    assert link.offset.seconds == pytest.approx(30.0)
    assert link.offset.uncertainty == pytest.approx(0.5)
    # A pong for no ping in flight changes nothing.
    link.received(raw(wire.Pong(sent=1.0, now=9999.0, last_seq=0)), now=102.0)
    assert link.offset.seconds == pytest.approx(30.0)
    assert [type(f) for f in sent(link.tick(115.0, wall=5015.0))] == [wire.Ping]


def test_a_relay_silent_for_three_ping_intervals_is_cut_and_any_frame_keeps_it():
    link = core(ping_interval=15.0, resend_after=1000.0)
    link.welcomed(welcome(), now=0.0)
    link.tick(0.0, wall=0.0)
    assert not any(isinstance(action, Abort) for action in link.tick(44.0, wall=44.0))
    link.received(raw(wire.Pong(sent=0.0, now=0.0)), now=30.0)
    assert not any(isinstance(a, Abort) for a in link.tick(74.0, wall=74.0))
    assert link.wake_at() == 75.0
    assert link.tick(75.0, wall=75.0) == [Abort("the relay has been silent")]
    assert not link.live


def test_an_ack_or_a_pong_past_the_log_asks_to_resume_once():
    link = core()
    link.welcomed(welcome(), now=0.0)
    link.received(raw(sequenced(1, joined("ann"))), now=0.0)
    actions = link.received(raw(wire.Ack(id="x" * 16, seq=4)), now=1.0)
    assert [(f.after, f.until) for f in sent(actions)] == [(1, None)]
    assert sent(link.received(raw(wire.Pong(sent=0.0, now=0.0, last_seq=5)), now=1.0)) == []


# -- epochs ----------------------------------------------------------------------------------------


def test_a_new_epoch_or_a_shorter_log_means_the_relay_lost_the_session():
    link = core()
    assert not link.lost(welcome(epoch="epoch-two"))  # never been in it: nothing to re-seed
    link.load([sequenced_event(1), sequenced_event(2)], [], "epoch-one")
    assert not link.lost(welcome(last_seq=2))
    assert not link.lost(welcome(last_seq=9))
    assert link.lost(welcome(last_seq=2, epoch="epoch-two"))
    assert link.lost(welcome(last_seq=1))


def sequenced_event(seq: int):
    from pairup.session import sequenced

    event = joined("ann") if seq == 1 else lesson("ann")
    return sequenced(event, seq, 10.0)


def test_a_reseed_makes_the_journal_the_outbox_in_its_order_and_forgets_what_was_held():
    link = core()
    log = [sequenced_event(1), sequenced_event(2)]
    link.load(log, [], "epoch-one")
    link._early[9] = sequenced(9, lesson("ann"))
    events = [event.model_copy(update={"seq": None}) for event in log]
    link.reseeded(events)
    assert link.confirmed.last_seq == 0
    assert list(link.pending) == [event.id for event in events]
    assert link._early == {}
    actions = link.welcomed(welcome(epoch="epoch-two"), now=0.0)
    # The join first, and what follows it once it is in the log again.
    assert [f.id for f in sent(actions) if isinstance(f, wire.Publish)] == [events[0].id]


def test_a_watcher_whose_relay_lost_the_session_starts_over_and_offers_nothing():
    watcher = core("wendy", join=JOIN.watching())
    watcher.load([sequenced_event(1)], [], "epoch-one")
    watcher.reseeded([sequenced_event(1).model_copy(update={"seq": None})])
    assert watcher.pending == {}
    assert watcher.confirmed.last_seq == 0


# -- presence and who takes part -------------------------------------------------------------------


def presence() -> wire.Presence:
    bob_key = wire.public_bytes(key_of("bob"))
    return wire.Presence(
        connected=("ann",),
        watching=(
            wire.Shown(participant="wendy", name=wire.seal_name(JOIN, "wendy", "Wendy")),
            wire.Shown(participant="walt", name=wire.seal_name(JOIN, "someone", "Forged")),
            wire.Shown(participant="wes"),
        ),
        waiting=(
            wire.Knock(
                participant="bob",
                name=wire.seal_name(JOIN, "bob", "Bob"),
                identity=wire.key_text(bob_key),
                returning=True,
            ),
        ),
    )


def test_presence_shows_watchers_names_that_open_as_theirs_and_who_knocks():
    link = core()
    link.welcomed(welcome(), now=0.0)
    link.received(raw(presence()), now=1.0)
    assert link.online == {"ann"}
    assert link.watchers == {"wendy": "Wendy", "walt": "", "wes": ""}
    (knock,) = link.knocking
    bob_key = wire.public_bytes(key_of("bob"))
    assert (knock.participant, knock.name, knock.identity, knock.returning) == (
        "bob",
        "Bob",
        bob_key,
        True,
    )
    assert knock.fingerprint == wire.fingerprint(bob_key)


def test_the_host_lets_in_or_turns_away_with_the_key_that_knocked_and_anyone_may_ask_to_remove():
    link = core()
    assert link.let_in("bob") is None
    assert link.remove("bob") is None
    link.welcomed(welcome(), now=0.0)
    link.received(raw(presence()), now=1.0)
    key = wire.key_text(wire.public_bytes(key_of("bob")))
    assert link.let_in("bob").frame == wire.Approve(participant="bob", identity=key)
    assert link.turn_away("bob").frame == wire.Deny(participant="bob", identity=key)
    assert link.let_in("carol") is None
    assert link.remove("bob").frame == wire.Remove(participant="bob")
    link.disconnected(wall=0.0, jitter=1.0)
    assert (link.online, link.watchers, link.knocking) == (frozenset(), {}, ())
    assert link.ever_online == {"ann"}
