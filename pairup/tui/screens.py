"""The screens that open over the main one: forms, confirmations, help and the end of a session.

Text from other participants shows here as it does on the main screen: plain, with every
control character visible (:mod:`pairup.printable`). A form that edits such text starts from
that visible form, and a field left as it was is not sent back as a change.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import (
    Button,
    Checkbox,
    Footer,
    Input,
    Label,
    ListItem,
    ListView,
    Select,
    Static,
    TextArea,
)

from pairup.printable import printable, printable_block
from pairup.tui.shown import CommitPreview, DecisionRow, RosterRow
from pairup.tui.widgets import plain

STATUSES = (
    "proposed",
    "accepted",
    "rejected",
    "deprecated",
    "superseded",
)
TITLE_MAX = 200


class DecisionForm(ModalScreen[dict[str, Any] | None]):
    """Title, context, decision, consequences and status; new, or an amendment of ``decision``.

    Dismissed with the fields to send (for an amendment, only those that changed), or None.
    Someone else's decision opens to be read, not changed: only whoever recorded it amends it.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]
    AUTO_FOCUS = "#title"

    def __init__(self, decision: DecisionRow | None = None) -> None:
        super().__init__()
        self.decision = decision
        self.read_only = decision is not None and bool(decision.amend_refused)

    def _before(self) -> dict[str, Any]:
        """The decision's fields as the form shows them (control characters made visible)."""
        d = self.decision
        if d is None:
            return {"title": "", "context": "", "decision": "", "consequences": ""}
        return {
            "title": printable(d.title),
            "context": printable_block(d.context),
            "decision": printable_block(d.decision),
            "consequences": printable_block(d.consequences),
            "status": d.status,
        }

    def compose(self) -> ComposeResult:
        d = self.decision
        before = self._before()
        if d is None:
            heading = plain("New decision")
        elif self.read_only:
            heading = plain(f"Decision {d.number}, by {printable(d.by)}: only they can amend it")
        else:
            heading = plain(f"Amend decision {d.number}")
        fixed = self.read_only
        with Vertical(id="dialog", classes="form"):
            yield Label(heading, classes="heading")
            with VerticalScroll():
                yield Label("Title", classes="field")
                yield Input(
                    before["title"],
                    placeholder="Title, e.g. Keep the event log in SQLite",
                    max_length=TITLE_MAX,
                    compact=True,
                    disabled=fixed,
                    id="title",
                )
                yield Label("Context: what made us decide?", classes="field")
                yield TextArea(before["context"], id="context", compact=True, read_only=fixed)
                yield Label("Decision: what we do", classes="field")
                yield TextArea(before["decision"], id="decision", compact=True, read_only=fixed)
                yield Label("Consequences: what becomes easier or harder", classes="field")
                yield TextArea(
                    before["consequences"], id="consequences", compact=True, read_only=fixed
                )
                yield Label("Status", classes="field")
                yield Select(
                    [(status, status) for status in STATUSES],
                    value=d.status if d else "proposed",
                    allow_blank=False,
                    compact=True,
                    disabled=fixed,
                    id="status",
                )
            yield Label("", id="problem")
            with Horizontal(classes="buttons"):
                if not fixed:
                    yield Button("Save (ctrl+s)", variant="primary", compact=True, id="save")
                yield Button("Close (esc)" if fixed else "Cancel (esc)", compact=True, id="cancel")

    def _fields(self) -> dict[str, Any]:
        return {
            "title": self.query_one("#title", Input).value.strip(),
            "context": self.query_one("#context", TextArea).text.strip(),
            "decision": self.query_one("#decision", TextArea).text.strip(),
            "consequences": self.query_one("#consequences", TextArea).text.strip(),
            "status": self.query_one("#status", Select).value,
        }

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#title")
    def action_save(self) -> None:
        if self.read_only:
            self.dismiss(None)
            return
        fields = self._fields()
        if not fields["title"]:
            self.query_one("#problem", Label).update("A decision needs a title.")
            self.query_one("#title", Input).focus()
            return
        if self.decision is not None:
            before = {
                key: value.strip() if key != "status" else value
                for key, value in self._before().items()
            }
            fields = {key: value for key, value in fields.items() if value != before[key]}
        self.dismiss(fields)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class CommitForm(ModalScreen[tuple[str, bool] | None]):
    """A commit of what is staged (or of every tracked change), crediting who is pairing.

    Dismissed with the message and whether to stage tracked changes first, or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Commit"),
        Binding("escape", "cancel", "Cancel"),
    ]
    AUTO_FOCUS = "#message"
    SHOWN_FILES = 6

    def __init__(self, preview: CommitPreview) -> None:
        super().__init__()
        self.preview = preview

    def compose(self) -> ComposeResult:
        p = self.preview
        with Vertical(id="dialog", classes="form"):
            yield Label(plain(f"Commit on {p.branch}"), classes="heading")
            yield Static(self._files(), id="files")
            yield Label("Message", classes="field")
            yield Input(placeholder="Summary of the change", compact=True, id="message")
            yield Checkbox(
                "Stage changes to tracked files first (like git commit -a)",
                value=not p.staged and bool(p.changed),
                compact=True,
                id="all",
            )
            yield Static(self._credit(), id="credit")
            yield Label("", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Commit (ctrl+s)", variant="primary", compact=True, id="save")
                yield Button("Cancel (esc)", compact=True, id="cancel")

    def _files(self) -> Text:
        p = self.preview
        text = Text()
        for title, paths in (("Staged", p.staged), ("Changed, not staged", p.changed)):
            text.append(f"{title} ({len(paths)})\n", style="bold")
            for path in paths[: self.SHOWN_FILES]:
                text.append(f"  {printable(path)}\n")
            if len(paths) > self.SHOWN_FILES:
                text.append(f"  … and {len(paths) - self.SHOWN_FILES} more\n", style="dim")
        return text

    def _credit(self) -> Text:
        text = Text()
        if not self.preview.trailers:
            text.append("Nobody else to credit: a solo commit.", style="dim")
        for trailer in self.preview.trailers:
            text.append(f"{printable(trailer)}\n")
        for problem in self.preview.problems:
            text.append(f"warning: {printable(problem)}\n", style="yellow")
        return text

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#message")
    def action_save(self) -> None:
        message = self.query_one("#message", Input).value.strip()
        stage_all = self.query_one("#all", Checkbox).value
        problem = self.query_one("#problem", Label)
        if not message:
            problem.update("A commit needs a message.")
            return
        if not self.preview.staged and not (stage_all and self.preview.changed):
            problem.update("Nothing is staged: stage with git add, or tick the box above.")
            return
        self.dismiss((message, stage_all))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


class Confirm(ModalScreen[bool]):
    """A yes-or-no question; y / n, or the buttons."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str, explanation: str = "") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.explanation = explanation

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.question), classes="heading")
            if self.explanation:
                yield Static(plain(self.explanation), classes="explanation")
            with Horizontal(classes="buttons"):
                yield Button(plain(f"{self.yes} (y)"), variant="error", id="yes")
                yield Button("Cancel (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class Choice(ModalScreen[str | None]):
    """A question with a few answers, each with its key; escape (or n) cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("n,escape", "cancel", "Cancel")]

    def __init__(
        self, question: str, explanation: str, answers: list[tuple[str, str, str]]
    ) -> None:
        super().__init__()
        self.question = question
        self.explanation = explanation
        self.answers = answers
        """(value, key, label) for each answer."""

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.question), classes="heading")
            yield Static(plain(self.explanation), classes="explanation")
            with Vertical(classes="choices"):
                for value, key, label in self.answers:
                    yield Button(plain(f"{label} ({key})"), id=f"choice-{value}", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_key(self, event: Any) -> None:
        for value, key, _ in self.answers:
            if event.key == key:
                event.stop()
                self.dismiss(value)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        pressed = event.button.id or ""
        self.dismiss(pressed.removeprefix("choice-") if pressed.startswith("choice-") else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Ask(ModalScreen[str | None]):
    """One line of text: a duration, a lesson learned. Enter saves, escape cancels; ``check``
    says what is wrong with an answer (None when it will do), and the dialog stays open."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    AUTO_FOCUS = "Input"

    def __init__(
        self,
        question: str,
        *,
        value: str = "",
        placeholder: str = "",
        max_length: int = 2000,
        check: Callable[[str], str | None] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.max_length = max_length
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(plain(self.question), classes="heading")
            yield Input(self.value, placeholder=self.placeholder, max_length=self.max_length)
            yield Label("", id="problem")
            yield Label("enter saves · esc cancels", classes="hint")

    @on(Input.Submitted)
    def save(self, event: Input.Submitted) -> None:
        answer = event.value.strip()
        problem = self.check(answer) if answer and self.check is not None else None
        if problem is not None:
            self.query_one("#problem", Label).update(plain(problem))
            return
        self.dismiss(answer or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class Reorder(ModalScreen[tuple[str, list[str]] | None]):
    """The rotation: u and d move the highlighted person, enter keeps the new order; t takes
    someone out of the session (the host anyone, others someone long away, as the session's
    rules say). Dismissed with ``("order", ids)``, ``("remove", [id])`` or None."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "move(-1)", "Move up"),
        Binding("d", "move(1)", "Move down"),
        Binding("t", "take_out", "Take out"),
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, members: Sequence[RosterRow]) -> None:
        super().__init__()
        self.order = [member for member in members if member.role != "left"]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Rotation order", classes="heading")
            yield ListView(*self._items())
            yield Label("", id="problem")
            yield Label(
                "↑↓ choose · u / d move · enter saves · t takes someone out · esc cancels",
                classes="hint",
            )

    def _items(self) -> list[ListItem]:
        return [
            ListItem(
                Label(plain(f"{place}. {member.name}{' (away)' if member.role == 'away' else ''}"))
            )
            for place, member in enumerate(self.order, start=1)
        ]

    def action_take_out(self) -> None:
        index = self.query_one(ListView).index
        if index is None:
            return
        member = self.order[index]
        if member.you:
            self.query_one("#problem", Label).update(plain("That is you: q leaves the session."))
            return
        if member.take_out_refused:
            refused = member.take_out_refused
            self.query_one("#problem", Label).update(plain(f"{refused[:1].upper()}{refused[1:]}."))
            return
        self.dismiss(("remove", [member.id]))

    async def action_move(self, step: int) -> None:
        rows = self.query_one(ListView)
        index = rows.index
        if index is None or not 0 <= index + step < len(self.order):
            return
        order = self.order
        order[index], order[index + step] = order[index + step], order[index]
        await rows.clear()
        await rows.extend(self._items())
        rows.index = index + step

    @on(ListView.Selected)
    def action_save(self) -> None:
        """Enter on the list, or ctrl+s, keeps the order."""
        self.dismiss(("order", [member.id for member in self.order]))

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True, slots=True)
class KeyHelp:
    key: str
    label: str
    explanation: str


class Help(ModalScreen[None]):
    """Every key, what it does and why you would press it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, keys: Sequence[KeyHelp]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        table = Text()
        for entry in self.keys:
            table.append(f"{entry.key:>7}  ", style="bold")
            table.append(f"{entry.label:<16}", style="bold")
            table.append(f"{entry.explanation}\n")
        with Vertical(id="dialog", classes="wide"):
            yield Label("Keys", classes="heading")
            with VerticalScroll():
                yield Static(table, id="keys")
            yield Label("Every action is also in the command palette (ctrl+p).", classes="hint")

    def action_close(self) -> None:
        self.dismiss(None)


class EndScreen(Screen[None]):
    """The session is over: how it went, where its log is, and the export."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "app.export_session", "Export"),
        Binding("q", "app.quit_now", "Quit"),
    ]

    def __init__(self, summary: Text) -> None:
        super().__init__()
        self.summary = summary

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="end"):
            yield Static(self.summary, id="summary")
        yield Footer()
