"""The relay's own failures, each said once in one line with what to do: a full disk while it
runs, and a damaged store when it starts (``pairup relay``, or the relay inside ``pairup
start``). The disk fills for real as far as SQLite can tell: ``PRAGMA max_page_count`` on the
store's connection makes it answer "database or disk is full", as a full disk does. The damage
is done to a real store file."""

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from pairup import protocol as wire
from pairup.config import load_config
from pairup.launch import LaunchError, embedded_relay
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.relay.core.events import sequenced
from pairup.relay.store import Store, StoreDamaged
from pairup.session import events as ev

from .relaykit import Peer, PinnedJitter, new_session, next_frame, running_relay

BIG = '"' + "x" * 40_000 + '"'
"""A body that needs new pages in the store: a full disk refuses it."""


def run(coroutine):
    return asyncio.run(coroutine)


def fill_the_disk(store: Store) -> None:
    """SQLite may not grow the file by one more page, as if the disk were full."""
    with store._lock:
        (pages,) = store._db.execute("PRAGMA page_count").fetchone()
        store._db.execute(f"PRAGMA max_page_count = {pages}")


def free_space(store: Store) -> None:
    with store._lock:
        store._db.execute("PRAGMA max_page_count = 1073741823")


async def closed_with(ws: ClientConnection) -> tuple[int | None, str, list[wire.RelayFrame]]:
    """The close code and reason of a connection the relay closes, and what came before."""
    frames = []
    async with asyncio.timeout(5):
        try:
            while True:
                frames.append(await next_frame(ws))
        except ConnectionClosed:
            pass
    return ws.close_code, ws.close_reason or "", frames


def test_a_full_disk_is_one_line_of_log_and_each_participant_is_told(tmp_path, caplog):
    """The events are not acknowledged, the participant hears that the relay's disk is full
    (its pairup keeps the event and sends it again), the log says it once however often it
    happens, and once there is space again the same event is stored."""
    caplog.set_level(logging.INFO, logger="pairup.relay")

    async def scenario():
        async with running_relay(tmp_path) as relay:
            session, secret = new_session()
            ann = await Peer.join(relay.url, session, secret, "ann", create=True)
            await ann.publish()
            await ann.until(wire.Sequenced)
            fill_the_disk(relay.store)
            for attempt in range(3):
                if attempt:
                    ann = await Peer.join(relay.url, session, secret, "ann")
                await ann.publish(body=BIG, event_id="ann-big-event")
                code, reason, frames = await closed_with(ann.ws)
                assert code == wire.Close.STORAGE_FAILED
                assert reason == (
                    "the relay's disk is full: your pairup keeps your events and sends them again"
                )
                assert not [frame for frame in frames if isinstance(frame, wire.Sequenced)]
            assert [event.seq for event in relay.store.events_after(session, 0)] == [1]

            free_space(relay.store)
            ann = await Peer.join(relay.url, session, secret, "ann")
            await ann.publish(body=BIG, event_id="ann-big-event")
            (stored,) = await ann.until(wire.Sequenced)
            assert (stored.seq, stored.id) == (2, "ann-big-event")

    run(scenario())
    said = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.levelname for record in said] == ["ERROR", "WARNING"]
    full, again = said
    assert full.message == (
        f"{tmp_path / 'relay.sqlite3'}: cannot append events: the disk is full; free space in "
        f"{tmp_path}; no event is acknowledged until then: participants keep theirs and send "
        "them again"
    )
    assert full.exc_info is None
    assert again.message == "the relay stores events again"


def test_a_link_shows_that_the_relays_disk_is_full_and_keeps_its_event(tmp_path):
    async def scenario():
        async with running_relay(tmp_path / "relay") as relay:
            join = wire.JoinLink(relay.url, *new_session())
            ann = Link(join, "ann", tmp_path / "ann", create=True, rng=PinnedJitter())
            seen: list[tuple[str, str]] = []
            ann.listeners.append(lambda: seen.append((ann.status.state, ann.status.reason)))
            running = asyncio.create_task(ann.run())
            await until(lambda: ann.status.state == "connected")
            fill_the_disk(relay.store)
            decision = ev.DecisionRecorded(
                id=new_id(),
                actor="ann",
                at=ann.now(),
                decision_id=new_id(),
                title="Keep the relay's data on a disk with room",
                context="c" * 20_000,
                decision="d" * 15_000,
                consequences="q",
            )
            await ann.submit(decision)
            full = (
                "reconnecting",
                "the relay's disk is full: your pairup keeps your events and sends them again",
            )
            await until(lambda: full in seen)
            assert ann.pending, "the event waits in the outbox"

            free_space(relay.store)
            await until(lambda: relay.store.session(join.session).last_seq == 1)
            assert [event.id for event in relay.store.events_after(join.session, 0)] == [
                decision.id
            ]
            await ann.close()
            await running

    run(scenario())


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _overwrite(path: Path) -> None:
    """Three pages of the middle of the file become noise, as a failing disk leaves them."""
    with path.open("r+b") as file:
        file.seek(path.stat().st_size // 2 // 4096 * 4096)
        file.write(bytes(range(256)) * 48)


def _not_sqlite(path: Path) -> None:
    path.write_text("this is not the relay's store\n" * 200)


DAMAGE = {"truncated": _truncate, "overwritten": _overwrite, "not SQLite": _not_sqlite}


def damaged_store(path: Path, damage: Callable[[Path], None]) -> Path:
    """A real store with a session of 3,000 events, closed, then damaged."""
    with Store.open(path) as store:
        store.create_session("session-a", b"v" * 32, created_at=1.0, max_participants=8)
        store.append(
            [
                sequenced(
                    "session-a",
                    seq=seq,
                    id=f"evt-{seq:06d}",
                    sender="ann",
                    at=2.0,
                    body='{"text": "' + "t" * 200 + '"}',
                )
                for seq in range(1, 3001)
            ]
        )
    damage(path)
    return path


def says_what_to_do(message: str, path: Path) -> None:
    assert "\n" not in message
    assert message.startswith(f"{path} is damaged (")
    assert "move it and its -wal and -shm files aside" in message
    assert "participants' pairups re-seed their sessions from their journals" in message


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_store_is_refused_at_start_with_what_to_do(tmp_path, damage):
    path = damaged_store(tmp_path / "relay.sqlite3", DAMAGE[damage])
    with pytest.raises(StoreDamaged) as refused:
        Store.open(path)
    says_what_to_do(str(refused.value), path)


def test_the_relay_inside_pairup_start_says_the_same(tmp_path):
    env = {
        "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
        "PAIRUP_DATA_DIR": str(tmp_path / "data"),
        "PAIRUP_RELAY_HOST": "127.0.0.1",
        "PAIRUP_RELAY_PORT": "0",
    }
    config = load_config(cwd=tmp_path, env=env).config
    (config.data_dir / "relay").mkdir(parents=True)
    path = damaged_store(config.data_dir / "relay" / "relay.sqlite3", _truncate)

    async def scenario():
        with pytest.raises(LaunchError) as refused:
            async with embedded_relay(config):
                pass
        message = str(refused.value)
        assert message.startswith("cannot open the relay's store: ")
        says_what_to_do(message.removeprefix("cannot open the relay's store: "), path)

    run(scenario())
