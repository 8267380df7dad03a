"""An event as the relay sequenced it, with the frame participants get for it."""

from collections.abc import Callable
from typing import NamedTuple

from pairup.protocol import encode_sequenced


class StoredEvent(NamedTuple):
    """An event as the relay sequenced it: the envelope it reads, the body it does not, and
    the frame participants get for it. Make one with :func:`sequenced`, which writes the frame.

    A named tuple, not a frozen dataclass: the relay makes one per event on its hottest path,
    and a frozen dataclass took four times as long to make."""

    session: str
    seq: int
    id: str
    sender: str
    at: float
    """The relay's time when it accepted the event."""
    body: str
    frame: bytes
    """The ``event`` frame of the other fields (:func:`pairup.protocol.encode_sequenced`):
    what the relay sends, and what the store keeps."""


def sequenced(session: str, *, seq: int, id: str, sender: str, at: float, body: str) -> StoredEvent:
    """The event with its frame, encoded once for the store and for every participant."""
    frame = encode_sequenced(seq=seq, at=at, id=id, sender=sender, body=body)
    return StoredEvent(session, seq, id, sender, at, body, frame)


class Taken(NamedTuple):
    """An event as a relay of a fleet commits it: without its offset, which the shared log's
    order gives it when it is read (:func:`fold`)."""

    id: str
    sender: str
    at: float
    body: str


def fold(
    session: str,
    taken: list[Taken],
    *,
    last_seq: int,
    last_at: float,
    first_seen: Callable[[str], int | None],
) -> list[StoredEvent]:
    """One commit of a shared log, numbered after offset ``last_seq``: what every relay reads
    alike, for all read the same log in the same order (ADR 35).

    An event whose id the log held before it (``first_seen`` gives that earlier offset), or
    held earlier in this commit, is passed over: two relays that each took a participant's
    resend both committed it, and the first copy counts. Relays' clocks may differ, so an
    event's time is never before the one before it."""
    events: list[StoredEvent] = []
    here: set[str] = set()
    seq, at = last_seq, last_at
    for event in taken:
        first = first_seen(event.id)
        if event.id in here or (first is not None and first != seq + 1):
            continue
        here.add(event.id)
        seq, at = seq + 1, max(at, event.at)
        events.append(
            sequenced(session, seq=seq, id=event.id, sender=event.sender, at=at, body=event.body)
        )
    return events
