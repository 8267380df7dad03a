"""The rules of relays in a fleet, on a made-up clock: two cores over one log and one bus.

Each :class:`Relay` is a :class:`Shell` whose core shares its log (ADR 35): what it takes
waits for :meth:`Fleet.commit`, which numbers it after whatever the log holds, as the real
shell's lane does, and hands every commit to every relay through ``logged``. What a core
announces or tells goes to the other cores at once, as the bus would carry it."""

from dataclasses import dataclass, field

from pairup import protocol as wire
from pairup.relay.core.actions import Action, Announce, Fetch, Tell
from pairup.relay.core.events import StoredEvent, sequenced
from pairup.relay.core.rules import RelayCore

from .kit import Shell, Stored, key_of, new_link


def identity(participant: str) -> str:
    return wire.key_text(wire.public_bytes(key_of(participant)))


class Relay(Shell):
    def __init__(self, fleet: "Fleet", name: str, **limits: object) -> None:
        super().__init__(**limits)
        self.fleet = fleet
        self.name = name
        self.core = RelayCore(
            self.limits, epoch="fleet-epoch", file_limit=4096, now=self.moment(), shared=True
        )
        self.store = fleet.store
        self.fetches: list[Fetch] = []

    def run(self, actions: list[Action] | tuple[()]) -> None:
        """Carry out what is local at once; what goes over the bus goes once this turn is
        over, as a real relay's publish does."""
        self.fleet.depth += 1
        try:
            for action in actions:
                if isinstance(action, Announce | Tell):
                    self.fleet.bus.append((self, action))
                elif isinstance(action, Fetch):
                    self.fetches.append(action)
                else:
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
            assert isinstance(frame, wire.Approve | wire.Deny | wire.Remove)
            self.run(self.core.told(action.session, frame, self.moment()))


@dataclass
class Fleet:
    store: dict[str, Stored] = field(default_factory=dict)
    log: dict[str, list[StoredEvent]] = field(default_factory=dict)
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

    def commit(self, relay: Relay) -> list[StoredEvent]:
        """``relay``'s lane: what it took, less what the log holds, numbered after the log."""
        taken = relay.core.take_sequenced()
        chunk: list[StoredEvent] = []
        for event, _ in taken:
            log = self.log.setdefault(event.session, [])
            if any(stored.id == event.id for stored in log):
                continue
            numbered = sequenced(
                event.session,
                seq=len(log) + 1,
                id=event.id,
                sender=event.sender,
                at=event.at,
                body=event.body,
            )
            log.append(numbered)
            chunk.append(numbered)
        for each in self.relays:
            for session in {event.session for event in chunk}:
                mine = [event for event in chunk if event.session == session]
                each.run(each.core.logged(session, mine))
        return chunk


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
    fleet.commit(one)  # its copy is in the log already
    assert [e.id for e in fleet.log[link.session]] == ["ann-0001"]
    two.publish(again, link, "ann", "ann-0001")
    assert [(ack.id, ack.seq) for ack in again.of(wire.Ack)] == [("ann-0001", 1)]
    assert one.core.rooms[link.session].pending == set()


def test_a_gap_in_what_reaches_a_relay_is_read_back_before_anything_after_it():
    fleet = Fleet()
    one = fleet.relay("one")
    link = new_link()
    ann = one.hello(link, "ann", create=True)
    later = sequenced(link.session, seq=2, id="bob-0002", sender="bob", at=1.0, body="b")
    one.run(one.core.logged(link.session, [later]))
    assert [(f.session, f.after) for f in one.fetches] == [(link.session, 0)]
    assert ann.of(wire.Sequenced) == []
    first = sequenced(link.session, seq=1, id="bob-0001", sender="bob", at=1.0, body="a")
    one.run(one.core.logged(link.session, [first, later, first]))
    assert [e.seq for e in ann.of(wire.Sequenced)] == [1, 2]


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
    two.hold_binds = True  # The store answers later, as it does.
    one.frame(ann, wire.Approve(participant="bob", identity=identity("bob")))
    assert ann.of(wire.Presence)[-1] == wire.Presence(connected=("ann",))
    two.answer_binds()
    assert len(bob.of(wire.Welcome)) == 1
    assert ann.of(wire.Presence)[-1] == wire.Presence(connected=("ann", "bob"))
    # Back later at relay one, bob does not wait again.
    again = one.hello(link, "bob")
    assert len(again.of(wire.Welcome)) == 1


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
    assert bob.ended is not None
    assert bob.ended[1] == wire.Close.REMOVED
    assert ann.of(wire.Presence)[-1].connected == ("ann",)
    back = two.hello(link, "bob")
    assert back.of(wire.Waiting)
    assert not back.of(wire.Welcome)
