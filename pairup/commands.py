"""What a participant can ask of a session, as named commands, and the event each one becomes.

Headless mode reads these commands as JSON lines; the TUI's keys and forms send the same ones,
so both front ends turn a wish into an event by the same rules.
"""

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.state import State

Builder = Callable[[dict[str, Any], dict[str, Any], State], ev.Event]
"""Makes a command's event from the common fields (id, actor, time), its own fields, the view."""


def _turn(kind: Callable[..., ev.Event]) -> Builder:
    return lambda base, fields, view: kind(**base, turn=view.turn, **fields)


BUILDERS: dict[str, Builder] = {
    "decide": lambda base, fields, view: ev.DecisionRecorded(
        **base, decision_id=new_id(), **fields
    ),
    "amend": lambda base, fields, view: ev.DecisionAmended(**base, **_amendment(fields, view)),
    "start": _turn(ev.TurnStarted),
    "rotate": _turn(ev.RolesRotated),
    "skip": _turn(ev.TurnSkipped),
    "pause": _turn(ev.TimerPaused),
    "resume": _turn(ev.TimerResumed),
    "extend": lambda base, fields, view: ev.TimerExtended(
        **base, turn=view.turn, seconds=_seconds(fields)
    ),
    "break": _turn(ev.BreakStarted),
    "end-break": lambda base, fields, view: ev.BreakEnded(
        **base, turn=view.turn, early=True, **fields
    ),
    "reorder": lambda base, fields, view: ev.RotationReordered(**base, **fields),
    "lesson": lambda base, fields, view: ev.LessonNoted(**base, **fields),
    "leave": lambda base, fields, view: ev.ParticipantLeft(
        **base, participant_id=base["actor"], **fields
    ),
    "end": lambda base, fields, view: ev.SessionEnded(**base, **fields),
}
COMMANDS = tuple(BUILDERS)


class CommandError(ValueError):
    """A command that cannot become an event; the message says why in one line."""


def command_event(command: dict[str, Any], view: State, actor: str, now: float) -> ev.Event:
    """The event ``command`` asks for, aimed at the session as this participant sees it."""
    name = command.get("cmd")
    builder = BUILDERS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise CommandError(f"unknown cmd {name!r}; expected one of: {', '.join(COMMANDS)}")
    base = {"id": new_id(), "actor": actor, "at": now}
    fields = {key: value for key, value in command.items() if key != "cmd"}
    try:
        return builder(base, fields, view)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "command"
        raise CommandError(f"{name}: {where}: {first['msg']}") from None
    except TypeError as error:
        raise CommandError(f"{name}: {error}") from None


def _amendment(fields: dict[str, Any], view: State) -> dict[str, Any]:
    """The decision is named by ``number`` (its place in the log: 1, 2, ...) or ``decision_id``."""
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
