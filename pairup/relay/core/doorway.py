"""Every connection of the relay counted by address and phase, under the caps that keep the
relay within its file limit and its admitted participants served (ADR 25)."""

import enum
from collections import Counter
from http import HTTPStatus

from pairup.relay.limits import Limits


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
