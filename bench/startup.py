"""Wall time of ``pairup --help`` against ``python -c pass``: how long pairup takes to answer.

``pairup --help`` is the first thing a new user runs, and every command pays the same start-up
before doing its own work, so it must answer at once. The baseline is the interpreter starting
and doing nothing, the floor no Python program can go under. Both run as the installed console
script and interpreter of this environment, alternating, each from process start to exit.

    python -m bench.startup            # 20 runs of each
    python -m bench.startup --quick    # 2 runs of each: only checks it still works
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench.figures import Figure, Goal, add_options, save, verdict_text

PAIRUP = Path(sys.executable).with_name("pairup")


def wall_time(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def startup_figures(runs: int) -> list[Figure]:
    commands = {"pairup": [str(PAIRUP), "--help"], "python": [sys.executable, "-c", "pass"]}
    timings: dict[str, list[float]] = {kind: [] for kind in commands}
    for command in commands.values():
        wall_time(command)  # once untimed each, so both start with a warm file cache
    for _ in range(runs):
        for kind, command in commands.items():
            timings[kind].append(wall_time(command))
    return [
        Figure(
            name="pairup --help wall time",
            unit="s",
            pairup=tuple(timings["pairup"]),
            baseline=tuple(timings["python"]),
            baseline_name="python -c pass",
            goal=Goal(0.15),
            decimals=3,
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="pairup --help against python -c pass")
    add_options(parser, "2 runs of each: only checks the benchmark still works")
    args = parser.parse_args()
    figures = startup_figures(2 if args.quick else 20)
    (figure,) = figures
    print(f"{figure.name}, from process start to exit")
    print(f"  python -c pass  {figure.shown(figure.baseline)}")
    print(f"  pairup --help   {figure.shown(figure.pairup)}")
    print(f"  ratio pairup/python {figure.ratio:.2f}  {verdict_text(figure, quick=args.quick)}")
    save(args.figures, figures)


if __name__ == "__main__":
    main()
