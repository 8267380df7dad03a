"""Sealing bodies end to end: what opens, and everything that must not."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup import seal

KEY = seal.body_key(seal.watch_secret(b"k" * 16, "abcdefgh"), "abcdefgh")
AAD = seal.event_aad("abcdefgh", "ann", "ann-00000001")


@given(st.binary(max_size=2000))
def test_a_sealed_body_opens_as_itself_and_says_nothing_of_it(body):
    sealed = seal.seal(KEY, body, AAD)
    assert seal.open_sealed(KEY, sealed, AAD) == body
    assert len(sealed) == seal.sealed_length(len(body))
    assert seal.SEALED.fullmatch(sealed)
    if len(body) >= 8:
        assert base64.urlsafe_b64encode(body).rstrip(b"=").decode() not in sealed


def test_the_same_body_sealed_twice_looks_different():
    assert seal.seal(KEY, b"same", AAD) != seal.seal(KEY, b"same", AAD)


@given(st.binary(min_size=1, max_size=300), st.data())
def test_a_body_with_any_bit_flipped_does_not_open(body, data):
    raw = bytearray(base64.urlsafe_b64decode(_padded(seal.seal(KEY, body, AAD))))
    bit = data.draw(st.integers(min_value=0, max_value=len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    assert seal.open_sealed(KEY, flipped, AAD) is None


@given(st.binary(max_size=300), st.data())
def test_a_body_cut_short_does_not_open(body, data):
    sealed = seal.seal(KEY, body, AAD)
    cut = data.draw(st.integers(min_value=0, max_value=len(sealed) - 1))
    assert seal.open_sealed(KEY, sealed[:cut], AAD) is None


@pytest.mark.parametrize(
    "elsewhere",
    [
        seal.event_aad("abcdefgh9", "ann", "ann-00000001"),
        seal.event_aad("abcdefgh", "bob", "ann-00000001"),
        seal.event_aad("abcdefgh", "ann", "ann-00000002"),
        seal.name_aad("abcdefgh", "ann"),
    ],
    ids=["another session", "another sender", "another event", "a name"],
)
def test_a_body_moved_to_another_session_sender_or_event_does_not_open(elsewhere):
    assert seal.open_sealed(KEY, seal.seal(KEY, b"{}", AAD), elsewhere) is None


def test_a_body_sealed_for_another_session_does_not_open_with_its_id():
    """A body replayed from an earlier session: another session's key, the same ids."""
    earlier = seal.body_key(seal.watch_secret(b"k" * 16, "earlier1"), "earlier1")
    assert seal.open_sealed(KEY, seal.seal(earlier, b"{}", AAD), AAD) is None


@pytest.mark.parametrize("junk", ["", "A", "AAAA", "!!!!", "A" * 37, "é" * 40])
def test_junk_is_not_a_body(junk):
    assert seal.open_sealed(KEY, junk, AAD) is None


def test_the_key_schedule_is_rfc_5869():
    """HKDF-SHA256 as RFC 5869's test case 1 (22 bytes of 0x0b, salt 0x00..0x0c, info
    0xf0..0xf9) gives its first 32 bytes: the same function WebCrypto computes."""
    okm = seal.hkdf(b"\x0b" * 22, salt=bytes(range(13)), info=bytes(range(0xF0, 0xFA)))
    assert okm.hex() == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"


def _padded(text: str) -> str:
    return text + "=" * (-len(text) % 4)
