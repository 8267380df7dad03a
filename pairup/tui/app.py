"""The pairing screen: roster, countdown, decisions and the connection, for hours at a time.

The app draws what the link says the session is; it never decides a rotation itself. Every key
turns into a command (see :mod:`pairup.commands`), which becomes an event the relay orders, so
every screen changes together.

The first frame comes first: this module imports only Textual and the drawing code, and the
session (the core, pydantic, the relay, the link) is opened after that frame is on screen, in
the background (ADR 10).
"""

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from pairup.tui import text
from pairup.tui.shown import STARTING, Snapshot
from pairup.tui.widgets import DecisionLog, Roster, TimerPanel

if TYPE_CHECKING:
    from pairup.tui.session import Participation

# The dialogs (pairup.tui.screens) are imported where they open: their widgets (text areas,
# selects, lists) are not part of the first frame, and the app loads them in a thread right
# after it, so a key press finds them ready.

TICK_SECONDS = 0.25
FLASH_SECONDS = 1.5


class CannotOpen(Exception):
    """Why the session could not be opened, in one line for the terminal."""


Opener = Callable[[], Awaitable["Participation"]]
"""Opens the session once the screen is up (starts the relay if this process hosts it, makes
the link), or raises :class:`CannotOpen` when the user has something to fix."""


class Action(NamedTuple):
    key: str
    action: str
    label: str
    explanation: str
    key_display: str | None = None


ACTIONS = (
    Action("s", "start_turn", "Start", "start the next turn (or the first one)"),
    Action("space", "pause", "Pause", "pause the countdown, or resume it", "space"),
    Action("n", "skip", "Next", "end this turn now and hand over to the next driver"),
    Action("d", "decide", "Decide", "write down a decision; it becomes a draft ADR"),
    Action("a", "amend", "Amend", "change the decision under the cursor (or press enter on it)"),
    Action("c", "copy_link", "Copy link", "copy the join link to the clipboard"),
    Action("question_mark", "help", "Help", "list every key", "?"),
    Action("e", "extend", "Extend", "add minutes to this turn"),
    Action("b", "take_break", "Break", "start a break now; during a break, end it early"),
    Action("o", "reorder", "Reorder", "change the rotation order"),
    Action("l", "lesson", "Lesson", "note something learned, for the session record"),
    Action("g", "commit", "Commit", "commit what is staged, crediting everyone pairing"),
    Action("x", "end_session", "End", "end the session for everyone, after confirmation"),
    Action("q", "app.quit", "Quit", "leave the session (the others carry on)"),
)
NEEDS_SESSION = {a.action for a in ACTIONS} - {"help", "app.quit"}


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(a.key, a.action, a.label, key_display=a.key_display) for a in ACTIONS
    ] + [Binding("f1", "help", "Help", show=False)]

    app: "PairupApp"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield TimerPanel(id="timer")
            with Vertical(id="people"):
                yield Roster(id="roster")
        yield DecisionLog(id="decisions")
        yield Static(id="link")
        yield Label(id="connection")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#timer").border_title = "Turn"
        self.query_one("#people").border_title = "Rotation"
        self.query_one("#decisions").border_title = "Decisions"
        self.show(STARTING, "")

    def show(self, snap: Snapshot, join_link: str) -> None:
        self.query_one(TimerPanel).show(snap)
        self.query_one(Roster).show(snap)
        self.query_one(DecisionLog).show(snap)
        self.query_one(DecisionLog).border_subtitle = _commits_line(snap)
        self.query_one("#link", Static).update(
            f"[b]Join link[/b] {join_link}" if join_link else "[b]Join link[/b] …"
        )
        connection = self.query_one("#connection", Label)
        connection.update(snap.connection)
        for state in ("connecting", "connected", "reconnecting", "offline"):
            connection.set_class(snap.connection_state == state, f"-{state}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        snap = self.app.shown
        if action in NEEDS_SESSION and self.app.session is None:
            return False
        phase = snap.phase
        allowed = {
            "start_turn": phase in ("lobby", "waiting"),
            "pause": phase in ("running", "paused"),
            "skip": phase in ("running", "paused", "waiting"),
            "extend": phase in ("running", "paused"),
            "take_break": phase in ("running", "paused", "waiting", "break"),
            "reorder": len(snap.roster) > 1 and phase != "ended",
            "amend": bool(snap.decisions),
            "commit": self.app.session is not None and self.app.session.repository is not None,
        }
        return allowed.get(action, True)

    def action_start_turn(self) -> None:
        self.app.send({"cmd": "start"})

    def action_pause(self) -> None:
        self.app.send({"cmd": "resume" if self.app.shown.phase == "paused" else "pause"})

    def action_skip(self) -> None:
        self.app.send({"cmd": "skip"})

    def action_extend(self) -> None:
        from pairup.tui.screens import Ask

        def extend(minutes: str | None) -> None:
            if minutes is not None:
                self.app.send({"cmd": "extend", "minutes": int(minutes)})

        self.app.push_screen(
            Ask("Extend this turn by how many minutes?", value="5", max_length=3, integer=True),
            extend,
        )

    def action_take_break(self) -> None:
        self.app.send({"cmd": "end-break" if self.app.shown.phase == "break" else "break"})

    def action_reorder(self) -> None:
        from pairup.tui.screens import Reorder

        def reorder(order: list[str] | None) -> None:
            if order is not None:
                self.app.send({"cmd": "reorder", "order": order})

        self.app.push_screen(Reorder(self.app.shown.roster), reorder)

    def action_decide(self) -> None:
        from pairup.tui.screens import DecisionForm

        def decide(fields: dict[str, Any] | None) -> None:
            if fields:
                self.app.send({"cmd": "decide", **fields})

        self.app.push_screen(DecisionForm(), decide)

    def action_amend(self) -> None:
        from pairup.tui.screens import DecisionForm

        chosen = self.query_one(DecisionLog).selected
        found = [d for d in self.app.shown.decisions if d.id == chosen]
        if not found:
            self.notify("There is no decision to amend yet: d writes one down.")
            return
        decision = found[0]

        def amend(fields: dict[str, Any] | None) -> None:
            if fields:
                self.app.send({"cmd": "amend", "decision_id": decision.id, **fields})

        self.app.push_screen(DecisionForm(decision), amend)

    def action_commit(self) -> None:
        self.app.run_worker(self.app.commit(), group="git", exclusive=True)

    def on_data_table_row_selected(self) -> None:
        self.action_amend()

    def action_lesson(self) -> None:
        self.app.ask_lesson("What did you learn?")

    def action_copy_link(self) -> None:
        if self.app.session is not None:
            self.app.copy_to_clipboard(self.app.session.join_link)
            self.notify("Join link copied: paste it to your partner.", title="Copied")

    def action_end_session(self) -> None:
        from pairup.tui.screens import Confirm

        def end(yes: bool | None) -> None:
            if yes:
                self.app.send({"cmd": "end"})

        self.app.push_screen(
            Confirm(
                "End the session for everyone?",
                "End session",
                "Everyone's screen shows the end of the session and where its log is.",
            ),
            end,
        )

    def action_help(self) -> None:
        from pairup.tui.screens import Help, KeyHelp

        keys = [KeyHelp(a.key_display or a.key, a.label, a.explanation) for a in ACTIONS]
        keys += [
            KeyHelp("f1", "Help", "list every key"),
            KeyHelp("ctrl+p", "Commands", "search every action, and the themes"),
            KeyHelp("ctrl+q", "Quit", "leave the session (the others carry on)"),
        ]
        self.app.push_screen(Help(keys))


class PairupApp(App[str | None]):
    """One participant's screen. Returns None when they quit or the session ended, or the
    reason they could not take part (a wrong link, a full session, a config mistake)."""

    CSS_PATH = "pairup.tcss"
    TITLE = "pairup"

    def __init__(self, opener: Opener) -> None:
        super().__init__()
        self.opener = opener
        self.session: Participation | None = None
        self.shown = STARTING
        self.main = MainScreen()
        self._scheduled = False
        self._last: tuple[str, int, str | None] | None = None
        self._shown_bindings: tuple[bool, str, bool, int] | None = None

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_ready(self) -> None:
        self.run_worker(self._open(), name="open", group="session")

    async def _open(self) -> None:
        await asyncio.to_thread(importlib.import_module, "pairup.tui.screens")
        try:
            session = await self.opener()
        except CannotOpen as error:
            self.exit(str(error))
            return
        self.session = session
        self.sub_title = f"session {session.session_id} · you are {session.me.name}"
        session.watch(self._changed)
        if session.connect:
            self.run_worker(self._take_part(session), name="link", group="session")
            for task in session.tasks(self._problem):
                self.run_worker(task, group="session")
        self.main.set_interval(TICK_SECONDS, self.refresh_view)
        self.refresh_view()

    # -- from the session to the screen ------------------------------------------------------------

    def _changed(self) -> None:
        if not self._scheduled:
            # Many events can arrive at once (a catch-up after a reconnect): draw once for all.
            self._scheduled = True
            self.main.call_later(self.refresh_view)

    def _problem(self, message: str) -> None:
        self.notify(message, severity="warning", timeout=8)

    def refresh_view(self) -> None:
        self._scheduled = False
        session = self.session
        if session is None:
            return
        snap = session.snapshot()
        if snap == self.shown:
            return
        self.shown = snap
        try:
            self.main.show(snap, session.join_link)
        except NoMatches:
            # The app is closing and has already taken the screen's widgets down.
            return
        bindings = (True, snap.phase, bool(snap.decisions), len(snap.roster))
        if bindings != self._shown_bindings:
            self._shown_bindings = bindings
            self.main.refresh_bindings()
        self._announce(session, snap)

    def _announce(self, session: "Participation", snap: Snapshot) -> None:
        """Bell, flash and toast when the driver changes or a break starts; the retro prompt
        after a full cycle; the end screen. Nothing for what was already so at start-up."""
        from pairup.tui.screens import EndScreen

        now = (snap.phase, snap.turn, snap.driver)
        before, self._last = self._last, now
        if snap.phase == "ended":
            if before is None or before[0] != "ended":
                self.push_screen(EndScreen(session.summary()))
            return
        if before is None:
            return
        phase, turn, driver = before
        if snap.phase == "break" and phase != "break":
            self._alert(session, f"Break for {text.span(snap.length)}. {snap.drives} after it.")
        elif snap.driver != driver and snap.driver is not None and snap.phase != "lobby":
            self._alert(session, f"{snap.drives} now.")
        if snap.turn > turn and self._cycle_done(session, snap) and self.screen is self.main:
            # Asked only over the main screen: never on top of a form someone is typing in.
            self.ask_lesson("A full rotation is done: what did we learn?")

    @staticmethod
    def _cycle_done(session: "Participation", snap: Snapshot) -> bool:
        people = snap.present
        return session.prefs.retro and people > 1 and (snap.turn - 1) % people == 0

    def _alert(self, session: "Participation", message: str) -> None:
        if session.prefs.bell:
            self.bell()
        panel = self.main.query_one(TimerPanel)
        panel.add_class("flash")
        self.set_timer(FLASH_SECONDS, partial(panel.remove_class, "flash"))
        self.notify(message, title="Rotation", timeout=6)
        if session.prefs.notify_command:
            self.run_worker(partial(session.run_notify_command, message), thread=True)

    # -- from the keys to the session ------------------------------------------------------------

    def send(self, command: dict[str, Any]) -> None:
        if self.session is None:
            return
        problem = self.session.ask(command)
        if problem is not None:
            self.notify(problem, severity="error")

    async def commit(self) -> None:
        """The commit form, then the commit; git's work runs in a thread."""
        from pairup.tui.screens import CommitForm

        session = self.session
        if session is None:
            return
        people = session.credited()
        preview = await asyncio.to_thread(session.commit_preview, people)
        if isinstance(preview, str):
            self.notify(preview, title="Cannot commit", severity="error", timeout=8)
            return
        answer = await self.push_screen_wait(CommitForm(preview))
        if answer is None:
            return
        message, stage_all = answer
        made, said = await asyncio.to_thread(
            partial(session.make_commit, message, session.credited(), stage_all=stage_all)
        )
        if made:
            self.notify(said, title="Committed")
        else:
            self.notify(said, title="Not committed", severity="error", timeout=10)

    def action_export_session(self) -> None:
        self.run_worker(self._export(), group="export", exclusive=True)

    async def _export(self) -> None:
        if self.session is None:
            return
        done, said = await asyncio.to_thread(self.session.export)
        if done:
            self.notify(said, title="Exported", timeout=8)
        else:
            self.notify(said, title="Not exported", severity="error", timeout=10)

    def ask_lesson(self, question: str) -> None:
        from pairup.tui.screens import Ask

        def note(answer: str | None) -> None:
            if answer:
                self.send({"cmd": "lesson", "text": answer})

        self.push_screen(
            Ask(question, placeholder="one line for the session record; esc skips"), note
        )

    async def _take_part(self, session: "Participation") -> None:
        failure = await session.run()
        if failure is None:
            return
        if not session.ever_connected:
            self.exit(failure)
        else:
            self.notify(failure, title="Offline", severity="error")

    # -- the command palette and quitting --------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if isinstance(screen, MainScreen):
            for entry in ACTIONS:
                if entry.action.startswith("app.") or screen.check_action(entry.action, ()):
                    callback = partial(screen.run_action, entry.action)
                    yield SystemCommand(entry.label, entry.explanation, callback)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        from pairup.tui.screens import Confirm

        session = self.session
        if session is None or self.shown.phase == "ended" or not session.ever_connected:
            await self.action_quit_now()
            return
        if session.prefs.hosting:
            question, explanation = (
                "Quit and stop the relay?",
                "The relay runs in this pairup, so the others are disconnected. "
                "To end the session properly, press n, then x.",
            )
        else:
            question, explanation = (
                "Leave the session?",
                "The others carry on without you; the same link brings you back.",
            )

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._leave(session), group="quit")

        self.push_screen(Confirm(question, "Quit", explanation), answered)

    async def _leave(self, session: "Participation") -> None:
        await session.leave()
        await self.action_quit_now()

    async def action_quit_now(self) -> None:
        if self.session is not None:
            await self.session.close()
        self.exit()


def _commits_line(snap: Snapshot) -> str:
    """The session's commits at a glance, under the decisions."""
    if not snap.commits:
        return ""
    last = snap.commits[-1]
    count = f"{len(snap.commits)} commit{'s' if len(snap.commits) > 1 else ''}"
    return f"{count} · last {last.sha[:7]} {last.summary[:40]} ({last.author})"
