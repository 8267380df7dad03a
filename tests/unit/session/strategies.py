"""Hypothesis strategies that build plausible session logs.

Random events would almost all be refused (wrong turn, nobody present), which tests little. The
builder folds as it goes and mostly aims each event at the session's current turn, while still
mixing in stale turns, strangers and repeats so the refusal paths are exercised too.

Logs mix what a client really folds: events the relay sequenced (an offset, and a stamp that
differs from the sender's clock) and events not sequenced yet, a second ``session.opened`` at
any point, and repeats of earlier events as they were, without their offset, or with the
relay's fresh offset for an event first applied unsequenced.
"""

from hypothesis import strategies as st

from pairup.session import events as ev
from pairup.session.reduce import reduce
from pairup.session.state import State

PEOPLE = tuple(
    ev.Participant(id=f"p{i}", name=f"Person {i}", email=f"p{i}@example.test") for i in range(10)
)
KINDS = (
    "join",
    "join",
    "join",
    "leave",
    "away",
    "back",
    "reorder",
    "start",
    "start",
    "pause",
    "resume",
    "extend",
    "skip",
    "rotate",
    "rotate",
    "rotate",
    "break_start",
    "break_end",
    "decide",
    "amend",
    "opinion",
    "supersede",
    "commit",
    "lesson",
    "repeat",
    "offer",
    "offer",
    "applied",
    "refused",
    "holding",
    "open",
    "due",
    "due",
    "due",
    "due",
)
DUE = {
    "lobby": "start",
    "waiting": "start",
    "running": "rotate",
    "paused": "resume",
    "break": "break_end",
    "ended": "lesson",
}


@st.composite
def settings(draw: st.DrawFn) -> ev.SessionSettings:
    return ev.SessionSettings(
        turn_seconds=draw(st.integers(1, 120)),
        break_every=draw(st.integers(0, 3)),
        break_seconds=draw(st.integers(1, 60)),
        max_participants=draw(st.integers(ev.MIN_PARTICIPANTS, ev.MAX_PARTICIPANTS)),
        auto_start=draw(st.booleans()),
        away_after_seconds=draw(st.integers(1, 120)),
    )


@st.composite
def session_logs(draw: st.DrawFn, max_events: int = 60, allow_end: bool = True) -> list[ev.Event]:
    """A log as a client folds it: relay offsets increase, relay stamps never go back."""
    log: list[ev.Event] = []
    state = State()
    now = draw(st.floats(0, 1e9, allow_nan=False))
    counter = 0
    offset = 0

    def make(cls: type, actor: str | None = None, **fields: object) -> ev.Event:
        nonlocal counter
        counter += 1
        if actor is None:
            actor = draw(st.sampled_from(PEOPLE)).id
        skew = draw(st.sampled_from([0.0, 0.0, -3.0, 1.5, 400.0]))
        event = cls(id=f"evt-{counter:06d}", actor=actor, at=now + skew, **fields)
        return stamp(event) if draw(st.integers(0, 4)) else event

    def stamp(event: ev.Event) -> ev.Event:
        nonlocal offset
        offset += 1
        return ev.sequenced(event, offset, now)

    if draw(st.integers(0, 3)):
        log.append(make(ev.SessionOpened, settings=draw(settings())))
        state = reduce(state, log[-1])
    length = draw(st.integers(0, max_events))
    end_at = draw(st.integers(0, length)) if allow_end and draw(st.booleans()) else None
    for position in range(length):
        now += draw(st.one_of(st.just(0.0), st.floats(0, 200, allow_nan=False)))
        kind = "end" if position == end_at else draw(st.sampled_from(KINDS))
        if kind == "due":
            kind = DUE[state.phase]
        turn = state.turn if draw(st.integers(0, 9)) else draw(st.integers(1, state.turn + 2))
        event: ev.Event
        if kind == "join":
            # Mostly oneself (the only join that applies); sometimes for someone else.
            person = draw(st.sampled_from(PEOPLE))
            actor = person.id if draw(st.integers(0, 4)) else None
            event = make(ev.ParticipantJoined, actor=actor, participant=person)
        elif kind in ("leave", "away", "back"):
            # Mostly about oneself; sometimes about someone else (taking out, noticing).
            who = draw(st.sampled_from(PEOPLE)).id
            actor = who if draw(st.integers(0, 2)) else None
            cls = {"leave": ev.ParticipantLeft, "away": ev.ParticipantAway}.get(
                kind, ev.ParticipantBack
            )
            since = {"since": now - draw(st.floats(0, 300))} if kind == "away" else {}
            event = make(cls, actor=actor, participant_id=who, **since)
        elif kind == "reorder":
            order = [m.id for m in state.members]
            event = make(ev.RotationReordered, order=tuple(draw(st.permutations(order))))
        elif kind == "start":
            event = make(ev.TurnStarted, turn=turn)
        elif kind == "pause":
            event = make(ev.TimerPaused, turn=turn)
        elif kind == "resume":
            event = make(ev.TimerResumed, turn=turn)
        elif kind == "extend":
            event = make(ev.TimerExtended, turn=turn, seconds=draw(st.integers(1, 120)))
        elif kind == "skip":
            event = make(ev.TurnSkipped, turn=turn)
        elif kind == "rotate":
            event = make(ev.RolesRotated, turn=turn)
        elif kind == "break_start":
            seconds = draw(st.none() | st.integers(1, 60))
            event = make(ev.BreakStarted, turn=turn, seconds=seconds)
        elif kind == "break_end":
            event = make(ev.BreakEnded, turn=turn, early=draw(st.booleans()))
        elif kind == "decide":
            event = make(
                ev.DecisionRecorded,
                decision_id=f"dec-{draw(st.integers(0, 5)):04d}",
                title="A title",
            )
        elif kind == "amend":
            event = make(
                ev.DecisionAmended,
                decision_id=f"dec-{draw(st.integers(0, 5)):04d}",
                status=draw(st.sampled_from(["accepted", "rejected", None])),
                title=draw(st.sampled_from(["New title", None])),
            )
        elif kind == "opinion":
            event = make(
                ev.DecisionOpinion,
                decision_id=f"dec-{draw(st.integers(0, 5)):04d}",
                stance=draw(st.sampled_from(["agree", "object"])),
                why=draw(st.sampled_from(["", "Fewer moving parts"])),
            )
        elif kind == "supersede":
            event = make(
                ev.DecisionSuperseded,
                decision_id=f"dec-{draw(st.integers(0, 5)):04d}",
                by=f"dec-{draw(st.integers(0, 5)):04d}",
            )
        elif kind == "commit":
            sha = draw(st.sampled_from(["a" * 40, "b" * 40, "c" * 40]))
            author = ev.Person(name="Person 0", email="p0@example.test")
            event = make(ev.CommitRecorded, sha=sha, summary="Change things", author=author)
        elif kind == "lesson":
            event = make(ev.LessonNoted, text="Small steps help")
        elif kind == "repeat":
            if not log:
                continue
            earlier = draw(st.sampled_from(log))
            how = draw(st.sampled_from(["as is", "unsequenced", "sequenced now"]))
            if how == "unsequenced":
                event = earlier.model_copy(update={"seq": None, "stamped_at": None})
            elif how == "sequenced now" and earlier.seq is None:
                event = stamp(earlier)
            else:
                event = earlier
        elif kind == "offer":
            # Mostly from whoever drove the turn that ended; sometimes from anyone.
            actor = state.last_driver if state.last_driver and draw(st.integers(0, 3)) else None
            event = make(
                ev.HandoverOffered,
                actor=actor,
                turn=turn,
                handover=f"hand-{draw(st.integers(0, 5)):04d}",
                snapshot="d" * 40,
                head="e" * 40,
                parts=draw(st.integers(0, 3)),
            )
        elif kind in ("applied", "refused"):
            # Mostly from whoever a handover was offered to; sometimes from anyone.
            offered = [h for h in state.handovers.values() if h.outcome == "offered"]
            record = draw(st.sampled_from(offered)) if offered else None
            handover = record.id if record else f"hand-{draw(st.integers(0, 5)):04d}"
            actor = record.to if record and draw(st.integers(0, 3)) else None
            if kind == "applied":
                event = make(ev.HandoverApplied, actor=actor, handover=handover)
            else:
                event = make(
                    ev.HandoverRefused, actor=actor, turn=turn, handover=handover, reason="No."
                )
        elif kind == "holding":
            event = make(ev.CloneHolding, heads=("f" * 40,))
        elif kind == "open":
            event = make(ev.SessionOpened, settings=draw(settings()))
        else:
            event = make(ev.SessionEnded)
        log.append(event)
        state = reduce(state, event)
    return log
