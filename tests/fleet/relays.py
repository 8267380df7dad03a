"""Relay processes of a fleet: ``pairup relay --store`` on one JetStream cluster, killable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Self

from tests.fleet.cluster import LOOPBACK, free_port


class FleetRelays:
    """``count`` relay processes on fixed loopback ports, sharing the cluster at ``store``."""

    def __init__(self, scratch: Path, store: str, count: int, *extra: str) -> None:
        self.scratch = scratch
        self.store = store
        self.extra = extra
        self.ports = [free_port() for _ in range(count)]
        self.processes: list[subprocess.Popen[bytes] | None] = [None] * count
        self.lives = [0] * count

    @property
    def urls(self) -> list[str]:
        return [f"ws://{LOOPBACK}:{port}" for port in self.ports]

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [(LOOPBACK, port) for port in self.ports]

    def start(self, index: int | None = None) -> Self:
        """Start one relay (or all of them) and wait until it listens."""
        for each in range(len(self.ports)) if index is None else (index,):
            while not self._started(each):
                # Its first start only: the port free a moment ago was taken before this
                # relay bound it, and nothing knows the port yet. Another one.
                self.ports[each] = free_port()
        return self

    def _started(self, each: int) -> bool:
        """Start relay ``each``: whether it listens, or ``False`` when its port was taken
        on its first start. Anything else is a failure."""
        self.lives[each] += 1
        log = self.scratch / f"relay{each}-{self.lives[each]}.log"
        command = [
            *(sys.executable, "-m", "pairup", "relay", "--host", LOOPBACK),
            *("--port", str(self.ports[each]), "--store", self.store),
            *("--data-dir", str(self.scratch / f"relay{each}"), "-v", *self.extra),
        ]
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.processes[each] = process
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if "listening on" in line:
            return True
        process.kill()
        process.wait()
        said = log.read_text()
        if self.lives[each] == 1 and "address already in use" in said:
            self.lives[each] = 0
            return False
        raise RuntimeError(f"relay {each} did not start: {line!r}; {said}")

    def kill(self, index: int) -> None:
        """SIGKILL: no goodbye to anyone, nothing flushed."""
        process = self.processes[index]
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in self.processes:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            if process is not None and process.poll() is None:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def errors(self) -> str:
        """What the relays logged above INFO: tracebacks, warnings."""
        lines = []
        for log in sorted(self.scratch.glob("relay*.log")):
            for line in log.read_text(errors="replace").splitlines():
                if " INFO " not in line:
                    lines.append(f"{log.name}: {line}")
        return "\n".join(lines)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            # The relays that did start go with the failure, not on after the test.
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
