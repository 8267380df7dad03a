"""What a participant, a session or an address may do over time: token buckets and counts
in a window, with the time given by the caller (ADR 25)."""

import math
from collections import defaultdict, deque

from pairup.relay.limits import Limits


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


class RecentByAddress:
    """How many times something happened per address within the last ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._times: defaultdict[str, deque[float]] = defaultdict(deque)

    def add(self, address: str, now: float) -> None:
        self._times[address].append(now)

    def forget_old(self, now: float) -> None:
        """Drop the addresses with nothing left in the window, so an attacker who keeps
        changing address cannot grow this without bound."""
        for address in list(self._times):
            self.count(address, now)

    def count(self, address: str, now: float) -> int:
        times = self._times.get(address)
        if times is None:
            return 0
        horizon = now - self.window
        while times and times[0] < horizon:
            times.popleft()
        if not times:
            del self._times[address]
        return len(times)
