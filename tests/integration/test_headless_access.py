"""Who may come in, who is put out and who only watches, with real ``pairup --headless``
processes on loopback: the host's commands let in and turn away, a participant taken out is
disconnected and waits for the host to come back, and a watch link follows the session and
changes nothing."""

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from pairup import protocol as wire

from .test_headless import (
    DECISION,
    PAIRUP,
    Record,
    environment,
    host,
    is_event,
    is_status,
    participants,
)


def is_knock(participant: str) -> Callable[[Record], bool]:
    return lambda record: record.get("type") == "knock" and record["participant"] == participant


def joiner(launch, who: str, link: str, name: str):
    return launch(who, "join", link, "--headless", "--name", name, "--email", f"{who}@example.test")


def test_the_host_lets_in_turns_away_and_takes_out(tmp_path: Path) -> None:
    with participants(tmp_path) as launch:
        ann, link = host(launch, extra=("--approve",))
        ann.expect(is_status("connected"), "ann is connected")
        bob = joiner(launch, "b", link, "Bob")
        bob_id = bob.expect(lambda record: record["type"] == "link", "bob's link line")[
            "participant"
        ]
        waiting = bob.expect(is_status("waiting"), "bob waits for the host")
        assert "waiting for the host to let you in" in waiting["reason"]
        knock = ann.expect(is_knock(bob_id), "ann hears bob knock")
        assert (knock["name"], knock["host"], knock["returning"]) == ("Bob", True, False)
        assert len(knock["fingerprint"]) == 19
        # Both screens show the same fingerprint, for the two people to compare aloud.
        assert waiting["fingerprint"] == knock["fingerprint"]

        bob.send(DECISION)
        ann.send({"cmd": "let-in", "participant": bob_id})
        assert ann.expect(lambda record: record["type"] == "sent", "ann's receipt") == {
            "type": "sent",
            "cmd": "let-in",
            "participant": bob_id,
        }
        bob.expect(is_status("connected"), "bob is let in")
        ann.expect(is_event("participant.joined", actor=bob_id), "bob joins")
        # What bob typed while waiting waited for his join, and follows it.
        ann.expect(is_event("decision.recorded", actor=bob_id), "bob's decision arrives")

        carol = joiner(launch, "c", link, "Carol")
        carol_id = carol.expect(lambda record: record["type"] == "link", "carol's link")[
            "participant"
        ]
        ann.expect(is_knock(carol_id), "ann hears carol knock")
        bob.send({"cmd": "turn-away", "participant": carol_id})
        refused = bob.expect(lambda record: record["type"] == "error", "bob may not answer")
        assert "only the host" in refused["error"]
        ann.send({"cmd": "turn-away", "participant": carol_id})
        last = carol.rest(timeout=10)[-1]
        assert last["state"] == "offline"
        assert "turned" in last["reason"] or "host" in last["reason"]
        assert carol.process.wait(timeout=5) == 1

        ann.send({"cmd": "remove", "participant_id": bob_id})
        taken_out = ann.expect(is_event("participant.left", participant_id=bob_id), "bob out")
        assert "ignored" not in taken_out
        last = bob.rest(timeout=10)[-1]
        assert last["state"] == "offline"
        assert "taken out" in last["reason"]

        again = joiner(launch, "b", link, "Bob")
        again.expect(is_status("waiting"), "bob waits again")
        returning = ann.expect(is_knock(bob_id), "ann hears bob knock again")
        assert returning["returning"] is True
        assert returning["fingerprint"] == knock["fingerprint"]


def test_a_watch_link_follows_the_session_and_changes_nothing(tmp_path: Path) -> None:
    with participants(tmp_path) as launch:
        ann, _ = host(launch)
        watch = ann.seen[0]["watch"]
        assert wire.JoinLink.parse(watch).watch
        ann.expect(is_status("connected"), "ann is connected")
        kim = joiner(launch, "k", watch, "Kim")
        first: Record = kim.expect(lambda record: True, "kim's first line")
        assert first["watching"] is True
        assert "#" not in first["link"].replace("#…", "")
        kim.expect(is_status("connected"), "kim watches")
        watchers = ann.expect(lambda record: record.get("type") == "watchers", "kim shown")
        assert watchers["watching"] == [{"participant": first["participant"], "name": "Kim"}]

        ann.send(DECISION)
        kim.expect(is_event("decision.recorded", title=DECISION["title"]), "kim sees it")
        kim.send(DECISION)
        refused = kim.expect(lambda record: record["type"] == "error", "kim's answer")
        assert "watching" in refused["error"]
        kim.send({"cmd": "leave"})
        assert kim.process.wait(timeout=10) == 0
        gone = ann.expect(lambda record: record.get("type") == "watchers", "kim gone")
        assert gone["watching"] == []


def test_a_relay_with_its_own_certificate_is_joined_by_the_pin_it_prints(tmp_path: Path) -> None:
    """``pairup relay --self-signed`` says its pin; a session started on it with
    ``--relay 'wss://HOST:PORT#PIN'`` gives links that carry the pin, and both ends talk."""
    relay = subprocess.Popen(
        [str(PAIRUP), "relay", "--self-signed", "--host", "127.0.0.1", "--port", "0"],
        env=environment(tmp_path, "relay"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert relay.stdout is not None
        said = relay.stdout.readline()
        pin = re.search(r"pin (\S{43}):", said)
        listening = re.search(r"listening on (wss://\S+) ", relay.stdout.readline())
        assert pin is not None, said
        assert listening is not None
        url = f"{listening.group(1)}#{pin.group(1)}"
        with participants(tmp_path) as launch:
            ann = launch("a", "start", "--headless", "--relay", url, "--name", "Ann")
            link = ann.expect(lambda record: record["type"] == "link", "ann's link")["link"]
            assert wire.JoinLink.parse(link).pin == pin.group(1)
            bob = joiner(launch, "b", link, "Bob")
            bob.expect(is_status("connected"), "bob is connected")
            ann.send(DECISION)
            bob.expect(is_event("decision.recorded", title=DECISION["title"]), "bob sees it")
    finally:
        relay.terminate()
        relay.wait(timeout=10)
        for stream in (relay.stdout, relay.stderr):
            if stream is not None:
                stream.close()
