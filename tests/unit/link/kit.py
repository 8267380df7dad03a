"""A link core on a made-up clock, and a relay's log made by hand: sealed, signed events as a
relay sequences them, and the frames a link core sends, read back."""

import itertools
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pairup import identity, seal
from pairup import protocol as wire
from pairup.link.core import Action, Deliver, Journal, LinkCore, Send, body_of
from pairup.session import Event
from pairup.session import events as ev

SESSION = "session-one"
SECRET = b"s" * wire.SECRET_BYTES
JOIN = wire.JoinLink("ws://127.0.0.1:1", SESSION, SECRET)
KEYS: dict[str, Ed25519PrivateKey] = {}
_ids = itertools.count(1)


def key_of(participant: str) -> Ed25519PrivateKey:
    return KEYS.setdefault(participant, Ed25519PrivateKey.generate())


def core(participant: str = "ann", join: wire.JoinLink = JOIN, **options: object) -> LinkCore:
    return LinkCore(join, participant, check=identity.forged, **options)  # type: ignore[arg-type]


def welcome(last_seq: int = 0, epoch: str = "epoch-one", **fields: object) -> wire.Welcome:
    return wire.Welcome(
        session=SESSION,
        epoch=epoch,
        last_seq=last_seq,
        now=1000.0,
        connected=(),
        host="ann",
        **fields,  # type: ignore[arg-type]
    )


def joined(actor: str) -> Event:
    person = ev.Participant(id=actor, name=actor.title(), email=f"{actor}@example.test")
    return identity.signed(
        ev.ParticipantJoined(id=f"join-{actor}", actor=actor, at=1.0, participant=person),
        SESSION,
        key_of(actor),
    )


def lesson(actor: str, text: str = "a lesson", *, signed: bool = True) -> Event:
    event = ev.LessonNoted(id=f"lesson-{next(_ids):06d}", actor=actor, at=1.0, text=text)
    return identity.signed(event, SESSION, key_of(actor)) if signed else event


def sealed(
    event: Event, sender: str | None = None, *, join: wire.JoinLink = JOIN, event_id: str = ""
) -> str:
    """The event's body as ``sender`` (its actor unless given) publishes it."""
    sender = sender or event.actor
    aad = seal.event_aad(join.session, sender, event_id or event.id)
    return seal.seal(join.body_key, body_of(event), aad)


def sequenced(
    seq: int, event: Event, *, sender: str | None = None, body: str | None = None, at: float = 50.0
) -> wire.Sequenced:
    sender = sender or event.actor
    return wire.Sequenced(
        seq=seq, at=at, id=event.id, sender=sender, body=body or sealed(event, sender)
    )


def raw(frame: wire.Sequenced | wire.Events | wire.Pong | wire.Ack | wire.Presence) -> str:
    return wire.encode(frame)


def sent(actions: list[Action]) -> list[object]:
    return [action.frame for action in actions if isinstance(action, Send)]


def resumes(actions: list[Action]) -> list[tuple[int, int | None]]:
    return [(f.after, f.until) for f in sent(actions) if isinstance(f, wire.Resume)]


def published(actions: list[Action]) -> list[str]:
    return [f.id for f in sent(actions) if isinstance(f, wire.Publish)]


def delivered(actions: list[Action]) -> list[object]:
    return [action.applied for action in actions if isinstance(action, Deliver)]


def journaled(actions: list[Action]) -> list[Event]:
    return [event for action in actions if isinstance(action, Journal) for event in action.events]


def other_secret() -> bytes:
    return secrets.token_bytes(wire.SECRET_BYTES)
