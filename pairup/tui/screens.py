"""The screens that open over the main one: forms, confirmations, help and the end of a session.

Text from other participants shows here as it does on the main screen: plain, with every
control character visible (:mod:`pairup.printable`). A form that edits such text starts from
that visible form; a field left as it was is not sent back as a change, and in a field that
was changed each option, pro, con, driver or line left as shown goes back as it was typed.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
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
from pairup.tui.considered import (
    SYNTAX,
    Considered,
    Problem,
    drivers_text,
    options_text,
    parse_drivers,
    parse_options,
)
from pairup.tui.shown import CommitPreview, DecisionRow, OptionRow, RosterRow
from pairup.tui.widgets import OPINION_KEYS, fit, plain

STATUSES = (
    "proposed",
    "accepted",
    "rejected",
    "deprecated",
    "superseded",
)
TITLE_MAX = 200
WHY_MAX = 2000
Parsed = TypeVar("Parsed")
"""Characters in the why of an opinion, as the session takes it."""


class FieldProblem(ValueError):
    """A mistake in one field of a form: the form says it and puts the cursor there."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class DecisionForm(ModalScreen[list[dict[str, Any]] | None]):
    """Title, context, drivers, the options weighed, decision, consequences and status; new, or
    an amendment of ``decision``, which may be superseded by one of ``others`` (the session's
    decisions).

    Dismissed with the commands to send (for an amendment, only what changed), or None.
    Someone else's decision opens to be read, not changed: only whoever recorded it amends it,
    while anyone agrees with it or objects to it, here as on the list.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
        Binding(OPINION_KEYS["agree"], "opinion('agree')", "Agree"),
        Binding(OPINION_KEYS["object"], "opinion('object')", "Object"),
    ]
    AUTO_FOCUS = "#title"

    def __init__(
        self,
        decision: DecisionRow | None = None,
        others: Sequence[DecisionRow] = (),
        *,
        watch_only: str = "",
    ) -> None:
        super().__init__()
        self.decision = decision
        self.others = [other for other in others if decision is None or other.id != decision.id]
        self.read_only = decision is not None and bool(decision.amend_refused)
        self.watch_only = watch_only
        """Why this participant changes nothing (a watch link): its agreeing keys say so."""

    def _before(self) -> dict[str, str]:
        """The decision's fields as the form shows them (control characters made visible)."""
        d = self.decision
        if d is None:
            return dict.fromkeys(
                ("title", "context", "drivers", "options", "decision", "consequences"), ""
            )
        shown = Considered(
            tuple(
                OptionRow(
                    printable(option.name),
                    tuple(printable(pro) for pro in option.pros),
                    tuple(printable(con) for con in option.cons),
                )
                for option in d.options
            ),
            printable(d.chosen),
        )
        return {
            "title": printable(d.title),
            "context": printable_block(d.context),
            "drivers": drivers_text(tuple(printable(driver) for driver in d.drivers)),
            "options": options_text(shown),
            "decision": printable_block(d.decision),
            "consequences": printable_block(d.consequences),
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
                for field, label in (
                    ("context", "Context: what made us decide?"),
                    ("drivers", "Decision drivers: what matters most, one a line"),
                    ("options", "Considered options, with their pros and cons"),
                ):
                    yield Label(label, classes="field")
                    yield TextArea(before[field], id=field, compact=True, read_only=fixed)
                yield Label(SYNTAX, classes="hint")
                yield Label("Decision: what we do", classes="field")
                yield TextArea(before["decision"], id="decision", compact=True, read_only=fixed)
                yield Label("Consequences: what becomes easier or harder", classes="field")
                yield TextArea(
                    before["consequences"], id="consequences", compact=True, read_only=fixed
                )
                yield Label("Status", classes="field")
                with Horizontal(id="statuses"):
                    yield Select(
                        [(status, status) for status in self._statuses()],
                        value=d.status if d else "proposed",
                        allow_blank=False,
                        compact=True,
                        disabled=fixed,
                        id="status",
                    )
                    yield Label(" by ", id="by-label")
                    yield Select(
                        [
                            (plain(f"{o.number}. {fit(printable(o.title), 40)}"), o.id)
                            for o in self._may_supersede()
                        ],
                        value=self._superseded_by() or Select.NULL,
                        prompt="which decision?",
                        compact=True,
                        # Once linked, the link goes only with another status (the session
                        # keeps a decision superseded by one decision at a time).
                        disabled=fixed or (d is not None and d.superseded_by is not None),
                        id="superseded-by",
                    )
                if d is not None and (d.superseded_by is not None or d.supersedes):
                    yield Static(self._links(d), id="links")
                if d is not None:
                    yield Label("Who agrees, who objects", classes="field")
                    yield Static(_opinions(d), id="opinions")
            yield Label("", id="problem")
            if fixed and self.watch_only:
                yield Label("esc closes", classes="hint")
            elif fixed:
                agree, object_ = OPINION_KEYS["agree"], OPINION_KEYS["object"]
                yield Label(f"{agree} agrees · {object_} objects · esc closes", classes="hint")
            with Horizontal(classes="buttons"):
                if not fixed:
                    yield Button("Save (ctrl+s)", variant="primary", compact=True, id="save")
                yield Button("Close (esc)" if fixed else "Cancel (esc)", compact=True, id="cancel")

    def on_mount(self) -> None:
        self._show_superseded_by()

    def _statuses(self) -> tuple[str, ...]:
        """A new decision is not superseded yet: nothing in the session names it."""
        if self.decision is not None:
            return STATUSES
        return tuple(status for status in STATUSES if status != "superseded")

    def _may_supersede(self) -> list[DecisionRow]:
        """The other decisions the session would let supersede this one: not one that this
        one already supersedes, by any number of links (the session's rule, mirrored, so a
        choice here is not refused after the words went through)."""
        d = self.decision
        if d is None:
            return self.others
        by_number = {o.number: o for o in self.others}

        def leads_back(other: DecisionRow) -> bool:
            seen: set[int] = set()
            link = other.superseded_by
            while link is not None and link not in seen:
                if link == d.number:
                    return True
                seen.add(link)
                following = by_number.get(link)
                link = following.superseded_by if following is not None else None
            return False

        return [o for o in self.others if not leads_back(o)]

    def _superseded_by(self) -> str | None:
        d = self.decision
        if d is None or d.superseded_by is None:
            return None
        return next((o.id for o in self.others if o.number == d.superseded_by), None)

    def _links(self, d: DecisionRow) -> Content:
        """The decisions this one is linked to, each by number and title."""
        titles = {o.number: o.title for o in self.others}
        links = [("Superseded by", d.superseded_by)] if d.superseded_by is not None else []
        links += [("Supersedes", number) for number in d.supersedes]
        return Content("\n").join(
            plain(f"{words} {number}. {titles.get(number, '')}".rstrip()) for words, number in links
        )

    @on(Select.Changed, "#status")
    def _show_superseded_by(self) -> None:
        superseded = self.query_one("#status", Select).value == "superseded"
        for part in ("#by-label", "#superseded-by"):
            self.query_one(part).display = superseded

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The keys that agree and object would be letters typed into a field of one's own.
        return self.read_only if action == "opinion" else True

    def action_opinion(self, stance: str) -> None:
        decision = self.decision
        if decision is None:
            return
        if self.watch_only:
            self.app.notify(self.watch_only, severity="warning")
            return

        def said(why: str | None) -> None:
            if why is not None:
                self.dismiss([opinion_command(decision, stance, why)])

        self.app.push_screen(opinion_prompt(decision, stance), said)

    @on(Button.Pressed, "#save")
    @on(Input.Submitted, "#title")
    def action_save(self) -> None:
        if self.read_only:
            self.dismiss(None)
            return
        try:
            commands = self._commands()
        except FieldProblem as problem:
            self.query_one("#problem", Label).update(plain(str(problem)))
            self.query_one(f"#{problem.field}").focus()
            return
        self.dismiss(commands)

    def _text(self, field: str) -> str:
        return self.query_one(f"#{field}", TextArea).text.strip()

    def _commands(self) -> list[dict[str, Any]]:
        """What saving sends: a new decision, or the link to the decision that supersedes it
        and the amendment (only the fields changed)."""
        title = self.query_one("#title", Input).value.strip()
        if not title:
            raise FieldProblem("A decision needs a title.", "title")
        words = {"title": title} | {
            field: self._text(field) for field in ("context", "decision", "consequences")
        }
        status = self.query_one("#status", Select).value
        d = self.decision
        if d is None:
            fields: dict[str, Any] = {**words, "status": status}
            drivers = _parsed("drivers", parse_drivers, self._text("drivers"))
            considered = _parsed("options", parse_options, self._text("options"))
            if drivers:
                fields["drivers"] = list(drivers)
            if considered.options:
                fields |= _options_fields(considered)
            return [{"cmd": "decide", **fields}]
        # Only what was changed is read: a field left as shown stands for what was typed, which
        # its shown form (longer, with names for control characters) must not replace.
        before = {field: value.strip() for field, value in self._before().items()}
        changes: dict[str, Any] = {k: v for k, v in words.items() if v != before[k]}
        for field, typed in (
            ("context", d.context),
            ("decision", d.decision),
            ("consequences", d.consequences),
        ):
            if field in changes:
                changes[field] = _kept_lines(changes[field], typed)
        if self._text("drivers") != before["drivers"]:
            shown = _as_shown(d.drivers)
            changes["drivers"] = list(
                _parsed("drivers", parse_drivers, self._text("drivers"), shown)
            )
        if self._text("options") != before["options"]:
            changes |= self._options_changed()
        commands = []
        by = self.query_one("#superseded-by", Select).value
        supersede = status == "superseded" and d.superseded_by is None and by != Select.NULL
        if status == "superseded" and d.status != "superseded" and not supersede:
            raise FieldProblem("Say which decision supersedes this one.", "superseded-by")
        if status != d.status and not supersede:
            changes["status"] = status
        # The link first: should the session refuse it, the words stay as they were too.
        if supersede:
            commands.append({"cmd": "supersede", "decision_id": d.id, "by": by})
        if changes:
            commands.append({"cmd": "amend", "decision_id": d.id, **changes})
        return commands

    def _options_changed(self) -> dict[str, Any]:
        """The options and the chosen one as the form's text now says them, each item the
        person left as shown standing for what was typed; only the choice when nothing else
        moved."""
        d = self.decision
        assert d is not None, "only an amendment changes options"
        names = _as_shown(option.name for option in d.options)
        points = _as_shown(point for o in d.options for point in (*o.pros, *o.cons))
        now = _parsed("options", parse_options, self._text("options"), names, points)
        if now.options != d.options:
            return _options_fields(now)
        return {"chosen": now.chosen} if now.chosen != d.chosen else {}

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)


def _parsed(
    field: str, parse: Callable[..., Parsed], text: str, *shown: Mapping[str, str]
) -> Parsed:
    """``text`` parsed (with the maps of ``shown`` items to what was typed), or the problem
    said as the form says it, naming the field."""
    try:
        return parse(text, *shown)
    except Problem as problem:
        raise FieldProblem(f"{field.capitalize()}, {problem}.", field) from None


def _as_shown(items: Iterable[str]) -> dict[str, str]:
    """Each item as the form shows it, to the item as typed. Were two typed items to show
    alike, the first stands for both."""
    shown: dict[str, str] = {}
    for item in items:
        shown.setdefault(printable(item), item)
    return shown


def _kept_lines(now: str, typed: str) -> str:
    """The text of a field the person edited, each line they left as shown put back as it
    was typed, so a change to one line does not write the others' control characters as
    their names. Lines are matched in order (as a diff would), so repeated lines stay
    exact; a line whose shown form spans lines (a line separator) is written as shown."""
    typed_lines = typed.split("\n")
    now_lines = now.split("\n")
    matcher = SequenceMatcher(None, [printable_block(line) for line in typed_lines], now_lines)
    for tag, was, _, start, end in matcher.get_opcodes():
        if tag == "equal":
            now_lines[start:end] = typed_lines[was : was + end - start]
    return "\n".join(now_lines)


def _options_fields(considered: Considered) -> dict[str, Any]:
    """The options and the chosen one as the commands take them."""
    return {
        "options": [
            {"name": option.name, "pros": list(option.pros), "cons": list(option.cons)}
            for option in considered.options
        ],
        "chosen": considered.chosen,
    }


def _opinions(d: DecisionRow) -> Text:
    """Who agrees and who objects, each with their why, as plain text."""
    text = Text()
    if not d.opinions:
        agree, object_ = OPINION_KEYS["agree"], OPINION_KEYS["object"]
        text.append(f"Nobody yet: {agree} agrees, {object_} objects.", style="dim")
    for place, opinion in enumerate(d.opinions):
        if place:
            text.append("\n")
        agrees = opinion.stance == "agree"
        text.append("✓ " if agrees else "✗ ", style="green" if agrees else "red")
        you = " (you)" if opinion.you else ""
        text.append(f"{printable(opinion.name)}{you}", style="bold")
        text.append(f" {'agrees' if agrees else 'objects'}")
        if opinion.why:
            text.append(f": {printable(opinion.why)}")
    return text


def opinion_prompt(decision: DecisionRow, stance: str) -> "Ask":
    """The one line of why for agreeing with or objecting to ``decision``; empty will do."""
    verb = "Agree with" if stance == "agree" else "Object to"
    return Ask(
        f"{verb} decision {decision.number}, {fit(printable(decision.title), 50)}?",
        placeholder="why, in a line (or nothing)",
        max_length=WHY_MAX,
        allow_empty=True,
    )


def opinion_command(decision: DecisionRow, stance: str, why: str) -> dict[str, Any]:
    """The command for an opinion, the same from the list as from the form."""
    return {"cmd": stance, "decision_id": decision.id, "why": why}


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
    """One line of text: a duration, a lesson learned, why one agrees. Enter saves, escape
    cancels; ``check`` says what is wrong with an answer (None when it will do), and the
    dialog stays open."""

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
        allow_empty: bool = False,
    ) -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder
        self.max_length = max_length
        self.check = check
        self.allow_empty = allow_empty
        """Enter on an empty line answers "" (else None, as escape does)."""

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
        self.dismiss(answer if answer or self.allow_empty else None)

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
