"""The relay serves the watch page's files: the same to everyone, locked to its own origin, and
a websocket for the page that carries the challenge in a first frame (the page cannot read the
handshake's headers)."""

import asyncio
import gzip
import http.client
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pairup import protocol as wire
from pairup.web import CONTENT_SECURITY_POLICY

from .relaykit import LOOPBACK, running_relay

SESSION = "page-session-0001"


def run(coroutine):
    return asyncio.run(coroutine)


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    connection.close()
    return response


async def fetch(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    return await asyncio.to_thread(get, port, path, headers)


def test_a_sessions_link_opened_in_a_browser_is_the_page_the_same_for_every_session(tmp_path):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            page = await fetch(port, f"/w/{SESSION}")
            assert page.status == 200
            assert page.getheader("Content-Type") == "text/html; charset=utf-8"
            assert page.getheader("Content-Security-Policy") == CONTENT_SECURITY_POLICY
            assert page.getheader("X-Content-Type-Options") == "nosniff"
            assert page.getheader("Referrer-Policy") == "no-referrer"
            assert b"/_pairup/watch.mjs" in page.body  # type: ignore[attr-defined]
            other = await fetch(port, "/w/another-session-02")
            join = await fetch(port, f"/s/{SESSION}")
            assert other.body == join.body == page.body  # type: ignore[attr-defined]
            again = await fetch(port, f"/w/{SESSION}", **{"If-None-Match": page.getheader("ETag")})
            assert again.status == 304
            assert again.body == b""  # type: ignore[attr-defined]
            packed = await fetch(port, "/_pairup/session.mjs", **{"Accept-Encoding": "gzip, br"})
            assert packed.getheader("Content-Encoding") == "gzip"
            shipped = Path(__file__).parents[2] / "pairup" / "web" / "static" / "session.mjs"
            assert gzip.decompress(packed.body) == shipped.read_bytes()  # type: ignore[attr-defined]
            for name, kind in (("watch.mjs", "text/javascript"), ("watch.css", "text/css")):
                served = await fetch(port, f"/_pairup/{name}")
                assert served.status == 200
                assert served.getheader("Content-Type").startswith(kind)
                shipped = Path(__file__).parents[2] / "pairup" / "web" / "static" / name
                assert served.body == shipped.read_bytes()  # type: ignore[attr-defined]

    run(scenario())


@pytest.mark.parametrize(
    "path",
    [
        "/_pairup/nothing.mjs",
        "/_pairup/../web/__init__.py",
        "/_pairup/__init__.py",
        "/_pairup/Watch.mjs",
        "/w/short",
        f"/w/{SESSION}?next=x",
        f"/x/{SESSION}",
        "/",
    ],
)
def test_nothing_else_is_served(tmp_path, path):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            answer = await fetch(port, path)
            assert answer.status == 404
            assert answer.getheader("Content-Security-Policy") is None

    run(scenario())


def test_the_page_of_the_relays_own_origin_connects_and_gets_its_challenge_first(tmp_path):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            host = relay.url.removeprefix("ws://")
            url = f"{relay.url}/s/{SESSION}"
            async with connect(
                url, origin=f"http://{host}", subprotocols=[wire.PAGE_SUBPROTOCOL]
            ) as page:
                assert page.subprotocol == wire.PAGE_SUBPROTOCOL
                first = json.loads(await page.recv())
                assert first == {
                    "type": "challenge",
                    "challenge": page.response.headers[wire.CHALLENGE_HEADER],
                    "v": wire.PROTOCOL_VERSION,
                }
            # Behind a proxy that ends TLS, the browser's page is https:// and the relay
            # hears plain HTTP: the same host is the same site.
            async with connect(url, origin=f"https://{host}", subprotocols=["pairup.v4"]) as page:
                assert json.loads(await page.recv())["type"] == "challenge"
            # A pairup asks for no subprotocol and hears nothing before its hello.
            async with connect(url) as participant:
                assert participant.subprotocol is None
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(participant.recv(), 0.3)

    run(scenario())


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example",
        "http://127.0.0.1:1",
        "http://localhost:{port}",
        "http://127.0.0.1:{port}.evil.example",
        "ftp://127.0.0.1:{port}",
        "null",
    ],
)
def test_a_page_from_any_other_origin_is_refused(tmp_path, origin):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = relay.url.rsplit(":", 1)[1]
            with pytest.raises(InvalidStatus) as refused:
                async with connect(
                    f"{relay.url}/s/{SESSION}",
                    origin=origin.format(port=port),
                    subprotocols=[wire.PAGE_SUBPROTOCOL],
                ):
                    pass
            assert refused.value.response.status_code == 403

    run(scenario())
