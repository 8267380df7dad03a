"""The watch link pasted into a real browser: the page the relay serves opens the session in the
page and shows it live, as the terminals do.

Headless pairups (``pairup start --headless``, ``pairup join --headless``) in processes of their
own, each line of theirs stamped as it arrives, and Debian's Chromium, headless, on the watch
link. The relay inside ``pairup start`` serves TLS with a certificate of its own: Chromium is
told to trust exactly that certificate's key (as a person accepts it after comparing the pin the
page shows), and nothing else. A second test runs the page against a standalone relay without
TLS, where a participant of the session publishes bodies the page must refuse.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pairup import protocol as wire
from pairup import seal
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from tests.hostile import CORPUS
from tests.integration.relaykit import LOOPBACK, Peer, PinnedJitter, new_session, running_relay

from .chromium import Chromium, Page, need_chromium_here

PAIRUP = Path(sys.executable).with_name("pairup")
ARTEFACTS = Path(__file__).parent / "artefacts"
WAIT = 15.0
TURN = 4
SKEW = 7 * 60
"""Seconds the browser's clock runs ahead of the relay's and the terminals'."""

Record = dict[str, Any]

HOSTILE_TITLE = " ".join(CORPUS[name] for name in ("html", "markdown link", "bidi override"))
HOSTILE_LESSON = " ".join(CORPUS[name] for name in ("zero width", "emoji sequences", "entities"))
HOSTILE_WHY = " ".join(CORPUS[name] for name in ("action markup", "rich markup", "cjk"))
BOB = "Bob [b]B[/b] **x** \u202eevil"
"""A name as hostile as a name may be: no control characters or angle brackets (the session's
rules refuse those in names), markup and an override all the same."""


class Terminal:
    """A headless pairup in a process of its own, each JSON line stamped as it arrives."""

    def __init__(self, args: list[str], home: Path, data_dir: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PAIRUP_", "XDG_", "GIT_"))
        }
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            PAIRUP_DATA_DIR=str(data_dir),
            PAIRUP_RELAY_HOST=LOOPBACK,
            PAIRUP_RELAY_ADVERTISE=LOOPBACK,
            PAIRUP_SESSION_BREAK_EVERY="0",
            GIT_CONFIG_NOSYSTEM="1",
        )
        self.process = subprocess.Popen(
            [str(PAIRUP), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=home,
        )
        self.lines: queue.Queue[tuple[float, Record] | None] = queue.Queue()
        self.seen: list[Record] = []
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.monotonic(), json.loads(line)))
        self.lines.put(None)

    def send(self, command: Record) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, wanted: Callable[[Record], bool], what: str) -> tuple[float, Record]:
        """The next line ``wanted`` accepts and when it arrived, within ``WAIT`` seconds."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                got = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                got = None
            if got is None:
                self.stop()
                raise AssertionError(
                    f"no line that says {what}; last lines: {self.seen[-8:]}; "
                    f"stderr: {self.stderr[-1500:]!r}"
                )
            self.seen.append(got[1])
            if wanted(got[1]):
                return got

    async def until(self, wanted: Callable[[Record], bool], what: str) -> tuple[float, Record]:
        return await asyncio.to_thread(self.expect, wanted, what)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None and not self.process.stderr.closed:
            self.stderr = self.process.stderr.read()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def terminals(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    started: list[Terminal] = []

    def launch(who: str, *args: str) -> Terminal:
        terminal = Terminal(list(args), tmp_path / f"home-{who}", tmp_path / who)
        started.append(terminal)
        return terminal

    try:
        yield launch
    finally:
        for terminal in started:
            terminal.stop()


def event(kind: str, **fields: object) -> Callable[[Record], bool]:
    def wanted(record: Record) -> bool:
        shown = record.get("event", {})
        return (
            record.get("type") == "event"
            and shown.get("kind") == kind
            and "ignored" not in record
            and all(shown.get(key) == value for key, value in fields.items())
        )

    return wanted


def spki_hash(port: int) -> str:
    """The SHA-256 of the key of the certificate the relay at ``port`` shows, in base64: what
    Chromium's ``--ignore-certificate-errors-spki-list`` trusts."""
    pem = ssl.get_server_certificate((LOOPBACK, port))
    certificate = x509.load_pem_x509_certificate(pem.encode())
    key = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(key).digest()).decode()


READ = """
(() => {
  const text = (selector) => document.querySelector(selector)?.textContent ?? "";
  const all = (selector) =>
    [...document.querySelectorAll(selector)].map((node) => node.textContent);
  return {
    status: text(".status"),
    problem: text(".problem"),
    title: text(".heading"),
    headline: text("section.turn .headline"),
    clock: text("section.turn .clock"),
    roster: all("section.roster li"),
    decisions: all("section.decisions li .subject"),
    decisionRows: all("section.decisions > ol > li"),
    lessons: all("section.lessons li .prose"),
    notices: all("section.notices li"),
    summary: document.querySelector("section.summary")?.hidden === false
      ? text("section.summary") : "",
    injected: document.querySelectorAll("main script, main img, main a, main iframe").length,
  };
})()
"""


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        await asyncio.sleep(0.02)


async def shown(page: Page) -> dict[str, Any]:
    return await page.evaluate(READ)


async def until_shown(page: Page, check: Callable[[dict[str, Any]], bool], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        seen = await shown(page)
        if check(seen):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never showed {what}; it shows {seen}; {page.console}")
        await asyncio.sleep(0.02)


def seconds(clock: str) -> int:
    parts = [int(part) for part in clock.split(":")]
    return sum(part * 60**power for power, part in enumerate(reversed(parts)))


def test_the_watch_link_of_pairup_start_shows_the_session_live_in_a_browser(tmp_path):
    need_chromium_here()
    with terminals(tmp_path) as launch:
        ann = launch(
            "ann", "start", "--headless", "--host", LOOPBACK, "--port", "0",
            "--turn", f"{TURN}s", "--name", "Ann", "--email", "ann@example.test",
        )  # fmt: skip
        _, first = ann.expect(lambda record: record["type"] == "link", "the links")
        watch = first["watch"]
        assert watch.startswith(f"https://{LOOPBACK}:"), watch
        port = int(watch.split(":")[2].split("/")[0])
        bob = launch(
            "bob", "join", first["link"], "--headless", "--name", BOB,
            "--email", "bob@example.test",
        )  # fmt: skip
        _, bobs = bob.expect(lambda record: record["type"] == "link", "bob's link line")
        bob_id = bobs["participant"]
        ann.expect(event("participant.joined", actor=bob_id), "bob joins")
        trusted = f"--ignore-certificate-errors-spki-list={spki_hash(port)}"
        asyncio.run(_watch_a_session(ann, bob, bob_id, watch, port, trusted))


async def _watch_a_session(
    ann: Terminal, bob: Terminal, bob_id: str, watch: str, port: int, trusted: str
) -> None:
    async with Chromium(args=[trusted]) as browser:
        page = await browser.page(width=1280, height=900)
        await page.send(
            "Page.addScriptToEvaluateOnNewDocument",
            source=f"{{ const real = Date.now; Date.now = () => real() + {SKEW * 1000}; }}",
        )
        opened = time.monotonic()
        await page.goto(watch)
        seen = await until_shown(
            page,
            lambda seen: "connected" in seen["status"] and len(seen["roster"]) == 2,
            "both participants, connected",
        )
        print(f"live on the page {time.monotonic() - opened:.2f} s after opening the link")
        assert await page.evaluate("Date.now() / 1000") - time.time() > SKEW - 5
        assert "Ann" in seen["roster"][0]
        assert BOB in seen["roster"][1]

        # A decision with hostile text, Bob's agreement with a hostile why, a lesson.
        ann.send({"cmd": "decide", "title": HOSTILE_TITLE, "context": CORPUS["markdown structure"]})
        _, decided = await ann.until(event("decision.recorded"), "the decision")
        bob.expect(event("decision.recorded"), "bob has the decision")
        bob.send({"cmd": "agree", "number": 1, "why": HOSTILE_WHY})
        ann.send({"cmd": "lesson", "text": HOSTILE_LESSON})
        await ann.until(event("decision.opinion"), "bob's agreement")
        seen = await until_shown(
            page,
            lambda seen: (
                seen["decisions"] == [HOSTILE_TITLE]
                and "✓1" in seen["decisionRows"][0]
                and seen["lessons"] == [HOSTILE_LESSON]
            ),
            "the decision, agreed, and the lesson",
        )
        assert seen["injected"] == 0
        assert seen["notices"] == []
        agreed = await page.evaluate(
            "(() => { const d = document.querySelector('section.decisions details');"
            " d.open = true; return d.textContent; })()"
        )
        assert HOSTILE_WHY in agreed
        assert CORPUS["markdown structure"] in agreed or "# Heading" in agreed

        # The countdown, in step with the relay's clock, and the rotation within a second
        # of the terminals.
        ann.send({"cmd": "start"})
        _, started = await ann.until(event("turn.started"), "the turn's start")
        ends = started["event"]["stamped_at"] + TURN
        seen = await until_shown(page, lambda seen: "Ann" in seen["headline"], "Ann driving")
        # The page's browser runs seven minutes fast: it shows the relay's time all the same.
        # (The clock shows whole seconds rounded up, redrawn every 250 ms.)
        left = ends - time.time()
        assert seconds(seen["clock"]) - 1.3 <= left <= seconds(seen["clock"]) + 0.3, seen["clock"]
        await page.screenshot(ARTEFACTS / "watch-desktop-light.png")

        async def page_rotation() -> float:
            await until_shown(page, lambda seen: BOB in seen["headline"], "Bob driving")
            return time.monotonic()

        on_page, (on_terminal, _) = await asyncio.gather(
            page_rotation(), ann.until(event("roles.rotated"), "the rotation")
        )
        gap = on_page - on_terminal
        print(f"the page showed the rotation {gap * 1000:+.0f} ms after Ann's terminal")
        assert abs(gap) <= 1.0

        await page.resize(390, 844, mobile=True)
        await page.screenshot(ARTEFACTS / "watch-phone-light.png", full_page=True)
        await page.send(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": "dark"}],
        )
        await page.screenshot(ARTEFACTS / "watch-phone-dark.png", full_page=True)
        await page.resize(1280, 900)
        await page.screenshot(ARTEFACTS / "watch-desktop-dark.png")

        # The end, with its summary.
        ann.send({"cmd": "end"})
        await ann.until(event("session.ended"), "the end")
        seen = await until_shown(page, lambda seen: seen["summary"], "the end of the session")
        assert "ended" in seen["status"]
        assert "Ann" in seen["summary"]
        await page.screenshot(ARTEFACTS / "watch-desktop-ended.png")

        own = (f"https://{LOOPBACK}:{port}/", f"wss://{LOOPBACK}:{port}/")
        assert page.requests
        assert [url for url in page.requests if not url.startswith(own)] == []
        problems = [line for line in page.console if "exception" in line or "error" in line]
        assert problems == []
        assert decided["event"]["title"] == HOSTILE_TITLE


# -- a standalone relay, and bodies the page must refuse -------------------------------------------


@contextlib.asynccontextmanager
async def host_link(relay_url: str, tmp_path: Path) -> AsyncIterator[tuple[Link, wire.JoinLink]]:
    session, secret = new_session()
    join = wire.JoinLink(relay_url, session, secret)
    ann = Link(join, "ann", tmp_path / "ann", create=True, rng=PinnedJitter())
    task = asyncio.create_task(ann.run())
    try:
        await until(lambda: ann.status.state == "connected", "Ann is connected")
        person = ev.Participant(id="ann", name="Ann", email="ann@example.test")
        await ann.submit(
            ev.ParticipantJoined(id=new_id(), actor="ann", at=ann.now(), participant=person)
        )
        yield ann, join
    finally:
        await ann.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, WAIT)


def test_a_body_that_fails_authentication_or_is_forged_is_shown_as_an_error_never_applied(
    tmp_path,
):
    need_chromium_here()

    async def scenario() -> None:
        async with (
            running_relay(tmp_path / "relay") as relay,
            host_link(relay.url, tmp_path) as (ann, join),
            Chromium() as browser,
        ):
            page = await browser.page()
            await page.goto(str(join.watching()))
            await until_shown(page, lambda seen: len(seen["roster"]) == 1, "Ann")
            mallory = await Peer.join(relay.url, join.session, join.secret, "mallory")
            # A body sealed under another key: it does not open.
            wrong = wire.JoinLink(relay.url, join.session, b"w" * 16).body_key
            event_id = new_id()
            await mallory.send(
                wire.Publish(
                    id=event_id,
                    sender="mallory",
                    body=seal.seal(wrong, b"{}", seal.event_aad(join.session, "mallory", event_id)),
                )
            )
            # A decision in Ann's name, sealed right, dressed as one re-seeded from a journal
            # (the only events one participant may publish for another) and signed by nobody.
            forged = ev.DecisionRecorded(
                id=new_id(),
                actor="ann",
                at=time.time(),
                stamped_at=time.time(),
                decision_id=new_id(),
                title="Forged",
            )
            await mallory.publish(ev.encode_event(forged).decode(), event_id=forged.id)
            seen = await until_shown(page, lambda seen: len(seen["notices"]) == 2, "two notices")
            assert "failed authentication" in seen["notices"][0]
            assert "mallory published decision.recorded in the name of ann" in seen["notices"][1]
            assert seen["decisions"] == []
            # The session goes on: Ann's own decision shows.
            await ann.submit(
                ev.DecisionRecorded(
                    id=new_id(), actor="ann", at=ann.now(), decision_id=new_id(), title="Real"
                )
            )
            await until_shown(page, lambda seen: seen["decisions"] == ["Real"], "Ann's decision")
            own = (relay.url.replace("ws:", "http:") + "/", relay.url + "/")
            assert [url for url in page.requests if not url.startswith(own)] == []

    asyncio.run(scenario())


def test_catching_up_on_a_long_log_costs_one_resume_and_two_tabs_are_two_watchers(tmp_path):
    """A page that opens a session of many frames asks for it once, not once per frame; two
    tabs of one browser on one link are two watchers, neither knocking the other off."""
    need_chromium_here()

    async def scenario() -> None:
        async with (
            running_relay(tmp_path / "relay") as relay,
            host_link(relay.url, tmp_path) as (ann, join),
            Chromium() as browser,
        ):
            mallory = await Peer.join(relay.url, join.session, join.secret, "mallory")
            # Bodies that open but read as no event: the page uses each offset up quickly,
            # and the log spans many frames of the relay's replay.
            filler = json.dumps({"padding": "x" * 6000})
            for _ in range(150):
                await mallory.publish(filler)
            await until(lambda: ann.confirmed.last_seq >= 151, "the relay has the whole log")
            first = await browser.page()
            await first.goto(str(join.watching()))
            await first.wait_for(
                "document.querySelectorAll('section.notices li').length > 0"
                " && document.querySelector('.status').textContent.includes('connected')",
                timeout=WAIT,
            )
            await first.wait_for(
                "[...document.querySelectorAll('section.notices li')].at(-1)"
                "?.textContent.includes('event 151')",
                timeout=WAIT,
            )
            resumes = [frame for frame in first.frames_sent if '"resume"' in frame]
            assert len(resumes) == 1, resumes
            second = await browser.page()
            await second.goto(str(join.watching()))
            await until(lambda: len(ann.watchers) == 2, "Ann sees two watchers")
            await asyncio.sleep(1.0)
            for page in (first, second):
                assert "connected" in (await shown(page))["status"]
            assert len(ann.watchers) == 2
            reconnects = [url for url in first.requests + second.requests if url.startswith("ws")]
            assert len(reconnects) == 2, reconnects

    asyncio.run(scenario())
