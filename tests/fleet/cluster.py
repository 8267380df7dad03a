"""A real NATS JetStream cluster of ``nats-server`` processes on loopback.

Each node listens on 127.0.0.1 only: clients on one port, monitoring (HTTP) on another and, in
a cluster of more than one, routes on a third. Ports are picked once and kept, so a node that is
killed and restarted comes back on the same addresses with the same store.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 30.0
STOP_GRACE = 5.0
POLL = 0.05
LOG_TAIL = 20

# Debian installs nats-server in /usr/sbin, which is not on an ordinary user's PATH.
_ALSO_LOOK_IN = ("/usr/sbin", "/usr/local/sbin", "/usr/local/bin")


class NatsServerMissing(RuntimeError):
    """``nats-server`` is not installed."""


class ClusterNotReady(RuntimeError):
    """The cluster, or one node of it, did not become healthy in time."""


def need_nats_server() -> str:
    """The path of the ``nats-server`` binary; raises ``NatsServerMissing`` if there is none."""
    found = shutil.which("nats-server")
    if found is None:
        found = shutil.which("nats-server", path=os.pathsep.join(_ALSO_LOOK_IN))
    if found is None:
        raise NatsServerMissing(
            "nats-server is not installed: the relay fleet's tests start a real JetStream "
            "cluster; install it with `sudo apt-get install nats-server`"
        )
    return found


def need_nats_server_here() -> None:
    """Skip a test when nats-server is missing, except under CI, where that is a failure."""
    import pytest

    try:
        need_nats_server()
    except NatsServerMissing as missing:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(missing))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


@dataclass
class _Node:
    name: str
    port: int
    monitor_port: int
    route_port: int | None
    home: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def config(self) -> Path:
        return self.home / "nats.conf"

    @property
    def log(self) -> Path:
        return self.home / "nats.log"


class JetStreamCluster:
    """``nodes`` nats-server processes with JetStream, clustered over loopback routes.

    The methods block (they poll HTTP and wait for processes): from async code, call them
    through ``asyncio.to_thread``.
    """

    def __init__(self, scratch: Path, nodes: int = 3, *, cluster_name: str = "fleet") -> None:
        if nodes < 1:
            raise ValueError("a cluster has at least one node")
        self.scratch = scratch
        self.cluster_name = cluster_name
        clustered = nodes > 1
        self._nodes = [
            _Node(
                name=f"node{index}",
                port=free_port(),
                monitor_port=free_port(),
                route_port=free_port() if clustered else None,
                home=scratch / f"node{index}",
            )
            for index in range(nodes)
        ]
        self._binary: str | None = None

    # Addresses

    @property
    def names(self) -> list[str]:
        """Each node's ``server_name``, as stream and cluster info report peers and leaders."""
        return [node.name for node in self._nodes]

    @property
    def urls(self) -> list[str]:
        """One client URL per node, for ``nats.connect(servers=...)``."""
        return [f"nats://{LOOPBACK}:{node.port}" for node in self._nodes]

    @property
    def url(self) -> str:
        """All nodes in one URL, as ``pairup relay --store`` takes them."""
        return "nats://" + ",".join(f"{LOOPBACK}:{node.port}" for node in self._nodes)

    @property
    def monitor_urls(self) -> list[str]:
        """Each node's HTTP monitoring base URL (``/healthz``, ``/jsz``, ``/varz``...)."""
        return [f"http://{LOOPBACK}:{node.monitor_port}" for node in self._nodes]

    def log(self, index: int) -> Path:
        """The file that node ``index`` writes its output to (appended to across restarts)."""
        return self._nodes[index].log

    # Life cycle

    def start(self) -> Self:
        """Write each node's config, start them all, and return once JetStream is ready.

        Ready means every node's ``/healthz`` says ok (it has contact with a meta leader and
        its streams are current) and every node's ``/jsz`` names a meta leader of a meta group
        of all the nodes: an R3 stream can be created at once.
        """
        self._binary = need_nats_server()
        atexit.register(self.stop)
        try:
            for node in self._nodes:
                node.home.mkdir(parents=True, exist_ok=True)
                node.config.write_text(self._config(node))
                self._spawn(node)
            self._wait(range(len(self._nodes)), self._node_ready, "the cluster to be ready")
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` and wait until the process is gone."""
        process = self._nodes[index].process
        if process is None or process.poll() is not None:
            return
        process.kill()
        process.wait(STOP_GRACE)

    def restart(self, index: int) -> None:
        """Start node ``index`` again (same ports and store) and wait until it has caught up.

        Caught up means its own ``/healthz`` says ok: it is in contact with the meta leader and
        every stream and consumer it holds a replica of is current.
        """
        node = self._nodes[index]
        if self.alive(index):
            raise RuntimeError(f"{node.name} is running; kill it before restarting it")
        self._spawn(node)
        self._wait([index], self._node_ready, f"{node.name} to catch up")

    def stop(self) -> None:
        """SIGTERM every running node, then SIGKILL those still running after a few seconds."""
        atexit.unregister(self.stop)
        running = [n.process for n in self._nodes if n.process and n.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def alive(self, index: int) -> bool:
        """Whether node ``index``'s process is running."""
        process = self._nodes[index].process
        return process is not None and process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    # Monitoring

    def healthz(self, index: int) -> str | None:
        """None if node ``index``'s ``/healthz`` says ok, else why not."""
        try:
            answer = self.monitor(index, "/healthz")
        except (OSError, ValueError) as error:
            return f"no answer: {error}"
        if answer.get("status") == "ok":
            return None
        return str(answer.get("error") or answer)

    def jsz(self, index: int) -> dict[str, Any]:
        """Node ``index``'s ``/jsz`` (JetStream state, with ``meta_cluster``)."""
        return self.monitor(index, "/jsz")

    def monitor(self, index: int, path: str) -> dict[str, Any]:
        """GET ``path`` (say ``/jsz?streams=true``) from node ``index``'s monitoring port."""
        url = self.monitor_urls[index] + path
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return dict(json.load(response))
        except urllib.error.HTTPError as refused:
            # healthz answers 503 with a JSON body that says why.
            with refused:
                return dict(json.load(refused))

    # Inner workings

    def _config(self, node: _Node) -> str:
        lines = [
            f"server_name: {json.dumps(node.name)}",
            f'listen: "{LOOPBACK}:{node.port}"',
            f'http: "{LOOPBACK}:{node.monitor_port}"',
            "jetstream {",
            f"  store_dir: {json.dumps(str(node.home / 'store'))}",
            "}",
        ]
        if node.route_port is not None:
            routes = [
                f'    "nats-route://{LOOPBACK}:{other.route_port}"'
                for other in self._nodes
                if other is not node
            ]
            lines += [
                "cluster {",
                f"  name: {json.dumps(self.cluster_name)}",
                f'  listen: "{LOOPBACK}:{node.route_port}"',
                "  routes: [",
                *routes,
                "  ]",
                "}",
            ]
        return "\n".join(lines) + "\n"

    def _spawn(self, node: _Node) -> None:
        assert self._binary is not None
        with node.log.open("ab") as log:
            log.write(f"==== pairup test kit: starting {node.name}\n".encode())
            log.flush()
            node.process = subprocess.Popen(
                [self._binary, "-c", str(node.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _node_ready(self, index: int) -> str | None:
        if not self.alive(index):
            return "exited"
        unhealthy = self.healthz(index)
        if unhealthy is not None:
            return unhealthy
        if len(self._nodes) == 1:
            return None
        try:
            meta = self.jsz(index).get("meta_cluster") or {}
        except (OSError, ValueError) as error:
            return f"no answer: {error}"
        if not meta.get("leader"):
            return "no meta leader"
        if meta.get("cluster_size") != len(self._nodes):
            return f"meta group of {meta.get('cluster_size')}, not {len(self._nodes)}"
        return None

    def _wait(self, indexes: Iterable[int], ready: Callable[[int], str | None], what: str) -> None:
        indexes = list(indexes)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            why = {i: ready(i) for i in indexes}
            if all(reason is None for reason in why.values()):
                return
            exited = [i for i in indexes if not self.alive(i)]
            if exited or time.monotonic() > deadline:
                raise ClusterNotReady(self._report(what, why, exited))
            time.sleep(POLL)

    def _report(self, what: str, why: dict[int, str | None], exited: list[int]) -> str:
        waited = "a node exited" if exited else f"gave up after {READY_TIMEOUT:.0f} s"
        parts = [f"waiting for {what}: {waited}"]
        for index, node in enumerate(self._nodes):
            state = "exited" if index in exited else (why.get(index) or "ok")
            try:
                tail = node.log.read_text(errors="replace").splitlines()[-LOG_TAIL:]
            except OSError:
                tail = ["(no log)"]
            parts.append(f"--- {node.name} ({state}), last lines of {node.log}:")
            parts += tail
        return "\n".join(parts)
