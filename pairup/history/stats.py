"""What a team learns from its sessions: who paired with whom and how long, how the keyboard
was shared week by week, how sessions went, and how far knowledge of each part of the code
has spread.

Pure: sessions' facts (and the files each commit touched) in, figures out. Times a log holds
that pairup cannot believe (:func:`pairup.moment.known`) count for nothing rather than for a
century. Weeks are ISO weeks in UTC, so every machine counts the same week the same way.
"""

import functools
import itertools
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pairup import moment
from pairup.history.facts import Sitting, Span
from pairup.history.people import credit_key, member_key, names

WEEK = 7 * 24 * 3600
_MONDAY = 4 * 24 * 3600
"""1970-01-05 00:00 UTC, a Monday: ISO weeks start a whole number of weeks from it."""
TOP = "."
"""The top-level "directory" of the files at the top of the repository."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Two people, the time both were in the same sessions, and how many sessions."""

    first: str
    second: str
    seconds: float
    sessions: int


@dataclass(frozen=True, slots=True)
class SessionFigures:
    sitting: Sitting
    seconds: float | None
    turns: int
    breaks: int
    decisions: int
    lessons: int
    commits: int


@dataclass(frozen=True, slots=True)
class Spread:
    """A top-level directory and the people who changed it in sessions."""

    directory: str
    people: tuple[str, ...]


@dataclass(frozen=True)
class Stats:
    names: dict[str, str]
    """Each person's key, and the name to show."""
    sessions: list[SessionFigures]
    pairs: list[Pair]
    weeks: dict[str, dict[str, float]]
    """ISO week (``2026-W48``) to seconds each person drove in it; oldest week first."""
    spread: list[Spread] = field(default_factory=list)

    def shares(self, week: str) -> dict[str, float]:
        """Each person's share (0 to 1) of the driving in ``week``; they add up to 1."""
        seconds = self.weeks[week]
        total = sum(seconds.values())
        return {who: value / total for who, value in seconds.items()} if total > 0 else {}


def overlap(first: Iterable[Span], second: Iterable[Span]) -> float:
    """Seconds in which both were there, for spans that never overlap their own (see
    :func:`union`)."""
    others = list(second)
    return sum(
        max(0.0, min(mine.end, theirs.end) - max(mine.start, theirs.start))
        for mine in first
        for theirs in others
    )


def union(spans: Iterable[Span]) -> list[Span]:
    """``spans`` merged where they overlap: one person in a session from two machines is
    there once."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda span: span.start):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Span(last.who, last.start, max(last.end, span.end))
        else:
            merged.append(span)
    return merged


def pair_times(sitting: Sitting) -> dict[tuple[str, str], float]:
    """Seconds each two people were both in ``sitting``, by their keys in order; people who
    were never there together are left out."""
    if sitting.length is None:
        return {}
    spans: dict[str, list[Span]] = defaultdict(list)
    for span in sitting.presence:
        member = sitting.member(span.who)
        if member is not None and moment.known(span.start) and moment.known(span.end):
            spans[member_key(member)].append(span)
    together: dict[tuple[str, str], float] = {}
    joined = {who: union(found) for who, found in spans.items()}
    for first, second in itertools.combinations(sorted(joined), 2):
        seconds = overlap(joined[first], joined[second])
        if seconds > 0:
            together[first, second] = seconds
    return together


def week_of(at: float) -> str:
    year, week, _ = datetime.fromtimestamp(at, tz=UTC).isocalendar()
    return f"{year}-W{week:02d}"


@functools.cache
def _week_label(index: int) -> str:
    return week_of(_MONDAY + index * WEEK)


def by_week(start: float, end: float) -> list[tuple[str, float]]:
    """The seconds from ``start`` to ``end`` in each ISO week they fall in. Weeks are counted
    from a Monday at midnight UTC, with no calendar arithmetic: a stats run splits thousands of
    stints."""
    if not (moment.known(start) and moment.known(end)) or end <= start:
        return []
    parts = []
    while start < end:
        index = math.floor((start - _MONDAY) / WEEK)
        stop = min(end, _MONDAY + (index + 1) * WEEK)
        parts.append((_week_label(index), stop - start))
        start = stop
    return parts


def driving_by_week(sittings: Iterable[Sitting]) -> dict[str, dict[str, float]]:
    """Seconds each person drove in each ISO week, oldest week first."""
    weeks: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for sitting in sittings:
        for stint in sitting.driving:
            member = sitting.member(stint.who)
            if member is None:
                continue
            for week, seconds in by_week(stint.start, stint.end):
                weeks[week][member_key(member)] += seconds
    return {week: dict(weeks[week]) for week in sorted(weeks)}


def top_directory(path: str) -> str:
    head, slash, _ = path.partition("/")
    return head if slash else TOP


def spread(sittings: Iterable[Sitting], files: Mapping[str, Sequence[str]]) -> list[Spread]:
    """For each top-level directory that commits made in sessions touched, who made them: the
    author and co-authors each commit recorded. Fewest people first: that is where knowledge
    is thinnest."""
    people: dict[str, set[str]] = defaultdict(set)
    for sitting in sittings:
        for commit in sitting.commits:
            credited = {credit_key(sitting, c) for c in (commit.author, *commit.co_authors)}
            for path in files.get(commit.sha, ()):
                people[top_directory(path)] |= credited
    return sorted(
        (Spread(directory, tuple(sorted(who))) for directory, who in people.items()),
        key=lambda item: (len(item.people), item.directory),
    )


def compute(sittings: Sequence[Sitting], files: Mapping[str, Sequence[str]]) -> Stats:
    """Every figure over ``sittings`` (oldest first)."""
    pairs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for sitting in sittings:
        for pair, seconds in pair_times(sitting).items():
            pairs[pair].append(seconds)
    return Stats(
        names=names(sittings),
        sessions=[
            SessionFigures(
                sitting=sitting,
                seconds=sitting.length,
                turns=sitting.turns,
                breaks=sitting.breaks,
                decisions=len(sitting.decisions),
                lessons=sitting.lessons,
                commits=len(sitting.commits),
            )
            for sitting in sittings
        ],
        pairs=sorted(
            (Pair(a, b, sum(times), len(times)) for (a, b), times in pairs.items()),
            key=lambda pair: (-pair.seconds, pair.first, pair.second),
        ),
        weeks=driving_by_week(sittings),
        spread=spread(sittings, files),
    )
