"""The rules of relays in a fleet, on a made-up clock: two cores over one log and one bus.

Each :class:`Relay` is a :class:`Shell` whose core shares its log (ADR 35): what it takes
waits for :meth:`Fleet.commit`, which appends it to the stream as the real shell's lane does,
and every relay reads every commit in the stream's order, numbered by ``fold``; bindings,
let-ins and removals go to a log of who is who that every relay reads in order too. What a
core announces or tells goes to the other cores once its turn is over, as the bus carries
it."""

from dataclasses import dataclass, field
from typing import NamedTuple

from pairup import protocol as wire
from pairup.relay.core.actions import Action, Announce, Bind, LetIn, Remember, Tell
from pairup.relay.core.events import Taken, fold
from pairup.relay.core.rules import LET_IN, REMOVED, ROOM_KEPT, RelayCore

from .kit import Shell, Stored, key_of, new_link


def identity(participant: str) -> str:
    return wire.key_text(wire.public_bytes(key_of(participant)))


class Who(NamedTuple):
    participant: str
    key: bytes | None = None
    watcher: bool = False
    standing: str | None = None


class Relay(Shell):
    def __init__(self, fleet: "Fleet", name: str, **limits: object) -> None:
        super().__init__(**limits)
        self.fleet = fleet
        self.name = name
        self.core = RelayCore(
            self.limits, epoch="fleet-epoch", file_limit=4096, now=self.moment(), shared=True
        )
        self.store = fleet.store
        self.read: dict[str, int] = {}
        """How many commits of each session's stream this relay has read."""
        self.who_read: dict[str, int] = {}
        self.last_at: dict[str, float] = {}

    def run(self, actions: list[Action] | tuple[()]) -> None:
        """Carry out what is local at once; what goes over the bus goes once this turn is
        over, as a real relay's publish does."""
        self.fleet.depth += 1
        try:
            for action in actions:
                if isinstance(action, Announce | Tell):
                    self.fleet.bus.append((self, action))
                    continue
                if isinstance(action, Bind | LetIn):
                    self.fleet.bind(action)
                elif isinstance(action, Remember):
                    self.fleet.who.setdefault(action.session, []).append(
                        Who(action.participant, standing=REMOVED)
                    )
                if not isinstance(action, LetIn):
                    super().run([action])
        finally:
            self.fleet.depth -= 1
        if self.fleet.depth == 0:
            self.fleet.carry()

    def hear(self, sender: "Relay", action: Announce | Tell) -> None:
        if isinstance(action, Announce):
            presence = wire.RELAY_FRAME.validate_json(action.frame)
            assert isinstance(presence, wire.Presence)
            self.run(self.core.heard(action.session, sender.name, presence, self.moment()))
        else:
            frame = wire.decode_client_frame(action.frame)
            assert isinstance(frame, wire.Deny)
            self.run(self.core.told(action.session, frame, self.moment()))

    def follow(self) -> None:
        """Read the stream's new commits of the sessions this relay holds."""
        for session, commits in self.fleet.stream.items():
            room = self.core.rooms.get(session)
            if room is None:
                continue
            for taken in commits[self.read.get(session, 0) :]:
                events = fold(
                    session,
                    taken,
                    last_seq=room.stored_seq,
                    last_at=self.last_at.get(session, 0.0),
                    first_seen=room.ids.get,
                )
                if events:
                    self.last_at[session] = events[-1].at
                self.run(self.core.logged(session, events))
            self.read[session] = len(commits)
        for session, entries in self.fleet.who.items():
            if session not in self.core.rooms:
                continue
            for entry in entries[self.who_read.get(session, 0) :]:
                self.who_read[session] = self.who_read.get(session, 0) + 1
                self.run(
                    self.core.who(
                        session,
                        entry.participant,
                        self.moment(),
                        key=entry.key,
                        watcher=entry.watcher,
                        standing=entry.standing,
                    )
                )


@dataclass
class Fleet:
    store: dict[str, Stored] = field(default_factory=dict)
    stream: dict[str, list[list[Taken]]] = field(default_factory=dict)
    who: dict[str, list[Who]] = field(default_factory=dict)
    relays: list[Relay] = field(default_factory=list)
    bus: list[tuple[Relay, Announce | Tell]] = field(default_factory=list)
    depth: int = 0

    def carry(self) -> None:
        """Every message on the bus to every relay but its sender, in the order said."""
        while self.bus:
            sender, action = self.bus.pop(0)
            for other in self.others(sender):
                other.hear(sender, action)

    def relay(self, name: str, **limits: object) -> Relay:
        relay = Relay(self, name, **limits)
        self.relays.append(relay)
        return relay

    def others(self, relay: Relay) -> list[Relay]:
        return [other for other in self.relays if other is not relay]

    def commit(self, relay: Relay) -> None:
        """``relay``'s lane: what it took, less what it knows the log holds, as one commit."""
        for event, room in relay.core.take_sequenced():
            if event.id not in room.ids:
                taken = Taken(event.id, event.sender, event.at, event.body)
                self.stream.setdefault(event.session, []).append([taken])

    def follow(self) -> None:
        for relay in self.relays:
            relay.follow()

    def bind(self, action: Bind | LetIn) -> None:
        """The store's side of a binding or a let-in, in the log of who is who."""
        entries = self.who.setdefault(action.session, [])
        watcher = isinstance(action, Bind) and action.watcher
        entries.append(Who(action.participant, action.key, watcher))
        bound = next(e.key for e in entries if e.participant == action.participant and e.key)
        if (isinstance(action, LetIn) or action.let_in) and bound == action.key:
            entries.append(Who(action.participant, action.key, standing=LET_IN))
            if isinstance(action, LetIn):
                record = self.store[action.session].record
                record.identities.setdefault(action.participant, action.key)
                record.standings[action.participant] = LET_IN


def test_events_taken_by_two_relays_reach_everyone_in_the_logs_order():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True)
    bob = two.hello(link, "bob")
    one.publish(ann, link, "ann", "ann-0001")
    two.publish(bob, link, "bob", "bob-0001")
    assert ann.of(wire.Sequenced) == bob.of(wire.Sequenced) == []
    fleet.commit(two)
    fleet.commit(one)
    fleet.follow()
    order = [(e.seq, e.id) for e in ann.of(wire.Sequenced)]
    assert order == [(1, "bob-0001"), (2, "ann-0001")]
    assert [(e.seq, e.id) for e in bob.of(wire.Sequenced)] == order
    shown = one.core.rooms[link.session]
    assert (shown.last_seq, shown.stored_seq, shown.pending) == (2, 2, set())


def test_an_event_resent_to_another_relay_is_logged_once_and_acked_with_its_offset():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True)
    one.publish(ann, link, "ann", "ann-0001")
    one.publish(ann, link, "ann", "ann-0001")  # on its way: nothing more
    again = two.hello(link, "ann")  # ann's link moved to the other relay and resends
    two.publish(again, link, "ann", "ann-0001")
    fleet.commit(two)
    fleet.commit(one)  # Both relays commit it: neither has read the other's yet.
    fleet.follow()
    assert [e.id for e in ann.of(wire.Sequenced)] == ["ann-0001"]
    assert [e.id for e in again.of(wire.Sequenced)] == ["ann-0001"]
    two.publish(again, link, "ann", "ann-0001")
    assert [(ack.id, ack.seq) for ack in again.of(wire.Ack)] == [("ann-0001", 1)]
    assert one.core.rooms[link.session].pending == set()


def test_presence_and_the_seats_count_every_relay_and_forget_a_silent_one():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True, max_participants=2)
    bob = two.hello(link, "bob")
    assert ann.of(wire.Presence)[-1].connected == ("ann", "bob")
    assert bob.of(wire.Presence)[-1].connected == ("ann", "bob")
    # Relay two had not heard of relay one when it welcomed bob: the presence after says.
    assert bob.of(wire.Welcome)[0].connected == ("bob",)
    carol = one.hello(link, "carol")
    assert carol.ended is not None
    assert carol.ended[1] == wire.Close.SESSION_FULL
    # Relay two goes silent (killed): after three intervals relay one counts nobody there.
    fleet.relays.remove(two)
    one.later(2 * one.limits.presence_interval)
    one.run(one.core.sweep(one.moment()))
    assert ann.of(wire.Presence)[-1].connected == ("ann", "bob")
    one.later(2 * one.limits.presence_interval)
    one.run(one.core.sweep(one.moment()))
    assert ann.of(wire.Presence)[-1].connected == ("ann",)


def test_the_host_lets_in_a_newcomer_waiting_at_another_relay():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True, approve=True)
    bob = two.hello(link, "bob")
    assert bob.of(wire.Waiting)
    assert not bob.of(wire.Welcome)
    (waiting,) = ann.of(wire.Presence)[-1].waiting
    assert waiting.participant == "bob"
    one.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    assert not bob.of(wire.Welcome)  # Written to the store: relay two reads it in the log.
    fleet.follow()
    assert len(bob.of(wire.Welcome)) == 1
    assert ann.of(wire.Presence)[-1] == wire.Presence(connected=("ann", "bob"))
    # Back later at relay one, bob does not wait again; someone else as bob is refused.
    again = one.hello(link, "bob")
    assert len(again.of(wire.Welcome)) == 1
    mallory = one.hello(link, "bob", key=key_of("mallory"))
    assert mallory.ended is not None
    assert mallory.ended[1] == wire.Close.POLICY


def test_an_approval_for_an_id_bound_to_another_key_lets_nobody_in():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True, approve=True)
    bob = two.hello(link, "bob")
    # Meanwhile someone else's binding of the id reached the store first.
    fleet.who.setdefault(link.session, []).append(Who("bob", wire.public_bytes(key_of("eve"))))
    one.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    fleet.follow()
    assert not bob.of(wire.Welcome)
    assert bob.ended is None  # It waits on, until the host turns it away or time runs out.


def test_the_host_turns_away_a_newcomer_at_another_relay_and_nobody_else_can():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True, approve=True)
    guest = one.hello(link, "gus")
    one.frame(ann, wire.Approve(participant="gus", identity=identity("gus")))
    bob = two.hello(link, "bob")
    one.frame(guest, wire.Approve(participant="bob", identity=identity("bob")))
    assert guest.ended == (
        "refused",
        wire.Close.POLICY,
        "only the host lets people in or turns them away",
    )
    assert not bob.of(wire.Welcome)
    one.frame(ann, wire.Deny(participant="bob", identity=identity("bob")))
    assert bob.ended is not None
    assert bob.ended[1] == wire.Close.TURNED_AWAY


def test_the_host_takes_out_someone_connected_to_another_relay():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    ann = one.hello(link, "ann", create=True)
    bob = two.hello(link, "bob")
    one.frame(ann, wire.Remove(participant="bob"))
    fleet.follow()
    assert bob.ended is not None
    assert bob.ended[1] == wire.Close.REMOVED
    assert ann.of(wire.Presence)[-1].connected == ("ann",)
    back = two.hello(link, "bob")
    assert back.of(wire.Waiting)
    assert not back.of(wire.Welcome)


def test_nobody_but_the_host_takes_anyone_out_before_the_relay_has_heard_the_fleet():
    fleet = Fleet()
    one, two = fleet.relay("one"), fleet.relay("two")
    link = new_link()
    one.hello(link, "ann", create=True)
    one.hello(link, "cal")
    bob = two.hello(link, "bob")  # Relay two loads the session now.
    # As a relay that had not heard relay one yet: cal would look away, and removable.
    two.core.rooms[link.session].elsewhere.clear()
    two.frame(bob, wire.Remove(participant="cal"))
    (refused,) = bob.of(wire.Error)
    assert "still hearing who is connected" in refused.reason
    assert all(entry.standing != REMOVED for entry in fleet.who[link.session])
    for relay in (one, two):  # An interval on: every relay has said who is with it.
        relay.later(relay.limits.presence_interval)
        relay.run(relay.core.sweep(relay.moment()))
    two.frame(bob, wire.Remove(participant="cal"))  # Heard by now: cal is connected.
    assert "only the host" in bob.of(wire.Error)[-1].reason


def test_a_room_nobody_is_in_is_let_go_after_a_while_unless_events_wait():
    fleet = Fleet()
    one = fleet.relay("one")
    link = new_link()
    ann = one.hello(link, "ann", create=True)
    one.publish(ann, link, "ann", "ann-0001")
    one.drop(ann)
    one.later(ROOM_KEPT * one.limits.presence_interval + 1)
    one.run(one.core.sweep(one.moment()))
    assert link.session in one.core.rooms  # Its event waits for the log.
    fleet.commit(one)
    fleet.follow()
    one.run(one.core.sweep(one.moment()))
    assert link.session not in one.core.rooms
    back = one.hello(link, "ann")  # Loaded again.
    assert len(back.of(wire.Welcome)) == 1
