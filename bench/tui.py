"""Time to first paint of pairup's screen in a real pseudo-terminal, against a bare Textual app.

Each run starts a fresh process on a new 80x24 pseudo-terminal and times how long it takes
from the start of the process to the first frame that shows the screen's content: for
pairup, ``pairup start`` up to its main screen (the line that will carry the join link); for
the baseline, a Textual app with a header, one line of text and a footer, up to that line
(``bench.textual_app``, which imports Textual alone, so the baseline carries no cost of the
benchmark's own).
Runs alternate between the two, so both see the same machine. pairup opens its session
behind the first frame; the time until the join link itself is on screen (embedded relay
started, session opened) is reported too.

    python -m bench.tui            # 15 runs of each
    python -m bench.tui --quick    # 1 run of each, only checks the benchmark still works
"""

import argparse
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

from bench.figures import Figure, Goal, add_options, counted, save, verdict_text

PAIRUP = Path(sys.executable).with_name("pairup")
MARKER = re.compile(rb"Join link")
LINK = re.compile(rb"wss://127\.0\.0\.1:\d+/s/")
TIMEOUT = 60.0
GOAL = 1.25


def first_paint(
    command: list[str], env: dict[str, str], markers: tuple[re.Pattern[bytes], ...]
) -> list[float]:
    """Seconds from starting ``command`` on a new 80x24 terminal to each marker on its screen."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        start_new_session=True,
    )
    os.close(follower)
    seen = b""
    found: list[float] = []
    try:
        while len(found) < len(markers):
            if time.perf_counter() - started > TIMEOUT:
                raise RuntimeError(f"no first paint within {TIMEOUT:.0f}s: {seen[-300:]!r}")
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(leader, 65536)
                except OSError as error:
                    raise RuntimeError(
                        f"the program ended before painting: {seen[-300:]!r}"
                    ) from error
            while len(found) < len(markers) and markers[len(found)].search(seen):
                found.append(time.perf_counter() - started)
        return found
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        os.close(leader)


def tui_figures(runs: int, scratch: Path) -> tuple[list[Figure], str]:
    """The first-paint figure, and a report with the time until the join link is on screen."""
    timings: dict[str, list[float]] = {"bare": [], "pairup": [], "link": []}
    home = scratch / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "xterm-256color",
        "PAIRUP_RELAY_HOST": "127.0.0.1",
    }
    commands = {
        "bare": [sys.executable, "-m", "bench.textual_app"],
        "pairup": [str(PAIRUP), "start", "--name", "Ann", "--email", "ann@example.com"],
    }
    for run in range(runs):
        data = {"PAIRUP_DATA_DIR": str(scratch / f"data-{run}")}
        (bare,) = first_paint(commands["bare"], {**env, **data}, (MARKER,))
        painted, linked = first_paint(commands["pairup"], {**env, **data}, (MARKER, LINK))
        timings["bare"].append(bare * 1000)
        timings["pairup"].append(painted * 1000)
        timings["link"].append(linked * 1000)
    figure = Figure(
        name="TUI first paint",
        unit="ms",
        pairup=tuple(timings["pairup"]),
        baseline=tuple(timings["bare"]),
        baseline_name="bare Textual app",
        goal=Goal(GOAL, on_ratio=True),
        decimals=0,
        note="80x24 pseudo-terminal",
    )
    report = [
        f"TUI first paint in an 80x24 pseudo-terminal, {counted(runs, 'run')} each",
        f"  bare Textual app   {figure.shown(timings['bare'])}",
        f"  pairup start       {figure.shown(timings['pairup'])}",
        f"    link on screen   {figure.shown(timings['link'])}",
        f"  ratio pairup/bare, first paint {figure.ratio:.2f}  ",
    ]
    return [figure], "\n".join(report)


def main() -> None:
    parser = argparse.ArgumentParser(description="TUI first paint, pairup against bare Textual")
    add_options(parser, "1 run of each: only checks the benchmark still works")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        figures, report = tui_figures(1 if args.quick else 15, Path(scratch))
    print(report + verdict_text(figures[0], quick=args.quick))
    save(args.figures, figures)


if __name__ == "__main__":
    main()
