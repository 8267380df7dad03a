"""Every event is its author's: signatures made and checked as peers do (pairup.identity)."""

import os
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pairup import identity
from pairup.session import events as ev
from pairup.session import fold

SESSION = "session-one"
ANN_KEY = Ed25519PrivateKey.generate()
ANN = ev.Participant(id="ann", name="Ann")


def joined() -> ev.Event:
    event = ev.ParticipantJoined(id="join-ann-01", actor="ann", at=1.0, participant=ANN)
    return identity.signed(event, SESSION, ANN_KEY)


def decision(**fields: object) -> ev.Event:
    base = {"id": "dec-ann-001", "actor": "ann", "at": 2.0, "decision_id": "dec-ann-001"}
    return ev.DecisionRecorded(**{**base, "title": "Use SQLite", **fields})


def test_a_join_carries_its_key_and_every_event_its_authors_signature():
    join = joined()
    assert join.participant.key == identity.public_text(ANN_KEY)
    assert identity.forged(fold([]), SESSION, join) is None
    state = fold([join])
    signed = identity.signed(decision(), SESSION, ANN_KEY)
    assert identity.forged(state, SESSION, signed) is None
    # The relay's offset and time are not part of what was signed.
    stamped = ev.sequenced(signed, 7, 1234.5)
    assert identity.forged(state, SESSION, stamped) is None


@pytest.mark.parametrize(
    ("made", "because"),
    [
        (decision, "is not signed"),
        (
            lambda: identity.signed(decision(), SESSION, Ed25519PrivateKey.generate()),
            "not signed with their key",
        ),
        (
            lambda: identity.signed(decision(), SESSION, ANN_KEY).model_copy(
                update={"title": "Use a flat file"}
            ),
            "not signed with their key",
        ),
        (
            lambda: identity.signed(decision(), "another-session", ANN_KEY),
            "not signed with their key",
        ),
        (
            lambda: identity.signed(decision(actor="cy"), SESSION, ANN_KEY),
            "who has no key in this session",
        ),
        (
            # Someone else's id with a key of their own: the id is bound already.
            lambda: identity.signed(
                ev.ParticipantJoined(
                    id="join-ann-02", actor="ann", at=3.0, participant=ANN.model_copy()
                ),
                SESSION,
                Ed25519PrivateKey.generate(),
            ),
            "not signed with their key",
        ),
    ],
)
def test_an_event_not_signed_by_its_author_is_forged(made, because):
    assert because in (identity.forged(fold([joined()]), SESSION, made()) or "")


def test_the_key_is_kept_for_its_owner_alone_and_read_back(tmp_path):
    key = identity.load_or_make(tmp_path, SESSION, "ann")
    path = identity.key_path(tmp_path, SESSION)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = identity.load_or_make(tmp_path, SESSION, "ann")
    assert identity.public_text(again) == identity.public_text(key)
    # A key made for an id this data dir does not use is replaced, not reused.
    other = identity.load_or_make(tmp_path, SESSION, "bob")
    assert identity.public_text(other) != identity.public_text(key)


def test_a_damaged_key_stops_with_what_to_do(tmp_path):
    identity.load_or_make(tmp_path, SESSION, "ann")
    identity.key_path(tmp_path, SESSION).write_text("not a key")
    with pytest.raises(identity.IdentityError, match=r"damaged.*another data dir"):
        identity.load_or_make(tmp_path, SESSION, "ann")
