"""The handover through the real command line: ``pairup start --headless`` and ``pairup join
--headless`` in two clones, on loopback. The turn is handed on with a command on stdin; the
next driver's clone must come out as the last one's, and a receiver killed with SIGKILL in the
middle of taking it must, once started again, have its tree as before or as after, then take
the handover and end as after."""

import os
import random
import signal
import time
from pathlib import Path

import pytest

from .test_handover_link import clones, run_git, status
from .test_headless import Participant, Record, guest, host, is_event, is_status, participants


def is_handover(stage: str) -> "object":
    return lambda record: record.get("type") == "handover" and record.get("stage") == stage


def many_changes(path: Path, env: dict[str, str], files: int) -> None:
    """A turn's worth of work: files changed, files new, one deleted, one committed."""
    (path / "src").mkdir(exist_ok=True)
    for index in range(files):
        (path / "src" / f"module_{index}.py").write_text(f"VALUE = {index}\n" * 50)
    (path / "app.py").write_text("print('changed in the turn')\n")
    run_git(path, env, "add", "src/module_0.py")
    run_git(path, env, "commit", "-qm", "a commit in the turn")


def started_pair(launch: object, paths: dict[str, Path]) -> tuple[Participant, Participant, str]:
    ann, link = host(launch, cwd=paths["ann"])  # type: ignore[arg-type]
    ann.expect(is_status("connected"), "ann is connected")
    bob = guest(launch, link, cwd=paths["bob"])  # type: ignore[arg-type]
    bob.expect(is_status("connected"), "bob is connected")
    bob_id = bob.seen[0]["participant"]
    ann.expect(is_event("clone.holding", actor=bob_id), "bob says what his clone holds")
    ann.send({"cmd": "start"})
    ann.expect(is_event("turn.started"), "the turn started")
    return ann, bob, link


def test_the_code_moves_from_one_headless_pairup_to_the_other(tmp_path: Path) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    with participants(tmp_path) as launch:
        ann, bob, _ = started_pair(launch, paths)
        many_changes(paths["ann"], env, 20)
        ann.send({"cmd": "skip"})
        offered = ann.expect(is_handover("offered"), "ann's work is on its way")
        applied = bob.expect(is_handover("applied"), "bob has the code")
        assert applied["handover"] == offered["handover"]
        assert applied["file"]
        assert (applied["saved"], applied["restore"]) == ("", "")
        part = bob.seen[[r.get("event", {}).get("kind") for r in bob.seen].index("handover.part")]
        assert part["event"]["data"].startswith("<")
        ann.expect(is_event("handover.applied"), "ann hears it was applied")
        assert status(paths["bob"], env) == status(paths["ann"], env)

        bob.send({"cmd": "take"})
        refused = bob.expect(lambda r: r.get("type") == "error", "nothing to take again")
        assert refused["error"] == "take: the last handover to you is in place already"


@pytest.mark.parametrize("seed", range(3))
def test_a_receiver_killed_while_taking_the_code_takes_it_when_started_again(
    tmp_path: Path, seed: int
) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    chance = random.Random(seed)
    with participants(tmp_path) as launch:
        ann, bob, link = started_pair(launch, paths)
        many_changes(paths["ann"], env, 400)
        before = status(paths["bob"], env)
        ann.send({"cmd": "skip"})
        bob.expect(is_handover("receiving"), "bob starts to receive")
        # Somewhere between the parts arriving and the tree being written.
        time.sleep(chance.uniform(0.0, 0.4))
        os.kill(bob.process.pid, signal.SIGKILL)
        bob.process.wait(timeout=10)
        ann.expect(is_event("handover.offered"), "ann's offer is in the log")

        again = guest(launch, link, cwd=paths["bob"])
        again.expect(is_status("connected"), "bob is back")
        # Applied before the kill (bob's word for it reached the log then), or taken now,
        # after undoing an apply the kill cut short: either way the log says so once.
        ann.expect(is_event("handover.applied"), "the handover is in place", timeout=30)
        stages = [r["stage"] for r in again.seen if r.get("type") == "handover"]
        assert "recovered" not in stages[1:], stages
        assert status(paths["bob"], env) == status(paths["ann"], env)
        assert not (paths["bob"] / ".git" / "pairup" / "handover-applying.json").exists()
        assert status(paths["bob"], env) != before


def test_a_handover_over_max_size_is_refused_by_the_sender_with_its_largest_file(
    tmp_path: Path,
) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    # The repository's own settings may set the size; .pairup.toml is ignored by nothing, so
    # it is a file of the turn's work too.
    (paths["ann"] / ".pairup.toml").write_text('[handover]\nmax_size = "256 KiB"\n')
    with participants(tmp_path) as launch:
        ann, bob, _ = started_pair(launch, paths)
        (paths["ann"] / "dump.bin").write_bytes(os.urandom(300 * 1024))
        before = status(paths["bob"], env)
        ann.send({"cmd": "skip"})
        line = bob.expect(is_event("handover.refused"), "bob hears why nothing came")
        record: Record = line["event"]
        assert record["largest"][0][0] == "dump.bin"
        assert status(paths["bob"], env) == before
