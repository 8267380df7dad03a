"""Real pairup apps for Pilot tests: each with its own link, journal directory and name; and
real headless partners in the same process."""

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pygit2
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Label

from pairup import protocol as wire
from pairup.config.model import HandoverConfig
from pairup.headless import Headless
from pairup.journal import journal_path
from pairup.link.client import Link
from pairup.participant import ParticipantRuntime
from pairup.session import events as ev
from pairup.tui.app import PairupApp
from pairup.tui.session import Participation, Preferences
from tests.integration.relaykit import PinnedJitter, free_port, new_session, relay_on

WAIT = 15.0


def participant(
    tmp_path: Path,
    name: str,
    join: wire.JoinLink,
    *,
    settings: ev.SessionSettings | None = None,
    prefs: Preferences | None = None,
    repository: Path | None = None,
    handover: HandoverConfig | None = None,
) -> PairupApp:
    """The host when ``settings`` are given, else a guest; working in ``repository``, the
    code handed over at each rotation as ``handover`` says (not at all when None)."""
    me = ev.Participant(id=name.lower(), name=name, email=f"{name.lower()}@example.com")
    link = Link(
        join,
        me.id,
        tmp_path / name.lower(),
        create=settings is not None,
        rng=PinnedJitter(),
        ping_interval=0.5,
    )
    chosen = dataclasses.replace(
        prefs or Preferences(bell=False, retro=False),
        journal=journal_path(link.data_dir, join.session),
    )
    runtime = ParticipantRuntime(link, me, settings=settings, workdir=repository, handover=handover)
    return opened(Participation(runtime, prefs=chosen))


def opened(participation: Participation) -> PairupApp:
    """An app for a participation made beforehand."""

    async def opener(app: PairupApp) -> Participation:
        return participation

    return PairupApp(opener)


def session_of(app: PairupApp) -> Participation:
    assert app.session is not None, "the session is not open yet"
    return app.session


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def shown(app: PairupApp, selector: str) -> str:
    """The text a label on the main screen shows now."""
    content = app.main.query_one(selector, Label).content
    return content.plain if isinstance(content, Text) else str(content)


Pair = tuple[PairupApp, Pilot[str | None], PairupApp, Pilot[str | None]]


@contextlib.asynccontextmanager
async def pair(
    tmp_path: Path,
    url: str,
    settings: ev.SessionSettings,
    *,
    prefs: Preferences | None = None,
    repository: Path | None = None,
) -> AsyncIterator[Pair]:
    """Ann hosts (working in ``repository``), Bob joins; yields once both screens show both."""
    session, secret = new_session()
    join = wire.JoinLink(url, session, secret)
    ann = participant(tmp_path, "Ann", join, settings=settings, prefs=prefs, repository=repository)
    bob = participant(tmp_path, "Bob", join, prefs=prefs)
    async with ann.run_test(notifications=True) as ann_pilot:
        await until(lambda: ann.session is not None, "Ann's app to open the session")
        await until(
            lambda: session_of(ann).link.view.member("ann") is not None, "Ann's session to open"
        )
        async with bob.run_test(notifications=True) as bob_pilot:
            await until(lambda: bob.session is not None, "Bob's app to open the session")
            await until(
                lambda: all(len(session_of(app).link.view.present) == 2 for app in (ann, bob)),
                "both to see both",
            )
            yield ann, ann_pilot, bob, bob_pilot


def on_screen(app: PairupApp) -> str:
    """Every character the terminal would show now, line by line, as the compositor draws it
    (the toasts and dialogs on top included)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


class Partner:
    """A real headless participant in this process, fed commands through a pipe."""

    def __init__(
        self,
        tmp_path: Path,
        join: wire.JoinLink,
        index: int,
        name: str,
        *,
        settings: ev.SessionSettings | None = None,
    ) -> None:
        self.me = ev.Participant(id=f"p{index}", name=name, email=f"p{index}@example.com")
        reading, self._writing = os.pipe()
        link = Link(
            join,
            self.me.id,
            tmp_path / f"p{index}",
            name=name,
            rng=PinnedJitter(),
            ping_interval=0.5,
        )
        self.repository = tmp_path / f"repo{index}"
        repo = pygit2.init_repository(self.repository)
        repo.config["user.name"] = "Partner"
        repo.config["user.email"] = self.me.email
        self.headless = Headless(
            ParticipantRuntime(link, self.me, settings=settings, workdir=self.repository),
            out=io.StringIO(),
            inp=os.fdopen(reading, encoding="utf-8"),
        )
        self.task = asyncio.get_running_loop().create_task(self.headless.run())

    def send(self, command: str) -> None:
        os.write(self._writing, (command + "\n").encode())

    def commit(self, message: str) -> None:
        repo = pygit2.Repository(str(self.repository))
        signature = pygit2.Signature("Partner", self.me.email)
        parents = [] if repo.head_is_unborn else [repo.head.target]
        tree = repo.TreeBuilder().write()
        repo.create_commit("HEAD", signature, signature, message, tree, parents)

    async def leave(self) -> None:
        self.send('{"cmd": "leave"}')
        async with asyncio.timeout(15):
            await self.task
        os.close(self._writing)

    async def ended(self) -> None:
        """Wait for this participant to stop of itself (taken out, turned away)."""
        async with asyncio.timeout(15):
            await self.task
        os.close(self._writing)

    async def vanish(self) -> None:
        """Gone without a word, like a laptop closed mid-session: the link drops, nobody is
        told."""
        await self.headless.link.close()
        async with asyncio.timeout(15):
            await self.task
        os.close(self._writing)


def command(name: str, **fields: object) -> str:
    return json.dumps({"cmd": name, **fields})


@contextlib.asynccontextmanager
async def hosted(
    tmp_path: Path, make: Callable[[wire.JoinLink], PairupApp], size: tuple[int, int]
) -> AsyncIterator[tuple[PairupApp, Pilot[str | None], wire.JoinLink]]:
    """A real relay on loopback, a new session on it, and the host's app made by ``make`` for
    its link, running at ``size``; yields once the host is in the session. The relay stops
    when the block ends."""
    session, secret = new_session()
    async with relay_on(free_port(), tmp_path / "relay") as relay:
        join = wire.JoinLink(relay.url, session, secret)
        app = make(join)
        async with app.run_test(size=size, notifications=True) as pilot:
            await until(lambda: app.session is not None, "the host's session to open")
            me = session_of(app).me.id
            await until(lambda: session_of(app).link.view.member(me) is not None, "the host in")
            yield app, pilot, join
