"""A decision's life between two real headless participants through a real relay: recorded
with its drivers and options, agreed with and objected to, accepted, superseded; what only
its proposer may do is refused when the partner tries, and hostile text from the partner
travels as the text it is."""

import json

from pairup.journal import list_sessions, load
from pairup.session import fold
from tests.hostile import CORPUS, fit

from .test_headless import Participant, guest, host, is_event, is_status, participants

ENTRIES = ("rich markup", "csi colours", "bidi override", "markdown structure", "yaml", "html")


def ignored(kind: str) -> object:
    return lambda record: (
        record.get("type") == "event"
        and record["event"]["kind"] == kind
        and record.get("ignored") is not None
    )


def joined(ann: Participant, bob: Participant) -> None:
    ann.expect(is_status("connected"), "ann is connected")
    bob.expect(is_status("connected"), "bob is connected")
    bob_id = bob.seen[0]["participant"]
    ann.expect(is_event("participant.joined", actor=bob_id), "bob joins")


def test_a_decision_is_weighed_agreed_objected_to_and_superseded_by_the_pair(tmp_path):
    hostile = [fit(CORPUS[key], 200) for key in ENTRIES]
    options = [{"name": text, "pros": [f"pro {text}"], "cons": [f"con {text}"]} for text in hostile]
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        bob = guest(launch, link)
        joined(ann, bob)
        ann.send(
            {
                "cmd": "decide",
                "title": "Keep the log in SQLite",
                "drivers": ["Nothing acknowledged is lost", *hostile],
                "options": options,
                "chosen": hostile[0],
            }
        )
        bob.expect(is_event("decision.recorded", title="Keep the log in SQLite"), "decision 1")
        ann.send({"cmd": "decide", "title": "Keep the log in Postgres"})
        bob.expect(is_event("decision.recorded", title="Keep the log in Postgres"), "decision 2")

        for text in hostile:
            bob.send({"cmd": "object", "number": 1, "why": text})
            ann.expect(is_event("decision.opinion", stance="object", why=text), "an objection")
        bob.send({"cmd": "agree", "number": 1, "why": "One file to back up"})
        ann.expect(is_event("decision.opinion", stance="agree"), "bob agrees")

        # Only Ann changes her decision's status, or supersedes it.
        bob.send({"cmd": "accept", "number": 1})
        refused = bob.expect(ignored("decision.amended"), "bob's acceptance is refused")
        assert refused["ignored"] == "decision 1 is Ann's to amend"
        bob.send({"cmd": "supersede", "number": 1, "by": 2})
        refused = bob.expect(ignored("decision.superseded"), "bob's supersede is refused")
        assert refused["ignored"] == "decision 1 is Ann's to amend"

        ann.send({"cmd": "accept", "number": 2})
        bob.expect(is_event("decision.amended", status="accepted"), "ann accepts decision 2")
        ann.send({"cmd": "supersede", "number": 1, "by": 2})
        superseded = bob.expect(is_event("decision.superseded"), "ann supersedes decision 1")
        assert not superseded.get("ignored")

        ann.send({"cmd": "end"})
        ann.rest(timeout=15)
        bob.rest(timeout=15)

    for who in ("a", "b"):
        # Both journals fold to the same decisions, the partner's text exactly as typed.
        (journal,) = list_sessions(tmp_path / who)
        state = fold(load(journal.path).events)
        first, second = state.decisions_in_order()
        assert [option.name for option in first.options] == hostile
        assert first.options[0].pros == (f"pro {hostile[0]}",)
        assert first.chosen == hostile[0]
        assert first.drivers == ("Nothing acknowledged is lost", *hostile)
        assert [(o.stance, o.why) for o in first.opinions] == [("agree", "One file to back up")]
        assert first.objected == ()
        assert (first.status, first.superseded_by) == ("superseded", second.id)
        assert (second.status, second.supersedes) == ("accepted", (first.id,))


def test_a_command_about_a_decision_that_cannot_be_says_why_and_nothing_is_sent(tmp_path):
    with participants(tmp_path) as launch:
        ann, _ = host(launch)
        ann.expect(is_status("connected"), "ann is connected")
        ann.send({"cmd": "decide", "title": "One", "options": [{"name": "A"}], "chosen": "B"})
        said = ann.expect(lambda record: record.get("type") == "error", "the error line")
        assert "not one of the options" in said["error"]
        ann.send(json.dumps({"cmd": "supersede", "number": 1}))
        said = ann.expect(lambda record: record.get("type") == "error", "the error line")
        assert said["error"].startswith("supersede: say which decision supersedes it")
        ann.send({"cmd": "end"})
        records = ann.rest(timeout=15)
    kinds = [r["event"]["kind"] for r in records if r.get("type") == "event"]
    assert "decision.recorded" not in kinds
