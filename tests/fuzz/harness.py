"""A real relay on a thread of its own, a watch for its errors, and sessions that must keep working.

Hypothesis runs synchronous test functions one example at a time, but the relay under fuzz has to
keep running between examples and serve a well-behaved session all along. So the relay, and the
clients that talk to it, live on an event loop in a background thread (:class:`LoopThread`), and
tests hand it coroutines to run.

"No unhandled exception" is checked where exceptions would surface: ERROR records of the relay's
and websockets' loggers (websockets logs a handler that raised as "connection handler failed"
before it closes with 1011), and the event loop's exception handler (a callback that raised, a
task whose exception nobody retrieved). :class:`Watch` collects both.
"""

import asyncio
import contextlib
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

from pairup import protocol as wire
from pairup.relay.server import Limits, Relay
from pairup.relay.store import Store

from ..integration.relaykit import LOOPBACK, Peer, new_session, next_frame
from .cases import PARTICIPANT, Gate

T = TypeVar("T")

WAIT = 10.0


class Watch(logging.Handler):
    """Every ERROR record of the watched loggers and every exception an event loop reports.

    Loggers are global: records are taken only from ``thread`` (where the watched loop runs),
    so relays of other tests, which may fail on purpose, do not count.
    """

    LOGGERS = ("pairup.relay", "websockets")

    def __init__(self, thread: int | None = None) -> None:
        super().__init__(logging.ERROR)
        self.thread = thread if thread is not None else threading.get_ident()
        self.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread:
            return
        with self._lock:
            self.problems.append(self.format(record))

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """An event loop's exception handler: what asyncio would otherwise only log."""
        error = context.get("exception")
        with self._lock:
            self.problems.append(f"event loop: {context.get('message')}: {error!r}")

    def __enter__(self) -> Self:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)

    def forgive(self, known: Callable[[str], bool]) -> int:
        """Drop the problems ``known`` recognises (a bug with a test of its own); how many."""
        with self._lock:
            kept = [problem for problem in self.problems if not known(problem)]
            forgiven, self.problems = len(self.problems) - len(kept), kept
        return forgiven

    def assert_quiet(self) -> None:
        with self._lock:
            problems, self.problems = self.problems, []
        assert not problems, "the relay failed:\n" + "\n\n".join(problems)


class LoopThread:
    """An asyncio event loop running in a daemon thread, watched, until the ``with`` ends."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.watch = Watch()
        self.loop.set_exception_handler(self.watch.loop_exception)
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._thread.ident is not None
        self.watch.thread = self._thread.ident
        self.watch.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(WAIT)
        self.loop.close()
        self.watch.__exit__()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coroutine`` on the loop and wait for its result."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise


class Listener:
    """A participant whose frames are read as they come, as a real client's are.

    A peer that stopped reading would be cut off by the relay as too slow, so every peer that
    stays connected through a fuzz run needs one of these.
    """

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.events: list[wire.Sequenced] = []
        self.pongs: set[float] = set()
        self._reading = asyncio.create_task(self._read(), name=f"listener-{peer.participant}")
        self._pings = 0.0

    @classmethod
    async def join(
        cls, url: str, session: str, secret: bytes, participant: str, **how: Any
    ) -> Self:
        return cls(await Peer.join(url, session, secret, participant, **how))

    async def _read(self) -> None:
        while True:
            frame = await next_frame(self.peer.ws)
            if isinstance(frame, wire.Sequenced):
                self.events.append(frame)
            elif isinstance(frame, wire.Pong):
                self.pongs.add(frame.sent)

    def assert_reading(self) -> None:
        """Fail with the reason if the connection ended or its reader broke."""
        if self._reading.done():
            raise AssertionError(
                f"{self.peer.participant}'s connection ended: {self._reading.exception()!r}, "
                f"close code {self.peer.ws.close_code}"
            )

    async def round_trip(self) -> None:
        """A ping answered: the relay still serves this connection."""
        self._pings += 1.0
        sent = self._pings
        await self.peer.ws.send(wire.encode(wire.Ping(sent=sent)))
        async with asyncio.timeout(WAIT):
            while sent not in self.pongs:
                self.assert_reading()
                await asyncio.sleep(0.005)

    async def close(self) -> None:
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reading
        await self.peer.close()


class Steady:
    """Two participants of a session of their own, exchanging events all along.

    Ann publishes every ``interval`` seconds; :meth:`check` asserts that Bob has received every
    event since the last check, in order and without a gap, and that a new one still gets
    through. It is what a team on the same relay would see while someone fuzzes it.
    """

    def __init__(self, ann: Listener, bob: Listener, interval: float) -> None:
        self.ann = ann
        self.bob = bob
        self.interval = interval
        self._checked = 0
        self._talking = asyncio.create_task(self._talk(), name="steady-talk")

    @classmethod
    async def start(cls, url: str, interval: float = 0.05) -> Self:
        session, secret = new_session()
        ann = await Listener.join(url, session, secret, "ann", create=True)
        bob = await Listener.join(url, session, secret, "bob")
        return cls(ann, bob, interval)

    async def _talk(self) -> None:
        while True:
            await self.ann.peer.publish()
            await asyncio.sleep(self.interval)

    async def check(self) -> None:
        if self._talking.done():
            raise AssertionError(f"the steady session stopped: {self._talking.exception()!r}")
        for listener in (self.ann, self.bob):
            listener.assert_reading()
        marker = await self.ann.peer.publish()
        async with asyncio.timeout(WAIT):
            while marker not in {event.id for event in self.bob.events[self._checked :]}:
                self.bob.assert_reading()
                await asyncio.sleep(0.005)
        seqs = [event.seq for event in self.bob.events]
        assert seqs == list(range(1, len(seqs) + 1)), "the steady session missed an event"
        assert len(seqs) > self._checked, "the steady session made no progress"
        self._checked = len(seqs)

    async def stop(self) -> None:
        self._talking.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._talking
        for listener in (self.ann, self.bob):
            await listener.close()


class RelayUnderFuzz(LoopThread):
    """A relay on an ephemeral loopback port, in its own thread, with a steady session beside
    the session under fuzz, and a bystander in that one who must never be disturbed."""

    def __init__(self, data_dir: Path, limits: Limits) -> None:
        super().__init__("relay-under-fuzz")
        self.data_dir = data_dir
        self.limits = limits
        self.session, self.secret = new_session()
        self.gate = Gate(self.session, self.secret)
        """The fuzzed session's secret, and who is bound to which key in it."""
        self.port = 0

    def __enter__(self) -> Self:
        super().__enter__()
        self.call(self._start())
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(Exception):
            self.call(self._stop())
        super().__exit__()

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}"

    async def _start(self) -> None:
        self.store = await asyncio.to_thread(Store.open, self.data_dir / "relay.sqlite3")
        self.relay = Relay(self.store, limits=self.limits)
        self.server = await self.relay.start(LOOPBACK, 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.steady = await Steady.start(self.url)
        self.bystander = await Listener.join(
            self.url, self.session, self.secret, "bystander", create=True
        )
        # The fuzzer enters once with its own key, as a participant would: its id is its own
        # from then on, whatever the fuzzed hellos claim.
        fuzzer = await Peer.join(self.url, self.session, self.secret, PARTICIPANT)
        await fuzzer.close()
        for participant in ("bystander", PARTICIPANT):
            self.gate.entered(participant)

    async def _stop(self) -> None:
        await self.steady.stop()
        await self.bystander.close()
        await self.relay.stop(self.server)
        self.store.close()

    async def _still_serving(self) -> None:
        await self.steady.check()
        await self.bystander.round_trip()

    def check(self) -> None:
        """The relay raised nothing, the steady session flows, the bystander is still served."""
        self.watch.assert_quiet()
        self.call(self._still_serving())
        self.watch.assert_quiet()


def start_relay_process(
    data_dir: Path, home: Path, stderr: Path, *options: str
) -> tuple[subprocess.Popen[str], str]:
    """``pairup relay`` on an ephemeral loopback port, its HOME and XDG dirs under ``home``,
    with ``options`` (``--limit`` ones, say); its stderr goes to a file, so a chatty relay
    never blocks on a full pipe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PAIRUP_", "XDG_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    pairup = Path(sys.executable).with_name("pairup")
    command = [
        *(str(pairup), "relay", "--host", LOOPBACK, "--port", "0"),
        *("--data-dir", str(data_dir), *options),
    ]
    with stderr.open("w") as errors:
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"listening on (ws://\S+) ", line)
    if match is None:
        process.kill()
        raise AssertionError(f"the relay did not start: {line}{stderr.read_text()}")
    return process, match.group(1)
