"""The watch page in step with the terminals when things go wrong: a relay running a fault
drill, a relay restarted on its data, a relay replaced by an empty one the participants
re-seed, and a reload of the page.

One headless Chromium serves the module (an ``asyncio.Runner`` keeps it open, as in
test_session_parity.py); each test opens a tab on the watch link of its own session, on an
in-process relay on 127.0.0.1, with in-process links as its participants. What the page shows is
compared with what the participants' links confirmed, once they agree: the same decisions, in
the same order, with the same ✓ and ✗ counts, and no notices.
"""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from pairup import protocol as wire
from pairup import seal
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.relay.chaos import Chaos, ChaosSpec
from pairup.session import events as ev
from pairup.session.state import State
from tests.integration.relaykit import (
    LOOPBACK,
    Peer,
    RunningRelay,
    free_port,
    new_session,
    relay_on,
    running_relay,
)
from tests.integration.test_link import Crew, crew_in, decide, introduce

from .chromium import Chromium, Page, ProtocolError, shared_browser
from .test_watch_page import shown, until_shown

DRILL = "drop=0.1,dup=0.1,delay=0-100ms,disconnect=0.05,seed=23"
"""The drill while the participants make most of their decisions: it cuts connections too."""
LOSSY = "drop=0.3,dup=0.1,delay=0-100ms,seed=23"
"""The drill for the rest: it loses more, and cuts nothing."""
DECISIONS = 15
"""Decisions each participant makes in the drill."""
SETTLE = 30.0
"""Seconds the participants and the page have to agree through the drill: what the drill
loses is asked for again every 2 s."""
WAIT = 15.0

ROWS = """
[...document.querySelectorAll("section.decisions > ol > li summary")].map((row) => {
  const shown = (selector) => {
    const part = row.querySelector(selector);
    return part.hidden ? "" : part.textContent;
  };
  return [shown(".number"), shown(".subject"), shown(".agreed"), shown(".objected")];
})
"""
"""Each decision the page lists: its number, its title, and its ✓ and ✗ counts as shown."""


def rows_of(state: State) -> list[list[str]]:
    """The rows the page should list for a participant's confirmed state."""
    return [
        [
            f"{decision.number}.",
            decision.title,
            f"✓{len(decision.agreed)} agree" if decision.agreed else "",
            f"✗{len(decision.objected)} object" if decision.objected else "",
        ]
        for decision in state.decisions_in_order()
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[tuple[asyncio.Runner, Chromium]]:
    with shared_browser() as shared:
        yield shared


@contextlib.asynccontextmanager
async def watching(chromium: Chromium, join: wire.JoinLink) -> AsyncIterator[Page]:
    """A tab on ``join``'s watch link; left for a blank page at the end, so its connection
    closes with the test."""
    page = await chromium.page()
    await page.goto(str(join.watching()))
    try:
        yield page
    finally:
        with contextlib.suppress(Exception):
            await page.goto("about:blank")


async def pair(crew: Crew, join: wire.JoinLink, **options: object) -> tuple[Link, Link]:
    """Ann, who creates the session and joins it first, and Bob."""
    ann = crew.link(join, "ann", create=True, **options)
    await crew.connected(ann)
    await introduce(ann, "Ann")
    await crew.until(lambda: ann.confirmed.member("ann") is not None, "ann is in the session")
    bob = crew.link(join, "bob", **options)
    await introduce(bob, "Bob")
    await crew.until(
        lambda: all(link.confirmed.member("bob") is not None for link in (ann, bob)),
        "bob is in the session",
    )
    return ann, bob


def settled(*links: Link, stored: RunningRelay | None = None) -> bool:
    """The links agree on the log, nothing of theirs is on its way, and (given the relay)
    the log is all the relay has."""
    first = links[0].confirmed
    # A link's confirmed state is the journal's: it follows the link's own a moment later.
    if any(
        link.pending or link.view != link.confirmed or link.confirmed != first for link in links
    ):
        return False
    if stored is None:
        return True
    session = links[0].join.session
    return first.last_seq == len(stored.store.events_after(session, 0))


async def until_page_shows(page: Page, state: State, timeout: float = WAIT) -> dict[str, Any]:
    """Wait until the page lists exactly ``state``'s decisions, in its order, with its
    counts, and shows no notice; what it shows then."""
    wanted = rows_of(state)
    deadline = time.monotonic() + timeout
    while True:
        rows = await page.evaluate(ROWS)
        seen = await shown(page)
        if rows == wanted and seen["notices"] == []:
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the page never showed the terminals' {len(wanted)} decisions and no "
                f"notice; it lists {len(rows)}: {rows}; wanted {wanted}; it shows {seen}; "
                f"console: {page.console[-10:]}"
            )
        await asyncio.sleep(0.05)


async def opinion(link: Link, decision_id: str, stance: str) -> None:
    await link.submit(
        ev.DecisionOpinion(
            id=new_id(),
            actor=link.participant,
            at=link.now(),
            decision_id=decision_id,
            stance=stance,  # type: ignore[arg-type]
            why=f"{link.participant} says so",
        )
    )


async def offline(page: Page, down: bool) -> None:
    """Take the page's network down, or bring it back: no connection is made while down."""
    await page.send(
        "Network.emulateNetworkConditions",
        offline=down,
        latency=0,
        downloadThroughput=-1,
        uploadThroughput=-1,
    )


def sockets(page: Page) -> int:
    """How many websockets the page has opened."""
    return sum(url.startswith(("ws:", "wss:")) for url in page.requests)


# -- a fault drill --------------------------------------------------------------------------------


async def decide_and_judge(link: Link, other: Link, crew: Crew, numbers: range) -> None:
    """The link's decisions ``numbers``, then its opinion of some of the other's of the same
    numbers: it agrees with every third and objects to a few others."""
    for number in numbers:
        await decide(link, f"{link.participant}'s decision {number}")
    titles = {f"{other.participant}'s decision {number}" for number in numbers}

    def theirs() -> list[str]:
        return [d.id for d in link.confirmed.decisions_in_order() if d.title in titles]

    await crew.until(
        lambda: len(theirs()) == len(titles),
        f"{link.participant} has {other.participant}'s decisions {numbers}",
        timeout=SETTLE,
    )
    for index, decision_id in enumerate(theirs()):
        if index % 3 == 0:
            await opinion(link, decision_id, "agree")
        elif index % 5 == 1:
            await opinion(link, decision_id, "object")


async def both_decide(
    crew: Crew, relay: RunningRelay, ann: Link, bob: Link, numbers: range
) -> State:
    """Ann and Bob decide and judge at once; the log once they agree on it."""
    await asyncio.gather(
        decide_and_judge(ann, bob, crew, numbers), decide_and_judge(bob, ann, crew, numbers)
    )
    await crew.until(lambda: settled(ann, bob, stored=relay), "ann and bob agree", timeout=SETTLE)
    assert len(ann.confirmed.decisions) == 2 * numbers.stop - 2
    return ann.confirmed


def test_through_a_fault_drill_the_page_ends_with_the_terminals_decisions(browser, tmp_path):
    runner, chromium = browser

    async def scenario() -> None:
        async with (
            running_relay(tmp_path / "relay", chaos=Chaos(ChaosSpec.parse(DRILL))) as relay,
            crew_in(tmp_path) as crew,
        ):
            session, secret = new_session()
            join = wire.JoinLink(relay.url, session, secret)
            fast = {"ping_interval": 1.0, "resend_after": 0.5}
            ann, bob = await pair(crew, join, **fast)
            async with watching(chromium, join) as page:
                await until_shown(page, lambda seen: "connected" in seen["status"], "it connects")
                state = await both_decide(crew, relay, ann, bob, range(1, 11))
                await until_page_shows(page, state, timeout=SETTLE)
                await crew.until(lambda: sockets(page) > 1, "the drill cuts the page's connection")
                # The drill goes on without cuts: what the page misses from now on, only its
                # own repair can fill, as no new connection asks for everything again.
                assert relay.relay.chaos is not None
                relay.relay.chaos.spec = ChaosSpec.parse(LOSSY)
                cut = sockets(page)
                state = await both_decide(crew, relay, ann, bob, range(11, DECISIONS + 1))
                opinions = [o.stance for d in state.decisions.values() for o in d.opinions]
                assert sorted(set(opinions)) == ["agree", "object"]
                await until_page_shows(page, state, timeout=SETTLE)
                assert sockets(page) == cut
                faults = relay.relay.chaos.counts
                assert all(faults[fault] > 0 for fault in ("drop", "dup", "delay")), faults

    runner.run(scenario())


# -- a relay restarted, or replaced ---------------------------------------------------------------


def test_a_relay_restarted_on_its_data_is_rejoined_by_the_page_with_nothing_doubled(
    browser, tmp_path
):
    runner, chromium = browser

    async def scenario() -> None:
        port = free_port()
        session, secret = new_session()
        join = wire.JoinLink(f"ws://{LOOPBACK}:{port}", session, secret)
        async with crew_in(tmp_path) as crew, contextlib.AsyncExitStack() as before:
            await before.enter_async_context(relay_on(port, tmp_path / "relay"))
            ann, bob = await pair(crew, join)
            first = await decide(ann, "before the restart")
            await decide(bob, "also before the restart")
            await crew.until(lambda: settled(ann, bob), "ann and bob agree")
            async with watching(chromium, join) as page:
                await opinion(bob, first, "agree")
                await crew.until(lambda: settled(ann, bob), "bob's agreement is through")
                await until_page_shows(page, ann.confirmed)
                await before.aclose()
                await until_shown(page, lambda seen: "reconnecting" in seen["status"], "it lost it")
                await decide(ann, "while the relay is down")
                async with relay_on(port, tmp_path / "relay"):
                    await decide(bob, "after the restart")
                    await opinion(ann, first, "object")
                    await crew.until(lambda: settled(ann, bob), "ann and bob agree again")
                    assert len(ann.confirmed.decisions) == 4
                    seen = await until_page_shows(page, ann.confirmed)
                    assert "connected" in seen["status"]
                    assert sockets(page) == 2

    runner.run(scenario())


def test_a_relay_replaced_by_an_empty_one_is_folded_again_from_the_re_seeded_log(browser, tmp_path):
    runner, chromium = browser

    async def scenario() -> None:
        port = free_port()
        session, secret = new_session()
        join = wire.JoinLink(f"ws://{LOOPBACK}:{port}", session, secret)
        async with crew_in(tmp_path) as crew, contextlib.AsyncExitStack() as before:
            old = await before.enter_async_context(relay_on(port, tmp_path / "old-relay"))
            ann, bob = await pair(crew, join)
            async with watching(chromium, join) as page:
                # A body that does not open takes an offset of the old log and is shown as a
                # notice; no journal keeps it, so the re-seeded log is one event shorter and
                # every later offset moves.
                mallory = await Peer.join(old.url, session, secret, "mallory")
                wrong = wire.JoinLink(old.url, session, b"w" * 16).body_key
                garbled = new_id()
                aad = seal.event_aad(session, "mallory", garbled)
                await mallory.send(
                    wire.Publish(id=garbled, sender="mallory", body=seal.seal(wrong, b"{}", aad))
                )
                await mallory.close()
                first = await decide(ann, "one")
                await decide(bob, "two")
                await crew.until(lambda: settled(ann, bob), "ann and bob agree")
                await opinion(bob, first, "agree")
                await crew.until(lambda: settled(ann, bob), "bob's agreement is through")
                await until_shown(page, lambda seen: len(seen["decisions"]) == 2, "2 decisions")
                assert len((await shown(page))["notices"]) == 1
                # A watcher that reaches an empty relay before a participant has made the
                # session again is refused for good (4401, as a terminal's watcher is): the
                # page's network is down until the participants have re-seeded the new relay.
                old_seq = ann.confirmed.last_seq
                await offline(page, True)
                await before.aclose()
                async with relay_on(port, tmp_path / "new-relay") as new:
                    assert new.store.epoch != old.store.epoch
                    await crew.until(
                        lambda: all(link.epoch == new.store.epoch for link in (ann, bob)),
                        "both links reach the new relay",
                    )
                    await crew.until(lambda: settled(ann, bob, stored=new), "the re-seed")
                    # The new log runs past the old one before the page comes back: only its
                    # epoch says it is another log.
                    await decide(ann, "three, after the re-seed")
                    await decide(bob, "four, after the re-seed")
                    await crew.until(lambda: settled(ann, bob, stored=new), "new decisions")
                    assert ann.confirmed.last_seq > old_seq
                    await offline(page, False)
                    await until_page_shows(page, ann.confirmed)
                    await opinion(ann, first, "object")
                    await crew.until(lambda: settled(ann, bob, stored=new), "ann's objection")
                    seen = await until_page_shows(page, ann.confirmed)
                    assert "connected" in seen["status"]
                    assert [d.title for d in ann.confirmed.decisions_in_order()] == [
                        "one",
                        "two",
                        "three, after the re-seed",
                        "four, after the re-seed",
                    ]

    runner.run(scenario())


# -- a reload ------------------------------------------------------------------------------------


async def reload(page: Page) -> None:
    """Reload the page and wait until the new document has loaded."""
    before = await page.evaluate("performance.timeOrigin")
    await page.send("Page.reload")
    deadline = time.monotonic() + WAIT
    while True:
        with contextlib.suppress(ProtocolError):
            now = await page.evaluate(
                "document.readyState === 'complete' && performance.timeOrigin"
            )
            if now not in (False, before):
                return
        assert time.monotonic() < deadline, "the page did not load again"
        await asyncio.sleep(0.05)


def test_a_reloaded_page_comes_back_as_the_same_watcher_and_shows_the_whole_session(
    browser, tmp_path
):
    runner, chromium = browser

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay, crew_in(tmp_path) as crew:
            session, secret = new_session()
            join = wire.JoinLink(relay.url, session, secret)
            ann, bob = await pair(crew, join)
            watchers: set[str] = set()
            ann.listeners.append(lambda: watchers.update(ann.watchers))
            first = await decide(ann, "one")
            await decide(bob, "two")
            await crew.until(lambda: settled(ann, bob), "ann and bob agree")
            await opinion(bob, first, "agree")
            await crew.until(lambda: settled(ann, bob), "bob's agreement is through")
            async with watching(chromium, join) as page:
                await until_page_shows(page, ann.confirmed)
                await crew.until(lambda: len(ann.watchers) == 1, "the page watches")
                [me] = ann.watchers
                kept = await page.evaluate(f"localStorage.getItem('pairup.watch.{session}')")
                assert me in kept
                await reload(page)
                await until_page_shows(page, ann.confirmed)
                await decide(bob, "three, after the reload")
                await crew.until(lambda: settled(ann, bob), "bob's decision is through")
                await until_page_shows(page, ann.confirmed)
                shown_watchers = await page.evaluate(
                    "document.querySelector('section.roster .watchers').textContent"
                )
                assert shown_watchers == "watching: a browser (you)"
                assert ann.watchers == {me: "a browser"}
                assert watchers == {me}, "the reloaded page watched under another id"
                assert sockets(page) == 2

    runner.run(scenario())
