"""What the watch page checks before it applies an event, against what a participant checks:
the keys it derives from a link, the bodies and names it opens, which events it takes from an
envelope, and whose signature it asks for and accepts. The page's functions in headless
Chromium (``seal.mjs`` with WebCrypto, ``session.mjs``); pairup's own in this process.
"""

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from pairup import identity, seal
from pairup import protocol as wire
from pairup.link.core import body_of, event_from
from pairup.session import State, step
from pairup.session import events as ev

from .chromium import Page, serve_static, shared_browser

STATIC = Path(__file__).resolve().parents[2] / "pairup" / "web" / "static"
SESSION = "checks-session-01"

HELPERS = """
Promise.all([import('/seal.mjs'), import('/session.mjs'), import('/mend.mjs')]).then(
  ([seal, session, mend]) => {
  globalThis.K = seal;
  globalThis.S = session;
  globalThis.M = mend;
  globalThis.hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  globalThis.bytesOf = (text) => K.unb64u(text);
  return true;
})
"""


class Browser:
    def __init__(self, runner: asyncio.Runner, page: Page) -> None:
        self.runner = runner
        self.page = page

    def run(self, expression: str) -> Any:
        return self.runner.run(self.page.evaluate(expression))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with shared_browser() as (runner, chromium), serve_static(STATIC) as base:
        page = runner.run(chromium.page())
        runner.run(page.goto(f"{base}/"))
        assert runner.run(page.evaluate(HELPERS))
        yield Browser(runner, page)


def js(value: object) -> str:
    return json.dumps(value)


def test_the_page_derives_the_links_keys_as_pairup_does(browser):
    secret = secrets.token_bytes(wire.SECRET_BYTES)
    link = wire.JoinLink("ws://127.0.0.1:1", SESSION, secret)
    watch = link.watching()
    derived = browser.run(
        f"""(async () => {{
          const watch = await K.watchSecret(bytesOf({js(wire.key_text(secret))}), {js(SESSION)});
          const keys = await K.keysOf(watch, {js(SESSION)});
          const sealed = await K.seal(keys.body, new TextEncoder().encode("Kim"),
                                      K.nameAad({js(SESSION)}, "kim"));
          return {{watch: K.b64u(watch), admission: K.b64u(keys.admission.public), sealed}};
        }})()"""
    )
    assert derived["watch"] == wire.key_text(watch.secret)
    assert derived["admission"] == wire.key_text(wire.verifier(watch))
    # A name the page seals opens in pairup as that watcher's, and as nobody else's.
    assert wire.open_name(watch, "kim", derived["sealed"]) == "Kim"
    assert wire.open_name(watch, "bob", derived["sealed"]) is None


def test_the_page_opens_what_pairup_seals_and_nothing_altered_or_moved(browser):
    link = wire.JoinLink("ws://127.0.0.1:1", SESSION, secrets.token_bytes(wire.SECRET_BYTES))
    aad = seal.event_aad(SESSION, "ann", "event-0001")
    sealed = seal.seal(link.body_key, b'{"hello": "\xc3\xa9"}', aad)
    flipped = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    cases = [
        (sealed, "ann", "event-0001"),
        (sealed, "bob", "event-0001"),
        (sealed, "ann", "event-0002"),
        (flipped, "ann", "event-0001"),
        (sealed[:-4], "ann", "event-0001"),
        ("not base64!", "ann", "event-0001"),
        ("", "ann", "event-0001"),
        (sealed + "=", "ann", "event-0001"),
    ]
    opened = browser.run(
        f"""(async () => {{
          const keys = await K.keysOf(bytesOf({js(wire.key_text(link.watching().secret))}),
                                      {js(SESSION)});
          const out = [];
          for (const [body, sender, id] of {js(cases)}) {{
            const bytes = await K.open(keys.body, body, K.eventAad({js(SESSION)}, sender, id));
            out.push(bytes === null ? null : hex(bytes));
          }}
          return out;
        }})()"""
    )
    expected = [
        None
        if (plain := seal.open_sealed(link.body_key, body, seal.event_aad(SESSION, sender, id)))
        is None
        else plain.hex()
        for body, sender, id in cases
    ]
    assert opened == expected
    assert opened[0] is not None
    assert opened[1:] == [None] * (len(cases) - 1)


ANN = Ed25519PrivateKey.generate()
BOB = Ed25519PrivateKey.generate()


def joined(who: str, key: Ed25519PrivateKey, at: float) -> ev.Event:
    person = ev.Participant(id=who, name=who.title(), email=f"{who}@example.test")
    event = ev.ParticipantJoined(id=f"join-{who}-0001", actor=who, at=at, participant=person)
    return identity.signed(event, SESSION, key)


def test_the_page_takes_and_checks_events_from_envelopes_as_a_participant_does(browser):
    at = time.time()
    state = State()
    joins = (joined("ann", ANN, at), joined("bob", BOB, at))
    for seq, event in enumerate(joins, start=1):
        state = step(state, event_from(sequence(seq, event.actor, event), body_of(event))).state
    decision = ev.DecisionRecorded(
        id="decide-0001", actor="ann", at=at, decision_id="decision-0001", title="Keep it"
    )
    signed = identity.signed(decision, SESSION, ANN)
    by_bob = identity.signed(decision, SESSION, BOB)
    reseeded = signed.model_copy(update={"stamped_at": at - 60})
    later = signed.model_copy(update={"stamped_at": at + 60})
    stranger = identity.signed(decision.model_copy(update={"actor": "eve"}), SESSION, BOB)
    cases = [
        ("ann", signed.id, signed),
        ("ann", signed.id, decision),
        ("ann", signed.id, by_bob),
        ("bob", signed.id, signed),
        ("bob", signed.id, reseeded),
        ("ann", signed.id, later),
        ("ann", "another-0001", signed),
        ("eve", stranger.id, stranger),
        ("bob", "join-bob-0002", joined("bob", ANN, at).model_copy(update={"id": "join-bob-0002"})),
    ]
    envelopes = [
        {"seq": 3, "at": at + 1, "id": id, "sender": sender, "body": body_of(event).decode()}
        for sender, id, event in cases
    ]
    # The page's whole check, as watch.mjs makes it: the event from its envelope, the key
    # its actor's signature must be by, and that signature by WebCrypto.
    page = browser.run(
        f"""(async () => {{
          let state = S.initialState();
          for (const text of {js([body_of(join).decode() for join in joins])}) {{
            state = S.step(state, S.decodeEvent(text).event).state;
          }}
          const out = [];
          for (const envelope of {js(envelopes)}) {{
            const event = S.eventFrom(envelope, envelope.body);
            if (event === null) {{ out.push(null); continue; }}
            const signer = S.signerKey(state, event);
            const good = signer.key === undefined ? false
              : await K.verifies(signer.key, event.sig, S.signedMessage({js(SESSION)}, event));
            out.push({{stamped: event.stamped_at, reason: signer.reason ?? null, good}});
          }}
          return out;
        }})()"""
    )
    expected = []
    for envelope, (_, _, event) in zip(envelopes, cases, strict=True):
        taken = event_from(sequence(3, envelope["sender"], event, envelope), body_of(event))
        if taken is None:
            expected.append(None)
            continue
        forged = identity.forged(state, SESSION, taken)
        reason = forged if forged is not None and "is not signed with" not in forged else None
        expected.append({"stamped": taken.stamped_at, "reason": reason, "good": forged is None})
    assert page == expected
    assert [row is None for row in page] == [
        False,
        False,
        False,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
    assert page[0]["good"]
    assert not page[1]["good"]
    assert not page[2]["good"]


def sequence(
    seq: int, sender: str, event: ev.Event, envelope: dict[str, Any] | None = None
) -> wire.Sequenced:
    return wire.Sequenced(
        seq=seq,
        at=envelope["at"] if envelope else event.at,
        id=envelope["id"] if envelope else event.id,
        sender=sender,
        body="x",
    )


def test_the_page_mends_its_log_as_a_participant_does(browser):
    """One resume at a time; the next gap asked for as soon as the last is filled (not a
    repair interval later); asked again only once a resume brought nothing for 2 s; and a
    bounded number of events held past a gap."""
    steps = browser.run(
        """(() => {
          const out = [];
          const held = new Map();
          let asked = null;
          const ask = (lastSeq, relayHas, progress, now) => {
            const r = M.mend({lastSeq, relayHas, held, asked, progress}, now);
            asked = r.asked;
            out.push(r.frame);
          };
          // Catching up on 100 events: one resume, none while they come in order.
          ask(0, 100, 0, 0);
          ask(40, 100, 900, 1000);
          ask(80, 100, 2900, 3000);
          // Stalled: nothing came for 2 s since the last progress.
          ask(80, 100, 2900, 4900);
          ask(100, 100, 5000, 5000);
          // Two gaps: 102 and 105 lost, 103, 104, 106 held.
          for (const seq of [103, 104, 106]) M.hold(held, {seq}, 101);
          ask(101, 106, 6000, 6000);
          held.delete(103); held.delete(104);
          // 102 came and 103, 104 applied: the next gap at once, in the same millisecond.
          ask(104, 106, 6050, 6050);
          held.clear();
          ask(106, 106, 6100, 6100);
          const full = new Map();
          for (let seq = 1; seq <= M.EARLY_LIMIT + 5; seq++) M.hold(full, {seq: seq + 10}, 10);
          out.push(full.size, M.hold(full, {seq: 5}, 10), M.hold(full, {seq: 11}, 10));
          return out;
        })()"""
    )
    assert steps == [
        {"type": "resume", "after": 0},
        None,
        None,
        {"type": "resume", "after": 80},
        None,
        {"type": "resume", "after": 101, "until": 102},
        {"type": "resume", "after": 104, "until": 105},
        None,
        10_000,
        False,
        True,
    ]
