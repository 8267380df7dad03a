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
        "/_pairup/" + "a" * 300 + ".mjs",
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
            # hears plain HTTP, with the proxy's word that it was https.
            async with connect(
                url,
                origin=f"https://{host}",
                subprotocols=[wire.PAGE_SUBPROTOCOL],
                additional_headers={"X-Forwarded-Proto": "https"},
            ) as page:
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
        "https://127.0.0.1:{port}",
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


async def handshake(port: int, headers: list[tuple[str, str]], path: str) -> bytes:
    """A request sent as written, headers repeated or forged as given: the status line and
    headers of the answer."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    lines = [f"GET {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers)]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    writer.close()
    return head


UPGRADE = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Protocol", wire.PAGE_SUBPROTOCOL),
]


def test_a_page_of_another_site_rebound_to_the_relays_address_is_refused(tmp_path):
    """DNS rebinding: a page of evil.example whose name now points at the relay says so in
    both Origin and Host. Plain http:// is only this relay's own on loopback names."""

    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            for site in (f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
                headers = [("Host", site), ("Origin", f"http://{site}"), *UPGRADE]
                head = await handshake(port, headers, f"/s/{SESSION}")
                assert head.startswith(b"HTTP/1.1 403"), head
            headers = [("Host", f"localhost:{port}"), ("Origin", f"http://localhost:{port}")]
            head = await handshake(port, [*headers, *UPGRADE], f"/s/{SESSION}")
            assert head.startswith(b"HTTP/1.1 101"), head

    run(scenario())


def test_repeated_headers_get_an_answer_and_the_relay_goes_on(tmp_path):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            host = ("Host", f"127.0.0.1:{port}")
            twice = [host, ("Accept-Encoding", "br"), ("Accept-Encoding", "gzip;q=0.5")]
            head = await handshake(port, twice, f"/w/{SESSION}")
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"content-encoding: gzip" in head.lower()
            refused = [host, ("Accept-Encoding", "gzip;q=0, deflate")]
            head = await handshake(port, refused, "/_pairup/watch.css")
            assert b"content-encoding" not in head.lower()
            origins = [host, ("Origin", "http://a"), ("Origin", "http://b"), *UPGRADE]
            head = await handshake(port, origins, f"/s/{SESSION}")
            assert head.startswith(b"HTTP/1.1 400"), head
            assert (await fetch(port, "/healthz")).status == 200

    run(scenario())


def test_the_gzipped_file_has_a_validator_of_its_own(tmp_path):
    async def scenario() -> None:
        async with running_relay(tmp_path) as relay:
            port = int(relay.url.rsplit(":", 1)[1])
            plain = await fetch(port, "/_pairup/watch.mjs")
            packed = await fetch(port, "/_pairup/watch.mjs", **{"Accept-Encoding": "gzip"})
            assert plain.getheader("ETag") != packed.getheader("ETag")
            stale = await fetch(
                port, "/_pairup/watch.mjs", **{"If-None-Match": packed.getheader("ETag")}
            )
            assert stale.status == 200
            assert stale.getheader("Content-Encoding") is None

    run(scenario())
