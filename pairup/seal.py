"""End-to-end sealing of what participants say to each other through the relay (ADR 27).

Every event body, and the name a participant or watcher shows, travels sealed with
AES-256-GCM under a key derived with HKDF-SHA256 from the link's secret: constructions that
browsers' WebCrypto implements too, so a watch page can open the same bodies. The relay never
holds the key. The associated data binds each body to its session, its sender (the envelope's
publisher) and its event id: a relay that moves a body to another session, sender or event, or
a network that flips one bit of it, makes it fail to open, and a body that fails to open is
never applied.

Pure: no sockets, no files, no clock. The nonce is 96 random bits per seal, from the system's
generator: an event is sealed once per send at most, far below the 2**32 seals per key at
which random nonces would need counting.
"""

import base64
import functools
import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD = NONCE_BYTES + TAG_BYTES
"""What sealing adds to a body, before base64."""
SEALED = re.compile(r"[A-Za-z0-9_-]+")
"""A sealed body as it travels: nonce, ciphertext and tag in unpadded base64url."""


def hkdf(secret: bytes, *, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """HKDF-SHA256 (RFC 5869), extract then expand; one block suffices for 32 bytes, as
    WebCrypto's ``deriveBits({name: "HKDF", hash: "SHA-256", salt, info}, key, 256)`` gives."""
    prk = hmac.new(salt, secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:length]


def watch_secret(secret: bytes, session: str) -> bytes:
    """The secret of the session's watch link, derived from its join secret: it opens every
    body but proves nothing a participant's admission needs, and the join secret cannot be
    had back from it."""
    return hkdf(secret, salt=session.encode(), info=b"pairup watch v4", length=16)


def body_key(watch: bytes, session: str) -> bytes:
    """The AES-256-GCM key of the session's bodies, from its watch secret: participants and
    watchers open the same bodies."""
    return hkdf(watch, salt=session.encode(), info=b"pairup body v4")


def event_aad(session: str, sender: str, event_id: str) -> bytes:
    """What a body is bound to besides its key: session, sender and event id."""
    return b"\0".join((b"pairup event v4", session.encode(), sender.encode(), event_id.encode()))


def name_aad(session: str, participant: str) -> bytes:
    """What a shown name is bound to: the session and the id that shows it."""
    return b"\0".join((b"pairup name v4", session.encode(), participant.encode()))


def seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    """``plaintext`` sealed under ``key`` and bound to ``aad``, as it travels."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = nonce + _cipher(key).encrypt(nonce, plaintext, aad)
    return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()


def open_sealed(key: bytes, sealed: str, aad: bytes) -> bytes | None:
    """What ``sealed`` holds, or ``None`` when it does not open under ``key`` and ``aad``:
    altered, cut short, sealed for another session, sender or event, or not sealed at all."""
    from cryptography.exceptions import InvalidTag

    if not SEALED.fullmatch(sealed) or len(sealed) % 4 == 1:
        return None
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    if len(raw) < OVERHEAD:
        return None
    try:
        return _cipher(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    except InvalidTag:
        return None


def sealed_length(plaintext_bytes: int) -> int:
    """Characters of a sealed body of ``plaintext_bytes``, as it travels."""
    raw = plaintext_bytes + OVERHEAD
    return (raw * 4 + 2) // 3


@functools.lru_cache(maxsize=64)
def _cipher(key: bytes) -> "AESGCM":
    # Imported here: a join link is parsed before pairup's first frame, and the library costs
    # tens of milliseconds to load. One cipher per key: making one expands the key schedule.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)
