"""Who may come in and who only watches, on real screens: the host lets a newcomer in or turns
them away from a question that shows their name and key fingerprint; a watcher is shown to
everyone as watching and its own screen changes nothing. Names come from the hostile corpus,
through real partners and a real relay, and stay text."""

import asyncio
from functools import partial
from pathlib import Path

from textual.widgets import Static

from pairup import protocol as wire
from pairup.journal import journal_path
from pairup.link.client import WATCH_ONLY, Link
from pairup.participant import ParticipantRuntime
from pairup.printable import printable
from pairup.session import events as ev
from pairup.tui.app import PairupApp
from pairup.tui.screens import Choice, DecisionForm
from pairup.tui.session import Participation, Preferences
from pairup.tui.widgets import DecisionLog
from tests.hostile import CORPUS
from tests.hostile import fit as cut
from tests.integration.relaykit import PinnedJitter

from .tuikit import Partner, hosted, on_screen, opened, session_of, until

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.com")
HOSTILE_NAME = cut(CORPUS["rich markup"], 60)
WATCHER_NAME = CORPUS["csi colours"]
"""A watcher's name is not a session event's: only the relay's presence carries it, sealed."""


def host_app(tmp_path: Path, join: wire.JoinLink, *, approve: bool = False) -> PairupApp:
    link = Link(
        join,
        ANN.id,
        tmp_path / "ann",
        name=ANN.name,
        create=True,
        approve=approve,
        rng=PinnedJitter(),
        ping_interval=0.5,
    )
    prefs = Preferences(bell=False, retro=False, journal=journal_path(link.data_dir, join.session))
    runtime = ParticipantRuntime(link, ANN, settings=ev.SessionSettings())
    return opened(Participation(runtime, prefs=prefs))


def test_the_host_lets_one_newcomer_in_and_turns_another_away(tmp_path: Path) -> None:
    async def scenario() -> None:
        make = partial(host_app, tmp_path, approve=True)
        async with hosted(tmp_path, make, (100, 30)) as (ann, pilot, join):
            view = lambda: session_of(ann).link.view  # noqa: E731
            welcome = Partner(tmp_path, join, 1, HOSTILE_NAME)
            await until(lambda: "Press i" in on_screen(ann), "the host told of the knock")
            assert not isinstance(ann.screen, Choice), "nobody's keys are taken unasked"
            await pilot.press("i")
            await until(lambda: isinstance(ann.screen, Choice), "the host to be asked")
            fingerprint = ann.shown.knocking[0].fingerprint
            await until(lambda: fingerprint in on_screen(ann), "the fingerprint on screen")
            shown = on_screen(ann)
            assert f"Let {HOSTILE_NAME[:20]}" in shown
            assert "\x1b" not in shown
            assert welcome.headless.link.status.state == "waiting"
            assert welcome.headless.link.fingerprint == fingerprint
            assert view().member("p1") is None
            await pilot.press("l")
            await until(
                lambda: (m := view().member("p1")) is not None and m.present, "p1 to be let in"
            )
            unwelcome = Partner(tmp_path, join, 2, "Mallory")
            await until(lambda: bool(ann.shown.knocking), "Mallory to knock")
            await pilot.press("i")
            await until(lambda: isinstance(ann.screen, Choice), "the host to be asked again")
            await pilot.press("t")
            await unwelcome.ended()
            assert unwelcome.headless.link.status.state == "offline"
            assert view().member("p2") is None
            await welcome.leave()

    asyncio.run(scenario())


def test_a_watcher_is_shown_to_everyone_and_its_screen_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with hosted(tmp_path, partial(host_app, tmp_path), (100, 30)) as (ann, _, join):
            # The host's screen shows the watch link beside the join link.
            links = ann.main.query_one("#link", Static)
            await until(lambda: "Watch link" in str(links.content), "the watch link shown")
            assert f"Watch link {join.watching()}" in str(links.content)
            watcher_link = Link(
                join.watching(),
                "kim",
                tmp_path / "kim",
                name=WATCHER_NAME,
                rng=PinnedJitter(),
                ping_interval=0.5,
            )
            kim = ev.Participant(id="kim", name="Kim", email="kim@example.com")
            watching = ParticipantRuntime(watcher_link, kim)
            watcher = opened(Participation(watching, prefs=Preferences(bell=False)))
            async with watcher.run_test(size=(100, 30), notifications=True) as kims:
                await until(lambda: ann.shown.watchers == (WATCHER_NAME,), "Kim shown watching")
                shown = f"watching: {printable(WATCHER_NAME)[:12]}"
                # Drawn a moment after the model has it, on a loaded machine.
                await until(lambda: shown in on_screen(ann), "Kim on Ann's screen")
                screen = on_screen(ann)
                assert "\x1b" not in screen
                await until(lambda: watcher.shown.watching, "Kim's screen to know it watches")
                await until(
                    lambda: session_of(watcher).link.view.member("ann") is not None,
                    "Kim to see the session",
                )
                await kims.press("s", "d")
                await kims.pause(0.3)
                assert session_of(watcher).link.pending == {}
                assert session_of(ann).link.view.phase == "lobby"
                assert "Watch link" in on_screen(watcher)
                assert session_of(watcher).ask({"cmd": "start"}) is not None
            await until(lambda: ann.shown.watchers == (), "Kim gone")

    asyncio.run(scenario())


def test_a_watcher_is_told_at_once_that_agreeing_and_objecting_change_nothing(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with hosted(tmp_path, partial(host_app, tmp_path), (100, 30)) as (ann, pilot, join):
            await pilot.press("d", *"Keep the log", "ctrl+s")
            await until(lambda: bool(ann.shown.decisions), "Ann's decision")
            watcher_link = Link(
                join.watching(), "kim", tmp_path / "kim", rng=PinnedJitter(), ping_interval=0.5
            )
            kim = ev.Participant(id="kim", name="Kim", email="kim@example.com")
            watcher = opened(Participation(ParticipantRuntime(watcher_link, kim)))
            async with watcher.run_test(size=(100, 30), notifications=True) as kims:
                await until(lambda: bool(watcher.shown.decisions), "Kim to see the decision")
                told = lambda: [n.message for n in watcher._notifications]  # noqa: E731
                watcher.main.query_one(DecisionLog).focus()
                await kims.press("y")
                await kims.pause()
                assert watcher.screen is watcher.main, "no why asked for"
                assert told() == [WATCH_ONLY]
                await kims.press("enter")
                form = watcher.screen
                assert isinstance(form, DecisionForm)
                assert "agrees" not in on_screen(watcher)
                await kims.press("r")
                await kims.pause()
                assert watcher.screen is form
                assert told() == [WATCH_ONLY, WATCH_ONLY]
                assert session_of(watcher).link.pending == {}

    asyncio.run(scenario())
