"""When the host goes away: ``pairup start --resume``, a guest facing an unreachable host, and
a guest who leaves, all as real ``pairup`` processes on loopback.

A host killed mid-session must be able to bring back the very session its partners hold a link
to, and nobody may lose (or see twice) a decision made before, during or after the outage. Each
process has its own data dir (see :func:`tests.integration.test_headless.environment`); the host
works in a git repository of the test's own, which is what ``--resume`` looks sessions up by.
"""

import json
import signal
import socket
import stat
import subprocess
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pairup import protocol as wire
from pairup.journal import journal_path, load

from .relaykit import LOOPBACK, free_port
from .test_headless import (
    DECISION,
    PAIRUP,
    WAIT,
    Participant,
    Record,
    environment,
    guest,
    host,
    is_event,
    is_status,
    participants,
)

ANN = ("--name", "Ann", "--email", "ann@example.test")
RECONNECT_WAIT = 30.0
"""A guest's backoff may have grown to a few seconds by the time its host is back."""


def decision(title: str) -> Record:
    return {**DECISION, "title": title}


def is_decision(title: str) -> Callable[[Record], bool]:
    return is_event("decision.recorded", title=title)


def await_decisions(someone: Participant, titles: list[str], timeout: float = WAIT) -> None:
    """Read on until every one of ``titles`` has been seen, in whatever order the relay chose."""
    missing = set(titles)
    while missing:
        record = someone.expect(
            is_event("decision.recorded"), f"decisions {sorted(missing)}", timeout
        )
        missing.discard(record["event"]["title"])


def is_sent(record: Record) -> bool:
    return record.get("type") == "sent"


def titles_in(records: list[Record]) -> Counter[str]:
    """How many times each decision's title appears among the event lines."""
    return Counter(
        record["event"]["title"] for record in records if is_event("decision.recorded")(record)
    )


def refused(record: Record) -> bool:
    return record.get("type") == "status" and "refuses connections" in record.get("reason", "")


def repository(path: Path, tmp_path: Path) -> Path:
    """A git repository with an identity of its own; no global or system git config is read."""
    env = environment(tmp_path, "git")
    path.mkdir()
    for args in (
        ("init", "-q", "-b", "main"),
        ("config", "user.name", "Ann"),
        ("config", "user.email", "ann@example.test"),
        ("commit", "-q", "--allow-empty", "-m", "Start"),
    ):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


def resume(launch: Callable[..., Participant], repo: Path, *args: str) -> Participant:
    return launch("a", "start", "--headless", "--resume", *args, *ANN, cwd=repo)


def run_pairup(tmp_path: Path, who: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(PAIRUP), *args],
        env=environment(tmp_path, who),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def killed(participant: Participant) -> list[Record]:
    """SIGKILL, as a crash or a closed laptop would; every line it printed before dying."""
    participant.process.send_signal(signal.SIGKILL)
    participant.process.wait(timeout=WAIT)
    participant.rest(timeout=WAIT)
    return participant.seen


@contextmanager
def hosted_then_killed(tmp_path: Path) -> Iterator[tuple[Callable[..., Participant], Path, str]]:
    """A session Ann hosted from her repository, with one decision, and Ann killed."""
    repo = repository(tmp_path / "repo", tmp_path)
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        ann.send(decision("Before the crash"))
        ann.expect(is_decision("Before the crash"), "ann's decision")
        killed(ann)
        yield launch, repo, link


def test_a_killed_host_resumes_its_session_and_nobody_loses_or_repeats_a_decision(tmp_path):
    repo = repository(tmp_path / "repo", tmp_path)
    bob_dir = tmp_path / "bob-work"
    bob_dir.mkdir()
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        ann_id = ann.seen[0]["participant"]
        session = wire.JoinLink.parse(link).session
        kept = tmp_path / "a" / "hosted" / f"{session}.json"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        assert json.loads(kept.read_text())["link"] == link

        bob = guest(launch, link, cwd=bob_dir)
        bob_id = bob.expect(lambda record: True, "bob's link line")["participant"]
        bob.expect(is_status("connected"), "bob is connected")
        ann.expect(is_event("participant.joined", actor=bob_id), "bob joins")
        ann.send(decision("Ann before"))
        bob.send(decision("Bob before"))
        for someone in (ann, bob):
            await_decisions(someone, ["Ann before", "Bob before"])

        ann_first = killed(ann)
        # The dropped connection itself gives no reason; the next try, refused, says why.
        gone = bob.expect(refused, "bob saying the host refuses connections", timeout=5)
        assert gone["state"] in ("connecting", "reconnecting"), gone
        while_down = ["Bob while the host is down", "Bob again while it is down"]
        for title in while_down:
            bob.send(decision(title))
            bob.expect(is_sent, f"the receipt for {title}")
        outbox = load(journal_path(tmp_path / "b", session)).pending
        assert [event.title for event in outbox] == while_down, "journaled before anything else"

        ann = resume(launch, repo)
        first = ann.expect(lambda record: True, "the resumed host's first line")
        assert (first["type"], first["link"], first["participant"]) == ("link", link, ann_id)
        ann.expect(is_status("connected"), "the resumed host is connected")
        bob.expect(is_status("connected"), "bob reconnects by himself", timeout=RECONNECT_WAIT)
        await_decisions(ann, while_down)
        ann.send(decision("Ann after"))
        for someone in (ann, bob):
            someone.expect(is_decision("Ann after"), "the decision after the resume")

        ann.send({"cmd": "end"})
        ann.rest(timeout=WAIT)
        bob.rest(timeout=WAIT)
        assert ann.process.wait(timeout=WAIT) == 0
        assert bob.process.wait(timeout=WAIT) == 0

    every = ["Ann before", "Bob before", *while_down, "Ann after"]
    assert titles_in(ann_first + ann.seen) == Counter(every)
    assert titles_in(bob.seen) == Counter(every)
    for someone in (bob.seen, ann_first + ann.seen):
        joins = [record for record in someone if is_event("participant.joined")(record)]
        assert Counter(record["event"]["actor"] for record in joins) == {ann_id: 1, bob_id: 1}, (
            "each joined once: a reconnect or a resume joins nobody again"
        )
    logs = []
    for who in ("a", "b"):
        contents = load(journal_path(tmp_path / who, session))
        assert contents.pending == []
        logs.append([(e.seq, e.id) for e in contents.events if e.kind == "decision.recorded"])
        recorded = Counter(e.title for e in contents.events if e.kind == "decision.recorded")
        assert recorded == Counter(every), who
    assert logs[0] == logs[1], "both journals hold the same decisions at the same offsets"
    assert not kept.exists(), "an ended session's record, secret and all, is removed"


def test_a_plain_start_offers_the_unfinished_session_then_opens_a_new_one(tmp_path):
    with hosted_then_killed(tmp_path) as (launch, repo, link):
        ann = launch("a", "start", "--headless", "--host", LOOPBACK, "--port", "0", *ANN, cwd=repo)
        offer = ann.expect(lambda record: True, "the offer")
        assert offer == {
            "type": "resumable",
            "session": wire.JoinLink.parse(link).session,
            "started": offer["started"],
            "participants": ["Ann"],
            "decisions": 1,
            "resume": "pairup start --headless --resume",
        }
        assert isinstance(offer["started"], float)
        opened = ann.expect(lambda record: True, "the new session's link")
        assert opened["type"] == "link"
        assert wire.JoinLink.parse(opened["link"]).session != offer["session"]
        ann.expect(is_event("session.opened"), "a new session opens")
        killed(ann)

        # The newer session is now the most recent; the older one can still be named.
        older = resume(launch, repo, offer["session"])
        assert older.expect(lambda record: True, "the older session's link")["link"] == link


def test_resume_with_nothing_to_resume_exits_2_with_one_line(tmp_path):
    repo = repository(tmp_path / "repo", tmp_path)
    result = run_pairup(tmp_path, "a", "start", "--headless", "--resume", *ANN, cwd=repo)
    assert (result.returncode, result.stdout) == (2, "")
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("pairup: no unfinished session"), lines[0]
    assert "resume" in lines[0]


def test_resume_on_a_taken_port_says_so_and_resume_on_another_port_moves_the_link(tmp_path):
    with hosted_then_killed(tmp_path) as (launch, repo, link):
        old = wire.JoinLink.parse(link)
        port = int(old.relay.rsplit(":", 1)[1])
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((LOOPBACK, port))
            squatter.listen()
            result = run_pairup(tmp_path, "a", "start", "--headless", "--resume", *ANN, cwd=repo)
            assert result.returncode != 0
            assert result.stdout == ""
            lines = result.stderr.splitlines()
            assert len(lines) == 1, result.stderr
            assert f"port {port}" in lines[0], lines[0]
            assert "taken" in lines[0], lines[0]
            assert "--resume --port" in lines[0], lines[0]

            elsewhere = free_port()
            ann = resume(launch, repo, "--port", str(elsewhere))
            moved = ann.expect(lambda record: "link" in record, "the moved session's link")["link"]
        assert moved != link
        assert wire.JoinLink.parse(moved) == wire.JoinLink(
            f"wss://{LOOPBACK}:{elsewhere}", old.session, old.secret, pin=old.pin
        )
        kept = json.loads((tmp_path / "a" / "hosted" / f"{old.session}.json").read_text())
        assert (kept["link"], kept["port"]) == (moved, elsewhere)

        bob = guest(launch, moved)
        bob.expect(is_status("connected"), "bob joins on the new port")
        bob.expect(is_decision("Before the crash"), "bob gets the session's log")
        bob_id = bob.seen[0]["participant"]
        ann.expect(is_event("participant.joined", actor=bob_id), "ann sees bob join")


def test_resuming_a_session_still_open_in_another_pairup_changes_nothing(tmp_path):
    """Not its port, and not its record: the link the partners hold must keep working."""
    repo = repository(tmp_path / "repo", tmp_path)
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        ann.expect(is_status("connected"), "ann is connected")
        kept = tmp_path / "a" / "hosted" / f"{wire.JoinLink.parse(link).session}.json"
        before = kept.read_text()
        for elsewhere in ((), ("--port", str(free_port()))):
            result = run_pairup(
                tmp_path, "a", "start", "--headless", "--resume", *elsewhere, *ANN, cwd=repo
            )
            assert (result.returncode, result.stdout) == (2, ""), result.stderr
            lines = result.stderr.splitlines()
            assert len(lines) == 1, result.stderr
            assert "already open in another pairup" in lines[0], lines[0]
            assert kept.read_text() == before
        assert ann.process.poll() is None


def test_a_guest_whose_host_refuses_connections_says_why_backs_off_and_keeps_no_session(
    tmp_path,
):
    with socket.socket() as nobody:
        # Bound, never listening: connections to it are refused, and no one else can take it.
        nobody.bind((LOOPBACK, 0))
        port = nobody.getsockname()[1]
        link = wire.JoinLink(f"ws://{LOOPBACK}:{port}", "abcdefghij", b"k" * wire.SECRET_BYTES)
        with participants(tmp_path) as launch:
            bob = guest(launch, str(link))
            for attempt in range(3):
                line = bob.expect(is_status("reconnecting"), f"retry {attempt}", timeout=5)
                assert line["reason"] == (
                    f"the host at {LOOPBACK}:{port} refuses connections (is its pairup running?)"
                ), line
                # 0.5 s doubling at each try, times a jitter between 0.5 and 1 (rounded).
                assert 0.25 * 2**attempt - 0.1 <= line["retry_in"] <= 0.5 * 2**attempt, line
            bob.send({"cmd": "leave"})
            assert bob.process.wait(timeout=3) == 0
            assert bob.rest(timeout=WAIT)[-1]["state"] == "offline"
    # Never admitted: neither the tries nor the goodbye leave a session behind.
    assert list((tmp_path / "b").rglob("*.jsonl")) == []
    listed = run_pairup(tmp_path, "b", "sessions", cwd=tmp_path)
    assert listed.returncode == 0
    assert listed.stdout.startswith("No sessions recorded yet"), listed.stdout


def test_a_guest_whose_host_does_not_answer_says_so(tmp_path):
    with socket.socket() as deaf:
        # Listening, never accepting: the connection opens, and the handshake goes unanswered.
        deaf.bind((LOOPBACK, 0))
        deaf.listen()
        port = deaf.getsockname()[1]
        link = wire.JoinLink(f"ws://{LOOPBACK}:{port}", "abcdefghij", b"k" * wire.SECRET_BYTES)
        with participants(tmp_path) as launch:
            bob = guest(launch, str(link))
            line = bob.expect(is_status("reconnecting"), "a retry", timeout=WAIT)
            assert line["reason"] == f"the host at {LOOPBACK}:{port} does not answer", line


def test_a_guest_who_leaves_exits_0_and_is_never_joined_again(tmp_path):
    with participants(tmp_path) as launch:
        ann, link = host(launch)
        bob = guest(launch, link)
        bob_id = bob.expect(lambda record: True, "bob's link line")["participant"]
        ann.expect(is_event("participant.joined", actor=bob_id), "bob joins")
        bob.send({"cmd": "leave"})
        assert bob.process.wait(timeout=5) == 0
        assert bob.expect(is_sent, "the receipt for leaving")["kind"] == "participant.left"
        assert bob.rest(timeout=WAIT)[-1] == {
            "type": "status",
            "state": "offline",
            "relay": link.split("/s/")[0],
            "reason": "left the session",
        }
        ann.expect(is_event("participant.left", actor=bob_id), "bob leaves")
        ann.send({"cmd": "end"})
        ann.rest(timeout=WAIT)
        assert ann.process.wait(timeout=WAIT) == 0
    left = next(i for i, line in enumerate(ann.seen) if is_event("participant.left")(line))
    assert not [line for line in ann.seen[left:] if is_event("participant.joined")(line)]
