"""The screen at every size, and the numbers people compare.

Layout is checked on the real app, offline with a fixed log (as the snapshots are), reading what
the compositor would put on the terminal.
"""

import asyncio
import dataclasses
from pathlib import Path

from pairup import protocol as wire
from pairup.session import events as ev
from pairup.tui.app import QUIT_GUEST, QUIT_HOST, PairupApp
from pairup.tui.screens import Choice, EndScreen, Help
from tests.integration.relaykit import free_port, new_session, relay_on

from .test_snapshots import ANN, T0, log, offline_app
from .tuikit import on_screen, participant, session_of, until

NOW = T0 + 60 + 9 * 60 + 25


def run(app: PairupApp, size: tuple[int, int], check) -> None:
    async def scenario() -> None:
        async with app.run_test(size=size, notifications=True) as pilot:
            await until(lambda: app.session is not None, "the session to open")
            await pilot.pause()
            await check(pilot)

    asyncio.run(scenario())


def test_at_80x24_the_footer_says_how_to_end_quit_and_find_every_key() -> None:
    app = offline_app(log(), now=NOW)

    async def check(pilot) -> None:
        footer = on_screen(app).splitlines()[-1]
        for key in ("? Keys", "x End", "q Quit", "space Pause", "n Next", "d Decide"):
            assert key in footer, footer

    run(app, (80, 24), check)


def test_at_60x20_the_join_link_is_all_there_and_c_copies_it() -> None:
    app = offline_app(log(), now=NOW)

    async def check(pilot) -> None:
        link = app.session.join_link
        lines = on_screen(app).splitlines()
        start = next(i for i, line in enumerate(lines) if "Join link" in line)
        shown = "".join(line.strip() for line in lines[start : start + 3])
        assert link in shown.replace("Join link", "")
        await pilot.press("c")
        assert app.clipboard == link

    run(app, (60, 20), check)


def test_names_take_the_room_the_rotation_panel_has() -> None:
    long = ANN.model_copy(update={"name": "Annabelle Fitzgerald-Okonkwo"})
    # Ann's longer name comes with a join of her own.
    renamed = ev.ParticipantJoined(id="event-rename", actor=ANN.id, at=T0 + 2, participant=long)
    for size, whole in (((120, 36), True), ((80, 24), False)):
        app = offline_app(log(renamed), now=NOW, me=long)

        async def check(pilot, app=app, whole=whole) -> None:
            roster = app.main.query_one("#roster").content.plain
            assert (long.name in roster) is whole, roster

        run(app, size, check)


def test_the_end_screen_shows_driving_time_to_the_second() -> None:
    ended = log(
        ev.RolesRotated(id="event-rot", actor="bob-0001", at=T0 + 60 + 15 * 60 + 7, turn=1),
        ev.SessionEnded(id="event-end", actor="ann-0001", at=T0 + 60 + 15 * 60 + 7 + 65),
    )
    app = offline_app(ended, now=T0 + 2000)

    async def check(pilot) -> None:
        await until(lambda: isinstance(app.screen, EndScreen), "the end screen")
        summary = app.screen.summary.plain
        assert "15 min 07 s" in summary
        assert "1 min 05 s" in summary

    run(app, (80, 24), check)


def test_help_and_the_palette_say_what_q_does_for_the_host_and_for_a_guest() -> None:
    for hosting, said in ((True, QUIT_HOST), (False, QUIT_GUEST)):
        app = offline_app(log(), now=NOW)
        app_session = app

        async def check(pilot, app=app_session, hosting=hosting, said=said) -> None:
            session = app.session
            session.prefs = dataclasses.replace(session.prefs, hosting=hosting)
            await pilot.press("question_mark")
            assert isinstance(app.screen, Help)
            quit_lines = [k for k in app.screen.keys if k.key == "q"]
            assert [k.explanation for k in quit_lines] == [said]
            await pilot.press("escape")
            commands = {c.title: c.help for c in app.get_system_commands(app.main)}
            assert commands["Quit"] == said
            if hosting:
                assert "stops the relay inside it" in said

        run(app, (100, 30), check)


def test_the_hosts_quit_ends_the_session_or_leaves_it_open(tmp_path: Path) -> None:
    async def scenario(answer: str) -> ev.Event | None:
        session, secret = new_session()
        async with relay_on(free_port(), tmp_path / answer / "relay") as relay:
            join = wire.JoinLink(relay.url, session, secret)
            ann = participant(tmp_path / answer, "Ann", join, settings=ev.SessionSettings())
            async with ann.run_test(size=(80, 24)) as pilot:
                await until(lambda: ann.session is not None, "the session")
                link = session_of(ann).link
                await until(lambda: link.view.member("ann") is not None, "Ann in it")
                session_of(ann).prefs = dataclasses.replace(session_of(ann).prefs, hosting=True)
                await pilot.press("q")
                assert isinstance(ann.screen, Choice)
                await pilot.press(answer)
                await until(lambda: not ann.is_running, "pairup to quit")
            return link.confirmed.phase

    assert asyncio.run(scenario("e")) == "ended"
    assert asyncio.run(scenario("o")) == "lobby"
