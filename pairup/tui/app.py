"""The pairing screen: roster, countdown, decisions and the connection, for hours at a time.

The app draws what the link says the session is; it never decides a rotation itself. Every key
turns into a command (see :mod:`pairup.commands`), which becomes an event the relay orders, so
every screen changes together. Sending, the journal and the notify command run off the event
loop's critical path, in workers.
"""

import asyncio
import contextlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from pairup.commands import CommandError, command_event
from pairup.link.client import EventTooLarge, Link
from pairup.link.joining import introduce
from pairup.link.timekeeper import keep_time
from pairup.session import events as ev
from pairup.session import timer
from pairup.session.state import State
from pairup.tui import text
from pairup.tui.screens import (
    Ask,
    Confirm,
    DecisionForm,
    EndScreen,
    Help,
    KeyHelp,
    Reorder,
)
from pairup.tui.widgets import DecisionLog, Roster, Snapshot, TimerPanel

TICK_SECONDS = 0.25
FLASH_SECONDS = 1.5
LEAVE_WAIT_SECONDS = 2.0
ROUTINE = {"roles.rotated", "break.ended"}
"""Kinds every client sends when a countdown runs out; only the first counts, so the refusal of
the others is routine and not worth a word."""


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
    Action("x", "end_session", "End", "end the session for everyone, after confirmation"),
    Action("q", "app.quit", "Quit", "leave the session (the others carry on)"),
)


@dataclass(frozen=True, slots=True)
class Preferences:
    """How this participant likes to be told about changes, and what the screen should say."""

    bell: bool = True
    notify_command: tuple[str, ...] = ()
    retro: bool = True
    hosting: bool = False
    """Whether the relay runs inside this process (so quitting disconnects everyone)."""
    journal: Path | None = None
    log_file: Path | None = None


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

    def show(self, snap: Snapshot) -> None:
        self.query_one(TimerPanel).show(snap)
        self.query_one(Roster).show(snap)
        self.query_one(DecisionLog).show(snap)
        link = self.app.link.join
        self.query_one("#link", Static).update(Text.assemble(("Join link ", "bold"), str(link)))
        connection = self.query_one("#connection", Label)
        connection.update(text.connection(snap.status, self.app.link.clock()))
        for state in ("connecting", "connected", "reconnecting", "offline"):
            connection.set_class(snap.status.state == state, f"-{state}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        view = self.app.link.view
        phase = view.phase
        allowed = {
            "start_turn": phase in ("lobby", "waiting"),
            "pause": phase in ("running", "paused"),
            "skip": phase in ("running", "paused", "waiting"),
            "extend": phase in ("running", "paused"),
            "take_break": phase in ("running", "paused", "waiting", "break"),
            "reorder": len(view.members) > 1 and phase != "ended",
            "amend": bool(view.decisions),
        }
        return allowed.get(action, True)

    def action_start_turn(self) -> None:
        self.app.send({"cmd": "start"})

    def action_pause(self) -> None:
        self.app.send({"cmd": "resume" if self.app.link.view.phase == "paused" else "pause"})

    def action_skip(self) -> None:
        self.app.send({"cmd": "skip"})

    def action_extend(self) -> None:
        def extend(minutes: str | None) -> None:
            if minutes is not None:
                self.app.send({"cmd": "extend", "minutes": int(minutes)})

        self.app.push_screen(
            Ask("Extend this turn by how many minutes?", value="5", max_length=3, integer=True),
            extend,
        )

    def action_take_break(self) -> None:
        self.app.send({"cmd": "end-break" if self.app.link.view.phase == "break" else "break"})

    def action_reorder(self) -> None:
        def reorder(order: list[str] | None) -> None:
            if order is not None:
                self.app.send({"cmd": "reorder", "order": order})

        self.app.push_screen(Reorder(self.app.link.view.members), reorder)

    def action_decide(self) -> None:
        def decide(fields: dict[str, Any] | None) -> None:
            if fields:
                self.app.send({"cmd": "decide", **fields})

        self.app.push_screen(DecisionForm(), decide)

    def action_amend(self) -> None:
        chosen = self.query_one(DecisionLog).selected
        decision = None if chosen is None else self.app.link.view.decisions.get(chosen)
        if decision is None:
            self.notify("There is no decision to amend yet: d writes one down.")
            return

        def amend(fields: dict[str, Any] | None) -> None:
            if fields:
                self.app.send({"cmd": "amend", "decision_id": decision.id, **fields})

        self.app.push_screen(DecisionForm(decision), amend)

    def on_data_table_row_selected(self) -> None:
        self.action_amend()

    def action_lesson(self) -> None:
        self.app.ask_lesson("What did you learn?")

    def action_copy_link(self) -> None:
        self.app.copy_to_clipboard(str(self.app.link.join))
        self.notify("Join link copied: paste it to your partner.", title="Copied")

    def action_end_session(self) -> None:
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
        keys = [KeyHelp(a.key_display or a.key, a.label, a.explanation) for a in ACTIONS]
        keys += [
            KeyHelp("f1", "Help", "list every key"),
            KeyHelp("ctrl+p", "Commands", "search every action, and the themes"),
            KeyHelp("ctrl+q", "Quit", "leave the session (the others carry on)"),
        ]
        self.app.push_screen(Help(keys))


class PairupApp(App[str | None]):
    """One participant's screen. Returns None when they quit or the session ended, or the
    reason they could not take part (a wrong link, a full session)."""

    CSS_PATH = "pairup.tcss"
    TITLE = "pairup"

    def __init__(
        self,
        link: Link,
        me: ev.Participant,
        *,
        settings: ev.SessionSettings | None = None,
        prefs: Preferences | None = None,
        connect: bool = True,
    ) -> None:
        super().__init__()
        self.link = link
        self.me = me
        self.settings = settings
        self.prefs = prefs or Preferences()
        self.connect = connect
        self._outgoing: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._scheduled = False
        self._last: tuple[str, int, str | None] | None = None
        self._shown_bindings: tuple[str, bool] | None = None
        self._last_state = ""
        self._ever_connected = False
        self._background: set[asyncio.Task[None]] = set()
        self.main = MainScreen()

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_ready(self) -> None:
        self.sub_title = f"session {self.link.join.session} · you are {self.me.name}"
        self.link.listeners.append(self._link_changed)
        if self.connect:
            self.run_worker(self._take_part(), name="link", group="session")
            self.run_worker(keep_time(self.link), name="timekeeper", group="session")
            self.run_worker(self._send_forever(), name="sender", group="session")
            self.run_worker(self._watch_outcomes(), name="outcomes", group="session")
        self.main.set_interval(TICK_SECONDS, self.refresh_view)
        self.refresh_view()

    # -- from the link to the screen ---------------------------------------------------------------

    def _link_changed(self) -> None:
        status = self.link.status
        if status.state != self._last_state:
            self._last_state = status.state
            if status.state == "connected":
                self._ever_connected = True
                task = asyncio.get_running_loop().create_task(
                    introduce(self.link, self.me, self.settings)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        if not self._scheduled:
            # Many events can arrive at once (a catch-up after a reconnect): draw once for all.
            self._scheduled = True
            self.main.call_later(self.refresh_view)

    def snapshot(self) -> Snapshot:
        link = self.link
        return Snapshot(link.view, link.now(), self.me.id, link.online, link.status)

    def refresh_view(self) -> None:
        self._scheduled = False
        snap = self.snapshot()
        try:
            self.main.show(snap)
        except NoMatches:
            # The app is closing and has already taken the screen's widgets down.
            return
        view = snap.view
        shown = (view.phase, bool(view.decisions))
        if shown != self._shown_bindings:
            self._shown_bindings = shown
            self.main.refresh_bindings()
        self._announce(snap)

    def _announce(self, snap: Snapshot) -> None:
        """Bell, flash and toast when the driver changes or a break starts; the retro prompt
        after a full cycle; the end screen. Nothing for what was already so at start-up."""
        view = snap.view
        now = (view.phase, view.turn, view.driver)
        before, self._last = self._last, now
        if view.phase == "ended":
            if before is None or before[0] != "ended":
                self.push_screen(EndScreen(self._summary(snap)))
            return
        if before is None:
            return
        phase, turn, driver = before
        if view.phase == "break" and phase != "break":
            minutes = text.span(view.phase_length)
            self._alert(f"Break for {minutes}. {snap.who(view.driver)} drives after it.")
        elif view.driver != driver and view.driver is not None and view.phase != "lobby":
            who = snap.who(view.driver)
            self._alert(f"{who} {'drive' if view.driver == snap.me else 'drives'} now.")
        if view.turn > turn and self._cycle_done(view) and self.screen is self.main:
            # Asked only over the main screen: never on top of a form someone is typing in.
            self.ask_lesson("A full rotation is done: what did we learn?")

    def _cycle_done(self, view: State) -> bool:
        people = len(view.present)
        return self.prefs.retro and people > 1 and (view.turn - 1) % people == 0

    def _alert(self, message: str) -> None:
        if self.prefs.bell:
            self.bell()
        panel = self.main.query_one(TimerPanel)
        panel.add_class("flash")
        self.set_timer(FLASH_SECONDS, partial(panel.remove_class, "flash"))
        self.notify(message, title="Rotation", timeout=6)
        if self.prefs.notify_command:
            self.run_worker(
                partial(_run_notify_command, self.prefs.notify_command, message),
                thread=True,
                group="notify",
            )

    def _summary(self, snap: Snapshot) -> Text:
        view = snap.view
        ended = view.ended_at or snap.now
        started = view.opened_at or ended
        summary = Text()
        summary.append("The session has ended.\n\n", style="bold")
        summary.append(
            f"{text.time_of_day(started)} to {text.time_of_day(ended)}, "
            f"{text.span(ended - started)}, {view.turn} turns.\n\n"
        )
        summary.append("Who drove how long\n", style="bold")
        for member_id, seconds in timer.driving_times(view, ended).items():
            summary.append(f"  {snap.name(member_id):<20} {text.span(seconds):>10}\n")
        decisions = view.decisions_in_order()
        summary.append(f"\nDecisions ({len(decisions)})\n", style="bold")
        for decision in decisions:
            summary.append(f"  {decision.number}. {decision.title} ({decision.status})\n")
        lessons = view.lessons_in_order()
        if lessons:
            summary.append(f"\nLessons learned ({len(lessons)})\n", style="bold")
            for lesson in lessons:
                summary.append(f"  - {lesson.text}\n")
        summary.append("\nThe session log is kept at\n", style="bold")
        summary.append(f"  {self.prefs.journal or 'the data directory of pairup'}\n")
        summary.append(
            "\nExport (e): turning the decisions into draft ADRs and writing the session record "
            "is not in this version of pairup yet.\n"
        )
        return summary

    # -- from the keys to the session ------------------------------------------------------------

    def send(self, command: dict[str, Any]) -> None:
        """Turn ``command`` into an event against the session as shown now, and send it."""
        try:
            event = command_event(command, self.link.view, self.me.id, self.link.now())
        except CommandError as error:
            self.notify(str(error), severity="error")
            return
        self._outgoing.put_nowait(event)

    async def _send_forever(self) -> None:
        """One sender, so events leave in the order they were asked for."""
        while True:
            event = await self._outgoing.get()
            try:
                await self.link.submit(event)
            except EventTooLarge as error:
                self.notify(str(error), severity="error", timeout=8)

    async def _watch_outcomes(self) -> None:
        """Say so when something this participant asked for did not apply."""
        while True:
            applied = await self.link.applied.get()
            event = applied.event
            if applied.rejected and event.actor == self.me.id and event.kind not in ROUTINE:
                self.notify(applied.rejected, title="Not applied", severity="warning")

    def ask_lesson(self, question: str) -> None:
        def note(answer: str | None) -> None:
            if answer:
                self.send({"cmd": "lesson", "text": answer})

        self.push_screen(
            Ask(question, placeholder="one line for the session record; esc skips"), note
        )

    async def _take_part(self) -> None:
        await self.link.run()
        status = self.link.status
        if status.reason == "session ended":
            return
        if not self._ever_connected:
            self.exit(status.reason or f"could not take part in the session at {status.relay}")
        else:
            self.notify(status.reason or "disconnected", title="Offline", severity="error")

    # -- quitting --------------------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        if isinstance(screen, MainScreen):
            for entry in ACTIONS:
                if entry.action.startswith("app.") or screen.check_action(entry.action, ()):
                    callback = partial(screen.run_action, entry.action)
                    yield SystemCommand(entry.label, entry.explanation, callback)
        yield from super().get_system_commands(screen)

    async def action_quit(self) -> None:
        if self.link.view.phase == "ended" or not self._ever_connected:
            await self.action_quit_now()
            return
        if self.prefs.hosting:
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
                self.run_worker(self._leave(), group="quit")

        self.push_screen(Confirm(question, "Quit", explanation), answered)

    async def _leave(self) -> None:
        if not self.prefs.hosting:
            self.send({"cmd": "leave"})
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(LEAVE_WAIT_SECONDS):
                    while not self._outgoing.empty() or self.link.pending:
                        await asyncio.sleep(0.05)
        await self.action_quit_now()

    async def action_quit_now(self) -> None:
        await self.link.close()
        self.exit()


def _run_notify_command(command: tuple[str, ...], message: str) -> None:
    """The user's own notifier, run without a shell, with the message as its last argument."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run([*command, message], timeout=10, check=False, capture_output=True)
