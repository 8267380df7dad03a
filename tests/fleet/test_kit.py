"""The fleet kit works: a real three-node JetStream cluster, and the TCP balancer."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import PubAck
from nats.js.errors import APIError, NoStreamResponseError

from tests.fleet.balancer import Balancer
from tests.fleet.cluster import (
    LOOPBACK,
    ClusterNotReady,
    JetStreamCluster,
    need_nats_server_here,
)

EXPECT = "Nats-Expected-Last-Subject-Sequence"
WRONG_LAST_SEQUENCE = 10071


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[JetStreamCluster]:
    need_nats_server_here()
    with JetStreamCluster(tmp_path / "nats") as running:
        yield running
    assert not any(running.alive(i) for i in range(3)), "a nats-server outlived stop()"


def test_urls_name_every_node_on_loopback(tmp_path: Path) -> None:
    kit = JetStreamCluster(tmp_path)
    ports = [url.rsplit(":", 1)[1] for url in kit.urls]
    assert kit.urls == [f"nats://127.0.0.1:{port}" for port in ports]
    assert kit.url == "nats://" + ",".join(f"127.0.0.1:{port}" for port in ports)
    assert len(set(ports)) == 3


async def _publish(
    js: JetStreamContext, subject: str, payload: bytes, headers: dict[str, str], within: float
) -> PubAck:
    """Publish, retrying while the stream has no leader; Nats-Msg-Id makes a retry harmless."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await js.publish(subject, payload, timeout=1.0, headers=headers)
        except (NatsTimeout, NoRespondersError, NoStreamResponseError, APIError) as error:
            if isinstance(error, APIError) and error.code != 503:
                raise
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)


async def _replicas_current(js: JetStreamContext, stream: str, within: float) -> list[str]:
    """Poll stream info until the leader and both followers are current; their names."""
    deadline = time.monotonic() + within
    while True:
        info = await js.stream_info(stream)
        peers = info.cluster.replicas or [] if info.cluster else []
        if info.cluster and len(peers) == 2 and all(p.current and not p.offline for p in peers):
            return sorted([info.cluster.leader or "", *(p.name for p in peers)])
        assert time.monotonic() < deadline, f"replicas never all current: {info.cluster}"
        await asyncio.sleep(0.05)


def _local_last_seq(cluster: JetStreamCluster, index: int, stream: str) -> int:
    """The last sequence of node ``index``'s own replica, from its /jsz."""
    jsz = cluster.monitor(index, "/jsz?accounts=true&streams=true")
    for account in jsz.get("account_details") or []:
        for detail in account.get("stream_detail") or []:
            if detail["name"] == stream:
                return int(detail["state"]["last_seq"])
    return 0


async def _story(cluster: JetStreamCluster) -> None:
    nc = await nats.connect(
        servers=cluster.urls, reconnect_time_wait=0.05, max_reconnect_attempts=-1
    )
    try:
        js = nc.jetstream(timeout=2.0)
        await js.add_stream(name="ROOMS", subjects=["rooms.>"], num_replicas=3)
        assert (await js.publish("rooms.a", b"1")).seq == 1

        with pytest.raises(APIError) as refused:
            await js.publish("rooms.a", b"2", headers={EXPECT: "0"})
        assert refused.value.err_code == WRONG_LAST_SEQUENCE
        assert (await js.publish("rooms.a", b"2", headers={EXPECT: "1"})).seq == 2

        # SIGKILL the stream's leader, the hard case: the other two elect a new one.
        info = await js.stream_info("ROOMS")
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        victim = cluster.names.index(info.cluster.leader or "")
        await asyncio.to_thread(cluster.kill, victim)
        assert not cluster.alive(victim)

        headers = {EXPECT: "2", "Nats-Msg-Id": "three"}
        assert (await _publish(js, "rooms.a", b"3", headers, within=20.0)).seq == 3
        for n in range(4, 54):
            await js.publish("rooms.b", str(n).encode())
        with pytest.raises(APIError) as refused:
            await js.publish("rooms.a", b"late", headers={EXPECT: "2"})
        assert refused.value.err_code == WRONG_LAST_SEQUENCE

        await asyncio.to_thread(cluster.restart, victim)
        assert cluster.alive(victim)
        assert await _replicas_current(js, "ROOMS", within=10.0) == sorted(cluster.names)
        assert _local_last_seq(cluster, victim, "ROOMS") == 53
    finally:
        await nc.close()


def test_r3_stream_outlives_a_killed_node_which_catches_up(cluster: JetStreamCluster) -> None:
    assert all(cluster.healthz(i) is None for i in range(3))
    asyncio.run(_story(cluster))


def test_a_node_that_cannot_start_fails_with_its_log(tmp_path: Path) -> None:
    need_nats_server_here()
    kit = JetStreamCluster(tmp_path)
    taken = int(kit.urls[0].rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((LOOPBACK, taken))
        squatter.listen()
        with pytest.raises(ClusterNotReady, match="node0 \\(exited\\)") as failed:
            kit.start()
    assert "address already in use" in str(failed.value)
    assert not any(kit.alive(i) for i in range(3))


async def _echo_server(name: bytes) -> asyncio.Server:
    """Answers each connection with its name, then echoes."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(name)
        while data := await reader.read(1024):
            writer.write(data)
        writer.close()

    return await asyncio.start_server(serve, LOOPBACK, 0)


async def _who(port: int) -> bytes:
    """Which backend a new connection through the balancer reaches; checks the echo too."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        name = await asyncio.wait_for(reader.readexactly(1), 5.0)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5.0) == b"ping"
        return name
    finally:
        writer.close()


async def _balancing() -> None:
    a, b = await _echo_server(b"a"), await _echo_server(b"b")
    at = {s: (LOOPBACK, int(s.sockets[0].getsockname()[1])) for s in (a, b)}
    async with Balancer([at[a], at[b]]) as balancer:
        assert sorted([await _who(balancer.port) for _ in range(4)]) == [b"a", b"a", b"b", b"b"]
        assert balancer.count == {at[a]: 2, at[b]: 2}

        # A backend that refuses is skipped: every new connection reaches the other.
        a.close()
        await a.wait_closed()
        assert [await _who(balancer.port) for _ in range(3)] == [b"b", b"b", b"b"]
        assert balancer.count == {at[a]: 2, at[b]: 5}

        # Backends replaced at run time; with none accepting, the client is closed.
        b.close()
        await b.wait_closed()
        c = await _echo_server(b"c")
        balancer.backends = [(LOOPBACK, int(c.sockets[0].getsockname()[1]))]
        assert await _who(balancer.port) == b"c"
        c.close()
        await c.wait_closed()
        reader, writer = await asyncio.open_connection(LOOPBACK, balancer.port)
        assert await asyncio.wait_for(reader.read(), 5.0) == b""
        writer.close()
        assert balancer.refused == 1

        # One side ending closes the other: the backend sees the client leave.
        d = await _echo_server(b"d")
        balancer.backends = [(LOOPBACK, int(d.sockets[0].getsockname()[1]))]
        reader, writer = await asyncio.open_connection(LOOPBACK, balancer.port)
        assert await asyncio.wait_for(reader.readexactly(1), 5.0) == b"d"
        writer.close()
        await writer.wait_closed()
        deadline = time.monotonic() + 5.0
        while balancer.active:
            assert time.monotonic() < deadline, "the balancer kept a closed connection"
            await asyncio.sleep(0.01)
        d.close()
        await d.wait_closed()


def test_balancer_spreads_connections_and_skips_refusing_backends() -> None:
    asyncio.run(_balancing())
