"""The watch page's drawing in a real Chromium: render.mjs, watch.css and watch.html, no relay.

Each test serves a folder laid out as the relay serves the page (the page at the top, its files
under ``/_pairup/``) with copies of the real files, but with a test module in place of the
page's connection (watch.mjs): it hands ``render`` whatever model a test passes in. The copy of
watch.html carries the relay's Content-Security-Policy as a meta tag (all of it a meta tag can
hold), so anything the page did that the policy forbids would show in the console.
"""

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pairup
from tests.browser.chromium import Chromium, Page, need_chromium_here, serve_static
from tests.hostile import CORPUS

STATIC = Path(pairup.__file__).parent / "web" / "static"
ARTEFACTS = Path(__file__).parent / "artefacts"
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'"
)
DRIVER = (
    'import { render } from "./render.mjs";\n'
    'const root = document.getElementById("session");\n'
    "window.show = (model) => render(root, model);\n"
    "window.fresh = (model) => {\n"
    '  const other = document.createElement("div");\n'
    '  other.className = "session";\n'
    "  document.body.append(other);\n"
    "  render(other, model);\n"
    "  return other;\n"
    "};\n"
    "window.ready = true;\n"
)
"""The test's stand-in for watch.mjs: ``show`` draws into the page's root, ``fresh`` into a
new root of its own."""

START = 1_767_000_000.0
"""The fixture session's opening: a believable time, so times of day show."""
PHONE = (390, 844)
DESKTOP = (1920, 1080)


def member(ident: str, name: str, role: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "name": name,
        "email": f"{ident}@example.com",
        "present": role != "left",
        "here": role in ("driver", "navigator"),
        "away": None,
        "role": role,
        "driven": 0,
    } | extra


def decision(number: int, title: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"d{number}",
        "number": number,
        "title": title,
        "status": status,
        "context": "",
        "decision": "",
        "consequences": "",
        "drivers": [],
        "options": [],
        "chosen": "",
        "proposed_by": "ann",
        "proposed_at": START + 300 * number,
        "turn": number,
        "opinions": [],
        "superseded_by": None,
        "supersedes": [],
    } | extra


def rich(phase: str = "running", driver: str = "ann", turn: int = 4) -> dict[str, Any]:
    """A session well under way: four people, decisions with options and opinions, lessons,
    commits, a break, a notice of each kind and a pinned certificate."""
    now = START + 3_000
    members = [
        member("ann", "Ann Lovelace", "navigator", driven=1_200),
        member("bob", "Bob Hopper", "navigator", driven=900),
        member("chen", "Chen Wei", "away", away={"since": START + 2_700, "by_choice": True}),
        member("dee", "Dee Ritchie", "left", driven=300),
    ]
    for row in members:
        if row["id"] == driver and phase != "ended":
            row["role"] = "driver"
    opinions = [
        {"participant": "bob", "stance": "agree", "why": "one file, no server", "at": now - 900},
        {"participant": "chen", "stance": "object", "why": "", "at": now - 800},
        {"participant": "dee", "stance": "agree", "why": "", "at": now - 700},
    ]
    decisions = [
        decision(
            1,
            "Keep the event log in SQLite",
            "superseded",
            context="We need the session's events to survive a crash.\nAnd to be read back fast.",
            decision="Write every event to one SQLite file per session.",
            consequences="Easy to back up; one writer at a time.",
            drivers=["durability", "no server to run"],
            options=[
                {"name": "SQLite", "pros": ["one file", "transactions"], "cons": ["one writer"]},
                {"name": "JSON lines", "pros": ["simple"], "cons": ["no transactions"]},
            ],
            chosen="SQLite",
            opinions=opinions,
            superseded_by="d3",
        ),
        decision(2, "Rotate every 10 minutes", "accepted", opinions=opinions[:1]),
        decision(3, "Append-only journal with checksums", "proposed", supersedes=["d1"]),
        decision(4, "Drop the legacy exporter", "rejected", opinions=opinions[1:2]),
    ]
    people = [{"name": "Bob Hopper", "email": "bob@example.com"}]
    commits = [
        {
            "sha": f"{index:x}" * 40,
            "number": index,
            "summary": summary,
            "author": {"name": "Ann Lovelace", "email": "ann@example.com"},
            "co_authors": people if index % 2 else [],
            "recorded_by": "ann",
            "at": START + 600 * index,
            "turn": index,
        }
        for index, summary in enumerate(
            ["Add the journal", "Rotate on the relay's clock", "Show who is away"], start=1
        )
    ]
    lessons = [
        {"number": 1, "text": "Small commits make handovers painless.", "by": "bob"},
        {"number": 2, "text": "Say the test before you write it.", "by": "ann"},
    ]
    for lesson in lessons:
        lesson |= {"at": START + 1_000 * lesson["number"], "turn": lesson["number"] + 1}
    ended = phase == "ended"
    return {
        "view": {
            "title": "Sprint 12 · journal rework",
            "phase": phase,
            "turn": turn,
            "host": "ann",
            "driver": driver,
            "remaining": 263.4 if phase in ("running", "paused", "break") else None,
            "length": 600 if phase in ("running", "paused") else 300 if phase == "break" else None,
            "settings": {
                "turn_seconds": 600,
                "break_every": 3,
                "break_seconds": 300,
                "max_participants": 8,
                "auto_start": True,
                "away_after_seconds": 120,
            },
            "members": members,
            "decisions": decisions,
            "commits": commits,
            "lessons": lessons,
            "breaks": [{"turn": 3, "start": START + 1_800, "end": START + 2_100}],
            "stints": [],
            "opened_at": START,
            "ended_at": now if ended else None,
            "clock": now,
            "tally": {
                "driving": {"ann": 1_200, "bob": 900, "dee": 300},
                "paused": 0,
                "breaks": 300,
                "idle": 0,
            },
        },
        "now": now,
        "status": "ended" if ended else "live",
        "problem": None,
        "notices": [
            {
                "seq": 41,
                "kind": "unauthentic",
                "text": "an event from the relay failed authentication",
            },
            {
                "seq": 44,
                "kind": "forged",
                "text": "mallory published decision.recorded in the name of ann",
            },
        ],
        "presence": {
            "connected": ["ann", "bob"],
            "watching": [{"id": "w-self", "name": None}, {"id": "w-kim", "name": "Kim"}],
        },
        "self": {"id": "w-self"},
        "pin": ":".join(f"{(index * 37) % 256:02X}" for index in range(32)),
    }


def typed(text: str) -> dict[str, Any]:
    """The rich session with ``text`` in every field a participant types (and a watcher's name)."""
    model = rich(phase="ended")
    view = model["view"]
    view["title"] = text
    for row in view["members"]:
        row["name"] = text
    for row in view["decisions"]:
        for field in ("title", "context", "decision", "consequences"):
            row[field] = text
        row["drivers"] = [text]
        row["options"] = [{"name": text, "pros": [text], "cons": [text]}]
        row["chosen"] = text
        for opinion in row["opinions"]:
            opinion["why"] = text
    for row in view["commits"]:
        row["summary"] = text
        row["author"]["name"] = text
        row["co_authors"] = [{"name": text, "email": "x@example.com"}]
    for row in view["lessons"]:
        row["text"] = text
    model["presence"]["watching"][1]["name"] = text
    return model


def js(value: Any) -> str:
    """``value`` as a JavaScript literal (JSON, every non-ASCII character escaped)."""
    return json.dumps(value)


@asynccontextmanager
async def opened(
    tmp_path: Path, *, size: tuple[int, int] = PHONE, dark: bool = False
) -> AsyncIterator[Page]:
    """A Chromium tab on the watch page with the test's driver, ready to draw."""
    files = tmp_path / "site"
    (files / "_pairup").mkdir(parents=True, exist_ok=True)
    for name in ("render.mjs", "watch.css", "icon.svg"):
        shutil.copy(STATIC / name, files / "_pairup" / name)
    (files / "_pairup" / "watch.mjs").write_text(DRIVER)
    page_html = (STATIC / "watch.html").read_text()
    policy = f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
    (files / "watch.html").write_text(page_html.replace("<head>", f"<head>\n{policy}", 1))
    with serve_static(files) as base:
        async with Chromium() as browser:
            page = await browser.page(width=size[0], height=size[1], dark=dark)
            await page.goto(f"{base}/watch.html")
            await page.wait_for("window.ready === true")
            yield page
            assert all(url.startswith(f"{base}/") for url in page.requests), page.requests
            assert page.console == [], page.console


HOSTILE = """(plain, text, cases) => {
  const signature = (root) => Array.from(root.querySelectorAll("*"), (element) =>
    [element.tagName, ...element.getAttributeNames().sort()].join(" ")).join("\\n");
  const exactly = (root, words) => Array.from(root.querySelectorAll("*"))
    .filter((element) => element.textContent === words).length;
  const baseline = fresh(plain);
  const expected = {signature: signature(baseline), shown: exactly(baseline, text)};
  const seen = {};
  for (const [name, [words, model]] of Object.entries(cases)) {
    const root = fresh(model);
    seen[name] = {
      signature: signature(root) === expected.signature,
      shown: exactly(root, words),
      expected: expected.shown,
      dangerous: root.querySelectorAll("script, img, a, iframe, object, style, link").length,
    };
    root.remove();
  }
  return seen;
}"""
"""For each case, whether its text made the same elements and attributes as plain words, and in
how many elements it is the whole text (as the plain words are)."""


def test_hostile_text_shows_literally(tmp_path: Path) -> None:
    """Every hostile string, in every field a participant types, is shown as it is, and makes
    the same elements and attributes as plain words do."""
    need_chromium_here()
    plain = "plain words"
    cases = {name: [text, typed(text)] for name, text in CORPUS.items()}

    async def run() -> None:
        async with opened(tmp_path) as page:
            found = await page.evaluate(
                f"({HOSTILE})({js(typed(plain))}, {js(plain)}, {js(cases)})"
            )
            for name, seen in found.items():
                assert seen["signature"], f"{name}: the text changed the page's elements"
                assert seen["dangerous"] == 0, name
                assert seen["expected"] >= 30, "every typed field shows in an element of its own"
                assert seen["shown"] == seen["expected"], f"{name}: {seen}"

    asyncio.run(run())


OVERFLOW = """(() => {
  const width = document.documentElement.clientWidth;
  const wide = Array.from(document.querySelectorAll("#session *"))
    .filter((element) => element.getClientRects().length > 0)
    .filter((element) => element.getBoundingClientRect().right > width + 0.5)
    .map((element) => element.tagName + "." + element.className);
  return {scroll: document.documentElement.scrollWidth, width, wide};
})()"""


def test_long_words_wrap_on_a_narrow_phone(tmp_path: Path) -> None:
    """2,000-character words in every field, every decision open: nothing is wider than a
    360-pixel screen, while the session runs and on its end summary."""
    need_chromium_here()
    word = "w" * 2_000

    async def run() -> None:
        async with opened(tmp_path, size=(360, 740)) as page:
            for phase in ("running", "ended"):
                model = typed(word)
                model["view"]["phase"] = phase
                model["problem"] = word
                model["notices"][0]["text"] = word
                await page.evaluate(f"show({js(model)})")
                await page.evaluate(
                    "document.querySelectorAll('details').forEach((d) => { d.open = true; })"
                )
                found = await page.evaluate(OVERFLOW)
                assert found["scroll"] <= found["width"], (phase, found)
                assert found["wide"] == [], (phase, found)

    asyncio.run(run())


CONTRAST = """(() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const [R, G, B] = [r, g, b].map((c) => {
      const s = c / 255;
      return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * R + 0.7152 * G + 0.0722 * B;
  };
  const behind = (element) => {
    for (let at = element; at; at = at.parentElement) {
      const colour = rgb(getComputedStyle(at).backgroundColor);
      if (colour.length === 3 || colour[3] === 1) return colour.slice(0, 3);
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3);
  };
  const low = [];
  for (const element of document.querySelectorAll("#session *")) {
    const words = Array.from(element.childNodes).some((n) => n.nodeType === 3 && n.data.trim());
    if (!words || element.closest(".vh, [hidden]") || !element.getClientRects().length) continue;
    const a = luminance(rgb(getComputedStyle(element).color));
    const b = luminance(behind(element));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${element.tagName}.${element.className} ${ratio.toFixed(2)}`);
  }
  return {low, background: getComputedStyle(document.documentElement).backgroundColor};
})()"""


def test_light_and_dark_at_phone_and_desktop_sizes(tmp_path: Path) -> None:
    """The rich session in the light and the dark scheme, on a phone and a wall screen: every
    text meets WCAG AA contrast, the scheme follows the system, and the screenshots are kept."""
    need_chromium_here()
    ARTEFACTS.mkdir(exist_ok=True)

    async def run() -> None:
        for dark in (False, True):
            scheme = "dark" if dark else "light"
            for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
                async with opened(tmp_path, size=size, dark=dark) as page:
                    await page.evaluate(f"show({js(rich())})")
                    await page.evaluate("document.querySelector('details').open = true")
                    found = await page.evaluate(CONTRAST)
                    assert found["low"] == [], (scheme, label, found)
                    shade = sum(int(c) for c in found["background"][4:-1].split(",")) / 3
                    assert (shade < 64) if dark else (shade > 192), found["background"]
                    clock = await page.evaluate(
                        "document.querySelector('[role=timer]').textContent"
                    )
                    assert clock == "04:24"
                    await page.screenshot(ARTEFACTS / f"watch-{label}-{scheme}.png")
                    if label == "desktop" and not dark:
                        await page.evaluate(f"show({js(rich(phase='ended'))})")
                        await page.screenshot(ARTEFACTS / "watch-desktop-ended.png")

    asyncio.run(run())


def test_focus_and_open_details_survive_renders(tmp_path: Path) -> None:
    """A decision opened from the keyboard stays open, and its summary keeps focus, through
    five renders in which the countdown runs and the decision changes. The decisions' summaries
    are all that takes focus."""
    need_chromium_here()

    async def run() -> None:
        async with opened(tmp_path) as page:
            model = rich()
            await page.evaluate(f"show({js(model)})")
            focusable = "a[href], button, input, select, textarea, [tabindex], [contenteditable]"
            assert await page.evaluate(f"document.querySelectorAll('{focusable}').length") == 0
            await page.evaluate(
                "window.kept = document.querySelectorAll('summary')[1]; window.kept.focus()"
            )
            for kind in ("keyDown", "keyUp"):
                await page.send(
                    "Input.dispatchKeyEvent",
                    type=kind,
                    key="Enter",
                    code="Enter",
                    windowsVirtualKeyCode=13,
                    text="\r" if kind == "keyDown" else "",
                )
            await page.wait_for("window.kept.parentElement.open")
            for tick in range(5):
                model["now"] += 0.25
                model["view"]["remaining"] -= 0.25
                model["view"]["decisions"][1]["opinions"].append(
                    {"participant": "ann", "stance": "object", "why": f"no {tick}", "at": 0}
                )
                await page.evaluate(f"show({js(model)})")
                state = await page.evaluate(
                    """({focused: document.activeElement === window.kept,
                         open: window.kept.parentElement.open,
                         attached: window.kept.isConnected,
                         body: window.kept.parentElement.textContent})"""
                )
                assert state["attached"], state
                assert state["focused"], state
                assert state["open"], state
                assert f"no {tick}" in state["body"]

    asyncio.run(run())


def test_live_region_says_what_matters(tmp_path: Path) -> None:
    """The polite live region says a rotation, a decision and the end; a tick of the countdown
    changes nothing in it, and the countdown itself is a timer, not a live region. With reduced
    motion asked for, the rotation does not flash."""
    need_chromium_here()

    async def run() -> None:
        async with opened(tmp_path) as page:
            await page.send(
                "Emulation.setEmulatedMedia",
                features=[{"name": "prefers-reduced-motion", "value": "reduce"}],
            )
            live = "document.querySelector('[aria-live=polite]').textContent"
            model = rich()
            await page.evaluate(f"show({js(model)})")
            assert await page.evaluate(live) == "", "nothing is said of what was already so"
            rotated = rich(driver="bob", turn=5)
            await page.evaluate(f"show({js(rotated)})")
            assert await page.evaluate(live) == "Bob Hopper drives now."
            moving = "getComputedStyle(document.querySelector('.turn')).animationName"
            assert await page.evaluate(moving) == "none", "no flash with reduced motion"
            await page.evaluate(
                """(() => {
                  window.changes = 0;
                  new MutationObserver((seen) => { window.changes += seen.length; })
                    .observe(document.querySelector('[aria-live=polite]'),
                             {childList: true, characterData: true, subtree: true});
                })()"""
            )
            for _ in range(4):
                rotated["now"] += 1
                rotated["view"]["remaining"] -= 1
                await page.evaluate(f"show({js(rotated)})")
            await page.evaluate("new Promise((done) => setTimeout(done, 50))")
            assert await page.evaluate("window.changes") == 0
            timer = await page.evaluate(
                """(() => { const t = document.querySelector('[role=timer]');
                            return [t.textContent, t.getAttribute('aria-live')]; })()"""
            )
            assert timer == ["04:20", None]
            rotated["view"]["decisions"].append(
                decision(5, "Pin the relay's certificate", "accepted")
            )
            await page.evaluate(f"show({js(rotated)})")
            said = await page.evaluate(live)
            assert said == "Decision 5 recorded: Pin the relay's certificate (accepted)."
            await page.evaluate(f"show({js(rich(phase='ended'))})")
            assert "The session has ended." in await page.evaluate(live)

    asyncio.run(run())


def test_page_has_only_its_own_files() -> None:
    """watch.html has no inline script, style or event handler, and names only the relay's own
    files, with the root render draws into."""
    page = (STATIC / "watch.html").read_text()
    assert re.findall(r"<script[^>]*>", page) == ['<script type="module" src="/_pairup/watch.mjs">']
    assert "<style" not in page
    assert re.search(r"\sstyle=|\son[a-z]+=", page) is None
    assert sorted(re.findall(r'(?:src|href)="([^"]*)"', page)) == [
        "/_pairup/icon.svg",
        "/_pairup/watch.css",
        "/_pairup/watch.mjs",
    ]
    assert 'id="session"' in page
