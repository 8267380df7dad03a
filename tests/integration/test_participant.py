"""The participant runtime (:mod:`pairup.participant`) that the TUI and headless mode both
drive, over a real relay on loopback: one reader of the link's applied events handing each to
every listener, one sender, and one way to commit for the session, which the screen, the
running pairup's socket and ``pairup commit`` in another worktree all take, crediting the
same people with the same ``.git-coauthors`` corrections."""

import asyncio
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from pairup import commit_request
from pairup import protocol as wire
from pairup.git.live import git_dirs, read_live
from pairup.headless import Headless
from pairup.link.client import Applied, Link
from pairup.link.core import WATCH_ONLY
from pairup.participant import ParticipantRuntime
from pairup.session import events as ev
from pairup.tui.session import Participation, Preferences

from .relaykit import PinnedJitter, new_session, running_relay
from .test_git_commits import co_authors_of, git, git_env, new_repo
from .test_headless import PAIRUP

ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@laptop.local")
"""Bob announces an address GitHub cannot match; the repository's .git-coauthors corrects it."""
BOB_TRAILER = "Co-authored-by: Bob <bob@example.test>"
WAIT = 15.0


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def link_for(join: wire.JoinLink, me: ev.Participant, data_dir: Path, *, create: bool) -> Link:
    return Link(
        join,
        me.id,
        data_dir,
        name=me.name,
        create=create,
        rng=PinnedJitter(),
        ping_interval=0.5,
    )


@contextlib.asynccontextmanager
async def pairing(
    tmp_path: Path,
    workdir: Path | None = None,
    *,
    ann_listeners: tuple[Callable[[Applied], None], ...] = (),
) -> AsyncIterator[tuple[ParticipantRuntime, ParticipantRuntime]]:
    """Ann hosts (working in ``workdir``), Bob joins, each through a running runtime; yields
    once both see both, and stops both when the block ends."""
    session, secret = new_session()
    async with running_relay(tmp_path / "relay") as relay:
        join = wire.JoinLink(relay.url, session, secret)
        ann = ParticipantRuntime(
            link_for(join, ANN, tmp_path / "ann", create=True),
            ANN,
            settings=ev.SessionSettings(auto_start=False),
            workdir=workdir,
        )
        ann.applied_listeners.extend(ann_listeners)
        bob = ParticipantRuntime(link_for(join, BOB, tmp_path / "bob", create=False), BOB)
        runs = [asyncio.create_task(ann.run())]
        try:
            await until(lambda: ann.link.view.member(ANN.id) is not None, "Ann in")
            runs.append(asyncio.create_task(bob.run()))
            await until(
                lambda: all(len(r.link.view.present) == 2 for r in (ann, bob)), "both to see both"
            )
            yield ann, bob
        finally:
            for runtime in (bob, ann):
                await runtime.link.close()
            async with asyncio.timeout(WAIT):
                await asyncio.gather(*runs)


def test_every_applied_event_goes_to_every_listener_in_order(tmp_path: Path) -> None:
    first: list[Applied] = []
    second: list[Applied] = []

    async def scenario() -> None:
        async with pairing(tmp_path, ann_listeners=(first.append, second.append)) as (ann, _):
            decided = await ann.send({"cmd": "decide", "title": "Use SQLite for the log"})
            assert decided.kind == "decision.recorded"
            await until(
                lambda: any(a.event is not None and a.event.id == decided.id for a in second),
                "the decision handed out",
            )

    asyncio.run(scenario())
    kinds = [applied.event.kind for applied in first if applied.event is not None]
    assert kinds[:3] == ["participant.joined", "session.opened", "participant.joined"]
    assert "decision.recorded" in kinds
    assert first == second
    seqs = [applied.event.seq for applied in first if applied.event is not None]
    assert seqs == sorted(set(seqs))


def test_headless_prints_what_the_runtime_hands_out_and_sends_through_it(tmp_path: Path) -> None:
    """Headless mode is a front end over the runtime: its event lines are the runtime's
    applied events, and a command from stdin comes back as one of them."""
    seen: list[Applied] = []
    out = io.StringIO()

    async def scenario() -> None:
        session, secret = new_session()
        async with running_relay(tmp_path / "relay") as relay:
            join = wire.JoinLink(relay.url, session, secret)
            runtime = ParticipantRuntime(
                link_for(join, ANN, tmp_path / "ann", create=True),
                ANN,
                settings=ev.SessionSettings(auto_start=False),
            )
            runtime.applied_listeners.append(seen.append)
            reading, writing = os.pipe()
            with os.fdopen(reading, encoding="utf-8") as inp:
                headless = Headless(runtime, out=out, inp=inp)
                running = asyncio.create_task(headless.run())
                os.write(writing, b'{"cmd": "decide", "title": "Pair through pairup"}\n')
                await until(
                    lambda: any(a.event and a.event.kind == "decision.recorded" for a in seen),
                    "the decision applied",
                )
                os.write(writing, b'{"cmd": "leave"}\n')
                async with asyncio.timeout(WAIT):
                    status = await running
                os.close(writing)
            assert status.reason == "left the session"

    asyncio.run(scenario())
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    printed = [line["event"]["id"] for line in lines if line["type"] == "event"]
    assert printed == [applied.event.id for applied in seen if applied.event is not None]
    sent = [line["kind"] for line in lines if line["type"] == "sent"]
    assert sent == ["decision.recorded", "participant.left"]


def test_a_watcher_runs_no_repository_and_asks_nothing(tmp_path: Path) -> None:
    join = wire.JoinLink("ws://127.0.0.1:9", *new_session())
    kim = ev.Participant(id="kim", name="Kim", email="kim@example.test")
    watcher = ParticipantRuntime(
        link_for(join.watching(), kim, tmp_path / "kim", create=False), kim, workdir=tmp_path
    )
    assert watcher.repository is None
    assert watcher.ask({"cmd": "start"}) == WATCH_ONLY
    assert asyncio.run(watcher.commit("Nothing to see")) == (False, WATCH_ONLY)


@pytest.fixture
def repo_with_coauthors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, str]]]:
    """Ann's repository at a short path (the commit socket goes in its git directory only if
    the path fits a socket's), whose committed .git-coauthors corrects Bob's email; a home of
    the test's own, whose file would say otherwise, for this process and for ``pairup``."""
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    env = {**git_env(tmp_path), "HOME": str(home)}
    for key in ("HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
        monkeypatch.setenv(key, env[key])
    (home / ".git-coauthors").write_text(
        json.dumps({"coauthors": {"bob": {"name": "Bob", "email": "bob@home.test"}}})
    )
    short = Path(tempfile.mkdtemp(prefix="pairup-"))
    try:
        repo = new_repo(short / "repo", env)
        (repo / ".git-coauthors").write_text(
            json.dumps({"coauthors": {"bob": {"name": "Bob", "email": "bob@example.test"}}})
        )
        git(repo, "add", ".git-coauthors", env=env)
        git(repo, "commit", "-q", "-m", "Who is who", env=env)
        yield repo, env
    finally:
        shutil.rmtree(short, ignore_errors=True)


def test_the_screen_the_socket_and_pairup_commit_credit_alike(
    tmp_path: Path, repo_with_coauthors: tuple[Path, dict[str, str]]
) -> None:
    repo, env = repo_with_coauthors
    worktree = repo.parent / "side"
    git(repo, "worktree", "add", "-q", "-b", "side", str(worktree), env=env)

    def stage(where: Path, name: str) -> None:
        (where / name).write_text(f"{name}\n")
        git(where, "add", name, env=env)

    async def scenario() -> None:
        async with pairing(tmp_path, repo) as (ann, _):
            screen = Participation(ann, prefs=Preferences(bell=False))
            stage(repo, "screen.txt")
            preview = await asyncio.to_thread(screen.commit_preview, screen.credited())
            assert not isinstance(preview, str), preview
            assert preview.trailers == (BOB_TRAILER,)
            made, said = await screen.commit("Through the screen", stage_all=False)
            assert made, said
            sha = git(repo, "rev-parse", "HEAD", env=env).strip()
            assert said == f"{sha[:7]} Through the screen (with Bob)"
            # Recorded by the commit itself, before the watcher's next look.
            record = ann.link.view.commits[sha]
            assert record.recorded_by == ANN.id
            assert [person.name for person in record.co_authors] == ["Bob"]

            dirs = git_dirs(repo)
            assert dirs is not None
            await until(
                lambda: (live := read_live(dirs[1])) is not None and bool(live.socket),
                "the socket in the live file",
            )
            live = read_live(dirs[1])
            assert live is not None
            stage(repo, "socket.txt")
            request = {
                "op": "commit",
                "message": "Through the socket",
                "env": env,
                "cwd": str(repo),
            }
            reply = await asyncio.to_thread(commit_request.ask, live.socket, request, 60.0)
            assert reply is not None
            assert reply["ok"], reply
            assert reply["co_authors"] == [["Bob", "bob@example.test"]]
            assert reply["sha"] in ann.link.view.commits

            # Another worktree: the running pairup declines, and pairup commit commits itself.
            stage(worktree, "fallback.txt")
            fallback = await asyncio.to_thread(
                subprocess.run,
                [str(PAIRUP), "commit", "-m", "In another worktree"],
                cwd=worktree,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert fallback.returncode == 0, fallback.stderr
            assert fallback.stdout.splitlines()[1:] == [f"    {BOB_TRAILER}"]
            # The screen's and the socket's, each once; the other worktree's HEAD is not this
            # pairup's to watch.
            assert len(ann.link.view.commits) == 2

    asyncio.run(scenario())
    assert co_authors_of(repo, env, "HEAD~1") == [BOB_TRAILER]
    assert co_authors_of(repo, env, "HEAD") == [BOB_TRAILER]
    assert co_authors_of(repo, env, "side") == [BOB_TRAILER]
    assert git(repo, "log", "-1", "--format=%s", "side", env=env).strip() == "In another worktree"


def test_the_runtime_and_headless_mode_load_no_textual() -> None:
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pairup.participant, pairup.headless\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
