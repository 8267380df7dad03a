"""``pairup start --headless`` and ``pairup join --headless`` as real processes on loopback.

Each process gets its own HOME, XDG dirs and data dir under ``tmp_path``, and explicit names and
emails, so nothing of the machine's own config or git identity is read; a relay inside pairup
binds to loopback unless told otherwise, so no test listens beyond it. Stdout lines are read
by a thread into a queue and awaited with a deadline; every process is killed in ``finally``.
"""

import json
import os
import queue
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from pairup import protocol as wire

PAIRUP = Path(sys.executable).with_name("pairup")
WAIT = 10.0
DECISION = {
    "cmd": "decide",
    "title": "Use SQLite for the log",
    "context": "c",
    "decision": "d",
    "consequences": "q",
}

Record = dict[str, Any]


def environment(tmp_path: Path, who: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAIRUP_", "XDG_", "GIT_"))
    }
    home = tmp_path / f"home-{who}"
    home.mkdir(exist_ok=True)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PAIRUP_DATA_DIR=str(tmp_path / who),
        PAIRUP_RELAY_HOST="127.0.0.1",
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


class Participant:
    """One headless pairup process: JSON lines out, commands in."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        cwd: Path,
        *,
        run: Callable[[list[str]], list[str]] = list,
    ) -> None:
        """``run`` turns the command line into the one started (a wrapper that sets a limit,
        say); by default it is the command itself."""
        self.process = subprocess.Popen(
            run([str(PAIRUP), *args]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=env,
            cwd=cwd,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[Record] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def send(self, command: Record | str) -> None:
        assert self.process.stdin is not None
        text = command if isinstance(command, str) else json.dumps(command)
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def next_record(self, deadline: float) -> Record | None:
        """The next stdout line as JSON; None at end of output. Fails at the deadline."""
        remaining = deadline - time.monotonic()
        try:
            line = self.lines.get(timeout=max(0.0, remaining))
        except queue.Empty:
            raise AssertionError(self._story("no output before the deadline")) from None
        if line is None:
            return None
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(self._story(f"stdout line is not JSON: {line!r}")) from None
        assert isinstance(record, dict), line
        self.seen.append(record)
        return record

    def expect(self, wanted: Callable[[Record], bool], what: str, timeout: float = WAIT) -> Record:
        """Read stdout until a line ``wanted`` accepts, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            record = self.next_record(deadline)
            if record is None:
                raise AssertionError(self._story(f"output ended before {what}"))
            if wanted(record):
                return record

    def rest(self, timeout: float) -> list[Record]:
        """Every further stdout line until the output ends, which must happen in time."""
        deadline = time.monotonic() + timeout
        records = []
        while (record := self.next_record(deadline)) is not None:
            records.append(record)
        return records

    def _story(self, problem: str) -> str:
        lines = "\n".join(json.dumps(record) for record in self.seen[-20:])
        code = self.process.poll()
        return (
            f"{problem}\nexit code: {code}\nstdout so far:\n{lines}\n"
            f"stderr:\n{''.join(self.stderr)[-3000:]}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


@contextmanager
def participants(tmp_path: Path) -> Iterator[Callable[..., Participant]]:
    started: list[Participant] = []

    def launch(who: str, *args: str, cwd: Path | None = None) -> Participant:
        participant = Participant(list(args), environment(tmp_path, who), cwd or tmp_path)
        started.append(participant)
        return participant

    try:
        yield launch
    finally:
        for participant in started:
            participant.stop()


def host(
    launch: Callable[..., Participant], cwd: Path | None = None, extra: tuple[str, ...] = ()
) -> tuple[Participant, str]:
    ann = launch(
        "a",
        "start",
        "--headless",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--name",
        "Ann",
        "--email",
        "ann@example.test",
        *extra,
        cwd=cwd,
    )
    first = ann.expect(lambda record: True, "the first line")
    assert first["type"] == "link", first
    # The relay inside pairup serves wss:// with its own certificate, pinned by the link.
    assert first["link"].startswith("wss://127.0.0.1:"), first
    assert wire.JoinLink.parse(first["link"]).pin, first
    assert wire.JoinLink.parse(first["watch"]) == wire.JoinLink.parse(first["link"]).watching()
    return ann, first["link"]


def guest(launch: Callable[..., Participant], link: str, cwd: Path | None = None) -> Participant:
    return launch(
        "b", "join", link, "--headless", "--name", "Bob", "--email", "bob@example.test", cwd=cwd
    )


def is_status(state: str) -> Callable[[Record], bool]:
    return lambda record: record.get("type") == "status" and record.get("state") == state


def is_event(kind: str, **fields: object) -> Callable[[Record], bool]:
    def wanted(record: Record) -> bool:
        event = record.get("event", {})
        return (
            record.get("type") == "event"
            and event.get("kind") == kind
            and all(event.get(key) == value for key, value in fields.items())
        )

    return wanted


def test_a_decision_typed_into_the_host_reaches_the_guest(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "ann is connected")
        bob = guest(launch, link)
        assert bob.expect(lambda record: True, "bob's first line") == {
            "type": "link",
            "link": link.split("#")[0] + "#…",
            "participant": bob.seen[0]["participant"],
        }
        bob.expect(is_status("connected"), "bob is connected")
        bob.expect(is_event("participant.joined", actor=bob.seen[0]["participant"]), "bob joins")

        ann.send(DECISION)
        sent = ann.expect(lambda record: record.get("type") == "sent", "ann's receipt")
        assert sent["kind"] == "decision.recorded"
        line = bob.expect(
            is_event("decision.recorded", title="Use SQLite for the log"), "bob sees the decision"
        )
        event = line["event"]
        assert event["id"] == sent["id"]
        assert (event["context"], event["decision"], event["consequences"]) == ("c", "d", "q")
        assert line["seq"] == event["seq"]
        assert "ignored" not in line
        assert bob.process.poll() is None
        assert ann.process.poll() is None


def test_a_bad_command_line_gets_an_error_line_and_the_process_carries_on(tmp_path):
    with participants(tmp_path) as launch:
        ann, _ = host(launch)
        ann.expect(is_status("connected"), "ann is connected")
        for bad in ("this is not json", "[1, 2]", '{"cmd": "fly"}', '{"cmd": "decide"}'):
            ann.send(bad)
            error = ann.expect(lambda record: record.get("type") != "event", f"an answer to {bad}")
            assert error["type"] == "error", error
            assert error["error"]
            assert ann.process.poll() is None
        ann.send(DECISION)
        ann.expect(is_event("decision.recorded", title=DECISION["title"]), "the decision")
        assert ann.process.poll() is None
        assert ann.stderr == []


@pytest.mark.parametrize(
    "link",
    [
        "not a link",
        "ftp://127.0.0.1:9/s/abcdefghij#" + "A" * 22,
        "ws://127.0.0.1:9/sessions/abcdefghij#" + "A" * 22,
        "ws://127.0.0.1:9/s/abcdefghij",
        "ws://127.0.0.1:9/s/abcdefghij#tooshort",
        "ws://127.0.0.1:9/s/abcdefghij?x=1#" + "A" * 22,
    ],
)
def test_join_with_a_malformed_link_exits_2_with_one_line_on_stderr(tmp_path, link):
    result = subprocess.run(
        [str(PAIRUP), "join", link, "--headless", "--name", "Bob", "--email", "bob@example.test"],
        env=environment(tmp_path, "b"),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pairup: ")
    assert "join link" in lines[0]


def wrong_secret(link: str) -> str:
    join = wire.JoinLink.parse(link)
    other = secrets.token_bytes(wire.SECRET_BYTES)
    assert other != join.secret
    return str(wire.JoinLink(join.relay, join.session, other, pin=join.pin))


def test_join_with_a_wrong_secret_ends_offline(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "ann is connected")
        bob = guest(launch, wrong_secret(link))
        offline = bob.expect(is_status("offline"), "bob is refused")
        assert "not admitted" in offline["reason"]
        assert not any(is_status("connected")(record) for record in bob.seen)
        bob.close_stdin()
        assert bob.rest(timeout=5) == [], "nothing may follow the offline status"
        assert bob.process.wait(timeout=5) is not None
        assert ann.process.poll() is None
    # Refused, so never part of the session: no journal, and nothing for pairup sessions.
    assert list((tmp_path / "b").rglob("*.jsonl")) == []
    listed = subprocess.run(
        [str(PAIRUP), "sessions"],
        env=environment(tmp_path, "b"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    assert listed.stdout.startswith("No sessions recorded yet"), listed.stdout


def test_a_refused_join_exits_without_waiting_for_stdin_to_close(tmp_path):
    """Someone who types ``pairup join WRONG-LINK --headless`` must not be left hanging."""
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        ann.expect(is_status("connected"), "ann is connected")
        bob = guest(launch, wrong_secret(link))
        bob.expect(is_status("offline"), "bob is refused")
        try:
            bob.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pytest.fail("pairup join stays running after it went offline, until stdin closes")


def test_a_command_piped_in_before_the_link_connects_is_not_lost(tmp_path):
    """``echo '{"cmd": "decide", ...}' | pairup start --headless``: the command is already
    waiting on stdin when the process starts."""
    with participants(tmp_path) as launch:
        ann = launch(
            "a",
            "start",
            "--headless",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--name",
            "Ann",
            "--email",
            "ann@example.test",
        )
        ann.send(DECISION)
        ann.expect(is_event("decision.recorded", title=DECISION["title"]), "the piped-in decision")
        assert ann.process.poll() is None


def test_a_host_running_a_fault_drill_announces_it_and_says_so_when_connected(tmp_path):
    with participants(tmp_path) as launch:
        spec = "drop=0.05,delay=0-10ms,seed=3"
        ann = launch(
            "a",
            *("start", "--headless", "--host", "127.0.0.1", "--port", "0", "--chaos", spec),
            *("--name", "Ann", "--email", "ann@example.test"),
        )
        connected = ann.expect(is_status("connected"), "connected")
        assert connected["chaos"] == spec
        ann.send({"cmd": "end"})
        ann.close_stdin()
        ann.rest(timeout=WAIT)
        assert ann.process.wait(timeout=WAIT) == 0
        deadline = time.monotonic() + WAIT
        while "chaos drill (" not in "".join(ann.stderr) and time.monotonic() < deadline:
            time.sleep(0.05)
        lines = "".join(ann.stderr).splitlines()
        assert f"FAULT DRILL ON ({spec})" in lines[0]
        assert f"chaos drill ({spec}):" in lines[-1]
