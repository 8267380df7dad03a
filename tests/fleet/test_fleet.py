"""A relay fleet for real: ``pairup relay --store nats://…`` processes on a three-node JetStream
cluster, participants on different relays of one session, relays killed with SIGKILL and a
JetStream node killed under them (ADR 35)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.msg import Msg
from websockets.asyncio.client import connect

from pairup import protocol as wire
from pairup.link.client import Link
from pairup.link.joining import Introductions, in_the_session
from pairup.link.timekeeper import new_id
from pairup.relay.fleet import FleetRelay
from pairup.relay.jetstream import JetStreamStore
from pairup.relay.limits import Limits
from pairup.session import events as ev
from tests.fleet.balancer import Balancer
from tests.fleet.cluster import JetStreamCluster, need_nats_server_here
from tests.fleet.relays import FleetRelays
from tests.integration.relaykit import Peer, hello_text, new_session, refusal


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JetStreamCluster]:
    need_nats_server_here()
    with JetStreamCluster(tmp_path_factory.mktemp("jetstream")) as running:
        yield running


@pytest.fixture
def relays(cluster: JetStreamCluster, tmp_path: Path) -> Iterator[FleetRelays]:
    with FleetRelays(tmp_path, cluster.url, 2, "--limit", "reject_delay=0.05") as running:
        yield running
        assert "Traceback" not in running.errors(), running.errors()


async def _two_relays_serve_one_session_in_one_order(relays: FleetRelays) -> None:
    session, secret = new_session()
    one, two = relays.urls
    ann = await Peer.join(one, session, secret, "ann", create=True)
    bob = await Peer.join(two, session, secret, "bob")
    (present,) = await ann.until(wire.Presence)
    while present.connected != ("ann", "bob"):
        (present,) = await ann.until(wire.Presence)
    sent = []
    for _ in range(20):
        sent += [await ann.publish(), await bob.publish()]
    seen_by_ann = await ann.until(wire.Sequenced, count=40, timeout=20)
    seen_by_bob = await bob.until(wire.Sequenced, count=40, timeout=20)
    assert [e.seq for e in seen_by_ann] == list(range(1, 41))
    assert [(e.seq, e.id) for e in seen_by_ann] == [(e.seq, e.id) for e in seen_by_bob]
    assert sorted(e.id for e in seen_by_ann) == sorted(sent)
    # A resend of a stored event, to the other relay: acknowledged with its offset, not stored.
    await bob.publish(event_id=sent[0])
    (ack,) = await bob.until(wire.Ack)
    assert (ack.id, ack.seq) == (sent[0], next(e.seq for e in seen_by_ann if e.id == sent[0]))
    # A newcomer on either relay resumes the same log.
    carol = await Peer.join(two, session, secret, "carol")
    await carol.send(wire.Resume(after=0))
    replayed = await carol.until(wire.Sequenced, count=40, timeout=20)
    assert [(e.seq, e.id) for e in replayed] == [(e.seq, e.id) for e in seen_by_ann]
    for peer in (ann, bob, carol):
        await peer.close()


def test_two_relays_serve_one_session_in_one_order(relays: FleetRelays) -> None:
    asyncio.run(_two_relays_serve_one_session_in_one_order(relays))


async def _the_host_lets_in_and_takes_out_someone_at_another_relay(
    relays: FleetRelays,
) -> None:
    session, secret = new_session()
    one, two = relays.urls
    ann = await Peer.join(one, session, secret, "ann", create=True, approve=True)
    bob = await Peer.join(two, session, secret, "bob", waits=True)
    knock = None
    while knock is None:
        (present,) = await ann.until(wire.Presence, timeout=10)
        knock = next((k for k in present.waiting if k.participant == "bob"), None)
    await ann.send(wire.Approve(participant="bob", identity=knock.identity))
    (welcome,) = await bob.until(wire.Welcome, timeout=10)
    assert welcome.host == "ann"
    while "bob" not in present.connected:
        (present,) = await ann.until(wire.Presence, timeout=10)
    # A seat counts wherever it is taken: a session of two is full with one on each relay.
    await ann.send(wire.Remove(participant="bob"))
    code, _ = await refusal(bob.ws)
    assert code == wire.Close.REMOVED
    again = await Peer.join(one, session, secret, "bob", waits=True)
    await again.close()
    await ann.close()


def test_the_host_lets_in_and_takes_out_someone_at_another_relay(relays: FleetRelays) -> None:
    asyncio.run(_the_host_lets_in_and_takes_out_someone_at_another_relay(relays))


async def _a_session_of_two_is_full_with_one_on_each_relay(relays: FleetRelays) -> None:
    session, secret = new_session()
    one, two = relays.urls
    ann = await Peer.join(one, session, secret, "ann", create=True, max_participants=2)
    bob = await Peer.join(two, session, secret, "bob")
    (present,) = await ann.until(wire.Presence)
    while present.connected != ("ann", "bob"):
        (present,) = await ann.until(wire.Presence)
    # Relay one has heard of bob on relay two by now (ann saw him).
    ws = await connect(f"{one}/s/{session}", compression=None)
    await ws.send(hello_text(ws, one, session, secret, "carol"))
    code, _ = await refusal(ws)
    assert code == wire.Close.SESSION_FULL
    await ann.close()
    await bob.close()


def test_a_session_of_two_is_full_with_one_on_each_relay(relays: FleetRelays) -> None:
    asyncio.run(_a_session_of_two_is_full_with_one_on_each_relay(relays))


# -- participants whose relay or JetStream node dies --------


@contextlib.asynccontextmanager
async def pair(url: str, scratch: Path, names: tuple[str, ...]) -> AsyncIterator[list[Link]]:
    """A session of real links through ``url``, the first its host, all in it."""
    session, secret = new_session()
    join = wire.JoinLink(url, session, secret)
    links = []
    tasks = []
    for index, name in enumerate(names):
        link = Link(
            join,
            name,
            scratch / name,
            create=index == 0,
            ping_interval=0.5,
            resend_after=0.5,
        )
        me = ev.Participant(id=name, name=name.upper(), email=f"{name}@fleet.test")
        Introductions(link, me, ev.SessionSettings(turn_seconds=900) if index == 0 else None)
        tasks.append(asyncio.create_task(link.run()))
        links.append(link)
        await in_the_session(link, name, seconds=30)
    try:
        yield links
    finally:
        for link in links:
            await link.close()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


async def decide(link: Link, count: int, tag: str) -> list[str]:
    made = []
    for number in range(count):
        event = ev.DecisionRecorded(
            id=new_id(),
            actor=link.participant,
            at=link.now(),
            decision_id=new_id(),
            title=f"{tag} {number}",
        )
        made.append(event.id)
        await link.submit(event)
    return made


async def converged(links: list[Link], made: list[str], store: str, seconds: float = 60) -> None:
    """Every link has confirmed the same log, and JetStream's log of the session holds every
    decision once, at offsets 1, 2, 3… with nothing twice."""
    async with asyncio.timeout(seconds):
        while (
            any(link.pending for link in links)
            or len({link.confirmed.last_seq for link in links}) != 1
        ):
            await asyncio.sleep(0.05)
    fleet = await JetStreamStore.connect(store)
    try:
        logged = await fleet.events(links[0].join.session)
    finally:
        await fleet.close()
    ids = [event.id for event in logged]
    assert [event.seq for event in logged] == list(range(1, len(logged) + 1))
    assert len(ids) == len(set(ids)), "an event stored twice"
    assert set(made) <= set(ids), "a decision lost"
    assert links[0].confirmed.last_seq == len(logged)


async def _a_relay_killed_with_sigkill_loses_nothing(
    cluster: JetStreamCluster, tmp_path: Path
) -> None:
    with FleetRelays(tmp_path, cluster.url, 3) as relays:
        async with Balancer(relays.addresses) as balancer:
            url = f"ws://127.0.0.1:{balancer.port}"
            async with pair(url, tmp_path / "peers", ("ann", "bob", "cal")) as links:
                made = await decide(links[0], 5, "before")
                for index in range(3):
                    relays.kill(index)  # Everyone's relay dies in turn; the others answer.
                    for link in links:
                        made += await decide(link, 3, f"while relay {index} is down")
                    await converged(links, made, cluster.url)
                    relays.start(index)
                assert [link.confirmed.last_seq for link in links] == [
                    links[0].confirmed.last_seq
                ] * 3
        assert "Traceback" not in relays.errors(), relays.errors()


def test_a_relay_killed_with_sigkill_loses_nothing(
    cluster: JetStreamCluster, tmp_path: Path
) -> None:
    asyncio.run(_a_relay_killed_with_sigkill_loses_nothing(cluster, tmp_path))


def _stream_leader(cluster: JetStreamCluster) -> int:
    """The node that leads pairup's stream."""
    for index in range(len(cluster.urls)):
        if not cluster.alive(index):
            continue
        streams = cluster.monitor(index, "/jsz?streams=true&raft=true").get("account_details")
        for account in streams or []:
            for stream in account.get("stream_detail") or []:
                if stream.get("name") == "PAIRUP":
                    leader = (stream.get("cluster") or {}).get("leader")
                    if leader in cluster.names:
                        return cluster.names.index(leader)
    raise AssertionError("no node leads the PAIRUP stream")


async def _a_jetstream_node_killed_under_a_session_loses_nothing(
    tmp_path: Path,
) -> None:
    need_nats_server_here()
    with (
        JetStreamCluster(tmp_path / "jetstream") as cluster,
        FleetRelays(tmp_path, cluster.url, 2) as relays,
    ):
        one, two = relays.urls
        async with pair(one, tmp_path / "peers", ("ann",)) as hosts:
            join = hosts[0].join
            guest_url = wire.JoinLink(two, join.session, join.secret)
            bob = Link(guest_url, "bob", tmp_path / "bob", ping_interval=0.5, resend_after=0.5)
            Introductions(bob, ev.Participant(id="bob", name="BOB", email="bob@fleet.test"), None)
            task = asyncio.create_task(bob.run())
            await in_the_session(bob, "bob", seconds=30)
            links = [hosts[0], bob]
            made = await decide(hosts[0], 5, "before")
            leader = _stream_leader(cluster)
            await asyncio.to_thread(cluster.kill, leader)
            for link in links:
                made += await decide(link, 5, "with a node down")
            await converged(links, made, cluster.url, seconds=90)
            await asyncio.to_thread(cluster.restart, leader)
            made += await decide(bob, 5, "after")
            await converged(links, made, cluster.url)
            await bob.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        assert "Traceback" not in relays.errors(), relays.errors()


def test_a_jetstream_node_killed_under_a_session_loses_nothing(tmp_path: Path) -> None:
    asyncio.run(_a_jetstream_node_killed_under_a_session_loses_nothing(tmp_path))


# -- the store: expiry, epochs --------


async def _sessions_expire_alike_for_every_relay_by_the_clock_given(
    cluster: JetStreamCluster,
) -> None:
    store = await JetStreamStore.connect(cluster.url)
    other = await JetStreamStore.connect(cluster.url)
    try:
        assert store.epoch == other.epoch
        now = time.time()
        unused, idle, busy = (new_session()[0] for _ in range(3))
        for session in (unused, idle, busy):
            await store.create_session(
                session,
                b"v" * 32,
                watch_verifier=b"",
                host="ann",
                approve=False,
                created_at=now - 7200,
                max_participants=2,
                restored=False,
            )
        await other.touch(busy, now)
        expired = await other.expire(now - 3600, unused_before=now - 3600)
        assert set(expired) >= {unused, idle}
        assert busy not in expired
        assert await store.load(unused) is None
        assert await store.load(busy) is not None
    finally:
        await store.close()
        await other.close()


def test_sessions_expire_alike_for_every_relay_by_the_clock_given(
    cluster: JetStreamCluster,
) -> None:
    asyncio.run(_sessions_expire_alike_for_every_relay_by_the_clock_given(cluster))


# -- the command line --------


def _relay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pairup", "relay", "--host", "127.0.0.1", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--store", "redis://127.0.0.1:1"), "expected nats://HOST:PORT"),
        (("--store", "nats://127.0.0.1:1"), "cannot reach JetStream at nats://127.0.0.1:1"),
        (("--store", "nats://127.0.0.1:1", "--replicas", "9"), "--replicas 9"),
    ],
)
def test_a_store_it_cannot_use_is_one_line_that_says_what_to_do(
    args: tuple[str, ...], says: str, tmp_path: Path
) -> None:
    done = _relay(*args, "--data-dir", str(tmp_path))
    assert done.returncode != 0
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


async def _made(cluster: JetStreamCluster) -> None:
    await (await JetStreamStore.connect(cluster.url)).close()


def test_a_relay_asking_for_other_replicas_than_the_stream_has_is_refused_with_the_way_out(
    cluster: JetStreamCluster, tmp_path: Path
) -> None:
    asyncio.run(_made(cluster))  # The stream is there, on three nodes, whichever test ran first.
    done = _relay("--store", cluster.url, "--replicas", "1", "--data-dir", str(tmp_path))
    assert done.returncode != 0
    assert "--replicas 3" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


# -- a relay whose consumer lost its way --------------------------------------------------------


class Deaf(FleetRelay):
    """A relay of a fleet whose consumer of the log hands it nothing."""

    def _followed(self, session: str, message: Msg) -> None:
        pass


async def _a_commit_the_consumer_never_hands_back_is_read_from_the_log(
    cluster: JetStreamCluster,
) -> None:
    store = await JetStreamStore.connect(cluster.url)
    relay = Deaf(store, limits=Limits(presence_interval=0.2))
    server = await relay.start("127.0.0.1", 0)
    try:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        session, secret = new_session()
        ann = await Peer.join(url, session, secret, "ann", create=True)
        sent = await ann.publish()
        (event,) = await ann.until(wire.Sequenced, timeout=10)
        assert (event.seq, event.id) == (1, sent)
        await ann.close()
    finally:
        await relay.stop(server)
        await store.close()


def test_a_commit_the_consumer_never_hands_back_is_read_from_the_log(
    cluster: JetStreamCluster,
) -> None:
    asyncio.run(_a_commit_the_consumer_never_hands_back_is_read_from_the_log(cluster))
