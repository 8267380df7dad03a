"""How soon a watch link opened in a browser shows the session, and what the page costs to load.

A relay on loopback holds a session two participants filled (``--events`` events: joins,
decisions each agreed with, lessons), and headless Chromium opens its watch link. The figure is
the time from asking the browser to open the link to the page showing the whole session live:
connected, and the last decision of the log on screen, after the page loaded its files, derived
its keys, said hello, and opened, checked (each event's signature) and folded every event. Each
run is a new tab with the browser's cache off, as a first visit. The baseline is a terminal's
pairup watching the same link: from its start to the same last event applied. The page's files
are measured as they cross the wire.

    python -m bench.watch            # 5 runs each, on a log of 200 and of 1,000 events
    python -m bench.watch --quick    # 1 run on 40 events: only checks the benchmark still works
"""

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text
from pairup import protocol as wire
from pairup.launch import new_session_id
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.relay.server import Relay
from pairup.relay.store import Store
from pairup.session import events as ev
from tests.browser.chromium import Chromium, Page

LOOPBACK = "127.0.0.1"
WAIT = 60.0

LIVE = """
(() => {
  const status = document.querySelector(".status")?.textContent ?? "";
  const titles = [...document.querySelectorAll("section.decisions > ol > li .subject")];
  return status.includes("connected") && titles.at(-1)?.textContent === %s;
})()
"""


@contextlib.asynccontextmanager
async def relay_on_loopback(scratch: Path) -> AsyncIterator[str]:
    store = Store.open(scratch / "relay.sqlite3")
    relay = Relay(store)
    server = await relay.start(LOOPBACK, 0)
    try:
        yield f"ws://{LOOPBACK}:{server.sockets[0].getsockname()[1]}"
    finally:
        await relay.stop(server)
        store.close()


async def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        await asyncio.sleep(0.005)


async def filled_session(relay: str, scratch: Path, events: int) -> tuple[wire.JoinLink, str, int]:
    """A session of Ann and Bob with about ``events`` events: its link, the last decision's
    title, and how many events it holds."""
    join = wire.JoinLink(relay, new_session_id(), new_id().encode()[:16].ljust(16, b"k"))
    ann = Link(join, "ann", scratch / "ann", create=True)
    bob = Link(join, "bob", scratch / "bob")
    tasks = [asyncio.create_task(ann.run())]
    await until(lambda: ann.status.state == "connected", "Ann is connected")
    tasks.append(asyncio.create_task(bob.run()))
    await until(lambda: bob.status.state == "connected", "Bob is connected")
    for link, name in ((ann, "Ann"), (bob, "Bob")):
        person = ev.Participant(id=link.participant, name=name, email=f"{name}@example.test")
        await link.submit(
            ev.ParticipantJoined(
                id=new_id(), actor=link.participant, at=link.now(), participant=person
            )
        )
    title = ""
    rounds = max(1, (events - 2) // 5)
    for number in range(1, rounds + 1):
        title = f"Decision {number}: keep the relay's log in one file per session"
        decision = new_id()
        await ann.submit(
            ev.DecisionRecorded(
                id=new_id(), actor="ann", at=ann.now(), decision_id=decision, title=title,
                context="Sessions are small and written by one writer at a time. " * 4,
                decision="One file per session, appended to and fsynced.",
                consequences="Backups copy one folder; a session is deleted with its file.",
                options=(ev.ConsideredOption(name="One file", pros=("simple",), cons=("many",)),),
            )
        )  # fmt: skip
        await bob.submit(
            ev.DecisionOpinion(
                id=new_id(), actor="bob", at=bob.now(), decision_id=decision, stance="agree",
                why="It is what we can restore by hand.",
            )
        )  # fmt: skip
        await bob.submit(
            ev.LessonNoted(id=new_id(), actor="bob", at=bob.now(), text=f"Lesson {number}")
        )
        await ann.submit(
            ev.DecisionOpinion(
                id=new_id(), actor="ann", at=ann.now(), decision_id=decision, stance="agree"
            )
        )
        await ann.submit(
            ev.LessonNoted(id=new_id(), actor="ann", at=ann.now(), text=f"Noted {number}")
        )
    await until(
        lambda: (
            not ann.pending
            and not bob.pending
            and ann.confirmed.last_seq == bob.confirmed.last_seq == 2 + 5 * rounds
        ),
        "the log is stored",
    )
    for link in (bob, ann):
        await link.close()
    for task in tasks:
        await asyncio.wait_for(task, WAIT)
    return join, title, 2 + 5 * rounds


async def page_run(browser: Chromium, link: str, title: str) -> tuple[float, Page]:
    page = await browser.page(width=1280, height=900)
    await page.send("Network.setCacheDisabled", cacheDisabled=True)
    live = LIVE % json.dumps(title)
    began = time.monotonic()
    await page.send("Page.navigate", url=link)
    while not await page.evaluate(live):
        if time.monotonic() - began > WAIT:
            raise RuntimeError(f"the page did not show the session: {page.console}")
        await asyncio.sleep(0.005)
    return (time.monotonic() - began) * 1000, page


async def terminal_run(join: wire.JoinLink, scratch: Path, events: int) -> float:
    kim = Link(join.watching(), f"kim{new_id()[:6]}", scratch / new_id())
    began = time.monotonic()
    task = asyncio.create_task(kim.run())
    await until(lambda: kim.confirmed.last_seq >= events, "the terminal watcher caught up")
    took = (time.monotonic() - began) * 1000
    await kim.close()
    await asyncio.wait_for(task, WAIT)
    return took


async def measure(sizes: list[int], runs: int) -> tuple[list[Figure], list[str]]:
    figures, report = [], []
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        async with relay_on_loopback(root) as relay, Chromium() as browser:
            transfer: list[float] = []
            files: list[str] = []
            for size in sizes:
                join, title, events = await filled_session(relay, root / f"s{size}", size)
                page_ms, terminal_ms = [], []
                for _ in range(runs):
                    took, page = await page_run(browser, str(join.watching()), title)
                    page_ms.append(took)
                    terminal_ms.append(await terminal_run(join, root / "kim", events))
                    if not transfer:
                        transfer.append(sum(page.transferred.values()) / 1024)
                        files = sorted({url.rsplit("/", 1)[-1] for url in page.requests})
                    await browser.send("Target.closeTarget", targetId=await _target(page))
                figure = Figure(
                    name=f"watch link opened to the session live on the page, {events:,} events",
                    unit="ms",
                    pairup=tuple(page_ms),
                    baseline=tuple(terminal_ms),
                    baseline_name="a terminal's pairup watching the same link",
                    goal=Goal(1000.0) if size <= 200 else None,
                    note=f"{counted(runs, 'run')}, headless Chromium, cache off, loopback relay",
                )
                figures.append(figure)
                report.append(
                    f"{events:>6,} events  page {figure.shown(page_ms)}  "
                    f"terminal {figure.shown(terminal_ms)}  ratio {figure.ratio:.2f}  "
                    f"{verdict_text(figure, quick=runs == 1)}"
                )
            size_figure = Figure(
                name="the watch page's files on the wire, first visit",
                unit="KiB",
                pairup=tuple(transfer),
                goal=Goal(100.0),
                note="HTML, script modules, style and icon, headers included: " + ", ".join(files),
            )
            figures.append(size_figure)
            report.append(f"page files  {size_figure.shown(transfer)} ({', '.join(files)})")
    return figures, report


async def _target(page: Page) -> str:
    info = await page.send("Target.getTargetInfo")
    return info["targetInfo"]["targetId"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    add_options(parser, "1 run on 40 events: only checks the benchmark still works")
    args = parser.parse_args()
    sizes, runs = ([40], 1) if args.quick else ([200, 1000], args.runs)
    figures, report = asyncio.run(measure(sizes, runs))
    print("\n".join(report))
    save(args.figures, figures)


if __name__ == "__main__":
    main()
