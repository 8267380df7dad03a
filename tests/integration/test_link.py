"""Real client links against a real relay on loopback: fan-out, reconnects, restarts, re-seeds.

Every link keeps its journal in its own directory under ``tmp_path`` and runs ``Link.run()`` as
a task. Conditions are awaited by polling with a deadline, and a link whose task dies makes the
wait fail at once with that task's exception instead of a timeout.
"""

import asyncio
import contextlib
import datetime
import ssl
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from pairup import identity
from pairup import protocol as wire
from pairup.journal import journal_path, load
from pairup.link.client import EventTooLarge, Link, WatchOnly
from pairup.link.core import WAITING
from pairup.link.timekeeper import new_id
from pairup.relay.server import Limits, Relay
from pairup.relay.store import Store
from pairup.session import State, fold
from pairup.session import events as ev

from .relaykit import (
    LOOPBACK,
    Peer,
    PinnedJitter,
    RunningRelay,
    free_port,
    new_session,
    relay_on,
    running_relay,
    sealed_body,
)

WAIT = 10.0


def run(coroutine):
    return asyncio.run(coroutine)


class Crew:
    """Links running as tasks, each with the list of connection states it went through."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.tasks: dict[Link, asyncio.Task[None]] = {}
        self.states: dict[Link, list[str]] = {}

    def link(
        self, join: wire.JoinLink, participant: str, *, start: bool = True, **options: object
    ) -> Link:
        options.setdefault("rng", PinnedJitter())
        link = Link(join, participant, self.tmp_path / participant, **options)  # type: ignore[arg-type]
        states: list[str] = []
        self.states[link] = states

        def record() -> None:
            if not states or states[-1] != link.status.state:
                states.append(link.status.state)

        link.listeners.append(record)
        if start:
            self.start(link)
        return link

    def start(self, link: Link) -> None:
        self.tasks[link] = asyncio.create_task(link.run(), name=f"link-{link.participant}")

    def check(self) -> None:
        """Fail at once if a link's ``run()`` ended on its own: it raised, or gave up."""
        for link, task in self.tasks.items():
            if not task.done():
                continue
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
            status = link.status
            raise AssertionError(
                f"{link.participant}'s link stopped by itself: {status.state} ({status.reason})"
            )

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            self.check()
            if time.monotonic() > deadline:
                seen = {
                    link.participant: (link.status.state, link.status.reason)
                    for link in self.states
                }
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting until {what}; links: {seen}"
                )
            await asyncio.sleep(0.02)
        self.check()

    async def connected(self, *links: Link) -> None:
        await self.until(
            lambda: all(link.status.state == "connected" for link in links),
            f"{[link.participant for link in links]} are connected",
        )

    async def stop(self, link: Link) -> None:
        await link.close()
        task = self.tasks.pop(link)
        await asyncio.wait_for(task, WAIT)

    async def close(self) -> None:
        for link in list(self.tasks):
            with contextlib.suppress(Exception):
                await self.stop(link)


@contextlib.asynccontextmanager
async def crew_in(tmp_path: Path) -> AsyncIterator[Crew]:
    crew = Crew(tmp_path)
    try:
        yield crew
    finally:
        await crew.close()


async def introduce(link: Link, name: str) -> None:
    person = ev.Participant(id=link.participant, name=name, email=f"{name}@example.test")
    await link.submit(
        ev.ParticipantJoined(id=new_id(), actor=link.participant, at=link.now(), participant=person)
    )


async def record(link: Link, title: str, context: str = "c") -> ev.DecisionRecorded:
    """Record a decision with the given text; returns the event as submitted."""
    event = ev.DecisionRecorded(
        id=new_id(),
        actor=link.participant,
        at=link.now(),
        decision_id=new_id(),
        title=title,
        context=context,
        decision="d",
        consequences="q",
    )
    await link.submit(event)
    return event


async def decide(link: Link, title: str) -> str:
    """Record a decision; returns its decision id."""
    return (await record(link, title)).decision_id


def decision_ids(link: Link) -> list[str]:
    return [decision.id for decision in link.confirmed.decisions_in_order()]


def has_decisions(links: list[Link], count: int) -> Callable[[], bool]:
    return lambda: all(
        len(link.confirmed.decisions) == count and not link.pending for link in links
    )


def journaled_state(link: Link) -> State:
    """What the link's journal on disk folds to, counting only relay-sequenced events."""
    contents = load(journal_path(link.data_dir, link.join.session))
    return fold(event for event in contents.events if event.seq is not None)


def assert_agreement(links: list[Link], decided: list[str], events: int) -> None:
    """Every link has the same confirmed state, holding each decision and event exactly once."""
    first = links[0].confirmed
    order = decision_ids(links[0])
    assert sorted(order) == sorted(decided)
    for link in links:
        assert link.confirmed == first, f"{link.participant} disagrees with {links[0].participant}"
        assert decision_ids(link) == order
        assert link.pending == {}
        assert link.confirmed.last_seq == events, "an event was sequenced more than once"
        assert journaled_state(link) == link.confirmed


def assert_stored_once(relay: RunningRelay, session: str, events: int) -> None:
    stored = relay.store.events_after(session, 0)
    assert [event.seq for event in stored] == list(range(1, events + 1))
    assert len({event.id for event in stored}) == events


def went_through(states: list[str], expected: list[str]) -> bool:
    """Whether ``expected`` occurs in ``states`` in this order (other states may come between)."""
    remaining = iter(states)
    return all(state in remaining for state in expected)


def join_link(relay_url: str) -> tuple[wire.JoinLink, str]:
    session, secret = new_session()
    return wire.JoinLink(relay_url, session, secret), session


# -- fan-out and agreement ------------------------------------------------------------------------


def test_two_links_see_each_others_decisions_and_agree(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)  # the host creates the session first
            bob = crew.link(join, "bob")
            await crew.connected(ann, bob)
            await introduce(ann, "ann")
            await introduce(bob, "bob")
            decided = [await decide(ann, "Use SQLite"), await decide(bob, "Use JSON Lines")]
            decided.append(await decide(ann, "Use websockets"))
            await crew.until(has_decisions([ann, bob], 3), "both links have 3 decisions")
            assert_agreement([ann, bob], decided, events=5)
            assert {m.id for m in ann.confirmed.present} == {"ann", "bob"}
            assert_stored_once(relay, session, 5)

    run(scenario())


def test_three_links_deciding_at_once_agree_on_one_order(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            links = [crew.link(join, "ann", create=True)]
            await crew.connected(links[0])  # the host creates the session first
            links += [crew.link(join, name) for name in ("bob", "cy")]
            await crew.connected(*links)
            for link in links:
                await introduce(link, link.participant)
            decided: list[str] = []
            for round_ in range(3):
                decided += await asyncio.gather(
                    *(decide(link, f"{link.participant} decides {round_}") for link in links)
                )
            await crew.until(has_decisions(links, 9), "all three links have 9 decisions")
            assert_agreement(links, decided, events=12)
            assert [d.number for d in links[0].confirmed.decisions_in_order()] == list(range(1, 10))
            assert_stored_once(relay, session, 12)

    run(scenario())


# -- dropped connections and restarted relays ------------------------------------------------------


def test_a_dropped_link_reconnects_gets_what_it_missed_and_sends_its_outbox_once(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)  # the host creates the session first
            # Bob waits a little longer before reconnecting, so the gap is real.
            bob = crew.link(join, "bob", rng=PinnedJitter(1.0))
            await crew.connected(ann, bob)
            await introduce(ann, "ann")
            await introduce(bob, "bob")
            decided = [await decide(ann, "before the drop")]
            await crew.until(has_decisions([ann, bob], 1), "bob has the first decision")

            assert bob._ws is not None
            await bob._ws.close()
            decided.append(await decide(bob, "bob while offline 1"))
            decided.append(await decide(bob, "bob while offline 2"))
            decided.append(await decide(ann, "ann while bob is away"))
            assert len(bob.pending) == 2

            await crew.until(has_decisions([ann, bob], 4), "both links have all 4 decisions")
            assert went_through(crew.states[bob], ["connected", "reconnecting", "connected"])
            assert bob.status.state == "connected"
            assert "reconnecting" not in crew.states[ann]
            assert_agreement([ann, bob], decided, events=6)
            assert_stored_once(relay, session, 6)

            decided.append(await decide(bob, "after the reconnect"))
            await crew.until(has_decisions([ann, bob], 5), "the next decision flows")
            assert_agreement([ann, bob], decided, events=7)

    run(scenario())


def test_a_relay_restarted_on_its_data_keeps_the_epoch_and_the_links_carry_on(tmp_path):
    async def scenario():
        port = free_port()
        async with crew_in(tmp_path) as crew:
            join, session = join_link(f"ws://{LOOPBACK}:{port}")
            async with relay_on(port, tmp_path / "relay") as relay:
                epoch = relay.store.epoch
                ann = crew.link(join, "ann", create=True)
                await crew.connected(ann)  # the host creates the session first
                bob = crew.link(join, "bob")
                await crew.connected(ann, bob)
                await introduce(ann, "ann")
                await introduce(bob, "bob")
                decided = [await decide(ann, "one"), await decide(bob, "two")]
                await crew.until(has_decisions([ann, bob], 2), "both have 2 decisions")
                assert ann.epoch == bob.epoch == epoch
            await crew.until(
                lambda: ann.status.state == bob.status.state == "reconnecting",
                "both links notice the relay is gone",
            )
            decided.append(await decide(ann, "ann while the relay is down"))
            decided.append(await decide(bob, "bob while the relay is down"))
            assert len(ann.pending) == len(bob.pending) == 1

            async with relay_on(port, tmp_path / "relay") as relay:
                assert relay.store.epoch == epoch
                await crew.until(has_decisions([ann, bob], 4), "the outboxes reach everyone")
                await crew.connected(ann, bob)
                assert ann.epoch == bob.epoch == epoch
                assert_agreement([ann, bob], decided, events=6)
                assert_stored_once(relay, session, 6)
                decided.append(await decide(bob, "after the restart"))
                await crew.until(has_decisions([ann, bob], 5), "new decisions flow")
                assert_agreement([ann, bob], decided, events=7)
            for link in (ann, bob):
                assert crew.states[link].count("connected") == 2
                backups = list((link.data_dir / "sessions").glob("*.bak"))
                assert backups == [], "a restart with the same epoch must not re-seed"

    run(scenario())


async def swap_for_an_empty_relay(tmp_path: Path, first: str, second: str) -> None:
    """Ann (host) and Bob decide on one relay, which is then replaced by an empty one.

    ``first`` is the participant whose backoff brings it to the new relay first.
    """
    port = free_port()
    async with crew_in(tmp_path) as crew:
        join, session = join_link(f"ws://{LOOPBACK}:{port}")
        jitter = {first: PinnedJitter(0.0), second: PinnedJitter(1.0)}
        async with relay_on(port, tmp_path / "old-relay") as relay:
            old_epoch = relay.store.epoch
            ann = crew.link(join, "ann", create=True, rng=jitter["ann"])
            await crew.connected(ann)  # the host creates the session first
            bob = crew.link(join, "bob", rng=jitter["bob"])
            await crew.connected(ann, bob)
            await introduce(ann, "ann")
            await introduce(bob, "bob")
            decided = [await decide(ann, "one"), await decide(bob, "two")]
            decided += [await decide(bob, "three"), await decide(ann, "four")]
            await crew.until(has_decisions([ann, bob], 4), "both have 4 decisions")
            before = ann.confirmed
            order = decision_ids(ann)
        await crew.until(
            lambda: ann.status.state == bob.status.state == "reconnecting",
            "both links notice the relay is gone",
        )
        async with relay_on(port, tmp_path / "new-relay") as relay:
            assert relay.store.epoch != old_epoch
            await crew.until(
                lambda: all(link.epoch == relay.store.epoch for link in (ann, bob)),
                "both links reach the new relay",
            )
            await crew.until(has_decisions([ann, bob], 4), "the journals re-seed the relay")
            await crew.connected(ann, bob)
            for link in (ann, bob):
                assert link.confirmed == before, f"{link.participant} lost or changed something"
                assert decision_ids(link) == order
            assert_agreement([ann, bob], decided, events=6)
            assert_stored_once(relay, session, 6)

            decided.append(await decide(bob, "after the re-seed"))
            decided.append(await decide(ann, "also after the re-seed"))
            await crew.until(has_decisions([ann, bob], 6), "new decisions flow")
            assert_agreement([ann, bob], decided, events=8)
            assert_stored_once(relay, session, 8)
            assert decision_ids(ann)[:4] == order


def test_a_lone_link_reseeds_an_empty_relay_with_its_own_events(tmp_path):
    """The simplest re-seed: one participant, whose journal holds only its own events."""

    async def scenario():
        port = free_port()
        async with crew_in(tmp_path) as crew:
            join, session = join_link(f"ws://{LOOPBACK}:{port}")
            async with relay_on(port, tmp_path / "old-relay"):
                ann = crew.link(join, "ann", create=True)
                await crew.connected(ann)
                await introduce(ann, "ann")
                decided = [await decide(ann, "one"), await decide(ann, "two")]
                await crew.until(has_decisions([ann], 2), "ann has 2 decisions")
                before = ann.confirmed
            await crew.until(lambda: ann.status.state == "reconnecting", "ann notices")
            async with relay_on(port, tmp_path / "new-relay") as relay:
                await crew.until(lambda: ann.epoch == relay.store.epoch, "ann reaches it")
                await crew.until(has_decisions([ann], 2), "ann's journal re-seeds the relay")
                assert ann.confirmed == before
                assert_stored_once(relay, session, 3)
                decided.append(await decide(ann, "after the re-seed"))
                await crew.until(has_decisions([ann], 3), "new decisions flow")
                assert_agreement([ann], decided, events=4)
            backups = list((ann.data_dir / "sessions").glob("*.bak"))
            assert len(backups) == 1, "the old journal is kept beside the new one"

    run(scenario())


def test_a_relay_replaced_by_an_empty_one_is_reseeded_from_the_journals(tmp_path):
    run(swap_for_an_empty_relay(tmp_path, first="ann", second="bob"))


def test_a_guest_who_reaches_an_empty_relay_first_recreates_the_session(tmp_path):
    """ADR 7: "The first client back re-creates the session ... and every client re-seeds it"."""
    run(swap_for_an_empty_relay(tmp_path, first="bob", second="ann"))


# -- a link restarted from its journal ----------------------------------------------------------


def test_a_restarted_link_restores_its_state_from_the_journal_and_resends_its_outbox(tmp_path):
    async def scenario():
        port = free_port()
        async with crew_in(tmp_path) as crew:
            join, session = join_link(f"ws://{LOOPBACK}:{port}")
            async with relay_on(port, tmp_path / "relay"):
                ann = crew.link(join, "ann", create=True)
                await crew.connected(ann)  # the host creates the session first
                bob = crew.link(join, "bob")
                await crew.connected(ann, bob)
                await introduce(ann, "ann")
                await introduce(bob, "bob")
                decided = [await decide(ann, "one"), await decide(bob, "two")]
                await crew.until(has_decisions([ann, bob], 2), "both have 2 decisions")
            await crew.until(lambda: ann.status.state == "reconnecting", "ann notices")
            offline = [await decide(ann, "offline one"), await decide(ann, "offline two")]
            decided += offline
            confirmed = ann.confirmed
            pending = set(ann.pending)
            epoch = ann.epoch
            await crew.stop(ann)

            again = crew.link(join, "ann", create=True, start=False)
            seen_at_first_change: list[tuple[State, set[str], str]] = []
            again.listeners.insert(
                0,
                lambda: (
                    seen_at_first_change
                    or seen_at_first_change.append(
                        (again.confirmed, set(again.pending), again.status.state)
                    )
                ),
            )
            crew.start(again)
            await crew.until(lambda: again.status.state == "reconnecting", "the new link tries")
            state, outbox, status = seen_at_first_change[0]
            assert status == "reconnecting"
            assert state == confirmed, "the confirmed state is not what the journal holds"
            assert outbox == pending
            assert again.confirmed == confirmed
            assert again.epoch == epoch
            assert len(again.confirmed.decisions) == 2

            async with relay_on(port, tmp_path / "relay") as relay:
                await crew.until(has_decisions([again, bob], 4), "the outbox reaches everyone")
                assert_agreement([again, bob], decided, events=6)
                assert_stored_once(relay, session, 6)
                assert {d.id for d in bob.confirmed.decisions_in_order()[2:]} == set(offline)

    run(scenario())


def test_an_event_submitted_as_the_link_starts_is_journaled_and_sent(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await introduce(ann, "ann")
            decided = [await decide(ann, "right away")]
            await crew.until(has_decisions([ann], 1), "the decision is confirmed")
            assert_agreement([ann], decided, events=2)
            assert_stored_once(relay, session, 2)

    run(scenario())


def test_events_leave_in_the_order_they_were_asked_for_even_while_the_link_journals(tmp_path):
    """A decision recorded while the join was on its way goes out when the join is in the log,
    while the link writes that to its journal; one asked for in that moment must not overtake
    it (the session's log starts with the host's join and rules, whoever says what next)."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            for round_ in range(30):
                join, session = join_link(relay.url)
                ann = crew.link(join, f"ann{round_}", create=True)
                await crew.connected(ann)
                person = ev.Participant(id=ann.participant, name="Ann")
                joining = ev.ParticipantJoined(
                    id=new_id(), actor=ann.participant, at=ann.now(), participant=person
                )
                await ann.submit(joining)
                joined = joining.id
                first = await record(ann, "asked for first")

                async def right_after_the_join(ann: Link = ann, joined: str = joined) -> str:
                    while joined in ann.pending:
                        await asyncio.sleep(0)
                    return (await record(ann, "asked for next")).id

                second = await right_after_the_join()
                await crew.until(lambda ann=ann: not ann.pending, "both are in the log")
                stored = [event.id for event in relay.store.events_after(session, 0)]
                assert stored == [joined, first.id, second], f"round {round_}"
                await crew.stop(ann)

    run(scenario())


# -- refusal and the clock -------------------------------------------------------------------------


def test_a_wrong_secret_leaves_the_link_offline_with_a_reason(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)
            _, other_secret = new_session()
            eve = crew.link(wire.JoinLink(join.relay, session, other_secret), "eve")
            await asyncio.wait_for(crew.tasks.pop(eve), WAIT)
            assert eve.status.state == "offline"
            assert "not admitted" in eve.status.reason
            assert "connected" not in crew.states[eve]
            assert ann.status.state == "connected"
            await introduce(ann, "ann")
            decided = [await decide(ann, "still fine")]
            await crew.until(has_decisions([ann], 1), "ann carries on")
            assert_agreement([ann], decided, events=2)

    run(scenario())


def test_the_link_clock_is_corrected_to_the_relays(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, _ = join_link(relay.url)
            ann = crew.link(
                join, "ann", create=True, clock=lambda: time.time() - 30.0, ping_interval=0.1
            )
            assert abs(ann.now() - (time.time() - 30.0)) < 0.5
            await crew.connected(ann)
            await crew.until(
                lambda: ann.offset.uncertainty is not None and abs(ann.now() - time.time()) < 0.5,
                "the link's clock reads the relay's time",
            )
            assert abs(ann.offset.seconds - 30.0) < 0.5

    run(scenario())


def test_a_session_expired_and_created_again_under_the_same_epoch_is_reseeded(tmp_path):
    """Same epoch, shorter log: the relay lost the session all the same."""

    async def scenario():
        port = free_port()
        async with crew_in(tmp_path) as crew:
            join, session = join_link(f"ws://{LOOPBACK}:{port}")
            async with relay_on(port, tmp_path / "relay") as relay:
                ann = crew.link(join, "ann", create=True)
                await crew.connected(ann)
                await introduce(ann, "ann")
                decided = [await decide(ann, "one"), await decide(ann, "two")]
                await crew.until(has_decisions([ann], 2), "ann has 2 decisions")
                epoch = relay.store.epoch
            async with relay_on(port, tmp_path / "relay") as relay:
                relay.store.expire(float("inf"))
                await crew.until(lambda: relay.store.session(session) is not None, "ann is back")
                await crew.until(lambda: relay.store.session(session).last_seq == 3, "re-seeded")
                assert relay.store.epoch == epoch
                decided.append(await decide(ann, "three"))
                await crew.until(has_decisions([ann], 3), "new decisions flow")
                assert_agreement([ann], decided, events=4)

    run(scenario())


def test_an_event_too_large_to_send_is_refused_before_the_journal(tmp_path):
    async def scenario():
        async with crew_in(tmp_path) as crew, running_relay(tmp_path / "relay") as relay:
            join, _ = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)
            huge = ev.DecisionRecorded(
                id=new_id(),
                actor="ann",
                at=ann.now(),
                decision_id=new_id(),
                title="Too long",
                context="x" * 20_000,
                decision="y" * 20_000,
                consequences="z" * 20_000,
            )
            with pytest.raises(EventTooLarge, match=f"over {wire.MAX_BODY_BYTES // 1024} KiB"):
                await ann.submit(huge)
            assert huge.id not in ann.pending
            assert all(e.id != huge.id for e in load(ann._journal.path).events)

    run(scenario())


# -- protocol 4: sealed bodies, watchers, pinned certificates -------------------------------------


def test_a_body_the_relay_altered_is_reported_unauthentic_and_the_session_goes_on(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)
            await introduce(ann, "ann")
            await crew.until(lambda: not ann.pending, "ann has joined")
            mallory = await Peer.join(relay.url, session, join.secret, "mallory")
            # Sealed for another event id: it opens as nothing this session made.
            body = sealed_body(session, join.secret, "mallory", "another-event-id", "{}")
            await mallory.ws.send(
                wire.encode(wire.Publish(id="x" * 16, sender="mallory", body=body))
            )
            await mallory.until(wire.Sequenced)
            await mallory.close()
            decided = [await decide(ann, "still fine")]
            await crew.until(has_decisions([ann], 1), "ann carries on")
            seen = []
            while not ann.applied.empty():
                seen.append(ann.applied.get_nowait())
            (unauthentic,) = [applied for applied in seen if applied.unauthentic]
            assert unauthentic.event is None
            assert (unauthentic.seq, unauthentic.sender) == (2, "mallory")
            assert ann.confirmed.last_seq == 3
            assert decision_ids(ann) == decided
            assert journaled_state(ann).last_seq == 3

    run(scenario())


def test_a_watcher_sees_the_session_live_changes_nothing_and_is_shown_as_watching(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, _ = join_link(relay.url)
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)
            await introduce(ann, "ann")
            decided = [await decide(ann, "before the watcher")]
            wendy = crew.link(join.watching(), "wendy", name="Wendy")
            assert wendy.watching_only
            await crew.connected(wendy)
            await crew.until(lambda: ann.watchers == {"wendy": "Wendy"}, "ann sees wendy watch")
            assert "wendy" not in ann.online
            decided.append(await decide(ann, "while watched"))
            await crew.until(has_decisions([ann, wendy], 2), "wendy sees both decisions")
            with pytest.raises(WatchOnly, match="you are watching this session"):
                await record(wendy, "from the watcher")
            assert wendy.pending == {}
            assert journaled_state(wendy) == wendy.confirmed == ann.confirmed
            assert decision_ids(wendy) == decided

    run(scenario())


def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, bytes]:
    """A TLS context serving a self-signed certificate made now, and the certificate (DER)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pairup test relay")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    return context, certificate.public_bytes(serialization.Encoding.DER)


@contextlib.asynccontextmanager
async def tls_relay(tmp_path: Path) -> AsyncIterator[tuple[str, bytes]]:
    """A real relay serving wss:// on loopback with a self-signed certificate: its address
    and the certificate."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    context, certificate = self_signed(tmp_path)
    store = Store.open(tmp_path / "relay.sqlite3")
    relay = Relay(store, limits=Limits(reject_delay=0.05))
    server = await relay.start(LOOPBACK, 0, ssl=context)
    try:
        yield f"wss://{LOOPBACK}:{server.sockets[0].getsockname()[1]}", certificate
    finally:
        await relay.stop(server)
        store.close()


def test_a_link_that_pins_the_relays_self_signed_certificate_takes_part_over_wss(tmp_path):
    async def scenario():
        async with tls_relay(tmp_path / "relay") as (url, certificate), crew_in(tmp_path) as crew:
            session, secret = new_session()
            join = wire.JoinLink(url, session, secret, pin=wire.pin_of(certificate))
            ann = crew.link(join, "ann", create=True)
            await crew.connected(ann)  # the host creates the session first
            bob = crew.link(wire.JoinLink.parse(str(join)), "bob")
            await crew.connected(ann, bob)
            await introduce(ann, "ann")
            decided = [await decide(ann, "over TLS")]
            await crew.until(has_decisions([ann, bob], 1), "bob has the decision")
            assert decision_ids(bob) == decided

    run(scenario())


def test_a_relay_showing_another_certificate_than_the_pinned_one_gets_no_hello(tmp_path):
    async def scenario():
        async with tls_relay(tmp_path / "relay") as (url, _), crew_in(tmp_path) as crew:
            session, secret = new_session()
            other = wire.pin_of(b"another certificate")
            eve = crew.link(wire.JoinLink(url, session, secret, pin=other), "eve", create=True)
            await asyncio.wait_for(crew.tasks.pop(eve), WAIT)
            assert eve.status.state == "offline"
            address = url.removeprefix("wss://")
            assert eve.status.reason == (
                f"the relay at {address} shows another certificate than the link's; "
                "ask for the link again"
            )
            assert "connected" not in crew.states[eve]
            assert not journal_path(eve.data_dir, session).exists()

    run(scenario())


def test_a_link_without_the_pin_of_a_relays_own_certificate_stops_and_says_why(tmp_path):
    """A wss:// link cut short of its pin meets a certificate no authority signed: trying
    again would meet it again, so the link stops and says what link to ask for."""

    async def scenario():
        async with tls_relay(tmp_path / "relay") as (url, _), crew_in(tmp_path) as crew:
            session, secret = new_session()
            eve = crew.link(wire.JoinLink(url, session, secret), "eve", create=True)
            await asyncio.wait_for(crew.tasks.pop(eve), WAIT)
            assert eve.status.state == "offline"
            assert "certificate this machine does not trust" in eve.status.reason
            assert "#SECRET.PIN" in eve.status.reason
            assert "connected" not in crew.states[eve]

    run(scenario())


@pytest.mark.parametrize("version", [None, "3"], ids=["no version", "version 3"])
def test_a_relay_that_does_not_say_it_speaks_protocol_4_is_older_and_the_link_stops(
    tmp_path, version
):
    async def scenario():
        def older(connection: ServerConnection, request: Request, response: Response) -> None:
            response.headers[wire.CHALLENGE_HEADER] = wire.new_challenge()
            if version is not None:
                response.headers[wire.VERSION_HEADER] = version

        async def hold(connection: ServerConnection) -> None:
            await connection.wait_closed()

        async with (
            serve(hold, LOOPBACK, 0, process_response=older) as server,
            crew_in(tmp_path) as crew,
        ):
            port = server.sockets[0].getsockname()[1]
            join, _ = join_link(f"ws://{LOOPBACK}:{port}")
            ann = crew.link(join, "ann", create=True)
            await asyncio.wait_for(crew.tasks.pop(ann), WAIT)
            assert ann.status.state == "offline"
            assert "runs an older pairup: upgrade it" in ann.status.reason

    run(scenario())


# -- protocol 4: the host lets newcomers in, and anyone may be taken out -------------------------


async def knocks(crew: Crew, host: Link, newcomer: Link) -> None:
    await crew.until(
        lambda: (
            newcomer.status.state == "waiting"
            and any(knock.participant == newcomer.participant for knock in host.knocking)
        ),
        f"{newcomer.participant} waits and {host.participant} sees the knock",
    )


def test_a_newcomer_waits_until_the_host_lets_them_in_by_the_name_and_fingerprint_shown(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann = crew.link(join, "ann", create=True, approve=True)
            await crew.connected(ann)
            assert (ann.host, ann.approve) == ("ann", True)
            await introduce(ann, "ann")
            bob = crew.link(join, "bob", name="Bob", ping_interval=0.05)
            await knocks(crew, ann, bob)
            assert bob.status.reason == WAITING
            (knock,) = ann.knocking
            key = identity.load_or_make(bob.data_dir, session, "bob")
            assert (knock.name, knock.returning) == ("Bob", False)
            assert knock.fingerprint == wire.fingerprint(wire.public_bytes(key))
            # Waiting outlasts three ping intervals: no watchdog cuts it.
            await asyncio.sleep(0.3)
            assert crew.states[bob][-1] == "waiting"
            assert await ann.let_in("bob")
            await crew.connected(bob)
            await crew.until(lambda: ann.knocking == (), "nobody knocks any more")
            await introduce(bob, "bob")
            decided = [await decide(bob, "let in")]
            await crew.until(has_decisions([ann, bob], 1), "both have bob's decision")
            assert_agreement([ann, bob], decided, events=3)
            assert not await ann.let_in("carol")

    run(scenario())


def test_a_newcomer_the_host_turns_away_stops_with_the_relays_reason(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, _ = join_link(relay.url)
            ann = crew.link(join, "ann", create=True, approve=True)
            await crew.connected(ann)
            eve = crew.link(join, "eve", name="Eve")
            await knocks(crew, ann, eve)
            assert await ann.turn_away("eve")
            await asyncio.wait_for(crew.tasks.pop(eve), WAIT)
            assert eve.status.state == "offline"
            assert eve.status.reason
            assert "connected" not in crew.states[eve]
            assert ann.status.state == "connected"

    run(scenario())


def test_a_participant_taken_out_stops_and_comes_back_only_when_let_in(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, _ = join_link(relay.url)
            ann = crew.link(join, "ann", create=True, approve=True)
            await crew.connected(ann)
            bob = crew.link(join, "bob", name="Bob")
            await knocks(crew, ann, bob)
            assert await ann.let_in("bob")
            await crew.connected(bob)
            assert await ann.remove("bob")
            await asyncio.wait_for(crew.tasks.pop(bob), WAIT)
            assert bob.status.state == "offline"
            assert bob.status.reason
            again = crew.link(join, "bob", name="Bob")
            await knocks(crew, ann, again)
            (knock,) = ann.knocking
            assert knock.returning

    run(scenario())


def test_a_newcomer_whose_host_is_away_waits_says_so_and_can_still_close(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, _ = join_link(relay.url)
            ann = crew.link(join, "ann", create=True, approve=True)
            await crew.connected(ann)
            await crew.stop(ann)
            bob = crew.link(join, "bob", name="Bob")
            await crew.until(lambda: bob.status.state == "waiting", "bob waits")
            assert bob.status.reason == f"{WAITING} (the host is not connected)"
            # Closing a link that waits ends it at once, not once the host answers.
            await asyncio.wait_for(crew.stop(bob), 2.0)
            assert (bob.status.state, bob.status.reason) == ("offline", "closed")

    run(scenario())
