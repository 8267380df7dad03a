"""The relay against real websocket clients on loopback: order, durability, admission, limits."""

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from pairup import protocol as wire

from .relaykit import LOOPBACK, Peer, hello_text, new_session, refusal, running_relay


def run(coroutine):
    return asyncio.run(coroutine)


def test_two_participants_see_each_event_once_in_the_same_order(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob = await Peer.join(relay.url, session, secret, "bob")
            first = await ann.publish(body='{"n":1}')
            second = await bob.publish(body='{"n":2}')
            seen_by_ann = await ann.until(wire.Sequenced, count=2)
            seen_by_bob = await bob.until(wire.Sequenced, count=2)
            assert [e.seq for e in seen_by_ann] == [1, 2]
            assert seen_by_ann == seen_by_bob
            assert {e.id for e in seen_by_ann} == {first, second}
            assert seen_by_ann[0].at <= seen_by_ann[1].at
            await ann.close()
            await bob.close()

    run(scenario())


def test_three_participants_publishing_at_once_agree_on_one_order(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            peers = [await Peer.join(relay.url, session, secret, "ann", create=True)]
            peers += [await Peer.join(relay.url, session, secret, name) for name in ("bob", "cy")]
            for _ in range(20):
                await asyncio.gather(*(peer.publish() for peer in peers))
            logs = [await peer.until(wire.Sequenced, count=60) for peer in peers]
            assert logs[0] == logs[1] == logs[2]
            assert [e.seq for e in logs[0]] == list(range(1, 61))
            for peer in peers:
                await peer.close()

    run(scenario())


def test_a_repeated_event_is_stored_once_and_acked_with_its_first_offset(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob = await Peer.join(relay.url, session, secret, "bob")
            # A repeat while the first copy is on its way to the disk, and one after.
            await ann.publish(event_id="evt-repeated")
            await ann.publish(event_id="evt-repeated")
            await ann.publish(event_id="evt-other-1")
            events = await ann.until(wire.Sequenced, count=2)
            assert [(e.id, e.seq) for e in events] == [("evt-repeated", 1), ("evt-other-1", 2)]
            await ann.publish(event_id="evt-repeated")
            (ack,) = await ann.until(wire.Ack)
            assert (ack.id, ack.seq) == ("evt-repeated", 1)
            await bob.publish()
            seen = await bob.until(wire.Sequenced, count=3)
            assert [e.id for e in seen] == ["evt-repeated", "evt-other-1", "bob-000001"]
            stored = relay.store.events_after(session, 0)
            assert [e.id for e in stored] == ["evt-repeated", "evt-other-1", "bob-000001"]
            await ann.close()
            await bob.close()

    run(scenario())


def test_a_participant_who_comes_back_gets_what_it_missed(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob = await Peer.join(relay.url, session, secret, "bob")
            await ann.publish()
            await bob.until(wire.Sequenced)
            await bob.close()
            for _ in range(3):
                await ann.publish()
            await ann.until(wire.Sequenced, count=4)
            bob = await Peer.join(relay.url, session, secret, "bob")
            assert bob.welcome.last_seq == 4
            await bob.ws.send(wire.encode(wire.Resume(after=1)))
            missed = await bob.until(wire.Sequenced, count=3)
            assert [e.seq for e in missed] == [2, 3, 4]
            await ann.close()
            await bob.close()

    run(scenario())


def test_a_resume_up_to_an_offset_fills_only_that_gap_and_a_pong_says_how_far_the_log_goes(
    tmp_path,
):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            for _ in range(6):
                await ann.publish()
            await ann.until(wire.Sequenced, count=6)
            await ann.ws.send(wire.encode(wire.Resume(after=1, until=3)))
            await ann.ws.send(wire.encode(wire.Resume(after=4, until=99)))
            await ann.ws.send(wire.encode(wire.Ping(sent=1.0)))
            frames = await ann.until((wire.Sequenced, wire.Pong), count=5)
            assert [getattr(frame, "seq", None) for frame in frames] == [2, 3, 5, 6, None]
            assert frames[-1].last_seq == 6
            await ann.close()

    run(scenario())


def test_a_restarted_relay_keeps_its_epoch_and_every_acknowledged_event(tmp_path):
    async def scenario():
        session, secret = new_session()
        async with running_relay(tmp_path) as relay:
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            epoch = ann.welcome.epoch
            for _ in range(5):
                await ann.publish()
            await ann.until(wire.Sequenced, count=5)
            await ann.close()
        async with running_relay(tmp_path) as relay:
            ann = await Peer.join(relay.url, session, secret, "ann")
            assert (ann.welcome.epoch, ann.welcome.last_seq) == (epoch, 5)
            await ann.publish(event_id="ann-after-restart")
            (event,) = await ann.until(wire.Sequenced)
            assert (event.id, event.seq) == ("ann-after-restart", 6)
            await ann.close()
        async with running_relay(tmp_path / "elsewhere") as relay:
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            assert ann.welcome.epoch != epoch
            assert ann.welcome.last_seq == 0
            await ann.close()

    run(scenario())


@pytest.mark.parametrize("wrong", ["secret", "session"])
def test_a_wrong_secret_and_an_unknown_session_get_the_same_answer(tmp_path, wrong):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            other_session, other_secret = new_session()
            target, key_secret = (
                (session, other_secret) if wrong == "secret" else (other_session, secret)
            )
            ws = await connect(f"{relay.url}/s/{target}")
            await ws.send(hello_text(ws, relay.url, target, key_secret, "eve"))
            assert await refusal(ws) == (wire.Close.NOT_ADMITTED, wire.Close.NOT_ADMITTED)
            await ann.publish()
            assert (await ann.until(wire.Sequenced))[0].seq == 1
            await ann.close()

    run(scenario())


def test_a_ninth_person_is_told_the_session_is_full(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(
                relay.url, session, secret, "ann", create=True, max_participants=2
            )
            bob = await Peer.join(relay.url, session, secret, "bob")
            ws = await connect(f"{relay.url}/s/{session}")
            await ws.send(hello_text(ws, relay.url, session, secret, "cy"))
            assert await refusal(ws) == (wire.Close.SESSION_FULL, wire.Close.SESSION_FULL)
            again = await Peer.join(relay.url, session, secret, "bob")
            assert set(again.welcome.connected) == {"ann", "bob"}
            await ann.close()
            await again.close()
            await bob.ws.wait_closed()

    run(scenario())


BAD_FRAMES = {
    "malformed JSON": ("{not json", wire.Close.MALFORMED),
    "a JSON array": ("[1, 2]", wire.Close.MALFORMED),
    "binary": (b"\x00\x01", wire.Close.MALFORMED),
    "wrong schema": ('{"type": "publish", "id": "evt-00000001"}', wire.Close.INVALID),
    "a kind in the envelope (protocol 3)": (
        json.dumps(
            {"type": "publish", "id": "evt-00000001", "sender": "eve", "kind": "x.y", "body": "AA"}
        ),
        wire.Close.INVALID,
    ),
    "a body that is not base64url": (
        json.dumps({"type": "publish", "id": "evt-00000001", "sender": "eve", "body": "{}"}),
        wire.Close.INVALID,
    ),
    "unknown frame type": ('{"type": "subscribe"}', wire.Close.INVALID),
    "out of range": ('{"type": "resume", "after": -5}', wire.Close.INVALID),
    "another sender": (
        json.dumps(
            {
                "type": "publish",
                "id": "evt-00000001",
                "sender": "ann",
                "body": "A" * 40,
            }
        ),
        wire.Close.POLICY,
    ),
    "a second hello": ("HELLO", wire.Close.INVALID),
}


@pytest.mark.parametrize("name", BAD_FRAMES)
def test_bad_input_costs_the_sender_its_connection_and_nobody_else_anything(tmp_path, name):
    frame, expected = BAD_FRAMES[name]

    async def scenario():
        async with running_relay(tmp_path) as relay:
            good_session, good_secret = new_session()
            ann = await Peer.join(relay.url, good_session, good_secret, "ann", create=True)
            bob = await Peer.join(relay.url, good_session, good_secret, "bob")
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            hello = hello_text(eve.ws, relay.url, session, secret, "eve")
            await eve.ws.send(hello if frame == "HELLO" else frame)
            assert await refusal(eve.ws) == (expected, expected)
            await ann.publish()
            assert len(await bob.until(wire.Sequenced)) == 1
            await ann.close()
            await bob.close()

    run(scenario())


def test_a_frame_over_64_kib_is_refused_with_1009(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            await eve.ws.send("x" * (wire.MAX_FRAME_BYTES + 1))
            await eve.ws.wait_closed()
            assert eve.ws.close_code == wire.Close.TOO_BIG
            ann = await Peer.join(relay.url, session, secret, "ann")
            await ann.publish()
            assert len(await ann.until(wire.Sequenced)) == 1
            await ann.close()

    run(scenario())


def test_hello_for_another_session_than_the_url_is_a_policy_violation(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            other, _ = new_session()
            ws = await connect(f"{relay.url}/s/{other}")
            await ws.send(hello_text(ws, relay.url, session, secret, "eve", create=True))
            assert await refusal(ws) == (wire.Close.POLICY, wire.Close.POLICY)

    run(scenario())


def test_a_flood_is_cut_off_by_the_rate_limit(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, messages_per_second=5.0, burst=10) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            for n in range(40):
                await eve.ws.send(wire.encode(wire.Ping(sent=float(n))))
            assert (await refusal(eve.ws))[0] == wire.Close.RATE_LIMITED

    run(scenario())


async def all_stored(relay, session: str, *, at_least: int) -> None:
    """Wait until everything the relay sequenced for ``session`` is on disk, and at least
    ``at_least`` events were."""
    room = relay.relay.core.rooms[session]
    async with asyncio.timeout(10):
        while room.stored_seq < max(room.last_seq, at_least):
            await asyncio.sleep(0.01)


def test_a_flood_of_events_is_cut_off_by_the_rate_limit_and_only_its_burst_is_stored(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, messages_per_second=0.1, burst=10) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            for _ in range(40):
                await eve.publish()
            # The relay stops reading a flood, so the closing handshake waits out its timeout.
            async with asyncio.timeout(30):
                assert (await refusal(eve.ws))[0] == wire.Close.RATE_LIMITED
            # The burst may still be on its way to the disk when the refusal comes back.
            await all_stored(relay, session, at_least=10)
            stored_ids = [event.id for event in relay.store.events_after(session, 0)]
            assert stored_ids == [f"eve-{n:06d}" for n in range(1, 11)]

    run(scenario())


def test_frames_sent_together_are_handled_in_order_and_none_after_a_refused_one(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            for _ in range(3):
                await ann.publish()
            assert [e.seq for e in await ann.until(wire.Sequenced, count=3)] == [1, 2, 3]
            # An event right behind a resume is sequenced after the replay has gone out.
            await ann.ws.send(wire.encode(wire.Resume(after=0)))
            await ann.publish()
            seen = await ann.until(wire.Sequenced, count=4)
            assert [(e.seq, e.id) for e in seen] == [
                (1, "ann-000001"),
                (2, "ann-000002"),
                (3, "ann-000003"),
                (4, "ann-000004"),
            ]
            # An event right behind a refused frame is never sequenced.
            await ann.publish()
            await ann.ws.send('{"type": "subscribe"}')
            await ann.publish()
            assert await refusal(ann.ws) == (wire.Close.INVALID, wire.Close.INVALID)
            # The fifth may still be on its way to the disk when the refusal comes back: wait
            # until all the relay sequenced is stored, then it is the five and nothing after
            # the refused frame.
            await all_stored(relay, session, at_least=5)
            stored = [event.id for event in relay.store.events_after(session, 0)]
            assert stored == [f"ann-{n:06d}" for n in range(1, 6)]

    run(scenario())


def test_saying_nothing_ends_in_a_hello_timeout(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, hello_timeout=0.2) as relay:
            session, _ = new_session()
            ws = await connect(f"{relay.url}/s/{session}")
            assert await refusal(ws) == (wire.Close.HELLO_TIMEOUT, wire.Close.HELLO_TIMEOUT)

    run(scenario())


def test_healthz_answers_200_and_other_paths_404(tmp_path):
    async def get(port: int, path: str) -> bytes:
        reader, writer = await asyncio.open_connection(LOOPBACK, port)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode())
        await writer.drain()
        status = await reader.readline()
        writer.close()
        return status

    async def scenario():
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            assert b" 200 " in await get(port, "/healthz")
            assert b" 404 " in await get(port, "/elsewhere")

    run(scenario())


def test_ping_tells_the_relays_time(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            await ann.ws.send(wire.encode(wire.Ping(sent=12.5)))
            (pong,) = await ann.until(wire.Pong)
            assert pong.sent == 12.5
            assert pong.now >= ann.welcome.now
            await ann.close()

    run(scenario())


def test_a_text_frame_that_is_not_utf8_closes_with_1007(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            await eve.ws.send(b"\xfa\xfb not UTF-8", text=True)
            assert await refusal(eve.ws) == (1007, 1007)

    run(scenario())


def test_an_idle_connection_that_stops_answering_pings_is_cut(tmp_path):
    """Keepalive: the relay pings every connection; one that did not answer the last ping by
    the next is cut, one that answers stays."""

    async def scenario():
        async with running_relay(tmp_path, keepalive_interval=0.2) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            bob = await Peer.join(relay.url, session, secret, "bob")
            # Bob's socket stops being read: websockets' client answers no ping any more.
            bob.ws.transport.pause_reading()
            seen = []
            async with asyncio.timeout(3):
                while ("ann", "bob") not in seen or seen[-1] != ("ann",):
                    seen.append((await ann.until(wire.Presence))[0].connected)
            await ann.close()
            bob.ws.transport.abort()

    run(scenario())
