"""``pairup adr``: an exported decision's life after the session, on its files.

Only the standard library and :mod:`pairup.cli` load with the command line; the work is in
:mod:`pairup.adr.edit`, imported when a command runs, so ``pairup --help`` stays quick.
"""

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pairup.cli import EXIT_OK, Command, CommandMaker, UserError, load_settings

if TYPE_CHECKING:
    from pairup.adr.edit import Adr, Change
    from pairup.adr.write import Place

_DESCRIPTION = """\
Change an ADR's status in its file, or link two ADRs, the way adr-tools does: in
adr-tools' files the status under '## Status' and link lines such as
'Superseded by [3. Title](0003-title.md)' (adr list, adr generate toc and adr generate
graph read them); in MADR the front matter's status:, in log4brains its '- Status:' line.
Only the status and the link lines change; every other byte of a file stays as it is,
so whatever a person wrote in it is kept, and pairup export keeps the file from then on
(the status is yours now). A status word alone ("Proposed") is swapped; a status that
says more ("Accepted by the board on 3 May") stays as written, with the new status or
the link above it (in MADR, the old value stays in a comment on the status: line).

An ADR is named by its number (the NNNN- of its file name), the start of its file name
or slug (log4brains' files are named by date), or its path. pairup looks in adr.dir
when it is set; else in adr.format's folder (.adr-dir for adr-tools), then in the
other formats' folders. Each file's format is read from the file itself."""

_EPILOG = """\
examples:
  pairup adr accept 3                  accept ADR 3 (doc/adr/0003-*.md)
  pairup adr reject use-sqlite         the ADR whose file name or slug starts so
  pairup adr deprecate docs/adr/20261126-keep-the-log.md
  pairup adr supersede 2 --by 5        5 supersedes 2: each file links to the other
  pairup adr link 5 Amends 3 "Amended by"
                                       5 amends 3, and 3 says it is amended by 5"""

_STATUS_ACTIONS = {
    "accept": ("accepted", "mark an ADR accepted"),
    "reject": ("rejected", "mark an ADR rejected"),
    "deprecate": ("deprecated", "mark an ADR deprecated"),
}


def add_adr_commands(command: CommandMaker) -> None:
    """Add ``adr accept|reject|deprecate|supersede|link`` to the command line."""
    adr = command(
        "adr",
        "accept, reject, deprecate or supersede an exported ADR, in its file",
        _DESCRIPTION,
        _no_action,
    )
    adr.parser.epilog = _EPILOG
    actions = adr.parser.add_subparsers(title="actions", dest="action", metavar="ACTION")
    for name, (status, summary) in _STATUS_ACTIONS.items():
        sub = _action(actions, name, summary, _set_status, status=status)
        sub.parser.add_argument("adr", metavar="N", help="the ADR: number, file-name start or path")
    supersede = _action(
        actions,
        "supersede",
        "mark an ADR superseded by another; the other links back (adr new -s)",
        _supersede,
    )
    supersede.parser.add_argument("adr", metavar="N", help="the ADR superseded")
    supersede.parser.add_argument(
        "--by", metavar="M", required=True, help="the ADR that supersedes it"
    )
    link = _action(actions, "link", "link two ADRs both ways, as adr-tools' adr link does", _link)
    link.parser.add_argument("adr", metavar="N", help="the ADR the link is written in")
    link.parser.add_argument("kind", metavar="LINK", help="what N does to M, e.g. Amends")
    link.parser.add_argument("target", metavar="M", help="the ADR linked to")
    link.parser.add_argument("reverse", metavar="REVERSE", help='what M says of N: "Amended by"')


def _action(
    actions: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    summary: str,
    handler: Callable[[argparse.Namespace], int],
    **defaults: str,
) -> Command:
    """One action, with the settings that say where the ADRs are."""
    parser = actions.add_parser(
        name,
        help=summary,
        description=summary[0].upper() + summary[1:] + ".\n\n" + _DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, config_flags={}, **defaults)
    action = Command(parser)
    parser.add_argument("--repo", metavar="DIR", help="the repository (default: here)")
    action.setting("--dir", "adr.dir", "DIR", "the ADR folder (default: adr.dir, or as export)")
    action.setting(
        "--format",
        "adr.format",
        "FORMAT",
        "adr, madr or log4brains: whose folder to look in first (default: adr.format)",
    )
    return action


def _no_action(args: argparse.Namespace) -> int:
    raise UserError(
        "name an action: pairup adr accept|reject|deprecate|supersede|link (see --help)"
    )


def _set_status(args: argparse.Namespace) -> int:
    from pairup.adr import edit

    repo, places = _where(args)
    try:
        adr = edit.load(edit.find(args.adr, places, repo, Path.cwd()), repo)
        change = edit.set_status(adr, args.status)
    except edit.EditError as error:
        raise UserError(str(error)) from None
    _report([change])
    return EXIT_OK


def _supersede(args: argparse.Namespace) -> int:
    from pairup.adr import edit

    return _pair(args, args.by, edit.supersede)


def _link(args: argparse.Namespace) -> int:
    from pairup.adr import edit

    return _pair(
        args, args.target, lambda source, target: edit.link(source, args.kind, target, args.reverse)
    )


def _pair(
    args: argparse.Namespace, other: str, change: "Callable[[Adr, Adr], list[Change]]"
) -> int:
    """Find ``args.adr`` and ``other`` (looked for first beside the first), and change both."""
    from pairup.adr import edit

    repo, places = _where(args)
    try:
        first = edit.load(edit.find(args.adr, places, repo, Path.cwd()), repo)
        near = [_place_of(first.path), *places]
        second = edit.load(edit.find(other, near, repo, Path.cwd()), repo)
        changes = change(first, second)
    except edit.EditError as error:
        raise UserError(str(error)) from None
    _report(changes)
    return EXIT_OK


def _where(args: argparse.Namespace) -> "tuple[Path, list[Place]]":
    """The repository, and the folders to look for ADRs in, in order."""
    from pairup.adr import edit
    from pairup.git.live import toplevel

    config = load_settings(args).config
    start = Path(args.repo) if args.repo else Path.cwd()
    repo = toplevel(start)
    if repo is None:
        raise UserError(f"{start} is not inside a git repository; give the repository with --repo")
    return repo, edit.folders(repo, config.adr.format, config.adr.dir)


def _place_of(path: Path) -> "Place":
    """The folder of an ADR already found: the other ADR of a pair is looked for there first."""
    from pairup.adr.write import Place

    return Place(path.parent, f"the folder of {path.name}", "name the ADR by its path")


def _report(changes: "list[Change]") -> None:
    from pairup.printable import printable

    for change in changes:
        detail = f"  ({change.detail})" if change.detail else ""
        print(printable(f"{change.action:>10}  {change.adr.shown}{detail}"))
