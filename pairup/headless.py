"""Headless mode: a participant without the TUI, for scripts, bots and editor integrations.

stdout carries JSON lines: first ``{"type": "link", ...}`` with the join link (and, for the host,
the watch link), then one line per sequenced event (``"type": "event"``), per change of
connection state (``"type": "status"``), per newcomer waiting for the host (``"type": "knock"``)
and per change of who watches (``"type": "watchers"``); an event from the relay that fails
authentication is a ``"type": "unauthentic"`` line (one that does not read, or one's own event
lost to such a body, a ``"not-applied"`` line), and is never applied. stdin takes one JSON
command per line, ``{"cmd": "decide", "title": ...}`` and the like, and the host's
``{"cmd": "let-in", "participant": ID}`` and ``{"cmd": "turn-away", ...}``, and
``{"cmd": "take"}`` to take a refused handover again; each handover this participant sends
or takes is told as ``"type": "handover"`` lines (its stage, progress and outcome); a bad line
gets a
``{"type": "error"}`` line and nothing else happens. With a watch link every command but
``leave`` is refused. End of stdin leaves the
participant in the session until it ends or the process is interrupted; ``leave`` ends it
at once (exit 0), and nothing joins again after that. A journal that can be kept no longer (a
full disk, a damaged file) ends it too: the command it refused gets an error line, and the
last status line, offline, says why and what to run.

It drives the same participant runtime as the TUI (:mod:`pairup.participant`): commands from
stdin go to it, and the events it hands out go to stdout.
"""

import asyncio
import contextlib
import json
import sys
import threading
from typing import Any, TextIO

from pairup.commands import CommandError
from pairup.journal import JournalFailure
from pairup.link.client import Applied, EventTooLarge, Knock, Link, Status
from pairup.link.handover import News
from pairup.participant import ParticipantRuntime
from pairup.session import events as ev

LEAVE_WAIT_SECONDS = 5.0


class Headless:
    """Wires a participant's runtime to stdin and stdout."""

    def __init__(
        self, runtime: ParticipantRuntime, *, out: TextIO = sys.stdout, inp: TextIO = sys.stdin
    ) -> None:
        self.runtime = runtime
        self.out = out
        self.inp = inp
        self._link_shown = False
        self._knocks: tuple[Knock, ...] = ()
        self._watchers: dict[str, str] = {}

    @property
    def link(self) -> Link:
        return self.runtime.link

    @property
    def me(self) -> ev.Participant:
        return self.runtime.me

    def emit(self, record: dict[str, Any]) -> None:
        self.out.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.out.flush()

    async def run(self) -> Status:
        """Take part until the session ends, entry is refused or the journal fails; the final
        status says which."""
        if not self.link.create:
            self._emit_link()
        last_status: list[Status] = []
        self.link.listeners.append(lambda: self._status_changed(last_status))
        self.link.listeners.append(self._access_changed)
        self.runtime.applied_listeners.append(self._print_event)
        self.runtime.handover_listeners.append(self._print_handover)
        self.runtime.services.append(self._read_commands)
        with contextlib.suppress(JournalFailure):
            # The link has stopped, offline, with the failure as its reason.
            await self.runtime.run()
        return self.link.status

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
        if status.state == "waiting":
            # What the host is shown of this participant's key, to compare aloud.
            record["fingerprint"] = self.link.fingerprint
        if self.link.chaos and status.state == "connected":
            record["chaos"] = self.link.chaos
        self.emit(record)

    def _emit_link(self) -> None:
        # The host prints the whole links, to share them; a guest already has theirs, and its
        # output may well end up in a log, so it gets the link without the secret.
        join = self.link.join
        record: dict[str, Any] = {
            "type": "link",
            "link": str(join) if self.link.create else join.redacted(),
            "participant": self.me.id,
        }
        if self.link.create:
            record["watch"] = str(join.watching())
        if self.link.watching_only:
            record["watching"] = True
        self.emit(record)

    def _access_changed(self) -> None:
        """Say who newly waits for the host to let them in, and who watches when that changes."""
        knocks = self.link.knocking
        known = {(knock.participant, knock.identity) for knock in self._knocks}
        for knock in knocks:
            if (knock.participant, knock.identity) not in known:
                self.emit(
                    {
                        "type": "knock",
                        "participant": knock.participant,
                        "name": knock.name,
                        "fingerprint": knock.fingerprint,
                        "returning": knock.returning,
                        "host": self.link.host == self.me.id,
                    }
                )
        self._knocks = knocks
        if self.link.watchers != self._watchers:
            self._watchers = dict(self.link.watchers)
            watching = [{"participant": pid, "name": name} for pid, name in self._watchers.items()]
            self.emit({"type": "watchers", "watching": watching})

    def _print_event(self, applied: Applied) -> None:
        event = applied.event
        if event is None:
            self.emit(
                {
                    "type": "unauthentic" if applied.unauthentic else "not-applied",
                    "seq": applied.seq,
                    "sender": applied.sender,
                    "error": f"{applied.rejected}; not applied",
                }
            )
            return
        shown = json.loads(ev.encode_event(event))
        if isinstance(event, ev.HandoverPart):
            # Code in transit, for pairup to put together: its length is what a reader needs.
            shown["data"] = f"<{len(event.data)} characters>"
        record: dict[str, Any] = {"type": "event", "seq": event.seq, "event": shown}
        if applied.rejected:
            record["ignored"] = applied.rejected
        if applied.forged:
            record["forged"] = True
        self.emit(record)

    def _print_handover(self, news: News) -> None:
        record: dict[str, Any] = {"type": "handover", "stage": news.stage, "text": news.text}
        if news.total:
            record |= {"done": news.done, "total": news.total}
        if news.handover:
            record["handover"] = news.handover
        if news.stage == "applied":
            record |= {"saved": news.saved, "restore": news.restore}
            if news.file:
                record |= {"file": news.file, "line": news.line}
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
                if command.get("cmd") in ("let-in", "turn-away"):
                    self.emit(await self._answer_knock(command))
                    continue
                if command.get("cmd") == "take":
                    taken, said = self.runtime.take_again()
                    self.emit(
                        {"type": "sent", "cmd": "take", "text": said}
                        if taken
                        else {"type": "error", "error": f"take: {said}"}
                    )
                    continue
                if command.get("cmd") == "leave":
                    # Leaving ends the session here: nothing more is read.
                    await self.runtime.leave(LEAVE_WAIT_SECONDS, command, said=self._sent)
                    return
                self._sent(await self.runtime.send(command))
            except json.JSONDecodeError as error:
                self.emit({"type": "error", "error": f"not JSON: {error.msg}", "line": line[:200]})
            except (CommandError, EventTooLarge) as error:
                self.emit({"type": "error", "error": str(error)})
            except JournalFailure as failure:
                # Not journaled, so not sent; the link stops, and so does reading commands.
                self.emit({"type": "error", "error": str(failure)})
                return

    def _sent(self, event: ev.Event) -> None:
        self.emit({"type": "sent", "id": event.id, "kind": event.kind})

    async def _answer_knock(self, command: dict[str, Any]) -> dict[str, Any]:
        """Let a waiting newcomer in, or turn them away: the host's to do."""
        name, participant = command["cmd"], command.get("participant")
        if not isinstance(participant, str):
            return {"type": "error", "error": f'{name}: give "participant", the id of a knock line'}
        if self.link.host != self.me.id:
            return {"type": "error", "error": f"{name}: only the host lets people in"}
        answer = self.runtime.let_in if name == "let-in" else self.runtime.turn_away
        if not await answer(participant):
            return {"type": "error", "error": f"{name}: nobody with id {participant!r} is waiting"}
        return {"type": "sent", "cmd": name, "participant": participant}
