"""Join links, derived keys and frame decoding: the pure half of the wire protocol."""

import json
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup import protocol as wire

SESSION = "abcdefgh1234"


@given(
    st.binary(min_size=wire.SECRET_BYTES, max_size=32),
    st.from_regex(wire.SESSION_ID, fullmatch=True),
)
def test_a_link_reads_back_as_itself(secret, session):
    link = wire.JoinLink("ws://127.0.0.1:8765", session, secret)
    assert wire.JoinLink.parse(str(link)) == link


def test_the_redacted_link_has_no_secret():
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    link = wire.JoinLink("wss://relay.example:443", SESSION, secret)
    assert link.redacted() == f"wss://relay.example:443/s/{SESSION}#…"
    assert str(link).split("#")[1] not in link.redacted()
    assert "#" not in link.url


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("http://host:1/s/abcdefgh#" + "A" * 22, "starts with ws://"),
        ("ws://host:1/abcdefgh#" + "A" * 22, "after /s/"),
        ("ws://host:1/s/short#" + "A" * 22, "after /s/"),
        ("ws://host:1/s/abcdefgh?x=1#" + "A" * 22, "no query string"),
        ("ws://host:1/s/abcdefgh#" + "A" * 10, "cut short"),
        ("ws://host:1/s/abcdefgh#not+base64!", "cut short"),
    ],
)
def test_a_bad_link_says_what_a_good_one_looks_like(text, says):
    with pytest.raises(wire.LinkError, match=says):
        wire.JoinLink.parse(text)


def test_the_two_keys_differ_and_depend_on_secret_and_session():
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    admission = wire.admission_key(secret, SESSION)
    assert len(admission) == 32
    assert admission == wire.admission_key(secret, SESSION)
    assert wire.peer_key(secret, SESSION) != admission
    assert wire.admission_key(secret, SESSION + "x") != admission
    assert wire.admission_key(secrets.token_bytes(wire.SECRET_BYTES), SESSION) != admission


def test_the_relay_admits_only_the_key_its_digest_came_from():
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    key = wire.admission_key(secret, SESSION)
    digest = wire.admission_digest(key)
    assert digest != key
    assert wire.admits(digest, key)
    assert not wire.admits(digest, wire.peer_key(secret, SESSION))
    assert wire.key_bytes(wire.key_text(key)) == key


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{", wire.Close.MALFORMED),
        ("[]", wire.Close.MALFORMED),
        ("{}", wire.Close.INVALID),
        ('{"type": "resume", "after": -1}', wire.Close.INVALID),
        (
            '{"type": "publish", "id": "evt-0001", "sender": "a", "kind": "no.such", "body": ""}',
            wire.Close.INVALID,
        ),
    ],
)
def test_a_frame_outside_the_protocol_earns_its_close_code(raw, code):
    with pytest.raises(wire.FrameError) as refused:
        wire.decode_client_frame(raw)
    assert refused.value.code == code


@given(
    seq=st.integers(min_value=1, max_value=2**53),
    at=st.floats(min_value=1e6, max_value=1e11, allow_nan=False, allow_infinity=False),
    body=st.text(max_size=200).filter(lambda body: "\x00" not in body),
)
def test_the_relays_hand_made_frames_are_the_models_frames(seq, at, body):
    fields = {"id": "ann-00000001", "sender": "ann.b", "kind": "lesson.noted", "body": body}
    made = wire.encode_sequenced(seq=seq, at=at, **fields)
    assert made == wire.encode(wire.Sequenced(seq=seq, at=at, **fields)).encode()
    assert wire.RELAY_FRAME.validate_json(made) == wire.Sequenced(seq=seq, at=at, **fields)
    ack = wire.encode_ack("ann-00000001", seq)
    assert ack == wire.encode(wire.Ack(id="ann-00000001", seq=seq)).encode()


def test_a_commit_s_events_are_packed_in_order_into_frames_within_the_budget():
    frames = [
        wire.encode_sequenced(
            seq=seq, at=1.5, id=f"ann-{seq:06d}", sender="ann", kind="lesson.noted", body="x" * 90
        )
        for seq in range(1, 8)
    ]
    packed = wire.pack_events(frames, budget=700)
    assert all(len(frame) <= 700 for frame in packed)
    decoded = [wire.RELAY_FRAME.validate_json(frame) for frame in packed]
    assert [type(frame) for frame in decoded] == [wire.Events, wire.Events, wire.Sequenced]
    seqs = [e.seq for frame in decoded for e in getattr(frame, "events", (frame,))]
    assert seqs == list(range(1, 8))


def test_an_event_alone_or_too_big_to_share_goes_as_an_event_frame():
    small = wire.encode_sequenced(
        seq=1, at=1.5, id="ann-000001", sender="ann", kind="lesson.noted", body="{}"
    )
    big = wire.encode_sequenced(
        seq=2, at=1.5, id="ann-000002", sender="ann", kind="lesson.noted", body="x" * 2000
    )
    assert wire.pack_events([small]) == [small]
    assert wire.pack_events([small, big, small], budget=1000) == [small, big, small]
    assert wire.pack_events([]) == []


@pytest.mark.parametrize("version", [1, 3, "x" * 300, [2] * 100])
def test_a_hello_of_another_protocol_version_is_told_to_use_the_same_pairup_everywhere(version):
    hello = json.loads(wire.encode(wire.Hello(session="abcdefgh", key="k" * 43, participant="ann")))
    hello["v"] = version
    with pytest.raises(wire.FrameError) as refused:
        wire.decode_client_frame(json.dumps(hello))
    assert refused.value.code == wire.Close.INVALID
    assert "this relay speaks 2" in refused.value.reason
    # It goes out in an error frame, whose reason holds 200 characters at most.
    assert wire.Error(code=refused.value.code, reason=refused.value.reason)
