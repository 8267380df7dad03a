"""``pairup export``: a recorded session's decisions as draft ADRs, and its session record."""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pygit2

from pairup.adr.render import SessionFacts, facts
from pairup.adr.write import (
    Outside,
    Place,
    Written,
    adr_place,
    confine,
    export_decisions,
    export_json,
    export_record,
    find_adrs,
    inside,
    record_name,
)
from pairup.git.repo import GitError, open_repository
from pairup.journal import JournalError, JournalInfo, journal_path, list_sessions, load, read_info
from pairup.session import State, fold

ADR_FORMATS = ("adr", "madr", "log4brains")
FORMATS = (*ADR_FORMATS, "markdown", "json")


class ExportError(Exception):
    """What stops an export, in one line the user can act on."""


@dataclass(frozen=True, slots=True)
class Where:
    """Where the files go: the repository, and the settings that place them in it."""

    repo: Path
    adr_dir: str = ""
    record_dir: str = ".pairup/sessions"
    out: Path | None = None


def find_session(data_dir: Path, session: str | None, repo: Path) -> JournalInfo:
    """The session named, or the most recent one held in ``repo``."""
    if session is not None:
        try:
            path = journal_path(data_dir, session)
        except ValueError as error:
            raise ExportError(str(error)) from None
        try:
            return read_info(path)
        except FileNotFoundError:
            raise ExportError(
                f"no session {session} on this machine (see pairup sessions)"
            ) from None
        except (OSError, JournalError) as error:
            raise ExportError(f"cannot read session {session}: {error}") from None
    for info in list_sessions(data_dir):
        if info.meta.get("repository") == str(repo):
            return info
    raise ExportError(
        f"no session was held in {repo}; name one with pairup export SESSION (see pairup sessions)"
    )


def export(
    info: JournalInfo,
    fmt: str,
    where: Where,
    *,
    record: bool,
    now: float,
    force: bool = False,
) -> list[Written]:
    """Write the session in ``fmt``; the record beside ADRs unless ``record`` is False.

    The session record (in an ADR format or ``markdown``) comes with the JSON log beside it,
    under the same name, so a repository's committed records carry the facts for tools to
    read (``pairup why``, ``log``, ``stats``).

    A file a person changed since pairup wrote it is kept (``Written.action`` "kept", with the
    reason); with ``force`` it is replaced by pairup's version once the person's is saved beside
    it (``Written.saved``). Blocking: it reads the journal, the files and the repository.
    """
    try:
        contents = load(info.path)
    except (OSError, JournalError) as error:
        raise ExportError(f"cannot read session {info.session_id}: {error}") from None
    state = fold(contents.events)
    about = facts(state, info.session_id)
    records = where.out or where.repo / where.record_dir
    adrs_place = None if fmt in ("json", "markdown") else adr_place(where.repo, fmt, where.adr_dir)
    # Every place is checked before anything is written, so a refusal leaves no file behind.
    # --out is the user's own choice on the command line, and goes wherever it says; the
    # record beside ADRs goes to adr.record_dir all the same.
    places: list[Place] = []
    if adrs_place is not None and where.out is None:
        places.append(adrs_place)
    if (record and adrs_place is not None) or (adrs_place is None and where.out is None):
        places.append(_record_place(where))
    try:
        for place in places:
            confine(place, where.repo)
    except Outside as error:
        raise ExportError(str(error)) from None
    try:
        if fmt == "json":
            path = records / record_name(about, ".json")
            return [export_json(path, contents.events, force=force)]
        if fmt == "markdown":
            path = records / record_name(about)
            return [
                _record(path, state, about, where, now, force=force),
                export_json(records / record_name(about, ".json"), contents.events, force=force),
            ]
        assert adrs_place is not None
        directory = where.out or adrs_place.path
        directory.mkdir(parents=True, exist_ok=True)
        adrs = export_decisions(
            directory,
            fmt,
            state,
            about,
            force=force,
            in_this_repository=_commits_held(directory, state),
        )
        written = list(adrs.values())
        if record:
            folder = _record_place(where).path
            written.append(
                _record(folder / record_name(about), state, about, where, now, force=force)
            )
            log = folder / record_name(about, ".json")
            written.append(export_json(log, contents.events, force=force))
    except OSError as error:
        raise ExportError(f"cannot write the export: {error}") from None
    return written


def _record_place(where: Where) -> Place:
    return Place(
        where.repo / where.record_dir,
        f"adr.record_dir = {where.record_dir!r}",
        "set adr.record_dir to a folder inside the repository, or give --no-record",
    )


def _record(
    path: Path,
    state: State,
    about: SessionFacts,
    where: Where,
    now: float,
    *,
    force: bool,
) -> Written:
    """The session record, linking the session's ADRs wherever an export may have put them:
    the configured folder, every format's own and ``--out``, always in that order, so the
    record reads the same whichever format was exported last. Exporting the record alone
    after the ADRs, or in another format, still links them all. A folder outside the
    repository (a format's folder that is a link elsewhere) is not read: only ``--out`` is."""
    folders = [
        place.path
        for place in (
            *([adr_place(where.repo, "adr", where.adr_dir)] if where.adr_dir else []),
            *(adr_place(where.repo, fmt) for fmt in ADR_FORMATS),
        )
        if inside(where.repo, place.path)
    ]
    adrs = find_adrs([*folders, *([where.out] if where.out else [])], about.session_id)
    held = _commits_held(path.parent, state)
    return export_record(path, state, about, adrs, now, force=force, in_this_repository=held)


def _commits_held(place: Path, state: State) -> frozenset[str] | None:
    """The session's commits that the repository holding ``place`` has: a partner's commits
    reach it only once pushed and fetched. None when ``place`` is in no repository we can
    read, since then nothing can be said either way."""
    existing = next((p for p in (place, *place.parents) if p.exists()), None)
    if existing is None:
        return None
    try:
        repository = open_repository(existing)
    except GitError:
        return None
    return frozenset(_commits_in(repository, (c.sha for c in state.commits_in_order())))


def _commits_in(repository: pygit2.Repository, shas: Iterable[str]) -> list[str]:
    held = []
    for sha in shas:
        try:
            found = repository.get(sha)
        except (ValueError, pygit2.GitError):
            found = None
        if isinstance(found, pygit2.Commit):
            held.append(sha)
    return held
