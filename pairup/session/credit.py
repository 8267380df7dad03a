"""Who gets credit for a commit: the people who paired on it.

By presence (the default): everyone else who was here during the current turn or since the
previous commit, navigators included; someone who left or went away before both is not
credited. Or everyone who has taken part in the session at all.
"""

from collections.abc import Collection
from typing import Literal

from pairup.session.events import Participant
from pairup.session.state import Member, State

Credit = Literal["present", "all-participants"]


def co_authors(
    state: State, me: str, credit: Credit = "present", connected: Collection[str] | None = None
) -> list[Participant]:
    """The participants to credit on a commit ``me`` makes now, in rotation order; with
    ``connected``, only those among them (the ids the relay has seen connected: someone who
    never was has not paired, whatever the log says they joined as)."""
    others = [
        member
        for member in state.members
        if member.id != me and (connected is None or member.id in connected)
    ]
    if credit == "all-participants":
        return [member.participant for member in others]
    since = credit_window_start(state)
    return [member.participant for member in others if _here_since(member, since)]


def _here_since(member: Member, since: float) -> bool:
    """Whether ``member`` was here at some point from ``since`` on."""
    if member.here:
        return True
    if member.present and member.away is not None:
        return member.away.since >= since
    return member.left_at is not None and member.left_at >= since


def credit_window_start(state: State) -> float:
    """The earlier of the current turn's start and the previous commit (the session's start
    when there is neither)."""
    opened = state.opened_at if state.opened_at is not None else 0.0
    if state.phase in ("running", "paused") and state.phase_started_at is not None:
        turn_start = state.phase_started_at
    elif state.stints:
        turn_start = state.stints.first.start
    else:
        turn_start = opened
    last_commit = max((record.at for record in state.commits.values()), default=opened)
    return min(turn_start, last_commit)
