"""``pairup commit`` handed straight to the running pairup, before the rest of pairup loads.

While a session is live in a repository, its pairup listens on a socket in the repository's
git directory and makes the commit itself: it has git loaded and the session at hand. So the
command's own work is to read its options, find the socket, send the request and print the
answer. Done through :mod:`pairup.cli`, the imports alone (argparse, dataclasses, pathlib,
typing, json) took longer than ``git commit`` takes to commit; this module imports only
what the interpreter has already loaded, and C modules.

It takes the plain forms of the options (``-m MSG``, ``-a``, ``--no-verify``, as
``pairup commit --help`` lists them) and sends the request only when a pairup answers on the
socket. Anything else, such as another option, ``--help``, no session, or a pairup working in
another worktree, returns ``None``, and the full command line takes over, with its help and
its errors. A request that reached the running pairup is never made a second time.
"""

import os
import sys

from pairup.printable import printable

try:
    import _json
except ImportError:  # an interpreter without the C accelerator: the full command line
    _json = None

COMMIT_SOCKET = os.path.join("pairup", "commit.sock")
"""Where in the repository's common git directory the running pairup listens."""
MAX_SOCKET_PATH = 100
"""Unix socket paths are limited to about 104 bytes; a deeper repository goes without one."""
MAX_REPLY = 1 << 20
TIMEOUT = 900.0
"""Long enough for the slowest pre-commit hook the running pairup may have to wait for."""
EXIT_USAGE = 2

Options = tuple[str, bool, bool]
"""The message, whether to stage tracked changes first, whether to run the hooks."""


def commit(argv: list[str]) -> int | None:
    """Hand ``pairup commit ARGV`` to the running pairup and print its answer; the exit
    status, or ``None`` when the full command line should do it instead."""
    options = parse(argv)
    if options is None or _json is None:
        return None
    cwd = os.getcwd()
    path = socket_path(cwd, os.environ)
    if path is None:
        return None
    message, stage_all, verify = options
    request = {
        "op": "commit",
        "message": message,
        "all": stage_all,
        "verify": verify,
        "env": dict(os.environ),
        "cwd": cwd,
    }
    reply = ask(path, request)
    if reply is None or reply.get("elsewhere"):
        return None
    return show(reply)


def parse(argv: list[str]) -> Options | None:
    """The options, when ``argv`` holds only the plain forms of them, each at most once."""
    message: str | None = None
    stage_all = no_verify = False
    words = iter(argv)
    for word in words:
        if word in ("-a", "--all") and not stage_all:
            stage_all = True
        elif word == "--no-verify" and not no_verify:
            no_verify = True
        elif word in ("-m", "--message", "-am") and message is None:
            value = next(words, None)
            if value is None or value.startswith("-"):
                return None
            message = value
            stage_all = stage_all or word == "-am"
        elif word.startswith("--message=") and message is None:
            message = word.removeprefix("--message=")
        elif word.startswith("-m") and word[2:3] not in ("-", "=") and message is None:
            message = word[2:]
        else:
            return None
    if not message:
        return None
    return message, stage_all, not no_verify


def socket_path(cwd: str, env: dict[str, str] | os._Environ[str]) -> str | None:
    """The running pairup's socket for the repository around ``cwd``, if it is this user's."""
    dirs = git_dirs(cwd, env)
    if dirs is None:
        return None
    path = commit_socket(dirs[1])
    return path if path is not None and _ours(path) else None


def commit_socket(common_dir: str) -> str | None:
    """Where the running pairup of a repository listens, if a socket path fits there."""
    path = os.path.join(common_dir, COMMIT_SOCKET)
    return path if len(os.fsencode(path)) <= MAX_SOCKET_PATH else None


def _ours(path: str) -> bool:
    """Whether the socket at ``path`` belongs to this user: a request carries their
    environment, so it goes to nobody else's."""
    try:
        return os.stat(path).st_uid == os.getuid()
    except OSError:
        return False


def git_dirs(cwd: str, env: dict[str, str] | os._Environ[str]) -> tuple[str, str] | None:
    """The git directory of the repository around ``cwd`` and its common directory (they
    differ in a linked worktree); None outside a repository. ``GIT_DIR`` wins, as in git."""
    git_dir = _git_dir(cwd, env)
    if git_dir is None:
        return None
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as pointer:
            return git_dir, os.path.realpath(os.path.join(git_dir, pointer.read().strip()))
    except OSError:
        return git_dir, git_dir


def _git_dir(cwd: str, env: dict[str, str] | os._Environ[str]) -> str | None:
    """The git directory of the repository around ``cwd``, as git finds it: ``.git``, a
    directory or a file pointing to one, here or in the nearest directory above."""
    if env.get("GIT_DIR"):
        return os.path.realpath(os.path.join(cwd, env["GIT_DIR"]))
    directory = os.path.realpath(cwd)
    while True:
        dotgit = os.path.join(directory, ".git")
        if os.path.isdir(dotgit):
            return dotgit
        if os.path.isfile(dotgit):
            try:
                with open(dotgit, encoding="utf-8", errors="replace") as pointer:
                    text = pointer.read().strip()
            except OSError:
                return None
            if text.startswith("gitdir:"):
                pointed = text.removeprefix("gitdir:").strip()
                return os.path.realpath(os.path.join(directory, pointed))
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def ask(
    path: str, request: dict[str, object], timeout: float = TIMEOUT
) -> dict[str, object] | None:
    """Send the request and read the answer; ``None`` if nobody answers on the socket, or it
    is not this user's, and only then, so the caller may do the work itself without doing it
    twice."""
    import _socket

    if not _ours(path):
        return None
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        connection.settimeout(timeout)
        try:
            connection.connect(path)
        except OSError:
            return None
        reply = b""
        try:
            connection.sendall(_encode(request).encode() + b"\n")
            connection.shutdown(_socket.SHUT_WR)
            while (chunk := connection.recv(65536)) and len(reply) <= MAX_REPLY:
                reply += chunk
        except OSError as error:
            return {"ok": False, "error": f"lost touch with the running pairup: {error}"}
    finally:
        connection.close()
    answer = _decode(reply)
    if not isinstance(answer, dict):
        return {"ok": False, "error": "the running pairup gave no readable answer"}
    return answer


def show(reply: dict[str, object]) -> int:
    """Print what the commit did, as ``pairup commit`` does; its exit status."""
    for warning in _strings(reply.get("warnings")):
        print(f"pairup: warning: {printable(warning)}", file=sys.stderr)
    if not reply.get("ok"):
        print(
            f"pairup: {printable(str(reply.get('error') or 'the commit failed'))}", file=sys.stderr
        )
        return EXIT_USAGE
    head = f"[{reply['branch']} {str(reply['sha'])[:7]}] {reply['summary']}"
    print(printable(head))
    for person in reply.get("co_authors") or ():
        name, email = person  # type: ignore[misc]
        print(printable(f"    Co-authored-by: {name} <{email}>"))
    return 0


def _strings(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _encode(value: object) -> str:
    """JSON for the request's values: strings, booleans and a mapping of strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _json.encode_basestring_ascii(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_encode(k)}:{_encode(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot send {type(value).__name__} to the running pairup")


class _Reading:
    """What the C JSON scanner asks of its caller: the defaults of ``json.loads``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = None


def _decode(data: bytes) -> object:
    try:
        text = data.decode().strip()
        value, end = _json.make_scanner(_Reading())(text, 0)
    except (UnicodeDecodeError, ValueError, TypeError, StopIteration):
        return None
    return value if end == len(text) else None
