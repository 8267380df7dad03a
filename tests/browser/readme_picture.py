"""The README's picture of the watch page: a session of three on a relay on loopback, watched
in headless Chromium, drawn at a desktop's size.

    python -m tests.browser.readme_picture      # writes docs/images/watch-page.png
"""

import asyncio
import contextlib
import secrets
import tempfile
import time
from pathlib import Path

from pairup import protocol as wire
from pairup.launch import new_session_id
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from tests.integration.relaykit import running_relay

from .chromium import Chromium

PICTURE = Path(__file__).resolve().parents[2] / "docs" / "images" / "watch-page.png"
WAIT = 20.0


async def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting until {what}")
        await asyncio.sleep(0.02)


def decision(link: Link, title: str, options: tuple[str, ...], chosen: str) -> ev.DecisionRecorded:
    return ev.DecisionRecorded(
        id=new_id(),
        actor=link.participant,
        at=link.now(),
        decision_id=new_id(),
        title=title,
        context="Teammates follow sessions from phones and meeting rooms.",
        decision=f"{chosen}.",
        options=tuple(ev.ConsideredOption(name=name) for name in options),
        chosen=chosen,
    )


async def picture(scratch: Path) -> None:
    async with running_relay(scratch / "relay") as relay:
        join = wire.JoinLink(relay.url, new_session_id(), secrets.token_bytes(16))
        people = {"ann": "Ann Lovelace", "bob": "Bob Hopper", "kim": "Kim Liskov"}
        links = {
            who: Link(join, who, scratch / who, create=who == "ann")
            for who in ("ann", "bob", "kim")
        }
        tasks = []
        for who, link in links.items():
            tasks.append(asyncio.create_task(link.run()))
            await until(lambda link=link: link.status.state == "connected", f"{who} connects")
            person = ev.Participant(id=who, name=people[who], email=f"{who}@example.test")
            await link.submit(
                ev.ParticipantJoined(id=new_id(), actor=who, at=link.now(), participant=person)
            )
        ann, bob, kim = links["ann"], links["bob"], links["kim"]
        settings = ev.SessionSettings(turn_seconds=15 * 60, break_every=3, break_seconds=300)
        await ann.submit(
            ev.SessionOpened(
                id=new_id(), actor="ann", at=ann.now(), settings=settings, title="Watch page day"
            )
        )
        await ann.submit(ev.TurnStarted(id=new_id(), actor="ann", at=ann.now(), turn=1))
        first = decision(
            ann,
            "Serve the watch page from the relay itself",
            ("The relay serves it", "A static site"),
            "The relay serves it",
        )
        await ann.submit(first)
        second = decision(
            bob,
            "No framework and no build step for the page",
            ("Plain ES modules", "A framework and a bundler"),
            "Plain ES modules",
        )
        await bob.submit(second)
        for link, about, stance, why in (
            (bob, first, "agree", "One process to run, one origin"),
            (kim, first, "agree", "Nothing to deploy"),
            (ann, second, "agree", "A few kilobytes to load"),
            (kim, second, "object", "We will want components later"),
        ):
            await link.submit(
                ev.DecisionOpinion(
                    id=new_id(),
                    actor=link.participant,
                    at=link.now(),
                    decision_id=about.decision_id,
                    stance=stance,
                    why=why,
                )
            )
        await kim.submit(
            ev.LessonNoted(
                id=new_id(),
                actor="kim",
                at=kim.now(),
                text="A browser cannot read a websocket's handshake headers",
            )
        )
        await bob.submit(
            ev.CommitRecorded(
                id=new_id(),
                actor="bob",
                at=bob.now(),
                sha=secrets.token_hex(20),
                summary="Serve the watch page at the session's link",
                author=ev.Person(name="Ann Lovelace", email="ann@example.test"),
                co_authors=(ev.Person(name="Bob Hopper", email="bob@example.test"),),
            )
        )
        await until(
            lambda: (
                all(not link.pending for link in links.values())
                and len({link.confirmed.last_seq for link in links.values()}) == 1
            ),
            "every event is in",
        )
        assert len(ann.confirmed.decisions) == 2, ann.confirmed
        async with Chromium() as browser:
            page = await browser.page(width=1280, height=900)
            await page.goto(str(join.watching()))
            await page.wait_for(
                "document.querySelectorAll('section.decisions > ol > li').length === 2"
                " && document.querySelector('section.commits li') !== null",
                timeout=WAIT,
            )
            # A moment into the turn, as a person would see it, with a decision opened.
            await page.evaluate(
                "document.querySelectorAll('section.decisions details')[1].open = true"
            )
            await asyncio.sleep(2.5)
            await page.screenshot(PICTURE)
        for link in links.values():
            await link.close()
        for task in tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, WAIT)
    print(f"wrote {PICTURE}")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(picture(Path(scratch)))


if __name__ == "__main__":
    main()
