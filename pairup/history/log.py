"""``pairup log``: the way back, from a decision to the code it shaped.

Each session held in the repository, newest first, with its decisions in the order they were
recorded and, under each, the commits the session made after it (until the next decision) with
the files they touched. Pure: the sessions, the files and the ADRs in; text or JSON out.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairup.history import describe
from pairup.history.adrs import AdrFiles
from pairup.history.facts import CommitFacts, DecisionFacts, Sitting
from pairup.history.people import matches
from pairup.history.text import shown

_SHORT = 12
_FILES_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Filters:
    participant: str | None = None
    since: float | None = None
    status: str | None = None


def select(
    sittings: Iterable[Sitting], filters: Filters, adrs: AdrFiles, repo: Path
) -> list[Sitting]:
    """The sessions held here that pass ``filters``, newest first; a decision's status is
    its ADR file's once it has one (:func:`pairup.history.describe.current_status`)."""
    chosen = []
    for sitting in sittings:
        if not sitting.here:
            continue
        if filters.participant is not None and not matches(sitting, filters.participant):
            continue
        if filters.since is not None and (
            sitting.started is None or sitting.started < filters.since
        ):
            continue
        if filters.status is not None and not _shown_decisions(sitting, filters, adrs, repo):
            continue
        chosen.append(sitting)
    chosen.sort(key=lambda sitting: (sitting.started or 0.0, sitting.session_id), reverse=True)
    return chosen


def _shown_decisions(
    sitting: Sitting, filters: Filters, adrs: AdrFiles, repo: Path
) -> list[DecisionFacts]:
    if filters.status is None:
        return list(sitting.decisions)
    return [
        decision
        for decision in sitting.decisions
        if describe.current_status(decision, describe.adr_files(sitting, decision, adrs, repo))
        == filters.status
    ]


def _between(sitting: Sitting) -> dict[str | None, list[CommitFacts]]:
    """The session's commits by the decision they followed (None: before any), each under
    the last decision recorded before it."""
    grouped: dict[str | None, list[CommitFacts]] = {}
    for commit in sitting.commits:
        before = sitting.decisions_before(commit)
        grouped.setdefault(before[-1].id if before else None, []).append(commit)
    return grouped


def render(
    sittings: Sequence[Sitting],
    filters: Filters,
    files: Mapping[str, Sequence[str]],
    adrs: AdrFiles,
    repo: Path,
) -> str:
    """The sessions for a terminal, every participant's string made printable."""
    blocks = []
    for sitting in sittings:
        length = describe.span(sitting.length)
        lines = [
            f"{describe.when(sitting.started)}  session {sitting.session_id}  {length}  "
            f"{describe.participants(sitting)}"
        ]
        if sitting.title:
            lines.append(f"  {shown(sitting.title)}")
        grouped = _between(sitting)
        if filters.status is None and grouped.get(None):
            lines.append("  before any decision:")
            lines += _commit_lines(grouped[None], files)
        decisions = _shown_decisions(sitting, filters, adrs, repo)
        if not sitting.decisions:
            lines.append("  no decision recorded")
        for decision in decisions:
            adr_files = describe.adr_files(sitting, decision, adrs, repo)
            lines.append(
                f"  #{decision.number} {shown(decision.title)} "
                f"[{describe.status(sitting, decision, adr_files)}]"
            )
            opinions = describe.opinions(sitting, decision)
            if opinions:
                lines.append(f"     {opinions}")
            lines += describe.adr_lines(adr_files, "     ")
            after = grouped.get(decision.id, [])
            if after:
                lines += _commit_lines(after, files)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _commit_lines(commits: Iterable[CommitFacts], files: Mapping[str, Sequence[str]]) -> list[str]:
    lines = []
    for commit in commits:
        lines.append(f"     commit {commit.sha[:_SHORT]} {shown(commit.summary)}")
        touched = files.get(commit.sha)
        if touched is None:
            lines.append("       (not in this repository: made in another clone, not pulled yet)")
        elif touched:
            more = len(touched) - _FILES_SHOWN
            named = ", ".join(shown(path) for path in touched[:_FILES_SHOWN])
            lines.append(f"       {named}" + (f" and {more} more" if more > 0 else ""))
    return lines


def to_json(
    sittings: Sequence[Sitting],
    filters: Filters,
    files: Mapping[str, Sequence[str]],
    adrs: AdrFiles,
    repo: Path,
) -> dict[str, Any]:
    """The sessions for scripts: each decision names every commit made after it, and each
    commit its files (null for one this repository does not hold)."""
    return {
        "sessions": [
            {
                **describe.session_json(sitting),
                "decisions": [
                    {
                        **describe.decision_json(sitting, decision, adrs, repo),
                        "commits_after": [c.sha for c in sitting.commits_after(decision)],
                    }
                    for decision in _shown_decisions(sitting, filters, adrs, repo)
                ],
                "commits": [
                    {
                        "sha": commit.sha,
                        "summary": commit.summary,
                        "recorded_at": describe.iso(commit.at),
                        "author": describe.credit_json(commit.author),
                        "co_authors": [describe.credit_json(p) for p in commit.co_authors],
                        "files": files.get(commit.sha),
                    }
                    for commit in sitting.commits
                ],
            }
            for sitting in sittings
        ]
    }
