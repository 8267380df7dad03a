"""Nobody in a session acts for someone else (issue 18): attacks by someone who holds the link,
against a real relay on loopback, with raw protocol clients and real links with real journals.

Each test is an attack the code before protocol 3 let through: a replayed hello, the host's id
taken with another key, joins in a partner's or a famous name, a body that passes for a
re-seeded event in someone else's name, a guest ending the session or rewriting the host's
decision, phantom participants filling the seats, an event signed by nobody.
"""

import asyncio
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect

from pairup import identity
from pairup import protocol as wire
from pairup.journal import journal_path, load
from pairup.link.client import Applied, Link
from pairup.link.presence import keep_presence
from pairup.link.timekeeper import new_id
from pairup.session import encode_event
from pairup.session import events as ev
from pairup.session.credit import co_authors

from .relaykit import (
    Peer,
    RunningRelay,
    hello_text,
    key_of,
    new_session,
    next_frame,
    refusal,
    running_relay,
)
from .test_link import Crew, crew_in, decide, introduce, join_link, journaled_state, record

LINUS = ev.Person(name="Linus Torvalds", email="torvalds@linux-foundation.org")
IMPOSTOR = ev.Person(name="Bob Impostor", email="impostor@evil.test")
SHA = "c0ffee" + "0" * 34


def run(coroutine):
    return asyncio.run(coroutine)


# -- making events by hand, as an attacker does ----------------------------------------------------


def joined(actor: str, who: str, person: ev.Person = LINUS, **fields: object) -> ev.Event:
    participant = ev.Participant(id=who, name=person.name, email=person.email)
    return ev.ParticipantJoined(
        id=new_id(), actor=actor, at=time.time(), participant=participant, **fields
    )


def body(event: ev.Event, session: str, key: Ed25519PrivateKey | None) -> str:
    """The event as published: signed with ``key`` (whoever's it is), or not at all."""
    if key is not None:
        event = identity.signed(event, session, key)
    return encode_event(event).decode()


async def publish(peer: Peer, session: str, event: ev.Event, key: Ed25519PrivateKey | None) -> None:
    """Publish ``event`` from a raw connection and wait until the relay has sequenced it."""
    await peer.publish(body(event, session, key), event.id)
    async with asyncio.timeout(5):
        while True:
            frame = await next_frame(peer.ws)
            if isinstance(frame, wire.Sequenced) and frame.id == event.id:
                return


async def mallory_joins(join: wire.JoinLink) -> Peer:
    """Mallory holds the link: she enters with her own key and joins, as anyone may."""
    peer = await Peer.join(join.relay, join.session, join.secret, "mallory")
    me = joined("mallory", "mallory", ev.Person(name="Mallory", email="mallory@evil.test"))
    await publish(peer, join.session, me, key_of("mallory"))
    return peer


async def everyone_has(
    crew: Crew, relay: RunningRelay, session: str, links: list[Link], events: int
) -> None:
    """The relay stored ``events`` events, and every link has been given each of them (and
    applied, refused, or found it forged)."""

    def done() -> bool:
        record = relay.store.session(session)
        return (
            record is not None
            and record.last_seq == events
            and all(link.confirmed.last_seq == events for link in links)
        )

    await crew.until(done, f"every link has the {events} events")


def outcomes(link: Link) -> dict[str, Applied]:
    """What happened to each event the link has been given so far, by event id."""
    seen = {}
    while not link.applied.empty():
        applied = link.applied.get_nowait()
        if applied.event is not None:
            seen[applied.event.id] = applied
    return seen


async def team(crew: Crew, join: wire.JoinLink, *names: str) -> list[Link]:
    """Real links for ``names``, the first the host, each connected and joined in turn."""
    links = []
    for n, name in enumerate(names):
        link = crew.link(join, name, create=n == 0)
        await crew.connected(link)
        await introduce(link, name)
        await crew.until(lambda link=link: not link.pending, f"{name} has joined")
        links.append(link)
    return links


def names(people: list[ev.Participant] | tuple[ev.Person, ...]) -> set[str]:
    return {person.name for person in people} | {person.email for person in people}


# -- admission -------------------------------------------------------------------------------------


def test_a_hello_captured_on_the_wire_and_replayed_on_another_connection_is_not_admitted(tmp_path):
    """A hello proves the link for the challenge of the connection it was made for: whoever
    captured Bob's cannot enter with it, while Bob is connected or after, and Bob's
    connection is not disturbed."""

    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob_ws = await connect(f"{relay.url}/s/{session}", compression=None)
            captured = hello_text(bob_ws, relay.url, session, secret, "bob")
            await bob_ws.send(captured)
            welcome = await next_frame(bob_ws)
            assert isinstance(welcome, wire.Welcome)
            bob = Peer(bob_ws, welcome, "bob", session, secret)
            for _ in range(3):
                eve = await connect(f"{relay.url}/s/{session}", compression=None)
                await eve.send(captured)
                assert await refusal(eve) == (wire.Close.NOT_ADMITTED, wire.Close.NOT_ADMITTED)
            event_id = await ann.publish()
            assert [e.id for e in await bob.until(wire.Sequenced)] == [event_id]
            await bob.close()
            eve = await connect(f"{relay.url}/s/{session}", compression=None)
            await eve.send(captured)
            assert await refusal(eve) == (wire.Close.NOT_ADMITTED, wire.Close.NOT_ADMITTED)
            await ann.close()

    run(scenario())


def test_the_hosts_id_with_another_key_is_refused_again_and_again_and_the_host_stays(tmp_path):
    """Someone holding the link reconnects as the host, with a key of their own, five times:
    each is refused with 1008 before anything happens to the host's connection, which keeps
    receiving (and sending) events."""

    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob = await Peer.join(relay.url, session, secret, "bob")
            for n in range(1, 6):
                eve = await connect(f"{relay.url}/s/{session}", compression=None)
                impostor = Ed25519PrivateKey.generate()
                await eve.send(hello_text(eve, relay.url, session, secret, "ann", key=impostor))
                assert await refusal(eve) == (wire.Close.POLICY, wire.Close.POLICY)
                event_id = await bob.publish()
                for peer in (ann, bob):
                    (seen,) = await peer.until(wire.Sequenced)
                    assert (seen.id, seen.seq) == (event_id, n)
                assert ann.ws.close_code is None
            event_id = await ann.publish()
            assert [e.id for e in await bob.until(wire.Sequenced)] == [event_id]
            assert relay.store.identities(session)["ann"] == wire.public_bytes(key_of("ann"))
            await ann.close()
            await bob.close()

    run(scenario())


# -- joins and credit ------------------------------------------------------------------------------


def test_joins_in_a_partners_name_or_a_famous_name_change_nobody_and_credit_nobody(tmp_path):
    """Mallory publishes joins for Bob's id with another name and email, and for an id nobody
    owns with a famous name, as herself and as if re-seeded in Bob's name; then a commit
    crediting both names. Every link still shows Bob as Bob, nobody new joined, and neither
    name is credited, on the commit or on anyone's next one."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann, bob, mallory = await team(crew, join, "ann", "bob", "mallory")
            before = {
                link.participant: link.confirmed.member(link.participant) for link in (ann, bob)
            }
            now = mallory.now()
            attacks = [
                joined("mallory", "bob", IMPOSTOR),
                joined("mallory", "linus", LINUS),
                joined("bob", "bob", IMPOSTOR, stamped_at=now),
            ]
            for attack in attacks:
                await mallory.submit(attack)
            commit = ev.CommitRecorded(
                id=new_id(),
                actor="mallory",
                at=now,
                sha=SHA,
                summary="Rewrite everything",
                author=ev.Person(name="Mallory", email="mallory@evil.test"),
                co_authors=(LINUS, IMPOSTOR),
            )
            await mallory.submit(commit)
            links = [ann, bob, mallory]
            await everyone_has(crew, relay, session, links, events=7)
            for link in links:
                state = link.confirmed
                assert [m.id for m in state.members] == ["ann", "bob", "mallory"]
                for participant, member in before.items():
                    assert state.member(participant) == member, link.participant
                assert state.commits[SHA].co_authors == ()
                credited = names(co_authors(state, "ann", "all-participants"))
                assert not credited & names([LINUS, IMPOSTOR]), link.participant
                assert journaled_state(link) == state
                seen = outcomes(link)
                assert seen[attacks[0].id].rejected
                assert seen[attacks[1].id].rejected
                assert seen[attacks[2].id].forged

    run(scenario())


@pytest.mark.parametrize("how", ["as herself", "as if re-seeded"])
def test_phantoms_one_connection_makes_up_fill_no_seat(tmp_path, how):
    """A session of three seats: Ann, then Mallory, whose one connection publishes joins for 8
    made-up ids (in her own name, or each as if re-seeded and signed by a key made for it).
    None of them takes a seat or a share of the credit: Cy, a real third participant, still
    joins."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            (ann,) = await team(crew, join, "ann")
            rules = ev.SessionSettings(max_participants=3)
            await ann.submit(
                ev.SessionOpened(id=new_id(), actor="ann", at=ann.now(), settings=rules)
            )
            mallory = await mallory_joins(join)
            for n in range(8):
                phantom = f"phantom-{n}"
                person = ev.Person(name=f"Phantom {n}", email=f"{phantom}@evil.test")
                if how == "as herself":
                    await publish(
                        mallory, session, joined("mallory", phantom, person), key_of("mallory")
                    )
                else:
                    made_up = Ed25519PrivateKey.generate()
                    event = joined(phantom, phantom, person, stamped_at=time.time())
                    await publish(mallory, session, event, made_up)
            cy = crew.link(join, "cy")
            await crew.connected(cy)
            await introduce(cy, "cy")
            await everyone_has(crew, relay, session, [ann, cy], events=12)
            for link in (ann, cy):
                state = link.confirmed
                assert {m.id for m in state.present} == {"ann", "mallory", "cy"}, link.participant
                credited = names(co_authors(state, "ann", "all-participants"))
                assert not any(name.startswith("Phantom") for name in credited)
            await mallory.close()

    run(scenario())


# -- times and signatures --------------------------------------------------------------------------


def test_a_body_that_passes_for_a_re_seeded_event_is_not_applied_and_no_time_is_in_the_future(
    tmp_path,
):
    """Mallory publishes bodies that carry their own ``stamped_at``: a decision in Ann's name
    signed by Mallory, one in Ann's name not signed at all, and one of her own dated ten days
    ahead. Ann's and Bob's links apply neither of the first two (and say so), and Mallory's
    decision is dated no later than the relay's time for its offset."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann, bob = await team(crew, join, "ann", "bob")
            mallory = await mallory_joins(join)
            past, future = time.time() - 1000, time.time() + 10 * 86400

            def decision(actor: str, title: str, stamped_at: float) -> ev.DecisionRecorded:
                return ev.DecisionRecorded(
                    id=new_id(),
                    actor=actor,
                    at=stamped_at,
                    stamped_at=stamped_at,
                    decision_id=new_id(),
                    title=title,
                    decision="Whatever Mallory says",
                )

            in_anns_name = decision("ann", "Ann says so", past)
            unsigned = decision("ann", "Ann says so too", past)
            ahead = decision("mallory", "Mallory, in ten days", future)
            await publish(mallory, session, in_anns_name, key_of("mallory"))
            await publish(mallory, session, unsigned, None)
            await publish(mallory, session, ahead, key_of("mallory"))
            await everyone_has(crew, relay, session, [ann, bob], events=6)
            stored_at = {event.id: event.at for event in relay.store.events_after(session, 0)}
            for link in (ann, bob):
                state = link.confirmed
                assert [d.title for d in state.decisions_in_order()] == ["Mallory, in ten days"]
                (kept,) = state.decisions.values()
                assert kept.proposed_at <= stored_at[ahead.id] <= time.time()
                seen = outcomes(link)
                assert seen[in_anns_name.id].forged
                assert "in the name of ann" in seen[in_anns_name.id].rejected
                assert seen[unsigned.id].forged
                assert "in the name of ann" in seen[unsigned.id].rejected
                journaled = load(journal_path(link.data_dir, session)).events
                assert {in_anns_name.id, unsigned.id}.isdisjoint(e.id for e in journaled)
            await mallory.close()

    run(scenario())


def test_an_event_signed_by_nobody_in_the_session_is_reported_and_the_session_goes_on(tmp_path):
    """What a relay making events up would send: a decision by someone who never joined (so
    has no key in the session), and one in Ann's name with a signature of the right shape
    that is nobody's. Each link reports both as not applied, with the reason, keeps them out
    of its journal, and the session carries on."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            ann, bob = await team(crew, join, "ann", "bob")
            relay_peer = await Peer.join(relay.url, session, join.secret, "relay")
            nobody = ev.DecisionRecorded(
                id=new_id(), actor="relay", at=time.time(), decision_id=new_id(), title="Made up"
            )
            await publish(relay_peer, session, nobody, Ed25519PrivateKey.generate())
            bad = ev.DecisionRecorded(
                id=new_id(),
                actor="ann",
                at=time.time(),
                stamped_at=time.time(),
                decision_id=new_id(),
                title="Ann never said this",
                sig="A" * 86,
            )
            await publish(relay_peer, session, bad, None)
            decided = await record(ann, "Ann said this")
            await everyone_has(crew, relay, session, [ann, bob], events=5)
            for link in (ann, bob):
                assert list(link.confirmed.decisions) == [decided.decision_id]
                seen = outcomes(link)
                assert seen[nobody.id].forged
                assert "no key" in seen[nobody.id].rejected
                assert seen[bad.id].forged
                # Not a re-seeded log: nobody may publish in Ann's name, signed or not.
                assert "in the name of ann" in seen[bad.id].rejected
                assert seen[decided.id].rejected is None
                assert journaled_state(link) == link.confirmed
            await relay_peer.close()

    run(scenario())


# -- a guest's reach, through real links -----------------------------------------------------------


def test_a_guest_cannot_remove_a_partner_end_the_session_or_rewrite_the_hosts_decision(tmp_path):
    """Bob, a guest, through his own link: marks Cy as left while she is here, ends the session
    while Ann (the host) is here, amends Ann's decision to say the opposite and accept it; and
    the same three as if re-seeded in Cy's and Ann's names. On every link Cy is still here,
    the session runs on, and Ann's decision reads as she wrote it."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            links = await team(crew, join, "ann", "bob", "cy")
            ann, bob = links[:2]
            decision_id = await decide(ann, "Use SQLite")
            await crew.until(lambda: decision_id in bob.confirmed.decisions, "bob has it")
            written = ann.confirmed.decisions[decision_id]
            now = bob.now()

            def opposite(actor: str, **fields: object) -> ev.DecisionAmended:
                return ev.DecisionAmended(
                    id=new_id(),
                    actor=actor,
                    at=now,
                    decision_id=decision_id,
                    decision="Never use SQLite",
                    status="accepted",
                    **fields,
                )

            attacks = [
                ev.ParticipantLeft(id=new_id(), actor="bob", at=now, participant_id="cy"),
                ev.SessionEnded(id=new_id(), actor="bob", at=now),
                opposite("bob"),
            ]
            impersonations = [
                ev.ParticipantLeft(
                    id=new_id(), actor="cy", at=now, stamped_at=now, participant_id="cy"
                ),
                ev.SessionEnded(id=new_id(), actor="ann", at=now, stamped_at=now),
                opposite("ann", stamped_at=now),
            ]
            for attack in (*attacks, *impersonations):
                await bob.submit(attack)
            await everyone_has(crew, relay, session, links, events=10)
            for link in links:
                state = link.confirmed
                assert [m.id for m in state.members if m.here] == ["ann", "bob", "cy"]
                assert state.phase != "ended"
                assert state.ended_at is None
                assert state.decisions[decision_id] == written, link.participant
                seen = outcomes(link)
                assert all(seen[attack.id].rejected for attack in attacks)
                assert all(seen[attack.id].forged for attack in impersonations)
            later = await decide(ann, "Still deciding")
            await crew.until(
                lambda: all(later in link.confirmed.decisions for link in links),
                "the session goes on",
            )

    run(scenario())


def test_a_guest_cannot_take_a_partner_who_is_here_out_by_saying_she_is_away_first(tmp_path):
    """Bob says Cy, who is connected and at her keyboard, is away, then takes her out of the
    session at once: the removal is refused (her absence has not stood for away_after), her
    pairup says she is back, and she is here on every link."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            links = await team(crew, join, "ann", "bob", "cy")
            bob, cy = links[1], links[2]
            watching = asyncio.create_task(keep_presence(cy, interval=0.05))
            now = bob.now()
            await bob.submit(
                ev.ParticipantAway(id=new_id(), actor="bob", at=now, participant_id="cy")
            )
            taken_out = ev.ParticipantLeft(id=new_id(), actor="bob", at=now, participant_id="cy")
            await bob.submit(taken_out)
            await everyone_has(crew, relay, session, links, events=6)
            watching.cancel()
            for link in links:
                assert [m.id for m in link.confirmed.members if m.here] == ["ann", "bob", "cy"]
                assert "not been away long enough" in outcomes(link)[taken_out.id].rejected

    run(scenario())


def test_a_co_author_with_a_members_name_and_a_strangers_email_credits_nobody_else(tmp_path):
    """Mallory records a commit crediting "bob" at Linus's address: no commit may credit an
    address nobody in the session joined with."""

    async def scenario():
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            join, session = join_link(relay.url)
            links = await team(crew, join, "ann", "bob")
            mallory = await mallory_joins(join)
            disguised = ev.Person(name="bob", email=LINUS.email)
            commit = ev.CommitRecorded(
                id=new_id(),
                actor="mallory",
                at=time.time(),
                sha=SHA,
                summary="Rewrite everything",
                author=ev.Person(name="Mallory", email="mallory@evil.test"),
                co_authors=(disguised,),
            )
            await publish(mallory, session, commit, key_of("mallory"))
            await everyone_has(crew, relay, session, links, events=4)
            for link in links:
                emails = {member.participant.email for member in link.confirmed.members}
                credited = {person.email for person in link.confirmed.commits[SHA].co_authors}
                assert credited <= emails
            await mallory.close()

    run(scenario())
