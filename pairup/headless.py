"""Headless mode: a participant without the TUI, for scripts, bots and editor integrations.

stdout carries JSON lines: first ``{"type": "link", ...}`` with the join link, then one line per
sequenced event (``"type": "event"``) and per change of connection state (``"type": "status"``).
stdin takes one JSON command per line, ``{"cmd": "decide", "title": ...}`` and the like; a bad
line gets a ``{"type": "error"}`` line and nothing else happens. End of stdin leaves the
participant in the session until it ends or the process is interrupted.
"""

import asyncio
import contextlib
import json
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from pydantic import ValidationError

from pairup.link.client import EventTooLarge, Link, Status
from pairup.link.timekeeper import keep_time, new_id
from pairup.session import events as ev
from pairup.session.state import State

COMMANDS = (
    "decide",
    "amend",
    "start",
    "rotate",
    "skip",
    "pause",
    "resume",
    "extend",
    "break",
    "lesson",
    "end",
)


class CommandError(ValueError):
    """A command line that cannot become an event; the message goes back as a JSON line."""


def command_event(command: dict[str, Any], view: State, actor: str, now: float) -> ev.Event:
    """The event a headless command asks for, aimed at the session as this participant sees it."""
    name = command.get("cmd")
    base = {"id": new_id(), "actor": actor, "at": now}
    turn = {"turn": view.turn}
    fields = {key: value for key, value in command.items() if key != "cmd"}
    builders: dict[str, Callable[[], ev.Event]] = {
        "decide": lambda: ev.DecisionRecorded(**base, decision_id=new_id(), **fields),
        "amend": lambda: ev.DecisionAmended(**base, **_amendment(fields, view)),
        "start": lambda: ev.TurnStarted(**base, **turn),
        "rotate": lambda: ev.RolesRotated(**base, **turn),
        "skip": lambda: ev.TurnSkipped(**base, **turn),
        "pause": lambda: ev.TimerPaused(**base, **turn),
        "resume": lambda: ev.TimerResumed(**base, **turn),
        "extend": lambda: ev.TimerExtended(**base, **turn, seconds=_seconds(fields)),
        "break": lambda: ev.BreakStarted(**base, **turn, **fields),
        "lesson": lambda: ev.LessonNoted(**base, **fields),
        "end": lambda: ev.SessionEnded(**base),
    }
    builder = builders.get(name) if isinstance(name, str) else None
    if builder is None:
        raise CommandError(f"unknown cmd {name!r}; expected one of: {', '.join(COMMANDS)}")
    try:
        return builder()
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "command"
        raise CommandError(f"{name}: {where}: {first['msg']}") from None
    except TypeError as error:
        raise CommandError(f"{name}: {error}") from None


def _amendment(fields: dict[str, Any], view: State) -> dict[str, Any]:
    """``decision`` may name a decision by its number in the log (1, 2, ...) or by its id."""
    target = fields.get("decision_id", fields.get("number"))
    if isinstance(target, int):
        ordered = view.decisions_in_order()
        if not 1 <= target <= len(ordered):
            raise CommandError(f"amend: there is no decision number {target}")
        target = ordered[target - 1].id
    if not isinstance(target, str):
        raise CommandError("amend: say which decision, with number (1, 2, ...) or decision_id")
    changes = {key: value for key, value in fields.items() if key not in ("decision_id", "number")}
    return {"decision_id": target, **changes}


def _seconds(fields: dict[str, Any]) -> int:
    minutes = fields.get("minutes")
    seconds = fields.get("seconds")
    if isinstance(minutes, int) and seconds is None:
        return minutes * 60
    if isinstance(seconds, int) and minutes is None:
        return seconds
    raise CommandError('extend: give "minutes" or "seconds" as a whole number')


class Headless:
    """Wires a link to stdin and stdout."""

    def __init__(
        self,
        link: Link,
        me: ev.Participant,
        *,
        settings: ev.SessionSettings | None,
        out: TextIO = sys.stdout,
        inp: TextIO = sys.stdin,
    ) -> None:
        self.link = link
        self.me = me
        self.settings = settings
        self.out = out
        self.inp = inp
        self._link_shown = False
        self._background: set[asyncio.Task[None]] = set()

    def emit(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()

    async def run(self) -> Status:
        """Take part until the session ends or entry is refused; the final status says which."""
        if not self.link.create:
            self._emit_link()
        last_status: list[Status] = []
        self.link.listeners.append(lambda: self._status_changed(last_status))
        tasks = [
            asyncio.create_task(self.link.run()),
            asyncio.create_task(self._print_events()),
            asyncio.create_task(self._read_commands()),
            asyncio.create_task(keep_time(self.link)),
        ]
        try:
            await tasks[0]
            while not self.link.applied.empty():
                await asyncio.sleep(0.01)
            return self.link.status
        finally:
            for task in tasks[1:]:
                task.cancel()
            for task in tasks[1:]:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _status_changed(self, last: list[Status]) -> None:
        status = self.link.status
        if last and last[-1] == status:
            return
        if self.link.create and status.state == "connected" and not self._link_shown:
            # The host shows the link once the relay knows the session, so nobody who
            # follows it at once is turned away as unknown.
            self._link_shown = True
            self._emit_link()
        last[:] = [status]
        record: dict[str, Any] = {"type": "status", "state": status.state, "relay": status.relay}
        if status.retry_at is not None:
            record["retry_in"] = round(max(0.0, status.retry_at - self.link.clock()), 1)
        if status.reason:
            record["reason"] = status.reason
        self.emit(record)
        if status.state == "connected":
            introduce = asyncio.get_running_loop().create_task(self._introduce())
            self._background.add(introduce)
            introduce.add_done_callback(self._background.discard)

    def _emit_link(self) -> None:
        # The host prints the whole link, to share it; a guest already has it, and its
        # output may well end up in a log, so it gets the link without the secret.
        shown = str(self.link.join) if self.link.create else self.link.join.redacted()
        self.emit({"type": "link", "link": shown, "participant": self.me.id})

    async def _introduce(self) -> None:
        """Open the session (the host) and join it, unless the log already says so."""
        view = self.link.view
        now = self.link.now()
        if self.settings is not None and not view.opened and view.phase == "lobby":
            opened = ev.SessionOpened(id=new_id(), actor=self.me.id, at=now, settings=self.settings)
            await self.link.submit(opened)
        member = self.link.view.member(self.me.id)
        if member is None or not member.present or member.participant != self.me:
            joined = ev.ParticipantJoined(
                id=new_id(), actor=self.me.id, at=now, participant=self.me
            )
            await self.link.submit(joined)

    async def _print_events(self) -> None:
        while True:
            applied = await self.link.applied.get()
            event = applied.event
            record: dict[str, Any] = {
                "type": "event",
                "seq": event.seq,
                "event": json.loads(ev.encode_event(event)),
            }
            if applied.rejected:
                record["ignored"] = applied.rejected
            self.emit(record)

    async def _read_commands(self) -> None:
        lines: asyncio.Queue[str] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            # A daemon thread: a blocked read must not keep the process alive once the
            # session is over (asyncio's own worker threads are waited for at exit).
            for line in iter(self.inp.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, "")

        threading.Thread(target=read, name="pairup-stdin", daemon=True).start()
        while True:
            line = await lines.get()
            if not line:
                return
            if not line.strip():
                continue
            try:
                command = json.loads(line)
                if not isinstance(command, dict):
                    raise CommandError('a command is a JSON object such as {"cmd": "pause"}')
                event = command_event(command, self.link.view, self.me.id, self.link.now())
            except json.JSONDecodeError as error:
                self.emit({"type": "error", "error": f"not JSON: {error.msg}", "line": line[:200]})
                continue
            except CommandError as error:
                self.emit({"type": "error", "error": str(error)})
                continue
            try:
                await self.link.submit(event)
            except EventTooLarge as error:
                self.emit({"type": "error", "error": str(error)})
                continue
            self.emit({"type": "sent", "id": event.id, "kind": event.kind})
