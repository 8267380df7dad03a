"""A headless peer killed with SIGKILL comes back from its journal and sends what it owed.

The relay is a process of its own, killed first, so the peer's decisions can only reach its
journal: then the peer is killed too, the relay comes back on its data, and the restarted peer
must resend its outbox for the host to see each decision, exactly once.
"""

import re
import signal
import subprocess
import time
from pathlib import Path

from pairup.journal import journal_path, load
from tests.integration.relaykit import LOOPBACK, free_port
from tests.integration.test_headless import (
    PAIRUP,
    environment,
    is_event,
    is_status,
    participants,
)

TITLES = [f"Decision {n} made while the relay was down" for n in range(1, 4)]


def start_relay(tmp_path: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            *(str(PAIRUP), "relay", "--host", LOOPBACK, "--port", str(port)),
            *("--data-dir", str(tmp_path / "relay")),
        ],
        env=environment(tmp_path, "relay"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "listening on" in process.stdout.readline()
    return process


def wait_for_journal(path: Path, titles: list[str], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and all(title in path.read_text() for title in titles):
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never held {titles}")


def test_a_peer_killed_with_unsent_decisions_resends_them_from_its_journal(tmp_path):
    port = free_port()
    relay = start_relay(tmp_path, port)
    try:
        with participants(tmp_path) as launch:
            identity = ("--name", "Bob", "--email", "bob@example.test")
            ann = launch("a", "start", "--headless", "--relay", f"ws://{LOOPBACK}:{port}")
            link = ann.expect(lambda record: record.get("type") == "link", "the link")["link"]
            bob = launch("b", "join", link, "--headless", *identity)
            bob.expect(is_status("connected"), "bob connected")
            # Bob's own join, not Ann's: a decision is his to make once he is in the session.
            ann.expect(
                lambda record: (
                    is_event("participant.joined")(record)
                    and record["event"]["participant"]["name"] == "Bob"
                ),
                "bob joined",
            )

            relay.send_signal(signal.SIGKILL)
            relay.wait()
            bob.expect(is_status("reconnecting"), "bob noticing the relay is gone")
            for title in TITLES:
                bob.send({"cmd": "decide", "title": title})
            session = re.search(r"/s/([^#]+)#", link)
            assert session is not None
            journal = journal_path(tmp_path / "b", session.group(1))
            wait_for_journal(journal, TITLES)
            bob.process.send_signal(signal.SIGKILL)
            bob.process.wait()
            assert {e.title for e in load(journal).pending if e.kind == "decision.recorded"} == set(
                TITLES
            )

            relay = start_relay(tmp_path, port)
            launch("b", "join", link, "--headless", *identity)
            for title in TITLES:
                ann.expect(is_event("decision.recorded", title=title), title, timeout=30)
    finally:
        relay.kill()
        relay.wait()
    stored = load(journal_path(tmp_path / "a", session.group(1)))
    titles = [e.title for e in stored.events if e.kind == "decision.recorded"]
    assert sorted(titles) == sorted(TITLES)
    assert not stored.pending
