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
import logging
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from pairup.durable import StorageError
from pairup.duration import DurationError, parse_duration
from pairup.printable import printable
from pairup.tui import text
from pairup.tui.shown import STARTING, Snapshot
from pairup.tui.widgets import (
    OPINION_KEYS,
    DecisionLog,
    HandoverLine,
    Roster,
    TimerPanel,
    fit,
    plain,
)

if TYPE_CHECKING:
    from pairup.link.handover import News
    from pairup.tui.session import Participation
    from pairup.tui.shown import DecisionRow, KnockRow

# The dialogs (pairup.tui.screens) are imported where they open: their widgets (text areas,
# selects, lists) are not part of the first frame, and the app loads them in a thread right
# after it, so a key press finds them ready.

log = logging.getLogger("pairup.tui")

TICK_SECONDS = 0.25
FLASH_SECONDS = 1.5
TOAST_CHARACTERS = 300
"""A toast quotes at most this many cells of anyone's text; the screens behind show the rest."""
EXTEND_LONGEST = 4 * 3600


class CannotOpen(Exception):
    """Why the session could not be opened, in one line for the terminal."""


Opener = Callable[["PairupApp"], Awaitable["Participation"]]
"""Opens the session once the screen is up (starts the relay if this process hosts it, makes
the link; it may ask the person something first, on the app it is given), or raises
:class:`CannotOpen` when the user has something to fix."""


class Action(NamedTuple):
    key: str
    action: str
    label: str
    explanation: str
    key_display: str | None = None
    always: bool = False
    """Shown in the footer however narrow the terminal (the rest from 120 columns on)."""


QUIT_GUEST = "leave the session; the others carry on, and the same link brings you back"
QUIT_HOST = (
    "quit pairup, which stops the relay inside it: end the session for everyone, or leave it "
    "open and come back with pairup start --resume"
)

ACTIONS = (
    Action("s", "start_turn", "Start", "start the next turn (or the first one)", always=True),
    Action("space", "pause", "Pause", "pause the countdown, or resume it", "space", always=True),
    Action("n", "skip", "Next", "end this turn now and hand over to the next driver", always=True),
    Action("d", "decide", "Decide", "write down a decision; it becomes a draft ADR", always=True),
    Action("c", "copy_link", "Copy link", "copy the join link to the clipboard", always=True),
    Action("question_mark", "help", "Keys", "list every key", "?", always=True),
    Action(
        "x", "end_session", "End", "end the session for everyone, after confirmation", always=True
    ),
    Action("q", "app.quit", "Quit", QUIT_GUEST, always=True),
    Action(
        "a",
        "amend",
        "Amend",
        "change the decision under the cursor, or see who agrees (enter on it does the same)",
    ),
    Action(
        OPINION_KEYS["agree"],
        "agree",
        "Agree",
        "agree with the decision under the cursor, with a line of why",
    ),
    Action(
        OPINION_KEYS["object"],
        "object",
        "Object",
        "object to the decision under the cursor, with a line of why",
    ),
    Action("e", "extend", "Extend", "add time to this turn: 5m, 90s, 1h"),
    Action("b", "take_break", "Break", "start a break now; during a break, end it early"),
    Action("o", "reorder", "Rotation", "change the order, or take someone out of the session"),
    Action("w", "away", "Away", "step away from the rotation, or come back to it"),
    Action("l", "lesson", "Lesson", "note something learned, for the session record"),
    Action("g", "commit", "Commit", "commit what is staged, crediting everyone pairing"),
    Action(
        "v",
        "copy_watch_link",
        "Watch link",
        "copy the watch link: whoever has it follows the session live and can change nothing",
    ),
    Action("i", "let_in", "Let in", "let in, or turn away, someone waiting for you, the host"),
    Action(
        "h",
        "take_handover",
        "Take code",
        "take the last handover of the code again, once the reason it was refused is sorted out",
    ),
)
WATCHER_ACTIONS = {"help", "app.quit", "copy_link", "copy_watch_link", "agree", "object"}
"""What a watch link's screen can do: it changes nothing in the session. Agreeing and
objecting are among them only to say so: a watcher looking at a decision tries them."""
NEEDS_SESSION = {a.action for a in ACTIONS} - {"help", "app.quit"}
EXTRA = {a.action for a in ACTIONS if not a.always}
QUIT = next(a for a in ACTIONS if a.action == "app.quit")


class KeyFooter(Footer):
    """The footer, with the keys that are not :attr:`Action.always` marked, so a narrow
    terminal hides them (pairup.tcss) and still shows how to end, quit and find every key."""

    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if getattr(widget, "action", None) in EXTRA:
                widget.add_class("-extra")
            yield widget


class MainScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(a.key, a.action, a.label, key_display=a.key_display) for a in ACTIONS
    ] + [Binding("f1", "help", "Keys", show=False)]
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (120, "-wide")]

    app: "PairupApp"

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield TimerPanel(id="timer")
            with Vertical(id="people"):
                yield Roster(id="roster")
        yield DecisionLog(id="decisions")
        yield HandoverLine(id="handover")
        yield Static(id="link")
        yield Label(id="connection")
        yield KeyFooter(compact=True)

    def on_mount(self) -> None:
        self.query_one("#timer").border_title = "Turn"
        self.query_one("#people").border_title = "Rotation"
        self.query_one("#decisions").border_title = "Decisions"
        self.show(STARTING, "")

    def show(self, snap: Snapshot, join_link: str, watch_link: str = "") -> None:
        self.query_one(TimerPanel).show(snap)
        self.query_one(Roster).show(snap)
        self.query_one(HandoverLine).show(snap)
        decisions = self.query_one(DecisionLog)
        decisions.show(snap)
        decisions.border_subtitle = plain(_commits_line(snap))
        links = [("Watch link" if snap.watching else "Join link", join_link or "…")]
        if watch_link:
            links.append(("Watch link", watch_link))
        self.query_one("#link", Static).update(
            Content("\n").join(
                Content.assemble((label, "bold"), " ", printable(link)) for label, link in links
            )
        )
        connection = self.query_one("#connection", Label)
        connection.update(plain(snap.connection))
        for state in ("connecting", "connected", "reconnecting", "waiting", "offline"):
            connection.set_class(snap.connection_state == state, f"-{state}")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        snap = self.app.shown
        if action in NEEDS_SESSION and self.app.session is None:
            return False
        if snap.watching and action not in WATCHER_ACTIONS:
            return False
        phase = snap.phase
        allowed = {
            "start_turn": phase in ("lobby", "waiting"),
            "pause": phase in ("running", "paused"),
            "skip": phase in ("running", "paused", "waiting"),
            "extend": phase in ("running", "paused"),
            "take_break": phase in ("running", "paused", "waiting", "break"),
            "reorder": len(snap.roster) > 1 and phase != "ended",
            "away": phase != "ended",
            "amend": bool(snap.decisions),
            "agree": bool(snap.decisions),
            "object": bool(snap.decisions),
            "commit": self.app.session is not None and self.app.session.repository is not None,
            "let_in": snap.host and bool(snap.knocking),
            "take_handover": snap.handover is not None and snap.handover.take_again,
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

        def extend(duration: str | None) -> None:
            if duration is not None:
                self.app.send({"cmd": "extend", "duration": duration})

        self.app.push_screen(
            Ask(
                "Extend this turn by how long?",
                value="5m",
                placeholder="a duration: 90s, 5m, 1h",
                max_length=20,
                check=_extension_problem,
            ),
            extend,
        )

    def action_away(self) -> None:
        session = self.app.session
        if session is None:
            return
        me = session.link.view.member(session.me.id)
        self.app.send({"cmd": "back" if me is not None and me.away is not None else "away"})

    def action_take_break(self) -> None:
        self.app.send({"cmd": "end-break" if self.app.shown.phase == "break" else "break"})

    def action_reorder(self) -> None:
        from pairup.tui.screens import Reorder

        def reorder(change: tuple[str, list[str]] | None) -> None:
            if change is None:
                return
            what, ids = change
            if what == "order":
                self.app.send({"cmd": "reorder", "order": ids})
            else:
                for participant_id in ids:
                    self.app.send({"cmd": "remove", "participant_id": participant_id})

        # The session as it is now, not as last drawn: someone may have come back since.
        session = self.app.session
        roster = session.snapshot().roster if session is not None else self.app.shown.roster
        self.app.push_screen(Reorder(roster), reorder)

    def action_decide(self) -> None:
        from pairup.tui.screens import DecisionForm

        self.app.push_screen(DecisionForm(), self.app.send_all)

    def action_amend(self) -> None:
        from pairup.tui.screens import DecisionForm

        decision = self._under_cursor()
        if decision is not None:
            session = self.app.session
            watch_only = session.watch_only if session is not None else ""
            form = DecisionForm(decision, self.app.shown.decisions, watch_only=watch_only)
            self.app.push_screen(form, self.app.send_all)

    def action_agree(self) -> None:
        self._opinion("agree")

    def action_object(self) -> None:
        self._opinion("object")

    def _opinion(self, stance: str) -> None:
        """Agree with or object to the decision under the cursor, whoever recorded it."""
        from pairup.tui.screens import opinion_command, opinion_prompt

        decision = self._under_cursor()
        if decision is None:
            return
        if self._watch_only():
            return

        def said(why: str | None) -> None:
            if why is not None:
                self.app.send(opinion_command(decision, stance, why))

        self.app.push_screen(opinion_prompt(decision, stance), said)

    def _watch_only(self) -> bool:
        """Whether this participant only watches, said at once rather than after a why."""
        session = self.app.session
        if session is None or not session.watch_only:
            return False
        self.app.notify(session.watch_only, severity="warning")
        return True

    def _under_cursor(self) -> "DecisionRow | None":
        chosen = self.query_one(DecisionLog).selected
        found = [d for d in self.app.shown.decisions if d.id == chosen]
        if not found:
            self.notify("There is no decision yet: d writes one down.")
            return None
        return found[0]

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

    def action_copy_watch_link(self) -> None:
        if self.app.session is not None:
            self.app.copy_to_clipboard(self.app.session.watch_link)
            self.notify(
                "Watch link copied: whoever opens it follows the session and changes nothing.",
                title="Copied",
            )

    def action_take_handover(self) -> None:
        session = self.app.session
        if session is not None:
            taken, said = session.take_again()
            self.notify(said, title="Handover", severity="information" if taken else "warning")

    def action_let_in(self) -> None:
        self.app.answer_knocks(again=True)

    def action_end_session(self) -> None:
        from pairup.tui.screens import Confirm

        if self.app.shown.end_refused:
            refused = self.app.shown.end_refused
            self.notify(f"{refused[:1].upper()}{refused[1:]}; q leaves it.")
            return

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

        keys = [KeyHelp(a.key_display or a.key, a.label, self.app.explain(a)) for a in ACTIONS]
        keys += [
            KeyHelp("f1", "Keys", "list every key"),
            KeyHelp("ctrl+p", "Commands", "search every action, and the themes"),
            KeyHelp("ctrl+q", "Quit", self.app.explain(QUIT)),
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
        self._shown_bindings: tuple[bool, str, bool, int, bool, bool] | None = None
        self._asked: set[tuple[str, str]] = set()
        """Knocks the host has been told of: (participant, fingerprint)."""
        self._asking = False

    def get_default_screen(self) -> Screen[Any]:
        return self.main

    def on_ready(self) -> None:
        self.run_worker(self._open(), name="open", group="session")

    async def _open(self) -> None:
        await asyncio.to_thread(importlib.import_module, "pairup.tui.screens")
        try:
            session = await self.opener(self)
        except CannotOpen as error:
            self.exit(str(error))
            return
        self.session = session
        who = "watching" if session.watching else session.me.name
        self.sub_title = printable(f"session {session.session_id} · you are {who}")
        session.watch(self._changed, self._problem, self._handover)
        if session.connect:
            self.run_worker(self._take_part(session), name="link", group="session")
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

    def _handover(self, news: "News") -> None:
        """A toast for what a person must know of the handover this pairup sends or takes:
        that the code is here (and where their own changes were kept), that it was not moved
        and why, that an apply cut short was undone."""
        session = self.session
        if news.stage == "applied":
            if session is not None and session.prefs.bell:
                self.bell()
            self.notify(_sentence(news.text), title="Handover", timeout=20)
        elif news.stage == "refused":
            again = " Press h to take it again once that is sorted out." if news.handover else ""
            self.notify(
                _sentence(news.text) + again, title="Handover", severity="error", timeout=30
            )
        elif news.stage in ("recovered", "finished"):
            self.notify(_sentence(news.text), title="Handover", severity="warning", timeout=20)
        elif news.stage == "offered":
            self.notify(_sentence(news.text), title="Handover", timeout=6)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """A toast that shows its words as they are: never markup, never terminal control, and
        never more than :data:`TOAST_CHARACTERS` of anyone's text. (Widgets' own ``notify``
        ask for markup; here nobody gets it.)"""
        super().notify(
            fit(printable(message), TOAST_CHARACTERS),
            title=fit(printable(title), 80),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def explain(self, action: Action) -> str:
        """What a key does for this participant: quitting differs for the host."""
        if action.action == "app.quit" and self.session is not None:
            return QUIT_HOST if self.session.prefs.hosting else QUIT_GUEST
        return action.explanation

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
            # The host shows the watch link too: anyone with the join link can make it.
            self.main.show(snap, session.join_link, session.watch_link if session.hosts else "")
        except NoMatches:
            # The app is closing and has already taken the screen's widgets down.
            return
        except Exception:
            # Each panel guards its own drawing; this is a bug in between. The session (and,
            # for the host, the relay inside this pairup) matters more than one frame.
            log.exception("drawing the main screen failed")
            self.notify("Part of the screen could not be drawn: see pairup.log", severity="error")
            return
        again = snap.handover is not None and snap.handover.take_again
        bindings = (
            True,
            snap.phase,
            bool(snap.decisions),
            len(snap.roster),
            bool(snap.knocking),
            again,
        )
        if bindings != self._shown_bindings:
            self._shown_bindings = bindings
            self.main.refresh_bindings()
        self._announce(session, snap)
        self.answer_knocks()

    def answer_knocks(self, *, again: bool = False) -> None:
        """Tell the host of each newcomer who knocks, and ask about one when they press i
        (``again``). Offered, never asked unbidden: a question that took the keyboard while
        the host typed would take their next key for an answer (l lets someone in)."""
        snap = self.shown
        if not snap.host or self._asking:
            return
        if again:
            if not snap.knocking:
                self.notify("Nobody is waiting to come in.")
                return
            self._asking = True
            self.run_worker(self._ask_about(snap.knocking[0]), group="session")
            return
        for knock in snap.knocking:
            if (knock.participant, knock.fingerprint) in self._asked:
                continue
            self._asked.add((knock.participant, knock.fingerprint))
            who = knock.name or knock.participant
            back = " again (taken out before)" if knock.returning else ""
            if self.session is not None and self.session.prefs.bell:
                self.bell()
            self.notify(
                f"{who} asks to join{back}, key fingerprint {knock.fingerprint}. Press i to let "
                "them in or turn them away.",
                title="Knock",
                timeout=30,
            )

    async def _ask_about(self, knock: "KnockRow") -> None:
        from pairup.tui.screens import Choice

        session = self.session
        assert session is not None, "knocks come through a session"
        who = knock.name or knock.participant
        back = " again: they were taken out of the session" if knock.returning else ""
        try:
            answer = await self.push_screen_wait(
                Choice(
                    f"Let {who} in?",
                    f"{who} (id {knock.participant}) asks to join{back}. Their key's "
                    f"fingerprint is {knock.fingerprint}: ask them to read out the one their "
                    "screen shows.",
                    [("in", "l", "Let them in"), ("away", "t", "Turn them away")],
                )
            )
            if answer is not None:
                answered = await (session.let_in if answer == "in" else session.turn_away)(
                    knock.participant
                )
                if not answered:
                    self.notify(f"{who} is no longer waiting.")
        finally:
            self._asking = False

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
        if snap.paused_for and phase != "paused":
            self.notify(
                f"{snap.driver_name} is away: the countdown waits for them. n hands over.",
                title="Paused",
                timeout=10,
            )
        if snap.turn > turn and self._cycle_done(session, snap):
            # Offered, never asked: a prompt that took focus would swallow the keys people
            # were typing. The lesson is one key away.
            self.notify(
                "Everyone has driven once. What did we learn? Press l to note it.",
                title="Retro",
                timeout=20,
            )

    @staticmethod
    def _cycle_done(session: "Participation", snap: Snapshot) -> bool:
        people = snap.here
        return session.prefs.retro and people > 1 and (snap.turn - 1) % people == 0

    def _alert(self, session: "Participation", message: str) -> None:
        if session.prefs.bell:
            self.bell()
        panel = self.main.query_one(TimerPanel)
        panel.add_class("flash")
        self.set_timer(FLASH_SECONDS, partial(panel.remove_class, "flash"))
        self.notify(message, title="Rotation", timeout=6)
        if session.prefs.notify_command:
            shown = printable(message)
            self.run_worker(partial(session.run_notify_command, shown), thread=True)

    # -- from the keys to the session ------------------------------------------------------------

    def send(self, command: dict[str, Any]) -> bool:
        """Ask the session for ``command``; whether it went (else the toast says why)."""
        if self.session is None:
            return False
        problem = self.session.ask(command)
        if problem is not None:
            self.notify(problem, severity="error")
        return problem is None

    def send_all(self, commands: list[dict[str, Any]] | None) -> None:
        """What a form asks for, in its order, up to the first that cannot go: the rest
        followed from it (the link to the decision superseding it, then the amendment)."""
        for command in commands or ():
            if not self.send(command):
                return

    async def commit(self) -> None:
        """The commit form, then the commit through the participant's repository service; git's
        work runs in threads."""
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
        made, said = await session.commit(message, stage_all=stage_all)
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
        try:
            failure = await session.run()
        except StorageError as error:
            # The journal can be kept no longer (a full disk, a damaged file), whether the link
            # or one of the session's services met it: the link has stopped, and the message
            # says what is kept and what brings this person back.
            self.exit(str(error))
            return
        if failure is None:
            return
        if not session.ever_connected:
            self.exit(failure)
        else:
            self.notify(failure, title="Offline", severity="error")

    # -- the command palette and quitting --------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        ours = isinstance(screen, MainScreen)
        if ours:
            for entry in ACTIONS:
                if entry.action.startswith("app.") or screen.check_action(entry.action, ()):
                    callback = partial(screen.run_action, entry.action)
                    yield SystemCommand(entry.label, self.explain(entry), callback)
        for command in super().get_system_commands(screen):
            # One Quit, which says what quitting does here (the same action underneath).
            if not (ours and command.title == "Quit"):
                yield command

    async def action_quit(self) -> None:
        from pairup.tui.screens import Choice, Confirm

        session = self.session
        if session is None or self.shown.phase == "ended" or not session.ever_connected:
            await self.action_quit_now()
            return
        if not session.prefs.hosting:

            def leave(yes: bool | None) -> None:
                if yes:
                    self.run_worker(self._leave(session), group="quit")

            self.push_screen(
                Confirm(
                    "Leave the session?",
                    "Leave",
                    "The others carry on without you; the same link brings you back.",
                ),
                leave,
            )
            return

        def chosen(answer: str | None) -> None:
            if answer == "end":
                self.run_worker(self._end_and_quit(session), group="quit")
            elif answer == "open":
                self.run_worker(self.action_quit_now(), group="quit")

        self.push_screen(
            Choice(
                "Quit pairup?",
                "The relay runs inside this pairup: quitting disconnects everyone.",
                [
                    ("end", "e", "End the session for everyone"),
                    ("open", "o", "Leave it open: pairup start --resume brings it back"),
                ],
            ),
            chosen,
        )

    async def _leave(self, session: "Participation") -> None:
        await session.leave()
        await self.action_quit_now()

    async def _end_and_quit(self, session: "Participation") -> None:
        await session.end()
        await self.action_quit_now()

    async def action_quit_now(self) -> None:
        if self.session is not None:
            await self.session.close()
        self.exit()


def _extension_problem(answer: str) -> str | None:
    """Why ``answer`` is no length to extend a turn by, or None when it is one."""
    try:
        seconds = parse_duration(answer)
    except DurationError as error:
        return str(error)
    if not 0 < seconds <= EXTEND_LONGEST:
        return "a turn is extended by more than nothing and at most 4h"
    return None


def _commits_line(snap: Snapshot) -> str:
    """The session's commits at a glance, under the decisions."""
    if not snap.commits:
        return ""
    last = snap.commits[-1]
    count = f"{len(snap.commits)} commit{'s' if len(snap.commits) > 1 else ''}"
    return f"{count} · last {last.sha[:7]} {last.summary[:40]} ({last.author})"


def _sentence(line: str) -> str:
    """A line as a toast says it: a capital first, a full stop last."""
    line = line[:1].upper() + line[1:]
    return line if line.endswith((".", "!", "?")) else f"{line}."
