"""The decision form alone, over a bare app: what saving sends when a decision holds text that
shows other than it was typed (escape sequences, bidi overrides, C1 controls, Rich markup)."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select, TextArea

from pairup.tui.screens import DecisionForm
from pairup.tui.shown import DecisionRow, OptionRow

ESC, RLO, CSI = "\x1b", "\u202e", "\x9b"

HOSTILE = DecisionRow(
    id="decision-1",
    number=1,
    title=f"Keep the log {ESC}[31m red",
    context=f"we lose events {ESC}[2J\nthe [b]disk[/b] fills{RLO}\nthird line {CSI}",
    decision=f"use {CSI}SQLite",
    consequences="[bold]one file[/bold]",
    status="proposed",
    by="Ann",
    at=0.0,
    amendments=0,
    drivers=(f"speed {ESC}[5m", "[red]cost[/red]", f"safe{RLO}ty"),
    options=(
        OptionRow(f"Sq{ESC}Lite", (f"one {ESC} file",), ()),
        OptionRow(f"Post{RLO}gres", ("[i]known[/i]",), (f"ops{CSI}",)),
        OptionRow("[b]Mongo[/b]"),
    ),
    chosen=f"Sq{ESC}Lite",
)

Edit = Callable[[DecisionForm, Pilot[None]], Awaitable[None]]


class FormHost(App[None]):
    """A bare app that opens ``form`` and keeps what it was dismissed with."""

    def __init__(self, form: DecisionForm) -> None:
        super().__init__()
        self.form = form
        self.sent: list[dict[str, Any]] | None = None
        self.closed = False

    def on_mount(self) -> None:
        self.push_screen(self.form, self._dismissed)

    def _dismissed(self, commands: list[dict[str, Any]] | None) -> None:
        self.closed, self.sent = True, commands


def saved(
    decision: DecisionRow, edit: Edit, others: tuple[DecisionRow, ...] = ()
) -> tuple[FormHost, str]:
    """The host after ``edit`` on the form of ``decision`` and ctrl+s, and the form's problem
    line then (empty once the form closed)."""
    app = FormHost(DecisionForm(decision, others or (decision,)))

    async def scenario() -> str:
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.pause()
            await edit(app.form, pilot)
            await pilot.press("ctrl+s")
            await pilot.pause()
            return "" if app.closed else str(app.form.query_one("#problem", Label).render())

    return app, asyncio.run(scenario())


def amendment(decision: DecisionRow, edit: Edit) -> dict[str, Any]:
    """The one amend command saving sends after ``edit``, without its command and id."""
    app, problem = saved(decision, edit)
    assert app.closed, problem
    assert app.sent is not None
    [command] = app.sent
    assert command.pop("cmd") == "amend"
    assert command.pop("decision_id") == decision.id
    return command


def appended(field: str, text: str) -> Edit:
    async def edit(form: DecisionForm, pilot: Pilot[None]) -> None:
        area = form.query_one(f"#{field}", TextArea)
        area.load_text(area.text + text)

    return edit


def test_a_con_added_to_one_option_leaves_every_other_item_as_typed() -> None:
    sent = amendment(HOSTILE, appended("options", "\n- slow"))
    assert sent == {
        "options": [
            {"name": f"Sq{ESC}Lite", "pros": [f"one {ESC} file"], "cons": []},
            {"name": f"Post{RLO}gres", "pros": ["[i]known[/i]"], "cons": [f"ops{CSI}"]},
            {"name": "[b]Mongo[/b]", "pros": [], "cons": ["slow"]},
        ],
        "chosen": f"Sq{ESC}Lite",
    }


def test_a_driver_added_leaves_the_others_as_typed() -> None:
    sent = amendment(HOSTILE, appended("drivers", "\nno server"))
    assert sent == {"drivers": [*HOSTILE.drivers, "no server"]}


def test_an_edited_line_of_the_context_leaves_the_other_lines_as_typed() -> None:
    async def edit(form: DecisionForm, pilot: Pilot[None]) -> None:
        area = form.query_one("#context", TextArea)
        lines = area.text.split("\n")
        area.load_text("\n".join([lines[0], "the disk fills", lines[2], "a fourth"]))

    assert amendment(HOSTILE, edit) == {
        "context": f"we lose events {ESC}[2J\nthe disk fills\nthird line {CSI}\na fourth"
    }


def test_a_line_added_to_the_decision_keeps_the_line_above_as_typed() -> None:
    sent = amendment(HOSTILE, appended("decision", "\nand back it up"))
    assert sent == {"decision": f"use {CSI}SQLite\nand back it up"}


def test_a_new_choice_names_the_option_as_typed() -> None:
    async def edit(form: DecisionForm, pilot: Pilot[None]) -> None:
        area = form.query_one("#options", TextArea)
        area.load_text(area.text.replace("* Sq", "Sq").replace("Post", "* Post", 1))

    assert amendment(HOSTILE, edit) == {"chosen": f"Post{RLO}gres"}


LONG = DecisionRow(
    id="decision-1",
    number=1,
    title="Long names",
    context="",
    decision="",
    consequences="",
    status="proposed",
    by="Ann",
    at=0.0,
    amendments=0,
    drivers=("x" * 199 + RLO,),
    options=(OptionRow("y" * 199 + CSI, ("z" * 1999 + ESC,)),),
)


def test_names_as_long_as_the_session_takes_do_not_stop_a_save_for_their_shown_length() -> None:
    async def accept(form: DecisionForm, pilot: Pilot[None]) -> None:
        form.query_one("#status", Select).value = "accepted"

    assert amendment(LONG, accept) == {"status": "accepted"}

    sent = amendment(LONG, appended("options", "\nshort"))
    assert sent["options"] == [
        {"name": "y" * 199 + CSI, "pros": ["z" * 1999 + ESC], "cons": []},
        {"name": "short", "pros": [], "cons": []},
    ]
    sent = amendment(LONG, appended("drivers", "\nshort"))
    assert sent == {"drivers": ["x" * 199 + RLO, "short"]}


def test_a_name_typed_too_long_is_still_refused() -> None:
    async def edit(form: DecisionForm, pilot: Pilot[None]) -> None:
        form.query_one("#drivers", TextArea).load_text("w" * 201)

    app, problem = saved(LONG, edit)
    assert not app.closed
    assert problem.startswith("Drivers, line 1: a driver is at most 200 characters")


def test_an_untouched_form_sends_nothing() -> None:
    async def nothing(form: DecisionForm, pilot: Pilot[None]) -> None:
        form.query_one("#title", Input).focus()

    app, _ = saved(HOSTILE, nothing)
    assert app.closed
    assert app.sent == []


def row(number: int, title: str, **links: Any) -> DecisionRow:
    """A decision of Ann's, with its links (``superseded_by``, ``supersedes``) by number."""
    return DecisionRow(
        id=f"decision-{number}",
        number=number,
        title=title,
        context="",
        decision="",
        consequences="",
        status="superseded" if links.get("superseded_by") else "accepted",
        by="Ann",
        at=0.0,
        amendments=0,
        **links,
    )


def test_a_decision_may_be_superseded_only_by_one_it_does_not_already_supersede() -> None:
    # 3 supersedes 2, which supersedes 1; 4 stands alone.
    one = row(1, "A", superseded_by=2)
    two = row(2, "B", superseded_by=3, supersedes=(1,))
    three = row(3, "C", supersedes=(2,))
    four = row(4, "D")
    decisions = (one, two, three, four)

    async def pick(form: DecisionForm, pilot: Pilot[None]) -> None:
        form.query_one("#status", Select).value = "superseded"
        await pilot.pause()
        chosen = form.query_one("#superseded-by", Select)
        offered = [str(prompt) for prompt, value in chosen._options if value != Select.NULL]
        assert offered == ["4. D"]
        chosen.value = "decision-4"
        form.query_one("#title", Input).value = "C, renamed"

    app = FormHost(DecisionForm(three, decisions))

    async def scenario() -> None:
        async with app.run_test(size=(120, 60)) as pilot:
            await pilot.pause()
            await pick(app.form, pilot)
            await pilot.press("ctrl+s")
            await pilot.pause()

    asyncio.run(scenario())
    assert app.sent == [
        {"cmd": "supersede", "decision_id": "decision-3", "by": "decision-4"},
        {"cmd": "amend", "decision_id": "decision-3", "title": "C, renamed"},
    ], "the link first: were it refused, the words would stay as they were"
