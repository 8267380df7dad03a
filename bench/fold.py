"""How long it takes to rebuild a session from a 100,000-event log (goal: at most 1 s).

Rebuilding happens when pairup resumes or exports a session, and on every peer that joins
late, so it must stay fast however long a mob has been at it. The log is realistic in mix:
mostly timer traffic, with joins, leaves, decisions, amendments, commits and lessons, every
event sequenced and stamped as the relay would. Prints the median and spread of several runs
for decoding the JSON lines and for the fold itself.

    python -m bench.fold            # 100k events, 5 runs
    python -m bench.fold --quick    # 5k events, 2 runs: only checks the benchmark still works
"""

import argparse
import random
import time
from collections.abc import Callable

from bench.figures import Figure, Goal, add_options, save, verdict_text
from pairup.session import State, decode_event, encode_event, fold, reduce
from pairup.session import events as ev

PEOPLE = [
    ev.Participant(id=f"p{i}", name=f"Person {i}", email=f"p{i}@example.test") for i in range(6)
]


def make_log(size: int, seed: int = 1) -> list[ev.Event]:
    """A session that a busy mob could produce: turns of 60 s, pauses, churn and decisions."""
    rng = random.Random(seed)
    log: list[ev.Event] = []
    now = 1_800_000_000.0

    state = State()

    def add(cls: type, actor: str | None = None, **fields: object) -> None:
        """An event by ``actor``, or by someone in the session: events the rules accept, as
        a real session's almost all are (a refused event costs the fold less)."""
        nonlocal state
        seq = len(log) + 1
        if actor is None:
            actor = rng.choice([member.id for member in state.present])
        log.append(cls(id=f"evt-{seq:08d}", actor=actor, at=now, seq=seq, stamped_at=now, **fields))
        state = reduce(state, log[-1])

    for person in PEOPLE[:4]:
        add(ev.ParticipantJoined, actor=person.id, participant=person)
    add(
        ev.SessionOpened,
        actor=PEOPLE[0].id,
        settings=ev.SessionSettings(turn_seconds=60, break_every=4, break_seconds=30),
    )
    add(ev.TurnStarted, turn=1)
    decisions = 0
    while len(log) < size:
        roll = rng.random()
        now += rng.uniform(0.5, 5)
        if roll < 0.25:
            now += 60
            add(ev.RolesRotated, turn=state.turn)
            if state.phase == "break":
                now += 30
                add(ev.BreakEnded, turn=state.turn)
        elif roll < 0.40:
            add(ev.TimerPaused, turn=state.turn)
            now += rng.uniform(1, 20)
            add(ev.TimerResumed, turn=state.turn)
        elif roll < 0.42:
            add(ev.TimerExtended, turn=state.turn, seconds=60)
        elif roll < 0.60:
            person = rng.choice(PEOPLE[1:])
            if state.member(person.id) is not None and state.member(person.id).present:
                add(ev.ParticipantLeft, actor=person.id, participant_id=person.id)
            add(ev.ParticipantJoined, actor=person.id, participant=person)
        elif roll < 0.75:
            decisions += 1
            add(
                ev.DecisionRecorded,
                decision_id=f"dec-{decisions:08d}",
                title=f"Decision {decisions}",
                context="Some context " * 5,
                decision="We will do it.",
                consequences="Fine.",
            )
        elif roll < 0.85 and decisions:
            target = state.decisions[f"dec-{rng.randint(1, decisions):08d}"]
            add(
                ev.DecisionAmended,
                actor=target.proposed_by,
                decision_id=target.id,
                status=rng.choice(["accepted", "rejected"]),
            )
        elif roll < 0.95:
            sha = f"{rng.getrandbits(160):040x}"
            add(
                ev.CommitRecorded,
                sha=sha,
                summary="Change",
                author=ev.Person(name="Person 0"),
                co_authors=(ev.Person(name="Person 1", email="p1@example.test"),),
            )
        else:
            add(ev.LessonNoted, text="Smaller steps")
    return log[:size]


def measure(runs: int, action: Callable[[], object]) -> list[float]:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def fold_figures(size: int, runs: int) -> tuple[list[Figure], str]:
    """The fold's figure, and the report that goes with it: the log's make-up and the cost of
    decoding it, which a peer that resumes from its journal pays too."""
    log = make_log(size)
    lines = [encode_event(event) for event in log]
    state = fold(log)
    folding = measure(runs, lambda: fold(log))
    decoding = measure(runs, lambda: [decode_event(line) for line in lines])
    both = measure(runs, lambda: fold(decode_event(line) for line in lines))
    figure = Figure(
        name=f"fold of a {size // 1000}k-event session log",
        unit="s",
        pairup=tuple(folding),
        goal=Goal(1.0),
        decimals=3,
    )
    report = [
        f"log: {len(log)} events, {sum(map(len, lines)) / 1e6:.1f} MB as JSON lines; "
        f"end state: turn {state.turn}, {len(state.decisions)} decisions, "
        f"{len(state.commits)} commits",
        f"  fold (reduce only)   {figure.shown(folding)}",
        f"  decode JSON lines    {figure.shown(decoding)}",
        f"  decode + fold        {figure.shown(both)}",
    ]
    return [figure], "\n".join(report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    add_options(parser, "5k events, 2 runs")
    args = parser.parse_args()
    size, runs = (5_000, 2) if args.quick else (args.events, args.runs)
    figures, report = fold_figures(size, runs)
    print(report)
    print(f"  {verdict_text(figures[0], quick=args.quick)}")
    save(args.figures, figures)


if __name__ == "__main__":
    main()
