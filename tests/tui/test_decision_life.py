"""A decision's life on two real screens paired through a real relay: written down with its
drivers and the options weighed, objected to and agreed with, superseded; a partner's hostile
text in every new field, shown as text; the list on a narrow terminal; the form's mistakes."""

import asyncio
from functools import partial
from pathlib import Path

from rich.text import Text
from textual.widgets import Label, Select, Static, TextArea

from pairup.printable import printable
from pairup.session import events as ev
from pairup.tui.app import ACTIONS, PairupApp
from pairup.tui.screens import Ask, DecisionForm, EndScreen, Help
from pairup.tui.widgets import DecisionLog
from tests.hostile import CORPUS, NAMEABLE
from tests.hostile import fit as cut
from tests.integration.relaykit import free_port, relay_on

from .test_hostile import TERMINAL_CONTROL, host_app
from .test_snapshots import T0, log, offline_app
from .tuikit import Partner, command, hosted, on_screen, pair, session_of, until

LONG = ev.SessionSettings(turn_seconds=600)


def cells(app: PairupApp, row: int) -> list[str]:
    """What one row of the decision list says, cell by cell."""
    return [cell.plain for cell in app.main.query_one(DecisionLog).get_row_at(row)]


def said(form: DecisionForm, selector: str) -> str:
    """The plain text of a part of the form."""
    content = form.query_one(selector, Static).render()
    return content.plain if isinstance(content, Text) else str(content)


def test_a_decision_is_weighed_objected_to_agreed_with_and_superseded(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, bob, bob_pilot),
        ):
            # Ann writes it down: title, no context, two drivers, two options, one chosen.
            await ann_pilot.press("d", *"Store the event log", "tab", "tab")
            await ann_pilot.press(*"no lost events", "enter", *"simple backups", "tab")
            await ann_pilot.press(*"SQLite", "enter", *"+ one file", "enter", *"- no server")
            await ann_pilot.press("enter", *"* Postgres", "enter", *"+ we know it", "ctrl+s")
            await until(lambda: ann.screen is ann.main, "the form to close")
            await until(lambda: bob.main.query_one(DecisionLog).row_count == 1, "Bob's list")
            decision = session_of(bob).link.view.decisions_in_order()[0]
            assert decision.drivers == ("no lost events", "simple backups")
            assert [(o.name, o.pros, o.cons) for o in decision.options] == [
                ("SQLite", ("one file",), ("no server",)),
                ("Postgres", ("we know it",), ()),
            ]
            assert decision.chosen == "Postgres"

            # Bob objects with a why, then agrees with none; only his latest counts.
            bob.main.query_one(DecisionLog).focus()
            await bob_pilot.press("r")
            assert isinstance(bob.screen, Ask)
            await bob_pilot.press(*"a server for one file?", "enter")
            await until(lambda: cells(ann, 0)[3] == "✗1", "the objection on Ann's list")
            await bob_pilot.press("y", "escape")
            assert bob.screen is bob.main, "escape takes nothing back"
            await bob_pilot.press("y", "enter")
            await until(lambda: cells(ann, 0)[3] == "✓1", "the agreement on Ann's list")
            opinions = session_of(ann).link.view.decisions_in_order()[0].opinions
            assert [(o.participant, o.stance, o.why) for o in opinions] == [("bob", "agree", "")]

            # Ann opens it: Bob agrees, and the form shows the options as she typed them.
            ann.main.query_one(DecisionLog).focus()
            await ann_pilot.press("enter")
            form = ann.screen
            assert isinstance(form, DecisionForm)
            assert said(form, "#opinions") == "✓ Bob agrees"
            assert form.query_one("#options", TextArea).text == (
                "SQLite\n+ one file\n- no server\n* Postgres\n+ we know it"
            )
            await ann_pilot.press("escape")

            # A second decision; then Ann marks the first superseded by it, in the form.
            await ann_pilot.press("d", *"Store the event log in Postgres", "ctrl+s")
            await until(lambda: bob.main.query_one(DecisionLog).row_count == 2, "decision 2")
            ann.main.query_one(DecisionLog).focus()
            ann.main.query_one(DecisionLog).move_cursor(row=0)
            await ann_pilot.press("enter")
            form = ann.screen
            assert isinstance(form, DecisionForm)
            assert not form.query_one("#superseded-by").display
            form.query_one("#status", Select).focus()
            await ann_pilot.press("enter", "end", "enter")
            assert form.query_one("#status", Select).value == "superseded"
            assert form.query_one("#superseded-by").display
            await ann_pilot.press("ctrl+s")
            assert isinstance(ann.screen, DecisionForm), "superseded by which?"
            assert "Say which decision supersedes this one." in str(
                form.query_one("#problem", Label).render()
            )
            await ann_pilot.press("enter", "down", "enter", "ctrl+s")
            await until(lambda: ann.screen is ann.main, "the form to close")
            for app in (ann, bob):
                await until(
                    lambda app=app: (
                        cells(app, 0)[1:3]
                        == ["Store the event log ✎ (superseded by 2)", "superseded"]
                    ),
                    "decision 1 superseded by 2",
                )
                await until(
                    lambda app=app: (
                        cells(app, 1)[1] == "Store the event log in Postgres (supersedes 1)"
                    ),
                    "decision 2 superseding 1",
                )
            older, newer = session_of(bob).link.view.decisions_in_order()
            assert (older.superseded_by, newer.supersedes) == (newer.id, (older.id,))
            assert [a.changed for a in older.amendments] == [("status",)]

            # Bob's form of Ann's decision is to read; its keys agree and object all the same.
            bob.main.query_one(DecisionLog).move_cursor(row=1)
            await bob_pilot.press("enter")
            form = bob.screen
            assert isinstance(form, DecisionForm)
            assert form.read_only
            assert said(form, "#links") == "Supersedes 1. Store the event log"
            await bob_pilot.press("r", *"one more server", "enter")
            await until(lambda: cells(ann, 1)[3] == "✗1", "Bob's objection from the form")
            assert bob.screen is bob.main

            # The end screen lists each decision with its status, its links and who agreed.
            await ann_pilot.press("x", "y")
            await until(lambda: isinstance(ann.screen, EndScreen), "the end screen")
            summary = ann.screen.summary.plain
            assert (
                "  1. Store the event log (superseded by 2)\n"
                "     agreed: Bob\n"
                "  2. Store the event log in Postgres (proposed, supersedes 1)\n"
                "     objected: Bob\n"
            ) in summary

    asyncio.run(scenario())


def test_the_keys_that_agree_and_object_are_listed_with_the_others(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, *_),
        ):
            keys = {a.action: a.key for a in ACTIONS}
            assert (keys["agree"], keys["object"]) == ("y", "r")
            assert len(set(keys.values())) == len(keys), "one key, one action"
            titles = {c.title for c in ann.get_system_commands(ann.main)}
            assert not {"Agree", "Object"} & titles, "nothing to agree with yet"
            await ann_pilot.press("d", *"Pair on the relay", "ctrl+s")
            await until(lambda: bool(ann.shown.decisions), "the decision")
            titles = {c.title for c in ann.get_system_commands(ann.main)}
            assert {"Agree", "Object"} <= titles
            await ann_pilot.press("question_mark")
            assert isinstance(ann.screen, Help)
            listed = str(ann.screen.query_one("#keys").render())
            assert "y  Agree" in listed
            assert "r  Object" in listed

    asyncio.run(scenario())


def test_a_partners_hostile_drivers_options_and_whys_stay_text(tmp_path: Path) -> None:
    entries = list(CORPUS.items())

    async def scenario() -> None:
        async with hosted(tmp_path, partial(host_app, tmp_path), (80, 24)) as (ann, pilot, join):
            view = lambda: session_of(ann).link.view  # noqa: E731
            partner = Partner(tmp_path, join, 1, "Mallory")
            await until(lambda: view().member("p1") is not None, "the partner to join")
            for number, (key, text) in enumerate(entries, start=1):
                name = cut(text, 200) if key in NAMEABLE else key
                partner.send(
                    command(
                        "decide",
                        title=key,
                        drivers=[cut(text, 200)],
                        options=[{"name": name, "pros": [cut(text, 2000)], "cons": ["slow"]}],
                        chosen=name,
                    )
                )
                partner.send(command("object", number=number, why=cut(text, 2000)))
                await until(
                    lambda n=number: (
                        len(view().decisions) == n
                        and bool(view().decisions_in_order()[-1].opinions)
                    ),
                    f"decision and objection {key}",
                )
            await partner.leave()
            await pilot.pause()
            assert ann.is_running
            assert not TERMINAL_CONTROL.search(on_screen(ann))
            table = ann.main.query_one(DecisionLog)
            assert [cells(ann, row)[3] for row in range(table.row_count)] == ["✗1"] * len(entries)

            table.focus()
            for row, (key, text) in enumerate(entries):
                table.move_cursor(row=row)
                await pilot.press("enter")
                form = ann.screen
                assert isinstance(form, DecisionForm), key
                assert form.read_only
                name = cut(text, 200) if key in NAMEABLE else key
                assert form.query_one("#drivers", TextArea).text == printable(cut(text, 200))
                options = form.query_one("#options", TextArea).text.split("\n")
                assert options[1:] == [f"+ {printable(cut(text, 2000))}", "- slow"], key
                assert options[0].removeprefix("* ").removeprefix("\\") == printable(name), key
                assert said(form, "#opinions") == f"✗ Mallory objects: {printable(cut(text, 2000))}"
                assert not TERMINAL_CONTROL.search(on_screen(ann)), key
                await pilot.press("escape")
                assert ann.screen is ann.main

    asyncio.run(scenario())


def test_on_a_60x20_terminal_the_list_shows_status_and_agreement() -> None:
    events = log(
        ev.DecisionOpinion(
            id="event-o1",
            actor="ann-0001",
            at=T0 + 600,
            decision_id="decision-1",
            stance="object",
            why="[b]too slow[/b]",
        ),
        ev.DecisionOpinion(
            id="event-o2", actor="cat-0001", at=T0 + 610, decision_id="decision-1", stance="agree"
        ),
    )
    app = offline_app(events, now=T0 + 700)

    async def scenario() -> None:
        async with app.run_test(size=(60, 20)) as pilot:
            await until(lambda: app.session is not None, "the session to open")
            await until(lambda: app.main.query_one(DecisionLog).row_count == 2, "the list")
            screen = on_screen(app)
            assert "✓ ✗" in screen
            row = next(line for line in screen.splitlines() if "Keep the" in line)
            assert "proposed" in row
            assert "✓1 ✗1" in row
            assert "Bob" in row
            await pilot.press("enter")
            form = app.screen
            assert isinstance(form, DecisionForm)
            assert said(form, "#opinions") == "✗ Ann (you) objects: [b]too slow[/b]\n✓ Cat agrees"

    asyncio.run(scenario())


def test_the_forms_mistakes_are_shown_and_nothing_is_sent(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with (
            relay_on(free_port(), tmp_path / "relay") as relay,
            pair(tmp_path, relay.url, LONG) as (ann, ann_pilot, *_),
        ):
            await ann_pilot.press("d", *"Weigh the options", "tab", "tab", "tab")
            form = ann.screen
            assert isinstance(form, DecisionForm)
            options = form.query_one("#options", TextArea)
            assert form.focused is options

            async def problem_after(text: str) -> str:
                options.load_text(text)
                await ann_pilot.press("ctrl+s")
                assert ann.screen is form
                assert form.focused is options
                return str(form.query_one("#problem", Label).render())

            assert await problem_after("+ fast\nSQLite") == (
                "Options, line 1: a pro (+) goes under the option it speaks of."
            )
            assert await problem_after("* SQLite\n* Postgres") == (
                "Options, line 2: only one option is chosen (*), and SQLite is already."
            )
            assert await problem_after("SQLite\nPostgres\nSQLite") == (
                "Options, line 3: SQLite is named twice."
            )
            assert (await problem_after("x" * 201)).startswith(
                "Options, line 1: an option's name is at most 200 characters (this one has 201)"
            )
            form.query_one("#drivers", TextArea).load_text("z" * 201)
            options.load_text("SQLite")
            await ann_pilot.press("ctrl+s")
            assert form.focused is form.query_one("#drivers")
            assert "Drivers, line 1: a driver is at most 200" in str(
                form.query_one("#problem", Label).render()
            )
            await ann_pilot.pause()
            assert not session_of(ann).link.pending
            assert not session_of(ann).link.view.decisions
            await ann_pilot.press("escape")
            assert ann.screen is ann.main

    asyncio.run(scenario())
