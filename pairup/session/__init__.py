"""The pure core of a session: events, state, the fold, rotation and timer math.

No I/O lives here: no asyncio, sockets, files, Textual or pygit2, and no clock. Shells (the
relay, the client link, the TUI, the git and ADR code) feed events in and read state out.
"""

from pairup.session.events import (
    EVENT_ADAPTER,
    Event,
    Participant,
    Person,
    SessionSettings,
    decode_event,
    encode_event,
    sequenced,
)
from pairup.session.reduce import Step, fold, reduce, skip_offset, step
from pairup.session.state import State

__all__ = [
    "EVENT_ADAPTER",
    "Event",
    "Participant",
    "Person",
    "SessionSettings",
    "State",
    "Step",
    "decode_event",
    "encode_event",
    "fold",
    "reduce",
    "sequenced",
    "skip_offset",
    "step",
]
