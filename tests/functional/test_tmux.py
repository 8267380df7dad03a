"""End to end, as a person pairs: ``pairup start`` in one tmux pane, ``pairup join`` in another.

The join link is read off the first pane's screen and typed into the second, as a partner
would paste it. Both panes are real terminals running the installed ``pairup``.

Nothing here depends on how long a path is: the tmux server's socket has a short name of its
own rather than a path under ``tmp_path`` (a Unix socket's path has at most 107 bytes), and a
pane's screen is read with wrapped lines joined, so a line holding a temporary path reads
whole however the pane's width cut it.
"""

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import PAIRUP

TMUX = shutil.which("tmux")
LINK = re.compile(r"wss://127\.0\.0\.1:\d+/s/[A-Za-z0-9_-]+#[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")
WAIT = 30.0

Tmux = Callable[..., str]


@pytest.fixture
def tmux(isolated_env: dict[str, str]) -> Iterator[Tmux]:
    if TMUX is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing; bash .ci/run installs it")
        pytest.skip("tmux is not installed")
    server = ["-L", f"pairup-test-{uuid.uuid4().hex}"]
    env = {**isolated_env, "TERM": "xterm-256color"}

    def run(*args: str) -> str:
        command = [TMUX, *server, "-f", os.devnull, *args]
        result = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=10, check=True
        )
        return result.stdout

    yield run
    subprocess.run([TMUX, *server, "kill-server"], env=env, capture_output=True, check=False)


def pairup_in_pane(data_dir: Path, *args: str) -> str:
    """A pane's command: pairup with its own data dir, then a line saying how it exited."""
    command = shlex.join(
        ["env", f"PAIRUP_DATA_DIR={data_dir}", "PAIRUP_RELAY_HOST=127.0.0.1", str(PAIRUP), *args]
    )
    return f"{command}; echo pairup exited $?; sleep 60"


def screen(tmux: Tmux, pane: str) -> str:
    """The pane's text, each line that the pane's width wrapped joined back into one (``-J``,
    which also keeps trailing spaces; they are dropped again here)."""
    shown = tmux("capture-pane", "-p", "-J", "-t", pane)
    return "\n".join(line.rstrip() for line in shown.splitlines())


def wait_for(tmux: Tmux, pane: str, found: Callable[[str], bool], what: str) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        shown = screen(tmux, pane)
        if found(shown):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the pane shows:\n{shown}")
        time.sleep(0.2)


def test_start_and_join_in_two_panes_then_roles_swap(tmux: Tmux, tmp_path: Path) -> None:
    ann = tmux(
        "new-session",
        "-d",
        "-P",
        "-F",
        "#{pane_id}",
        "-c",
        str(tmp_path),
        "-x",
        "130",
        "-y",
        "52",
        pairup_in_pane(tmp_path / "ann", "start", "--turn", "3s", "--name", "Ann"),
    ).strip()
    shown = wait_for(tmux, ann, LINK.search, "the join link on Ann's screen")
    link = LINK.search(shown)
    assert link is not None
    bob = tmux(
        "split-window",
        "-v",
        "-P",
        "-F",
        "#{pane_id}",
        "-c",
        str(tmp_path),
        "-t",
        ann,
        pairup_in_pane(tmp_path / "bob", "join", link.group(), "--name", "Bob"),
    ).strip()

    def both_names(text: str) -> bool:
        return "Ann" in text and "Bob" in text and "● connected" in text

    wait_for(tmux, ann, both_names, "Bob on Ann's screen")
    wait_for(tmux, bob, both_names, "Ann on Bob's screen")
    wait_for(tmux, ann, lambda text: "You drive first" in text, "Ann to drive first")
    wait_for(tmux, bob, lambda text: "Ann drives first" in text, "Ann to drive first for Bob")

    tmux("send-keys", "-t", ann, "s")
    wait_for(tmux, ann, lambda text: "Bob drives" in text, "Bob to drive on Ann's screen")
    wait_for(tmux, bob, lambda text: "You drive" in text, "Bob to drive on his own screen")

    # Only the host ends the session while she is here: Bob is told so, Ann does it.
    tmux("send-keys", "-t", bob, "x")
    wait_for(tmux, bob, lambda text: "Only the host" in text, "why Bob cannot end it")
    tmux("send-keys", "-t", ann, "x")
    wait_for(tmux, ann, lambda text: "End the session for everyone?" in text, "the question")
    tmux("send-keys", "-t", ann, "y")
    for pane in (ann, bob):
        wait_for(tmux, pane, lambda text: "The session has ended." in text, "the end screen")
        tmux("send-keys", "-t", pane, "q")
        wait_for(tmux, pane, lambda text: "pairup exited 0" in text, "pairup to exit")


def test_a_config_mistake_closes_the_screen_and_says_what_to_fix(
    tmux: Tmux, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".pairup.toml").write_text('[session]\nturn = "15 minutes"\n')
    pane = tmux(
        "new-session",
        "-d",
        "-P",
        "-F",
        "#{pane_id}",
        "-c",
        str(repo),
        "-x",
        "90",
        "-y",
        "24",
        pairup_in_pane(tmp_path / "data", "start", "--name", "Ann"),
    ).strip()
    shown = wait_for(tmux, pane, lambda text: "pairup exited" in text, "pairup to exit")
    assert "pairup exited 2" in shown.splitlines()
    said = (
        f"pairup: {repo / '.pairup.toml'}: session.turn: "
        "expected a duration like 90s, 15m or 1h30m, got '15 minutes'"
    )
    assert len(said) > 90, "the message should wrap in the pane, so the test reads it joined"
    assert said in shown.splitlines()
    assert "Traceback" not in shown


def test_a_host_who_leaves_the_session_open_resumes_it_and_the_partner_reconnects(
    tmux: Tmux, tmp_path: Path
) -> None:
    """Ann quits leaving the session open; Bob's screen says what is wrong and keeps trying;
    Ann's next pairup start offers the session back, with the same link, and Bob is back.
    Bob's name is markup, which every screen shows as the text it is."""
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    bob_name = "Bob [b]bold[/b] [/]"

    def start_ann() -> str:
        return tmux(
            "new-window" if ann_panes else "new-session",
            *(() if ann_panes else ("-d",)),
            "-P",
            "-F",
            "#{pane_id}",
            "-c",
            str(repo),
            *(() if ann_panes else ("-x", "130", "-y", "30")),
            pairup_in_pane(tmp_path / "ann", "start", "--name", "Ann"),
        ).strip()

    ann_panes: list[str] = []
    ann_panes.append(start_ann())
    first = LINK.search(wait_for(tmux, ann_panes[0], LINK.search, "the join link"))
    assert first is not None
    bob = tmux(
        "new-window",
        "-P",
        "-F",
        "#{pane_id}",
        "-c",
        str(tmp_path),
        pairup_in_pane(tmp_path / "bob", "join", first.group(), "--name", bob_name),
    ).strip()
    wait_for(tmux, ann_panes[0], lambda text: bob_name in text, "Bob's name, as typed")

    tmux("send-keys", "-t", ann_panes[0], "q")
    wait_for(tmux, ann_panes[0], lambda text: "Leave it open" in text, "the quit choices")
    tmux("send-keys", "-t", ann_panes[0], "o")
    wait_for(tmux, ann_panes[0], lambda text: "pairup exited 0" in text, "Ann's pairup to quit")
    wait_for(tmux, bob, lambda text: "refuses connections" in text, "Bob told why")

    ann_panes.append(start_ann())
    wait_for(tmux, ann_panes[1], lambda t: "Resume the unfinished session?" in t, "the offer")
    tmux("send-keys", "-t", ann_panes[1], "r")
    again = LINK.search(wait_for(tmux, ann_panes[1], LINK.search, "the join link again"))
    assert again is not None
    assert again.group() == first.group()
    wait_for(tmux, bob, lambda text: "● connected" in text, "Bob to reconnect by himself")
    wait_for(tmux, ann_panes[1], lambda text: bob_name in text, "Bob on Ann's screen again")
    assert "Traceback" not in screen(tmux, bob)
