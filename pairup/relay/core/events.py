"""An event as the relay sequenced it, with the frame participants get for it."""

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
