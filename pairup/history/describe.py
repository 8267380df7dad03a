"""How ``why``, ``log`` and ``stats`` say a time, a length, a person and a decision, on a
terminal and in JSON, so the three commands say them alike."""

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pairup import moment
from pairup.duration import format_duration
from pairup.history.facts import Credit, DecisionFacts, Sitting
from pairup.history.text import shown

if TYPE_CHECKING:
    from pairup.adr.lifecycle import Status
    from pairup.history.adrs import AdrFiles

STATUSES = ("proposed", "accepted", "rejected", "deprecated", "superseded")
"""A decision's statuses, in the session and in its ADR file."""
AdrFile = tuple[str, "Status | None"]
"""An ADR file's path from the repository's top, and the status its text gives."""


def when(at: float | None) -> str:
    """A time as this machine's clock shows it, to the minute, as ``pairup sessions`` does."""
    local = moment.local(at)
    return moment.UNKNOWN_TIME if local is None else local.strftime("%Y-%m-%d %H:%M")


def day(at: float | None) -> str:
    local = moment.local(at)
    return moment.UNKNOWN_DATE if local is None else local.strftime("%Y-%m-%d")


def iso(at: float | None) -> str | None:
    """A time for scripts: ISO 8601 in UTC, or null when it cannot be believed."""
    utc = moment.utc(at)
    return None if utc is None else utc.isoformat().replace("+00:00", "Z")


def span(seconds: float | None) -> str:
    if seconds is None:
        return moment.UNKNOWN_LENGTH
    length, over = moment.capped(seconds)
    return f"over {format_duration(length)}" if over else format_duration(length)


def credit(person: Credit) -> str:
    """``Name <email>`` for a terminal."""
    return shown(f"{person.name} <{person.email}>" if person.email else person.name)


def credit_json(person: Credit) -> dict[str, str]:
    return {"name": person.name, "email": person.email}


def participants(sitting: Sitting) -> str:
    return ", ".join(shown(member.name) for member in sitting.members) or "-"


def relative(path: Path, repo: Path) -> str:
    """``path`` as a path from the repository's top, the way git shows paths."""
    try:
        return Path(os.path.relpath(path, repo)).as_posix()
    except ValueError:
        return path.as_posix()


def adr_files(
    sitting: Sitting, decision: DecisionFacts, adrs: "AdrFiles", repo: Path
) -> list[AdrFile]:
    """The decision's ADR files, from the repository's top, each with the status it gives."""
    # Imported here: the ADR code loads the session core, which stats does without.
    from pairup.history.adrs import adr_status

    return [
        (relative(path, repo), adr_status(path))
        for path in adrs.get((sitting.session_id, decision.id), [])
    ]


def adr_lines(files: Sequence[AdrFile], indent: str) -> list[str]:
    """A line for each of a decision's ADR files (:func:`adr_files`), with the status the
    file gives."""
    return [
        f"{indent}ADR {shown(path)}" + ("" if said is None else f" ({shown(said.text)})")
        for path, said in files
    ]


def opinions(sitting: Sitting, decision: DecisionFacts) -> str:
    """Who agreed and who objected, when anyone said; empty when nobody did."""
    said = []
    if decision.agreed:
        said.append("agreed: " + ", ".join(shown(sitting.name_of(p)) for p in decision.agreed))
    if decision.objected:
        objected = ", ".join(shown(sitting.name_of(p)) for p in decision.objected)
        said.append(f"objected: {objected}")
    return "; ".join(said)


def current_status(decision: DecisionFacts, files: Sequence[AdrFile]) -> str:
    """The decision's status now: the one its first ADR file with a status pairup knows gives,
    else the session's. ADR 32: once exported, the file is the person's, and ``pairup adr
    accept`` or an edit there is the last word on it."""
    # A person may write any status: one pairup does not know ("Draft") leaves the session's.
    return next(
        (word for _, said in files if said is not None for word in STATUSES if said.is_(word)),
        decision.status,
    )


def status(sitting: Sitting, decision: DecisionFacts, files: Sequence[AdrFile]) -> str:
    """The decision's status for a terminal (:func:`current_status`), and the session's
    beside it when the ADR file has changed it since."""
    now = current_status(decision, files)
    said = _session_status(sitting, decision)
    return said if now == decision.status else f"ADR: {now}, session: {said}"


def _session_status(sitting: Sitting, decision: DecisionFacts) -> str:
    if decision.status == "superseded" and decision.superseded_by is not None:
        by = next((d for d in sitting.decisions if d.id == decision.superseded_by), None)
        if by is not None:
            return f"superseded by #{by.number}"
    return decision.status


def decision_json(
    sitting: Sitting, decision: DecisionFacts, adrs: "AdrFiles", repo: Path
) -> dict[str, Any]:
    """The decision for scripts: ``status`` is its status now (:func:`current_status`),
    ``session_status`` the one the session left it with."""
    superseded_by = next(
        (d.number for d in sitting.decisions if d.id == decision.superseded_by), None
    )
    files = adr_files(sitting, decision, adrs, repo)
    return {
        "id": decision.id,
        "number": decision.number,
        "title": decision.title,
        "status": current_status(decision, files),
        "session_status": decision.status,
        "recorded_at": iso(decision.at),
        "proposed_by": sitting.name_of(decision.proposed_by),
        "agreed": [sitting.name_of(p) for p in decision.agreed],
        "objected": [sitting.name_of(p) for p in decision.objected],
        "superseded_by": superseded_by,
        "adrs": [
            {"path": path, "status": None if said is None else said.text} for path, said in files
        ],
    }


def session_json(sitting: Sitting) -> dict[str, Any]:
    return {
        "id": sitting.session_id,
        "title": sitting.title,
        "started": iso(sitting.started),
        "ended": iso(sitting.ended),
        "seconds": sitting.length,
        "participants": [{"name": m.name, "email": m.email} for m in sitting.members],
    }
