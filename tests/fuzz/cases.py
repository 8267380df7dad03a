"""What the fuzz tests send to the relay, and what the protocol says must come back.

Three families of input, from the outside in:

- **bytes before the HTTP handshake**: random bytes and mangled HTTP requests;
- **bytes after it**: WebSocket frames built bit by bit (any opcode, reserved bits, masks,
  lengths that lie), random bytes, with or without a valid hello before them;
- **messages**: arbitrary JSON, valid frames mutated (wrong types, huge or negative numbers,
  a kind in the envelope (protocol 3) and unknown types, missing or extra fields, bodies that
  are not sealed or too long, NUL, unicode, lone surrogates, deep nesting, a second hello,
  publish before hello), JSON text edited by hand, binary messages.

A hello proves, over the challenge the relay gave its connection, that its sender holds the
link and the participant's key, so it can only be made once the connection is open. Messages
are drawn with placeholders where a hello's proofs go (:data:`ADMISSION` and the like), and
:func:`render` fills them in for the connection's challenge: a good proof, one by a wrong
secret or a stranger's key, or one made for another connection's challenge (a replay).

For messages the expected answer is computed here, independently of the relay's code path: the
documented close code of the first bad message, or none when every message is a frame the relay
serves. It reads JSON with Python's parser and frames with the protocol's models, which are the
specification the relay answers to, and keeps its own account of the key each participant id
of the session is bound to (:class:`Gate`).
"""

import asyncio
import contextlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close, Frame
from websockets.http11 import Response
from websockets.uri import parse_uri

from pairup import protocol as wire

from ..integration.relaykit import LOOPBACK, key_of, next_frame

PARTICIPANT = "fuzzer"
"""Who the fuzzing connections say they are, once admitted."""
PROBE = 4242.0
"""The ``sent`` of the ping that follows every case: its pong shows the connection is open."""
ANSWER_WAIT = 5.0
MAX_JSON_LEVEL = 201
"""The relay's JSON parser gives up on values nested deeper than this (the outer object is
level 1) and answers 4400, as for malformed JSON."""

Message = str | bytes

# -- hellos, made for the connection they are sent on -------------------------------------------

ADMISSION = "@admission@"
"""Where a hello's proof of the link goes: the link's, for this connection's challenge."""
WRONG_ADMISSION = "@admission:wrong-secret@"
"""A proof of the link made with another secret: someone guessing."""
STALE_ADMISSION = "@admission:stale@"
"""The link's proof, made for another connection's challenge: a captured hello replayed."""
IDENTITY = "@identity@"
"""The participant's own public key (each participant id has one, :func:`key_of`)."""
OTHER_IDENTITY = "@identity:other@"
"""Another public key for the same participant id: someone with the link claiming an id."""
PROOF = "@proof@"
"""A proof by the private half of whichever identity the hello claims."""
WRONG_PROOF = "@proof:stranger@"
"""A proof by a key that is not the one the hello claims."""
STALE_PROOF = "@proof:stale@"
"""The right key's proof, for another connection's challenge."""
VERIFIER = "@verifier@"
"""The link's verifier, as a hello that creates the session carries it."""

WRONG_SECRET = b"w" * wire.SECRET_BYTES
STALE_CHALLENGE = bytes(wire.CHALLENGE_BYTES)
STRANGER = Ed25519PrivateKey.generate()
_OTHER_KEYS: dict[str, Ed25519PrivateKey] = {}


def other_key_of(participant: str) -> Ed25519PrivateKey:
    """A second key for a participant id: not the one :func:`key_of` gives it."""
    return _OTHER_KEYS.setdefault(participant, Ed25519PrivateKey.generate())


@dataclass
class Gate:
    """The session under fuzz as its relay admits to it: the link's secret, and the key each
    participant id is bound to (the first that entered with it), kept here as the protocol
    says the relay must keep it."""

    session: str
    secret: bytes
    bound: dict[str, bytes] = field(default_factory=dict)

    @property
    def link(self) -> wire.JoinLink:
        return wire.JoinLink(f"ws://{LOOPBACK}", self.session, self.secret)

    @property
    def verifier(self) -> bytes:
        return wire.verifier(self.link)

    def hello(
        self, challenge: bytes, participant: str = PARTICIPANT, *, create: bool = False
    ) -> str:
        """A good hello for this connection's ``challenge``, with the participant's own key."""
        return wire.encode(
            wire.hello(self.link, participant, key_of(participant), challenge, create=create)
        )

    def entered(self, participant: str) -> None:
        """``participant`` entered with its own key: the relay bound the id to it."""
        self.bound.setdefault(participant, wire.public_bytes(key_of(participant)))


def _claims(message: str, gate: Gate) -> tuple[str, str, str]:
    """The session, participant and role a hello's text names, as its proofs must cover
    them; the session's, :data:`PARTICIPANT` and a participant's where the text does not say
    (it will not be read as a hello then anyway)."""
    try:
        frame = json.loads(message)
        session, participant = frame.get("session"), frame.get("participant", PARTICIPANT)
        role = frame.get("role", "participant")
        if isinstance(session, str) and isinstance(participant, str) and isinstance(role, str):
            session.encode(), participant.encode(), role.encode()  # no lone surrogates
            return session, participant, role
    except (ValueError, RecursionError, AttributeError, UnicodeEncodeError):
        pass
    return gate.session, PARTICIPANT, "participant"


def render(message: Message, challenge: bytes, gate: Gate) -> Message:
    """``message`` with its placeholders filled in for a connection whose challenge is
    ``challenge``; a placeholder a hand edit cut in two stays as it is, a wrong value."""
    if isinstance(message, bytes) or "@" not in message:
        return message
    session, participant, role = _claims(message, gate)
    claimed = other_key_of(participant) if OTHER_IDENTITY in message else key_of(participant)
    identity = wire.public_bytes(claimed)

    def signed(key: Ed25519PrivateKey, for_challenge: bytes = challenge) -> str:
        return wire.key_text(
            key.sign(wire.hello_transcript(for_challenge, session, participant, identity, role))
        )

    link = wire.admission_signer(wire.JoinLink(gate.link.relay, session, gate.secret))
    wrong = wire.admission_signer(wire.JoinLink(gate.link.relay, session, WRONG_SECRET))
    values = {
        ADMISSION: signed(link),
        WRONG_ADMISSION: signed(wrong),
        STALE_ADMISSION: signed(link, STALE_CHALLENGE),
        IDENTITY: wire.key_text(identity),
        OTHER_IDENTITY: wire.key_text(identity),
        PROOF: signed(claimed),
        WRONG_PROOF: signed(STRANGER),
        STALE_PROOF: signed(claimed, STALE_CHALLENGE),
        VERIFIER: wire.key_text(wire.public_bytes(link)),
    }
    for placeholder, value in values.items():
        message = message.replace(placeholder, value)
    return message


# -- the oracle ---------------------------------------------------------------------------------


def _surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def reads_as_object(text: str) -> bool:
    """Whether the relay can read ``text`` as one JSON object: Python's reading, less what the
    relay's parser refuses (lone surrogate escapes, nesting deeper than it goes)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return False
    if not isinstance(value, dict):
        return False
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if level > MAX_JSON_LEVEL:
            return False
        if isinstance(item, str) and _surrogate(item):
            return False
        if isinstance(item, dict):
            if any(_surrogate(key) for key in item):
                return False
            pending.extend((child, level + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, level + 1) for child in item)
    return True


def verdict(message: Message, *, admitted: bool, gate: Gate, challenge: bytes) -> int | None:
    """The close code the relay must answer ``message`` (as sent, placeholders filled in) with
    on a connection whose challenge is ``challenge``, or ``None`` if it serves it. A hello it
    serves binds its participant id to its key in ``gate``, as it does in the relay.

    ``admitted``: whether a hello was accepted on this connection already.
    """
    if isinstance(message, bytes) or not reads_as_object(message):
        return wire.Close.MALFORMED
    try:
        frame = wire.CLIENT_FRAME.validate_json(message)
    except ValidationError:
        return wire.Close.INVALID
    if admitted:
        if isinstance(frame, wire.Hello):
            return wire.Close.INVALID
        if isinstance(frame, wire.Publish) and frame.sender != PARTICIPANT:
            return wire.Close.POLICY
        if isinstance(frame, wire.Approve | wire.Deny):
            return wire.Close.POLICY  # the fuzzer is not the host
        if isinstance(frame, wire.Remove) and frame.participant in gate.bound:
            # Itself (an error frame, kept), the host who is connected (refused), or an id
            # not connected, taken out: drawn frames never name one, see well_formed_frames.
            return None if frame.participant == PARTICIPANT else wire.Close.POLICY
        return None
    if not isinstance(frame, wire.Hello):
        return wire.Close.INVALID
    if frame.session != gate.session:
        return wire.Close.POLICY
    if frame.role == "watcher" or not frame.admitted_by(gate.verifier, challenge):
        return wire.Close.NOT_ADMITTED
    if not frame.proves_identity(challenge):
        return wire.Close.POLICY
    identity = wire.key_bytes(frame.identity)
    if gate.bound.setdefault(frame.participant, identity) != identity:
        # Someone else's id: refused before anyone's connection is replaced.
        return wire.Close.POLICY
    return None


# -- messages ----------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            -1,
            0,
            2**53,
            2**53 + 1,
            2**64,
            -(2**63),
            1e308,
            -0.0,
            5e-324,
            "",
            "\x00",
            "a\x00b",
            " 5",
            "5",
            "1e3",
            "true",
            "Ä\u0301🧑‍💻\u202e",
            "\ufeff",
        ]
    )
    | st.integers(300, 500).map(lambda digits: 10**digits)
    | st.integers(1000, 4000).map(lambda length: "x" * length)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _deep(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


awkward_values = json_values | st.integers(MAX_JSON_LEVEL - 5, MAX_JSON_LEVEL + 5).map(_deep)


def _mostly_good(good: str, *bad: str) -> st.SearchStrategy[str]:
    return st.sampled_from([good, good, good, *bad])


def hellos(session: str) -> st.SearchStrategy[dict[str, Any]]:
    """Hellos of the protocol's shape, as JSON-ready dicts with placeholders for their proofs:
    most are good; some name another session, prove the link with a wrong secret, claim
    another key for their id or cannot prove theirs, or were made for another connection's
    challenge, and some come from an older pairup (protocol version 2, with the admission key
    itself)."""
    other_session = "another-session"
    hello = st.fixed_dictionaries(
        {
            "type": st.just("hello"),
            "session": _mostly_good(session, other_session),
            "identity": _mostly_good(IDENTITY, OTHER_IDENTITY),
            "admission": _mostly_good(ADMISSION, WRONG_ADMISSION, STALE_ADMISSION),
            "proof": _mostly_good(PROOF, WRONG_PROOF, STALE_PROOF),
        },
        optional={
            "v": st.sampled_from([4, 4, 1, 2, 3]),
            "participant": st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            "create": st.booleans(),
            "verifier": st.just(VERIFIER),
            "max_participants": st.integers(2, 8),
        },
    ).map(lambda frame: {"participant": PARTICIPANT, **frame})
    older_hello = st.fixed_dictionaries(
        {
            "type": st.just("hello"),
            "v": st.just(2),
            "session": st.just(session),
            "key": st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True),
            "participant": st.just(PARTICIPANT),
        },
        optional={"create": st.booleans()},
    )
    return st.sampled_from(["new"] * 5 + ["old"]).flatmap(
        lambda which: older_hello if which == "old" else hello
    )


bodies = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,60}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9_-]{1,60}", fullmatch=True),
    st.text(max_size=40).filter(lambda body: "\x00" not in body),
    st.integers(wire.MAX_SEALED_BODY - 2, wire.MAX_SEALED_BODY + 2).map(lambda n: "A" * n),
)
"""Sealed bodies as the relay sees them, base64url it cannot open, mostly; some that are not
base64url at all, or around the largest a body may be."""


def well_formed_frames(session: str) -> st.SearchStrategy[dict[str, Any]]:
    """Frames of the protocol's shape, as JSON-ready dicts. Most are what someone admitted as
    ``PARTICIPANT`` may send; some hellos are not good ones (see :func:`hellos`), and some
    publishes name another sender."""
    ids = st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True)
    publish = st.fixed_dictionaries(
        {
            "type": st.just("publish"),
            "id": ids,
            "sender": st.sampled_from([PARTICIPANT, PARTICIPANT, "someone.else"]),
            "body": bodies,
        }
    )
    resume = st.fixed_dictionaries({"type": st.just("resume"), "after": st.integers(0, 2**53)})
    ping = st.fixed_dictionaries(
        {"type": st.just("ping"), "sent": st.floats(0, 1e11, allow_nan=False)}
    )
    return hellos(session) | publish | resume | ping


@st.composite
def mutated(draw: st.DrawFn, frame: dict[str, Any]) -> dict[str, Any]:
    """``frame`` with one to three things wrong (or, now and then, nothing that matters)."""
    frame = dict(frame)
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["drop", "add", "replace", "type", "kind"]))
        if how == "drop" and frame:
            del frame[draw(st.sampled_from(sorted(frame)))]
        elif how == "add":
            frame[draw(st.text(max_size=12) | st.text(min_size=40, max_size=130))] = draw(
                awkward_values
            )
        elif how == "replace" and frame:
            frame[draw(st.sampled_from(sorted(frame)))] = draw(awkward_values)
        elif how == "type":
            frame["type"] = draw(
                st.sampled_from(["hello", "publish", "resume", "ping"]) | awkward_values
            )
        elif how == "kind":
            frame["kind"] = draw(
                st.text(max_size=45)
                | st.text(
                    st.characters(min_codepoint=0x800), min_size=30, max_size=40
                )  # with surrogates
                | st.sampled_from(["lesson.noted", "decision.made"])
            )
    return frame


def _dumps(value: object, ascii_only: bool) -> str:
    """JSON text for ``value``; a lone surrogate, which UTF-8 cannot carry, as an escape."""
    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True)
    return json.dumps(value, allow_nan=True) if _surrogate(text) else text


@st.composite
def hand_edited(draw: st.DrawFn, text: str) -> str:
    """JSON text edited where a parser is easily confused: cut, spliced, a lone surrogate."""
    at = draw(st.integers(0, len(text)))
    insert = draw(
        st.sampled_from(["\\ud800", "\\udc00", '\\"', "\\", "\x00", "\n", "\ufeff", "}", ",", '"'])
        | st.text(max_size=3)
    )
    return draw(st.sampled_from([text[:at], text[:at] + insert + text[at:]]))


def messages(session: str) -> st.SearchStrategy[Message]:
    """One message of any family, sent as text, or as a binary message for ``bytes``; frames
    of the protocol's shape, mutated or not, are drawn most often, as they get furthest. A
    hello's proofs are placeholders, for :func:`render` to fill in once sent."""
    frames = well_formed_frames(session)
    mutants = frames.flatmap(mutated)
    serialised = st.builds(_dumps, json_values | frames | mutants, st.booleans())
    return st.one_of(
        st.builds(_dumps, json_values, st.booleans()),
        st.builds(_dumps, mutants, st.booleans()),
        st.builds(_dumps, mutants, st.booleans()),
        st.builds(_dumps, frames, st.booleans()),
        st.builds(_dumps, frames, st.booleans()),
        serialised.flatmap(hand_edited),
        st.binary(max_size=100),
    )


# -- raw bytes ---------------------------------------------------------------------------------


@st.composite
def http_heads(draw: st.DrawFn, session: str) -> bytes:
    """An HTTP request head that is almost right, ended by a blank line so it gets an answer."""
    method = draw(st.sampled_from(["GET", "POST", "get", "", "GET GET"]) | st.text(max_size=6))
    path = draw(
        st.sampled_from([f"/s/{session}", "/healthz", "/", "/s/", "*", f"/s/{session}?x=1"])
        | st.text(max_size=20)
    )
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/2", "HTTP/1.1 x", ""]))
    headers = {
        "Host": LOOPBACK,
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    for name in draw(st.lists(st.sampled_from(sorted(headers)), max_size=5, unique=True)):
        headers[name] = draw(st.text(max_size=30))
    extra = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3))
    lines = [f"{method} {path} {version}"]
    lines += [f"{name}: {value}" for name, value in {**headers, **extra}.items()]
    head = "\r\n".join(lines).encode("utf-8", "surrogatepass") + b"\r\n\r\n"
    return head + draw(st.binary(max_size=50))


def before_handshake(session: str) -> st.SearchStrategy[bytes]:
    return st.binary(max_size=400) | http_heads(session)


def _mostly(usual: object, other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` about half the time, else anything ``other`` draws: random header bits alone
    would almost never make a frame the relay reads as a message."""
    return st.one_of(st.just(usual), other)


@st.composite
def raw_frames(draw: st.DrawFn) -> bytes:
    """WebSocket frames assembled bit by bit: any opcode, reserved bits, with or without a mask,
    with a length that is true, or one that claims more or less than follows."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 4))):
        payload = draw(st.binary(max_size=200) | st.text(max_size=100).map(str.encode))
        fin = draw(_mostly(True, st.booleans()))
        reserved = draw(_mostly(0, st.integers(0, 7)))
        opcode = draw(_mostly(1, st.integers(0, 15)))
        masked = draw(_mostly(True, st.booleans()))
        length = draw(_mostly(len(payload), st.integers(0, 2**63 - 1)))
        first = fin << 7 | reserved << 4 | opcode
        if length < 126 and draw(_mostly(True, st.booleans())):
            out += bytes([first, masked << 7 | length])
        elif length < 2**16:
            out += bytes([first, masked << 7 | 126]) + struct.pack("!H", length)
        else:
            out += bytes([first, masked << 7 | 127]) + struct.pack("!Q", length)
        if masked:
            mask = draw(st.binary(min_size=4, max_size=4))
            out += mask + bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        else:
            out += payload
    return bytes(out)


def after_handshake() -> st.SearchStrategy[bytes]:
    return raw_frames() | st.binary(max_size=300)


# -- talking to the relay ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """How the relay answered a case: the error frame's code, the close code, or neither and
    a pong (the connection stayed open); with the connection's challenge and the messages as
    they were sent, placeholders filled in, for the oracle."""

    welcomed: bool
    error: int | None
    close: int | None
    challenge: bytes = b""
    sent: tuple[Message, ...] = ()


def challenge_of(headers: Any) -> bytes:
    """The challenge of a connection, from the relay's handshake answer."""
    challenge = wire.challenge_bytes(headers.get(wire.CHALLENGE_HEADER))
    assert challenge is not None, "the relay gave no challenge"
    return challenge


async def exchange(url: str, gate: Gate, *, hello: bool, sent: list[Message]) -> Answer:
    """Open a connection to the gate's session, send a good hello (if ``hello``) and ``sent``
    made for its challenge, then a ping, and read until the pong or the close. Nothing may
    follow a hello until its welcome: without ``hello``, the first message is answered (with
    a welcome, or a refusal) before the rest go."""
    async with connect(f"{url}/s/{gate.session}", compression=None, open_timeout=ANSWER_WAIT) as ws:
        assert ws.response is not None
        challenge = challenge_of(ws.response.headers)
        rendered = tuple(render(message, challenge, gate) for message in sent)
        welcomed = False
        if hello:
            await ws.send(gate.hello(challenge))
            welcome = await next_frame(ws)
            assert isinstance(welcome, wire.Welcome), welcome
            welcomed = True
        error = None
        rest = list(rendered)
        with contextlib.suppress(ConnectionClosed):
            if not hello and rest:
                await ws.send(rest.pop(0))
                async with asyncio.timeout(ANSWER_WAIT):
                    while not welcomed:
                        frame = await next_frame(ws)
                        if isinstance(frame, wire.Welcome):
                            welcomed = True
                        elif isinstance(frame, wire.Error):
                            error = frame.code
            for message in rest:
                await ws.send(message)
            await ws.send(wire.encode(wire.Ping(sent=PROBE)))
            async with asyncio.timeout(ANSWER_WAIT):
                while True:
                    frame = await next_frame(ws)
                    if isinstance(frame, wire.Welcome):
                        welcomed = True
                    elif isinstance(frame, wire.Error):
                        error = frame.code
                    elif isinstance(frame, wire.Pong) and frame.sent == PROBE:
                        return Answer(welcomed, error, None, challenge, rendered)
        await ws.wait_closed()
        return Answer(welcomed, error, ws.close_code, challenge, rendered)


async def send_raw(port: int, data: bytes) -> bytes:
    """Send ``data`` on a bare TCP connection before any handshake; what the relay answered
    before it closed. A complete request head is answered at once; anything else is followed
    by an end of stream, so the relay does not wait for the rest."""
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    answer = b""
    try:
        writer.write(data)
        await writer.drain()
        if b"\r\n\r\n" in data:
            answer = await asyncio.wait_for(reader.read(64 * 1024), ANSWER_WAIT)
        if writer.can_write_eof():
            writer.write_eof()
        answer += await asyncio.wait_for(reader.read(), ANSWER_WAIT)
    except ConnectionResetError:
        pass
    finally:
        writer.transport.abort()
    return answer


async def send_after_handshake(port: int, gate: Gate, hello: bool, data: bytes) -> Close | None:
    """Open a WebSocket connection by the book, send a good hello (if ``hello``) for its
    challenge as a proper frame and wait for the welcome, then send ``data`` raw; the close
    frame the relay sent before it closed, if any."""
    protocol = ClientProtocol(parse_uri(f"ws://{LOOPBACK}:{port}/s/{gate.session}"))
    protocol.send_request(protocol.connect())
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        writer.write(b"".join(protocol.data_to_send()))
        response = None
        async with asyncio.timeout(ANSWER_WAIT):
            while response is None:
                chunk = await reader.read(64 * 1024)
                assert chunk, "the relay closed during the handshake"
                protocol.receive_data(chunk)
                answers = [e for e in protocol.events_received() if isinstance(e, Response)]
                response = answers[0] if answers else None
        assert protocol.handshake_exc is None, protocol.handshake_exc
        if hello:
            protocol.send_text(gate.hello(challenge_of(response.headers)).encode())
            writer.write(b"".join(protocol.data_to_send()))
            async with asyncio.timeout(ANSWER_WAIT):
                while not any(isinstance(e, Frame) for e in protocol.events_received()):
                    chunk = await reader.read(64 * 1024)
                    assert chunk, "the relay closed instead of welcoming a good hello"
                    protocol.receive_data(chunk)
        writer.write(data)
        writer.write_eof()
        async with asyncio.timeout(ANSWER_WAIT):
            while chunk := await reader.read(64 * 1024):
                protocol.receive_data(chunk)
    except ConnectionResetError:
        pass
    finally:
        writer.transport.abort()
    return protocol.close_rcvd
