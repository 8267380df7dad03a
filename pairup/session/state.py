"""The session as a value: what a fold of the event log produces.

State is immutable. Collections that grow with the length of a session (seen event ids,
decisions, commits, driving stints) are persistent structures from ``rpds``, so each event
costs a small, bounded amount of work instead of a copy of everything before it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from rpds import HashTrieMap, HashTrieSet, List

from pairup.session.events import (
    ConsideredOption,
    DecisionStatus,
    Participant,
    Person,
    SessionSettings,
    Stance,
)

Phase = Literal["lobby", "running", "paused", "waiting", "break", "ended"]
"""lobby: before the first turn; running/paused: a turn's countdown; waiting: between turns
until the driver starts the next one; break: a break's countdown; ended: nothing applies."""


class Away(NamedTuple):
    """Since when a member is away, and whether they said so themselves (then only they bring
    themselves back) or were seen disconnected (then reconnecting does)."""

    since: float
    by_choice: bool
    noted_at: float | None = None
    """When the log said so (``since`` is what the report claims): an absence others may act on
    is one the log has held for the session's ``away_after_seconds``."""


@dataclass(frozen=True, slots=True)
class Member:
    """A participant as the session knows them; members who left keep their place in the order.

    ``present`` means in the session (joined, not left); ``away`` marks a present member who
    is not at their keyboard. Only members who are :attr:`here` drive or get credit."""

    id: str
    participant: Participant
    present: bool
    left_at: float | None = None
    """When they last left, while they are gone; None while present."""
    away: Away | None = None

    @property
    def here(self) -> bool:
        return self.present and self.away is None


@dataclass(frozen=True, slots=True)
class Amendment:
    by: str
    at: float
    changed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    number: int
    title: str
    context: str
    decision: str
    consequences: str
    status: DecisionStatus
    proposed_by: str
    proposed_at: float
    turn: int
    amendments: tuple[Amendment, ...] = ()
    present: tuple[str, ...] = ()
    """Who took part in it: the members here when it was recorded, then whoever amended it or
    gave an opinion of it."""
    drivers: tuple[str, ...] = ()
    options: tuple[ConsideredOption, ...] = ()
    chosen: str = ""
    """The name of the option taken, one of :attr:`options`; empty when none was named."""
    opinions: tuple["Opinion", ...] = ()
    """One per participant who gave one: their latest, in the order they were given."""
    superseded_by: str | None = None
    """The decision of the session that superseded this one."""
    supersedes: tuple[str, ...] = ()
    """The decisions of the session this one superseded."""

    @property
    def agreed(self) -> tuple[str, ...]:
        """Who agrees with it, in the order they said so."""
        return tuple(o.participant for o in self.opinions if o.stance == "agree")

    @property
    def objected(self) -> tuple[str, ...]:
        """Who objects to it, in the order they said so."""
        return tuple(o.participant for o in self.opinions if o.stance == "object")


@dataclass(frozen=True, slots=True)
class Opinion:
    """A participant agreeing with or objecting to a decision, and why."""

    participant: str
    stance: Stance
    why: str
    at: float


@dataclass(frozen=True, slots=True)
class CommitRecord:
    sha: str
    number: int
    summary: str
    author: Person
    co_authors: tuple[Person, ...]
    recorded_by: str
    at: float
    turn: int


@dataclass(frozen=True, slots=True)
class Lesson:
    number: int
    text: str
    by: str
    at: float
    turn: int


class Stint(NamedTuple):
    """One stretch of time in which the countdown ran with ``driver`` at the keyboard.

    Timeline records are named tuples: a fold makes one at every change of driver, and a
    tuple is the cheapest immutable record to build."""

    turn: int
    driver: str
    start: float
    end: float


class Interlude(NamedTuple):
    """A break, for the session timeline."""

    turn: int
    start: float
    end: float


class Pause(NamedTuple):
    """A stretch with the countdown paused, for the session timeline; ``away`` names the
    driver whose absence paused it, when that was why."""

    turn: int
    start: float
    end: float
    away: str | None


class Extension(NamedTuple):
    """Time added to a turn, and by whom."""

    turn: int
    at: float
    seconds: int
    by: str


HandoverOutcome = Literal["offered", "applied", "refused"]


@dataclass(frozen=True, slots=True)
class Handover:
    """The work of one turn moving to the next driver, and what became of it."""

    id: str
    number: int
    turn: int
    by: str
    """Whose turn ended: the work is theirs."""
    to: str | None
    """Who drove when the log took the offer: only they apply it."""
    at: float
    mode: str = "link"
    snapshot: str = ""
    head: str = ""
    branch: str | None = None
    parts: int = 0
    size: int = 0
    digest: str | None = None
    remote: str = ""
    wip_branch: str = ""
    files: int = 0
    insertions: int = 0
    deletions: int = 0
    commits: int = 0
    last_file: str = ""
    last_line: int = 1
    outcome: HandoverOutcome = "offered"
    reason: str = ""
    saved: str = ""
    largest: tuple[tuple[str, int], ...] = ()
    settled_at: float | None = None


class Tally(NamedTuple):
    """Where the session's time went up to ``State.tallied_until``; the parts add up to it."""

    driving: HashTrieMap = HashTrieMap()
    paused: float = 0.0
    breaks: float = 0.0
    idle: float = 0.0


@dataclass(frozen=True)
class State:
    settings: SessionSettings = field(default_factory=SessionSettings)
    title: str = ""
    opened: bool = False
    host: str | None = None
    """Who joined the session first, and sets its rules: the one participant some rules
    name besides the person an event is about."""
    phase: Phase = "lobby"
    members: tuple[Member, ...] = ()
    driver: str | None = None
    turn: int = 1
    last_driver: str | None = None
    """Who drove the turn before this one: whose work a handover of this turn carries."""
    # The current turn's countdown (running or paused) or the current break's.
    phase_started_at: float | None = None
    phase_length: float = 0.0
    paused_at: float | None = None
    paused_total: float = 0.0
    paused_for: str | None = None
    """The driver whose absence paused the countdown; their return resumes it."""
    stint_start: float | None = None
    opened_at: float | None = None
    ended_at: float | None = None
    clock: float | None = None
    tallied_until: float | None = None
    last_seq: int = 0
    tally: Tally = field(default_factory=Tally)
    stints: List = field(default_factory=List)
    breaks: List = field(default_factory=List)
    pauses: List = field(default_factory=List)
    extensions: List = field(default_factory=List)
    decisions: HashTrieMap = field(default_factory=HashTrieMap)
    commits: HashTrieMap = field(default_factory=HashTrieMap)
    lessons: List = field(default_factory=List)
    seen: HashTrieSet = field(default_factory=HashTrieSet)
    handovers: HashTrieMap = field(default_factory=HashTrieMap)
    holding: HashTrieMap = field(default_factory=HashTrieMap)
    """Each participant's last word on the commits their clone has."""

    @property
    def present(self) -> tuple[Member, ...]:
        """Everyone in the session, away or not: each holds a seat."""
        return tuple(member for member in self.members if member.present)

    @property
    def here(self) -> tuple[Member, ...]:
        """Everyone in the session and not away: the people in the rotation."""
        return tuple(member for member in self.members if member.here)

    @property
    def navigators(self) -> tuple[str, ...]:
        return tuple(m.id for m in self.members if m.here and m.id != self.driver)

    def member(self, participant_id: str) -> Member | None:
        for member in self.members:
            if member.id == participant_id:
                return member
        return None

    def decisions_in_order(self) -> list[Decision]:
        return sorted(self.decisions.values(), key=lambda d: d.number)

    def commits_in_order(self) -> list[CommitRecord]:
        return sorted(self.commits.values(), key=lambda c: c.number)

    def handovers_in_order(self) -> list[Handover]:
        return sorted(self.handovers.values(), key=lambda h: h.number)

    def timeline(self) -> list[Stint]:
        return list(reversed(list(self.stints)))

    def break_timeline(self) -> list[Interlude]:
        return list(reversed(list(self.breaks)))

    def lessons_in_order(self) -> list[Lesson]:
        return list(reversed(list(self.lessons)))

    def pause_timeline(self) -> list[Pause]:
        return list(reversed(list(self.pauses)))

    def extensions_in_order(self) -> list[Extension]:
        return list(reversed(list(self.extensions)))


def evolve(value: State, changes: Mapping[str, Any]) -> State:
    """A copy of ``value`` with ``changes``: ``dataclasses.replace`` minus the ``__init__`` call.

    The fold copies the state once per event, and ``replace`` on a state this wide costs several
    microseconds; copying the instance dict keeps a 100k-event fold near a second. The state's
    fields need no validation: only the fold's handlers produce them.
    """
    copy = object.__new__(State)
    fields = copy.__dict__
    fields.update(value.__dict__)
    fields.update(changes)
    return copy
