"""The relay's guards that meet the process and its log rather than the rules (those are in
:mod:`pairup.relay.core`, ADR 25 and ADR 28):

- :func:`raise_file_limit`: the file limit the relay's connections are capped below;
- :class:`AcceptErrors` and :class:`StoreTrouble`: a flood or a full disk says so once, not
  once per connection or commit.
"""

import contextlib
import logging
import resource
import threading
import time
from collections.abc import Callable

from pairup.relay.store import StoreDamaged, StoreError, StoreFull


def raise_file_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit where the system
    allows it, and return the soft limit then in force: the relay's connections are capped
    below it (ADR 25)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < wanted:
        # Where it is not allowed (macOS caps it below its "unlimited"), the soft one holds.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 1 << 20 if soft == resource.RLIM_INFINITY else soft


class AcceptErrors(logging.Filter):
    """For asyncio's logger: "socket.accept() out of system resource" once a minute, in one
    line, instead of a traceback for every connection it could not accept.

    The caps keep the relay's connections below the file limit, but the limit is the whole
    process's (``pairup start`` runs a screen and git beside the relay), and asyncio logs the
    error up to its backlog times at every retry: the adversarial pass saw 28 MB in 30 s.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._said_at: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith("socket.accept() out of system resource"):
            return True
        now = self.clock()
        if self._said_at is not None and now - self._said_at < self.interval:
            return False
        self._said_at = now
        record.msg = (
            "cannot accept connections: this process has as many files open as it may; "
            "lower --limit connections, or raise the file limit (ulimit -n, LimitNOFILE=)"
        )
        record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True


class StoreTrouble:
    """A failing store said once in the log, with what to do, not once per commit or
    connection; said again only after it has been over (a commit went through) or when it
    changes. Called from the writer's thread and the event loop both."""

    def __init__(self, log: logging.Logger) -> None:
        self._log = log
        self._lock = threading.Lock()
        self._said: type[StoreError] | None = None
        self.reason = "the relay could not store events"
        """The latest failure as participants are told it, in the close frame's 123 bytes."""

    def report(self, error: StoreError) -> None:
        kind = type(error)
        with self._lock:
            self.reason = close_reason(error)
            if kind is self._said:
                return
            self._said = kind
        if isinstance(error, StoreFull):
            self._log.error(
                "%s; no event is acknowledged until then: participants keep theirs and send "
                "them again",
                error,
            )
        else:
            self._log.error("%s", error)

    def over(self) -> None:
        """A commit went through: the next failure is news again."""
        if self._said is None:
            return  # Every commit comes here: no lock unless there was trouble.
        with self._lock:
            said, self._said = self._said, None
        if said is not None:
            self._log.warning("the relay stores events again")


def close_reason(error: StoreError) -> str:
    """What participants are told when the store fails them: their pairup shows it while it
    keeps their events and reconnects."""
    if isinstance(error, StoreFull):
        return "the relay's disk is full: your pairup keeps your events and sends them again"
    if isinstance(error, StoreDamaged):
        return "the relay's store is damaged; its operator must move it aside (see its log)"
    return "the relay could not store events"
