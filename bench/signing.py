"""What signed events cost a participant: signing each event it makes, checking each it gets.

Every event carries its author's Ed25519 signature (ADR 24). The relay checks none, so its
throughput does not move; each participant signs what it makes and checks what arrives before
applying it. The baseline is what a participant already paid per arriving event before
signatures: decoding the body and stepping the state. The figure is the check's cost next to
that baseline, on a realistic log (bench.fold's mix): the ratio says how much slower applying
an event from the relay got (Ed25519's check is most of it), and the goal that it stays far
below what a session sends: 500 µs an event is 2,000 events a second, forty times the most
the relay stores from one participant.

    python -m bench.signing            # 20k events, 5 runs
    python -m bench.signing --quick    # 1k events, 2 runs: only checks the benchmark still works
"""

import argparse
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.figures import Figure, Goal, add_options, save, verdict_text
from bench.fold import PEOPLE, make_log
from pairup import identity
from pairup.session import State, decode_event, encode_event, step
from pairup.session import events as ev

SESSION = "bench-signing"


def signed_log(size: int) -> tuple[list[ev.Event], State]:
    """bench.fold's log, every event signed by its actor, and the state after it (in which
    every actor's key is bound)."""
    keys = {person.id: Ed25519PrivateKey.generate() for person in PEOPLE}
    log = [identity.signed(event, SESSION, keys[event.actor]) for event in make_log(size)]
    state = State()
    for event in log:
        state = step(state, event).state
    return log, state


def per_event(runs: int, count: int, action: Callable[[], object]) -> list[float]:
    """Microseconds per event of ``action`` (which handles ``count`` events), one per run."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) / count * 1e6)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    add_options(parser, "1k events, 2 runs")
    args = parser.parse_args()
    size, runs = (1_000, 2) if args.quick else (args.events, args.runs)
    log, state = signed_log(size)
    bodies = [encode_event(event) for event in log]
    key = Ed25519PrivateKey.generate()

    def apply_all() -> None:
        current = State()
        for body in bodies:
            current = step(current, decode_event(body)).state

    signing = per_event(runs, size, lambda: [identity.signed(e, SESSION, key) for e in log])
    checking = per_event(runs, size, lambda: [identity.forged(state, SESSION, e) for e in log])
    applying = per_event(runs, size, apply_all)
    check = Figure(
        name="checking an arriving event's signature",
        unit="µs",
        pairup=tuple(checking),
        baseline=tuple(applying),
        baseline_name="decoding and applying it",
        goal=Goal(500.0),
        note=f"per event, {size:,} events of bench.fold's mix",
    )
    sign = Figure(
        name="signing an event one makes", unit="µs", pairup=tuple(signing), goal=Goal(200.0)
    )
    print(f"log: {size:,} events, every one signed by its actor")
    print(f"  sign        {sign.shown(signing)}  {verdict_text(sign, quick=args.quick)}")
    print(f"  check       {check.shown(checking)}  {verdict_text(check, quick=args.quick)}")
    print(f"  baseline    {check.shown(applying)} (decode the body and step the state)")
    print(f"  ratio       {check.ratio:.2f}")
    save(args.figures, [check, sign])


if __name__ == "__main__":
    main()
