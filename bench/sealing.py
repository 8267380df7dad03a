"""What sealed bodies cost a participant: sealing each event it publishes, opening each it gets.

Every event body travels sealed with AES-256-GCM under the session's body key, bound to its
session, sender and id (pairup.seal, ADR 27). The relay opens nothing, so its throughput does
not move; each participant seals what it publishes (once per send) and opens what arrives
before it decodes and checks it. The events are bench.fold's mix, signed by their actors as
the link publishes them, so the bodies have the sizes a session's have. The baseline is what a
participant already paid per arriving event: decoding the body and stepping the state.

    python -m bench.sealing            # 20k events, 5 runs
    python -m bench.sealing --quick    # 1k events, 2 runs: only checks the benchmark still works
"""

import argparse
import statistics

from bench.figures import Figure, Goal, add_options, save, verdict_text
from bench.signing import per_event, signed_log
from pairup import protocol as wire
from pairup import seal
from pairup.link.core import body_of
from pairup.session import State, decode_event, step

SESSION = "bench-sealing"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    add_options(parser, "1k events, 2 runs")
    args = parser.parse_args()
    size, runs = (1_000, 2) if args.quick else (args.events, args.runs)
    log, _ = signed_log(size)
    key = wire.JoinLink("ws://bench:1", SESSION, b"k" * wire.SECRET_BYTES).body_key
    aads = [seal.event_aad(SESSION, event.actor, event.id) for event in log]
    bodies = [body_of(event) for event in log]
    sealed = [seal.seal(key, body, aad) for body, aad in zip(bodies, aads, strict=True)]
    assert all(
        seal.open_sealed(key, text, aad) == body
        for text, aad, body in zip(sealed, aads, bodies, strict=True)
    )

    def seal_all() -> None:
        for event, aad in zip(log, aads, strict=True):
            seal.seal(key, body_of(event), aad)

    def open_all() -> None:
        for text, aad in zip(sealed, aads, strict=True):
            seal.open_sealed(key, text, aad)

    def apply_all() -> None:
        current = State()
        for body in bodies:
            current = step(current, decode_event(body)).state

    sealing = per_event(runs, size, seal_all)
    opening = per_event(runs, size, open_all)
    applying = per_event(runs, size, apply_all)
    typical = statistics.median(len(body) for body in bodies)
    note = f"per event, {size:,} events of bench.fold's mix (median body {typical:,.0f} B)"
    opened = Figure(
        name="opening an arriving event's sealed body",
        unit="µs",
        pairup=tuple(opening),
        baseline=tuple(applying),
        baseline_name="decoding and applying it",
        goal=Goal(100.0),
        note=note,
    )
    sealed_row = Figure(
        name="sealing an event one publishes",
        unit="µs",
        pairup=tuple(sealing),
        goal=Goal(100.0),
        note="per event, its body encoded and sealed, as the link publishes it",
    )
    print(f"log: {size:,} events, median body {typical:,.0f} bytes before sealing")
    print(
        f"  seal        {sealed_row.shown(sealing)}  {verdict_text(sealed_row, quick=args.quick)}"
    )
    print(f"  open        {opened.shown(opening)}  {verdict_text(opened, quick=args.quick)}")
    print(f"  baseline    {opened.shown(applying)} (decode the body and step the state)")
    print(f"  ratio       {opened.ratio:.2f}")
    save(args.figures, [sealed_row, opened])


if __name__ == "__main__":
    main()
