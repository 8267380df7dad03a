"""Guessing the secret: 10,000 wrong keys against a real relay, none let in, the address locked out.

Each guess proves a random secret over its connection's challenge, as a pairup holding a wrong
link would. The relay answers a wrong proof after ``reject_delay`` (shortened here, so the test
is quick) and counts it against the address; after ``failed_admissions_per_ip`` refusals within
``failure_window`` (the real defaults: 30 in a minute) it answers that address with HTTP 429
before the WebSocket handshake, so no more proofs are even read. The relay listens on 127.0.0.1
and ::1, two addresses of one machine: the guesses come from the first, and the participant who
holds the secret gets in from the second while the first is locked out, and from the first once
the window has passed.
"""

import asyncio
import contextlib
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pairup import protocol as wire
from pairup.relay.server import Limits, Relay
from pairup.relay.store import Store

from ..integration.relaykit import LOOPBACK, Peer, hello_text, new_session, next_frame

LOOPBACK_V6 = "::1"
MALLORY = Ed25519PrivateKey.generate()
ATTEMPTS = 10_000
WORKERS = 16
"""Guesses in flight at once once the address is locked out (64 connections are allowed)."""


def run(coroutine):
    return asyncio.run(coroutine)


def free_port_on_both() -> int:
    """A port free on ::1; the relay then tries it on 127.0.0.1 too."""
    with socket.socket(socket.AF_INET6) as probe:
        probe.bind((LOOPBACK_V6, 0))
        return probe.getsockname()[1]


@contextlib.asynccontextmanager
async def relay_on_both(data_dir: Path, limits: Limits) -> AsyncIterator[tuple[Relay, int]]:
    store = Store.open(data_dir / "relay.sqlite3")
    relay = Relay(store, limits=limits)
    for _ in range(10):
        port = free_port_on_both()
        try:
            # websockets hands the host to loop.create_server, which binds each of a list.
            server = await relay.start([LOOPBACK, LOOPBACK_V6], port)  # type: ignore[arg-type]
            break
        except OSError:
            continue
    else:
        raise AssertionError("no port free on both 127.0.0.1 and ::1")
    try:
        yield relay, port
    finally:
        await relay.stop(server)
        store.close()


async def guess(host: str, port: int, session: str) -> str:
    """One attempt with a random secret, proven for the connection's challenge: ``"admitted"``,
    ``"refused"`` (the relay checked the proof and closed with 4401) or ``"limited"`` (HTTP 429
    before the handshake)."""
    url = f"ws://{host}:{port}"
    try:
        ws = await connect(f"{url}/s/{session}", compression=None)
    except InvalidStatus as refused:
        if refused.response.status_code == 429:
            return "limited"
        raise
    async with ws:
        guessed = secrets.token_bytes(wire.SECRET_BYTES)
        await ws.send(hello_text(ws, url, session, guessed, "mallory", key=MALLORY))
        with contextlib.suppress(ConnectionClosed):
            while True:
                if isinstance(await next_frame(ws), wire.Welcome):
                    return "admitted"
        await ws.wait_closed()
        assert ws.close_code == wire.Close.NOT_ADMITTED, ws.close_code
        return "refused"


def test_ten_thousand_wrong_secrets_let_nobody_in_and_lock_the_address_out(tmp_path):
    limits = Limits(reject_delay=0.005)
    window, allowed = limits.failure_window, limits.failed_admissions_per_ip

    async def scenario():
        async with relay_on_both(tmp_path, limits) as (_, port):
            session, secret = new_session()
            url = f"ws://{LOOPBACK}:{port}"
            host = await Peer.join(url, session, secret, "ann", create=True)
            started = time.monotonic()
            outcomes = [await guess(LOOPBACK, port, session) for _ in range(allowed + 1)]
            assert outcomes == ["refused"] * allowed + ["limited"]

            remaining = iter(range(ATTEMPTS - len(outcomes)))

            async def keep_guessing() -> None:
                for _ in remaining:
                    outcomes.append(await guess(LOOPBACK, port, session))

            await asyncio.gather(*(keep_guessing() for _ in range(WORKERS)))
            elapsed = time.monotonic() - started
            counts = Counter(outcomes)
            assert len(outcomes) == ATTEMPTS
            assert counts["admitted"] == 0
            # Each window lets another round of refusals through before the lockout.
            assert counts["refused"] <= allowed * (1 + int(elapsed // window))

            with pytest.raises(InvalidStatus, match="HTTP 429"):
                # Locked out, secret or not: the relay does not read a key from it.
                await connect(f"{url}/s/{session}", compression=None)
            bob = await Peer.join(f"ws://[{LOOPBACK_V6}]:{port}", session, secret, "bob")
            assert bob.welcome.connected == ("ann", "bob")

            await host.publish()
            assert len(await bob.until(wire.Sequenced)) == 1, "the session carried on"
            for peer in (host, bob):
                await peer.close()
        print(f"{ATTEMPTS} guesses in {elapsed:.1f} s: {dict(counts)}")

    run(scenario())


def test_the_address_is_let_in_again_once_the_window_has_passed(tmp_path):
    limits = Limits(reject_delay=0.005, failed_admissions_per_ip=5, failure_window=1.0)

    async def scenario():
        async with relay_on_both(tmp_path, limits) as (_, port):
            session, secret = new_session()
            url = f"ws://{LOOPBACK}:{port}"
            host = await Peer.join(url, session, secret, "ann", create=True)
            outcomes = [await guess(LOOPBACK, port, session) for _ in range(6)]
            assert outcomes == ["refused"] * 5 + ["limited"]
            await asyncio.sleep(limits.failure_window)
            bob = await Peer.join(url, session, secret, "bob")
            assert bob.welcome.connected == ("ann", "bob")
            for peer in (host, bob):
                await peer.close()

    run(scenario())
