"""How far apart two participants see the roles rotate: the time between their two screens.

A rotation is the moment a pair swaps seats, so both must see it together; a driver who
learns of it a second after the navigator has already started talking over them. Each run
starts a session of two real participants, ``pairup start --headless`` and ``pairup join
LINK --headless`` (the host's relay on loopback), with short turns and no breaks, starts the
first turn and lets the countdown rotate the roles several times. This process reads each
participant's JSON lines on a thread of its own and stamps each line as it arrives; the figure
is, for each rotation, the time between its arrival from one participant and from the other.

    python -m bench.rotation            # 3 sessions of 8 rotations, 2 s turns
    python -m bench.rotation --quick    # 1 session of 2 rotations, 1 s turns: still works?
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from bench.figures import Figure, Goal, add_options, counted, percentile, save, verdict_text

PAIRUP = Path(sys.executable).with_name("pairup")
TIMEOUT = 30.0
"""Seconds to wait for any one thing a participant should say: joining, the next rotation."""

Record = dict[str, Any]


class Participant:
    """A headless participant in a process of its own, its stdout lines stamped on arrival."""

    def __init__(self, command: list[str], env: dict[str, str], scratch: Path) -> None:
        self.log = scratch / f"{command[1]}.stderr"
        with self.log.open("w") as errors:
            self.process = subprocess.Popen(
                command,
                cwd=scratch,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
            )
        self.lines: queue.Queue[tuple[float, Record]] = queue.Queue()
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[bytes]) -> None:
        for line in stdout:
            self.lines.put((time.monotonic(), json.loads(line)))

    def next(self, wanted: Callable[[Record], bool]) -> tuple[float, Record]:
        """The next line that is ``wanted``, with when it arrived; the others are passed over."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                stamp, record = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(
                    f"{self.process.args[1]} said nothing expected for {TIMEOUT:.0f}s; "
                    f"its stderr: {self.log.read_text()[-500:]!r}"
                ) from None
            if wanted(record):
                return stamp, record

    def send(self, command: Record) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def rotated(record: Record) -> bool:
    """A rotation that applied: each participant asks for it when its countdown runs out, and
    the relay's order makes the first one count and the others ``ignored``."""
    return (
        record["type"] == "event"
        and record["event"]["kind"] == "roles.rotated"
        and "ignored" not in record
    )


def session_gaps(rotations: int, turn: str, scratch: Path) -> list[float]:
    """Milliseconds between the two participants' sight of each of ``rotations`` rotations."""
    home = scratch / "home"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PAIRUP_RELAY_HOST": "127.0.0.1",
        "PAIRUP_RELAY_ADVERTISE": "127.0.0.1",
        "PAIRUP_SESSION_BREAK_EVERY": "0",
    }
    host = Participant(
        [str(PAIRUP), "start", "--headless", "--turn", turn, "--name", "Ann"],
        {**env, "PAIRUP_DATA_DIR": str(scratch / "ann")},
        scratch,
    )
    guest: Participant | None = None
    try:
        _, record = host.next(lambda record: record["type"] == "link")
        link = record["link"]
        if not link.startswith("wss://127.0.0.1:"):
            raise RuntimeError(f"the host's join link is not on loopback: {link}")
        guest = Participant(
            [str(PAIRUP), "join", link, "--headless", "--name", "Bob"],
            {**env, "PAIRUP_DATA_DIR": str(scratch / "bob")},
            scratch,
        )
        _, record = guest.next(lambda record: record["type"] == "link")
        bob = record["participant"]
        host.next(
            lambda record: (
                record["type"] == "event"
                and record["event"]["kind"] == "participant.joined"
                and record["event"]["participant"]["id"] == bob
            )
        )
        host.send({"cmd": "start"})
        gaps = []
        for _ in range(rotations):
            seen_by_host, by_host = host.next(rotated)
            seen_by_guest, by_guest = guest.next(rotated)
            if by_host["seq"] != by_guest["seq"]:
                raise RuntimeError("the two participants saw different rotations")
            gaps.append(abs(seen_by_host - seen_by_guest) * 1000)
        host.send({"cmd": "end"})
        return gaps
    finally:
        for participant in (guest, host):
            if participant is not None:
                participant.stop()


def rotation_figures(runs: int, rotations: int, turn: str, scratch: Path) -> list[Figure]:
    gaps = []
    for run in range(runs):
        (scratch / str(run)).mkdir()
        gaps.append(session_gaps(rotations, turn, scratch / str(run)))
    note = f"sessions of {rotations} rotations, {turn} turns"
    return [
        Figure(
            name=f"rotation seen on both clients, gap {name}",
            unit="ms",
            pairup=tuple(percentile(session, fraction) for session in gaps),
            goal=goal,
            decimals=1,
            note=note,
        )
        for name, fraction, goal in (("p50", 0.5, None), ("p99", 0.99, Goal(100.0)))
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="the gap between two clients seeing a rotation")
    add_options(parser, "1 session of 2 rotations, 1 s turns: only checks it still works")
    args = parser.parse_args()
    runs, rotations, turn = (1, 2, "1s") if args.quick else (3, 8, "2s")
    with tempfile.TemporaryDirectory() as scratch:
        figures = rotation_figures(runs, rotations, turn, Path(scratch))
    sessions = f"{counted(runs, 'session')} of {counted(rotations, 'rotation')}"
    print(f"rotation seen by both participants, {sessions}")
    for figure in figures:
        print(f"  gap {figure.name.rsplit(' ', 1)[1]}  {figure.shown(figure.pairup)}")
        if figure.goal is not None:
            print(f"  {verdict_text(figure, quick=args.quick)}")
    save(args.figures, figures)


if __name__ == "__main__":
    main()
