"""Time to first paint of pairup's screen in a real pseudo-terminal, against a bare Textual app.

Each run starts a fresh process on a new 80x24 pseudo-terminal and times how long it takes
from the start of the process to the first frame that shows the screen's content: for
pairup, ``pairup start`` up to its main screen (the line that will carry the join link); for
the baseline, a Textual app with a header, one line of text and a footer, up to that line.
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
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

PAIRUP = Path(sys.executable).with_name("pairup")
MARKER = re.compile(rb"Join link")
LINK = re.compile(rb"ws://127\.0\.0\.1:\d+/s/")
TIMEOUT = 60.0
GOAL = 1.25


def bare_app() -> None:
    from textual.app import App, ComposeResult
    from textual.widgets import Footer, Header, Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Header()
            yield Static("Join link")
            yield Footer()

    Bare().run()


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


def main() -> None:
    parser = argparse.ArgumentParser(description="TUI first paint, pairup against bare Textual")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare:
        bare_app()
        return
    runs = 1 if args.quick else 15
    timings: dict[str, list[float]] = {"bare": [], "pairup": [], "link": []}
    with tempfile.TemporaryDirectory() as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "TERM": "xterm-256color",
            "PAIRUP_RELAY_HOST": "127.0.0.1",
        }
        commands = {
            "bare": [sys.executable, "-m", "bench.tui", "--bare"],
            "pairup": [str(PAIRUP), "start", "--name", "Ann", "--email", "ann@example.com"],
        }
        for run in range(runs):
            data = {"PAIRUP_DATA_DIR": str(Path(scratch) / f"data-{run}")}
            (bare,) = first_paint(commands["bare"], {**env, **data}, (MARKER,))
            painted, linked = first_paint(commands["pairup"], {**env, **data}, (MARKER, LINK))
            timings["bare"].append(bare)
            timings["pairup"].append(painted)
            timings["link"].append(linked)
    bare, ours = (statistics.median(timings[kind]) for kind in ("bare", "pairup"))
    print(f"TUI first paint in an 80x24 pseudo-terminal, median of {runs} runs each")
    rows = (
        ("bare Textual app", "bare"),
        ("pairup start", "pairup"),
        ("  link on screen", "link"),
    )
    for name, kind in rows:
        spread = f"{min(timings[kind]) * 1000:.0f}-{max(timings[kind]) * 1000:.0f} ms"
        print(f"  {name:<17} {statistics.median(timings[kind]) * 1000:6.0f} ms  (spread {spread})")
    ratio = ours / bare
    verdict = (
        "quick mode: not judged"
        if args.quick
        else (f"goal <= {GOAL}: {'met' if ratio <= GOAL else 'MISSED'}")
    )
    print(f"  ratio pairup/bare, first paint {ratio:.2f}  ({verdict})")


if __name__ == "__main__":
    main()
