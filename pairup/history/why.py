"""``pairup why``: from a line of code to the session it was written in and the decisions
taken there before it.

Blame gives the commit; the history gives the session whose log recorded that commit (its
``commit.recorded``), who was credited and who was there; the decisions recorded in that
session before the commit, with their ADR files, are the "why". Composing the answer is pure;
:mod:`pairup.history.cli` does the reading.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairup.history import describe
from pairup.history.adrs import AdrFiles
from pairup.history.facts import CommitFacts, DecisionFacts, Sitting
from pairup.history.git import Blamed
from pairup.history.text import shown

_SHORT = 12
_RANGES_SHOWN = 6


@dataclass(frozen=True, slots=True)
class Reason:
    """A commit behind the lines asked about, and what the history knows of it."""

    blamed: Blamed
    sitting: Sitting | None = None
    commit: CommitFacts | None = None
    decisions: tuple[DecisionFacts, ...] = ()


def explain(blamed: Iterable[Blamed], sittings: Iterable[Sitting]) -> list[Reason]:
    """Each blamed commit with the session held here that recorded it, if one did."""
    recorded: dict[str, tuple[Sitting, CommitFacts]] = {}
    for sitting in sittings:
        if sitting.here:
            for commit in sitting.commits:
                recorded.setdefault(commit.sha, (sitting, commit))
    reasons = []
    for item in blamed:
        found = recorded.get(item.sha)
        if found is None:
            reasons.append(Reason(item))
            continue
        sitting, commit = found
        reasons.append(Reason(item, sitting, commit, tuple(sitting.decisions_before(commit))))
    return reasons


def line_ranges(lines: Iterable[int]) -> str:
    """``1-10, 14, 20-22``: the lines a commit holds, the first few ranges of them."""
    ranges: list[list[int]] = []
    for line in sorted(set(lines)):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    said = [str(a) if a == b else f"{a}-{b}" for a, b in ranges[:_RANGES_SHOWN]]
    more = len(ranges) - _RANGES_SHOWN
    return ", ".join(said) + (f" and {more} more ranges" if more > 0 else "")


def render(path: str, line: int | None, reasons: list[Reason], adrs: AdrFiles, repo: Path) -> str:
    """The answer for a terminal: every participant's string made printable."""
    where = shown(path if line is None else f"{path}:{line}")
    if not reasons:
        return f"{where} is empty: no line to explain"
    blocks = []
    for reason in reasons:
        blocks.append("\n".join(_block(where, line, reason, adrs, repo)))
    return "\n\n".join(blocks)


def _block(where: str, line: int | None, reason: Reason, adrs: AdrFiles, repo: Path) -> list[str]:
    blamed = reason.blamed
    lines = "" if line is not None else f" (lines {line_ranges(blamed.lines)})"
    if not blamed.committed:
        return [f"{where}{lines}: not committed yet, so no session made it"]
    summary = shown(blamed.summary)
    head = f"{where}{lines}: commit {blamed.sha[:_SHORT]}, {describe.day(blamed.author_time)}"
    said = [f'{head}, "{summary}"' if summary else head]
    if reason.sitting is None or reason.commit is None:
        author = shown(f"{blamed.author} <{blamed.author_mail}>")
        said.append(f"  by {author}")
        said.append(f"  no pairup session held here recorded commit {blamed.sha[:_SHORT]}")
        return said
    sitting, commit = reason.sitting, reason.commit
    length = describe.span(sitting.length)
    said.append(
        f"  made in session {sitting.session_id} ({describe.when(sitting.started)}, {length})"
    )
    said.append(
        f"  credited: {', '.join(map(describe.credit, (commit.author, *commit.co_authors)))}"
    )
    said.append(f"  in the session: {describe.participants(sitting)}")
    if not reason.decisions:
        said.append("  no decision was recorded in that session before this commit")
        return said
    said.append("  decisions recorded before it:")
    for decision in reason.decisions:
        files = describe.adr_files(sitting, decision, adrs, repo)
        status = describe.status(sitting, decision, files)
        said.append(f"    #{decision.number} {shown(decision.title)} [{status}]")
        opinions = describe.opinions(sitting, decision)
        if opinions:
            said.append(f"       {opinions}")
        said += describe.adr_lines(files, "       ")
    return said


def to_json(
    path: str, line: int | None, reasons: list[Reason], adrs: AdrFiles, repo: Path
) -> dict[str, Any]:
    """The answer for scripts: the text as typed, times in UTC."""
    return {
        "path": path,
        "line": line,
        "commits": [_reason_json(reason, adrs, repo) for reason in reasons],
    }


def _reason_json(reason: Reason, adrs: AdrFiles, repo: Path) -> dict[str, Any]:
    blamed = reason.blamed
    answer: dict[str, Any] = {
        "sha": blamed.sha if blamed.committed else None,
        "committed": blamed.committed,
        "summary": blamed.summary,
        "author": {"name": blamed.author, "email": blamed.author_mail},
        "authored": describe.iso(blamed.author_time) if blamed.committed else None,
        "lines": sorted(blamed.lines),
        "session": None,
    }
    if reason.sitting is not None and reason.commit is not None:
        sitting, commit = reason.sitting, reason.commit
        answer["session"] = {
            **describe.session_json(sitting),
            "recorded_at": describe.iso(commit.at),
            "credited": [describe.credit_json(p) for p in (commit.author, *commit.co_authors)],
            "decisions": [
                describe.decision_json(sitting, decision, adrs, repo)
                for decision in reason.decisions
            ],
        }
    return answer
