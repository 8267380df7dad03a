"""The watch page's View of a session, computed from the Python state: what session.mjs's
``view(state, now)`` must give for the same log (see the contract in issue 23)."""

from typing import Any

from pairup.session.state import Member, State
from pairup.session.timer import driving_times, remaining, stints_until, tally_at


def _role(state: State, member: Member) -> str:
    if member.id == state.driver and state.phase != "ended":
        return "driver"
    if not member.present:
        return "left"
    if member.away is not None:
        return "away"
    return "navigator"


def _person(name: str, email: str) -> dict[str, str]:
    return {"name": name, "email": email}


def view(state: State, now: float) -> dict[str, Any]:
    """The session at ``now`` as the page shows it, JSON-able."""
    tally = tally_at(state, now)
    driven = driving_times(state, now)
    timed = state.phase in ("running", "paused", "break")
    return {
        "title": state.title,
        "phase": state.phase,
        "turn": state.turn,
        "host": state.host,
        "driver": state.driver,
        "remaining": remaining(state, now),
        "length": state.phase_length if timed else None,
        "settings": state.settings.model_dump(),
        "members": [
            {
                "id": member.id,
                "name": member.participant.name,
                "email": member.participant.email,
                "present": member.present,
                "here": member.here,
                "away": None
                if member.away is None
                else {"since": member.away.since, "by_choice": member.away.by_choice},
                "role": _role(state, member),
                "driven": driven[member.id],
            }
            for member in state.members
        ],
        "decisions": [
            {
                "id": d.id,
                "number": d.number,
                "title": d.title,
                "status": d.status,
                "context": d.context,
                "decision": d.decision,
                "consequences": d.consequences,
                "drivers": list(d.drivers),
                "options": [
                    {"name": o.name, "pros": list(o.pros), "cons": list(o.cons)} for o in d.options
                ],
                "chosen": d.chosen,
                "proposed_by": d.proposed_by,
                "proposed_at": d.proposed_at,
                "turn": d.turn,
                "opinions": [
                    {"participant": o.participant, "stance": o.stance, "why": o.why, "at": o.at}
                    for o in d.opinions
                ],
                "superseded_by": d.superseded_by,
                "supersedes": list(d.supersedes),
            }
            for d in state.decisions_in_order()
        ],
        "commits": [
            {
                "sha": c.sha,
                "number": c.number,
                "summary": c.summary,
                "author": _person(c.author.name, c.author.email),
                "co_authors": [_person(p.name, p.email) for p in c.co_authors],
                "recorded_by": c.recorded_by,
                "at": c.at,
                "turn": c.turn,
            }
            for c in state.commits_in_order()
        ],
        "lessons": [
            {"number": n.number, "text": n.text, "by": n.by, "at": n.at, "turn": n.turn}
            for n in state.lessons_in_order()
        ],
        "breaks": [
            {"turn": b.turn, "start": b.start, "end": b.end} for b in state.break_timeline()
        ],
        "stints": [
            {"turn": s.turn, "driver": s.driver, "start": s.start, "end": s.end}
            for s in stints_until(state, now)
        ],
        "opened_at": state.opened_at,
        "ended_at": state.ended_at,
        "clock": state.clock,
        "tally": {
            "driving": dict(tally.driving.items()),
            "paused": tally.paused,
            "breaks": tally.breaks,
            "idle": tally.idle,
        },
    }
