"""The live-session file: how a commit made outside pairup learns whom to credit.

While someone takes part in a session from inside a repository, their pairup keeps
``<git dir>/pairup/live.json`` up to date with who is pairing (the co-authors a commit made now
should credit). ``pairup commit``, ``pairup trailers`` and the ``prepare-commit-msg`` hook read
it; no file, or a file left by a pairup that is no longer running, means no session is live
here, and then nothing is added. The standard library only: the hook runs on every commit.
"""

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from pairup import commit_request
from pairup.git.trailers import Person

LIVE_FILE = Path("pairup") / "live.json"


@dataclass(frozen=True, slots=True)
class LiveSession:
    session: str
    participant: str
    me: Person
    co_authors: tuple[Person, ...]
    pid: int
    host: str
    socket: str = ""
    """Where the running pairup takes commits (``pairup commit`` without loading git itself)."""


def git_dirs(start: Path, env: dict[str, str] | None = None) -> tuple[Path, Path] | None:
    """The git directory of the repository around ``start`` and its common directory (they
    differ in a linked worktree); None outside a repository. ``GIT_DIR`` wins, as in git."""
    found = commit_request.git_dirs(str(start), os.environ if env is None else env)
    return None if found is None else (Path(found[0]), Path(found[1]))


def toplevel(start: Path) -> Path | None:
    """The working tree's top directory around ``start`` (the one holding ``.git``)."""
    for directory in (start.resolve(), *start.resolve().parents):
        if (directory / ".git").exists():
            return directory
    return None


def write_live(common_dir: Path, live: LiveSession) -> None:
    """Replace the file in one step, so a reader sees the old or the new one, never half."""
    path = common_dir / LIVE_FILE
    path.parent.mkdir(exist_ok=True)
    record = {
        "session": live.session,
        "participant": live.participant,
        "me": {"name": live.me.name, "email": live.me.email},
        "co_authors": [{"name": p.name, "email": p.email} for p in live.co_authors],
        "pid": live.pid,
        "host": live.host,
        "socket": live.socket,
    }
    temporary = path.with_name(f".live-{os.getpid()}.json")
    try:
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(record, file, indent=2)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def read_live(common_dir: Path) -> LiveSession | None:
    """The session live in this repository, if its pairup is still running on this machine."""
    try:
        record = json.loads((common_dir / LIVE_FILE).read_text(encoding="utf-8"))
        live = LiveSession(
            session=str(record["session"]),
            participant=str(record["participant"]),
            me=_person(record["me"]),
            co_authors=tuple(_person(person) for person in record["co_authors"]),
            pid=int(record["pid"]),
            host=str(record["host"]),
            socket=str(record.get("socket", "")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if live.host == socket.gethostname() and not running(live.pid):
        return None
    return live


def remove_live(common_dir: Path, session: str) -> None:
    """Remove the file if it is this process's for ``session`` (another may have replaced it)."""
    live = read_live(common_dir)
    if live is not None and live.session == session and live.pid == os.getpid():
        with contextlib.suppress(FileNotFoundError):
            (common_dir / LIVE_FILE).unlink()


def commit_socket(common_dir: Path) -> Path | None:
    """Where this repository's live pairup should listen for commits, if a socket fits there."""
    path = commit_request.commit_socket(str(common_dir)) if hasattr(socket, "AF_UNIX") else None
    return None if path is None else Path(path)


def _person(record: dict[str, str]) -> Person:
    return Person(name=str(record["name"]), email=str(record.get("email", "")))


def running(pid: int) -> bool:
    """Whether a process with ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
