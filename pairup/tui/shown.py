"""What the screen shows, as plain values: the session read at one moment, ready to draw.

The widgets draw only these, so the modules that draw the first frame import neither the
session core nor the network (see ADR 10); :mod:`pairup.tui.session` fills them in.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RosterRow:
    id: str
    name: str
    you: bool
    role: str
    """driver, next, navigator, away or left"""
    online: bool
    away_since: float | None = None
    take_out_refused: str = ""
    """Why this participant may not take them out of the session now, empty if they may."""


@dataclass(frozen=True, slots=True)
class OptionRow:
    """An option the pair weighed, with what speaks for it and against it."""

    name: str
    pros: tuple[str, ...] = ()
    cons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OpinionRow:
    """Someone's latest word on a decision: whether they agree, and why."""

    name: str
    stance: str
    """agree or object"""
    why: str
    you: bool = False


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: str
    number: int
    title: str
    context: str
    decision: str
    consequences: str
    status: str
    by: str
    at: float
    amendments: int
    amend_refused: str = ""
    """Why this participant may not amend it (it is someone else's), empty if they may."""
    drivers: tuple[str, ...] = ()
    options: tuple[OptionRow, ...] = ()
    chosen: str = ""
    """The name of the option taken, one of :attr:`options`; empty when none was named."""
    opinions: tuple[OpinionRow, ...] = ()
    """One per participant who gave one, in the order they were given."""
    superseded_by: int | None = None
    """The number of the decision that superseded this one."""
    supersedes: tuple[int, ...] = ()
    """The numbers of the decisions this one superseded."""

    @property
    def agreed(self) -> tuple[OpinionRow, ...]:
        return tuple(o for o in self.opinions if o.stance == "agree")

    @property
    def objected(self) -> tuple[OpinionRow, ...]:
        return tuple(o for o in self.opinions if o.stance == "object")


@dataclass(frozen=True, slots=True)
class CommitRow:
    sha: str
    summary: str
    author: str
    co_authors: int


@dataclass(frozen=True, slots=True)
class CommitPreview:
    """What the commit form shows: the repository's state and whom the commit will credit."""

    branch: str
    staged: tuple[str, ...]
    changed: tuple[str, ...]
    """Tracked files changed but not staged (what "stage tracked changes" would add)."""
    trailers: tuple[str, ...]
    problems: tuple[str, ...]
    """Warnings about co-authors' emails."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    phase: str
    """lobby, running, paused, waiting, break or ended"""
    turn: int
    driver: str | None
    driver_name: str
    next_name: str
    mine: bool
    """Whether this participant drives."""
    remaining: float | None
    """Seconds left on the countdown, None when nothing counts down."""
    length: float
    """Length of the current turn or break, for the progress bar."""
    here: int
    """How many are in the rotation now (present and not away)."""
    paused_for: bool
    """Whether the countdown is paused because the driver is away."""
    roster: tuple[RosterRow, ...]
    decisions: tuple[DecisionRow, ...]
    commits: tuple[CommitRow, ...]
    connection: str
    connection_state: str
    """connecting, connected, reconnecting or offline"""
    problem: str = ""
    """Why the relay cannot be reached, while it cannot."""
    end_refused: str = ""
    """Why this participant may not end the session now, empty if they may."""
    watchers: tuple[str, ...] = ()
    """The names (else ids) of who watches the session now."""
    knocking: tuple["KnockRow", ...] = ()
    """Who waits for the host to let them in."""
    watching: bool = False
    """This participant holds a watch link: the screen changes nothing."""
    host: bool = False
    """This participant is the session's host: they let newcomers in."""
    handover: "HandoverRow | None" = None
    """The last handover of the session, None before the first."""

    @property
    def who(self) -> str:
        """The driver as a sentence's subject: "You" for this participant."""
        return "You" if self.mine else self.driver_name

    @property
    def drives(self) -> str:
        return f"{self.who} {'drive' if self.mine else 'drives'}"


@dataclass(frozen=True, slots=True)
class HandoverRow:
    """The code on its way to the next driver, or how its last move went."""

    line: str
    """What moved, from whom to whom, and how it went: a partner's words in it are text."""
    stage: str
    """What this participant's pairup is doing about it (``sending``, ``receiving``, …), or
    the handover's outcome in the log (``offered``, ``applied``, ``refused``)."""
    done: int = 0
    total: int = 0
    """Parts sent or received so far, while parts move; 0 otherwise."""
    take_again: bool = False
    """This participant refused it and may take it again (h)."""


@dataclass(frozen=True, slots=True)
class KnockRow:
    """Someone waiting for the host, as the host's question shows them."""

    participant: str
    name: str
    fingerprint: str
    returning: bool


STARTING = Snapshot(
    phase="lobby",
    turn=1,
    driver=None,
    driver_name="nobody",
    next_name="nobody",
    mine=False,
    remaining=None,
    length=0.0,
    here=0,
    paused_for=False,
    roster=(),
    decisions=(),
    commits=(),
    connection="◌ starting…",
    connection_state="connecting",
)
"""What the screen shows before the session is open: its first frame."""
