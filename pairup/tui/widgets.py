"""The main screen's parts. Each one is drawn from a :class:`Snapshot` of the session."""

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Digits, Label, ProgressBar, Static

from pairup.link.client import Status
from pairup.session import timer
from pairup.session.rotation import next_driver
from pairup.session.state import State
from pairup.tui import text

NAME_WIDTH = 14
TITLE_WIDTH = 38


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the screen shows, read from the link at one moment."""

    view: State
    now: float
    me: str
    online: frozenset[str]
    status: Status

    def name(self, participant_id: str | None) -> str:
        if participant_id is None:
            return "nobody"
        member = self.view.member(participant_id)
        return member.participant.name if member is not None else participant_id

    def who(self, participant_id: str | None) -> str:
        """A name as a sentence's subject: "You" for this participant."""
        return "You" if participant_id == self.me else self.name(participant_id)

    @property
    def next_driver(self) -> str | None:
        return next_driver(self.view.members, self.view.driver)


class TimerPanel(Vertical):
    """Who drives, a large countdown, its progress, the turn and who is next."""

    def compose(self) -> ComposeResult:
        yield Label(id="role")
        yield Digits("--:--", id="clock")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="progress")
        yield Label(id="detail")

    def show(self, snap: Snapshot) -> None:
        view = snap.view
        left = timer.remaining(view, snap.now)
        length = view.phase_length or float(view.settings.turn_seconds)
        role, detail = self._words(snap)
        self.query_one("#role", Label).update(role)
        self.query_one("#detail", Label).update(detail)
        shown = left if left is not None else float(view.settings.turn_seconds)
        self.query_one("#clock", Digits).update(text.countdown(shown))
        done = 0.0 if left is None else length - left
        self.query_one("#progress", ProgressBar).update(total=length, progress=done)
        for phase in ("lobby", "running", "paused", "waiting", "break", "ended"):
            self.set_class(view.phase == phase, f"-{phase}")
        self.set_class(view.driver == snap.me and view.phase != "break", "-mine")

    @staticmethod
    def _words(snap: Snapshot) -> tuple[Text, str]:
        view = snap.view
        driver = snap.who(view.driver)
        drives = "drive" if view.driver == snap.me else "drives"
        following = snap.name(snap.next_driver)
        match view.phase:
            case "lobby":
                alone = len(view.present) < 2
                return (
                    Text.assemble(("Ready", "bold"), f" · {driver} {drives} first"),
                    "share the join link below" if alone else "s starts the first turn",
                )
            case "running":
                return (
                    Text.assemble(("▶ ", "bold"), (f"{driver} {drives}", "bold")),
                    f"turn {view.turn} · next: {following}",
                )
            case "paused":
                return (
                    Text.assemble(("⏸ Paused", "bold"), f" · {driver} {drives}"),
                    f"space resumes · turn {view.turn} · next: {following}",
                )
            case "waiting":
                whose = "Your" if view.driver == snap.me else f"{snap.name(view.driver)}'s"
                return (
                    Text.assemble((f"{whose} turn", "bold"), " is next"),
                    f"s starts turn {view.turn}",
                )
            case "break":
                return (
                    Text.assemble(("☕ Break", "bold"), f" · then {driver} {drives}"),
                    "b ends the break early",
                )
            case _:
                return Text("Session ended", style="bold"), ""


class Roster(Static):
    """Everyone in rotation order: the driver marked, who is next, and who is connected now
    (● connected, ○ not)."""

    def show(self, snap: Snapshot) -> None:
        view = snap.view
        following = snap.next_driver
        lines = Text()
        if not view.members:
            lines.append("nobody has joined yet", style="dim")
        for place, member in enumerate(view.members, start=1):
            name = member.participant.name
            if member.id == snap.me:
                name += " (you)"
            name = name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"
            if not member.present:
                role, style = "left", "dim"
            elif member.id == view.driver:
                role, style = "driver", "bold reverse"
            elif member.id == following:
                role, style = "next", "bold"
            else:
                role, style = "navigator", ""
            marker = "▶" if member.id == view.driver and member.present else " "
            if place > 1:
                lines.append("\n")
            lines.append(f"{place} {marker} ")
            lines.append(f"{name:<{NAME_WIDTH}}", style=style)
            lines.append(f" {role:<9} ")
            if member.id in snap.online:
                lines.append("●", style="green")
            else:
                lines.append("○", style="dim")
        self.update(lines)


class DecisionLog(DataTable[str]):
    """The decisions taken so far: number, title, status, who proposed it and when."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        self.add_column("#", key="number", width=3)
        self.add_column("Decision", key="title", width=TITLE_WIDTH)
        self.add_column("Status", key="status", width=10)
        self.add_column("By", key="by", width=12)
        self.add_column("At", key="at", width=5)
        self._shown: tuple[tuple[str, int], ...] = ()

    def show(self, snap: Snapshot) -> None:
        decisions = snap.view.decisions_in_order()
        shown = tuple((d.id, len(d.amendments)) for d in decisions)
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
                snap.name(decision.proposed_by)[:12],
                text.time_of_day(decision.proposed_at),
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
