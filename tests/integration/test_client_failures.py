"""A participant whose journal cannot be kept: a full disk, a damaged file.

Ann hosts with ``pairup start --headless`` (its relay inside, on loopback); Bob joins with the
real ``pairup join`` in a subprocess, headless or with the terminal UI on a pseudo-terminal.
Each test breaks Bob's journal one way and checks that pairup says so in one line a person can
act on, exits without a traceback, never sends what it could not keep, and never deletes a
file it cannot read.

A full disk is simulated for real, without root: Bob's process runs with ``RLIMIT_FSIZE``, so
a write past that size fails in the kernel with ``EFBIG`` (Python ignores ``SIGXFSZ``), which
exercises the very write path a full disk does; pairup treats it as one. (A tiny tmpfs needs a
mount, and a read-only folder stops nobody who runs the tests as root.)
"""

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pairup import protocol as wire

from .test_headless import (
    PAIRUP,
    WAIT,
    Participant,
    Record,
    environment,
    guest,
    host,
    is_event,
    is_status,
    participants,
)

FILE_LIMIT = 16 * 1024
"""Bob's largest file: his journal holds the join and a little more, then the disk is full."""
BIG = "x" * 15_000
"""A decision's context that takes Bob's journal past :data:`FILE_LIMIT`."""
FULL = re.compile(r"cannot write the session's journal in (\S+): .*free some space")


def limited(command: list[str]) -> list[str]:
    """``command`` run with no file larger than :data:`FILE_LIMIT`: a small Python sets the
    limit, then becomes the command (exec), so the limit holds for it alone."""
    code = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({FILE_LIMIT}, {FILE_LIMIT})); "
        "os.execv(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", code, *command]


def limited_participant(args: list[str], env: dict[str, str], cwd: Path) -> Participant:
    """A headless participant whose disk fills up at :data:`FILE_LIMIT` bytes a file."""
    return Participant(args, env, cwd, run=limited)


def bob_args(link: str) -> list[str]:
    return ["join", link, "--headless", "--name", "Bob", "--email", "bob@example.test"]


def is_error(record: Record) -> bool:
    return record.get("type") == "error"


def bob_joined(ann: Participant) -> None:
    ann.expect(
        lambda record: (
            is_event("participant.joined")(record)
            and record["event"]["participant"]["name"] == "Bob"
        ),
        "Bob in the session",
    )


def one_line_failure(bob: Participant) -> str:
    """Bob's process ends with exit 1 and one line on stderr, no traceback: that line. What
    he printed on stdout is read into ``bob.seen``."""
    bob.rest(timeout=WAIT)
    assert bob.process.wait(timeout=WAIT) == 1, bob.stderr
    text = "".join(bob.stderr)
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.startswith("pairup: ")]
    assert len(lines) == 1, text
    return lines[0]


def test_a_full_disk_refuses_the_command_and_ends_the_guest_with_the_reason(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "Ann connected")
        bob = limited_participant(bob_args(link), environment(tmp_path, "b"), tmp_path)
        try:
            bob.expect(is_status("connected"), "Bob connected")
            bob_joined(ann)
            bob.send({"cmd": "decide", "title": "Too big for the disk", "context": BIG})

            line = one_line_failure(bob)
            (refused,) = [record for record in bob.seen if is_error(record)]
            assert FULL.search(refused["error"]), refused
            (offline,) = [record for record in bob.seen if is_status("offline")(record)]
            assert offline["reason"] == refused["error"]
            assert line == f"pairup: {refused['error']}"
            assert not any(record.get("type") == "sent" for record in bob.seen)
        finally:
            bob.stop()
        # Never sent, so nobody else ever heard of it.
        ann.send({"cmd": "lesson", "text": "after Bob's disk filled"})
        ann.expect(is_event("lesson.noted"), "Ann carries on")
        assert not any(is_event("decision.recorded")(record) for record in ann.seen)


def test_a_full_disk_while_journaling_a_partners_event_ends_the_guest(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "Ann connected")
        bob = limited_participant(bob_args(link), environment(tmp_path, "b"), tmp_path)
        try:
            bob.expect(is_status("connected"), "Bob connected")
            bob_joined(ann)
            ann.send({"cmd": "decide", "title": "Fills Bob's disk", "context": BIG})

            offline = bob.expect(is_status("offline"), "Bob offline, not reconnecting")
            assert FULL.search(offline["reason"]), offline
            assert not any(is_status("reconnecting")(record) for record in bob.seen)
            assert not any(is_event("decision.recorded")(record) for record in bob.seen)
            assert one_line_failure(bob) == f"pairup: {offline['reason']}"
        finally:
            bob.stop()


def test_a_full_disk_ends_the_terminal_ui_with_the_reason(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "Ann connected")
        env = {**environment(tmp_path, "b"), "TERM": "xterm-256color"}
        with Terminal(
            [str(PAIRUP), "join", link, "--name", "Bob", "--email", "bob@example.test"], env
        ) as bob:
            bob_joined(ann)
            ann.send({"cmd": "decide", "title": "Fills Bob's disk", "context": BIG})
            assert bob.wait() == 1
        shown = bob.output()
        assert "Traceback" not in shown, shown
        folder = tmp_path / "b" / "sessions"
        assert f"pairup: cannot write the session's journal in {folder}: " in shown, shown


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "garbage in the middle": lambda data: b"\n".join(
        [*data.split(b"\n")[:2], b"{not json", *data.split(b"\n")[2:]]
    ),
    "a header that is not JSON": lambda data: b"PAIRUP JOURNAL v1\n" + data.split(b"\n", 1)[1],
    "a file that is not a journal": lambda data: bytes(range(256)) * 4,
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_journal_is_moved_aside_and_the_same_command_takes_part_again(tmp_path, damage):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "Ann connected")
        ann.send({"cmd": "decide", "title": "Kept by the relay"})
        ann.expect(is_event("decision.recorded"), "the decision")
        first = guest(launch, link)
        first.expect(is_event("decision.recorded"), "Bob has the decision")
        first.stop()
        journal = tmp_path / "b" / "sessions" / f"{wire.JoinLink.parse(link).session}.jsonl"
        damaged = DAMAGE[damage](journal.read_bytes())
        journal.write_bytes(damaged)

        again = guest(launch, link)
        line = one_line_failure(again)
        (aside,) = journal.parent.glob(f"{journal.name}.damaged-*")
        assert aside.read_bytes() == damaged, "nothing of it is lost"
        assert not journal.exists()
        assert line.startswith(f"pairup: {journal} ")
        assert f"moved it aside, to {aside.name} beside it, and deleted nothing" in line
        assert "run the same pairup command again" in line

        third = guest(launch, link)
        third.expect(is_event("decision.recorded", title="Kept by the relay"), "caught up")
        assert third.process.poll() is None


def test_a_torn_last_line_is_dropped_and_said_once(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "Ann connected")
        first = guest(launch, link)
        first.expect(is_status("connected"), "Bob connected")
        bob_joined(ann)
        first.stop()
        journal = tmp_path / "b" / "sessions" / f"{wire.JoinLink.parse(link).session}.jsonl"
        whole = journal.read_bytes()
        # A crash in the middle of writing the next event.
        journal.write_bytes(whole + b'{"id":"evt-cut-short","kind":"lesson.no')

        again = guest(launch, link)
        again.expect(is_status("connected"), "Bob back")
        again.send({"cmd": "lesson", "text": "Crashes happen."})
        again.expect(is_event("lesson.noted"), "his lesson, after the cut")
        said = [line for line in again.stderr if "cut off mid-write" in line]
        assert len(said) == 1, again.stderr
        assert str(journal) in said[0]
        assert journal.read_bytes().startswith(whole)
        assert b"evt-cut-short" not in journal.read_bytes()
        assert again.process.poll() is None


class Terminal:
    """A pairup with its terminal UI on a pseudo-terminal of 100x30, its files limited to
    :data:`FILE_LIMIT`; everything it writes to the terminal is kept."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        import fcntl
        import struct
        import termios

        self._master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.process = subprocess.Popen(
            limited(args),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
        )
        os.close(slave)
        self._chunks: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:
                return
            if not data:
                return
            self._chunks.append(data)

    def wait(self) -> int:
        return self.process.wait(timeout=WAIT)

    def output(self) -> str:
        self._reader.join(timeout=WAIT)
        return b"".join(self._chunks).decode("utf-8", "replace")

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while self._reader.is_alive() and time.monotonic() < deadline:
            self._reader.join(timeout=0.1)
        os.close(self._master)
