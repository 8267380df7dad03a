"""What a participant can ask of a session, as named commands, and the event each one becomes.

Headless mode reads these commands as JSON lines; the TUI's keys and forms send the same ones,
so both front ends turn a wish into an event by the same rules.
"""

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from pairup.duration import DurationError, parse_duration
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
    "amend": lambda base, fields, view: ev.DecisionAmended(**base, **_about("amend", fields, view)),
    "accept": lambda base, fields, view: _status("accept", "accepted", base, fields, view),
    "reject": lambda base, fields, view: _status("reject", "rejected", base, fields, view),
    "deprecate": lambda base, fields, view: _status("deprecate", "deprecated", base, fields, view),
    "agree": lambda base, fields, view: ev.DecisionOpinion(
        **base, stance="agree", **_about("agree", fields, view, takes=("why",))
    ),
    "object": lambda base, fields, view: ev.DecisionOpinion(
        **base, stance="object", **_about("object", fields, view, takes=("why",))
    ),
    "supersede": lambda base, fields, view: ev.DecisionSuperseded(
        **base, **_superseded(fields, view)
    ),
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
    "away": lambda base, fields, view: ev.ParticipantAway(
        **base, participant_id=base["actor"], **fields
    ),
    "back": lambda base, fields, view: ev.ParticipantBack(
        **base, participant_id=base["actor"], **fields
    ),
    "remove": lambda base, fields, view: ev.ParticipantLeft(**base, **_someone(fields, view)),
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


def _about(
    name: str, fields: dict[str, Any], view: State, *, takes: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The decision is named by ``number`` (its place in the log: 1, 2, ...) or
    ``decision_id``, not both; the other fields are the command's own: those in ``takes``, or
    (for ``amend``, ``takes`` left out) whatever its event checks."""
    if "number" in fields and "decision_id" in fields:
        raise CommandError(f"{name}: give number or decision_id, not both")
    number = fields.get("number")
    if "number" in fields and (not isinstance(number, int) or isinstance(number, bool)):
        raise CommandError(f"{name}: number is a whole number (1, 2, ...)")
    target = _decision_id(name, fields.get("decision_id", number), view)
    own = {key: value for key, value in fields.items() if key not in ("decision_id", "number")}
    if takes is not None and (unknown := sorted(set(own) - set(takes))):
        also = f", and {', '.join(takes)}" if takes else ""
        raise CommandError(
            f"{name}: unknown field {', '.join(unknown)}; it takes number or decision_id{also}"
        )
    return {"decision_id": target, **own}


def _decision_id(name: str, target: object, view: State) -> str:
    if isinstance(target, int) and not isinstance(target, bool):
        ordered = view.decisions_in_order()
        if not 1 <= target <= len(ordered):
            raise CommandError(f"{name}: there is no decision number {target}")
        return ordered[target - 1].id
    if not isinstance(target, str):
        raise CommandError(f"{name}: say which decision, with number (1, 2, ...) or decision_id")
    return target


def _status(
    name: str, status: str, base: dict[str, Any], fields: dict[str, Any], view: State
) -> ev.Event:
    return ev.DecisionAmended(**base, status=status, **_about(name, fields, view, takes=()))


def _superseded(fields: dict[str, Any], view: State) -> dict[str, Any]:
    """``number`` (or ``decision_id``) is superseded by ``by``, a number or a decision id."""
    if "by" not in fields:
        raise CommandError("supersede: say which decision supersedes it, with by (a number)")
    about = _about("supersede", fields, view, takes=("by",))
    return about | {"by": _decision_id("supersede", fields["by"], view)}


def _someone(fields: dict[str, Any], view: State) -> dict[str, Any]:
    """Another participant, named by ``participant_id`` or by ``name`` when that is unique."""
    if "name" in fields and "participant_id" not in fields:
        name = fields["name"]
        matches = [m.id for m in view.members if m.present and m.participant.name == name]
        if not matches:
            raise CommandError(f"remove: nobody in the session is named {name!r}")
        if len(matches) > 1:
            raise CommandError(
                f"remove: {len(matches)} people are named {name!r}: give participant_id"
            )
        return {"participant_id": matches[0]}
    return fields


def _seconds(fields: dict[str, Any]) -> int:
    """``duration`` ("90s", "5m", "1h30m"), or a whole number of ``minutes`` or ``seconds``."""
    given = {key: fields[key] for key in ("duration", "minutes", "seconds") if key in fields}
    if len(given) != 1:
        raise CommandError(
            'extend: give one of "duration" (like "5m" or "90s"), "minutes", "seconds"'
        )
    ((key, value),) = given.items()
    if key == "duration":
        if not isinstance(value, str):
            raise CommandError('extend: "duration" is text like "5m" or "90s"')
        try:
            return parse_duration(value)
        except DurationError as error:
            raise CommandError(f"extend: {error}") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise CommandError(f'extend: "{key}" is a whole number')
    return value * 60 if key == "minutes" else value
