"""Join links, derived keys and frame decoding: the pure half of the wire protocol."""

import json
import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
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
    assert wire.JoinLink.parse(str(link.watching())) == link.watching()


@given(st.binary(min_size=32, max_size=32))
def test_a_pinned_link_reads_back_as_itself_with_its_pin(certificate):
    pin = wire.pin_of(certificate)
    link = wire.JoinLink("wss://127.0.0.1:8765", SESSION, b"s" * 16, pin=pin)
    assert wire.JoinLink.parse(str(link)) == link
    assert wire.JoinLink.parse(str(link.watching())).pin == pin


def test_a_watch_link_opens_the_bodies_and_admits_no_participant():
    """The watch secret is derived one way from the join secret: the same body key, another
    admission key, and the join secret nowhere in the watch link."""
    link = wire.JoinLink("ws://127.0.0.1:1", SESSION, secrets.token_bytes(wire.SECRET_BYTES))
    watch = link.watching()
    assert watch.watch
    assert not link.watch
    assert watch.url == link.url
    assert "/w/" in str(watch)
    assert "/s/" in str(link)
    assert watch.body_key == link.body_key
    assert wire.verifier(watch) != wire.verifier(link)
    assert wire.key_text(link.secret) not in str(watch)
    assert watch.watching() == watch


def test_a_watch_link_is_the_address_of_its_page_and_pairup_takes_either_form():
    """A browser opens http:// and https://, never ws://: the watch link is printed as the
    page's address, and it (or the page's address of a join link) reaches the same relay."""
    plain = wire.JoinLink("ws://127.0.0.1:8765", SESSION, b"s" * 16).watching()
    assert str(plain).startswith(f"http://127.0.0.1:8765/w/{SESSION}#")
    assert plain.redacted() == f"http://127.0.0.1:8765/w/{SESSION}#…"
    pinned = wire.JoinLink("wss://relay.example:443", SESSION, b"s" * 16, pin="P" * 43).watching()
    assert str(pinned).startswith(f"https://relay.example:443/w/{SESSION}#")
    assert str(pinned).endswith(".PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP")
    assert wire.JoinLink.parse(str(pinned)).relay == "wss://relay.example:443"
    assert wire.JoinLink.parse(str(plain).replace("http:", "ws:")) == plain
    join = wire.JoinLink("wss://relay.example:443", SESSION, b"s" * 16)
    assert wire.JoinLink.parse(str(join).replace("wss:", "https:")) == join


@pytest.mark.parametrize(
    ("path", "file"),
    [
        (f"/w/{SESSION}", "watch.html"),
        (f"/s/{SESSION}", "watch.html"),
        ("/_pairup/watch.mjs", "watch.mjs"),
        ("/_pairup/icon.svg", "icon.svg"),
        ("/w/short", None),
        (f"/w/{SESSION}/", None),
        (f"/w/{SESSION}?utm_source=chat", "watch.html"),
        ("/w/short?x=1", None),
        ("/_pairup/../protocol.py", None),
        ("/_pairup/sub/watch.mjs", None),
        ("/_pairup/watch.py", None),
        ("/_pairup/", None),
        ("/healthz", None),
    ],
)
def test_the_page_is_served_at_a_sessions_link_and_its_files_under_one_prefix(path, file):
    assert wire.page_file(path) == file


def test_a_link_wrapped_over_lines_reads_as_itself():
    link = wire.JoinLink("wss://127.0.0.1:8765", SESSION, b"s" * 16, pin="P" * 43)
    text = str(link)
    assert wire.JoinLink.parse(f"  {text[:30]}\n {text[30:70]}\r\n\t{text[70:]} ") == link


def test_the_redacted_link_has_no_secret():
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    link = wire.JoinLink("wss://relay.example:443", SESSION, secret)
    assert link.redacted() == f"wss://relay.example:443/s/{SESSION}#…"
    assert str(link).split("#")[1] not in link.redacted()
    assert "#" not in link.url


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("ftp://host:1/s/abcdefgh#" + "A" * 22, "starts with ws://"),
        ("host:1/w/abcdefgh#" + "A" * 22, "starts with ws://"),
        ("ws://host:1/abcdefgh#" + "A" * 22, "after /s/"),
        ("ws://host:1/s/short#" + "A" * 22, "after /s/"),
        ("ws://host:1/s/abcdefgh?x=1#" + "A" * 22, "no query string"),
        ("ws://host:1/s/abcdefgh#" + "A" * 10, "cut short"),
        ("ws://host:1/s/abcdefgh#not+base64!", "cut short"),
        ("ws://host:1/s/abcdefgh#" + "A" * 22 + "." + "B" * 43, "not wss://"),
        ("wss://host:1/s/abcdefgh#" + "A" * 22 + "." + "B" * 42, "not 43 characters"),
    ],
)
def test_a_bad_link_says_what_a_good_one_looks_like(text, says):
    with pytest.raises(wire.LinkError, match=says):
        wire.JoinLink.parse(text)


def test_the_keys_differ_and_depend_on_secret_and_session():
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    link = wire.JoinLink("ws://127.0.0.1:1", SESSION, secret)
    verifier = wire.verifier(link)
    assert len(verifier) == 32
    assert verifier == wire.verifier(wire.JoinLink("ws://elsewhere:2", SESSION, secret))
    assert link.body_key != verifier
    assert wire.verifier(wire.JoinLink(link.relay, SESSION + "x", secret)) != verifier
    other = wire.JoinLink(link.relay, SESSION, secrets.token_bytes(wire.SECRET_BYTES))
    assert wire.verifier(other) != verifier
    assert other.body_key != link.body_key
    assert wire.JoinLink(link.relay, SESSION + "x", secret).body_key != link.body_key
    assert wire.key_bytes(wire.key_text(verifier)) == verifier


def test_a_fingerprint_is_short_and_tells_keys_apart():
    one, two = (wire.public_bytes(Ed25519PrivateKey.generate()) for _ in range(2))
    assert len(wire.fingerprint(one)) == 19
    assert wire.fingerprint(one) == wire.fingerprint(one) != wire.fingerprint(two)


LINK = wire.JoinLink("ws://127.0.0.1:1", SESSION, b"s" * wire.SECRET_BYTES)
ANN = Ed25519PrivateKey.generate()
CHALLENGE = b"c" * wire.CHALLENGE_BYTES


def _checks(hello: wire.Hello, challenge: bytes = CHALLENGE) -> tuple[bool, bool]:
    """Whether the relay, holding the session's verifier, takes the hello's two proofs."""
    verifier = wire.verifier(LINK.watching() if hello.role == "watcher" else LINK)
    return hello.admitted_by(verifier, challenge), hello.proves_identity(challenge)


def test_a_hello_proves_the_link_and_the_participants_key_and_carries_neither():
    hello = wire.hello(LINK, "ann", ANN, CHALLENGE, create=True)
    assert _checks(hello) == (True, True)
    assert hello.identity == wire.key_text(wire.public_bytes(ANN))
    assert hello.verifier == wire.key_text(wire.verifier(LINK))
    assert hello.watch_verifier == wire.key_text(wire.verifier(LINK.watching()))
    sent = wire.encode(hello)
    for secret_thing in (LINK.secret, LINK.watching().secret, LINK.body_key, _seed(ANN)):
        assert wire.key_text(secret_thing) not in sent
        assert secret_thing.hex() not in sent
    # Only a hello that creates the session tells the relay how to check proofs.
    assert wire.hello(LINK, "ann", ANN, CHALLENGE).verifier is None


def test_a_watchers_hello_proves_the_watch_link_and_cannot_create_anything():
    hello = wire.hello(LINK.watching(), "kim", ANN, CHALLENGE, create=True, approve=True)
    assert hello.role == "watcher"
    assert _checks(hello) == (True, True)
    assert (hello.create, hello.approve, hello.verifier, hello.restore) == (
        False,
        False,
        None,
        False,
    )
    verifier = wire.verifier(LINK)
    assert not hello.admitted_by(verifier, CHALLENGE)


def test_a_hello_claims_its_role_under_both_proofs():
    """A watcher cannot turn its hello into a participant's, nor the other way round."""
    watcher = wire.hello(LINK.watching(), "kim", ANN, CHALLENGE)
    assert _checks(watcher.model_copy(update={"role": "participant"})) == (False, False)
    participant = wire.hello(LINK, "ann", ANN, CHALLENGE)
    assert _checks(participant.model_copy(update={"role": "watcher"})) == (False, False)


def test_a_shown_name_opens_only_for_its_session_and_participant():
    hello = wire.hello(LINK, "ann", ANN, CHALLENGE, name="Ann <script>")
    assert hello.name is not None
    assert "Ann" not in wire.encode(hello)
    assert wire.open_name(LINK, "ann", hello.name) == "Ann <script>"
    assert wire.open_name(LINK.watching(), "ann", hello.name) == "Ann <script>"
    assert wire.open_name(LINK, "bob", hello.name) is None
    other = wire.JoinLink(LINK.relay, "abcdefgh9999", LINK.secret)
    assert wire.open_name(other, "ann", hello.name) is None
    assert wire.open_name(LINK, "ann", None) is None
    assert wire.hello(LINK, "ann", ANN, CHALLENGE).name is None


def test_a_hello_holds_only_for_its_challenge():
    hello = wire.hello(LINK, "ann", ANN, CHALLENGE)
    assert _checks(hello, b"d" * wire.CHALLENGE_BYTES) == (False, False)


@pytest.mark.parametrize(
    "change",
    [
        {"session": "abcdefgh9999"},
        {"participant": "bob"},
        {"identity": wire.key_text(wire.public_bytes(Ed25519PrivateKey.generate()))},
    ],
    ids=["another session", "another participant", "another identity"],
)
def test_a_hello_holds_only_for_its_session_participant_and_identity(change):
    """Nothing a hello says can be changed without both proofs failing: a captured hello
    cannot be turned into someone else's, or into another session's."""
    hello = wire.hello(LINK, "ann", ANN, CHALLENGE).model_copy(update=change)
    assert _checks(hello) == (False, False)


def test_the_link_is_proven_only_by_whoever_holds_its_secret():
    other_link = wire.JoinLink(LINK.relay, SESSION, b"x" * wire.SECRET_BYTES)
    forged = wire.hello(other_link, "ann", ANN, CHALLENGE)
    assert _checks(forged) == (False, True)


def test_a_key_is_proven_only_by_whoever_holds_it():
    """Someone with the link who claims another's public key cannot sign for it."""
    mine = wire.hello(LINK, "ann", Ed25519PrivateKey.generate(), CHALLENGE)
    claimed = mine.model_copy(update={"identity": wire.key_text(wire.public_bytes(ANN))})
    # The admission proof covers the identity too, so re-sign it as a link holder would.
    admission = wire.admission_signer(LINK)
    transcript = wire.hello_transcript(
        CHALLENGE, SESSION, "ann", wire.public_bytes(ANN), "participant"
    )
    claimed = claimed.model_copy(update={"admission": wire.key_text(admission.sign(transcript))})
    assert _checks(claimed) == (True, False)


@pytest.mark.parametrize("header", [None, "", "short", "x" * 22 + "=", "!" * 22, "A" * 23])
def test_a_handshake_without_a_well_formed_challenge_has_none(header):
    assert wire.challenge_bytes(header) is None


def test_the_relays_challenges_are_well_formed_and_never_the_same():
    challenges = [wire.new_challenge() for _ in range(100)]
    assert len(set(challenges)) == 100
    assert all(len(wire.challenge_bytes(c) or b"") == wire.CHALLENGE_BYTES for c in challenges)


def _seed(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{", wire.Close.MALFORMED),
        ("[]", wire.Close.MALFORMED),
        ("{}", wire.Close.INVALID),
        ('{"type": "resume", "after": -1}', wire.Close.INVALID),
        ('{"type": "publish", "id": "evt-0001", "sender": "a", "body": ""}', wire.Close.INVALID),
        (
            '{"type": "publish", "id": "evt-0001", "sender": "a", "body": "not base64!"}',
            wire.Close.INVALID,
        ),
        (
            '{"type": "publish", "id": "evt-0001", "sender": "a", "kind": "x", "body": "AAAA"}',
            wire.Close.INVALID,
        ),
        (
            json.dumps(
                {
                    "type": "publish",
                    "id": "evt-0001",
                    "sender": "a",
                    "body": "A" * (wire.MAX_SEALED_BODY + 1),
                }
            ),
            wire.Close.INVALID,
        ),
        ('{"type": "approve", "participant": "a", "identity": "short"}', wire.Close.INVALID),
        ('{"type": "remove"}', wire.Close.INVALID),
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
    fields = {"id": "ann-00000001", "sender": "ann.b", "body": body}
    made = wire.encode_sequenced(seq=seq, at=at, **fields)
    assert made == wire.encode(wire.Sequenced(seq=seq, at=at, **fields)).encode()
    assert wire.RELAY_FRAME.validate_json(made) == wire.Sequenced(seq=seq, at=at, **fields)
    ack = wire.encode_ack("ann-00000001", seq)
    assert ack == wire.encode(wire.Ack(id="ann-00000001", seq=seq)).encode()


def test_a_commit_s_events_are_packed_in_order_into_frames_within_the_budget():
    frames = [
        wire.encode_sequenced(seq=seq, at=1.5, id=f"ann-{seq:06d}", sender="ann", body="x" * 90)
        for seq in range(1, 8)
    ]
    packed = wire.pack_events(frames, budget=600)
    assert all(len(frame) <= 600 for frame in packed)
    decoded = [wire.RELAY_FRAME.validate_json(frame) for frame in packed]
    assert [type(frame) for frame in decoded] == [wire.Events, wire.Events, wire.Sequenced]
    seqs = [e.seq for frame in decoded for e in getattr(frame, "events", (frame,))]
    assert seqs == list(range(1, 8))


def test_an_event_alone_or_too_big_to_share_goes_as_an_event_frame():
    small = wire.encode_sequenced(seq=1, at=1.5, id="ann-000001", sender="ann", body="{}")
    big = wire.encode_sequenced(seq=2, at=1.5, id="ann-000002", sender="ann", body="x" * 2000)
    assert wire.pack_events([small]) == [small]
    assert wire.pack_events([small, big, small], budget=1000) == [small, big, small]
    assert wire.pack_events([]) == []


OLD_HELLO = {"type": "hello", "v": 2, "session": "abcdefgh", "key": "k" * 43, "participant": "a"}
"""A hello as pairup sent it at protocol version 2: with the admission key itself."""


@pytest.mark.parametrize("version", [1, 2, 3, 5, "x" * 300, [2] * 100])
def test_a_hello_of_another_protocol_version_is_told_to_upgrade(version):
    """An older pairup's hello (version 2 has a ``key`` and none of the proofs) is told about
    the version, not about the fields it lacks."""
    hello = {**OLD_HELLO, "v": version}
    with pytest.raises(wire.FrameError) as refused:
        wire.decode_client_frame(json.dumps(hello))
    assert refused.value.code == wire.Close.INVALID
    assert "this relay speaks 4" in refused.value.reason
    assert "upgrade pairup" in refused.value.reason
    # It goes out in an error frame, whose reason holds 200 characters at most.
    assert wire.Error(code=refused.value.code, reason=refused.value.reason)


def test_a_hello_of_this_version_reads_back_as_itself():
    hello = wire.hello(
        LINK, "ann", ANN, CHALLENGE, name="Ann", create=True, approve=True, max_participants=3
    )
    assert wire.decode_client_frame(wire.encode(hello)) == hello


@pytest.mark.parametrize(
    "frame",
    [
        wire.Approve(participant="bob", identity="k" * 43),
        wire.Deny(participant="bob", identity="k" * 43),
        wire.Remove(participant="bob"),
    ],
)
def test_the_access_frames_read_back_as_themselves(frame):
    assert wire.decode_client_frame(wire.encode(frame)) == frame
