"""The relay's guards at the HTTP layer, TLS, idle-session expiry, failed commits, and a relay
that cannot listen."""

import asyncio
import json
import sqlite3
import ssl
import subprocess
import threading

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pairup import protocol as wire
from pairup.relay.core.events import StoredEvent, sequenced
from pairup.relay.server import Limits, Relay, _Writer
from pairup.relay.store import Store
from pairup.tls import server_context

from .relaykit import LOOPBACK, Peer, hello_text, new_session, refusal, running_relay


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_browser_page_from_another_origin_is_refused(tmp_path):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, _ = new_session()
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{relay.url}/s/{session}", origin="https://evil.example")
            assert refused.value.response.status_code == 403

    run(scenario())


def test_too_many_connections_from_one_address_get_429(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, connections_per_ip=3) as relay:
            session, secret = new_session()
            peers = [
                await Peer.join(relay.url, session, secret, f"p{n}", create=True) for n in range(3)
            ]
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{relay.url}/s/{session}")
            assert refused.value.response.status_code == 429
            await peers[0].close()
            await asyncio.sleep(0.1)
            again = await Peer.join(relay.url, session, secret, "p0")
            for peer in (again, *peers[1:]):
                await peer.close()

    run(scenario())


def test_repeated_wrong_secrets_lock_the_address_out_for_a_while(tmp_path):
    async def scenario():
        async with running_relay(tmp_path, failed_admissions_per_ip=5) as relay:
            session, secret = new_session()
            host = await Peer.join(relay.url, session, secret, "ann", create=True)
            for _ in range(5):
                ws = await connect(f"{relay.url}/s/{session}")
                await ws.send(hello_text(ws, relay.url, session, b"x" * 16, "eve"))
                await ws.wait_closed()
                assert ws.close_code == wire.Close.NOT_ADMITTED
            with pytest.raises(InvalidStatus) as refused:
                await connect(f"{relay.url}/s/{session}")
            assert refused.value.response.status_code == 429
            await host.publish()
            assert len(await host.until(wire.Sequenced)) == 1
            await host.close()

    run(scenario())


def test_the_relay_serves_wss_with_a_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            f"subjectAltName=IP:{LOOPBACK}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )

    async def scenario():
        store = Store.open(tmp_path / "relay.sqlite3")
        relay = Relay(store, limits=Limits(reject_delay=0.05))
        server = await relay.start(LOOPBACK, 0, ssl=server_context(cert, key))
        port = server.sockets[0].getsockname()[1]
        client_tls = ssl.create_default_context(cafile=str(cert))
        try:
            session, secret = new_session()
            url = f"wss://{LOOPBACK}:{port}"
            ws = await connect(f"{url}/s/{session}", ssl=client_tls)
            await ws.send(hello_text(ws, url, session, secret, "ann", create=True))
            welcome = wire.RELAY_FRAME.validate_json(await ws.recv())
            assert isinstance(welcome, wire.Welcome)
            await ws.close()
        finally:
            await relay.stop(server)
            store.close()

    run(scenario())


def test_idle_sessions_expire_and_their_link_stops_working(tmp_path):
    async def scenario():
        limits = {"idle_session_seconds": 0.2, "expiry_interval": 0.1}
        async with running_relay(tmp_path, **limits) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            await ann.close()
            await asyncio.sleep(0.8)
            assert relay.store.session(session) is None
            ws = await connect(f"{relay.url}/s/{session}")
            await ws.send(hello_text(ws, relay.url, session, secret, "ann"))
            await ws.wait_closed()
            assert ws.close_code == wire.Close.NOT_ADMITTED

    run(scenario())


def test_a_store_from_before_sealed_bodies_is_a_new_epoch_without_its_sessions(tmp_path):
    """A schema 4 store holds plaintext bodies: the relay starts it again with a new epoch, so
    its session is unknown until a participant makes it again, and re-seeds it, sealed."""
    session, secret = new_session()
    path = tmp_path / "relay.sqlite3"
    with Store.open(path) as store:
        store.create_session(session, b"v" * 32, created_at=T0, max_participants=8)
        old_epoch = store.epoch
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    db.close()

    async def scenario():
        async with running_relay(tmp_path) as relay:
            ws = await connect(f"{relay.url}/s/{session}")
            await ws.send(hello_text(ws, relay.url, session, secret, "ann"))
            assert await refusal(ws) == (wire.Close.NOT_ADMITTED, wire.Close.NOT_ADMITTED)
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            assert ann.welcome.epoch == relay.store.epoch != old_epoch
            await ann.close()

    run(scenario())


@pytest.mark.parametrize(
    "body",
    ['{"text": "nul \x00 inside"}', "A" * (wire.MAX_SEALED_BODY + 1)],
    ids=["not sealed (not base64url)", "longer than the largest sealed body"],
)
def test_bodies_the_relay_could_not_deliver_intact_are_refused(tmp_path, body):
    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            eve = await Peer.join(relay.url, session, secret, "eve", create=True)
            frame = {"type": "publish", "id": "evt-00000001", "sender": "eve"}
            message = {**frame, "body": body}
            await eve.ws.send(json.dumps(message, ensure_ascii=False))
            assert await refusal(eve.ws) == (wire.Close.INVALID, wire.Close.INVALID)
            assert relay.store.events_after(session, 0) == []

    run(scenario())


def test_a_session_someone_is_still_in_does_not_expire(tmp_path):
    async def scenario():
        limits = {"idle_session_seconds": 0.2, "expiry_interval": 0.1}
        async with running_relay(tmp_path, **limits) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            await asyncio.sleep(0.8)
            assert relay.store.session(session) is not None
            await ann.publish()
            assert len(await ann.until(wire.Sequenced)) == 1
            await ann.close()

    run(scenario())


def test_after_a_failed_commit_the_writer_drops_that_sessions_later_events_only(tmp_path):
    """Events queued behind a failed commit carry offsets that follow ones not on disk: those
    of the failed session must not reach the store (they would fail every commit they share),
    while another session's go on, in order."""

    async def scenario():
        with Store.open(tmp_path / "relay.sqlite3") as store:
            verifier = wire.verifier(wire.JoinLink("ws://relay", "session-a", b"k" * 16))
            for session in ("session-a", "session-b"):
                store.create_session(session, verifier, created_at=T0, max_participants=8)
            rooms = {session: _Session() for session in ("session-a", "session-b")}
            handed_back: asyncio.Queue[tuple[str, list[str]]] = asyncio.Queue()

            def back(outcome):
                return lambda batch: handed_back.put_nowait(
                    (outcome, [f"{event.session[-1]}{event.seq}" for event, _ in batch])
                )

            writer = _Writer(store, 1, back("stored"), back("failed"))
            # a2 does not follow anything on disk: its commit fails, and a3 must not be tried.
            for session, seq in (("session-a", 2), ("session-a", 3), ("session-b", 1)):
                writer.put([(_stored(session, seq), rooms[session])])
            await writer.stop()
            outcomes = [handed_back.get_nowait() for _ in range(handed_back.qsize())]
            assert outcomes == [("failed", ["a2"]), ("stored", ["b1"])]
            assert store.events_after("session-a", 0) == []
            assert [event.seq for event in store.events_after("session-b", 0)] == [1]

    run(scenario())


def test_a_relay_that_cannot_listen_leaves_nothing_running(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "first") as first:
            taken = int(first.url.rsplit(":", 1)[1])
            with Store.open(tmp_path / "relay.sqlite3") as store:
                before = _writer_threads()
                with pytest.raises(OSError, match=r"(?i)address already in use"):
                    await Relay(store).start(LOOPBACK, taken)
                assert _writer_threads() == before

    run(scenario())


T0 = 1_790_000_000.0


class _Session:
    """A session's room as the writer sees it: something to tell from another."""


def _stored(session: str, seq: int) -> StoredEvent:
    return sequenced(session, seq=seq, id=f"evt-{seq:06d}", sender="ann", at=T0, body="{}")


def _writer_threads() -> int:
    return sum(thread.name == "pairup-relay-writer" for thread in threading.enumerate())
