"""What the fuzz tests send to the relay, and what the protocol says must come back.

Three families of input, from the outside in:

- **bytes before the HTTP handshake**: random bytes and mangled HTTP requests;
- **bytes after it**: WebSocket frames built bit by bit (any opcode, reserved bits, masks,
  lengths that lie), random bytes, with or without a valid hello before them;
- **messages**: arbitrary JSON, valid frames mutated (wrong types, huge or negative numbers,
  unknown kinds and types, missing or extra fields, NUL, unicode, lone surrogates, deep
  nesting, a second hello, publish before hello), JSON text edited by hand, binary messages.

For messages the expected answer is computed here, independently of the relay's code path: the
documented close code of the first bad message, or none when every message is a frame the relay
serves. It reads JSON with Python's parser and frames with the protocol's models, which are the
specification the relay answers to.
"""

import asyncio
import contextlib
import json
import struct
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st
from pydantic import ValidationError
from websockets.asyncio.client import connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
from websockets.http11 import Response
from websockets.uri import parse_uri

from pairup import protocol as wire
from pairup.session.events import EVENT_KINDS

from ..integration.relaykit import LOOPBACK, next_frame

PARTICIPANT = "fuzzer"
"""Who the fuzzing connections say they are, once admitted."""
PROBE = 4242.0
"""The ``sent`` of the ping that follows every case: its pong shows the connection is open."""
ANSWER_WAIT = 5.0
MAX_JSON_LEVEL = 201
"""The relay's JSON parser gives up on values nested deeper than this (the outer object is
level 1) and answers 4400, as for malformed JSON."""

Message = str | bytes

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


def verdict(message: Message, *, admitted: bool, session: str, key: str) -> int | None:
    """The close code the relay must answer ``message`` with, or ``None`` if it serves it.

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
        return None
    if not isinstance(frame, wire.Hello):
        return wire.Close.INVALID
    if frame.session != session:
        return wire.Close.POLICY
    if frame.key != key:
        return wire.Close.NOT_ADMITTED
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


def well_formed_frames(session: str, key: str) -> st.SearchStrategy[dict[str, Any]]:
    """Frames of the protocol's shape, as JSON-ready dicts. Most are what someone admitted as
    ``PARTICIPANT`` may send; some hellos name another session or carry a wrong key, and some
    publishes another sender."""
    ids = st.from_regex(r"[A-Za-z0-9_-]{8,20}", fullmatch=True)
    other_session, other_key = "another-session", "A" * 43
    hello = st.fixed_dictionaries(
        {
            "type": st.just("hello"),
            "session": st.sampled_from([session, session, other_session]),
            "key": st.sampled_from([key, key, other_key]),
        },
        optional={
            "v": st.just(1),
            "participant": st.from_regex(r"[a-z]{1,8}", fullmatch=True),
            "create": st.booleans(),
            "max_participants": st.integers(2, 8),
        },
    ).map(lambda frame: {"participant": PARTICIPANT, **frame})
    publish = st.fixed_dictionaries(
        {
            "type": st.just("publish"),
            "id": ids,
            "sender": st.sampled_from([PARTICIPANT, PARTICIPANT, "someone.else"]),
            "kind": st.sampled_from(sorted(EVENT_KINDS)),
            "body": st.text(max_size=40).filter(lambda body: "\x00" not in body),
        }
    )
    resume = st.fixed_dictionaries({"type": st.just("resume"), "after": st.integers(0, 2**53)})
    ping = st.fixed_dictionaries(
        {"type": st.just("ping"), "sent": st.floats(0, 1e11, allow_nan=False)}
    )
    return hello | publish | resume | ping


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
                | st.sampled_from(sorted(EVENT_KINDS))
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


def messages(session: str, key: str) -> st.SearchStrategy[Message]:
    """One message of any family, sent as text, or as a binary message for ``bytes``; frames
    of the protocol's shape, mutated or not, are drawn most often, as they get furthest."""
    frames = well_formed_frames(session, key)
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
    a pong (the connection stayed open)."""

    welcomed: bool
    error: int | None
    close: int | None


async def exchange(url: str, session: str, hello: str | None, sent: list[Message]) -> Answer:
    """Open a connection to ``session``, send ``hello`` (if any) and ``sent``, then a ping, and
    read until the pong or the close."""
    async with connect(f"{url}/s/{session}", compression=None, open_timeout=ANSWER_WAIT) as ws:
        welcomed = False
        if hello is not None:
            await ws.send(hello)
            welcome = await next_frame(ws)
            assert isinstance(welcome, wire.Welcome), welcome
            welcomed = True
        error = None
        with contextlib.suppress(ConnectionClosed):
            for message in sent:
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
                        return Answer(welcomed, error, None)
        await ws.wait_closed()
        return Answer(welcomed, error, ws.close_code)


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


async def send_after_handshake(
    port: int, session: str, hello: str | None, data: bytes
) -> Close | None:
    """Open a WebSocket connection by the book, send ``hello`` (if any) as a proper frame, then
    ``data`` raw; the close frame the relay sent before it closed, if any."""
    protocol = ClientProtocol(parse_uri(f"ws://{LOOPBACK}:{port}/s/{session}"))
    protocol.send_request(protocol.connect())
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    try:
        writer.write(b"".join(protocol.data_to_send()))
        async with asyncio.timeout(ANSWER_WAIT):
            while not any(isinstance(event, Response) for event in protocol.events_received()):
                chunk = await reader.read(64 * 1024)
                assert chunk, "the relay closed during the handshake"
                protocol.receive_data(chunk)
        assert protocol.handshake_exc is None, protocol.handshake_exc
        if hello is not None:
            protocol.send_text(hello.encode())
            writer.write(b"".join(protocol.data_to_send()))
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
