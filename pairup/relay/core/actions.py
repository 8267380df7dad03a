"""What the relay's core asks its shell to do, and the times it is given.

The core (:mod:`pairup.relay.core.rules`) takes frames, store answers and clock ticks, and
returns these: plain values a test reads as easily as the asyncio adapter carries them out.
Connections are known to the core by a number the shell gives each.
"""

from dataclasses import dataclass
from http import HTTPStatus
from typing import NamedTuple

from pairup.relay.core.events import StoredEvent


class Moment(NamedTuple):
    """The time of an input: ``wall`` for what participants are told (an event's time, a
    pong's, expiry), ``mono`` for what only differences matter to (rate limits, timeouts)."""

    wall: float
    mono: float


@dataclass(frozen=True, slots=True)
class Answer:
    """The HTTP answer to a request the relay does not upgrade: its status and text."""

    status: HTTPStatus
    text: str
    page: str | None = None
    """The name of the watch page's file to answer with instead of ``text``: the shell
    reads it (:mod:`pairup.web`), the same file for everyone."""


@dataclass(frozen=True, slots=True)
class Send:
    """Send ``frames`` (UTF-8 text frames) on connection ``conn``, in one write."""

    conn: int
    frames: list[bytes]
    door: bool = False
    """The welcome or the wait: a fault drill leaves the door alone, it tests the session."""


@dataclass(frozen=True, slots=True)
class Refuse:
    """Send an error frame with ``reason``, then close with ``code``; read nothing more."""

    conn: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Close:
    """Close with ``code`` and ``reason``, without an error frame (replaced, store failed)."""

    conn: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Cut the connection, without a word: it is over a cap, or too slow to be told."""

    conn: int


@dataclass(frozen=True, slots=True)
class Load:
    """Read ``session`` from the store and give it to :meth:`RelayCore.loaded`."""

    session: str


@dataclass(frozen=True, slots=True)
class Create:
    """Register ``session`` in the store (or read it, if someone made it meanwhile), and give
    it to :meth:`RelayCore.loaded`."""

    session: str
    verifier: bytes
    watch_verifier: bytes
    host: str
    approve: bool
    max_participants: int
    restored: bool


@dataclass(frozen=True, slots=True)
class Bind:
    """Bind ``participant`` to ``key`` in the store, unless it is bound already, and give the
    key it is bound to :meth:`RelayCore.bound` for connection ``conn``. ``let_in``: the host
    let it in, which the store remembers too."""

    conn: int
    session: str
    participant: str
    key: bytes
    let_in: bool = False
    watcher: bool = False
    """The id comes with the watch link: it counts against the watchers' ids."""


@dataclass(frozen=True, slots=True)
class Remember:
    """Remember in the store that ``participant`` was taken out of ``session``."""

    session: str
    participant: str


@dataclass(frozen=True, slots=True)
class Replay:
    """Send connection ``conn`` the stored events of ``session`` after ``after`` up to ``end``,
    a page at a time."""

    conn: int
    session: str
    after: int
    end: int


@dataclass(frozen=True, slots=True)
class Touch:
    """Keep ``session`` alive in the store as of ``at``: its last member left."""

    session: str
    at: float


@dataclass(frozen=True, slots=True)
class LetIn:
    """In a fleet: the host let in ``participant``, who waits at another relay, with ``key``:
    bind the id to it and remember it as let in, in the store, whose log every relay reads
    (the relay where they wait lets them in when it reads it)."""

    session: str
    participant: str
    key: bytes


@dataclass(frozen=True, slots=True)
class Announce:
    """In a fleet: tell the other relays who is connected to ``session`` here, waiting or
    watching (a ``presence`` frame of this relay's connections only)."""

    session: str
    frame: bytes


@dataclass(frozen=True, slots=True)
class Tell:
    """In a fleet: hand the host's ``deny`` frame for ``session`` to the other relays, for
    the newcomer waiting at one of them (a lost one costs the newcomer the approval's wait,
    after which it is turned away all the same)."""

    session: str
    frame: bytes


Action = (
    Send
    | Refuse
    | Close
    | Abort
    | Load
    | Create
    | Bind
    | Remember
    | Replay
    | Touch
    | LetIn
    | Announce
    | Tell
)

Pending = tuple[StoredEvent, object]
"""An event with its offset, on its way to the disk, and the room it is for (which the
writer only compares, to drop the later events of a room whose commit failed)."""
