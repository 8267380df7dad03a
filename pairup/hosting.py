"""What a host keeps so that its session outlives its process: ``pairup start --resume``.

A host that quits by mistake, closes the laptop or is killed must be able to bring the same
session back: same session, same secret, same port, so the join link its partners hold still
works and their clients reconnect by themselves. So the host writes, when it opens a session,
one small file in its data directory with the join link (its secret included), where its
relay listened, and the repository it was opened from; only this user can read it (0600).
The session's events are in the journal as always; a session whose log has ended is not
offered again, and its file is removed then.
"""

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from pairup.durable import make_dirs, sync_dir
from pairup.journal import JournalError, journal_path, read_info
from pairup.sessions import SessionSummary, summarise

_DIR = "hosted"


@dataclass(frozen=True, slots=True)
class Hosted:
    """A session this machine hosts, as ``pairup start --resume`` needs it."""

    session: str
    link: str
    """The whole join link, secret included: what the partners hold."""
    bind: str
    """The address the relay inside pairup listened on; empty with a relay elsewhere."""
    port: int
    """The port it listened on; 0 with a relay elsewhere."""
    repository: str
    """Where the session was opened from (the git top directory, else the directory)."""
    created_at: float


@dataclass(frozen=True, slots=True)
class Resumable:
    """A hosted session not yet ended, with what a person needs to recognise it."""

    hosted: Hosted
    summary: SessionSummary


def remember(data_dir: Path, hosted: Hosted) -> None:
    """Keep ``hosted`` for a later resume: written beside, fsynced, renamed over, 0600."""
    folder = data_dir / _DIR
    make_dirs(folder)
    target = folder / f"{hosted.session}.json"
    temporary = folder / f".{hosted.session}.json.new"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(asdict(hosted), file)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(target)
    sync_dir(folder)


def forget(data_dir: Path, session: str) -> None:
    """The session has ended: its secret need not stay on disk."""
    with contextlib.suppress(FileNotFoundError):
        (data_dir / _DIR / f"{session}.json").unlink()


def resumable(data_dir: Path, repository: Path) -> list[Resumable]:
    """The sessions hosted here from ``repository`` that have not ended, newest first.

    A file that cannot be read, or whose journal is gone, is passed over: there is nothing to
    resume there. One whose session has ended is removed."""
    found = []
    for path in sorted((data_dir / _DIR).glob("*.json")):
        hosted = _read(path)
        if hosted is None or hosted.repository != str(repository):
            continue
        try:
            summary = summarise(read_info(journal_path(data_dir, hosted.session)))
        except (OSError, JournalError, ValueError):
            continue
        if summary is None:
            continue
        if summary.ended:
            forget(data_dir, hosted.session)
            continue
        found.append(Resumable(hosted, summary))
    return sorted(found, key=lambda item: item.summary.started, reverse=True)


def _read(path: Path) -> Hosted | None:
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
        return Hosted(**fields)
    except (OSError, ValueError, TypeError):
        return None
