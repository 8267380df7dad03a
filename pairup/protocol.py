"""The wire protocol between participants and the relay: join links, keys, frames, close codes.

Pure: no sockets, no clock. Frames are JSON text messages, validated with pydantic at both
ends. The relay reads only the envelope of a published event (its id and sender, and the size
of its body); the body is sealed end to end (:mod:`pairup.seal`), so the relay cannot read it,
and its kind travels inside it. See ``docs/protocol.md`` for the conversation as a whole.
"""

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pairup.seal import SEALED, body_key, hkdf, sealed_length, watch_secret
from pairup.session.events import EventId, ParticipantId

PROTOCOL_VERSION = 4
"""2: the relay sends several events in one ``events`` frame, and acks only repeated ids.
3: ``hello`` proves the link and the participant's own key by signing the connection's
challenge, and never carries a key that could be used again.
4: bodies and names are sealed end to end, the kind travels inside the body; watch links,
host approval and removal."""
CHALLENGE_HEADER = "X-Pairup-Challenge"
"""The header of the relay's handshake answer that carries this connection's challenge."""
VERSION_HEADER = "X-Pairup-Protocol"
"""The header of the relay's handshake answer that says which protocol it speaks: a pairup
newer than its relay says so before it says hello."""
PAGE_SUBPROTOCOL = "pairup.v4"
"""The websocket subprotocol a browser page asks for: a page cannot read the handshake
answer's headers, so the relay sends such a connection its challenge and version in a first
``challenge`` frame instead."""
CHALLENGE_BYTES = 16
MAX_FRAME_BYTES = 64 * 1024
"""Frames above this are refused by the websocket layer itself (close code 1009)."""
MAX_BODY_BYTES = 44 * 1024
"""UTF-8 bytes of an event before it is sealed: sealed (a third larger in base64url) and in
its envelope, every frame the relay sends stays under the frame limit."""
MAX_SEALED_BODY = sealed_length(MAX_BODY_BYTES)
"""Characters of the largest sealed body: what the relay takes."""
MAX_NAME_BYTES = 512
"""UTF-8 bytes of a shown name before it is sealed."""
MAX_SEALED_NAME = sealed_length(MAX_NAME_BYTES)
PIN = re.compile(r"[A-Za-z0-9_-]{43}")
"""A pinned certificate's SHA-256 in base64url."""
CLIENT_MAX_FRAME_BYTES = 2 * MAX_FRAME_BYTES
"""What participants accept from the relay: more than the relay accepts, so an event the relay
took can always be delivered."""
SECRET_BYTES = 16
"""128 bits: enough that guessing is hopeless, short enough to paste."""

SESSION_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class Close:
    """Close codes the relay uses, with the reason sent in the error frame before closing."""

    POLICY = 1008
    """Standard: the origin is not allowed, or a frame names another session."""
    TOO_BIG = 1009
    """Standard: a frame above 64 KiB."""
    GOING_AWAY = 1001
    MALFORMED = 4400
    """Not JSON, or not a JSON object."""
    NOT_ADMITTED = 4401
    """Unknown session or wrong secret: the same code, after the same delay, for both."""
    SESSION_FULL = 4403
    INVALID = 4422
    """Valid JSON that is not a frame of this protocol: wrong fields, types or ranges."""
    RATE_LIMITED = 4429
    TOO_MANY_CONNECTIONS = 4430
    HELLO_TIMEOUT = 4408
    TOO_SLOW = 4508
    """The connection fell more than a few MiB behind in reading; it may reconnect and resume."""
    STORAGE_FAILED = 1011
    WATCH_ONLY = 4405
    """A watcher sent something only a participant may: a watch link publishes nothing."""
    TURNED_AWAY = 4406
    """The host did not let this participant in."""
    REMOVED = 4410
    """This participant was taken out of the session; coming back needs the host's approval."""


# -- join links and keys -------------------------------------------------------------------------


PAGE_PREFIX = "/_pairup/"
"""Where the relay serves the watch page's files: the same for every session."""
_PAGE_FILE = re.compile(r"[a-z][a-z-]*\.(?:html|css|mjs|svg)")


def page_file(path: str) -> str | None:
    """The watch page's file a browser asks for at ``path``: the page itself at a session's
    link (``/w/SESSION``, or ``/s/SESSION``, where the page watches), one of its files under
    ``PAGE_PREFIX``, or ``None``. A query (a chat app's tracking tag) changes nothing."""
    path = path.partition("?")[0]
    if re.fullmatch(r"/[sw]/[A-Za-z0-9_-]+", path) and SESSION_ID.fullmatch(path[3:]):
        return "watch.html"
    name = path.removeprefix(PAGE_PREFIX)
    if name != path and _PAGE_FILE.fullmatch(name):
        return name
    return None


_SOCKET_SCHEME = {"ws": "ws", "wss": "wss", "http": "ws", "https": "wss"}
"""What a link's scheme says about how to reach its relay."""


class LinkError(ValueError):
    """A join link that cannot be used; the message says what a good one looks like."""


@dataclass(frozen=True, slots=True)
class JoinLink:
    """``ws://host:port/s/SESSION#SECRET``: where the relay is, which session, and the secret;
    ``/w/`` instead of ``/s/`` for a watch link, whose secret opens the session's bodies and
    admits a watcher, never a participant (:func:`pairup.seal.watch_secret`).

    The secret sits in the fragment, which HTTP clients never send, so it stays out of the
    request line, proxies and access logs. Only keys derived from it travel. A ``wss://`` link
    to a relay with a self-signed certificate carries the certificate's SHA-256 after the
    secret (``#SECRET.PIN``), and pairup connects only to a relay that shows that certificate.
    """

    relay: str
    """``ws://host:port`` or ``wss://host:port``."""
    session: str
    secret: bytes
    watch: bool = False
    pin: str = ""
    """The relay certificate's SHA-256 in base64url (``wss://`` only); empty: checked by the
    system's certificate authorities instead."""

    @classmethod
    def parse(cls, text: str) -> "JoinLink":
        # A link has no whitespace of its own: what a screen or a chat wrapped is joined back.
        parts = urlsplit("".join(text.split()))
        example = "ws://HOST:PORT/s/SESSION#SECRET"
        if parts.scheme not in _SOCKET_SCHEME or not parts.netloc:
            raise LinkError(
                f"a join link starts with ws:// or wss://, like {example} "
                "(a watch link with http:// or https://)"
            )
        # A watch link is printed as the page's address (http:// or https://), which a
        # browser opens; the relay is the same, reached over a websocket.
        scheme = _SOCKET_SCHEME[parts.scheme]
        match = re.fullmatch(r"/([sw])/([A-Za-z0-9_-]+)", parts.path)
        if match is None or not SESSION_ID.fullmatch(match.group(2)):
            raise LinkError(f"a join link names its session after /s/, like {example}")
        if parts.query:
            raise LinkError("a join link has no query string; paste the link as it was shared")
        secret_text, _, pin = parts.fragment.partition(".")
        try:
            secret = _unb64(secret_text)
        except ValueError:
            secret = b""
        if len(secret) < SECRET_BYTES:
            raise LinkError(f"the join link's secret (after #) is missing or cut short: {example}")
        if pin and (scheme != "wss" or not PIN.fullmatch(pin)):
            raise LinkError(
                "the join link's certificate pin (after the secret and a dot) is not 43 "
                "characters, or the link is not wss://; paste the link as it was shared"
            )
        return cls(
            f"{scheme}://{parts.netloc}",
            match.group(2),
            secret,
            watch=match.group(1) == "w",
            pin=pin,
        )

    def __str__(self) -> str:
        pin = f".{self.pin}" if self.pin else ""
        return f"{self.place}#{_b64(self.secret)}{pin}"

    @property
    def place(self) -> str:
        """The link without its fragment: a join link's relay address, or the address of a
        watch link's page (``http://`` or ``https://``, which a browser opens and ``pairup
        join`` takes as well)."""
        if self.watch:
            return f"{self.relay.replace('ws', 'http', 1)}/w/{self.session}"
        return f"{self.relay}/s/{self.session}"

    @property
    def url(self) -> str:
        """The address to connect to, the same for participants and watchers: the link
        without its secret."""
        return f"{self.relay}/s/{self.session}"

    def redacted(self) -> str:
        """The link as logs and error messages may show it."""
        return f"{self.place}#…"

    def watching(self) -> "JoinLink":
        """The session's watch link: the same relay and session, the watch secret."""
        if self.watch:
            return self
        return JoinLink(
            self.relay, self.session, watch_secret(self.secret, self.session), True, self.pin
        )

    @property
    def body_key(self) -> bytes:
        """The key that seals and opens the session's bodies and names."""
        return body_key(self.watching().secret, self.session)


def admission_signer(link: JoinLink) -> "Ed25519PrivateKey":
    """The link's admission key pair, the same for everyone holding the link: its signature
    over a connection's challenge proves the link without sending anything a listener could
    use again. The relay keeps only the public half (:func:`verifier`). A watch link's is
    another key pair, so a watcher can never be admitted as a participant."""
    info = b"pairup watch admission v4" if link.watch else b"pairup admission v4"
    seed = hkdf(link.secret, salt=link.session.encode(), info=info)
    # Imported here, as in the two functions below: a join link is parsed before pairup's
    # first frame, and the keys' library costs tens of milliseconds to load.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def public_bytes(key: "Ed25519PrivateKey") -> bytes:
    """The 32 bytes of a key pair's public half."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def verifier(link: JoinLink) -> bytes:
    """What the relay stores to admit the holders of ``link``: its admission key's public
    half, which checks a proof but cannot make one."""
    return public_bytes(admission_signer(link))


def fingerprint(identity: bytes) -> str:
    """A participant's key as people compare it aloud: 16 hex digits of its SHA-256."""
    digest = hashlib.sha256(identity).hexdigest()[:16].upper()
    return " ".join(digest[i : i + 4] for i in range(0, 16, 4))


def pin_of(certificate: bytes) -> str:
    """The pin a link carries for a certificate (DER): its SHA-256 in base64url."""
    return _b64(hashlib.sha256(certificate).digest())


def verifies(public: bytes, signature: bytes, message: bytes) -> bool:
    """Whether ``signature`` is the Ed25519 signature of ``message`` by ``public``'s owner."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def hello_transcript(
    challenge: bytes, session: str, participant: str, identity: bytes, role: str
) -> bytes:
    """What both proofs of a ``hello`` sign: this connection's challenge (so a captured hello
    is worth nothing on another connection), the session, the participant id, its key and the
    role it asks for."""
    return b"\0".join(
        (
            b"pairup hello v4",
            challenge,
            session.encode(),
            participant.encode(),
            identity,
            role.encode(),
        )
    )


def key_text(key: bytes) -> str:
    """A 32-byte key (or a 64-byte signature) as it travels in a frame, in base64url."""
    return _b64(key)


def key_bytes(text: str) -> bytes:
    """The key a frame carried; frames are validated first, so this cannot fail on bad input."""
    return _unb64(text)


def new_challenge() -> str:
    """A connection's challenge as the relay's handshake answer carries it."""
    return _b64(secrets.token_bytes(CHALLENGE_BYTES))


def challenge_bytes(header: str | None) -> bytes | None:
    """The challenge from the relay's handshake answer, or ``None`` if it has none (a relay
    that does not speak this protocol)."""
    if header is None or not re.fullmatch(r"[A-Za-z0-9_-]{22}", header):
        return None
    return _unb64(header)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- frames ----------------------------------------------------------------------------------------

Key = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{43}$")]
"""A 32-byte public key in base64url."""
Signature = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{86}$")]
"""A 64-byte Ed25519 signature in base64url."""
Seq = Annotated[int, Field(ge=0, le=2**53)]
Instant = Annotated[float, Field(ge=0, le=1e11, allow_inf_nan=False)]


Epoch = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
SealedBody = Annotated[
    str, Field(min_length=1, max_length=MAX_SEALED_BODY, pattern=SEALED.pattern.join("^$"))
]
"""An event as it travels: sealed, so the relay reads nothing of it but its size."""
SealedName = Annotated[
    str, Field(min_length=1, max_length=MAX_SEALED_NAME, pattern=SEALED.pattern.join("^$"))
]
"""The name someone shows, sealed: the relay passes it on and cannot read it."""
Role = Literal["participant", "watcher"]


class _Frame(BaseModel):
    # Strict: a number sent as a string, a boolean or a whole float is a wrong type (4422), as
    # docs/protocol.md says, not something to coerce.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Hello(_Frame):
    """The first frame on a connection: who I am, and proofs, over the challenge the relay gave
    this connection, that I hold the link (``admission``) and the participant's key
    (``proof``). A participant id belongs to the key that first entered the session with it.
    A watcher proves the watch link instead, and may never publish."""

    type: Literal["hello"] = "hello"
    v: Literal[4] = PROTOCOL_VERSION
    session: Annotated[str, Field(pattern=SESSION_ID.pattern)]
    participant: ParticipantId
    role: Role = "participant"
    identity: Key
    """The participant's public key: the relay binds the id to it at the first entry."""
    admission: Signature
    proof: Signature
    name: SealedName | None = None
    """The name this participant or watcher shows, sealed: what the host sees when asked to
    let them in, and everyone sees of a watcher."""
    create: bool = False
    """Register the session on this relay if it does not exist yet (the host does this)."""
    verifier: Key | None = None
    """The participants' admission key's public half, for a session this hello creates."""
    watch_verifier: Key | None = None
    """The watchers' admission key's public half, for a session this hello creates."""
    approve: bool = False
    """For a session this hello creates: newcomers wait until the host lets them in."""
    restore: bool = False
    """This participant has been in the session: a relay that does not have it any more makes
    it again as restored, and its participants re-seed it."""
    max_participants: Annotated[int, Field(ge=2, le=8)] = 8

    def transcript(self, challenge: bytes) -> bytes:
        return hello_transcript(
            challenge, self.session, self.participant, key_bytes(self.identity), self.role
        )

    def admitted_by(self, stored_verifier: bytes, challenge: bytes) -> bool:
        """Whether the admission proof is the link's, checked with a stored verifier."""
        return verifies(stored_verifier, key_bytes(self.admission), self.transcript(challenge))

    def proves_identity(self, challenge: bytes) -> bool:
        """Whether whoever sent this holds the private half of ``identity``."""
        return verifies(key_bytes(self.identity), key_bytes(self.proof), self.transcript(challenge))


def hello(
    link: JoinLink,
    participant: str,
    identity: "Ed25519PrivateKey",
    challenge: bytes,
    *,
    name: str = "",
    create: bool = False,
    approve: bool = False,
    restore: bool = False,
    max_participants: int = 8,
) -> Hello:
    """The ``hello`` a participant (or, with a watch link, a watcher) holding ``link`` and
    ``identity`` answers ``challenge`` with."""
    role: Role = "watcher" if link.watch else "participant"
    admission = admission_signer(link)
    own = public_bytes(identity)
    transcript = hello_transcript(challenge, link.session, participant, own, role)
    shown = name.encode()[:MAX_NAME_BYTES].decode(errors="ignore")
    creating = create and not link.watch
    return Hello(
        session=link.session,
        participant=participant,
        role=role,
        identity=key_text(own),
        admission=key_text(admission.sign(transcript)),
        proof=key_text(identity.sign(transcript)),
        name=seal_name(link, participant, shown) if shown else None,
        create=creating,
        verifier=key_text(public_bytes(admission)) if creating else None,
        watch_verifier=key_text(verifier(link.watching())) if creating else None,
        approve=approve and creating,
        restore=restore and not link.watch,
        max_participants=max_participants,
    )


def seal_name(link: JoinLink, participant: str, name: str) -> str:
    """``name`` sealed as ``participant`` shows it in ``link``'s session."""
    from pairup import seal

    return seal.seal(link.body_key, name.encode(), seal.name_aad(link.session, participant))


def open_name(link: JoinLink, participant: str, sealed: str | None) -> str | None:
    """The name ``participant`` shows, if it has one that opens as theirs in this session."""
    from pairup import seal

    if sealed is None:
        return None
    opened = seal.open_sealed(link.body_key, sealed, seal.name_aad(link.session, participant))
    return None if opened is None else opened.decode(errors="replace")


class Publish(_Frame):
    """An event for the session: the envelope the relay reads, and a sealed body it cannot."""

    type: Literal["publish"] = "publish"
    id: EventId
    sender: ParticipantId
    body: SealedBody


class Resume(_Frame):
    """Send me every event after offset ``after`` (up to ``until``, when given: the end of a
    gap, when the events past it have already arrived)."""

    type: Literal["resume"] = "resume"
    after: Seq
    until: Seq | None = None


class Ping(_Frame):
    """For the clock offset: the relay answers with its own time beside ``sent``."""

    type: Literal["ping"] = "ping"
    sent: Instant


class Approve(_Frame):
    """The host lets ``participant`` in, who waits with the key ``identity`` (whose
    fingerprint the host was shown)."""

    type: Literal["approve"] = "approve"
    participant: ParticipantId
    identity: Key


class Deny(_Frame):
    """The host turns ``participant`` (waiting with ``identity``) away."""

    type: Literal["deny"] = "deny"
    participant: ParticipantId
    identity: Key


class Remove(_Frame):
    """Take ``participant`` out of the session: the relay disconnects them, and they come
    back only if the host lets them in. The host may remove anyone else; when the session
    does not ask for approval, anyone may remove someone who is not connected."""

    type: Literal["remove"] = "remove"
    participant: ParticipantId


ClientFrame = Annotated[
    Hello | Publish | Resume | Ping | Approve | Deny | Remove, Field(discriminator="type")
]
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
_validate_client_frame = CLIENT_FRAME.validator.validate_json
"""The adapter's validator itself, for the relay's hottest path: a sixth less per frame than
going through ``TypeAdapter.validate_json``, with the same result and the same errors."""


class Welcome(_Frame):
    type: Literal["welcome"] = "welcome"
    session: str
    epoch: Epoch
    last_seq: Seq
    now: Instant
    connected: tuple[ParticipantId, ...]
    chaos: Annotated[str, Field(max_length=200)] = ""
    """The fault drill the relay runs (``pairup relay --chaos``), empty when none: every
    participant's screen says so."""
    restored: bool = False
    """The session was made again from its participants' journals (see ``Hello.restore``):
    only in such a log may one participant publish another's events, re-seeding them."""
    role: Role = "participant"
    host: ParticipantId
    """Who created the session on the relay: who lets newcomers in."""
    approve: bool = False
    """Newcomers wait for the host to let them in."""


class Waiting(_Frame):
    """Instead of a welcome: the session waits for its host to let you in (or turn you away,
    which closes the connection with ``Close.TURNED_AWAY``)."""

    type: Literal["waiting"] = "waiting"
    host_connected: bool


class Sequenced(_Frame):
    """An event as the relay sequenced it: its offset in the session and the relay's time."""

    type: Literal["event"] = "event"
    seq: Annotated[int, Field(ge=1)]
    at: Instant
    id: EventId
    sender: ParticipantId
    body: str


class Events(_Frame):
    """Several sequenced events in one frame, in offset order: what one commit (or one page of
    a resume) has for a participant, so a busy session costs one frame per commit, not one
    per event. A participant applies them as if each had come in a frame of its own."""

    type: Literal["events"] = "events"
    events: Annotated[tuple[Sequenced, ...], Field(min_length=1)]


class Ack(_Frame):
    """Your event ``id`` is stored at offset ``seq``: the answer to an event you had sent
    before, once it is stored (a new event's own ``event`` frame is its acknowledgement)."""

    type: Literal["ack"] = "ack"
    id: EventId
    seq: Annotated[int, Field(ge=1)]


class Challenge(_Frame):
    """The first frame to a browser page (a connection that asked for ``PAGE_SUBPROTOCOL``):
    what the handshake answer's headers carry for everyone else, which a page cannot read."""

    type: Literal["challenge"] = "challenge"
    challenge: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{22}$")]
    v: Literal[4] = PROTOCOL_VERSION


class Pong(_Frame):
    """The relay's time beside the ping's, and how far the session's log reaches: a
    participant that has less than ``last_seq`` asks to resume, even if no later event
    arrives to show it the gap."""

    type: Literal["pong"] = "pong"
    sent: Instant
    now: Instant
    last_seq: Seq = 0


class Shown(_Frame):
    """Someone the relay knows only by id, with the name they show, sealed."""

    participant: ParticipantId
    name: SealedName | None = None


class Knock(Shown):
    """Someone waiting for the host to let them in, with their key."""

    identity: Key
    returning: bool = False
    """They were taken out of the session before."""


class Presence(_Frame):
    """Who is connected right now, who watches, and who waits for the host; sent to
    everyone when that changes."""

    type: Literal["presence"] = "presence"
    connected: tuple[ParticipantId, ...]
    watching: tuple[Shown, ...] = ()
    waiting: tuple[Knock, ...] = ()


class Error(_Frame):
    """Why the relay is about to close this connection (or refused one frame)."""

    type: Literal["error"] = "error"
    code: int
    reason: Annotated[str, Field(max_length=200)]


RelayFrame = Annotated[
    Welcome | Waiting | Sequenced | Events | Ack | Pong | Presence | Error,
    Field(discriminator="type"),
]
RELAY_FRAME: TypeAdapter[RelayFrame] = TypeAdapter(RelayFrame)


class FrameError(ValueError):
    """A frame that is not part of the protocol, with the close code it earns."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def decode_client_frame(data: str | bytes) -> ClientFrame:
    """Parse what a participant sent; raises :class:`FrameError` with the right close code."""
    try:
        return _validate_client_frame(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        if first["type"] in ("json_invalid", "dict_type"):
            raise FrameError(Close.MALFORMED, "not a JSON object") from None
        if first["type"] in ("union_tag_not_found", "union_tag_invalid"):
            raise FrameError(
                Close.INVALID,
                "type: expected hello, publish, resume, ping, approve, deny or remove",
            ) from None
        for problem in error.errors(include_url=False):
            # An older pairup's hello also has fields this one does not know: the version
            # is what to tell it about.
            if tuple(problem["loc"]) == ("hello", "v"):
                raise FrameError(
                    Close.INVALID,
                    f"protocol version {repr(problem['input'])[:20]}: this relay speaks "
                    f"{PROTOCOL_VERSION}; upgrade pairup (pip install -U pairup) so the relay "
                    "and every participant run the same version",
                ) from None
        where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
        raise FrameError(Close.INVALID, f"{where}: {first['msg']}"[:200]) from None


def encode(frame: _Frame) -> str:
    return frame.model_dump_json()


def encode_sequenced(*, seq: int, at: float, id: str, sender: str, body: str) -> bytes:
    """The ``event`` frame in UTF-8: what :func:`encode` writes for :class:`Sequenced`.

    For the relay's hottest path, once per event, from fields it checked or assigned itself
    (``at`` is its own clock, so finite): it skips building and validating a model, which
    costs several times the encoding.
    """
    return (
        f'{{"type":"event","seq":{seq},"at":{at!r},"id":{json_string(id)},'
        f'"sender":{json_string(sender)},"body":{json_string(body)}}}'
    ).encode()


def pack_events(frames: list[bytes], budget: int = MAX_FRAME_BYTES) -> list[bytes]:
    """``event`` frames (UTF-8, as :func:`encode_sequenced` writes them) packed, in order, into
    as few frames as fit in ``budget`` bytes each: an ``events`` frame for several, the
    ``event`` frame itself for one alone. A frame bigger than the budget goes alone, so no
    frame is bigger than the larger of the two, and participants take both."""
    packed: list[bytes] = []
    group: list[bytes] = []
    size = len(_EVENTS_HEAD) + len(_EVENTS_TAIL)
    for frame in frames:
        if group and size + len(frame) + 1 > budget:
            packed.append(_events_frame(group))
            group, size = [], len(_EVENTS_HEAD) + len(_EVENTS_TAIL)
        group.append(frame)
        size += len(frame) + 1
    if group:
        packed.append(_events_frame(group))
    return packed


_EVENTS_HEAD = b'{"type":"events","events":['
_EVENTS_TAIL = b"]}"


def _events_frame(group: list[bytes]) -> bytes:
    if len(group) == 1:
        return group[0]
    return _EVENTS_HEAD + b",".join(group) + _EVENTS_TAIL


def encode_ack(id: str, seq: int) -> bytes:
    """The ``ack`` frame in UTF-8: what :func:`encode` writes for :class:`Ack`."""
    return f'{{"type":"ack","id":{json_string(id)},"seq":{seq}}}'.encode()


json_string = json.encoder.encode_basestring
"""A string as a JSON string literal, non-ASCII characters kept as they are (as pydantic
writes them)."""
