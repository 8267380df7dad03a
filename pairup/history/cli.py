"""``pairup why``, ``pairup log`` and ``pairup stats``.

Only the standard library and :mod:`pairup.cli` are imported here, so ``pairup --help`` stays
quick; each handler imports what it needs when it runs.
"""

import argparse
import sys
from pathlib import Path

from pairup.cli import EXIT_OK, Command, CommandMaker, UserError, load_settings

_FROM = """\
sessions come from this machine's journals (the data directory) and from the session logs
committed to the repository (adr.record_dir, written by pairup export); a session in both
counts once. What was read is kept in a cache, so a second run reads only what changed."""

_WHY = f"""\
Explain a line of code: the commit that last changed it (git blame), the pairup session
that recorded that commit, who was credited and who was in the session, and the decisions
recorded in that session before the commit, with their status and ADR files.

Without :LINE, every commit behind the file's lines as they are now, newest first, each with
the lines it holds. A line whose commit no session held in this repository recorded says so,
and names the commit. PATH is taken from the current directory, as git takes it (from the
top of DIR with --repo).

{_FROM}

examples:
  pairup why src/relay.py:42          the line 42 of src/relay.py
  pairup why src/relay.py             every commit behind the file, newest first
  pairup why --json src/relay.py:42   the same for a script"""

_LOG = f"""\
List the sessions held in this repository, newest first: when, who, how long, and each
decision in the order it was recorded (its number, title, status, who agreed or objected,
its ADR files), with the commits the session made after it and the files they touched.

{_FROM}

examples:
  pairup log                                 every session of this repository
  pairup log --participant ann@example.com   the sessions Ann took part in
  pairup log --since 2w --status accepted    accepted decisions of the last two weeks
  pairup log --json | jq '.sessions[0]'"""

_STATS = f"""\
What the team learns from its sessions: who paired with whom and for how long, each
person's share of the driving per ISO week (a bar chart), turns, breaks, decisions and
lessons per session, and how many people changed each top-level directory of the
repository in sessions (knowledge spread). Sessions of every repository this machine
paired in are counted, with the ones committed to this repository; --here keeps only this
repository's.

{_FROM}

examples:
  pairup stats                          tables and a chart in the terminal
  pairup stats --here --since 2026-11-01
  pairup stats --markdown > PAIRING.md  Markdown tables and mermaid charts
  pairup stats --json"""


def add_history_commands(command: CommandMaker) -> None:
    """Add ``why``, ``log`` and ``stats`` to the command line."""
    why = command("why", "explain a line of code: its commit, session and decisions", _WHY, _why)
    why.parser.add_argument(
        "target", metavar="PATH[:LINE]", help="a tracked file, and a line of it (from 1)"
    )
    _shared(why)

    log = command(
        "log", "list the repository's sessions, decisions and the commits after them", _LOG, _log
    )
    log.parser.add_argument(
        "--participant",
        metavar="NAME",
        help="only sessions someone took part in: their whole name or email, in any case",
    )
    log.parser.add_argument(
        "--status",
        choices=("proposed", "accepted", "rejected", "deprecated", "superseded"),
        help=(
            "only decisions with this status (and the sessions holding one): its ADR file's "
            "once it has one, else the session's"
        ),
    )
    _since(log)
    _shared(log)

    stats = command(
        "stats", "who paired with whom, driving shares, knowledge spread", _STATS, _stats
    )
    stats.parser.add_argument(
        "--here", action="store_true", help="count only the sessions held in this repository"
    )
    stats.parser.add_argument(
        "--markdown",
        action="store_true",
        help="write Markdown tables and mermaid charts instead of the terminal's",
    )
    _since(stats)
    _shared(stats)


def _shared(command: Command) -> None:
    command.parser.add_argument(
        "--json", action="store_true", help="write JSON for scripts (text as typed, times in UTC)"
    )
    command.parser.add_argument("--repo", metavar="DIR", help="the repository (default: here)")
    command.setting("--data-dir", "data.dir", "DIR", "read this machine's sessions from DIR")


def _since(command: Command) -> None:
    command.parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only sessions started since WHEN: a day (2026-11-02) or a time ago (2w, 3d, 12h)",
    )


# -- handlers ----------------------------------------------------------------------------------


def _why(args: argparse.Namespace) -> int:
    from pairup.history.adrs import adr_folders, find_adr_files
    from pairup.history.gather import gather
    from pairup.history.git import GitProblem, blame
    from pairup.history.why import explain, render, to_json

    config = load_settings(args).config
    repo = _repository(args.repo)
    path, line = _target(args.target, repo, Path(args.repo) if args.repo else None)
    try:
        blamed = blame(repo, path, line)
    except GitProblem as error:
        raise UserError(str(error)) from None
    found = gather(config.data_dir, repo, config.adr.record_dir)
    _warn(found.problems)
    reasons = explain(blamed, found.sessions)
    # The ADR folders are read only when there are decisions to find files for.
    wanted = any(reason.decisions for reason in reasons)
    adrs = find_adr_files(adr_folders(repo, config.adr.dir)) if wanted else {}
    if args.json:
        print(_json(to_json(path, line, reasons, adrs, repo)))
    else:
        print(render(path, line, reasons, adrs, repo))
    return EXIT_OK


def _log(args: argparse.Namespace) -> int:
    from pairup.history import log
    from pairup.history.adrs import adr_folders, find_adr_files
    from pairup.history.gather import gather
    from pairup.printable import printable

    config = load_settings(args).config
    repo = _repository(args.repo)
    filters = log.Filters(args.participant, _since_time(args.since), args.status)
    found = gather(config.data_dir, repo, config.adr.record_dir)
    _warn(found.problems)
    adrs = find_adr_files(adr_folders(repo, config.adr.dir))
    chosen = log.select(found.sessions, filters, adrs, repo)
    files = _files(repo, [commit.sha for sitting in chosen for commit in sitting.commits])
    if args.json:
        print(_json(log.to_json(chosen, filters, files, adrs, repo)))
    elif not chosen:
        print(
            printable(f"no session held in {repo} matches" if _filtered(args) else _none_here(repo))
        )
    else:
        print(log.render(chosen, filters, files, adrs, repo))
    return EXIT_OK


def _stats(args: argparse.Namespace) -> int:
    import shutil

    from pairup.history import report
    from pairup.history.gather import gather
    from pairup.history.stats import compute

    if args.json and args.markdown:
        raise UserError("give --json or --markdown, not both")
    config = load_settings(args).config
    repo = _repository(args.repo) if args.here else _maybe_repository(args.repo)
    since = _since_time(args.since)
    found = gather(config.data_dir, repo, config.adr.record_dir)
    _warn(found.problems)
    chosen = [
        sitting
        for sitting in found.sessions
        if (sitting.here or not args.here)
        and (since is None or (sitting.started is not None and sitting.started >= since))
    ]
    shas = [commit.sha for sitting in chosen for commit in sitting.commits]
    files = {} if repo is None else _files(repo, shas)
    stats = compute(chosen, files)
    if args.json:
        print(_json(report.to_json(stats)))
    elif args.markdown:
        print(report.render_markdown(stats), end="")
    else:
        print(report.render_text(stats, shutil.get_terminal_size((100, 24)).columns))
    return EXIT_OK


# -- shared steps ------------------------------------------------------------------------------


def _repository(given: str | None) -> Path:
    """The repository asked about: ``--repo``, or the one around the current directory."""
    repo = _maybe_repository(given)
    if repo is None:
        start = given or Path.cwd()
        raise UserError(f"{start} is not inside a git repository; give the repository with --repo")
    return repo


def _maybe_repository(given: str | None) -> Path | None:
    from pairup.git.live import toplevel

    start = Path(given) if given else Path.cwd()
    if given and not start.is_dir():
        raise UserError(f"--repo {given}: no such directory")
    return toplevel(start)


def _target(text: str, repo: Path, base: Path | None) -> tuple[str, int | None]:
    """The file (from the repository's top, as git names it) and line that ``PATH[:LINE]``
    names; a file whose name ends in ``:N`` is taken whole. A line is ASCII digits only:
    ``"²".isdigit()`` is true but ``int`` refuses it, and ``int`` reads other scripts' digits
    (``٣``), which git would never count by; such a tail is part of the file's name."""
    import os

    start = repo if base is not None else Path.cwd()
    name, line = text, None
    head, colon, tail = text.rpartition(":")
    if colon and head and tail.isascii() and tail.isdigit() and not (start / text).exists():
        name, line = head, int(tail)
    written = Path(os.path.abspath(start / name))
    try:
        relative = (written.parent.resolve() / written.name).relative_to(repo)
    except ValueError:
        raise UserError(f"{name} is outside the repository {repo}") from None
    if not written.exists():
        raise UserError(f"{name}: no such file")
    if written.is_dir():
        raise UserError(f"{name} is a directory: give a file, or FILE:LINE")
    if line is not None:
        count = _lines(written)
        if not 1 <= line <= count:
            raise UserError(f"{name} has {count} line{'' if count == 1 else 's'}: no line {line}")
    return relative.as_posix(), line


def _lines(path: Path) -> int:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _since_time(text: str | None) -> float | None:
    import time

    from pairup.history.since import SinceError, parse_since

    if text is None:
        return None
    try:
        return parse_since(text, time.time())
    except SinceError as error:
        raise UserError(str(error)) from None


def _files(repo: Path, shas: list[str]) -> dict[str, list[str]]:
    from pairup.git.live import git_dirs
    from pairup.history.git import GitProblem, files_touched

    dirs = git_dirs(repo)
    try:
        return files_touched(repo, None if dirs is None else dirs[1], shas)
    except GitProblem as error:
        raise UserError(str(error)) from None


_JSON_ESCAPED = {
    code: f"\\u{code:04x}"
    for code in (
        *range(0x7F, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x2028,
        0x2029,
        *range(0xD800, 0xE000),
    )
}
"""What JSON may carry raw but a terminal must not be sent: C1 controls, bidirectional
controls, line separators (JSON escapes C0 itself), and halves of characters, which could not
even be written out."""


def _json(document: object) -> str:
    """``document`` as JSON that reads back as typed and is safe to print on a terminal."""
    import json

    return json.dumps(document, ensure_ascii=False, indent=2).translate(_JSON_ESCAPED)


def _warn(problems: list[str]) -> None:
    from pairup.printable import printable

    for problem in problems:
        print(f"pairup: warning: {printable(problem)}", file=sys.stderr)


def _filtered(args: argparse.Namespace) -> bool:
    return any((args.participant, args.since, args.status))


def _none_here(repo: Path) -> str:
    return (
        f"no pairup session was held in {repo}: start one here with pairup start, or pull "
        "the session logs a partner committed (pairup export --format json writes one)"
    )
