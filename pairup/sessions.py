"""What ``pairup sessions`` shows: one line per journaled session, from a fold of its log."""

from dataclasses import dataclass
from pathlib import Path

from pairup import moment
from pairup.duration import format_duration
from pairup.journal import JournalError, JournalInfo, list_sessions, load
from pairup.printable import printable
from pairup.session import fold


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    created_at: float
    started: float
    """When the session opened (the journal's creation, before anything happened)."""
    participants: tuple[str, ...]
    seconds: float | None
    """From the start to the end (or the last event); None when either time is impossible."""
    decisions: int
    commits: int
    ended: bool


def summarise_sessions(data_dir: Path) -> tuple[list[SessionSummary], list[str]]:
    """Summaries of the sessions under ``data_dir``, newest first, and the journals that failed.

    One unreadable journal must not hide the others, so its problem is returned, not raised.
    """
    summaries: list[SessionSummary] = []
    problems: list[str] = []
    for info in list_sessions(data_dir):
        try:
            summary = summarise(info)
        except (OSError, JournalError) as error:
            problems.append(str(error))
            continue
        if summary is not None:
            summaries.append(summary)
    return summaries, problems


def summarise(info: JournalInfo) -> SessionSummary | None:
    """One session, from a fold of its journal; None for a journal nothing was written to (a
    join refused before this machine took part, as older pairups kept them). Raises
    ``OSError`` or ``JournalError`` for a journal that cannot be read."""
    contents = load(info.path)
    if not contents.events:
        return None
    state = fold(contents.events)
    start = state.opened_at if state.opened_at is not None else info.created_at
    end = state.ended_at if state.ended_at is not None else state.clock or start
    return SessionSummary(
        session_id=info.session_id,
        created_at=info.created_at,
        started=start,
        participants=tuple(m.participant.name for m in state.members),
        seconds=moment.between(start, end),
        decisions=len(state.decisions),
        commits=len(state.commits),
        ended=state.ended_at is not None,
    )


def format_sessions(summaries: list[SessionSummary]) -> str:
    """A plain table that reads well in a terminal and survives ``grep``; names are shown
    with their control characters visible, never obeyed by the terminal."""
    header = ("STARTED", "SESSION", "LENGTH", "DECISIONS", "COMMITS", "PARTICIPANTS")
    rows = [
        (
            _started(s.created_at),
            s.session_id,
            _length(s.seconds) + ("" if s.ended else "+"),
            str(s.decisions),
            str(s.commits),
            printable(", ".join(s.participants)) or "-",
        )
        for s in summaries
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in (header, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def _started(at: float) -> str:
    shown = moment.local(at)
    return moment.UNKNOWN_TIME if shown is None else shown.strftime("%Y-%m-%d %H:%M")


def _length(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    length, over = moment.capped(seconds)
    return f"over {format_duration(length)}" if over else format_duration(length)
