"""A participant's own key pair, and the signatures that make every event its author's.

Each participant makes an Ed25519 key pair the first time it enters a session and keeps it
beside its journal (``SESSION.key``, readable by its owner only). The relay binds the
participant id to the key's public half at the first entry and admits that id only to whoever
proves the key; the participant's ``participant.joined`` carries the public half, and every
event it makes is signed with the private one. Peers check each event from the relay against
its author's key, as the session's log bound it, before applying it: holding the link lets
someone take part, never speak for another participant, and a relay cannot make events up.
See ADR 24.
"""

import base64
import functools
import json
import os
import threading
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from pairup import protocol as wire
from pairup.durable import make_dirs, sync_dir
from pairup.journal import JournalFailure, journal_path, writing
from pairup.session import Event, State
from pairup.session import events as ev


class IdentityError(JournalFailure):
    """The participant's key cannot be read or kept: like a journal that cannot be, it stops
    the participant with one line that says where, why and what to do."""


def key_path(data_dir: Path, session: str) -> Path:
    """Where a participant keeps its key for ``session``: beside the session's journal."""
    return journal_path(data_dir, session).with_suffix(".key")


_MAKING = threading.Lock()
"""Held while a key is read or made: a link that asks for its key twice at once (its first
event and its first hello) gets the same key both times, never two keys racing to the disk."""


def load_or_make(data_dir: Path, session: str, participant: str) -> Ed25519PrivateKey:
    """This participant's key for ``session``: the one it entered with before, or a new one,
    written (owner-only, fsynced, atomically) before anyone hears of it."""
    path = key_path(data_dir, session)
    with _MAKING:
        kept = _read(path)
        if kept is not None and kept[0] == participant:
            return kept[1]
        # None yet, or one made for an id this participant does not use (a join that was
        # never let in leaves its key behind): a new one.
        key = Ed25519PrivateKey.generate()
        _write(path, participant, key)
        return key


def _read(path: Path) -> tuple[str, Ed25519PrivateKey] | None:
    """The participant id and key kept at ``path``; ``None`` if there is none."""
    try:
        record = json.loads(path.read_text())
        seed = base64.urlsafe_b64decode(record["private"] + "==")
        return str(record["participant"]), Ed25519PrivateKey.from_private_bytes(seed)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise IdentityError(
            f"cannot read your key for this session at {path}: {error.strerror or error}; "
            "make it readable, then run the same pairup command again"
        ) from None
    except (ValueError, KeyError, TypeError):
        # Another key would be someone else to the relay and to the others: the file is kept
        # as it is for a person to look at, and this data dir cannot enter as this id.
        raise IdentityError(
            f"your key for this session at {path} is damaged, and the session knows you by "
            "it; join with another data dir (--data-dir) to take part as a new participant"
        ) from None


def _write(path: Path, participant: str, key: Ed25519PrivateKey) -> None:
    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    record = {"participant": participant, "private": wire.key_text(seed)}
    temporary = path.with_suffix(".key.tmp")
    with writing(path.parent):
        make_dirs(path.parent)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(record, file)
            file.flush()
            os.fsync(file.fileno())
        temporary.replace(path)
        sync_dir(path.parent)


def public_text(key: Ed25519PrivateKey) -> str:
    return wire.key_text(wire.public_bytes(key))


_UNSIGNED = frozenset({"seq", "stamped_at", "sig"})


def _message(session: str, event: Event) -> bytes:
    """What an event's signature covers: the session, and the event without what the relay
    adds (its offset and time) and without the signature itself, as ``encode_event`` writes
    it (excluding the fields, rather than copying the event without them, which cost more)."""
    body = event.__pydantic_serializer__.to_json(event, exclude=_UNSIGNED, exclude_none=True)
    return b"pairup event v1\0" + session.encode() + b"\0" + body


def signed(event: Event, session: str, key: Ed25519PrivateKey) -> Event:
    """``event`` as its author publishes it: its own join carries its public key, and the
    whole event carries the author's signature."""
    if isinstance(event, ev.ParticipantJoined) and event.participant.key is None:
        participant = event.participant.model_copy(update={"key": public_text(key)})
        event = event.model_copy(update={"participant": participant})
    signature = key.sign(_message(session, event))
    return event.model_copy(update={"sig": wire.key_text(signature)})


def forged(state: State, session: str, event: Event) -> str | None:
    """Why ``event`` cannot be its actor's, or ``None`` when its signature is the actor's.

    The actor's key is the one the session's log bound to their id, or, for someone's first
    join, the key their join carries. An event with no signature, or a signature by any other
    key, is not theirs, whoever published it."""
    member = state.member(event.actor)
    key = member.participant.key if member is not None else None
    if key is None and isinstance(event, ev.ParticipantJoined):
        key = event.participant.key
    if key is None:
        return f"{event.kind} names {event.actor} as its author, who has no key in this session"
    if event.sig is None:
        return f"{event.kind} in the name of {event.actor} is not signed"
    try:
        _public(key).verify(wire.key_bytes(event.sig), _message(session, event))
    except (InvalidSignature, ValueError):
        return f"{event.kind} in the name of {event.actor} is not signed with their key"
    return None


@functools.lru_cache(maxsize=64)
def _public(key: str) -> Ed25519PublicKey:
    """A participant's public key, parsed once: a session has a handful of them, and every
    event from the relay is checked against one."""
    return Ed25519PublicKey.from_public_bytes(wire.key_bytes(key))
