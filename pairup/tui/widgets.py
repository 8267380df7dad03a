"""The main screen's parts. Each one draws from a :class:`~pairup.tui.shown.Snapshot`."""

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Digits, Label, ProgressBar, Static

from pairup.tui import text
from pairup.tui.shown import Snapshot

NAME_WIDTH = 14
TITLE_WIDTH = 38
PHASES = ("lobby", "running", "paused", "waiting", "break", "ended")
ROLE_STYLES = {"left": "dim", "driver": "bold reverse", "next": "bold", "navigator": ""}


class TimerPanel(Vertical):
    """Who drives, a large countdown, its progress, the turn and who is next."""

    def compose(self) -> ComposeResult:
        yield Label(id="role")
        yield Digits("--:--", id="clock")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="progress")
        yield Label(id="detail")

    def show(self, snap: Snapshot) -> None:
        role, detail = self._words(snap)
        self.query_one("#role", Label).update(role)
        self.query_one("#detail", Label).update(detail)
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
        match snap.phase:
            case "lobby" if snap.driver is None:
                return Text("Opening the session…", style="bold"), ""
            case "lobby":
                alone = snap.present < 2
                return (
                    Text.assemble(("Ready", "bold"), f" · {snap.drives} first"),
                    "share the join link below" if alone else "s starts the first turn",
                )
            case "running":
                return (
                    Text.assemble(("▶ ", "bold"), (snap.drives, "bold")),
                    f"turn {snap.turn} · next: {snap.next_name}",
                )
            case "paused":
                return (
                    Text.assemble(("⏸ Paused", "bold"), f" · {snap.drives}"),
                    f"space resumes · turn {snap.turn} · next: {snap.next_name}",
                )
            case "waiting":
                whose = "Your" if snap.mine else f"{snap.driver_name}'s"
                return (
                    Text.assemble((f"{whose} turn", "bold"), " is next"),
                    f"s starts turn {snap.turn}",
                )
            case "break":
                return (
                    Text.assemble(("☕ Break", "bold"), f" · then {snap.drives}"),
                    "b ends the break early",
                )
            case _:
                return Text("Session ended", style="bold"), ""


class Roster(Static):
    """Everyone in rotation order: the driver marked, who is next, and who is connected now
    (● connected, ○ not)."""

    def show(self, snap: Snapshot) -> None:
        lines = Text()
        if not snap.roster:
            lines.append("nobody has joined yet", style="dim")
        for place, member in enumerate(snap.roster, start=1):
            name = member.name + (" (you)" if member.you else "")
            name = name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"
            marker = "▶" if member.role == "driver" else " "
            if place > 1:
                lines.append("\n")
            lines.append(f"{place} {marker} ")
            lines.append(f"{name:<{NAME_WIDTH}}", style=ROLE_STYLES[member.role])
            lines.append(f" {member.role:<9} ")
            if member.online:
                lines.append("●", style="green")
            else:
                lines.append("○", style="dim")
        self.update(lines)


class DecisionLog(DataTable[str]):
    """The decisions taken so far: number, title, status, who proposed it and when."""

    COLUMNS = (("#", "number", 3), ("Status", "status", 10), ("By", "by", 12), ("At", "at", 5))

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self._title_width = 0
        self._shown: tuple[tuple[str, int], ...] = ()
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
        self._shown = ()
        self.clear(columns=True)
        number, *rest = self.COLUMNS
        self.add_column(number[0], key=number[1], width=number[2])
        self.add_column("Decision", key="title", width=title_width)
        for label, key, width in rest:
            self.add_column(label, key=key, width=width)

    def show(self, snap: Snapshot) -> None:
        self._snapshot = snap
        self._columns()
        decisions = snap.decisions
        shown = tuple((d.id, d.amendments) for d in decisions)
        if shown == self._shown:
            return
        self._shown = shown
        row = self.cursor_row
        self.clear()
        for decision in decisions:
            title = decision.title + (" ✎" if decision.amendments else "")
            self.add_row(
                str(decision.number),
                title,
                decision.status,
                decision.by[:12],
                text.time_of_day(decision.at),
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
