"""What the history keeps of one session: the few facts ``why``, ``log`` and ``stats`` ask
about, as plain values (:mod:`pairup.history.extract` takes them from a fold of the log).

A session's log can be megabytes (handover parts travel in it) and folding it costs
milliseconds; the facts are a few kilobytes that read back from JSON in microseconds, so they
are what the cache keeps (:mod:`pairup.history.gather`). The standard library only: a warm
cache answers without loading the session core.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pairup import moment


@dataclass(frozen=True, slots=True)
class Member:
    """Someone who joined the session, as they last named themselves in it."""

    id: str
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of time: someone in the session, or someone at the keyboard."""

    who: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Credit:
    """A person a commit names, as the session recorded them."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class DecisionFacts:
    id: str
    number: int
    title: str
    status: str
    proposed_by: str
    at: float
    position: int
    """Where in the log it was recorded: breaks a tie of times with a commit's."""
    agreed: tuple[str, ...] = ()
    objected: tuple[str, ...] = ()
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class CommitFacts:
    sha: str
    number: int
    summary: str
    author: Credit
    co_authors: tuple[Credit, ...]
    at: float
    position: int


@dataclass(frozen=True, slots=True)
class Sitting:
    """One session as the history knows it.

    ``repository`` is where a journal's session was held (its header says so); a log
    committed to a repository has none, being in that repository by definition. ``here`` is
    decided when the sessions are gathered for one repository, and never cached.
    """

    session_id: str
    title: str
    started: float | None
    ended: float | None
    last: float | None
    """The session's clock at its last event: where an unended session stops counting."""
    members: tuple[Member, ...]
    presence: tuple[Span, ...]
    driving: tuple[Span, ...]
    turns: int
    breaks: int
    lessons: int
    decisions: tuple[DecisionFacts, ...]
    commits: tuple[CommitFacts, ...]
    events: int
    """How many of its events a log exported from it keeps: all but the handover packages'
    parts (:func:`pairup.adr.render.logged_events`), so a journal and a log of the session
    count alike."""
    repository: str = ""
    here: bool = False

    @property
    def end(self) -> float | None:
        """When it ended, or its last event while it has not."""
        return self.ended if self.ended is not None else self.last

    @property
    def length(self) -> float | None:
        """From its start to its end (or last event); None when either time cannot be
        believed. Shown capped (:func:`pairup.moment.capped`), counted as it is."""
        return moment.between(self.started, self.end)

    def name_of(self, participant_id: str) -> str:
        member = self.member(participant_id)
        return participant_id if member is None else member.name

    def member(self, participant_id: str) -> Member | None:
        return next((m for m in self.members if m.id == participant_id), None)

    def decisions_before(self, commit: CommitFacts) -> list[DecisionFacts]:
        """The decisions recorded before ``commit``, in the order they were recorded."""
        return [d for d in self.decisions if (d.at, d.position) < (commit.at, commit.position)]

    def commits_after(self, decision: DecisionFacts) -> list[CommitFacts]:
        """The commits recorded after ``decision``, in the order they were recorded."""
        return [c for c in self.commits if (c.at, c.position) > (decision.at, decision.position)]

    def commit(self, sha: str) -> CommitFacts | None:
        return next((c for c in self.commits if c.sha == sha), None)


# -- as JSON, for the cache ----------------------------------------------------------------------


def to_json(facts: Sitting) -> dict[str, Any]:
    """``facts`` as plain JSON values; :func:`from_json` reads them back. ``here`` is left out:
    it depends on the repository asking."""
    return {
        "session_id": facts.session_id,
        "title": facts.title,
        "started": facts.started,
        "ended": facts.ended,
        "last": facts.last,
        "members": [[m.id, m.name, m.email] for m in facts.members],
        "presence": [[s.who, s.start, s.end] for s in facts.presence],
        "driving": [[s.who, s.start, s.end] for s in facts.driving],
        "turns": facts.turns,
        "breaks": facts.breaks,
        "lessons": facts.lessons,
        "decisions": [
            [
                d.id,
                d.number,
                d.title,
                d.status,
                d.proposed_by,
                d.at,
                d.position,
                list(d.agreed),
                list(d.objected),
                d.superseded_by,
            ]
            for d in facts.decisions
        ],
        "commits": [
            [
                c.sha,
                c.number,
                c.summary,
                [c.author.name, c.author.email],
                [[p.name, p.email] for p in c.co_authors],
                c.at,
                c.position,
            ]
            for c in facts.commits
        ],
        "events": facts.events,
        "repository": facts.repository,
    }


def from_json(data: Mapping[str, Any]) -> Sitting:
    """The facts :func:`to_json` wrote; raises ``KeyError``, ``TypeError`` or ``ValueError``
    for anything else (a cache from another version of pairup is thrown away, not read)."""
    return Sitting(
        session_id=str(data["session_id"]),
        title=str(data["title"]),
        started=_time(data["started"]),
        ended=_time(data["ended"]),
        last=_time(data["last"]),
        members=tuple(Member(str(i), str(n), str(e)) for i, n, e in data["members"]),
        presence=tuple(Span(str(w), float(s), float(e)) for w, s, e in data["presence"]),
        driving=tuple(Span(str(w), float(s), float(e)) for w, s, e in data["driving"]),
        turns=int(data["turns"]),
        breaks=int(data["breaks"]),
        lessons=int(data["lessons"]),
        decisions=tuple(
            DecisionFacts(
                str(i),
                int(n),
                str(t),
                str(s),
                str(b),
                float(a),
                int(p),
                tuple(map(str, agreed)),
                tuple(map(str, objected)),
                None if by is None else str(by),
            )
            for i, n, t, s, b, a, p, agreed, objected, by in data["decisions"]
        ),
        commits=tuple(
            CommitFacts(
                str(sha),
                int(n),
                str(summary),
                Credit(str(author[0]), str(author[1])),
                tuple(Credit(str(name), str(email)) for name, email in co_authors),
                float(at),
                int(position),
            )
            for sha, n, summary, author, co_authors, at, position in data["commits"]
        ),
        events=int(data["events"]),
        repository=str(data["repository"]),
    )


def _time(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Found:
    """The sessions gathered, and the files that could not be read (one line each)."""

    sessions: list[Sitting] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
