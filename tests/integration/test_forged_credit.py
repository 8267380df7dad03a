"""Nobody gets a ``Co-authored-by:`` trailer who did not pair: forged joins never reach a commit.

Ann hosts from her repository and Bob joins, both real headless pairups on a real relay. A
third party holding the link, Mallory, speaks the protocol directly: she publishes joins in
others' names, for Bob's id with another name and email, for an id nobody owns with a famous
name, and a join shaped like a re-seeded event signed with a key of her own. Then Ann commits
with ``pairup commit`` and with a plain ``git commit`` through the hook: both credit Bob, and
Bob alone.
"""

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect

from pairup import identity
from pairup import protocol as wire
from pairup.session import events as ev

from .relaykit import Peer, hello_text, key_of, next_frame
from .test_git_commits import (
    BOB_TRAILER,
    ann_env,
    co_authors_of,
    git,
    new_repo,
    pairup,
    wait_for_live,
)
from .test_headless import Participant, guest, host, participants

SESSION_FAKE_STAMP = 1_700_000_000.0


async def pinned_peer(join: wire.JoinLink, participant: str) -> Peer:
    """A raw protocol client entering the session of a ``wss://`` link by its pin, as a link
    does: the embedded relay's certificate is its own, known by the pin alone."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    ws = await connect(join.url, compression=None, ssl=context)
    tls = ws.transport.get_extra_info("ssl_object")
    assert wire.pin_of(tls.getpeercert(binary_form=True)) == join.pin
    await ws.send(hello_text(ws, join.relay, join.session, join.secret, participant))
    welcome = await next_frame(ws)
    assert isinstance(welcome, wire.Welcome), welcome
    return Peer(ws, welcome, participant, join.session, join.secret)


def forgeries(session: str) -> list[ev.Event]:
    """Joins Mallory signs, each claiming someone who is not her."""
    mallory = key_of("mallory")
    phantom = Ed25519PrivateKey.generate()
    bob_again = ev.Participant(id="bob-stolen", name="Bob", email="bob@example.test")
    famous = ev.Participant(id="linus", name="Linus Torvalds", email="torvalds@example.org")
    return [
        # Her own key, someone else's id: only they can join as themselves.
        identity.signed(
            ev.ParticipantJoined(id="forged-join-1", actor="mallory", at=0, participant=famous),
            session,
            mallory,
        ),
        identity.signed(
            ev.ParticipantJoined(id="forged-join-2", actor="mallory", at=0, participant=bob_again),
            session,
            mallory,
        ),
        # Shaped like a re-seed (another actor, an earlier stamp), signed with a fresh key.
        identity.signed(
            ev.ParticipantJoined(
                id="forged-join-3",
                actor="linus",
                at=0,
                stamped_at=SESSION_FAKE_STAMP,
                participant=famous,
            ),
            session,
            phantom,
        ),
    ]


@pytest.fixture
def pairing(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], Participant, str]]:
    """Ann (hosting, in her repository) and Bob, both in the session, and the join link."""
    env = ann_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    (tmp_path / "bob-repo").mkdir()
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        guest(launch, link, cwd=tmp_path / "bob-repo")
        wait_for_live(repo, "Bob")
        yield repo, env, ann, link


def test_forged_joins_put_no_trailer_into_any_commit(pairing) -> None:
    repo, env, ann, link = pairing
    join = wire.JoinLink.parse(link)

    async def attack() -> None:
        peer = await pinned_peer(join, "mallory")
        for event in forgeries(join.session):
            body = event.model_dump_json(exclude_none=True)
            await peer.publish(body, event.id)
        await peer.until(wire.Sequenced, count=3)
        await peer.close()

    asyncio.run(attack())
    for forged in ("forged-join-1", "forged-join-2", "forged-join-3"):
        ann.expect(lambda r, f=forged: r.get("event", {}).get("id") == f, f"Ann to see {forged}")

    (repo / "relay.py").write_text("print('relay')\n")
    git(repo, "add", "relay.py", env=env)
    made = pairup(repo, env, "commit", "-m", "Add the relay")
    assert made.returncode == 0, made.stderr
    assert co_authors_of(repo, env) == [BOB_TRAILER]

    assert pairup(repo, env, "hook", "install").returncode == 0
    git(repo, "commit", "-q", "--allow-empty", "-m", "Through the hook", env=env)
    assert co_authors_of(repo, env) == [BOB_TRAILER]
