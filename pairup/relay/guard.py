"""What keeps one participant, session or address from taking the relay from everyone else,
and keeps the relay's troubles to one line each in its log.

The rules here take the time as an argument and know nothing of sockets, so each is a unit
test with a made-up clock; the server calls them from its connections (ADR 25):

- :class:`TokenBucket` and :class:`SessionBudget`: frames per participant and new events per
  session over time, kept in the session's room so that reconnecting refills nothing;
- :class:`Doorway`: every connection counted against its address from its first byte, the
  ones not admitted yet under caps of their own, and all of them under the file limit;
- :class:`AcceptErrors` and :class:`StoreTrouble`: a flood or a full disk says so once, not
  once per connection or commit.
"""

import contextlib
import enum
import logging
import math
import resource
import threading
import time
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus

from pairup.relay.limits import Limits
from pairup.relay.store import StoreDamaged, StoreError, StoreFull


class TokenBucket:
    """``rate`` tokens a second, up to ``burst`` at once; a frame costs one, an event's body
    a token a byte."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.capacity = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float, amount: float = 1.0) -> bool:
        """Take ``amount`` if the bucket holds it; say whether it did."""
        self._refill(now)
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True

    def wait(self, now: float, amount: float = 1.0) -> float:
        """Seconds until the bucket holds ``amount``: 0 if it does now."""
        self._refill(now)
        return max(0.0, (amount - self.tokens) / self.rate)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now


class SessionBudget:
    """New events and bytes of their bodies one session may store over time, all its
    participants together: many identities in one session cannot flood it between them."""

    __slots__ = ("bytes", "events")

    def __init__(self, limits: Limits, now: float) -> None:
        self.events = TokenBucket(limits.session_events_per_second, limits.session_event_burst, now)
        self.bytes = TokenBucket(limits.session_bytes_per_second, limits.session_byte_burst, now)

    def take(self, size: int, now: float) -> float:
        """Take an event of ``size`` bytes and say 0, or say how many seconds until the
        session may store it (and take nothing)."""
        wait = max(self.events.wait(now), self.bytes.wait(now, size))
        if wait == 0:
            self.events.take(now)
            self.bytes.take(now, size)
        return wait


def wait_text(seconds: float) -> str:
    """A wait as a person reads it: "wait 3 s", "wait 2 min"."""
    whole = max(1, math.ceil(seconds))
    return f"wait {whole} s" if whole < 120 else f"wait {(whole + 59) // 60} min"


class Phase(enum.Enum):
    """Where a connection is, for the caps: each phase has its own."""

    TURNED_AWAY = "turned away"
    """Over every cap: cut at once, counted nowhere."""
    REFUSING = "refusing"
    """Over a cap for connections not admitted yet: told so (HTTP 429 or 503) as soon as its
    request comes, cut after ``refusal_grace`` if it does not."""
    PENDING = "pending"
    """In its handshake, or admitted to nothing yet: before its welcome."""
    ADMITTED = "admitted"


FILE_RESERVE = 256
"""Files kept out of the connection cap (or a quarter of a smaller limit): the store and its
WAL, the listening sockets, and connections the event loop has accepted but not yet handed
to the relay to count (asyncio accepts up to its backlog, 100, at a time)."""


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


class Doorway:
    """Every connection of the relay, by address and by phase, from the moment its TCP
    connection is made until it is lost.

    Three caps keep the relay within its file limit and its admitted participants served:
    ``most`` connections in all, below the file limit; of them at most ``most_pending`` not
    admitted yet, in all and ``pending_per_ip`` from one address, so idle handshakes can
    never take the room admitted participants need; and as many again refused but still
    being told why. A connection over them all is cut at once.
    """

    def __init__(self, limits: Limits, file_limit: int, now: float) -> None:
        below_file_limit = file_limit - min(FILE_RESERVE, file_limit // 4)
        self.most = min(limits.connections or below_file_limit, below_file_limit)
        self.most_pending = max(1, min(limits.pending_connections, self.most // 4))
        self.most_admitted = self.most - 2 * self.most_pending
        self.pending_per_ip = limits.pending_per_ip
        self._phases: Counter[Phase] = Counter()
        self._by_address: dict[Phase, Counter[str]] = {
            phase: Counter() for phase in (Phase.REFUSING, Phase.PENDING, Phase.ADMITTED)
        }
        self._refused: Counter[str] = Counter()
        self._refused_why: Counter[str] = Counter()
        self._since = now
        """When the refusals counted now began: the last summary, or the start."""

    def arrive(self, address: str) -> tuple[Phase, HTTPStatus, str]:
        """Count a new connection from ``address``: its phase and, when it is refused, the
        HTTP status and reason it is told."""
        pending = self._by_address[Phase.PENDING]
        refusing = self._by_address[Phase.REFUSING]
        if pending[address] >= self.pending_per_ip:
            status = HTTPStatus.TOO_MANY_REQUESTS
            why = f"too many connections opening from your address (at most {self.pending_per_ip})"
            self.refused(address, f"over {self.pending_per_ip} opening from one address")
        elif self._phases[Phase.PENDING] >= self.most_pending:
            status = HTTPStatus.SERVICE_UNAVAILABLE
            why = "the relay has too many connections opening; try again in a minute"
            self.refused(address, f"over {self.most_pending} opening in all")
        else:
            return self._enter(address, Phase.PENDING), HTTPStatus.OK, ""
        if (
            refusing[address] < self.pending_per_ip
            and self._phases[Phase.REFUSING] < self.most_pending
        ):
            return self._enter(address, Phase.REFUSING), status, why
        return Phase.TURNED_AWAY, status, why

    def admit(self, address: str, *, replacing: bool) -> bool:
        """Move a pending connection to the admitted, unless the relay has as many as it
        takes; a participant replacing its own older connection always may."""
        if not replacing and self._phases[Phase.ADMITTED] >= self.most_admitted:
            self.refused(address, f"over {self.most_admitted} participants connected")
            return False
        self.leave(address, Phase.PENDING)
        self._enter(address, Phase.ADMITTED)
        return True

    def leave(self, address: str, phase: Phase) -> None:
        if phase is Phase.TURNED_AWAY:
            return
        self._phases[phase] -= 1
        counts = self._by_address[phase]
        counts[address] -= 1
        if not counts[address]:
            del counts[address]

    def from_address(self, address: str) -> int:
        """Connections from ``address`` in every phase but turned away."""
        return sum(counts[address] for counts in self._by_address.values())

    @property
    def open(self) -> int:
        """Connections in every phase; at most ``most`` (and one more for a moment for each
        participant replacing its own connection)."""
        return self._phases.total()

    def refused(self, address: str, why: str) -> None:
        """Count a refusal for the next summary line, ``why`` in a few words; an attacker
        changing address for each connection adds an entry a connection until then, so the
        addresses are capped."""
        if address in self._refused or len(self._refused) < 10_000:
            self._refused[address] += 1
        else:
            self._refused["other addresses"] += 1
        self._refused_why[why] += 1

    def summary(self, now: float) -> str | None:
        """One line on the refusals since the last call, or ``None`` if there were none."""
        seconds, self._since = now - self._since, now
        if not self._refused:
            return None
        total = sum(self._refused.values())
        addresses = len(self._refused)
        top = ", ".join(f"{address} ({count})" for address, count in self._refused.most_common(5))
        more = f" and {addresses - 5} more" if addresses > 5 else ""
        whys = "; ".join(f"{count} {why}" for why, count in self._refused_why.most_common())
        line = (
            f"refused {total} connection{'s' if total != 1 else ''} in the last "
            f"{seconds:.{0 if seconds >= 10 else 1}f} s "
            f"from {addresses} address{'es' if addresses != 1 else ''}: {top}{more} ({whys})"
        )
        self._refused.clear()
        self._refused_why.clear()
        return line

    def _enter(self, address: str, phase: Phase) -> Phase:
        self._phases[phase] += 1
        self._by_address[phase][address] += 1
        return phase


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
