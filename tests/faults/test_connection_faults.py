"""Connection-level faults between real links and a real relay, through a loopback TCP proxy.

TCP does not lose bytes, but connections do break: a NAT box forgets one and both ends get a
reset, a laptop sleeps and leaves a half-open connection that says nothing, and a slow path
delivers frames in pieces. The links here run ``Link.run()`` against a relay on an ephemeral
loopback port, and reach it through :mod:`tests.faults.proxy`, which does those things to
their connections on command. What must hold: every decision is in every log exactly once, in
the same order, and the relay keeps no ghost of a connection that broke.

The links use short intervals (``ping_interval=0.3``, ``resend_after=0.5``) so that silence is
noticed in about a second instead of 45.
"""

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pairup import protocol as wire
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev

from ..integration.relaykit import Peer, RunningRelay, new_session, next_frame, running_relay
from ..integration.test_link import (
    Crew,
    assert_agreement,
    assert_stored_once,
    crew_in,
    decide,
    has_decisions,
    introduce,
    join_link,
    record,
)
from .proxy import Direction, FaultProxy, Pipe, Shape, fault_proxy

QUICK = {"ping_interval": 0.3, "resend_after": 0.5}
"""Silence is noticed after 0.9 s and an unconfirmed event is resent after 0.5 s."""
NOTICED = 5.0
"""Seconds to notice a broken connection and be back: 3 ping intervals and a backoff, and
room for a slow CI machine."""
CLOSE_TIMEOUT = 10.0
"""How long websockets waits for a closing handshake before it drops the connection."""


def run(coroutine):
    return asyncio.run(coroutine)


@dataclass
class Setup:
    relay: RunningRelay
    proxy: FaultProxy
    crew: Crew
    join: wire.JoinLink
    """The session's link through the proxy."""
    session: str


@contextlib.asynccontextmanager
async def through_proxy(tmp_path: Path, *, seed: int = 0) -> AsyncIterator[Setup]:
    """A relay, a proxy in front of it and a crew of links; the proxy closes first, so links
    whose connections it holds are not left waiting on them."""
    async with (
        running_relay(tmp_path / "relay") as relay,
        crew_in(tmp_path) as crew,
        fault_proxy(relay.url, seed=seed) as proxy,
    ):
        join, session = join_link(relay.url)
        yield Setup(relay, proxy, crew, proxy.join(join), session)


async def pair(setup: Setup, **options: object) -> tuple[Link, Link]:
    """Ann (the host) and Bob, both connected through the proxy and joined: the log's first
    two events are their joins."""
    ann = setup.crew.link(setup.join, "ann", create=True, **options)
    await setup.crew.connected(ann)
    bob = setup.crew.link(setup.join, "bob", **options)
    await setup.crew.connected(ann, bob)
    await joined(setup.crew, ann, bob)
    return ann, bob


async def joined(crew: Crew, *links: Link) -> None:
    """Each link's participant joins the session, and the joins are confirmed."""
    for link in links:
        await introduce(link, link.participant)
    await crew.until(lambda: not any(link.pending for link in links), "everyone has joined")


async def presence(peer: Peer, *connected: str, timeout: float = NOTICED) -> None:
    """Wait until the relay tells ``peer`` that exactly ``connected`` are in the session."""
    async with asyncio.timeout(timeout):
        while (await peer.until(wire.Presence, timeout=timeout))[0].connected != connected:
            pass


def reconnects(crew: Crew, link: Link) -> int:
    return crew.states[link].count("reconnecting")


# -- resets -----------------------------------------------------------------------------------


def test_links_converge_through_repeated_resets(tmp_path):
    """Both connections are reset eight times while decisions are in flight; each time the
    links reconnect, resume and resend, and in the end every decision is there exactly once."""

    async def scenario():
        async with through_proxy(tmp_path) as setup:
            ann, bob = await pair(setup, **QUICK)
            rng = random.Random(7)
            decided: list[str] = []

            async def keep_deciding() -> None:
                for n in range(16):
                    decided.append(await decide((ann, bob)[n % 2], f"decision {n}"))
                    await asyncio.sleep(rng.uniform(0.0, 0.12))

            deciding = asyncio.create_task(keep_deciding())

            async def back_from(resets: int) -> None:
                await setup.crew.until(
                    lambda: all(
                        link.status.state == "connected" and reconnects(setup.crew, link) >= resets
                        for link in (ann, bob)
                    ),
                    f"both links are back from reset {resets}",
                )

            hit = 0
            for resets in range(8):
                await back_from(resets)
                await asyncio.sleep(rng.uniform(0.0, 0.15))
                hit += setup.proxy.reset_all()
            await deciding
            await back_from(8)

            await setup.crew.until(has_decisions([ann, bob], 16), "both links have 16 decisions")
            assert hit == 16, "every reset must hit both connections"
            assert reconnects(setup.crew, ann) == reconnects(setup.crew, bob) == 8
            assert_agreement([ann, bob], decided, events=18)
            assert_stored_once(setup.relay, setup.session, 18)

    run(scenario())


def test_a_participant_reset_mid_frame_leaves_no_ghost_and_other_sessions_carry_on(tmp_path):
    """Eve's connection is reset while her publish is half way through the proxy. The relay
    drops the half frame, tells the others she is gone, and gives her seat in a full session
    to someone else; another session on the same relay does not notice anything."""

    async def scenario():
        async with (
            running_relay(tmp_path / "relay") as relay,
            fault_proxy(relay.url) as proxy,
        ):
            session, secret = new_session()
            ann = await Peer.join(
                relay.url, session, secret, "ann", create=True, max_participants=2
            )
            eve = await Peer.join(proxy.url, session, secret, "eve")
            await presence(ann, "ann", "eve")

            other, other_secret = new_session()
            cy = await Peer.join(relay.url, other, other_secret, "cy", create=True)
            dee = await Peer.join(relay.url, other, other_secret, "dee")
            await cy.publish(body='{"before": true}')
            assert len(await dee.until(wire.Sequenced)) == 1

            (pipe,) = proxy.pipes
            proxy.shape = Shape(pieces=(1, 1), pause=(0.02, 0.02))
            sent_before = len(pipe.carried[Direction.UP])
            await eve.publish(body=json.dumps({"text": "x" * 200}))
            await asyncio.sleep(0.3)
            pipe.reset()
            carried = len(pipe.carried[Direction.UP]) - sent_before
            assert 0 < carried < 200, "the reset must come in the middle of the frame"

            await cy.publish(body='{"during": true}')
            assert len(await dee.until(wire.Sequenced)) == 1
            await presence(ann, "ann")
            fay = await Peer.join(relay.url, session, secret, "fay")
            assert fay.welcome.connected == ("ann", "fay")
            assert relay.store.events_after(session, 0) == []

            await cy.publish(body='{"after": true}')
            assert len(await dee.until(wire.Sequenced)) == 1
            assert [e.seq for e in relay.store.events_after(other, 0)] == [1, 2, 3]
            for peer in (ann, fay, cy, dee):
                await peer.close()

    run(scenario())


# -- slicing and latency ---------------------------------------------------------------------


def test_everything_arrives_intact_when_bytes_come_in_pieces(tmp_path):
    """Every frame, the HTTP handshake included, is cut into pieces of 1 to 7 bytes; the texts
    of the decisions arrive exactly as written, multi-byte characters cut in half included."""
    texts = [
        "ASCII only",
        "Umlaute: Grüße aus Köln",
        "漢字とかな、そして絵文字 🧑‍💻🚀",
        'quotes " and \\ backslashes \\" and a tab\tand a newline\n',
        "combining: e\u0301 a\u0308 and a zero width joiner \u200d",
        "long: " + "0123456789abcdef🙂" * 120,
    ]

    async def scenario():
        async with through_proxy(tmp_path, seed=3) as setup:
            setup.proxy.shape = Shape(pieces=(1, 7), pause=(0.0, 0.0003))
            ann, bob = await pair(setup)
            sent = []
            for n, text in enumerate(texts):
                sent.append(await record((ann, bob)[n % 2], f"title {n}: {text[:40]}", text))
            await setup.crew.until(
                has_decisions([ann, bob], len(texts)), "both links have every decision"
            )
            assert_agreement([ann, bob], [e.decision_id for e in sent], events=len(texts) + 2)
            for link in (ann, bob):
                arrived = {d.id: (d.title, d.context) for d in link.confirmed.decisions.values()}
                assert arrived == {e.decision_id: (e.title, e.context) for e in sent}
            pieces = sum(pipe.pieces[d] for pipe in setup.proxy.pipes for d in pipe.pieces)
            carried = sum(len(pipe.carried[d]) for pipe in setup.proxy.pipes for d in pipe.carried)
            assert pieces >= carried / 7 > 1000, "the bytes must really have come in pieces"

    run(scenario())


def test_an_event_resent_while_the_first_copy_is_still_on_its_way_is_stored_once(tmp_path):
    """With 0.6 s of latency each way and resends after 0.25 s, every event reaches the relay
    two or more times; the relay stores it once and acks each later copy with its offset."""

    async def scenario():
        async with through_proxy(tmp_path) as setup:
            ann, bob = await pair(setup, resend_after=0.25)
            setup.proxy.shape = Shape(latency=0.6)
            decided = [await decide(ann, "one"), await decide(bob, "two")]
            decided.append(await decide(ann, "three"))
            await setup.crew.until(has_decisions([ann, bob], 3), "both links have 3 decisions")
            assert_agreement([ann, bob], decided, events=5)
            assert_stored_once(setup.relay, setup.session, 5)
            acks = [
                # The decisions' (the joins went before the latency did).
                wire.encode_ack(event.id, event.seq)
                for event in setup.relay.store.events_after(setup.session, 2)
            ]

            def acked_twice() -> bool:
                down = b"".join(bytes(pipe.carried[Direction.DOWN]) for pipe in setup.proxy.pipes)
                return all(down.count(ack) >= 1 for ack in acks)

            await setup.crew.until(acked_twice, "the relay has acked a resent copy of each")
            assert_stored_once(setup.relay, setup.session, 5)
            assert_agreement([ann, bob], decided, events=5)

    run(scenario())


# -- half-open connections -------------------------------------------------------------------


@pytest.mark.parametrize(
    "direction",
    [Direction.UP, Direction.DOWN, Direction.BOTH],
    ids=["ann to relay", "relay to ann", "both ways"],
)
def test_a_half_open_connection_is_noticed_and_the_link_reconnects(tmp_path, direction):
    """Ann's connection stops carrying bytes without closing. Her link notices the silence,
    drops the connection, reconnects on a new one and converges, her stranded event included."""

    async def scenario():
        async with through_proxy(tmp_path) as setup:
            ann, bob = await pair(setup, **QUICK)
            decided = [await decide(ann, "before"), await decide(bob, "before too")]
            await setup.crew.until(has_decisions([ann, bob], 2), "both links have 2 decisions")
            anns = setup.proxy.pipes[0]  # she connected first
            anns.stall(direction)
            stalled_at = time.monotonic()
            decided.append(await decide(ann, "into the void"))
            decided.append(await decide(bob, "while ann cannot hear"))
            await setup.crew.until(
                lambda: reconnects(setup.crew, ann) > 0,
                "ann's link drops the silent connection",
                timeout=NOTICED,
            )
            # Not at once, as for an error: after three ping intervals of silence, the last of
            # which may have begun one interval before the stall.
            assert time.monotonic() - stalled_at >= 2 * QUICK["ping_interval"] - 0.05
            await setup.crew.until(has_decisions([ann, bob], 4), "both links have 4 decisions")
            assert reconnects(setup.crew, ann) == 1
            assert reconnects(setup.crew, bob) == 0
            assert_agreement([ann, bob], decided, events=6)
            assert_stored_once(setup.relay, setup.session, 6)

    run(scenario())


def test_a_connection_that_goes_silent_before_the_welcome_is_dropped_in_time(tmp_path):
    """The upgrade goes through, then nothing more comes from the relay: the link should treat
    that like any silent connection and try again after three ping intervals."""

    async def scenario():
        async with through_proxy(tmp_path) as setup:
            silenced: list[Pipe] = []

            def silence_the_first(pipe: Pipe) -> None:
                if not silenced:
                    silenced.append(pipe)
                    pipe.stall(Direction.DOWN, after=b"\r\n\r\n")

            setup.proxy.on_accept = silence_the_first
            ann = setup.crew.link(setup.join, "ann", create=True, **QUICK)
            await setup.crew.until(
                lambda: bool(silenced) and Direction.DOWN in silenced[0].stalled,
                "the upgrade is through and the relay falls silent",
            )
            await setup.crew.until(
                lambda: ann.status.state == "connected", "ann is connected", timeout=NOTICED
            )
            assert setup.proxy.accepted == 2

    run(scenario())


def test_a_silent_connection_with_a_full_send_buffer_is_dropped_in_time(tmp_path):
    """Ann's connection goes half-open while she submits more than the socket buffers hold
    (about 7 MB of decisions): the sends block, but the silence must still be noticed."""

    async def scenario():
        async with through_proxy(tmp_path) as setup:
            ann = setup.crew.link(setup.join, "ann", create=True, **QUICK)
            await setup.crew.connected(ann)
            await joined(setup.crew, ann)
            setup.proxy.stall_all(Direction.BOTH)
            text = "x" * 14_000

            async def flood() -> None:
                for n in range(150):
                    await ann.submit(
                        ev.DecisionRecorded(
                            id=new_id(),
                            actor="ann",
                            at=ann.now(),
                            decision_id=new_id(),
                            title=f"big {n}",
                            context=text,
                            decision=text,
                            consequences=text,
                        )
                    )

            flooding = asyncio.create_task(flood())
            try:
                await setup.crew.until(
                    lambda: reconnects(setup.crew, ann) > 0,
                    "ann's link drops the silent connection",
                    timeout=NOTICED,
                )
                await flooding
                await setup.crew.until(has_decisions([ann], 150), "ann's decisions are through")
            finally:
                flooding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await flooding

    run(scenario())


def test_the_relay_lets_go_of_a_participant_that_stopped_reading(tmp_path):
    """Eve's connection goes half-open while Ann publishes megabytes. The relay finds Eve too
    far behind and closes her connection: she must then be gone for everyone else."""

    async def scenario():
        async with (
            running_relay(tmp_path / "relay", max_unsent_bytes=64 * 1024) as relay,
            fault_proxy(relay.url) as proxy,
        ):
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            eve = await Peer.join(proxy.url, session, secret, "eve")
            await presence(ann, "ann", "eve")
            proxy.stall_all(Direction.BOTH)
            # 40 KB a body once sealed (a third larger in base64url).
            body = json.dumps({"text": "x" * 30_000})
            for _ in range(150):
                await ann.publish(body=body)
            stored, connected = 0, ("ann", "eve")
            async with asyncio.timeout(CLOSE_TIMEOUT + 2):
                while stored < 150 or connected != ("ann",):
                    frame = await next_frame(ann.ws)
                    if isinstance(frame, wire.Presence):
                        connected = frame.connected
                    elif isinstance(frame, wire.Sequenced):
                        stored += 1
                        if stored >= 150 and "eve" in connected:
                            # The relay weighs a backlog before each write, and the kernel's
                            # socket buffers may have taken all of it so far: one more event
                            # at a time, within Ann's rate limit, until it finds Eve's over.
                            await asyncio.sleep(0.02)
                            await ann.publish(body=body)
            await ann.close()
            eve.ws.transport.abort()

    run(scenario())
