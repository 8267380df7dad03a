"""The chaos suite's judge: after a drill, did every session keep every decision exactly once?

It reads only what a drill leaves behind: the relay's log of each session (offset, event id),
each peer's log (the offsets and ids it applied, in the order it applied them), the decisions
each peer made, and how many times each decision shows in the session's export. It knows
nothing of how the relay or the links work, so it judges a broken variant as harshly as the
real thing.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

Entry = tuple[int, str]
"""One line of a log: the offset the relay gave an event, and the event's id."""


@dataclass(frozen=True)
class SessionEvidence:
    """What one session left behind."""

    session: str
    relay_log: Sequence[Entry]
    """The relay's stored log, in offset order."""
    peer_logs: Mapping[str, Sequence[Entry]]
    """Each peer's log in the order the peer wrote it, every copy included."""
    made: Mapping[str, Sequence[str]]
    """The ids of the decisions each peer made."""
    exported: Mapping[str, int]
    """How many times each made decision appears in the session's export."""


@dataclass
class Verdict:
    """The counts the suite reports, per session and added up over a run."""

    decisions: int = 0
    lost: int = 0
    """Made, but missing from the relay's log or from a peer's log (counted once per log)."""
    duplicated: int = 0
    """Present more than once in a log or in the export (counted once per extra copy)."""
    unexpected: int = 0
    """A decision in a log that nobody made."""
    divergent: int = 0
    """Peers whose log is not the relay's log, entry for entry."""
    gaps: int = 0
    """Logs whose offsets do not run 1, 2, …, n."""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.divergent or self.gaps)

    def add(self, other: "Verdict") -> None:
        self.decisions += other.decisions
        self.lost += other.lost
        self.duplicated += other.duplicated
        self.unexpected += other.unexpected
        self.divergent += other.divergent
        self.gaps += other.gaps
        self.problems += other.problems


def check(evidence: SessionEvidence, decision_ids: frozenset[str]) -> Verdict:
    """Judge one session. ``decision_ids`` are the ids in the logs that belong to decisions
    (made by anyone, or appearing from nowhere); other events (joins, the opening) are only
    checked for order and gaps."""
    verdict = Verdict()
    made = [decision for decisions in evidence.made.values() for decision in decisions]
    verdict.decisions = len(made)
    expected = set(made)
    where = evidence.session

    def once(name: str, counts: Mapping[str, int]) -> None:
        """Each decision made is in ``name`` exactly once."""
        for decision in sorted(expected):
            seen = counts.get(decision, 0)
            if seen == 0:
                verdict.lost += 1
                verdict.problems.append(f"{where}: {name} lacks decision {decision}")
            elif seen > 1:
                verdict.duplicated += seen - 1
                verdict.problems.append(f"{where}: {name} has decision {decision} {seen} times")

    def judge_log(name: str, log: Sequence[Entry]) -> None:
        offsets = [seq for seq, _ in log]
        if offsets != list(range(1, len(log) + 1)):
            verdict.gaps += 1
            verdict.problems.append(f"{where}: {name}'s offsets do not run 1..{len(log)}")
        counts = Counter(event_id for _, event_id in log if event_id in decision_ids)
        once(name, counts)
        for stray in sorted(set(counts) - expected):
            verdict.unexpected += 1
            verdict.problems.append(f"{where}: {name} has decision {stray} that nobody made")

    judge_log("the relay", evidence.relay_log)
    for peer, log in sorted(evidence.peer_logs.items()):
        judge_log(peer, log)
        if list(log) != list(evidence.relay_log):
            verdict.divergent += 1
            verdict.problems.append(f"{where}: {peer}'s log differs from the relay's")
    once("the export", evidence.exported)
    return verdict
