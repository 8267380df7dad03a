"""``pairup commit`` hands its plain forms to the running pairup without the full command line,
and finds the same socket the running pairup listens on."""

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup import commit_request
from pairup.git.live import commit_socket, git_dirs

from ..integration.test_git_commits import empty_repo, git, git_env


@pytest.mark.parametrize(
    ("argv", "options"),
    [
        (["-m", "Add the relay"], ("Add the relay", False, True)),
        (["--message", "Add the relay"], ("Add the relay", False, True)),
        (["--message=Add the relay"], ("Add the relay", False, True)),
        (["-mAdd the relay"], ("Add the relay", False, True)),
        (["-a", "-m", "x y"], ("x y", True, True)),
        (["-am", "x y"], ("x y", True, True)),
        (["-m", "x", "--all", "--no-verify"], ("x", True, False)),
        (["--no-verify", "-m", "Line one\n\nBody"], ("Line one\n\nBody", False, False)),
    ],
)
def test_the_plain_forms_of_the_options_are_read_as_argparse_reads_them(argv, options):
    assert commit_request.parse(argv) == options


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["-m"],
        ["-m", ""],
        ["-m", "-x"],
        ["--help"],
        ["-h"],
        ["-m", "x", "-m", "y"],
        ["-a", "-a", "-m", "x"],
        ["-m", "x", "--amend"],
        ["-m", "x", "stray"],
        ["-ma", "x"],
        ["-m=foo"],
        ["-m="],
    ],
)
def test_anything_else_is_left_to_the_full_command_line(argv):
    assert commit_request.parse(argv) is None


@given(
    st.dictionaries(
        st.text(),
        st.one_of(st.text(), st.booleans(), st.dictionaries(st.text(), st.text(), max_size=5)),
        max_size=8,
    )
)
def test_a_request_is_the_json_the_running_pairup_reads_and_an_answer_reads_back(request):
    encoded = commit_request._encode(request)
    assert json.loads(encoded) == request
    assert commit_request._decode(json.dumps(request).encode()) == request


@pytest.mark.parametrize(
    ("answer", "decoded"),
    [
        (b"", None),
        (b"{", None),
        (b'{"ok": true} trailing', None),
        (b"\xff\xfe", None),
        (b"[1, 2]", [1, 2]),
        (b' {"ok": false}\n', {"ok": False}),
    ],
)
def test_an_answer_is_read_whole_or_not_at_all(answer, decoded):
    assert commit_request._decode(answer) == decoded


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory with a short path: a Unix socket's path must fit in about 100 bytes."""
    with tempfile.TemporaryDirectory(prefix="pu-") as directory:
        yield Path(directory).resolve()


def _listen(path: Path) -> socket.socket:
    path.parent.mkdir(exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    return listener


def test_the_socket_is_the_one_the_running_pairup_listens_on_also_from_a_worktree(short_dir):
    env = git_env(short_dir)
    repo = empty_repo(short_dir / "r", env)
    git(repo, "commit", "-q", "--allow-empty", "-m", "First", env=env)
    git(repo, "worktree", "add", "-q", str(short_dir / "w"), env=env)
    (repo / "sub").mkdir()
    dirs = git_dirs(repo)
    assert dirs is not None
    expected = commit_socket(dirs[1])
    assert expected == repo / ".git" / "pairup" / "commit.sock"
    assert commit_request.socket_path(str(repo / "sub"), {}) is None  # nobody listens yet

    with _listen(expected):
        for place in (repo, repo / "sub", short_dir / "w"):
            assert commit_request.socket_path(str(place), {}) == str(expected)
        assert commit_request.socket_path(str(short_dir), {}) is None


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user takes root")
def test_a_request_never_goes_to_another_user_s_socket(short_dir):
    """A request carries the caller's environment: a socket someone else owns gets nothing,
    wherever its path came from (the live-session file names one too)."""
    path = short_dir / "theirs.sock"
    with _listen(path) as listener:
        listener.listen()
        os.chown(path, 65534, 65534)
        request = {"op": "commit", "env": {"TOKEN": "secret"}}
        assert commit_request.ask(str(path), request, timeout=2.0) is None
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()


def test_a_request_to_a_socket_nobody_answers_on_is_not_sent(short_dir):
    path = short_dir / "gone.sock"
    _listen(path).close()  # the file stays, the listener is gone
    assert commit_request.ask(str(path), {"op": "commit"}) is None
