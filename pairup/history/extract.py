"""A session's facts from its log, folded by the real session core as every pairup folds it."""

from collections.abc import Iterable, Sequence

from pairup.adr.render import logged_events
from pairup.history.facts import CommitFacts, Credit, DecisionFacts, Member, Sitting, Span
from pairup.session import Event, State, fold
from pairup.session.timer import stints_until

_MEMBERSHIP = frozenset({"participant.joined", "participant.left"})
"""The only events that put someone in the session or take them out of it."""


def sitting(session_id: str, events: Sequence[Event], repository: str = "") -> Sitting | None:
    """The facts of a session from its log; None for a log in which nothing happened.

    The log is folded by the core as every pairup folds it, in runs between the events that
    change who is in the session; after each of those the members present are compared, which
    gives when each person came and went without the core keeping a history of it.
    """
    if not events:
        return None
    state = State()
    since: dict[str, float] = {}
    presence: list[Span] = []
    run: list[Event] = []
    for event in events:
        if event.kind not in _MEMBERSHIP:
            run.append(event)
            continue
        state = fold(run, state)
        run.clear()
        before = {member.id for member in state.present}
        state = fold((event,), state)
        now = state.clock
        if now is None:
            continue
        after = {member.id for member in state.present}
        for arrived in after - before:
            since[arrived] = now
        for gone in before - after:
            presence.append(Span(gone, since.pop(gone, now), now))
    state = fold(run, state)
    if state.clock is None:
        return None
    end = state.ended_at if state.ended_at is not None else state.clock
    presence.extend(Span(who, start, max(start, end)) for who, start in since.items())
    positions = _positions(events)
    stints = stints_until(state, end)
    return Sitting(
        session_id=session_id,
        title=state.title,
        started=state.opened_at,
        ended=state.ended_at,
        last=state.clock,
        members=tuple(Member(m.id, m.participant.name, m.participant.email) for m in state.members),
        presence=tuple(sorted(presence, key=lambda span: (span.start, span.who))),
        driving=tuple(Span(s.driver, s.start, s.end) for s in stints),
        turns=len({stint.turn for stint in stints}),
        breaks=len(state.breaks) + (1 if state.phase == "break" else 0),
        lessons=len(state.lessons),
        decisions=tuple(
            DecisionFacts(
                id=d.id,
                number=d.number,
                title=d.title,
                status=d.status,
                proposed_by=d.proposed_by,
                at=d.proposed_at,
                position=positions.get(("decision", d.id), 0),
                agreed=d.agreed,
                objected=d.objected,
                superseded_by=d.superseded_by,
            )
            for d in state.decisions_in_order()
        ),
        commits=tuple(
            CommitFacts(
                sha=c.sha,
                number=c.number,
                summary=c.summary,
                author=Credit(c.author.name, c.author.email),
                co_authors=tuple(Credit(p.name, p.email) for p in c.co_authors),
                at=c.at,
                position=positions.get(("commit", c.sha), 0),
            )
            for c in state.commits_in_order()
        ),
        events=len(logged_events(events)),
        repository=repository,
    )


def _positions(events: Iterable[Event]) -> dict[tuple[str, str], int]:
    """Where each decision and commit first appears in the log."""
    found: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        if event.kind == "decision.recorded":
            found.setdefault(("decision", event.decision_id), index)
        elif event.kind == "commit.recorded":
            found.setdefault(("commit", event.sha), index)
    return found
