"""``pairup export``: a recorded session's decisions as draft ADRs, and its session record."""

from dataclasses import dataclass
from pathlib import Path

from pairup.adr.render import facts
from pairup.adr.write import (
    Written,
    adr_directory,
    export_decisions,
    export_json,
    export_record,
    record_name,
)
from pairup.journal import JournalError, JournalInfo, journal_path, list_sessions, load, read_info
from pairup.session import fold

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


def export(info: JournalInfo, fmt: str, where: Where, *, record: bool, now: float) -> list[Written]:
    """Write the session in ``fmt``; the record beside ADRs unless ``record`` is False."""
    try:
        contents = load(info.path)
    except (OSError, JournalError) as error:
        raise ExportError(f"cannot read session {info.session_id}: {error}") from None
    state = fold(contents.events)
    about = facts(state, info.session_id)
    records = where.out or where.repo / where.record_dir
    try:
        if fmt == "json":
            return [export_json(records / record_name(about, ".json"), contents.events)]
        if fmt == "markdown":
            return [export_record(records / record_name(about), state, about, {}, now)]
        directory = where.out or adr_directory(where.repo, fmt, where.adr_dir)
        adrs = export_decisions(directory, fmt, state, about)
        written = list(adrs.values())
        if record:
            record_dir = where.repo / where.record_dir
            written.append(export_record(record_dir / record_name(about), state, about, adrs, now))
    except OSError as error:
        raise ExportError(f"cannot write the export: {error}") from None
    return written
