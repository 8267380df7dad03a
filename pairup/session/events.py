"""Everything that happens in a session is one of these events.

Events are facts, validated at the boundary with pydantic and never mutated. Each carries a
client-made unique ``id`` (the idempotency key), the ``actor`` who made it and ``at``, the
actor's estimate of the session clock when it was made. The relay, which sequences the session,
adds ``seq`` and ``stamped_at``; from then on ``stamped_at`` is the event's time, so every
machine folds the same log with the same clock readings.
"""

import math
import re
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

ParticipantId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
EventId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
TurnNumber = Annotated[int, Field(ge=1)]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=20_000)]
Sha = Annotated[str, Field(pattern=r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")]
DecisionStatus = Literal["proposed", "accepted", "rejected", "deprecated", "superseded"]

MAX_PARTICIPANTS = 8
MIN_PARTICIPANTS = 2


_NOT_IN_A_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029<>]")
"""Names and emails end up on one line of a commit trailer, ``Name <email>``: no control
characters (C1 ones included), no line or paragraph separators, and no angle brackets, so
``Name <someone@example.com>`` cannot pass for a name with somebody else's address in it."""


def _one_line(text: str) -> str:
    found = _NOT_IN_A_NAME.search(text)
    if found is not None:
        char = found.group()
        shown = char if char in "<>" else f"U+{ord(char):04X}"
        raise ValueError(f"must be one line of text without control characters or < > ({shown})")
    return text


PublicKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$")]
"""An Ed25519 public key in base64url: whose signatures a participant's events carry."""
Signature = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{86}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Person(_Frozen):
    """A name and an email, as git writes them."""

    name: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
    email: Annotated[str, Field(max_length=254), AfterValidator(_one_line)] = ""


class Participant(Person):
    """Someone in the session; ``id`` is stable across reconnects of the same person, and
    belongs to ``key``: the first join with an id binds it, and every event of theirs is
    signed with it (see :mod:`pairup.identity`)."""

    id: ParticipantId
    key: PublicKey | None = None


class SessionSettings(_Frozen):
    """The rules of one session, shared by everyone through the log rather than local config."""

    turn_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 15 * 60
    break_every: Annotated[int, Field(ge=0, le=100)] = 0
    break_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 5 * 60
    max_participants: Annotated[int, Field(ge=MIN_PARTICIPANTS, le=MAX_PARTICIPANTS)] = (
        MAX_PARTICIPANTS
    )
    auto_start: bool = True
    away_after_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 60
    """How long someone may be disconnected before they count as away: skipped in the
    rotation, credited with nothing, and the countdown paused if they drive."""


Instant = Annotated[float, Field(allow_inf_nan=False)]


class _Event(_Frozen):
    id: EventId
    actor: ParticipantId
    at: Instant
    seq: Annotated[int, Field(ge=1)] | None = None
    stamped_at: Instant | None = None
    sig: Signature | None = None
    """The actor's signature of everything else but ``seq`` and ``stamped_at`` (which the
    relay adds), so no participant and no relay can make an event in someone else's name."""

    @property
    def time(self) -> float:
        """The session clock reading this event happened at: the relay's stamp once it has one."""
        return self.at if self.stamped_at is None else self.stamped_at


class _TurnEvent(_Event):
    """An event about one turn; it applies only while the session is at that turn, so an
    intent that arrives after the turn has moved on (a late pause, a second rotation) is a no-op."""

    turn: TurnNumber


class SessionOpened(_Event):
    kind: Literal["session.opened"] = "session.opened"
    settings: SessionSettings = SessionSettings()
    title: ShortText = ""


class ParticipantJoined(_Event):
    kind: Literal["participant.joined"] = "participant.joined"
    participant: Participant


class ParticipantLeft(_Event):
    """``participant_id`` left the session, or (while away) was taken out of the rotation."""

    kind: Literal["participant.left"] = "participant.left"
    participant_id: ParticipantId


class ParticipantAway(_Event):
    """``participant_id`` is away: they said so themselves, or a participant saw them
    disconnected for longer than the session's ``away_after_seconds``, since ``since``."""

    kind: Literal["participant.away"] = "participant.away"
    participant_id: ParticipantId
    since: Instant | None = None
    """When they went; the event's own time when not given."""


class ParticipantBack(_Event):
    """``participant_id`` is back in the rotation; only they can say so."""

    kind: Literal["participant.back"] = "participant.back"
    participant_id: ParticipantId


class RotationReordered(_Event):
    kind: Literal["rotation.reordered"] = "rotation.reordered"
    order: tuple[ParticipantId, ...]


class TurnStarted(_TurnEvent):
    kind: Literal["turn.started"] = "turn.started"


class TimerPaused(_TurnEvent):
    kind: Literal["timer.paused"] = "timer.paused"


class TimerResumed(_TurnEvent):
    kind: Literal["timer.resumed"] = "timer.resumed"


class TimerExtended(_TurnEvent):
    kind: Literal["timer.extended"] = "timer.extended"
    seconds: Annotated[int, Field(ge=1, le=4 * 3600)]


class TurnSkipped(_TurnEvent):
    """Hand the keyboard to the next driver now, before the countdown runs out."""

    kind: Literal["turn.skipped"] = "turn.skipped"


class RolesRotated(_TurnEvent):
    """The countdown of ``turn`` ran out. A second rotation for the same turn is a no-op."""

    kind: Literal["roles.rotated"] = "roles.rotated"


class BreakStarted(_TurnEvent):
    """A break taken by hand before ``turn`` starts (scheduled breaks start on rotation)."""

    kind: Literal["break.started"] = "break.started"
    seconds: Annotated[int, Field(ge=1, le=24 * 3600)] | None = None


class BreakEnded(_TurnEvent):
    """The break's countdown ran out or, with ``early``, someone ended it before that."""

    kind: Literal["break.ended"] = "break.ended"
    early: bool = False


Title = Annotated[str, Field(min_length=1, max_length=200)]
Point = Annotated[str, Field(min_length=1, max_length=2000)]
"""One pro or con of an option, one driver's worth of text."""
MAX_OPTIONS = 20
Drivers = Annotated[tuple[Title, ...], Field(max_length=MAX_OPTIONS)]


class ConsideredOption(_Frozen):
    """An option the pair weighed, with what speaks for it and against it (MADR's
    "Considered Options" and "Pros and Cons of the Options")."""

    name: Title
    pros: Annotated[tuple[Point, ...], Field(max_length=MAX_OPTIONS)] = ()
    cons: Annotated[tuple[Point, ...], Field(max_length=MAX_OPTIONS)] = ()


Options = Annotated[tuple[ConsideredOption, ...], Field(max_length=MAX_OPTIONS)]


def _chosen_among(options: tuple[ConsideredOption, ...] | None, chosen: str | None) -> None:
    if chosen and options is not None and chosen not in {option.name for option in options}:
        raise ValueError(f"the chosen option {chosen!r} is not one of the options")


class DecisionRecorded(_Event):
    """A decision, with MADR's parts: the drivers, the options weighed and the one chosen
    (by name, one of ``options``)."""

    kind: Literal["decision.recorded"] = "decision.recorded"
    decision_id: EventId
    title: Title
    context: LongText = ""
    decision: LongText = ""
    consequences: LongText = ""
    status: DecisionStatus = "proposed"
    drivers: Drivers = ()
    options: Options = ()
    chosen: ShortText = ""

    @model_validator(mode="after")
    def _chosen_is_an_option(self) -> "DecisionRecorded":
        _chosen_among(self.options, self.chosen)
        return self


class DecisionAmended(_Event):
    """Changes some fields of a decision; concurrent amendments resolve by relay order. A
    ``chosen`` option given with ``options`` must be one of them; given alone, the rules check
    it against the decision's options."""

    kind: Literal["decision.amended"] = "decision.amended"
    decision_id: EventId
    title: Title | None = None
    context: LongText | None = None
    decision: LongText | None = None
    consequences: LongText | None = None
    status: DecisionStatus | None = None
    drivers: Drivers | None = None
    options: Options | None = None
    chosen: ShortText | None = None

    @model_validator(mode="after")
    def _chosen_is_an_option(self) -> "DecisionAmended":
        _chosen_among(self.options, self.chosen)
        return self


Stance = Literal["agree", "object"]


class DecisionOpinion(_Event):
    """The actor agrees with or objects to a decision, with a line of why; their latest
    opinion of it is the one that counts."""

    kind: Literal["decision.opinion"] = "decision.opinion"
    decision_id: EventId
    stance: Stance
    why: Annotated[str, Field(max_length=2000)] = ""


class DecisionSuperseded(_Event):
    """Decision ``decision_id`` is superseded by decision ``by`` of the same session."""

    kind: Literal["decision.superseded"] = "decision.superseded"
    decision_id: EventId
    by: EventId


class CommitRecorded(_Event):
    kind: Literal["commit.recorded"] = "commit.recorded"
    sha: Sha
    summary: ShortText
    author: Person
    co_authors: tuple[Person, ...] = ()


class LessonNoted(_Event):
    """An answer to the retro question "what did we learn?"."""

    kind: Literal["lesson.noted"] = "lesson.noted"
    text: Annotated[str, Field(min_length=1, max_length=2000)]


HandoverId = Annotated[str, Field(min_length=8, max_length=48, pattern=r"^[A-Za-z0-9_-]+$")]
"""Names a handover; its parts' and offer's event ids are made from it, so a sender that
starts again after a crash publishes the same events and the relay keeps one of each."""
PART_CHARS = 40_000
"""Base64 characters of a package in one part: 30,000 bytes, well inside an event's body."""
MAX_PARTS = 2_000
HandoverMode = Literal["link", "branch"]


class HandoverPart(_Event):
    """A piece of a handover's package (git pack and index, base64), sent before its offer."""

    kind: Literal["handover.part"] = "handover.part"
    handover: HandoverId
    index: Annotated[int, Field(ge=0, lt=MAX_PARTS)]
    count: Annotated[int, Field(ge=1, le=MAX_PARTS)]
    data: Annotated[str, Field(min_length=1, max_length=PART_CHARS, pattern=r"^[A-Za-z0-9+/]+=*$")]


class HandoverOffered(_TurnEvent):
    """The driver whose turn ended hands their work to whoever drives ``turn`` now: in
    ``link`` mode as ``parts`` parts of a package (``size`` bytes, SHA-256 ``digest``), in
    ``branch`` mode as the commit ``snapshot`` pushed to ``wip_branch`` of ``remote``."""

    kind: Literal["handover.offered"] = "handover.offered"
    handover: HandoverId
    mode: HandoverMode = "link"
    snapshot: Sha
    head: Sha
    branch: ShortText | None = None
    parts: Annotated[int, Field(ge=0, le=MAX_PARTS)] = 0
    size: Annotated[int, Field(ge=0)] = 0
    digest: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None
    remote: ShortText = ""
    wip_branch: ShortText = ""
    files: Annotated[int, Field(ge=0)] = 0
    insertions: Annotated[int, Field(ge=0)] = 0
    deletions: Annotated[int, Field(ge=0)] = 0
    commits: Annotated[int, Field(ge=0)] = 0
    last_file: Annotated[str, Field(max_length=4096)] = ""
    last_line: Annotated[int, Field(ge=1)] = 1


class HandoverApplied(_Event):
    """The receiver's tree is the sender's now; ``saved`` names the ref that keeps what it
    replaced, when something had to be kept."""

    kind: Literal["handover.applied"] = "handover.applied"
    handover: HandoverId
    saved: ShortText = ""


class HandoverRefused(_TurnEvent):
    """A handover that was not sent (too large, nothing to take) or not applied (the reason
    says why and what to do)."""

    kind: Literal["handover.refused"] = "handover.refused"
    handover: HandoverId | None = None
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    size: Annotated[int, Field(ge=0)] = 0
    largest: Annotated[
        tuple[tuple[ShortText, Annotated[int, Field(ge=0)]], ...], Field(max_length=10)
    ] = ()


class CloneHolding(_Event):
    """The commits this participant's clone has (with all they reach): what a handover to
    them need not carry."""

    kind: Literal["clone.holding"] = "clone.holding"
    heads: Annotated[tuple[Sha, ...], Field(max_length=32)] = ()


class SessionEnded(_Event):
    kind: Literal["session.ended"] = "session.ended"


Event = Annotated[
    SessionOpened
    | ParticipantJoined
    | ParticipantLeft
    | ParticipantAway
    | ParticipantBack
    | RotationReordered
    | TurnStarted
    | TimerPaused
    | TimerResumed
    | TimerExtended
    | TurnSkipped
    | RolesRotated
    | BreakStarted
    | BreakEnded
    | DecisionRecorded
    | DecisionAmended
    | DecisionOpinion
    | DecisionSuperseded
    | CommitRecorded
    | LessonNoted
    | HandoverPart
    | HandoverOffered
    | HandoverApplied
    | HandoverRefused
    | CloneHolding
    | SessionEnded,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_KINDS: frozenset[str] = frozenset(
    member.model_fields["kind"].default for member in get_args(get_args(Event)[0])
)
"""Every ``kind`` an event can have; the relay accepts nothing else."""


def decode_event(data: bytes | str) -> Event:
    """Parse one event from JSON; raises ``pydantic.ValidationError`` with what was wrong."""
    return EVENT_ADAPTER.validate_json(data)


def encode_event(event: Event) -> bytes:
    """Serialise an event to compact JSON, the form the journal and the wire both carry."""
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)


def sequenced(event: Event, seq: int, stamped_at: float) -> Event:
    """The same event as the relay sequenced it: with its offset in the log and the relay's time."""
    if seq < 1 or not math.isfinite(stamped_at):
        raise ValueError(f"a sequenced event needs an offset >= 1 and a finite time, got {seq}")
    return event.model_copy(update={"seq": seq, "stamped_at": stamped_at})
