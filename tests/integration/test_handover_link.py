"""The code moving with the role, end to end: two (and three) clones, a real relay on
loopback, real links, and each participant's handover service; the turn is handed on with
the session's own commands, and the next driver's clone must come out as the last one's."""

import asyncio
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from pairup import protocol as wire
from pairup.config.model import HandoverConfig
from pairup.git import handover as git
from pairup.git.handover import HandoverError
from pairup.link.client import Link
from pairup.link.core import Applied
from pairup.link.handover import Handovers, News
from pairup.participant import ParticipantRuntime
from pairup.session import events as ev
from pairup.session.state import Handover

from .relaykit import PinnedJitter, new_session, running_relay

WAIT = 15.0
CONFIG = HandoverConfig(mode="link", max_size="8 MiB", open=(), remote="origin", finish="squash")


def git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_AUTHOR_NAME="Pair",
        GIT_AUTHOR_EMAIL="pair@example.com",
        GIT_COMMITTER_NAME="Pair",
        GIT_COMMITTER_EMAIL="pair@example.com",
    )
    return env


def run_git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def clones(tmp_path: Path, names: list[str]) -> tuple[dict[str, Path], dict[str, str]]:
    env = git_env(tmp_path)
    origin = tmp_path / "origin"
    origin.mkdir()
    run_git(origin, env, "init", "-q", "-b", "main")
    run_git(origin, env, "config", "user.name", "Pair")
    run_git(origin, env, "config", "user.email", "pair@example.com")
    (origin / "app.py").write_text("print('hello')\n")
    (origin / ".gitignore").write_text("*.log\n")
    run_git(origin, env, "add", "-A")
    run_git(origin, env, "commit", "-qm", "start")
    paths = {}
    for name in names:
        run_git(tmp_path, env, "clone", "-q", str(origin), f"clone-{name}")
        path = tmp_path / f"clone-{name}"
        run_git(path, env, "config", "user.name", name)
        run_git(path, env, "config", "user.email", f"{name}@example.com")
        paths[name] = path
    return paths, env


def status(path: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """What a person sees of a clone: git status, HEAD and branch, and every file's bytes."""
    files = sorted(
        (str(p.relative_to(path)), p.read_bytes(), os.access(p, os.X_OK))
        for p in path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(path).parts and p.suffix != ".log"
    )
    return (
        run_git(path, env, "status", "--porcelain=v1", "--branch"),
        run_git(path, env, "rev-parse", "HEAD"),
        repr(files),
    )


class Pairing:
    """Participants, each the runtime a front end drives, on one relay."""

    def __init__(
        self, tmp_path: Path, url: str, clones: dict[str, Path], config: HandoverConfig = CONFIG
    ) -> None:
        self.config = config
        session, secret = new_session()
        self.join = wire.JoinLink(url, session, secret)
        self.tmp_path = tmp_path
        self.clones = clones
        self.links: dict[str, Link] = {}
        self.news: dict[str, list[News]] = {}
        self.runtimes: dict[str, ParticipantRuntime] = {}
        self.tasks: list[asyncio.Task[None]] = []

    def add(self, name: str, *, host: bool = False) -> Link:
        link = Link(
            self.join, name, self.tmp_path / f"data-{name}", create=host, rng=PinnedJitter()
        )
        me = ev.Participant(id=name, name=name, email=f"{name}@example.com")
        runtime = ParticipantRuntime(
            link,
            me,
            settings=ev.SessionSettings(turn_seconds=600) if host else None,
            workdir=self.clones[name],
            handover=self.config,
        )
        news: list[News] = []
        runtime.handover_listeners.append(news.append)
        self.tasks.append(asyncio.create_task(runtime.run()))
        self.links[name] = link
        self.news[name] = news
        self.runtimes[name] = runtime
        return link

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            for task in self.tasks:
                if task.done() and not task.cancelled() and task.exception():
                    raise task.exception()  # type: ignore[misc]
            if time.monotonic() > deadline:
                news = {name: [n.text for n in items] for name, items in self.news.items()}
                raise AssertionError(f"timed out waiting until {what}; news: {news}")
            await asyncio.sleep(0.02)

    async def started(self) -> tuple[Link, Link]:
        """Ann hosts, Bob joins and says what his clone holds, Ann's turn starts."""
        ann = self.add("ann", host=True)
        await self.until(lambda: ann.view.member("ann") is not None, "ann joined")
        bob = self.add("bob")
        await self.until(lambda: bob.view.driver == "ann", "ann drives")
        await self.until(lambda: "bob" in ann.view.holding, "bob said what he holds")
        await self.ask("ann", {"cmd": "start"})
        return ann, bob

    async def ask(self, name: str, command: dict[str, object]) -> None:
        await self.runtimes[name].send(command)

    def settled(self, turn: int) -> bool:
        """Every link sees the handover of ``turn`` settled."""
        return all(
            any(h.turn == turn and h.outcome != "offered" for h in link.view.handovers.values())
            for link in self.links.values()
        )

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def edit_as_a_driver(path: Path, env: dict[str, str]) -> None:
    (path / "app.py").write_text("print('hello, pair')\nprint('more')\n")
    (path / "notes").mkdir()
    (path / "notes" / "todo.md").write_text("- hand over\n")
    (path / "tool.sh").write_text("#!/bin/sh\necho tool\n")
    (path / "tool.sh").chmod(0o755)
    (path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    (path / "debug.log").write_text("ignored\n")
    run_git(path, env, "add", "tool.sh")
    run_git(path, env, "commit", "-qm", "a commit made during the turn")
    (path / "staged.txt").write_text("staged\n")
    run_git(path, env, "add", "staged.txt")


def test_the_code_moves_to_the_next_driver_at_a_rotation(tmp_path: Path) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths)
            ann, bob = await pair.started()
            edit_as_a_driver(paths["ann"], env)
            (paths["bob"] / "mine.txt").write_text("a navigator's own note\n")
            await pair.ask("ann", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(2), "the handover of turn 2 settled")
            [record] = bob.view.handovers_in_order()
            assert record.outcome == "applied", record.reason
            assert (record.by, record.to, record.commits) == ("ann", "bob", 1)
            assert record.saved.startswith(git.SAVED_PREFIX)
            assert status(paths["bob"], env) == status(paths["ann"], env)
            assert (paths["bob"] / "debug.log").exists() is False
            saved = run_git(paths["bob"], env, "show", f"{record.saved}^3:mine.txt")
            assert saved == "a navigator's own note\n"
            stages = [n.stage for n in pair.news["bob"]]
            assert "receiving" in stages
            assert stages[-1] == "applied"
            assert "sending" in [n.stage for n in pair.news["ann"]]

            # The turn after: bob's work goes back to ann, whose tree is the one she sent.
            (paths["bob"] / "app.py").write_text("print('bob was here')\n")
            await pair.ask("bob", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(3), "the handover of turn 3 settled")
            last = ann.view.handovers_in_order()[-1]
            assert (last.outcome, last.saved) == ("applied", "")
            assert status(paths["ann"], env) == status(paths["bob"], env)
            await pair.close()

    asyncio.run(scenario())


def test_a_handover_over_max_size_is_refused_with_its_largest_files(tmp_path: Path) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths)
            _ann, bob = await pair.started()
            (paths["ann"] / "huge.bin").write_bytes(os.urandom(9 << 20))
            before = status(paths["bob"], env)
            await pair.ask("ann", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(2), "the refusal reached everyone")
            [record] = bob.view.handovers_in_order()
            assert record.outcome == "refused"
            assert "max_size" in record.reason
            assert "huge.bin" in record.reason
            assert record.largest[0][0] == "huge.bin"
            assert status(paths["bob"], env) == before
            await pair.close()

    asyncio.run(scenario())


def test_a_mob_of_three_hands_the_code_round(tmp_path: Path) -> None:
    paths, env = clones(tmp_path, ["ann", "bob", "cat"])

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths)
            ann = pair.add("ann", host=True)
            await pair.until(lambda: ann.view.member("ann") is not None, "ann joined")
            pair.add("bob")
            pair.add("cat")
            await pair.until(lambda: len(ann.view.present) == 3, "all three are in")
            await pair.until(lambda: len(ann.view.holding) == 3, "all three said what they hold")
            await pair.ask("ann", {"cmd": "start"})
            for turn, name in enumerate(["ann", "bob", "cat"], start=2):
                driver = ann.view.driver
                assert driver is not None
                (paths[driver] / f"{name}.txt").write_text(f"{name}'s turn\n")
                run_git(paths[driver], env, "add", "-A")
                run_git(paths[driver], env, "commit", "-qm", f"{name}'s commit")
                await pair.ask(driver, {"cmd": "skip"})
                await pair.until(lambda t=turn: pair.settled(t), f"turn {turn} handed over")
                now = ann.view.driver
                assert now is not None
                assert now != driver
                assert ann.view.handovers_in_order()[-1].outcome == "applied"
                assert status(paths[now], env) == status(paths[driver], env)
            await pair.close()

    asyncio.run(scenario())


def test_a_branch_that_went_its_own_way_is_refused_and_taken_once_moved_aside(
    tmp_path: Path,
) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    run_git(paths["bob"], env, "commit", "--allow-empty", "-qm", "bob's own commit on main")

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths)
            ann, _bob = await pair.started()
            (paths["ann"] / "app.py").write_text("changed\n")
            head = pygit2.Repository(str(paths["bob"])).head.target
            await pair.ask("ann", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(2), "the refusal reached everyone")
            [record] = ann.view.handovers_in_order()
            assert record.outcome == "refused"
            assert "never rewrites a branch" in record.reason
            assert pygit2.Repository(str(paths["bob"])).head.target == head
            assert pair.runtimes["ann"].take_again() == (False, "no handover has come to you")

            run_git(paths["bob"], env, "branch", "-m", "main", "main-mine")
            said = pair.runtimes["bob"].take_again()
            assert said == (True, "taking the handover of turn 2 again")
            await pair.until(
                lambda: ann.view.handovers_in_order()[-1].outcome == "applied", "taken again"
            )
            assert status(paths["bob"], env) == status(paths["ann"], env)
            assert run_git(paths["bob"], env, "rev-parse", "main-mine").strip() == str(head)
            await pair.close()

    asyncio.run(scenario())


def test_branch_mode_hands_over_through_a_wip_branch_and_squashes_it_at_the_end(
    tmp_path: Path,
) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    config = CONFIG.model_copy(update={"mode": "branch"})

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths, config)
            _ann, bob = await pair.started()
            edit_as_a_driver(paths["ann"], env)
            await pair.ask("ann", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(2), "the handover of turn 2 settled")
            [record] = bob.view.handovers_in_order()
            assert (record.mode, record.outcome) == ("branch", "applied"), record.reason
            assert status(paths["bob"], env) == status(paths["ann"], env)
            wip = run_git(tmp_path / "origin", env, "branch", "--list", "pairup/main")
            assert wip.strip() == "pairup/main"
            await pair.ask("ann", {"cmd": "end"})
            await pair.until(
                lambda: any(n.stage == "finished" for n in pair.news["bob"]), "bob finished"
            )
            assert run_git(tmp_path / "origin", env, "branch", "--list", "pairup/main") == ""
            await pair.close()

    asyncio.run(scenario())


def test_a_refused_handover_leaves_the_senders_work_to_be_saved_when_the_turn_comes_back(
    tmp_path: Path,
) -> None:
    paths, env = clones(tmp_path, ["ann", "bob"])
    run_git(paths["bob"], env, "commit", "--allow-empty", "-qm", "bob's own commit on main")

    async def scenario() -> None:
        async with running_relay(tmp_path / "relay") as relay:
            pair = Pairing(tmp_path, relay.url, paths)
            ann, _bob = await pair.started()
            (paths["ann"] / "app.py").write_text("ann's turn, never handed over\n")
            await pair.ask("ann", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(2), "bob refused it")
            assert ann.view.handovers_in_order()[-1].outcome == "refused"

            await pair.ask("bob", {"cmd": "skip"})
            await pair.until(lambda: pair.settled(3), "bob's handover back settled")
            back = ann.view.handovers_in_order()[-1]
            assert back.outcome == "applied", back.reason
            assert back.saved, "ann's own work was saved before bob's tree replaced it"
            kept = run_git(paths["ann"], env, "show", f"{back.saved}:app.py")
            assert kept == "ann's turn, never handed over\n"
            await pair.close()

    asyncio.run(scenario())


def test_parts_that_do_not_read_are_a_refusal_not_a_crash(tmp_path: Path) -> None:
    paths, _ = clones(tmp_path, ["ann"])
    session, secret = new_session()
    link = Link(wire.JoinLink("wss://127.0.0.1:9", session, secret), "bob", tmp_path / "data")
    service = Handovers(link, "bob", paths["ann"], CONFIG, git_lock=asyncio.Lock())
    part = ev.HandoverPart(
        id="part-0001", actor="ann", at=1, handover="hand-0001", index=0, count=1, data="AAA"
    )
    service.saw(Applied(event=part, rejected=None))
    record = Handover(
        id="hand-0001", number=1, turn=2, by="ann", to="bob", at=1, snapshot="a" * 40, parts=1
    )

    text = asyncio.run(service._assemble(record))
    assert text == "AAA"

    with pytest.raises(HandoverError, match="parts do not read"):
        service._apply(pygit2.Repository(str(paths["ann"])), record, text, "unreadable")
