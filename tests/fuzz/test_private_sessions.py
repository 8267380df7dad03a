"""Attacks on private sessions against a real relay over real sockets (issue 19, "Bad input").

Each case runs on the module's relay (:class:`tests.fuzz.harness.RelayUnderFuzz`), with a
steady session and a bystander beside it that must be served all along. A relay can only see
a sealed body's envelope and size: a body altered, cut short, moved from another session or
replayed from an earlier one is well-formed, so the relay stores and delivers it, and no
participant can open it (each would apply nothing); one that is not base64url or is too long
is refused (4422). A watcher may change nothing (4405); a forged approval, a hello for
someone else's id and a removed participant coming back get the close code or the wait the
protocol gives them.
"""

import base64
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from pairup import protocol as wire
from pairup import seal

from ..integration.relaykit import (
    Peer,
    hello_text,
    key_of,
    new_session,
    opened_body,
    refusal,
    sealed_body,
)
from .harness import RelayUnderFuzz
from .test_relay_fuzz import LIMITS


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayUnderFuzz]:
    with RelayUnderFuzz(tmp_path_factory.mktemp("private-sessions"), LIMITS) as relay:
        yield relay
        relay.check()


def _flip(body: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def tampered(how: str, session: str, secret: bytes, event_id: str) -> str:
    """A body for Mallory's event ``event_id`` in ``session``, tampered with as ``how`` says."""
    good = sealed_body(session, secret, "mallory", event_id, '{"text": "hello"}')
    if how == "flipped":
        return _flip(good)
    if how == "truncated":
        return good[: len(good) // 2]
    if how == "from another session":
        other, other_secret = new_session()
        return sealed_body(other, other_secret, "mallory", event_id, '{"text": "hello"}')
    # Replayed from an earlier session of the same id, with another secret.
    return sealed_body(session, new_session()[1], "mallory", event_id, '{"text": "hello"}')


@pytest.mark.parametrize(
    "how", ["flipped", "truncated", "from another session", "replayed from an earlier session"]
)
def test_a_tampered_body_is_stored_as_it_came_and_opens_for_nobody(relay, how):
    async def scenario() -> None:
        session, secret = new_session()
        ann = await Peer.join(relay.url, session, secret, "ann", create=True)
        mallory = await Peer.join(relay.url, session, secret, "mallory")
        body = tampered(how, session, secret, "evt-tampered")
        await mallory.send(wire.Publish(id="evt-tampered", sender="mallory", body=body))
        await mallory.publish('{"text": "honest"}')
        first, second = await ann.until(wire.Sequenced, count=2)
        assert first.body == body, "the relay stores what is well-formed, as it came"
        assert opened_body(session, secret, first) is None
        assert opened_body(session, secret, second) == '{"text": "honest"}'
        await ann.close()
        await mallory.close()

    relay.call(scenario())
    relay.check()


@pytest.mark.parametrize(
    "body",
    ["{not: base64url}", "A" * (wire.MAX_SEALED_BODY + 1)],
    ids=["not base64url", "longer than the largest sealed body"],
)
def test_a_body_that_cannot_be_a_sealed_one_is_invalid(relay, body):
    async def scenario() -> None:
        session, secret = new_session()
        mallory = await Peer.join(relay.url, session, secret, "mallory", create=True)
        await mallory.send(
            wire.Publish.model_construct(id="evt-unsealed", sender="mallory", body=body)
        )
        assert await refusal(mallory.ws) == (wire.Close.INVALID, wire.Close.INVALID)

    relay.call(scenario())
    relay.check()


def test_a_watcher_publishing_is_refused_and_the_session_goes_on(relay):
    async def scenario() -> None:
        session, secret = new_session()
        ann = await Peer.join(relay.url, session, secret, "ann", create=True)
        vic = await Peer.join(relay.url, session, secret, "vic", watch=True)
        await vic.publish('{"text": "from a watcher"}')
        assert await refusal(vic.ws) == (wire.Close.WATCH_ONLY, wire.Close.WATCH_ONLY)
        await ann.publish()
        (event,) = await ann.until(wire.Sequenced)
        assert event.sender == "ann"
        await ann.close()

    relay.call(scenario())
    relay.check()


def test_a_removed_participant_coming_back_waits_for_the_host(relay):
    async def scenario() -> None:
        session, secret = new_session()
        ann = await Peer.join(relay.url, session, secret, "ann", create=True)
        bob = await Peer.join(relay.url, session, secret, "bob")
        await ann.send(wire.Remove(participant="bob"))
        assert await refusal(bob.ws) == (wire.Close.REMOVED, wire.Close.REMOVED)
        back = await Peer.join(relay.url, session, secret, "bob", waits=True)
        assert back.welcome == wire.Waiting(host_connected=True)
        presence = (await ann.until(wire.Presence))[0]
        while not presence.waiting:
            presence = (await ann.until(wire.Presence))[0]
        assert [(k.participant, k.returning) for k in presence.waiting] == [("bob", True)]
        await back.publish()
        assert (await refusal(back.ws))[0] == wire.Close.INVALID
        await ann.close()

    relay.call(scenario())
    relay.check()


def test_a_hello_claiming_someone_elses_id_is_refused_before_it_touches_them(relay):
    async def scenario() -> None:
        session, secret = new_session()
        ann = await Peer.join(relay.url, session, secret, "ann", create=True)
        ws = await connect(f"{relay.url}/s/{session}", compression=None)
        mallory = key_of("mallory")
        await ws.send(hello_text(ws, relay.url, session, secret, "ann", key=mallory))
        assert await refusal(ws) == (wire.Close.POLICY, wire.Close.POLICY)
        await ann.publish()
        assert len(await ann.until(wire.Sequenced)) == 1, "ann is still served"
        await ann.close()

    relay.call(scenario())
    relay.check()


@pytest.mark.parametrize("who", ["participant", "watcher"])
def test_a_forged_approval_costs_its_sender_and_lets_nobody_in(relay, who):
    async def scenario() -> None:
        session, secret = new_session()
        ann = await Peer.join(relay.url, session, secret, "ann", create=True, approve=True)
        bob = await Peer.join(relay.url, session, secret, "bob", waits=True)
        identity = wire.key_text(wire.public_bytes(key_of("bob")))
        if who == "participant":
            await ann.send(wire.Approve(participant="cy", identity=identity))
            cy = await Peer.join(relay.url, session, secret, "cy", waits=True)
            cy_identity = wire.key_text(wire.public_bytes(key_of("cy")))
            await ann.send(wire.Approve(participant="cy", identity=cy_identity))
            (welcome,) = await cy.until(wire.Welcome)
            assert welcome.host == "ann"
            forger, code = cy, wire.Close.POLICY
        else:
            forger = await Peer.join(relay.url, session, secret, "vic", watch=True)
            code = wire.Close.WATCH_ONLY
        await forger.send(wire.Approve(participant="bob", identity=identity))
        assert await refusal(forger.ws) == (code, code)
        await bob.ws.send(wire.encode(wire.Ping(sent=1.0)))
        assert await refusal(bob.ws) == (wire.Close.INVALID, wire.Close.INVALID), (
            "still waiting: a waiting newcomer may send nothing"
        )
        await ann.close()

    relay.call(scenario())
    relay.check()


def test_sealing_binds_a_body_to_its_session_sender_and_event():
    """What the cases above rely on, without a relay: the associated data."""
    session, secret = new_session()
    body = sealed_body(session, secret, "ann", "evt-00000001", "{}")
    key = wire.JoinLink("ws://relay", session, secret).body_key
    assert seal.open_sealed(key, body, seal.event_aad(session, "ann", "evt-00000001")) == b"{}"
    for aad in (
        seal.event_aad(session, "bob", "evt-00000001"),
        seal.event_aad(session, "ann", "evt-00000002"),
        seal.event_aad(new_session()[0], "ann", "evt-00000001"),
    ):
        assert seal.open_sealed(key, body, aad) is None
