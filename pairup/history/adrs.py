"""The ADR files in a repository that came from sessions, found by pairup's marker line.

An exported ADR ends with ``<!-- pairup: session=S decision=D digest=H -->``
(:mod:`pairup.adr.marker`), whatever it was renamed or renumbered to since. The folders looked
in are the ones an export writes to: each format's own (:func:`pairup.adr.write.adr_directory`)
and ``adr.dir`` when it is set. Only the end of each file is read, where the marker is: a
folder of hundreds of ADRs costs a few milliseconds, so nothing here is cached. An ADR's
status after the session (``pairup adr accept`` or a person's edit) is read from the file
itself, only for the ADRs an answer shows.
"""

from collections.abc import Iterable
from pathlib import Path

from pairup.adr import marker
from pairup.adr.lifecycle import Status, Unreadable, detect, read_status
from pairup.adr.write import DEFAULT_DIRS, adr_directory, inside

_TAIL = 4096
"""Bytes read from the end of a file: the marker line and any blank lines an editor added."""

AdrFiles = dict[tuple[str, str], list[Path]]
"""ADR files by (session id, decision id), in the order of the folders."""


def adr_folders(repo: Path, configured: str = "") -> list[Path]:
    """Where a repository's exported ADRs can be, each folder once, inside the repository."""
    candidates = [
        *([adr_directory(repo, "adr", configured)] if configured else []),
        *(adr_directory(repo, fmt) for fmt in DEFAULT_DIRS),
    ]
    folders: list[Path] = []
    seen: set[Path] = set()
    for folder in candidates:
        resolved = folder.resolve()
        if resolved not in seen and folder.is_dir() and inside(repo, folder):
            seen.add(resolved)
            folders.append(folder)
    return folders


def find_adr_files(folders: Iterable[Path]) -> AdrFiles:
    """Every ADR with a marker in ``folders``, by the session and decision it came from."""
    found: AdrFiles = {}
    for folder in folders:
        for path in sorted(folder.glob("*.md")):
            marked = _marker(path)
            if marked is not None and marked.decision_id is not None:
                found.setdefault((marked.session_id, marked.decision_id), []).append(path)
    return found


def _marker(path: Path) -> marker.Marker | None:
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - _TAIL))
            tail = file.read()
    except OSError:
        return None
    marked = marker.read(tail.decode("utf-8", "replace"))
    return None if marked is None else marked.marker


def adr_status(path: Path) -> Status | None:
    """The status the ADR's text gives (``Accepted``, ``Superseded by …``), as written and as
    :mod:`pairup.adr.lifecycle` reads it; None when it has none that its format's shape
    holds."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    fmt = detect(text)
    if fmt is None:
        return None
    try:
        status = read_status(text, fmt)
    except Unreadable:
        return None
    return status if status.text else None
