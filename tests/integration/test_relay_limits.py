"""The relay's limits against the adversarial cases of issue 18, each on a real relay with
small limits and raw clients on loopback.

Rate limits run on a clock the test holds (``Ticks``), so a budget that must stay empty does,
and one that refills does so when the test says; the relay's timeouts run on the same clock,
so the few tests of a timeout here run on the real one (the rules' timers are tested on a
made-up clock in tests/unit/relay). Connections come from several loopback
addresses (127.0.0.2, 127.0.0.3, ...), all talking to the relay on 127.0.0.1: the caps count
by address.
"""

import asyncio
import contextlib
import logging
import re

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from pairup import protocol as wire
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev

from .relaykit import (
    LOOPBACK,
    Peer,
    PinnedJitter,
    RunningRelay,
    hello_text,
    new_session,
    next_frame,
    refusal,
    running_relay,
)


def run(coroutine):
    return asyncio.run(coroutine)


class Ticks:
    """The relay's clock for its rate limits, moved by the test alone."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def relay_with(tmp_path, ticks: Ticks | None = None, **limits):
    """A real relay whose rate limits run on ``ticks``, the test's own clock."""
    return running_relay(tmp_path, timer=ticks or Ticks(), **limits)


async def say_hello(
    url: str, session: str, secret: bytes, participant: str, *, source: str = LOOPBACK, **options
) -> ClientConnection:
    """A connection from ``source`` that has sent its hello; the test reads the answer."""
    ws = await connect(f"{url}/s/{session}", compression=None, local_addr=(source, 0))
    await ws.send(hello_text(ws, url, session, secret, participant, **options))
    return ws


async def welcomed(ws: ClientConnection) -> bool:
    return isinstance(await next_frame(ws), wire.Welcome)


async def refused_with(ws: ClientConnection) -> tuple[int, str]:
    """The close code and reason of a connection the relay refuses, after its error frame."""
    code, error_code = await refusal(ws)
    assert error_code == code, (error_code, code)
    return code, ws.close_reason or ""


async def stored(relay: RunningRelay, session: str, expected: int) -> int:
    """How many events the session has on disk once ``expected`` are there, or after a
    second: the last ones of a participant cut off may still be on their way to the disk."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1):
            while relay.store.session(session).last_seq < expected:
                await asyncio.sleep(0.01)
    return len(relay.store.events_after(session, 0))


async def idle(source: str, url: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the relay that never says a word."""
    host, port = url.removeprefix("ws://").split(":")
    return await asyncio.open_connection(host, int(port), local_addr=(source, 0))


async def cut_soon(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the relay ends the connection within ``within`` seconds (EOF or reset)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def test_reconnecting_does_not_refill_a_participants_budget(tmp_path):
    """Send the burst, reconnect, repeat: the budget is the participant's, in the session's
    room, so the second connection is refused at admission until it has refilled."""

    async def scenario():
        ticks = Ticks()
        async with relay_with(tmp_path, ticks, messages_per_second=1.0, burst=10) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            for _ in range(15):
                await eve.publish()
            code, reason = await refused_with(eve.ws)
            assert code == wire.Close.RATE_LIMITED
            assert "wait 1 s" in reason

            again = await say_hello(relay.url, session, secret, "eve")
            assert await refused_with(again) == (wire.Close.RATE_LIMITED, reason)

            ticks.now += 3.0  # three messages' worth
            back = await Peer.join(relay.url, session, secret, "eve")
            back.counter = 15  # new events, not the first ones again
            for _ in range(5):
                await back.publish()
            assert (await refused_with(back.ws))[0] == wire.Close.RATE_LIMITED
            assert await stored(relay, session, 10 + 3) == 10 + 3

    run(scenario())


def test_coming_back_again_and_again_while_over_budget_turns_the_address_away(tmp_path):
    """Each refusal at admission counts against the address like a wrong secret: past
    ``failed_admissions_per_ip`` the address gets HTTP 429 before its handshake, the cheapest
    answer the relay has."""

    async def scenario():
        limits = {"messages_per_second": 1.0, "burst": 3, "failed_admissions_per_ip": 2}
        async with relay_with(tmp_path, **limits) as relay:
            session, secret = new_session()
            host = await Peer.join(relay.url, session, secret, "host", create=True)
            eve = await say_hello(relay.url, session, secret, "eve", source="127.0.0.2")
            assert await welcomed(eve)
            for n in range(5):
                await eve.send(wire.encode(wire.Ping(sent=float(n))))
            assert (await refused_with(eve))[0] == wire.Close.RATE_LIMITED
            for _ in range(2):
                again = await say_hello(relay.url, session, secret, "eve", source="127.0.0.2")
                assert (await refused_with(again))[0] == wire.Close.RATE_LIMITED
            with pytest.raises(InvalidStatus) as told:
                await connect(f"{relay.url}/s/{session}", local_addr=("127.0.0.2", 0))
            assert told.value.response.status_code == 429
            await host.publish()
            assert len(await host.until(wire.Sequenced)) == 1

    run(scenario())


@pytest.mark.parametrize(
    ("limits", "body", "each"),
    [
        ({"session_event_burst": 6}, "{}", 2),
        ({"session_byte_burst": 64 * 1024}, '"' + "x" * 14_000 + '"', 1),
    ],
    ids=["events", "bytes"],
)
def test_many_participants_of_a_session_share_its_budget(tmp_path, limits, body, each):
    """Every identity of one session draws on the same budget of new events and of bytes, so
    many of them cannot together flood it; a repeated id costs nothing (participants
    re-seeding one log together store it once)."""

    async def scenario():
        async with relay_with(tmp_path, **limits) as relay:
            session, secret = new_session()
            peers = [
                await Peer.join(relay.url, session, secret, f"p{n}", create=n == 0)
                for n in range(3)
            ]
            for peer in peers:
                for _ in range(each):
                    await peer.publish(body=body)
            await peers[0].until(wire.Sequenced, count=3 * each)
            first = relay.store.events_after(session, 0)[0].id
            await peers[1].publish(body=body, event_id=first)
            assert [ack.seq for ack in await peers[1].until(wire.Ack)] == [1]

            await peers[2].publish(body=body)
            code, reason = await refused_with(peers[2].ws)
            assert code == wire.Close.RATE_LIMITED
            assert reason.startswith("this session sends too much: wait")
            assert len(relay.store.events_after(session, 0)) == 3 * each

    run(scenario())


def test_a_session_admits_only_so_many_different_participants_in_its_life(tmp_path):
    async def scenario():
        async with relay_with(tmp_path, ids_per_seat=2) as relay:
            session, secret = new_session()
            for n in range(4):
                peer = await Peer.join(
                    relay.url, session, secret, f"p{n}", create=n == 0, max_participants=2
                )
                await peer.close()
            newcomer = await say_hello(relay.url, session, secret, "p4")
            code, reason = await refused_with(newcomer)
            assert code == wire.Close.SESSION_FULL
            assert "4 different participants" in reason
            back = await Peer.join(relay.url, session, secret, "p0")
            await back.close()

    run(scenario())


def test_idle_handshakes_count_against_their_address_and_the_rest_are_cut(tmp_path):
    """Connections that never say a word are counted from their first byte: past
    ``pending_per_ip`` from one address they are told 429 if they speak within the grace and
    cut if not, and past twice that cut at once; participants from elsewhere get in."""

    async def scenario():
        async with running_relay(tmp_path, pending_per_ip=3, refusal_grace=0.3) as relay:
            flood = [await idle("127.0.0.2", relay.url) for _ in range(10)]
            cut = await asyncio.gather(*(cut_soon(reader, 0.6) for reader, _ in flood))
            assert cut == [False] * 3 + [True] * 7

            with pytest.raises(InvalidStatus) as told:
                await connect(f"{relay.url}/s/{new_session()[0]}", local_addr=("127.0.0.2", 0))
            assert told.value.response.status_code == 429
            assert b"too many connections opening from your address" in told.value.response.body

            session, secret = new_session()
            for n in range(5):
                peer = await Peer.join(relay.url, session, secret, f"p{n}", create=n == 0)
                await peer.close()
            for _, writer in flood:
                writer.close()

    run(scenario())


def test_connections_not_admitted_cannot_take_the_room_admitted_participants_need(tmp_path):
    """Of 12 connections, at most 3 may be opening and 3 more waiting to hear they are
    refused: 6 are always there for admitted participants, and a participant replacing its
    own connection gets in even when they are all taken."""

    async def scenario():
        limits = {"connections": 12, "pending_connections": 3, "refusal_grace": 0.3}
        async with running_relay(tmp_path, **limits) as relay:
            session, secret = new_session()
            peers = [
                await Peer.join(relay.url, session, secret, f"p{n}", create=n == 0)
                for n in range(6)
            ]
            seventh = await say_hello(relay.url, session, secret, "p6")
            code, reason = await refused_with(seventh)
            assert code == wire.Close.TOO_MANY_CONNECTIONS
            assert "6 participants connected" in reason
            peers[0] = await Peer.join(relay.url, session, secret, "p0")

            flood = [await idle(f"127.0.0.{n}", relay.url) for n in range(2, 12)]
            cut = await asyncio.gather(*(cut_soon(reader, 0.6) for reader, _ in flood))
            assert cut == [False] * 3 + [True] * 7
            assert relay.relay.door.open <= 12

            await peers[5].publish()
            assert len(await peers[0].until(wire.Sequenced)) == 1
            for _, writer in flood:
                writer.close()

    run(scenario())


@pytest.mark.parametrize("frame", ["ping", "pong", "a second message"])
def test_nothing_but_one_hello_comes_before_the_welcome(tmp_path, frame):
    """A ping before hello costs the relay a pong and a wake-up while nobody is accountable
    for it: four connections pinging took it from 42 to 100 MB. It closes the connection."""

    async def scenario():
        async with relay_with(tmp_path) as relay:
            session, secret = new_session()
            ws = await connect(f"{relay.url}/s/{session}", compression=None)
            if frame == "ping":
                await ws.ping()
            elif frame == "pong":
                await ws.pong()
            else:
                await ws.send(hello_text(ws, relay.url, session, secret, "eve", create=True))
                await ws.send(wire.encode(wire.Ping(sent=1.0)))
            async with asyncio.timeout(2):
                code, reason = await refused_with(ws)
            if frame == "a second message":
                assert (code, reason) == (
                    wire.Close.INVALID,
                    "one hello, then nothing until the welcome",
                )
            else:
                assert code == wire.Close.POLICY
                assert reason.startswith("send hello first")

    run(scenario())


def test_the_hello_timeout_counts_from_the_first_byte_with_the_http_handshake(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, hello_timeout=0.3) as relay:
            reader, writer = await idle(LOOPBACK, relay.url)
            writer.write(b"GET /s/abcdefghij HTTP/1.1\r\nHost: relay\r\n")  # and no more
            assert await cut_soon(reader, 1.5)
            writer.close()

    run(scenario())


def test_pings_after_admission_cost_the_participants_budget(tmp_path):
    async def scenario():
        async with relay_with(tmp_path, messages_per_second=1.0, burst=5) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            for _ in range(10):
                await eve.ws.ping()
            code, reason = await refused_with(eve.ws)
            assert code == wire.Close.RATE_LIMITED
            assert reason.startswith("too many messages: wait")

    run(scenario())


def test_new_sessions_from_many_addresses_are_capped_in_all(tmp_path):
    async def scenario():
        async with relay_with(tmp_path, sessions_created=3) as relay:
            made = []
            for n in range(2, 5):
                session, secret = new_session()
                ws = await say_hello(
                    relay.url, session, secret, "host", source=f"127.0.0.{n}", create=True
                )
                assert await welcomed(ws)
                made.append((session, secret, ws))
            session, secret = new_session()
            ws = await say_hello(
                relay.url, session, secret, "host", source="127.0.0.5", create=True
            )
            code, reason = await refused_with(ws)
            assert code == wire.Close.RATE_LIMITED
            assert reason.startswith("this relay made 3 new sessions lately")
            assert relay.store.session(session) is None

            # Joining a session that exists needs no new one.
            first, first_secret, _ = made[0]
            guest = await say_hello(relay.url, first, first_secret, "guest", source="127.0.0.5")
            assert await welcomed(guest)

    run(scenario())


def test_a_session_never_given_an_event_expires_soon(tmp_path):
    async def scenario():
        limits = {"unused_session_seconds": 0.2, "expiry_interval": 0.1}
        async with relay_with(tmp_path, **limits) as relay:
            unused, unused_secret = new_session()
            used, used_secret = new_session()
            host = await Peer.join(relay.url, unused, unused_secret, "host", create=True)
            await host.close()
            host = await Peer.join(relay.url, used, used_secret, "host", create=True)
            await host.publish()
            await host.until(wire.Sequenced)
            await host.close()
            async with asyncio.timeout(3):
                while relay.store.session(unused) is not None:
                    await asyncio.sleep(0.05)
            assert relay.store.session(used) is not None

    run(scenario())


def test_a_flood_of_refused_connections_is_one_line_of_log(tmp_path, caplog):
    """However many connections are refused, the log gets one summary line per interval, and
    no traceback from the relay, websockets or asyncio."""

    async def scenario():
        limits = {"pending_per_ip": 2, "refusal_grace": 0.2, "refusal_log_interval": 0.5}
        async with relay_with(tmp_path, **limits) as relay:
            flood = [await idle("127.0.0.2", relay.url) for _ in range(200)]
            async with asyncio.timeout(3):
                while not any("refused" in record.message for record in caplog.records):
                    await asyncio.sleep(0.05)
            for _, writer in flood:
                writer.close()

    caplog.set_level(logging.WARNING)
    run(scenario())
    (line,) = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert re.fullmatch(
        r"refused 198 connections in the last [0-9.]+ s from 1 address: 127\.0\.0\.2 \(198\) "
        r"\(198 over 2 opening from one address\)",
        line.message,
    )
    assert line.exc_info is None


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def watched(link: Link) -> list[tuple[str, str]]:
    """Every status the link goes through: a refusal's reason shows while it waits."""
    seen: list[tuple[str, str]] = []
    link.listeners.append(lambda: seen.append((link.status.state, link.status.reason)))
    return seen


def test_a_link_shows_the_reason_of_an_http_429_and_gets_in_once_it_can(tmp_path):
    async def scenario():
        limits = {"pending_per_ip": 1, "refusal_grace": 5.0}
        async with relay_with(tmp_path / "relay", **limits) as relay:
            _, blocking = await idle(LOOPBACK, relay.url)
            join = wire.JoinLink(relay.url, *new_session())
            ann = Link(join, "ann", tmp_path / "ann", create=True, rng=PinnedJitter())
            seen = watched(ann)
            running = asyncio.create_task(ann.run())
            told = (
                f"the relay at {relay.url.removeprefix('ws://')} answered HTTP 429: too many "
                "connections opening from your address (at most 1)"
            )
            await until(lambda: ("reconnecting", told) in seen)
            blocking.close()
            await until(lambda: ann.status.state == "connected")
            await ann.close()
            await running

    run(scenario())


def test_a_link_over_its_budget_shows_how_long_to_wait(tmp_path):
    async def scenario():
        limits = {"messages_per_second": 0.01, "burst": 3}
        async with relay_with(tmp_path / "relay", **limits) as relay:
            join = wire.JoinLink(relay.url, *new_session())
            ann = Link(join, "ann", tmp_path / "ann", create=True, rng=PinnedJitter())
            seen = watched(ann)
            running = asyncio.create_task(ann.run())
            await until(lambda: ann.status.state == "connected")
            for _ in range(3):
                await ann.submit(
                    ev.LessonNoted(id=new_id(), actor="ann", at=ann.now(), text="slow down")
                )
            await until(
                lambda: any(
                    state == "reconnecting" and reason.startswith("too many messages: wait")
                    for state, reason in seen
                )
            )
            assert ann.pending, "the events wait in the outbox"
            await ann.close()
            await running

    run(scenario())
