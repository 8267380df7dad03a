"""Two real apps paired through a real relay on loopback, driven with Textual's Pilot.

Each app has its own link and journal directory; the relay runs in this process on an
ephemeral port. Conditions are awaited with a deadline, never a fixed sleep.
"""

import asyncio
import contextlib
from pathlib import Path

from textual.widgets import TextArea

from pairup.session import events as ev
from pairup.tui.screens import DecisionForm, EndScreen
from pairup.tui.widgets import DecisionLog
from tests.integration.relaykit import free_port, relay_on

from .tuikit import pair, session_of, shown, until


def test_roles_rotate_on_both_screens_when_the_timer_runs_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        async with relay_on(port, tmp_path / "relay") as relay:
            settings = ev.SessionSettings(turn_seconds=1)
            async with pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, _):
                await until(
                    lambda: (
                        "Ready · You drive first" in shown(ann, "#role")
                        and "Ready · Ann drives first" in shown(bob, "#role")
                    ),
                    "both screens to show who drives first",
                )
                await ann_pilot.press("s")
                await until(
                    lambda: (
                        "You drive" in shown(bob, "#role") and "Bob drives" in shown(ann, "#role")
                    ),
                    "Bob to drive on both screens",
                )
                for app in (ann, bob):
                    assert session_of(app).link.view.turn >= 2
                    roster = str(app.main.query_one("#roster").render())
                    assert "▶ Bob" in roster

    asyncio.run(scenario())


def test_a_decision_typed_on_one_screen_shows_on_the_other(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with relay_on(free_port(), tmp_path / "relay") as relay:
            settings = ev.SessionSettings(turn_seconds=600)
            async with pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, bob_pilot):
                await ann_pilot.press("d")
                await ann_pilot.press(*"Use SQLite")
                await ann_pilot.press("tab", *"We need a durable log")
                await ann_pilot.press("ctrl+s")
                log = bob.main.query_one(DecisionLog)
                await until(lambda: log.row_count == 1, "the decision on Bob's screen")
                assert log.get_row_at(0)[1].plain == "Use SQLite"
                assert log.get_row_at(0)[4].plain == "Ann"
                decision = session_of(bob).link.view.decisions_in_order()[0]
                assert decision.context == "We need a durable log"

                # It is Ann's: on Bob's screen enter opens it to read, and saving sends nothing.
                bob.main.query_one(DecisionLog).focus()
                await bob_pilot.press("enter")
                form = bob.screen
                assert isinstance(form, DecisionForm)
                assert form.read_only
                assert form.query_one("#context", TextArea).text == "We need a durable log"
                await bob_pilot.press("ctrl+s")
                assert bob.screen is bob.main
                assert not session_of(bob).link.pending

                # Ann amends it: enter on the row opens the form with the fields filled in.
                ann.main.query_one(DecisionLog).focus()
                await ann_pilot.press("enter")
                await ann_pilot.press("end", *" for the event log", "ctrl+s")
                await until(
                    lambda: (
                        bob.main.query_one(DecisionLog).get_row_at(0)[1].plain
                        == "Use SQLite for the event log ✎"
                    ),
                    "the amendment on Bob's screen",
                )
                amended = session_of(bob).link.view.decisions_in_order()[0]
                assert [a.changed for a in amended.amendments] == [("title",)]

    asyncio.run(scenario())


def test_pause_on_one_screen_pauses_both(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with relay_on(free_port(), tmp_path / "relay") as relay:
            settings = ev.SessionSettings(turn_seconds=600)
            async with pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, bob_pilot):
                await ann_pilot.press("s")
                await until(
                    lambda: session_of(bob).link.view.phase == "running", "the turn to start"
                )
                await bob_pilot.press("space")
                await until(
                    lambda: all("Paused" in shown(app, "#role") for app in (ann, bob)),
                    "both screens to show the pause",
                )
                frozen = shown(ann, "#detail")
                await ann_pilot.press("space")
                await until(
                    lambda: all(session_of(app).link.view.phase == "running" for app in (ann, bob)),
                    "both to resume",
                )
                assert frozen.startswith("space resumes")
                await until(lambda: "Ann drives" in shown(bob, "#role"), "Bob's screen to resume")

    asyncio.run(scenario())


def test_a_relay_restart_shows_reconnecting_and_loses_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        port = free_port()
        settings = ev.SessionSettings(turn_seconds=600)
        async with contextlib.AsyncExitStack() as first_relay:
            relay = await first_relay.enter_async_context(relay_on(port, tmp_path / "relay"))
            async with pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, _):
                await first_relay.aclose()
                # Each screen in turn: they retry on their own backoff, so the moments both
                # show it at once can be short.
                for app in (ann, bob):
                    await until(
                        lambda app=app: (
                            app.main.query_one("#connection").has_class("-reconnecting")
                            and any(
                                words in shown(app, "#connection")
                                for words in ("reconnecting in", "trying again in")
                            )
                        ),
                        "the screen to say it is reconnecting",
                    )
                await ann_pilot.press("d", *"Decided while the relay was down", "ctrl+s")
                await until(
                    lambda: bool(session_of(ann).link.pending), "the decision to wait in the outbox"
                )
                async with relay_on(port, tmp_path / "relay"):
                    await until(
                        lambda: all(
                            "connected to" in shown(app, "#connection") for app in (ann, bob)
                        ),
                        "both screens to reconnect",
                    )
                    log = bob.main.query_one(DecisionLog)
                    await until(lambda: log.row_count == 1, "the decision to reach Bob")
                    assert log.get_row_at(0)[1].plain == "Decided while the relay was down"
                    await until(lambda: not session_of(ann).link.pending, "Ann's outbox to empty")
                    assert (
                        session_of(ann).link.confirmed.last_seq
                        == session_of(bob).link.confirmed.last_seq
                    )

    asyncio.run(scenario())


def test_ending_the_session_shows_the_end_screen_everywhere(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with relay_on(free_port(), tmp_path / "relay") as relay:
            settings = ev.SessionSettings(turn_seconds=600)
            async with pair(tmp_path, relay.url, settings) as (ann, ann_pilot, bob, _):
                await ann_pilot.press("x")
                await ann_pilot.press("y")
                await until(
                    lambda: all(isinstance(app.screen, EndScreen) for app in (ann, bob)),
                    "both to show the end screen",
                )
                summary = str(bob.screen.query_one("#summary").render())
                assert "The session has ended." in summary
                assert str(session_of(bob).prefs.journal) in summary

    asyncio.run(scenario())
