"""The relay's rules on a made-up clock, without sockets: admission, sequencing, watchers,
approval by the host, removal, timers and a failing store (ADR 24, 25 and 28)."""

import pytest

from pairup import protocol as wire

from .kit import Shell, key_of, new_link

POLICY, WATCH_ONLY = wire.Close.POLICY, wire.Close.WATCH_ONLY


def identity(participant: str) -> str:
    return wire.key_text(wire.public_bytes(key_of(participant)))


@pytest.fixture
def shell() -> Shell:
    return Shell(reject_delay=0.5)


def session_of(shell: Shell, *, approve: bool = False, max_participants: int = 8):
    """A session Ann made, Ann connected."""
    link = new_link()
    ann = shell.hello(link, "ann", create=True, approve=approve, max_participants=max_participants)
    (welcome,) = ann.of(wire.Welcome)
    assert (welcome.host, welcome.approve, welcome.role) == ("ann", approve, "participant")
    return link, ann


# -- sequencing ----------------------------------------------------------------------------------


def test_events_go_to_everyone_once_stored_and_a_repeat_is_stored_once(shell):
    link, ann = session_of(shell)
    bob = shell.hello(link, "bob")
    shell.publish(ann, link, "ann", "ann-0001")
    shell.publish(ann, link, "ann", "ann-0001")  # on its way to the disk: nothing more
    assert ann.of(wire.Sequenced) == bob.of(wire.Sequenced) == []
    shell.commit()
    assert [e.seq for e in ann.of(wire.Sequenced)] == [1]
    assert ann.of(wire.Sequenced) == bob.of(wire.Sequenced)
    shell.publish(ann, link, "ann", "ann-0001")  # on disk: an ack with its offset
    assert [(ack.id, ack.seq) for ack in ann.of(wire.Ack)] == [("ann-0001", 1)]
    assert [event.seq for event, _ in shell.core.take_sequenced()] == []


def test_an_event_in_someone_elses_name_costs_the_sender_its_connection(shell):
    link, _ann = session_of(shell)
    bob = shell.hello(link, "bob")
    shell.publish(bob, link, "ann", "forged-0001")
    assert bob.ended == ("refused", POLICY, "events must be sent as yourself")
    assert shell.core.take_sequenced() == []


def test_a_resume_asks_the_shell_to_replay_up_to_what_is_sequenced(shell):
    link, ann = session_of(shell)
    for n in range(3):
        shell.publish(ann, link, "ann", f"ann-{n:04d}")
    shell.commit()
    shell.frame(ann, wire.Resume(after=1, until=99))
    shell.frame(ann, wire.Resume(after=3))
    assert [(r.after, r.end) for r in shell.replays] == [(1, 3)]


def test_a_pong_says_the_relays_time_and_how_far_the_log_is_stored(shell):
    link, ann = session_of(shell)
    shell.publish(ann, link, "ann", "ann-0001")
    shell.frame(ann, wire.Ping(sent=5.0))
    shell.commit()
    shell.frame(ann, wire.Ping(sent=6.0))
    assert [(p.sent, p.now, p.last_seq) for p in ann.of(wire.Pong)] == [
        (5.0, shell.moment().wall, 0),
        (6.0, shell.moment().wall, 1),
    ]


def test_a_flood_is_cut_at_its_budget_which_a_reconnect_does_not_refill(shell):
    shell = Shell(messages_per_second=1.0, burst=3)
    link, ann = session_of(shell)
    for n in range(4):
        shell.publish(ann, link, "ann", f"ann-{n:04d}")
    assert ann.code == wire.Close.RATE_LIMITED
    assert len(shell.core.take_sequenced()) == 3
    shell.drop(ann)
    again = shell.hello(link, "ann")
    assert again.code == wire.Close.RATE_LIMITED, "its budget is still empty"
    shell.later(3.0)
    back = shell.hello(link, "ann")
    assert back.ended is None


# -- admission and its timers --------------------------------------------------------------------


def test_a_wrong_secret_and_an_unknown_session_are_told_alike_after_the_delay(shell):
    link, _ = session_of(shell)
    wrong = shell.hello(wire.JoinLink(link.relay, link.session, b"w" * 16), "eve")
    unknown = shell.hello(new_link(), "eve")
    assert wrong.ended is None
    assert unknown.ended is None
    shell.later(0.49)
    assert wrong.ended is None
    shell.later(0.02)
    expected = ("refused", wire.Close.NOT_ADMITTED, "not admitted: unknown session or wrong secret")
    assert wrong.ended == unknown.ended == expected


def test_saying_nothing_ends_in_the_hello_timeout_counted_from_the_first_byte(shell):
    link = new_link()
    silent = shell.open(f"/s/{link.session}")
    shell.later(9.9)
    assert silent.ended is None
    shell.later(0.2)
    assert silent.code == wire.Close.HELLO_TIMEOUT
    conn = 999
    shell.connections[conn] = type(silent)(conn)
    shell.run(shell.core.connect(conn, "192.0.2.1", b"c" * 16, shell.moment()))
    shell.later(10.1)
    assert shell.connections[conn].ended == ("aborted", 0, "")


def test_a_second_frame_before_the_welcome_and_a_ping_before_hello_close(shell):
    link = new_link()
    early = shell.open(f"/s/{link.session}")
    shell.run(shell.core.control(early.conn, shell.moment()))
    assert early.code == POLICY
    shell.hold_binds = True
    eager = shell.hello(link, "ann", create=True)
    shell.frame(eager, wire.Ping(sent=1.0))
    assert eager.ended == (
        "refused",
        wire.Close.INVALID,
        "one hello, then nothing until the welcome",
    )


def test_two_hellos_for_a_session_not_loaded_yet_ask_the_store_once():
    shell = Shell()
    link, _ann = session_of(shell)
    shell.core.rooms.clear()
    loads = []
    first = shell.open(f"/s/{link.session}")
    second = shell.open(f"/s/{link.session}")
    for connection, who in ((first, "bob"), (second, "cy")):
        hello = wire.hello(link, who, key_of(who), shell.challenges[connection.conn])
        loads += shell.core.received(connection.conn, wire.encode(hello), shell.moment())
    assert [type(action).__name__ for action in loads] == ["Load"]
    shell.run(loads)
    assert first.of(wire.Welcome)
    assert second.of(wire.Welcome)


def test_an_id_belongs_to_the_key_it_first_came_with(shell):
    link, ann = session_of(shell)
    thief = shell.hello(link, "ann", key=key_of("mallory"))
    assert thief.code == POLICY
    assert ann.ended is None, "nobody is pushed out by a hello for their id"


def test_the_session_is_full_at_its_participants_and_ids_per_seat():
    shell = Shell(ids_per_seat=2)
    link, _ann = session_of(shell, max_participants=2)
    bob = shell.hello(link, "bob")
    assert shell.hello(link, "cy").code == wire.Close.SESSION_FULL
    shell.drop(bob)
    for who in ("cy", "dee"):
        shell.drop(shell.hello(link, who))
    refused = shell.hello(link, "eve")
    assert refused.ended == (
        "refused",
        wire.Close.SESSION_FULL,
        "session full: 4 different participants have been in it, the most it takes; "
        "start a new session",
    )


# -- watchers ------------------------------------------------------------------------------------


def test_a_watcher_sees_everything_outside_the_seats_and_is_shown_as_watching():
    shell = Shell()
    link, ann = session_of(shell, max_participants=2)
    bob = shell.hello(link, "bob")
    vic = shell.hello(link.watching(), "vic")
    (welcome,) = vic.of(wire.Welcome)
    assert (welcome.role, welcome.connected) == ("watcher", ("ann", "bob"))
    presence = ann.of(wire.Presence)[-1]
    assert presence.connected == ("ann", "bob")
    assert [shown.participant for shown in presence.watching] == ["vic"]
    assert wire.open_name(link, "vic", presence.watching[0].name) == "vic shown"
    shell.publish(bob, link, "bob", "bob-0001")
    shell.commit()
    assert [e.id for e in vic.of(wire.Sequenced)] == ["bob-0001"]
    shell.frame(vic, wire.Ping(sent=1.0))
    shell.frame(vic, wire.Resume(after=0))
    assert vic.of(wire.Pong)
    assert shell.replays
    assert vic.ended is None


@pytest.mark.parametrize(
    "frame",
    [
        wire.Remove(participant="bob"),
        wire.Approve(participant="bob", identity="A" * 43),
        wire.Deny(participant="bob", identity="A" * 43),
    ],
    ids=["remove", "approve", "deny"],
)
def test_a_watcher_cannot_change_the_session(shell, frame):
    link, _ann = session_of(shell)
    vic = shell.hello(link.watching(), "vic")
    shell.frame(vic, frame)
    assert vic.ended == ("refused", WATCH_ONLY, "a watch link cannot change the session")


def test_a_watcher_publishing_is_refused_and_nothing_is_stored(shell):
    link, _ann = session_of(shell)
    vic = shell.hello(link.watching(), "vic")
    shell.publish(vic, link, "vic", "vic-0001")
    assert vic.code == WATCH_ONLY
    assert shell.core.take_sequenced() == []


def test_a_watch_link_admits_no_participant_and_a_join_link_no_watcher(shell):
    link, _ann = session_of(shell)
    watch = link.watching()
    as_participant = wire.JoinLink(link.relay, link.session, watch.secret)
    assert shell.hello(as_participant, "eve").ended is None
    shell.later(0.6)
    assert shell.connections[2].code == wire.Close.NOT_ADMITTED
    join_as_watcher = wire.JoinLink(link.relay, link.session, link.secret, watch=True)
    shell.hello(join_as_watcher, "wes")
    shell.later(0.6)
    assert shell.connections[3].code == wire.Close.NOT_ADMITTED
    assert shell.hello(watch, "vic").of(wire.Welcome)


def test_nobody_takes_a_watchers_id(shell):
    link, _ann = session_of(shell)
    vic = shell.hello(link.watching(), "vic")
    assert shell.hello(link, "vic", key=key_of("mallory")).code == POLICY
    assert vic.ended is None


def test_a_watcher_cannot_create_a_session(shell):
    link = new_link()
    vic = shell.hello(link.watching(), "vic", create=True)
    shell.later(0.6)
    assert vic.code == wire.Close.NOT_ADMITTED
    assert link.session not in shell.store


def test_watch_link_ids_cannot_use_up_the_participants_ids():
    """A holder of the watch link minting ids fills the watchers' ids, not the seats'."""
    shell = Shell(ids_per_seat=1, watchers_per_session=2)
    link, _ann = session_of(shell, max_participants=2)
    for who in ("w1", "w2"):
        shell.drop(shell.hello(link.watching(), who))
    refused = shell.hello(link.watching(), "w3")
    assert refused.ended == (
        "refused",
        wire.Close.SESSION_FULL,
        "session full: 2 different watchers have been in it, the most it takes; "
        "watch with the id you watched with before",
    )
    assert shell.hello(link.watching(), "w1").of(wire.Welcome), "a watcher's own id again"
    assert shell.hello(link, "bob").of(wire.Welcome), "the seats' ids are untouched"
    shell.core.rooms.clear()
    assert shell.hello(link.watching(), "w4").code == wire.Close.SESSION_FULL, "after a reload"


def test_watchers_have_a_cap_of_their_own():
    shell = Shell(watchers_per_session=1)
    link, _ann = session_of(shell)
    shell.hello(link.watching(), "vic")
    assert shell.hello(link.watching(), "wes").code == wire.Close.SESSION_FULL


# -- approval ------------------------------------------------------------------------------------


def test_a_newcomer_waits_for_the_host_who_lets_them_in(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    assert bob.of(wire.Waiting) == [wire.Waiting(host_connected=True)]
    assert not bob.of(wire.Welcome)
    (knock,) = ann.of(wire.Presence)[-1].waiting
    assert (knock.participant, knock.identity, knock.returning) == ("bob", identity("bob"), False)
    assert wire.open_name(link, "bob", knock.name) == "bob shown"
    shell.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    (welcome,) = bob.of(wire.Welcome)
    assert welcome.connected == ("ann", "bob")
    assert ann.of(wire.Presence)[-1].waiting == ()
    assert shell.store[link.session].record.standings == {"bob": "let in"}
    shell.drop(bob)
    assert shell.hello(link, "bob").of(wire.Welcome), "let in once, in for good"


def test_an_approval_given_twice_lets_the_newcomer_in_once(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.hold_binds = True
    approve = wire.Approve(participant="bob", identity=identity("bob"))
    shell.frame(ann, approve)
    shell.frame(ann, approve)
    assert ann.of(wire.Error)[-1].reason == "nobody waits as bob with that key"
    shell.answer_binds()
    assert len(bob.of(wire.Welcome)) == 1
    assert shell.core.door.open == 2


def test_the_host_turns_a_newcomer_away(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Deny(participant="bob", identity=identity("bob")))
    assert bob.ended == ("refused", wire.Close.TURNED_AWAY, "the host did not let you in")
    assert ann.of(wire.Presence)[-1].waiting == ()


def test_a_forged_approval_costs_its_sender_and_nobody_is_let_in(shell):
    link, ann = session_of(shell, approve=True)
    shell.frame(ann, wire.Approve(participant="cy", identity=identity("cy")))
    cy = shell.hello(link, "cy")
    shell.frame(ann, wire.Approve(participant="cy", identity=identity("cy")))
    bob = shell.hello(link, "bob")
    shell.frame(cy, wire.Approve(participant="bob", identity=identity("bob")))
    assert cy.ended == ("refused", POLICY, "only the host lets people in or turns them away")
    assert bob.ended is None
    assert not bob.of(wire.Welcome)


def test_an_approval_for_nobody_or_another_key_is_refused_and_the_host_stays(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Approve(participant="cy", identity=identity("cy")))
    shell.frame(ann, wire.Approve(participant="bob", identity=identity("mallory")))
    errors = ann.of(wire.Error)
    assert [error.reason for error in errors] == [
        "nobody waits as cy with that key",
        "nobody waits as bob with that key",
    ]
    assert ann.ended is None
    assert not bob.of(wire.Welcome)


def test_a_host_who_does_not_answer_turns_the_newcomer_away_in_time():
    shell = Shell(approval_wait=60.0)
    link, ann = session_of(shell, approve=True)
    shell.drop(ann)
    bob = shell.hello(link, "bob")
    assert bob.of(wire.Waiting) == [wire.Waiting(host_connected=False)]
    shell.later(59.0)
    assert bob.ended is None
    shell.later(2.0)
    assert bob.ended == (
        "refused",
        wire.Close.TURNED_AWAY,
        "the host did not answer in 1 min; ask them, then join again",
    )


def test_a_waiting_newcomer_may_send_nothing(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.publish(bob, link, "bob", "bob-0001")
    assert bob.code == wire.Close.INVALID
    shell.drop(bob)
    assert ann.of(wire.Presence)[-1].waiting == ()


def test_a_waiting_newcomer_keeps_its_connection_alive_but_cannot_flood_it(shell):
    """websockets pings every 20 s and answers the relay's pings: while the host takes
    minutes to decide, that is no reason to cut the newcomer; a flood of pings is."""
    link, _ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    for _ in range(15):
        shell.later(20)
        shell.run(shell.core.control(bob.conn, shell.moment()))
        shell.run(shell.core.control(bob.conn, shell.moment()))
    assert bob.code is None
    for _ in range(10):
        shell.run(shell.core.control(bob.conn, shell.moment()))
    assert bob.code == POLICY


def test_a_hello_for_someone_elses_id_is_refused_before_it_waits(shell):
    link, ann = session_of(shell, approve=True)
    assert shell.hello(link, "ann", key=key_of("mallory")).code == POLICY
    assert all(not presence.waiting for presence in ann.of(wire.Presence))


def test_newcomers_waiting_at_once_have_a_cap():
    shell = Shell(waiting_per_session=2)
    link, _ann = session_of(shell, approve=True)
    shell.hello(link, "bob")
    shell.hello(link, "cy")
    assert shell.hello(link, "dee").code == wire.Close.SESSION_FULL


# -- removal -------------------------------------------------------------------------------------


def test_the_host_takes_someone_out_who_comes_back_only_if_let_in(shell):
    link, ann = session_of(shell)
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Remove(participant="bob"))
    assert bob.ended == (
        "refused",
        wire.Close.REMOVED,
        "you were taken out of the session; the host can let you back in",
    )
    assert shell.removed == [(link.session, "bob")]
    assert ann.of(wire.Presence)[-1].connected == ("ann",)
    shell.drop(bob)
    again = shell.hello(link, "bob")
    assert again.of(wire.Waiting)
    assert not again.of(wire.Welcome)
    (knock,) = ann.of(wire.Presence)[-1].waiting
    assert knock.returning
    shell.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    assert again.of(wire.Welcome)


def test_one_taken_out_while_its_first_entry_is_stored_waits_for_the_host(shell):
    link, ann = session_of(shell)
    shell.hold_binds = True
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Remove(participant="bob"))
    shell.answer_binds()
    assert not bob.of(wire.Welcome)
    assert bob.of(wire.Waiting)
    (knock,) = ann.of(wire.Presence)[-1].waiting
    assert (knock.participant, knock.returning) == ("bob", True)


def test_a_removed_participant_waits_after_the_relay_restarts(shell):
    link, ann = session_of(shell)
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Remove(participant="bob"))
    shell.drop(bob)
    shell.drop(ann)
    shell.core.rooms.clear()
    assert shell.hello(link, "bob").of(wire.Waiting)


def test_anyone_takes_out_someone_away_when_the_host_does_not_approve(shell):
    link, _ann = session_of(shell)
    bob = shell.hello(link, "bob")
    cy = shell.hello(link, "cy")
    shell.frame(bob, wire.Remove(participant="cy"))
    # Refused, and the connection kept: the session's rules may have let Bob take Cy out of
    # the rotation, and Bob is no forger for it.
    assert bob.of(wire.Error)[-1].reason == (
        "only the host takes out someone connected, or anyone when the host approves newcomers"
    )
    assert (bob.ended, cy.ended) == (None, None)
    shell.drop(bob)
    shell.frame(cy, wire.Remove(participant="bob"))
    assert cy.ended is None
    assert shell.removed == [(link.session, "bob")]


def test_only_the_host_takes_anyone_out_when_it_approves_newcomers(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    cy = shell.hello(link, "cy")
    shell.frame(ann, wire.Approve(participant="cy", identity=identity("cy")))
    shell.drop(cy)
    shell.frame(bob, wire.Remove(participant="cy"))
    assert bob.ended is None
    assert bob.of(wire.Error)
    assert shell.removed == []


def test_nobody_takes_the_host_out_and_the_host_never_waits(shell):
    """Else anyone could take out a host whose network dropped, and only the host lets
    people back in."""
    link, ann = session_of(shell)
    bob = shell.hello(link, "bob")
    shell.drop(ann)
    shell.frame(bob, wire.Remove(participant="ann"))
    assert bob.of(wire.Error)[-1].reason == "nobody takes the host out of the session"
    assert shell.removed == []
    assert shell.hello(link, "ann").of(wire.Welcome)


def test_nobody_pushes_a_newcomer_out_of_the_queue_for_the_host(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    impostor = shell.hello(link, "bob", key=key_of("mallory"))
    assert impostor.code == POLICY
    assert bob.ended is None
    (knock,) = ann.of(wire.Presence)[-1].waiting
    assert knock.identity == identity("bob")


def test_a_watcher_cannot_take_the_id_of_someone_waiting_for_the_host(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    squatter = shell.hello(link.watching(), "bob", key=key_of("mallory"))
    assert squatter.code == POLICY
    shell.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    assert bob.of(wire.Welcome)


def test_taking_out_yourself_or_nobody_is_refused_and_the_connection_kept(shell):
    _link, ann = session_of(shell)
    shell.frame(ann, wire.Remove(participant="ann"))
    shell.frame(ann, wire.Remove(participant="zed"))
    assert [error.reason for error in ann.of(wire.Error)] == [
        "you cannot take yourself out; leave the session instead",
        "nobody called zed has been in this session",
    ]
    assert ann.ended is None
    assert shell.removed == []


# -- the store failing ---------------------------------------------------------------------------


def test_a_failed_commit_lets_the_session_go_and_closes_its_members(shell):
    link, ann = session_of(shell)
    shell.publish(ann, link, "ann", "ann-0001")
    batch = shell.core.take_sequenced()
    shell.run(shell.core.failed(batch, "the relay's disk is full"))
    assert ann.ended == ("closed", wire.Close.STORAGE_FAILED, "the relay's disk is full")
    assert link.session not in shell.core.rooms


def test_a_failed_commit_closes_those_waiting_for_the_host_too(shell):
    link, ann = session_of(shell, approve=True)
    bob = shell.hello(link, "bob")
    shell.publish(ann, link, "ann", "ann-0001")
    shell.run(shell.core.failed(shell.core.take_sequenced(), "the relay's disk is full"))
    assert bob.ended == ("closed", wire.Close.STORAGE_FAILED, "the relay's disk is full")
    shell.later(shell.core.limits.approval_wait + 1)
    assert bob.ended == ("closed", wire.Close.STORAGE_FAILED, "the relay's disk is full")


def test_one_welcomed_as_a_failed_commit_lets_the_session_go_is_closed_too(shell):
    """A welcome on its way (its key being bound) when the session is let go: it must not
    stay in the old room, where its events would go nowhere."""
    link, ann = session_of(shell)
    shell.hold_binds = True
    bob = shell.hello(link, "bob")
    shell.publish(ann, link, "ann", "ann-0001")
    shell.run(shell.core.failed(shell.core.take_sequenced(), "the relay's disk is full"))
    shell.answer_binds()
    assert bob.code == wire.Close.STORAGE_FAILED
    assert not bob.of(wire.Welcome)


def test_the_last_one_out_keeps_the_session_alive(shell):
    link, ann = session_of(shell)
    vic = shell.hello(link.watching(), "vic")
    shell.drop(ann)
    assert shell.touched == []
    shell.drop(vic)
    assert shell.touched == [link.session]
