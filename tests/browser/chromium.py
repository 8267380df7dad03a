"""Headless Chromium for the tests and the benchmarks, driven over the DevTools protocol.

Debian's ``chromium`` (``.ci/run`` installs it), started with a user data directory of its own and
without any of its background traffic, so the only connections it makes are the ones a page asks
for. The protocol runs over one websocket (``websockets``, already a dependency): a browser
target, and one attached session per page (``flatten``), so every command names its page.
"""

import asyncio
import base64
import contextlib
import functools
import http.server
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")
LOOPBACK = "127.0.0.1"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class ChromiumMissing(RuntimeError):
    """Chromium is not installed here."""


def need_chromium_here() -> None:
    """Skip a test when Chromium is missing, except under CI, where that is a failure."""
    import pytest

    if CHROMIUM.exists():
        return
    missing = f"{CHROMIUM} is missing: apt-get install chromium (bash .ci/run does)"
    if os.environ.get("CI"):
        raise ChromiumMissing(missing)
    pytest.skip(missing)


class ProtocolError(RuntimeError):
    """A DevTools command failed."""


class Chromium:
    """One headless Chromium, as an async context manager."""

    def __init__(self, args: Sequence[str] = ()) -> None:
        self._args = tuple(args)
        """More command-line flags, e.g. a certificate key to trust."""
        self._profile = Path(tempfile.mkdtemp(prefix="pairup-chromium-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Chromium":
        self._process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, *self._args, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = await self._endpoint()
        self._socket = await connect(endpoint, max_size=None, ping_interval=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._socket is not None:
            await self._socket.close()
        if self._process is not None:
            self._process.kill()
            await asyncio.to_thread(self._process.wait)
        shutil.rmtree(self._profile, ignore_errors=True)

    async def _endpoint(self) -> str:
        """The browser's DevTools websocket, from the file Chromium writes once it listens."""
        active = self._profile / "DevToolsActivePort"
        for _ in range(300):
            if self._process is not None and self._process.poll() is not None:
                raise ChromiumMissing(f"chromium exited with {self._process.returncode}")
            with contextlib.suppress(FileNotFoundError):
                lines = active.read_text().split()
                if len(lines) >= 2:
                    return f"ws://{LOOPBACK}:{lines[0]}{lines[1]}"
            await asyncio.sleep(0.05)
        raise ChromiumMissing("chromium did not open its DevTools port within 15 s")

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        assert self._socket is not None, "the browser is started"
        number = next(self._ids)
        message: dict[str, Any] = {"id": number, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = answer
        await self._socket.send(json.dumps(message))
        reply = await answer
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def _read(self) -> None:
        assert self._socket is not None
        async for raw in self._socket:
            message = json.loads(raw)
            if "id" in message:
                waiting = self._waiting.pop(message["id"], None)
                if waiting is not None and not waiting.done():
                    waiting.set_result(message)
            elif (page := self._pages.get(message.get("sessionId", ""))) is not None:
                page.heard(message["method"], message.get("params", {}))

    async def page(
        self, *, width: int = 1280, height: int = 800, mobile: bool = False, dark: bool = False
    ) -> "Page":
        """A new tab of the given size and colour scheme, with its traffic recorded."""
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send(
            "Target.attachToTarget", targetId=target["targetId"], flatten=True
        )
        page = Page(self, attached["sessionId"])
        self._pages[page.session] = page
        for domain in ("Page", "Network", "Runtime", "Log"):
            await page.send(f"{domain}.enable")
        await page.resize(width, height, mobile=mobile)
        await page.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}],
        )
        return page


class Page:
    """One tab: navigation, script, screenshots, and what it asked the network for."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.requests: list[str] = []
        """Every URL the page asked for: documents, scripts, styles, icons, websockets."""
        self.console: list[str] = []
        """Console messages, uncaught exceptions and the browser's own log (CSP refusals)."""
        self.frames_sent: list[str] = []
        """Every websocket message the page sent, as text."""
        self.transferred: dict[str, int] = {}
        """Bytes each finished request took on the wire, by request id."""
        self._loaded = asyncio.Event()

    def send(self, method: str, **params: Any) -> "asyncio.Future[dict[str, Any]]":
        return asyncio.ensure_future(self.browser.send(method, self.session, **params))

    def heard(self, method: str, params: dict[str, Any]) -> None:
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Network.webSocketCreated":
            self.requests.append(params["url"])
        elif method == "Network.webSocketFrameSent":
            self.frames_sent.append(params["response"]["payloadData"])
        elif method == "Network.loadingFinished":
            self.transferred[params["requestId"]] = int(params.get("encodedDataLength", 0))
        elif method == "Runtime.consoleAPICalled":
            shown = " ".join(
                str(arg.get("value", arg.get("description", ""))) for arg in params["args"]
            )
            self.console.append(f"{params['type']}: {shown}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.console.append(
                f"exception: {details.get('exception', {}).get('description', details['text'])}"
            )
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self.console.append(f"{entry['source']} {entry['level']}: {entry['text']}")

    async def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=mobile,
        )

    async def goto(self, url: str, timeout: float = 15.0) -> None:
        """Open ``url`` and wait for its load event."""
        self._loaded.clear()
        navigated = await self.send("Page.navigate", url=url)
        if navigated.get("errorText"):
            raise ProtocolError(f"navigating to {url}: {navigated['errorText']}")
        await asyncio.wait_for(self._loaded.wait(), timeout)

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (a promise is awaited), as JSON gives it."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            description = details.get("exception", {}).get("description", details["text"])
            raise ProtocolError(f"{expression[:80]!r} threw {description}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0, every: float = 0.05) -> Any:
        """The first truthy value of ``expression``, read every ``every`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if loop.time() > deadline:
                raise TimeoutError(f"{expression!r} was still {value!r} after {timeout} s")
            await asyncio.sleep(every)

    async def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        """A PNG of what the page shows (the whole page with ``full_page``)."""
        shot = await self.send(
            "Page.captureScreenshot", format="png", captureBeyondViewport=full_page
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


@contextlib.contextmanager
def shared_browser() -> Iterator[tuple[asyncio.Runner, Chromium]]:
    """One browser for a module's tests, started in a runner of its own: each test runs its
    coroutine in that runner (the browser's websocket belongs to one event loop). Skips where
    Chromium is missing, as :func:`need_chromium_here` says."""
    need_chromium_here()
    with asyncio.Runner() as runner:
        chromium = Chromium()
        runner.run(chromium.__aenter__())
        try:
            yield runner, chromium
        finally:
            runner.run(chromium.__aexit__(None, None, None))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 - the handler's own table, replaced as a whole
        ".html": "text/html; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml",
        ".png": "image/png",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_static(directory: Path) -> Iterator[str]:
    """A plain HTTP server for ``directory`` on 127.0.0.1, for a page under test without a
    relay; yields its base address."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
