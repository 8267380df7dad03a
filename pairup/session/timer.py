"""Timer math and time accounting. Every function takes the session clock reading ``now``.

Nothing here reads a clock: the caller passes the relay-corrected time, so two screens that
agree on the log and on the clock show the same countdown.
"""

from pairup.session.state import State, Stint, Tally

ROTATION_TOLERANCE = 2.0
"""Seconds before the computed expiry at which a rotation is still accepted.

Clients estimate their offset to the relay's clock; this covers the error of that estimate so a
rotation sent by a client whose clock runs a little fast is not refused."""


def expires_at(state: State) -> float | None:
    """When the running turn or the current break ends; ``None`` when nothing counts down."""
    if state.phase_started_at is None:
        return None
    if state.phase == "running":
        return state.phase_started_at + state.phase_length + state.paused_total
    if state.phase == "break":
        return state.phase_started_at + state.phase_length
    return None


def remaining(state: State, now: float) -> float | None:
    """Seconds left on the countdown (turn or break), never negative; ``None`` with no countdown."""
    if (
        state.phase == "paused"
        and state.phase_started_at is not None
        and state.paused_at is not None
    ):
        used = state.paused_at - state.phase_started_at - state.paused_total
        return max(0.0, state.phase_length - used)
    end = expires_at(state)
    return None if end is None else max(0.0, end - now)


def is_due(state: State, now: float) -> bool:
    """Whether the countdown has run out, so a client should send the rotation or break end."""
    end = expires_at(state)
    return end is not None and now >= end


def break_due_after(state: State, turn: int) -> bool:
    """Whether the rules of the session call for a break once ``turn`` has ended."""
    every = state.settings.break_every
    return every > 0 and turn % every == 0


def tally_at(state: State, now: float) -> Tally:
    """Where the session's time went up to ``now``: driving per person, paused, breaks, idle.

    The parts always add up to ``now - opened_at``. Between two changes of phase or driver the
    time all goes to one place, so the state tallies only at those changes and this adds the
    stretch since the last one.
    """
    since = state.tallied_until
    if since is None or now <= since or state.phase == "ended":
        return state.tally
    elapsed = now - since
    driving, paused, breaks, idle = state.tally
    if state.phase == "running" and state.driver is not None:
        driving = driving.insert(state.driver, driving.get(state.driver, 0.0) + elapsed)
    elif state.phase == "paused":
        paused += elapsed
    elif state.phase == "break":
        breaks += elapsed
    else:
        idle += elapsed
    return Tally(driving, paused, breaks, idle)


def driving_times(state: State, now: float) -> dict[str, float]:
    """Seconds each participant has driven up to ``now``, for the fairness figures."""
    driving = tally_at(state, now).driving
    return {member.id: driving.get(member.id, 0.0) for member in state.members}


def stints_until(state: State, now: float) -> list[Stint]:
    """Who drove when, oldest first: the closed stints, and the one still running up to
    ``now``."""
    stints = state.timeline()
    if state.phase == "running" and state.driver is not None and state.stint_start is not None:
        stints.append(
            Stint(state.turn, state.driver, state.stint_start, max(now, state.stint_start))
        )
    return stints
