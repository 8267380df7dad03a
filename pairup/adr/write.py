"""Where exported files go, how they are numbered, and how a re-export finds them again.

Each file carries a one-line marker naming its session and decision. A re-export rewrites the
file holding the marker, whatever it was renamed or renumbered to, so exporting twice leaves
the same files. A new decision takes the number after the highest already in the folder: two
branches exporting at once can pick the same number, which is settled when they merge, by
renaming one of the two (ADR 12).
"""

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pairup.adr.render import SessionFacts, render_decision, render_json, render_record, slug
from pairup.session import Event
from pairup.session.state import State

DEFAULT_DIRS = {
    "adr": Path("doc/adr"),
    "madr": Path("docs/decisions"),
    "log4brains": Path("docs/adr"),
}
NUMBERED = re.compile(r"^(\d{4})-")
MARKER = re.compile(r"<!-- pairup: session=(\S+) decision=(\S+) -->")


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    action: Literal["created", "updated", "unchanged"]


def adr_directory(repo: Path, fmt: str, configured: str = "") -> Path:
    """The ADR folder: the configured one; for adr-tools, the nearest ``.adr-dir`` walking up
    from the repository, else an existing ``doc/adr``; else the format's usual folder."""
    if configured:
        return repo / configured
    if fmt == "adr":
        for directory in (repo, *repo.parents):
            pointer = directory / ".adr-dir"
            if pointer.is_file():
                return directory / pointer.read_text(encoding="utf-8").strip()
    return repo / DEFAULT_DIRS[fmt]


def marker(session_id: str, decision_id: str) -> str:
    return f"<!-- pairup: session={session_id} decision={decision_id} -->"


def export_decisions(
    directory: Path, fmt: str, state: State, facts: SessionFacts
) -> dict[str, Written]:
    """Every decision of the session as a draft ADR in ``directory``, by decision id."""
    directory.mkdir(parents=True, exist_ok=True)
    found = _marked(directory, facts.session_id)
    highest = max(
        (int(match.group(1)) for p in directory.glob("*.md") if (match := NUMBERED.match(p.name))),
        default=0,
    )
    commits = state.commits_in_order()
    written: dict[str, Written] = {}
    for decision in state.decisions_in_order():
        path = found.get(decision.id)
        if path is not None and (match := NUMBERED.match(path.name)):
            number = int(match.group(1))
        elif path is not None:
            number = decision.number
        else:
            highest += 1
            number = highest
            path = directory / _file_name(fmt, number, decision.title, decision.proposed_at)
            path = _free(path)
        after = [record for record in commits if record.at >= decision.proposed_at]
        text = render_decision(
            fmt,
            decision,
            number,
            facts,
            commits=after,
            marker=marker(facts.session_id, decision.id),
        )
        written[decision.id] = _write(path, text)
    return written


def export_record(
    path: Path, state: State, facts: SessionFacts, adrs: dict[str, Written], now: float
) -> Written:
    links = {
        decision_id: Path(os.path.relpath(written.path, path.parent)).as_posix()
        for decision_id, written in adrs.items()
    }
    return _write(path, render_record(state, facts, links, now))


def export_json(path: Path, events: Sequence[Event]) -> Written:
    return _write(path, render_json(events))


def record_name(facts: SessionFacts, suffix: str = ".md") -> str:
    return f"{facts.date}-{facts.session_id}{suffix}"


def _file_name(fmt: str, number: int, title: str, at: float) -> str:
    if fmt == "log4brains":
        day = datetime.fromtimestamp(at, tz=UTC).strftime("%Y%m%d")
        return f"{day}-{slug(title)}.md"
    return f"{number:04d}-{slug(title)}.md"


def _free(path: Path) -> Path:
    """``path``, or the first ``-2``, ``-3``… variant that is not taken."""
    candidate, count = path, 1
    while candidate.exists():
        count += 1
        candidate = path.with_name(f"{path.stem}-{count}{path.suffix}")
    return candidate


def _marked(directory: Path, session_id: str) -> dict[str, Path]:
    """Files of this session already in ``directory``, by decision id."""
    found: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for match in MARKER.finditer(text):
            if match.group(1) == session_id:
                found.setdefault(match.group(2), path)
    return found


def _write(path: Path, text: str) -> Written:
    """Write ``text`` in one step (a file is never seen half written), only if it changed."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return Written(path, "unchanged")
        action: Literal["created", "updated"] = "updated"
    except FileNotFoundError:
        action = "created"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.pairup-new")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return Written(path, action)
