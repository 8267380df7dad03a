"""The standalone ``pairup relay`` process: killed with SIGKILL, restarted, nothing lost."""

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from pairup import protocol as wire

from .relaykit import LOOPBACK, Peer, new_session

PAIRUP = Path(sys.executable).with_name("pairup")


def start_relay(data_dir: Path, home: Path, *options: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRUP_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    process = subprocess.Popen(
        [
            *(str(PAIRUP), "relay", "--host", LOOPBACK, "--port", "0"),
            *("--data-dir", str(data_dir), *options),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (ws://\S+) \(data in .*, epoch (\S+)\)", line)
    assert match, line + (process.stderr.read() if process.poll() is not None else "")
    return process, match.group(1)


def test_a_relay_killed_with_sigkill_loses_no_acknowledged_event(tmp_path):
    data = tmp_path / "relay-data"
    session, secret = new_session()
    acked: list[tuple[str, int]] = []

    async def publish_until_killed(url: str, process: subprocess.Popen[str]) -> None:
        ann = await Peer.join(url, session, secret, "ann", create=True)
        for n in range(200):
            event_id = await ann.publish(event_id=f"ann-{n:06d}")
            (stored,) = await ann.until(wire.Sequenced)
            assert stored.id == event_id
            acked.append((event_id, stored.seq))
            if n == 120:
                process.send_signal(signal.SIGKILL)
                break
        await ann.ws.close()

    async def read_back(url: str) -> tuple[wire.Welcome, list[wire.Sequenced]]:
        ann = await Peer.join(url, session, secret, "ann")
        await ann.ws.send(wire.encode(wire.Resume(after=0)))
        events = await ann.until(wire.Sequenced, count=ann.welcome.last_seq)
        await ann.close()
        return ann.welcome, events

    first, url = start_relay(data, tmp_path)
    try:
        asyncio.run(publish_until_killed(url, first))
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        first.kill()
    second, url = start_relay(data, tmp_path)
    try:
        welcome, events = asyncio.run(read_back(url))
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    assert len(acked) == 121
    assert welcome.last_seq >= len(acked)
    stored = {event.id: event.seq for event in events}
    assert all(stored.get(event_id) == seq for event_id, seq in acked)
    assert [event.seq for event in events] == list(range(1, welcome.last_seq + 1))


def test_a_fault_drill_is_announced_shown_to_participants_and_counted_at_exit(tmp_path):
    spec = "drop=0.5,dup=0.2,delay=0-20ms,seed=4"
    process, url = start_relay(tmp_path / "data", tmp_path, "--chaos", spec)
    session, secret = new_session()

    async def ping_a_while(url: str) -> wire.Welcome:
        ann = await Peer.join(url, session, secret, "ann", create=True)
        for sent in range(1, 41):
            await ann.ws.send(wire.encode(wire.Ping(sent=float(sent))))
        pongs = await ann.until(wire.Pong, count=10)
        assert {pong.sent for pong in pongs} <= set(map(float, range(1, 41)))
        await ann.close()
        return ann.welcome

    try:
        welcome = asyncio.run(ping_a_while(url))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert welcome.chaos == spec
    first, *_, last = stderr.strip().splitlines()
    assert first.startswith(f"pairup relay: FAULT DRILL ON ({spec})")
    counts = re.search(r"(\d+) messages; faults: drop (\d+), dup (\d+), delay (\d+)", last)
    assert counts, last
    messages, drops, dups, delays = map(int, counts.groups())
    assert messages >= 40
    assert 0 < drops < messages
    assert dups > 0
    assert delays > 0
    assert process.returncode == 0
