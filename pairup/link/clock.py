"""How far this machine's clock is from the relay's, from ping/pong round trips.

The relay's time is the session's time. Each pong carries the relay's reading; assuming the
two legs of the round trip took as long as each other, the relay read its clock halfway
through. The sample with the shortest round trip among the recent ones has the least room for
error, so that one wins.
"""

from collections import deque
from dataclasses import dataclass, field


@dataclass
class ClockOffset:
    """Seconds to add to the local clock to read the relay's."""

    keep: int = 8
    _samples: deque[tuple[float, float]] = field(default_factory=deque)

    def add(self, sent: float, relay_now: float, round_trip: float) -> None:
        """One round trip: the local clock at sending, the relay's reading, and how long the
        trip took by a monotonic clock (a wall clock stepping mid-trip must not shorten it)."""
        round_trip = max(0.0, round_trip)
        self._samples.append((round_trip, relay_now - (sent + round_trip / 2)))
        while len(self._samples) > self.keep:
            self._samples.popleft()

    @property
    def seconds(self) -> float:
        if not self._samples:
            return 0.0
        return min(self._samples)[1]

    @property
    def uncertainty(self) -> float | None:
        """Half the best round trip: the most the estimate can be off by."""
        if not self._samples:
            return None
        return min(self._samples)[0] / 2
