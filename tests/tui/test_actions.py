"""Every key of the main screen, pressed in a real app paired through a real relay."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Label

from pairup.session import events as ev
from pairup.session import timer
from pairup.tui.app import ACTIONS, PairupApp
from pairup.tui.screens import Ask, CommitForm, DecisionForm, EndScreen, Help, Reorder
from pairup.tui.session import Preferences
from pairup.tui.widgets import DecisionLog, TimerPanel
from tests.integration.relaykit import free_port, relay_on

from .tuikit import pair, session_of, shown, until

LONG = ev.SessionSettings(turn_seconds=600)


def test_extend_skip_and_breaks_reach_both_screens(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, bob, bob_pilot),
        ):
            await ann_pilot.press("s")
            await until(lambda: session_of(bob).link.view.phase == "running", "the first turn")

            await bob_pilot.press("e")
            assert isinstance(bob.screen, Ask)
            # A bare number is refused (seconds or minutes?), and the dialog says why.
            await bob_pilot.press("backspace", "backspace", "3", "enter")
            assert isinstance(bob.screen, Ask)
            problem = bob.screen.query_one("#problem", Label).content
            assert "expected a duration like 90s, 15m or 1h30m" in str(problem)
            await bob_pilot.press("m", "enter")
            await until(
                lambda: (
                    (timer.remaining(session_of(ann).link.view, session_of(ann).link.now()) or 0)
                    > 600 + 150
                ),
                "three more minutes on Ann's countdown",
            )

            await ann_pilot.press("n")
            await until(
                lambda: all(session_of(app).link.view.driver == "bob" for app in (ann, bob)),
                "the skip to hand over to Bob",
            )
            assert session_of(bob).link.view.turn == 2

            await bob_pilot.press("b")
            await until(lambda: "Break" in shown(ann, "#role"), "the break on Ann's screen")
            await ann_pilot.press("b")
            await until(
                lambda: all(session_of(app).link.view.phase != "break" for app in (ann, bob)),
                "the break to end early on both",
            )

    asyncio.run(scenario())


def test_reorder_changes_the_rotation_for_everyone(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, bob, _),
        ):
            await ann_pilot.press("o")
            # The dialog is pushed once the key's action has run: on a loaded machine, a
            # moment after the press returns.
            await until(lambda: isinstance(ann.screen, Reorder), "the reorder dialog")
            await ann_pilot.press("down", "u", "enter")
            await until(
                lambda: [m.id for m in session_of(bob).link.view.members] == ["bob", "ann"],
                "the new order on Bob's side",
            )
            roster = bob.main.query_one("#roster")
            await until(
                lambda: str(roster.render()).index("Bob") < str(roster.render()).index("Ann"),
                "Bob's screen to list him first",
            )

    asyncio.run(scenario())


def test_a_rotation_rings_flashes_and_says_who_drives(tmp_path: Path) -> None:
    async def scenario() -> None:
        marker = tmp_path / "notified.txt"
        notify = (
            sys.executable,
            "-c",
            f"import sys; open({str(marker)!r}, 'a').write(sys.argv[1] + '\\n')",
        )
        prefs = Preferences(bell=True, retro=False, notify_command=notify)
        settings = ev.SessionSettings(turn_seconds=1)
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, settings, prefs=prefs) as (ann, ann_pilot, *_),
        ):
            await ann_pilot.press("s")
            panel = ann.main.query_one(TimerPanel)
            await until(lambda: panel.has_class("flash"), "the flash on Ann's screen")
            messages = [n.message for n in ann._notifications]
            assert "Bob drives now." in messages
            await until(
                lambda: marker.exists() and len(marker.read_text().splitlines()) == 2,
                "the notify command to run on both screens",
            )
            assert sorted(marker.read_text().splitlines()) == ["Bob drives now.", "You drive now."]

    asyncio.run(scenario())


def test_after_a_full_cycle_the_retro_is_offered_without_taking_any_key(tmp_path: Path) -> None:
    async def scenario() -> None:
        prefs = Preferences(bell=False, retro=True)
        settings = ev.SessionSettings(turn_seconds=1)
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, settings, prefs=prefs) as (ann, ann_pilot, bob, bob_pilot),
        ):

            def offered(app: PairupApp) -> bool:
                return any("What did we learn?" in n.message for n in app._notifications)

            await ann_pilot.press("s")
            await until(lambda: offered(ann) and offered(bob), "the retro offered on both")
            assert ann.screen is ann.main
            assert bob.screen is bob.main
            # What people were typing keeps its meaning: keys, not lesson text.
            await bob_pilot.press("question_mark")
            assert isinstance(bob.screen, Help)
            await bob_pilot.press("escape", "o", "escape", "b")
            await ann_pilot.press("l")
            assert isinstance(ann.screen, Ask)
            await ann_pilot.press(*"Say the plan out loud", "enter")
            await until(
                lambda: bool(session_of(bob).link.view.lessons_in_order()), "the lesson on Bob's"
            )
            lessons = [lesson.text for lesson in session_of(bob).link.view.lessons_in_order()]
            assert lessons == ["Say the plan out loud"]

    asyncio.run(scenario())


def test_help_lists_every_action_and_the_palette_runs_them(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, *_),
        ):
            await ann_pilot.press("question_mark")
            assert isinstance(ann.screen, Help)
            listed = str(ann.screen.query_one("#keys").render())
            for action in ACTIONS:
                assert action.label in listed
            await ann_pilot.press("escape")
            assert ann.screen is ann.main

            titles = {command.title for command in ann.get_system_commands(ann.main)}
            assert {"Decide", "Start", "Copy link", "End", "Quit"} <= titles
            assert "Pause" not in titles, "nothing to pause before the first turn"
            await ann_pilot.press("ctrl+p")
            await ann_pilot.press(*"Decide")
            await ann_pilot.pause(0.3)
            await ann_pilot.press("enter")
            await until(lambda: isinstance(ann.screen, DecisionForm), "the decision form")

    asyncio.run(scenario())


def test_a_guest_who_quits_leaves_the_rotation(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, _, bob, bob_pilot),
        ):
            await bob_pilot.press("q")
            await bob_pilot.press("y")
            await until(
                lambda: (
                    (member := session_of(ann).link.view.member("bob")) is not None
                    and not member.present
                ),
                "Bob to have left on Ann's side",
            )
            await until(lambda: bob.return_value is None and not bob.is_running, "Bob's exit")
            roster = ann.main.query_one("#roster")
            await until(lambda: "left" in str(roster.render()), "Ann's screen to show Bob left")

    asyncio.run(scenario())


def test_with_next_turn_on_the_drivers_key_the_new_driver_starts_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = ev.SessionSettings(turn_seconds=1, auto_start=False)
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, bob_pilot),
        ):
            await ann_pilot.press("s")
            await until(
                lambda: (
                    "Your turn is next" in shown(bob, "#role")
                    and "Bob's turn is next" in shown(ann, "#role")
                ),
                "both screens to wait for Bob",
            )
            assert session_of(ann).link.view.phase == "waiting"
            await bob_pilot.press("s")
            await until(
                lambda: all(session_of(app).link.view.phase == "running" for app in (ann, bob)),
                "Bob's turn to start on both",
            )
            await until(lambda: "Bob drives" in shown(ann, "#role"), "Ann's screen to show it")

    asyncio.run(scenario())


def test_the_commit_form_commits_with_the_partner_credited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {
        "HOME": str(tmp_path / "home"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }.items():
        monkeypatch.setenv(key, value)
    repo = tmp_path / "repo"
    repo.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Ann"],
        ["config", "user.email", "ann@example.com"],
        ["commit", "-q", "--allow-empty", "-m", "Start"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    (repo / "relay.py").write_text("print('relay')\n")
    subprocess.run(["git", "add", "relay.py"], cwd=repo, check=True)

    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG, repository=repo) as (ann, ann_pilot, bob, _),
        ):
            await ann_pilot.press("g")
            await until(lambda: isinstance(ann.screen, CommitForm), "the commit form")
            form = ann.screen
            assert "relay.py" in str(form.query_one("#files").render())
            assert "Co-authored-by: Bob <bob@example.com>" in str(
                form.query_one("#credit").render()
            )
            await ann_pilot.press(*"Add the relay", "enter")
            await until(lambda: ann.screen is ann.main, "the form to close")
            await until(
                lambda: "1 commit" in (bob.main.query_one(DecisionLog).border_subtitle or ""),
                "the commit on Bob's screen",
            )
            log = subprocess.run(
                ["git", "log", "-1", "--format=%an|%s|%(trailers:key=Co-authored-by)"],
                cwd=repo,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            assert log == "Ann|Add the relay|Co-authored-by: Bob <bob@example.com>"

    asyncio.run(scenario())


def test_the_end_screen_exports_the_decisions_and_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"HOME": str(tmp_path / "home"), "GIT_CONFIG_GLOBAL": os.devnull}.items():
        monkeypatch.setenv(key, value)
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)

    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG, repository=repo) as (ann, ann_pilot, *_),
        ):
            await ann_pilot.press("d", *"Export from the end screen", "ctrl+s")
            await until(lambda: bool(session_of(ann).link.view.decisions), "the decision")
            await ann_pilot.press("x", "y")
            await until(lambda: isinstance(ann.screen, EndScreen), "the end screen")
            await ann_pilot.press("e")
            await until(
                lambda: any((repo / "doc" / "adr").glob("0001-*.md")), "the ADR to be written"
            )
            (adr,) = (repo / "doc" / "adr").glob("0001-*.md")
            assert adr.read_text().startswith("# 1. Export from the end screen")
            await until(
                lambda: any((repo / ".pairup" / "sessions").glob("*.md")), "the session record"
            )

    asyncio.run(scenario())
