"""``reduce(state, event) -> state``: the only way a session changes.

The fold is pure and total. An event that does not apply (a second rotation of turn 7, a pause
while paused, a join into a full session) leaves the session as it was, and :func:`step` says
why; nothing raises. Every event is used up where it first appears in the log, applied or not,
so a replayed or resent event never counts twice and never counts late: a sequenced event by its
offset (the relay gives one event id one offset), an event not yet sequenced by its id.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from rpds import HashTrieSet

from pairup.session import events as ev
from pairup.session.rotation import next_driver
from pairup.session.state import (
    Amendment,
    Away,
    CommitRecord,
    Decision,
    Extension,
    Handover,
    Interlude,
    Lesson,
    Member,
    Opinion,
    Pause,
    State,
    Stint,
    evolve,
)
from pairup.session.timer import ROTATION_TOLERANCE, break_due_after, expires_at, tally_at


@dataclass(frozen=True, slots=True)
class Step:
    """The state after one event, and why the event was ignored if it was."""

    state: State
    rejected: str | None = None


Changes = dict[str, Any]
Outcome = Changes | str
"""A handler's answer: the fields of the state that change, or why the event does not apply."""
Handler = Callable[[State, Any, float], Outcome]


def step(state: State, event: ev.Event) -> Step:
    """Apply ``event`` and report whether it applied."""
    after, rejected = _apply(state, event)
    return Step(after, rejected)


def reduce(state: State, event: ev.Event) -> State:
    return _apply(state, event)[0]


def fold(events: Iterable[ev.Event], state: State | None = None) -> State:
    """The state a log of events leads to; the same log gives the same state on every machine."""
    current = State() if state is None else state
    # Ids used up during this fold gather in a plain set and join the state's persistent set
    # once at the end: the same result as reducing one by one, without a persistent insert
    # per event (the largest single cost of a long replay).
    used_ids: set[str] = set()
    for event in events:
        current = _apply(current, event, used_ids)[0]
    if used_ids:
        seen = current.seen.update(used_ids) if current.seen else HashTrieSet(used_ids)
        current = evolve(current, {"seen": seen})
    return current


def skip_offset(state: State, seq: int) -> State:
    """Use up an offset whose event cannot be read (a peer's bug): nothing else changes, and
    the next offset can apply."""
    return state if seq <= state.last_seq else evolve(state, {"last_seq": seq})


def _apply(
    state: State, event: ev.Event, used_ids: set[str] | None = None
) -> tuple[State, str | None]:
    # The hot path of every replay. Handlers return only what changes; the clock, the time
    # tally, the timeline and the used-up event join those changes and the state is copied once.
    seq = event.seq
    if event.id in state.seen or (used_ids is not None and event.id in used_ids):
        if seq is not None and seq > state.last_seq:
            # The relay's copy of an event applied before it was sequenced: take its offset.
            return evolve(state, {"last_seq": seq}), "already applied (repeated event id)"
        return state, "already applied (repeated event id)"
    if seq is not None and seq <= state.last_seq:
        return state, f"offset {seq} is not after {state.last_seq} (a repeat, or out of order)"
    used: Changes = {}
    if used_ids is None:
        used["seen"] = state.seen.insert(event.id)
    else:
        used_ids.add(event.id)
    if seq is not None:
        used["last_seq"] = seq
    if state.phase == "ended":
        return evolve(state, used), "the session has ended"
    time = event.time if state.clock is None else max(event.time, state.clock)
    changes = _outsider(state, event) or _HANDLERS[event.kind](state, event, time)
    if isinstance(changes, str):
        # Used up all the same: its outcome is decided where it first appears in the log.
        return evolve(state, used), changes
    changes.update(used)
    changes["clock"] = time
    if state.paused_for is not None and changes.get("phase", state.phase) != "paused":
        changes["paused_for"] = None
    if state.clock is None:
        changes["opened_at"] = changes["tallied_until"] = time
    if "phase" in changes or "driver" in changes or "turn" in changes:
        now = (
            changes.get("phase", state.phase),
            changes.get("driver", state.driver),
            changes.get("turn", state.turn),
        )
        if now != (state.phase, state.driver, state.turn):
            # Time is charged to whoever was driving (or to the pause, the break) only when
            # that changes, so most events cost no accounting at all.
            changes["tally"] = tally_at(state, time)
            changes["tallied_until"] = time
            if now[2] != state.turn:
                changes["last_driver"] = state.driver
            _keep_timeline(state, changes, now, time)
    return evolve(state, changes), None


_OWN_ARRIVAL = frozenset({"session.opened", "participant.joined"})
"""The events someone not (or no longer) in the session may publish: joining it, and opening
it (logs of older pairups open it before the host joins)."""


def _outsider(state: State, event: ev.Event) -> str | None:
    """Why ``event``'s actor may not act in the session at all: everything but opening and
    joining is for members who are in it (joined and not left)."""
    if event.kind in _OWN_ARRIVAL:
        return None
    member = state.member(event.actor)
    if member is None:
        return f"{event.actor} is not in the session"
    if not member.present:
        return f"{_who(member)} has left the session"
    return None


def _keep_timeline(
    before: State, changes: Changes, now: tuple[str, str | None, int], time: float
) -> None:
    """Close the driving stint or break that this event ended, and open the next stint."""
    phase, driver, turn = now
    was_driving = before.phase == "running" and before.driver is not None
    is_driving = phase == "running" and driver is not None
    if not (was_driving and is_driving and (before.driver, before.turn) == (driver, turn)):
        if was_driving and before.stint_start is not None and before.driver is not None:
            stint = Stint(before.turn, before.driver, before.stint_start, time)
            changes["stints"] = before.stints.push_front(stint)
        changes["stint_start"] = time if is_driving else None
    if before.phase == "break" and phase != "break" and before.phase_started_at is not None:
        interlude = Interlude(before.turn, before.phase_started_at, time)
        changes["breaks"] = before.breaks.push_front(interlude)
    if before.phase == "paused" and phase != "paused" and before.paused_at is not None:
        pause = Pause(before.turn, before.paused_at, time, before.paused_for)
        changes["pauses"] = before.pauses.push_front(pause)


def _start_turn(state: State, time: float) -> Changes:
    return {
        "phase": "running",
        "phase_started_at": time,
        "phase_length": float(state.settings.turn_seconds),
        "paused_at": None,
        "paused_total": 0.0,
    }


def _next_turn(state: State, driver: str | None, time: float, *, start: bool) -> Changes:
    """Between turns: the next one starts at once, or waits for its driver to start it."""
    if start and state.settings.auto_start and driver is not None:
        return _start_turn(state, time)
    return {"phase": "waiting", "phase_started_at": None, "paused_at": None}


def _break(seconds: float, time: float) -> Changes:
    return {"phase": "break", "phase_started_at": time, "phase_length": seconds, "paused_at": None}


def _rotate(state: State, time: float, *, members: tuple[Member, ...] | None = None) -> Changes:
    """End the current turn and hand over to the next present person in rotation order.

    The next turn starts at once only if the ended one was running: a team that paused (for
    lunch, say) and then skipped comes back to a waiting timer, not one already running.
    """
    members = state.members if members is None else members
    driver = next_driver(members, state.driver)
    ended = state.turn
    rotated: Changes = {"driver": driver, "turn": ended + 1, "paused_total": 0.0}
    if driver is not None and break_due_after(state, ended):
        return rotated | _break(float(state.settings.break_seconds), time)
    return rotated | _next_turn(state, driver, time, start=state.phase == "running")


def _wrong_turn(state: State, turn: int) -> str | None:
    if turn != state.turn:
        return f"refers to turn {turn}, but the session is at turn {state.turn}"
    return None


def _opened(state: State, event: ev.SessionOpened, time: float) -> Outcome:
    """The host (the first to join) sets the rules, once, before the first turn."""
    if state.opened or state.phase != "lobby":
        return "the session's rules are already set"
    if state.host is not None and event.actor != state.host:
        return f"only the host ({_name(state, state.host)}) sets the session's rules"
    if len(state.present) > event.settings.max_participants:
        return f"{len(state.present)} people are present, more than the rules allow"
    return {"settings": event.settings, "title": event.title, "opened": True, "host": event.actor}


def _joined(state: State, event: ev.ParticipantJoined, time: float) -> Outcome:
    """Someone arrives, comes back after leaving, or changes their name or email. Joining is
    being here: it ends an absence, as :func:`_back` does."""
    person = event.participant
    if person.id != event.actor:
        return f"{event.actor} cannot join the session for {person.id}: only they can"
    existing = state.member(person.id)
    bound = None if existing is None else existing.participant.key
    if bound is not None and person.key not in (None, bound):
        return f"{person.id} is someone else's id in this session (their key is not this one)"
    freed: Changes = {}
    if existing is None or not existing.present:
        limit = state.settings.max_participants
        if len(state.present) >= limit:
            gone = [
                m
                for m in state.present
                if m.away is not None and not m.away.by_choice and _long_gone(state, m, time)
            ]
            if not gone:
                return f"the session is full ({limit} participants)"
            # A seat held by someone seen disconnected goes to whoever is at a keyboard: the
            # one gone longest is taken out (the same link brings them back when there is
            # room), so nobody who never came can keep the seats full.
            longest = min(gone, key=lambda member: member.away.since if member.away else 0.0)
            freed = _taken_out(state, longest, time)
            state = evolve(state, freed)
    if existing is not None and person.key is None:
        # A change of name or email keeps the key the id is bound to.
        person = person.model_copy(update={"key": existing.participant.key})
    arrived = Member(person.id, person, present=True)
    members = (*state.members, arrived) if existing is None else _replaced(state.members, arrived)
    changes: Changes = {"members": members, "driver": _driver_on_arrival(state, person.id)}
    if state.host is None:
        changes["host"] = person.id
    return freed | changes | _returned(state, person.id, time)


def _left(state: State, event: ev.ParticipantLeft, time: float) -> Outcome:
    """Someone leaves; or, while they are away, someone here takes them out of the rotation."""
    existing = state.member(event.participant_id)
    if existing is None or not existing.present:
        return f"{event.participant_id} is not in the session"
    if event.actor != existing.id:
        refused = take_out_refused(state, event.actor, existing, time)
        if refused is not None:
            return refused
    return _taken_out(state, existing, time)


def take_out_refused(
    state: State, actor: str, member: Member, time: float | None = None
) -> str | None:
    """Why ``actor`` may not take ``member`` (someone else) out of the session at ``time``
    (the session's clock when not given), or ``None``: the host, here, at any time (the relay
    disconnects whoever the host takes out); anyone else here only once the member's absence
    has stood in the log for the session's ``away_after``."""
    if actor == state.host and _is_here(state, actor):
        return None
    if member.away is None:
        return f"{_who(member)} is here: only they can leave (others can once they are away)"
    if not _is_here(state, actor):
        return "only someone here can take a participant out of the rotation"
    now = state.clock if time is None else time
    if now is None or not _long_gone(state, member, now):
        # A report of an absence and a removal right behind it would take out someone who is
        # at their keyboard before their pairup could say they are back.
        return f"{_who(member)} has not been away long enough to be taken out"
    return None


def _long_gone(state: State, member: Member, time: float) -> bool:
    """Whether ``member``'s absence has stood in the log for the session's ``away_after``:
    long enough for their own pairup to have answered a report it could answer."""
    away = member.away
    if away is None:
        return False
    noted = away.since if away.noted_at is None else away.noted_at
    return time - noted >= state.settings.away_after_seconds


def _taken_out(state: State, existing: Member, time: float) -> Changes:
    """``existing`` is no longer in the session; the driver's role passes on if it was theirs."""
    # Someone taken out while away was last here when they went.
    gone = time if existing.away is None else existing.away.since
    members = _replaced(state.members, Member(existing.id, existing.participant, False, gone))
    if state.driver != existing.id:
        return {"members": members}
    if state.phase in ("running", "paused"):
        # The next driver gets a turn of their own, not the leftovers of the one who left.
        return {"members": members} | _rotate(state, time, members=members)
    return {"members": members, "driver": next_driver(members, state.driver)}


def _away(state: State, event: ev.ParticipantAway, time: float) -> Outcome:
    """Someone is away (they said so, or were seen disconnected): nobody waits for them. A
    driver away pauses the countdown, with the reason; between turns the role passes on."""
    existing = state.member(event.participant_id)
    if existing is None or not existing.present:
        return f"{event.participant_id} is not in the session"
    if existing.away is not None:
        return f"{_who(existing)} is already away"
    if event.actor != existing.id and not _is_here(state, event.actor):
        return "only someone here can say that another participant is away"
    floor = state.opened_at if state.opened_at is not None else time
    since = time if event.since is None else min(max(event.since, floor), time)
    away = Away(since, by_choice=event.actor == existing.id, noted_at=time)
    members = _replaced(
        state.members, Member(existing.id, existing.participant, True, existing.left_at, away)
    )
    changes: Changes = {"members": members}
    if state.driver != existing.id:
        return changes
    if state.phase == "running":
        return changes | {"phase": "paused", "paused_at": time, "paused_for": existing.id}
    if state.phase in ("lobby", "waiting", "break"):
        successor = next_driver(members, existing.id)
        if successor is not None:
            changes["driver"] = successor
    return changes


def _back(state: State, event: ev.ParticipantBack, time: float) -> Outcome:
    existing = state.member(event.participant_id)
    if existing is None or not existing.present:
        return f"{event.participant_id} is not in the session"
    if existing.away is None:
        return f"{_who(existing)} is not away"
    if event.actor != existing.id:
        return f"only {_who(existing)} can say they are back"
    members = _replaced(state.members, Member(existing.id, existing.participant, True))
    return {"members": members, "driver": _driver_on_arrival(state, existing.id)} | _returned(
        state, existing.id, time
    )


def _driver_on_arrival(state: State, participant_id: str) -> str:
    """Whoever arrives drives when nobody does, or when between turns the driver is away."""
    driver = state.driver
    if driver is None:
        return participant_id
    between_turns = state.phase in ("lobby", "waiting", "break")
    return participant_id if between_turns and not _is_here(state, driver) else driver


def _returned(state: State, participant_id: str, time: float) -> Changes:
    """A driver whose absence paused the countdown is back: it runs again."""
    if state.phase != "paused" or state.paused_for != participant_id or state.paused_at is None:
        return {}
    return {
        "phase": "running",
        "paused_at": None,
        "paused_total": state.paused_total + (time - state.paused_at),
    }


def _replaced(members: tuple[Member, ...], member: Member) -> tuple[Member, ...]:
    return tuple(member if m.id == member.id else m for m in members)


def _is_here(state: State, participant_id: str) -> bool:
    member = state.member(participant_id)
    return member is not None and member.here


def _who(member: Member) -> str:
    return member.participant.name


def _name(state: State, participant_id: str) -> str:
    member = state.member(participant_id)
    return participant_id if member is None else member.participant.name


def _credited(state: State, people: tuple[ev.Person, ...]) -> tuple[ev.Person, ...]:
    """A commit's co-authors as the session knows them: each one who is a member (by email,
    else by name: a team's co-author list may give a member another address), named and
    addressed as they joined; anyone else is dropped. Credit goes to people who joined,
    never to a name or an address someone typed."""
    credited: list[ev.Person] = []
    for person in people:
        email = person.email.casefold()
        found = next(
            (m for m in state.members if email and m.participant.email.casefold() == email),
            None,
        ) or next((m for m in state.members if m.participant.name == person.name), None)
        if found is not None:
            known = ev.Person(name=found.participant.name, email=found.participant.email)
            if known not in credited:
                credited.append(known)
    return tuple(credited)


def _reordered(state: State, event: ev.RotationReordered, time: float) -> Outcome:
    """Reorder everyone, or just those present; people who left follow in their old order."""
    by_id = {member.id: member for member in state.members}
    present = {member.id for member in state.members if member.present}
    named = set(event.order)
    if len(event.order) != len(named) or named not in (set(by_id), present):
        return "the new order must list everyone present (or everyone) exactly once"
    absent = tuple(m for m in state.members if m.id not in named)
    return {"members": tuple(by_id[pid] for pid in event.order) + absent}


def _turn_started(state: State, event: ev.TurnStarted, time: float) -> Outcome:
    if state.phase not in ("lobby", "waiting"):
        return f"a turn can start only between turns, not while {state.phase}"
    if wrong := _wrong_turn(state, event.turn):
        return wrong
    if state.driver is None:
        return "nobody is present to drive"
    if not _is_here(state, state.driver):
        return "the driver is away: n hands the turn to the next one"
    return _start_turn(state, time)


def _paused(state: State, event: ev.TimerPaused, time: float) -> Outcome:
    if state.phase != "running":
        return f"only a running timer can be paused (it is {state.phase})"
    return _wrong_turn(state, event.turn) or {"phase": "paused", "paused_at": time}


def _resumed(state: State, event: ev.TimerResumed, time: float) -> Outcome:
    if state.phase != "paused" or state.paused_at is None:
        return f"only a paused timer can be resumed (it is {state.phase})"
    if state.driver is not None and not _is_here(state, state.driver):
        # Time would run for someone who is not at the keyboard.
        return "the driver is away: n hands the turn to the next one"
    return _wrong_turn(state, event.turn) or {
        "phase": "running",
        "paused_at": None,
        "paused_total": state.paused_total + (time - state.paused_at),
    }


def _extended(state: State, event: ev.TimerExtended, time: float) -> Outcome:
    if state.phase not in ("running", "paused"):
        return f"only a turn's timer can be extended (it is {state.phase})"
    if wrong := _wrong_turn(state, event.turn):
        return wrong
    end = expires_at(state)
    overdue = 0.0 if end is None else max(0.0, time - end)
    # Time is added to what is left; a turn already over gets the extension from now.
    extension = Extension(state.turn, time, event.seconds, event.actor)
    return {
        "phase_length": state.phase_length + overdue + event.seconds,
        "extensions": state.extensions.push_front(extension),
    }


def _skipped(state: State, event: ev.TurnSkipped, time: float) -> Outcome:
    if state.phase not in ("running", "paused", "waiting"):
        return f"there is no turn to skip while {state.phase}"
    return _wrong_turn(state, event.turn) or _rotate(state, time)


def _rotated(state: State, event: ev.RolesRotated, time: float) -> Outcome:
    if state.phase != "running":
        return f"roles rotate when a running turn's time is up (the timer is {state.phase})"
    if wrong := _wrong_turn(state, event.turn):
        return wrong
    end = expires_at(state)
    if end is not None and time < end - ROTATION_TOLERANCE:
        return f"turn {state.turn} still has {end - time:.0f}s left"
    return _rotate(state, time)


def _break_started(state: State, event: ev.BreakStarted, time: float) -> Outcome:
    """A break by hand: between turns it comes before the next one; during a turn it ends that
    turn, and the next driver takes over after the break."""
    if state.phase not in ("waiting", "running", "paused"):
        return f"a break cannot start while {state.phase}"
    if wrong := _wrong_turn(state, event.turn):
        return wrong
    if state.driver is None:
        return "nobody is present to take a break"
    brk = _break(float(event.seconds or state.settings.break_seconds), time)
    if state.phase == "waiting":
        return brk
    return {**_rotate(state, time), **brk}


def _break_ended(state: State, event: ev.BreakEnded, time: float) -> Outcome:
    if state.phase != "break":
        return "there is no break to end"
    if wrong := _wrong_turn(state, event.turn):
        return wrong
    end = expires_at(state)
    if not event.early and end is not None and time < end - ROTATION_TOLERANCE:
        return f"the break still has {end - time:.0f}s left"
    driver = state.driver
    if driver is None or not _is_here(state, driver):
        driver = next_driver(state.members, driver)
    return {"driver": driver} | _next_turn(state, driver, time, start=True)


def _decision_recorded(state: State, event: ev.DecisionRecorded, time: float) -> Outcome:
    if event.decision_id in state.decisions:
        return f"decision {event.decision_id} is already recorded"
    decision = Decision(
        id=event.decision_id,
        number=len(state.decisions) + 1,
        title=event.title,
        context=event.context,
        decision=event.decision,
        consequences=event.consequences,
        status=event.status,
        proposed_by=event.actor,
        proposed_at=time,
        turn=state.turn,
        present=_with(tuple(member.id for member in state.here), event.actor),
        drivers=event.drivers,
        options=event.options,
        chosen=event.chosen,
    )
    return {"decisions": state.decisions.insert(decision.id, decision)}


def _with(ids: tuple[str, ...], participant_id: str) -> tuple[str, ...]:
    return ids if participant_id in ids else (*ids, participant_id)


_AMENDABLE = (
    "title",
    "context",
    "decision",
    "consequences",
    "status",
    "drivers",
    "options",
    "chosen",
)


def _decision_amended(state: State, event: ev.DecisionAmended, time: float) -> Outcome:
    current: Decision | None = state.decisions.get(event.decision_id)
    if current is None:
        return f"there is no decision {event.decision_id} to amend"
    if refused := amend_refused(state, event.actor, current):
        return refused
    changes = {
        name: getattr(event, name)
        for name in _AMENDABLE
        if getattr(event, name) is not None and getattr(event, name) != getattr(current, name)
    }
    if not changes:
        return "the amendment changes nothing"
    options = changes.get("options", current.options)
    chosen = changes.get("chosen", current.chosen)
    if chosen and chosen not in {option.name for option in options}:
        if "chosen" in changes:
            return f"{chosen!r} is not one of decision {current.number}'s options"
        # Options renamed or dropped from under the chosen one: nothing is chosen any more.
        changes["chosen"] = ""
    amendment = Amendment(by=event.actor, at=time, changed=tuple(changes))
    amended = replace(
        current,
        **changes,
        amendments=(*current.amendments, amendment),
        present=_with(current.present, event.actor),
    )
    decisions = state.decisions
    if current.superseded_by is not None and amended.status != "superseded":
        # No longer superseded: the links both ways go.
        newer: Decision = decisions[current.superseded_by]
        newer = replace(newer, supersedes=tuple(d for d in newer.supersedes if d != current.id))
        decisions = decisions.insert(newer.id, newer)
        amended = replace(amended, superseded_by=None)
    return {"decisions": decisions.insert(amended.id, amended)}


def _decision_opinion(state: State, event: ev.DecisionOpinion, time: float) -> Outcome:
    """Anyone in the session, whoever recorded it, may agree or object; their latest opinion
    of a decision replaces their earlier one."""
    current: Decision | None = state.decisions.get(event.decision_id)
    if current is None:
        return f"there is no decision {event.decision_id} to agree with or object to"
    said = [(o.stance, o.why) for o in current.opinions if o.participant == event.actor]
    if said == [(event.stance, event.why)]:
        return f"that is already {_name(state, event.actor)}'s opinion of decision {current.number}"
    earlier = tuple(o for o in current.opinions if o.participant != event.actor)
    opinion = Opinion(event.actor, event.stance, event.why, time)
    decided = replace(
        current,
        opinions=(*earlier, opinion),
        present=_with(current.present, event.actor),
    )
    return {"decisions": state.decisions.insert(decided.id, decided)}


def _decision_superseded(state: State, event: ev.DecisionSuperseded, time: float) -> Outcome:
    """Only whoever recorded the older decision changes its status, as with any amendment."""
    older: Decision | None = state.decisions.get(event.decision_id)
    newer: Decision | None = state.decisions.get(event.by)
    if older is None or newer is None:
        missing = event.decision_id if older is None else event.by
        return f"there is no decision {missing} in the session"
    if refused := amend_refused(state, event.actor, older):
        return refused
    if older.id == newer.id:
        return f"decision {older.number} cannot supersede itself"
    if older.superseded_by is not None:
        already = state.decisions[older.superseded_by]
        return f"decision {older.number} is already superseded by decision {already.number}"
    follow: Decision = newer
    while follow.superseded_by is not None:
        if follow.superseded_by == older.id:
            return f"decision {newer.number} is itself superseded, by way of {older.number}"
        follow = state.decisions[follow.superseded_by]
    amendment = Amendment(by=event.actor, at=time, changed=("status",))
    older = replace(
        older,
        status="superseded",
        superseded_by=newer.id,
        amendments=(*older.amendments, amendment),
        present=_with(older.present, event.actor),
    )
    newer = replace(newer, supersedes=(*newer.supersedes, older.id))
    return {"decisions": state.decisions.insert(older.id, older).insert(newer.id, newer)}


def _commit_recorded(state: State, event: ev.CommitRecorded, time: float) -> Outcome:
    """A commit made in the session. Its co-authors count only as far as they are members of
    the session: credit goes to people who joined, never to a name someone typed."""
    if event.sha in state.commits:
        return f"commit {event.sha[:12]} is already recorded"
    record = CommitRecord(
        sha=event.sha,
        number=len(state.commits) + 1,
        summary=event.summary,
        author=event.author,
        co_authors=_credited(state, event.co_authors),
        recorded_by=event.actor,
        at=time,
        turn=state.turn,
    )
    return {"commits": state.commits.insert(record.sha, record)}


def _lesson_noted(state: State, event: ev.LessonNoted, time: float) -> Outcome:
    lesson = Lesson(len(state.lessons) + 1, event.text, event.actor, time, state.turn)
    return {"lessons": state.lessons.push_front(lesson)}


def _handover_part(state: State, event: ev.HandoverPart, time: float) -> Outcome:
    """Data for an offer to come; only an offer that names its digest makes it count."""
    return {}


def _handover_offered(state: State, event: ev.HandoverOffered, time: float) -> Outcome:
    """Only the driver whose turn ended hands it over, once; whoever drives now receives it."""
    wrong = _wrong_turn(state, event.turn)
    if wrong is not None:
        return wrong
    if event.actor != state.last_driver:
        return f"only whoever drove turn {event.turn - 1} hands it over"
    if event.handover in state.handovers:
        return "this handover is already offered"
    if state.driver is None or state.driver == event.actor:
        return f"nobody else drives turn {event.turn}"
    record = Handover(
        id=event.handover,
        number=len(state.handovers) + 1,
        turn=event.turn,
        by=event.actor,
        to=state.driver,
        at=time,
        mode=event.mode,
        snapshot=event.snapshot,
        head=event.head,
        branch=event.branch,
        parts=event.parts,
        size=event.size,
        digest=event.digest,
        remote=event.remote,
        wip_branch=event.wip_branch,
        files=event.files,
        insertions=event.insertions,
        deletions=event.deletions,
        commits=event.commits,
        last_file=event.last_file,
        last_line=event.last_line,
    )
    return {"handovers": state.handovers.insert(record.id, record)}


def _handover_applied(state: State, event: ev.HandoverApplied, time: float) -> Outcome:
    record = state.handovers.get(event.handover)
    if record is None or record.outcome == "applied" or not record.snapshot:
        # A refused offer may still be taken, once its receiver sorted out why it was not.
        return "no such handover is waiting"
    if event.actor != record.to:
        return f"only {_name(state, record.to)} takes this handover"
    settled = replace(record, outcome="applied", saved=event.saved, settled_at=time)
    return {"handovers": state.handovers.insert(record.id, settled)}


def _handover_refused(state: State, event: ev.HandoverRefused, time: float) -> Outcome:
    """The receiver refuses an offer made to them; the sender says why it sent none."""
    record = None if event.handover is None else state.handovers.get(event.handover)
    if record is not None:
        if record.outcome != "offered":
            return "this handover is settled already"
        if event.actor not in (record.to, record.by):
            return f"only {_name(state, record.to)} refuses this handover"
        settled = replace(record, outcome="refused", reason=event.reason, settled_at=time)
        return {"handovers": state.handovers.insert(record.id, settled)}
    wrong = _wrong_turn(state, event.turn)
    if wrong is not None:
        return wrong
    if event.actor != state.last_driver:
        return f"only whoever drove turn {event.turn - 1} says why no handover came"
    key = event.handover or event.id
    if key in state.handovers:
        return "this handover is settled already"
    refused = Handover(
        id=key,
        number=len(state.handovers) + 1,
        turn=event.turn,
        by=event.actor,
        to=state.driver,
        at=time,
        size=event.size,
        largest=event.largest,
        outcome="refused",
        reason=event.reason,
        settled_at=time,
    )
    return {"handovers": state.handovers.insert(key, refused)}


def _clone_holding(state: State, event: ev.CloneHolding, time: float) -> Outcome:
    return {"holding": state.holding.insert(event.actor, event.heads)}


def _ended(state: State, event: ev.SessionEnded, time: float) -> Outcome:
    return end_refused(state, event.actor) or {
        "phase": "ended",
        "ended_at": time,
        "phase_started_at": None,
        "paused_at": None,
    }


def end_refused(state: State, actor: str) -> str | None:
    """Why ``actor`` may not end the session, or ``None``: the host ends it for everyone;
    while the host is not here, anyone here can."""
    host = state.host
    if actor == host:
        return None
    if host is not None and _is_here(state, host):
        return f"only the host ({_name(state, host)}) can end the session while they are here"
    if not _is_here(state, actor):
        return "only someone here can end the session"
    return None


def amend_refused(state: State, actor: str, decision: Decision) -> str | None:
    """Why ``actor`` may not amend ``decision``, or ``None``: only whoever recorded a decision
    changes its words or its status, so nobody can make someone else's decision say the
    opposite, or accept it for them."""
    if actor != decision.proposed_by:
        return f"decision {decision.number} is {_name(state, decision.proposed_by)}'s to amend"
    return None


_HANDLERS: dict[str, Handler] = {
    "session.opened": _opened,
    "participant.joined": _joined,
    "participant.left": _left,
    "participant.away": _away,
    "participant.back": _back,
    "rotation.reordered": _reordered,
    "turn.started": _turn_started,
    "timer.paused": _paused,
    "timer.resumed": _resumed,
    "timer.extended": _extended,
    "turn.skipped": _skipped,
    "roles.rotated": _rotated,
    "break.started": _break_started,
    "break.ended": _break_ended,
    "decision.recorded": _decision_recorded,
    "decision.amended": _decision_amended,
    "decision.opinion": _decision_opinion,
    "decision.superseded": _decision_superseded,
    "commit.recorded": _commit_recorded,
    "lesson.noted": _lesson_noted,
    "handover.part": _handover_part,
    "handover.offered": _handover_offered,
    "handover.applied": _handover_applied,
    "handover.refused": _handover_refused,
    "clone.holding": _clone_holding,
    "session.ended": _ended,
}
