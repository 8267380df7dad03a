"""The main screen's parts. Each one draws from a :class:`~pairup.tui.shown.Snapshot`.

Whatever a participant typed (a name, a title, a commit's subject) reaches these widgets as
plain :class:`~rich.text.Text` or :class:`~textual.content.Content` made by
:func:`pairup.printable.printable`: never as markup, never as terminal control. And a panel that
fails to draw anyway says so in its own place, and the rest of the screen carries on.
"""

import logging
from collections.abc import Callable

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import DataTable, Digits, Label, ProgressBar, Static

from pairup.printable import printable
from pairup.tui import text
from pairup.tui.shown import DecisionRow, RosterRow, Snapshot

log = logging.getLogger("pairup.tui")

TITLE_WIDTH = 12
"""The decision column's narrowest width: the other columns stay on screen at 60 columns."""
PHASES = ("lobby", "running", "paused", "waiting", "break", "ended")
ROLE_STYLES = {
    "left": "dim",
    "away": "dim italic",
    "driver": "bold reverse",
    "next": "bold",
    "navigator": "",
}
BROKEN = "⚠ this panel could not be drawn: pairup.log in the data directory says why"
OPINION_KEYS = {"agree": "y", "object": "r"}
"""The keys that agree with and object to a decision: on the list, the one under the cursor;
in the form of someone else's decision, that one."""
BY_WIDTH = 10
"""The cells of a proposer's name in the list."""


def plain(value: str) -> Content:
    """A participant's text (or anything else from outside) for one line of a widget."""
    return Content(printable(value))


def fit(value: str, width: int) -> str:
    """``value`` cut to ``width`` terminal cells (wide characters count twice), with "…" if cut."""
    if cell_len(value) <= width:
        return value
    clipped = Text(value)
    clipped.truncate(max(1, width), overflow="ellipsis")
    return clipped.plain


class Guarded:
    """A panel whose drawing cannot take the screen down: a failure, whether in turning a
    snapshot into content (:meth:`guard`) or in rendering it (:meth:`render_lines`, where the
    screen asks each widget for its lines), is logged once with its traceback, and the panel
    shows :data:`BROKEN` until it draws again.

    A plain mixin, listed before the widget class: Textual takes a widget's CSS and component
    classes from its first DOM base only, so a mixin deriving from ``Widget`` would hide them.
    """

    _complained = False

    def guard(self, draw: Callable[[], None], fallback: Callable[[str], None]) -> None:
        try:
            draw()
        except Exception:
            self._failed()
            fallback(BROKEN)
        else:
            self._complained = False

    def render_lines(self, crop: Region) -> list[Strip]:
        try:
            return super().render_lines(crop)  # type: ignore[misc]
        except Exception:
            self._failed()
            blank = Strip.blank(crop.width)
            if crop.y > 0:
                return [blank] * crop.height
            notice = Strip([Segment(fit(BROKEN, crop.width))]).extend_cell_length(crop.width)
            return [notice] + [blank] * (crop.height - 1)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        try:
            return super().get_content_width(container, viewport)  # type: ignore[misc]
        except Exception:
            self._failed()
            return container.width

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        try:
            return super().get_content_height(container, viewport, width)  # type: ignore[misc]
        except Exception:
            self._failed()
            return 1

    def _failed(self) -> None:
        if not self._complained:
            log.exception("drawing %s failed", type(self).__name__)
            self._complained = True


class HandoverLine(Guarded, Horizontal):
    """How the code moves at a rotation: what moved and how it went, and a progress bar
    while parts travel. Hidden until the session's first handover."""

    def compose(self) -> ComposeResult:
        yield Label(id="handover-text")
        yield ProgressBar(total=1, show_eta=False, show_percentage=True, id="handover-progress")

    def show(self, snap: Snapshot) -> None:
        self.guard(lambda: self._draw(snap), self._broken)

    def _broken(self, message: str) -> None:
        self.query_one("#handover-text", Label).update(Content(message))

    def _draw(self, snap: Snapshot) -> None:
        row = snap.handover
        self.display = row is not None
        if row is None:
            return
        self.query_one("#handover-text", Label).update(plain(row.line))
        bar = self.query_one("#handover-progress", ProgressBar)
        bar.display = row.total > 0
        if row.total:
            bar.update(total=row.total, progress=row.done)
        for stage in ("refused", "applied"):
            self.set_class(row.stage == stage, f"-{stage}")


class TimerPanel(Guarded, Vertical):
    """Who drives, a large countdown, its progress, the turn and who is next."""

    def compose(self) -> ComposeResult:
        yield Label(id="role")
        yield Digits("--:--", id="clock")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="progress")
        yield Label(id="detail")

    def show(self, snap: Snapshot) -> None:
        self.guard(lambda: self._draw(snap), self._broken)

    def _broken(self, message: str) -> None:
        self.query_one("#role", Label).update(Content(message))
        self.query_one("#detail", Label).update(Content(""))

    def _draw(self, snap: Snapshot) -> None:
        role, detail = self._words(snap)
        self.query_one("#role", Label).update(role)
        self.query_one("#detail", Label).update(Content(printable(detail)))
        left = snap.remaining
        clock = text.countdown(snap.length if left is None else left) if snap.length else "--:--"
        self.query_one("#clock", Digits).update(clock)
        done = 0.0 if left is None else snap.length - left
        self.query_one("#progress", ProgressBar).update(total=snap.length or 1, progress=done)
        for phase in PHASES:
            self.set_class(snap.phase == phase, f"-{phase}")
        self.set_class(snap.mine and snap.phase != "break", "-mine")

    @staticmethod
    def _words(snap: Snapshot) -> tuple[Text, str]:
        drives = printable(snap.drives)
        following = printable(snap.next_name)
        match snap.phase:
            case "lobby" if snap.driver is None:
                waiting = printable(snap.problem) if snap.problem else ""
                return Text("Opening the session…", style="bold"), waiting
            case "lobby":
                alone = snap.here < 2
                return (
                    Text.assemble(("Ready", "bold"), f" · {drives} first"),
                    "share the join link below" if alone else "s starts the first turn",
                )
            case "running":
                return (
                    Text.assemble(("▶ ", "bold"), (drives, "bold")),
                    f"turn {snap.turn} · next: {following}",
                )
            case "paused" if snap.paused_for:
                away = printable(snap.driver_name)
                return (
                    Text.assemble(("⏸ Paused", "bold"), f" · {away} is away"),
                    f"resumes when {away} is back · n hands over to {following}",
                )
            case "paused":
                return (
                    Text.assemble(("⏸ Paused", "bold"), f" · {drives}"),
                    f"space resumes · turn {snap.turn} · next: {following}",
                )
            case "waiting":
                whose = "Your" if snap.mine else f"{printable(snap.driver_name)}'s"
                return (
                    Text.assemble((f"{whose} turn", "bold"), " is next"),
                    f"s starts turn {snap.turn}",
                )
            case "break":
                return (
                    Text.assemble(("☕ Break", "bold"), f" · then {drives}"),
                    "b ends the break early",
                )
            case _:
                return Text("Session ended", style="bold"), ""


class Roster(Guarded, Static):
    """Everyone in rotation order: the driver marked, who is next, who is away (and since
    when), and who is connected now (● connected, ○ not). Names take the width there is."""

    def on_resize(self) -> None:
        snap = getattr(self, "_snapshot", None)
        if snap is not None:
            self.show(snap)

    def show(self, snap: Snapshot) -> None:
        self._snapshot = snap
        self.guard(lambda: self.update(self._lines(snap)), lambda m: self.update(Content(m)))

    def _lines(self, snap: Snapshot) -> Text:
        lines = Text(no_wrap=True, overflow="ellipsis")
        if not snap.roster:
            lines.append("nobody has joined yet", style="dim")
        # "1 ▶ " before the name; " role ●" after it, the role as wide as the widest shown.
        role_width = max((len(self._role_cell(member)) for member in snap.roster), default=0)
        name_width = max(6, self.content_size.width - 4 - (role_width + 2) - 1)
        for place, member in enumerate(snap.roster, start=1):
            if place > 1:
                lines.append("\n")
            marker = "▶" if member.role == "driver" else " "
            lines.append(f"{place} {marker} ")
            lines.append(self._name_cell(member, name_width), style=ROLE_STYLES[member.role])
            lines.append(f" {self._role_cell(member):<{role_width}} ")
            if member.online:
                lines.append("●", style="green")
            else:
                lines.append("○", style="dim")
        if snap.watchers:
            names = ", ".join(printable(name) for name in snap.watchers)
            lines.append("\n")
            lines.append(fit(f"watching: {names}", max(6, self.content_size.width)), style="dim")
        if snap.knocking:
            lines.append("\n")
            waiting = ", ".join(
                printable(knock.name or knock.participant) for knock in snap.knocking
            )
            lines.append(fit(f"waiting for the host: {waiting}", max(6, self.content_size.width)))
        return lines

    @staticmethod
    def _name_cell(member: RosterRow, width: int) -> str:
        you = " (you)" if member.you else ""
        name = fit(printable(member.name), max(1, width - len(you))) + you
        return name + " " * max(0, width - cell_len(name))

    @staticmethod
    def _role_cell(member: RosterRow) -> str:
        if member.role == "away" and member.away_since is not None:
            return f"away {text.time_of_day(member.away_since)}"
        return member.role


class DecisionLog(Guarded, DataTable[Text]):
    """The decisions taken so far: number, title (with the decisions it is linked to), status,
    how many agree and object, who proposed it and when."""

    COLUMNS = (
        ("#", "number", 3),
        ("Status", "status", 10),
        ("✓ ✗", "opinions", 5),
        ("By", "by", BY_WIDTH),
        ("At", "at", 5),
    )

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._title_width = 0
        self._shown: tuple[DecisionRow, ...] | None = None
        self._snapshot: Snapshot | None = None

    def on_resize(self) -> None:
        if self._snapshot is not None:
            self.show(self._snapshot)

    def _columns(self) -> None:
        """The title takes whatever width the other columns leave (cells have 1 of padding
        on each side, the table a border)."""
        others = sum(width + 2 for _, _, width in self.COLUMNS)
        title_width = max(TITLE_WIDTH, self.size.width - others - 2 - 2)
        if title_width == self._title_width:
            return
        self._title_width = title_width
        self._shown = None
        self.clear(columns=True)
        number, *rest = self.COLUMNS
        self.add_column(number[0], key=number[1], width=number[2])
        self.add_column("Decision", key="title", width=title_width)
        for label, key, width in rest:
            self.add_column(label, key=key, width=width)

    def show(self, snap: Snapshot) -> None:
        self._snapshot = snap
        self.guard(lambda: self._draw(snap), self._broken)

    def _broken(self, message: str) -> None:
        self._shown = None
        self.clear()
        self.add_row(Text(""), Text(message), *(Text("") for _ in self.COLUMNS[1:]))

    def _draw(self, snap: Snapshot) -> None:
        self._columns()
        decisions = snap.decisions
        if decisions == self._shown:
            return
        self._shown = decisions
        row = self.cursor_row
        self.clear()
        for decision in decisions:
            self.add_row(
                Text(str(decision.number)),
                Text(_title_cell(decision), no_wrap=True, overflow="ellipsis"),
                Text(decision.status),
                _tally(decision),
                Text(fit(printable(decision.by), BY_WIDTH)),
                Text(text.time_of_day(decision.at)),
                key=decision.id,
            )
        if decisions:
            self.move_cursor(row=min(row, len(decisions) - 1))

    @property
    def selected(self) -> str | None:
        """The id of the decision under the cursor."""
        if self.row_count == 0:
            return None
        return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value


def _title_cell(decision: DecisionRow) -> str:
    """The title, marked when amended, and the decisions it is linked to."""
    cell = printable(decision.title) + (" ✎" if decision.amendments else "")
    if decision.superseded_by is not None:
        cell += f" (superseded by {decision.superseded_by})"
    if decision.supersedes:
        cell += f" (supersedes {', '.join(str(number) for number in decision.supersedes)})"
    return cell


def _tally(decision: DecisionRow) -> Text:
    """How many agree (✓) and object (✗); the names are in the decision's form."""
    cell = Text()
    if decision.agreed:
        cell.append(f"✓{len(decision.agreed)}", style="green")
    if decision.objected:
        cell.append(" " if decision.agreed else "")
        cell.append(f"✗{len(decision.objected)}", style="red")
    return cell
