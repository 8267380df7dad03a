"""Where exported files go, how they are numbered, how a re-export finds them again, and when it
leaves them alone.

Each Markdown file ends with a marker line naming its session and decision (or ``record``) and
a digest of what pairup wrote above it (:mod:`pairup.adr.marker`). A re-export rewrites the
file holding the marker, whatever it was renamed or renumbered to, so exporting twice leaves
the same files; but a file a person changed since (an ADR accepted by hand, superseded with
``adr new -s``, a record with notes added) is kept as it is, unless the caller forces, and then
the person's version is saved beside it first (ADR 19). A new decision takes the number after
the highest already in the folder: two branches exporting at once can pick the same number,
which is settled when they merge, by renaming one of the two (ADR 12).

A repository decides where its ADRs go (``.pairup.toml``, ``.adr-dir``), and a repository may
come from anyone: so an export checks, before it writes anything, that each folder it writes
into is inside the repository once links are followed, and that no file it could read or
replace there is a link to outside (:func:`confine`); and it writes every file under a fresh
name first, so a link planted where that name would be is never written through.
"""

import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pairup import moment
from pairup.adr import marker
from pairup.adr.render import (
    SessionFacts,
    decision_links,
    logged_events,
    render_decision,
    render_json,
    render_record,
    slug,
)
from pairup.session import Event
from pairup.session.state import State

DEFAULT_DIRS = {
    "adr": Path("doc/adr"),
    "madr": Path("docs/decisions"),
    "log4brains": Path("docs/adr"),
}
NUMBERED = re.compile(r"^(\d{4})-")

Action = Literal["created", "updated", "unchanged", "kept", "replaced"]
"""created/updated/unchanged: pairup's file is as it should be. kept: the file was left as a
person made it (``Written.reason`` says why). replaced: forced over a person's version, which
was saved first (``Written.saved``)."""

EDITED = "changed since pairup wrote it"
EDITED_LEGACY = "written by an older pairup, which kept no digest to tell an edit by"
RECORD_NOT_OURS = "not pairup's record of this session (it has no marker)"
JSON_NOT_OURS = "not pairup's export of this session's log"
NOT_TEXT = "not UTF-8 text"


@dataclass(frozen=True, slots=True)
class Written:
    path: Path
    action: Action
    reason: str = ""
    """Why a file was kept, or what a forced export replaced; empty otherwise."""
    saved: Path | None = None
    """Where the person's version went before a forced export replaced it."""


class Outside(ValueError):
    """A folder or file an export would write that is outside the repository; the message
    says which setting put it there and what to do, in one line."""


@dataclass(frozen=True, slots=True)
class Place:
    """A folder an export writes into, and what chose it, for a message about it."""

    path: Path
    chosen_by: str
    """e.g. "adr.dir = '../x'" or "the .adr-dir file in /src": the setting to change."""
    remedy: str
    """What to do when it points outside the repository."""


def adr_directory(repo: Path, fmt: str, configured: str = "") -> Path:
    """The ADR folder: the configured one; for adr-tools, the nearest ``.adr-dir`` walking up
    from the repository, else an existing ``doc/adr``; else the format's usual folder."""
    return adr_place(repo, fmt, configured).path


def adr_place(repo: Path, fmt: str, configured: str = "") -> Place:
    """:func:`adr_directory`, with what chose it. adr-tools looks for ``.adr-dir`` upwards from
    where it runs, so pairup does too; :func:`confine` then refuses one that leads outside."""
    if configured:
        return Place(
            repo / configured,
            f"adr.dir = {configured!r}",
            "set adr.dir to a folder inside the repository, or give --out DIR to write the "
            "ADRs elsewhere on purpose",
        )
    if fmt == "adr":
        for directory in (repo, *repo.parents):
            pointer = directory / ".adr-dir"
            if pointer.is_file():
                named = pointer.read_text(encoding="utf-8").strip()
                return Place(
                    directory / named,
                    f"the .adr-dir file in {directory} ({named!r})",
                    "write an .adr-dir in the repository naming a folder inside it, set adr.dir, "
                    "or give --out DIR",
                )
    default = DEFAULT_DIRS[fmt]
    return Place(
        repo / default,
        f"{default.as_posix()} (where {fmt} ADRs go)",
        "make it a folder inside the repository rather than a link, set adr.dir, or give --out DIR",
    )


def confine(place: Place, repo: Path) -> None:
    """Raise :class:`Outside` unless ``place`` is inside ``repo`` once every link is followed,
    and no file an export reads or replaces there (``*.md``, ``*.json``, and the copies it
    saves) is a link leading outside. Nothing is written here, so an export that checks all
    its places first writes nothing when one is refused."""
    root = repo.resolve()
    real = place.path.resolve()
    if not inside(root, real):
        raise Outside(
            f"{place.chosen_by} puts the export in {real}, outside the repository {root}; "
            f"pairup export writes only inside the repository: {place.remedy}"
        )
    try:
        entries = sorted(place.path.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.suffix in (".md", ".json", ".orig") and entry.is_symlink():
            target = entry.resolve()
            if not inside(root, target):
                raise Outside(
                    f"{entry} is a link to {target}, outside the repository {root}; pairup "
                    "export writes only inside the repository: remove the link, or give "
                    "--out DIR"
                )


def inside(repo: Path, path: Path) -> bool:
    """Whether ``path`` is ``repo`` or inside it, once every link in either is followed."""
    root, real = repo.resolve(), path.resolve()
    return real == root or root in real.parents


def export_decisions(
    directory: Path,
    fmt: str,
    state: State,
    facts: SessionFacts,
    *,
    force: bool = False,
    in_this_repository: Set[str] | None = None,
) -> dict[str, Written]:
    """Every decision of the session as a draft ADR in ``directory``, by decision id.

    ``in_this_repository`` holds the shas of the session's commits that the repository the
    folder belongs to has; the others are marked as made in another clone (None: not known).
    """
    directory.mkdir(parents=True, exist_ok=True)
    found = _marked(directory, facts.session_id)
    highest = max(
        (int(match.group(1)) for p in directory.glob("*.md") if (match := NUMBERED.match(p.name))),
        default=0,
    )
    commits = state.commits_in_order()
    # Every file is placed before any is rendered: a supersede link names the other file.
    placed: dict[str, tuple[int, Path]] = {}
    for decision in state.decisions_in_order():
        path = found.get(decision.id)
        if path is not None and (match := NUMBERED.match(path.name)):
            number = int(match.group(1))
        elif path is not None:
            number = decision.number
        else:
            highest += 1
            number = highest
            path = directory / _file_name(fmt, number, decision.title, decision.proposed_at)
            path = _free(path, taken={p for _, p in placed.values()})
        placed[decision.id] = (number, path)
    links = decision_links(state, fmt, {key: (n, p.name) for key, (n, p) in placed.items()})
    written: dict[str, Written] = {}
    for decision in state.decisions_in_order():
        number, path = placed[decision.id]
        after = [record for record in commits if record.at >= decision.proposed_at]
        document = render_decision(
            fmt,
            decision,
            number,
            facts,
            commits=after,
            in_this_repository=in_this_repository,
            links=links[decision.id],
        )
        text = marker.seal(document, facts.session_id, decision.id)
        written[decision.id] = _put(path, text, _adr_judge(text), force=force)
    return written


def find_adrs(directories: Iterable[Path], session_id: str) -> dict[str, list[Path]]:
    """Every ADR of the session in ``directories``, by decision id, in the folders' order.

    A decision exported in several formats has a file in each format's folder; the session
    record links them all. A folder listed twice (two formats sharing one) counts once.
    """
    adrs: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for directory in directories:
        resolved = directory.resolve()
        if resolved in seen or not directory.is_dir():
            continue
        seen.add(resolved)
        for decision_id, path in _marked(directory, session_id).items():
            adrs.setdefault(decision_id, []).append(path)
    return adrs


def export_record(
    path: Path,
    state: State,
    facts: SessionFacts,
    adrs: Mapping[str, Sequence[Path]],
    now: float,
    *,
    force: bool = False,
    in_this_repository: Set[str] | None = None,
) -> Written:
    """The session record at ``path``, linking each decision's ``adrs`` relative to it."""
    links = {
        decision_id: [Path(os.path.relpath(adr, path.parent)).as_posix() for adr in paths]
        for decision_id, paths in adrs.items()
    }
    document = render_record(state, facts, links, now, in_this_repository=in_this_repository)
    text = marker.seal(document, facts.session_id, None)
    return _put(path, text, _record_judge(text, facts.session_id), force=force)


def export_json(path: Path, events: Sequence[Event], *, force: bool = False) -> Written:
    """The event log at ``path`` (:func:`~pairup.adr.render.render_json`). JSON has no
    comments to carry a marker, so the file counts as pairup's when it is, byte for byte,
    what pairup writes for the first events of this log: an export of an earlier moment of
    the session, or of now."""
    return _put(path, render_json(events), _json_judge(events), force=force)


def record_name(facts: SessionFacts, suffix: str = ".md") -> str:
    return f"{facts.file_date}-{facts.session_id}{suffix}"


Judge = Callable[[str], str | None]
"""Given a file's current text, None when pairup may overwrite it, else why it may not."""


def _adr_judge(text: str) -> Judge:
    fresh = marker.read(text)

    def judge(existing: str) -> str | None:
        found = marker.read(existing)
        if found is None:
            return EDITED
        if found.untouched:
            return None
        if found.marker.digest is not None:
            return EDITED
        # A marker from before digests: safe only if the text is what pairup writes today.
        return None if fresh is not None and found.content == fresh.content else EDITED_LEGACY

    return judge


def _record_judge(text: str, session_id: str) -> Judge:
    judge_content = _adr_judge(text)

    def judge(existing: str) -> str | None:
        found = marker.read(existing)
        if found is None or found.marker.session_id != session_id:
            return RECORD_NOT_OURS
        if found.marker.decision_id is not None:
            return RECORD_NOT_OURS
        return judge_content(existing)

    return judge


def _json_judge(events: Sequence[Event]) -> Judge:
    """pairup's own JSON log: what it writes for this log or for its first events, as it
    writes it now (no handover parts) or wrote it before (with them)."""
    kept = logged_events(events)

    def judge(existing: str) -> str | None:
        try:
            document = json.loads(existing)
        except ValueError:
            return JSON_NOT_OURS
        logged = document.get("events") if isinstance(document, dict) else None
        if not isinstance(logged, list):
            return JSON_NOT_OURS
        count = len(logged)
        if count <= len(kept) and render_json(kept[:count]) == existing:
            return None
        if count <= len(events) and render_json(events[:count], with_parts=True) == existing:
            return None
        return JSON_NOT_OURS

    return judge


def _put(path: Path, text: str, judge: Judge, *, force: bool) -> Written:
    """``text`` at ``path`` unless a person's file is there: then kept, or with ``force``
    replaced once the person's version is saved. Line ends are compared as LF, so a checkout
    with CRLF is not taken for an edit."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        replace_file(path, text)
        return Written(path, "created")
    try:
        existing: str | None = data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        existing = None
    if existing == text:
        return Written(path, "unchanged")
    reason = NOT_TEXT if existing is None else judge(existing)
    if reason is None:
        replace_file(path, text)
        return Written(path, "updated")
    if not force:
        return Written(path, "kept", reason)
    saved = _save(path, data)
    replace_file(path, text)
    return Written(path, "replaced", f"{reason}; that version is saved as {saved.name}", saved)


def _save(path: Path, data: bytes) -> Path:
    """A copy of ``data`` beside ``path``, under a name no ADR tool reads as an ADR.

    adr-tools lists every ``NNNN-…`` name holding ``.md`` anywhere, and log4brains and MADR
    read ``*.md``, so the copy is ``.NAME.orig`` (then ``.NAME.2.orig``…): hidden from those
    tools, never overwriting an earlier copy, and reused when it holds the same bytes.
    """
    count = 1
    while True:
        suffix = ".orig" if count == 1 else f".{count}.orig"
        candidate = path.with_name(f".{path.name}{suffix}")
        try:
            with candidate.open("xb") as copy:
                copy.write(data)
        except FileExistsError:
            if candidate.read_bytes() == data:
                return candidate
            count += 1
            continue
        return candidate


def _file_name(fmt: str, number: int, title: str, at: float) -> str:
    if fmt == "log4brains":
        shown = moment.utc(at)
        day = "undated" if shown is None else shown.strftime("%Y%m%d")
        return f"{day}-{slug(title)}.md"
    return f"{number:04d}-{slug(title)}.md"


def _free(path: Path, taken: Set[Path] = frozenset()) -> Path:
    """``path``, or the first ``-2``, ``-3``… variant that is not taken (by a file, a folder,
    or a link, even one leading nowhere, or by a file this export is about to write)."""
    candidate, count = path, 1
    while os.path.lexists(candidate) or candidate in taken:
        count += 1
        candidate = path.with_name(f"{path.stem}-{count}{path.suffix}")
    return candidate


def _marked(directory: Path, session_id: str) -> dict[str, Path]:
    """ADRs of this session in ``directory``, by decision id: files whose last line is the
    marker (a marker anywhere else is text, not pairup's)."""
    found: dict[str, Path] = {}
    for path in sorted(directory.glob("*.md")):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        marked = marker.read(text)
        if marked is None or marked.marker.session_id != session_id:
            continue
        if marked.marker.decision_id is not None:
            found.setdefault(marked.marker.decision_id, path)
    return found


def replace_file(path: Path, text: str) -> None:
    """Write ``text`` in one step, so a file is never seen half written. The text goes first
    to a new file under a name nobody could have planted a link at (created exclusively), and
    the rename replaces whatever ``path`` is, a link included, rather than write through it.
    A file that was there keeps its permissions (someone's 600 stays 600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        before = os.lstat(path)
    except FileNotFoundError:
        before = None
    keep = stat.S_IMODE(before.st_mode) if before and stat.S_ISREG(before.st_mode) else None
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.pairup-new")
        try:
            # Exclusive creation never follows a link; the mode is a new file's as the
            # user's umask makes it, like any file they write.
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as file:
            if keep is not None:
                os.fchmod(file.fileno(), keep)
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
