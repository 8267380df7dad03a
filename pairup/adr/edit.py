"""``pairup adr``'s files: which ADR a reference names, and writing its new status and links.

The text changes are :mod:`pairup.adr.lifecycle`'s; this module finds the files, the way an
export places them (``adr.dir``, ``.adr-dir``, each format's folder), reads each file's format
from the file itself, and writes inside the repository only, in one step (ADR 32).

A change to two files (supersede, link) computes and checks both texts before it writes
either, writes the back-link first (alone, it is harmless: the other ADR still says what it
said), and gives the first file its old text back when the second cannot be written, so a
failure leaves both files as they were and says so in one line.
"""

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from pairup.adr import lifecycle
from pairup.adr.lifecycle import Format, Ref
from pairup.adr.write import DEFAULT_DIRS, Place, adr_place, inside, replace_file

_NUMBER = re.compile(r"(\d+)-")
_NOT_ADRS = frozenset({"readme.md", "index.md", "template.md", "adr-template.md"})
"""Files ADR folders hold beside the records: log4brains' index and template, a README."""
READABLE = (
    "a '## Status' section (adr-tools), YAML front matter with status: (MADR) "
    "or a '- Status:' line under the title (log4brains)"
)


class EditError(Exception):
    """Why an ADR was not changed, in one line the user can act on."""


@dataclass(frozen=True, slots=True)
class Adr:
    """An ADR file, its text and the format that text is in."""

    path: Path
    text: str
    fmt: Format
    shown: str
    """The path as messages give it: relative to the repository."""

    @property
    def number(self) -> int | None:
        found = _NUMBER.match(self.path.name)
        return int(found.group(1)) if found else None

    def ref_from(self, source: "Adr") -> Ref:
        """This ADR as ``source`` links to it: by a path relative to ``source``'s folder."""
        relative = Path(os.path.relpath(self.path, source.path.parent)).as_posix()
        title = lifecycle.title_of(self.text, self.fmt)
        return Ref(self.number, title, quote(relative), self.path.stem)


@dataclass(frozen=True, slots=True)
class Change:
    """What one command did to one file: "accepted", "superseded", "linked", "unchanged"…"""

    adr: Adr
    action: str
    detail: str = ""


def folders(repo: Path, fmt: str, configured: str) -> list[Place]:
    """Where to look for a numbered or named ADR: the configured folder alone (``adr.dir``);
    else ``fmt``'s folder (``.adr-dir`` for adr-tools), then the other formats' folders."""
    if configured:
        return [adr_place(repo, fmt, configured)]
    places = [adr_place(repo, fmt)] + [adr_place(repo, other) for other in DEFAULT_DIRS]
    unique: list[Place] = []
    for place in places:
        if place.path.resolve() not in {seen.path.resolve() for seen in unique}:
            unique.append(place)
    return unique


def find(reference: str, places: list[Place], repo: Path, cwd: Path) -> Path:
    """The ADR ``reference`` names: a path to one, its number (the ``NNNN-`` of its file
    name), or the start of its file name or of its name after the number or date.

    The first folder is searched first, then all the others together: a reference that fits
    several files is refused with their names, as is one that fits none.
    """
    if "/" in reference or os.sep in reference or reference.endswith(".md"):
        path = cwd / reference
        if not path.is_file():
            raise EditError(f"no ADR file {reference}")
        return _within(path, repo)
    first, *others = places
    if not inside(repo, first.path):
        # Only this folder and the file chosen are checked: a link elsewhere in the folder
        # that leads outside is refused when it is the ADR named (:func:`_within`).
        raise EditError(
            f"{first.chosen_by} is {first.path.resolve()}, outside the repository "
            f"{repo.resolve()}; pairup adr edits ADRs inside it only: give --dir a folder "
            "inside it, or name the ADR by its path"
        )
    for group in ([first], others):
        matches = [
            path
            for place in group
            if inside(repo, place.path)
            for path in _candidates(place.path)
            if _fits(path.name, reference)
        ]
        if len(matches) == 1:
            return _within(matches[0], repo)
        if len(matches) > 1:
            names = ", ".join(_shown(path, repo) for path in matches)
            raise EditError(
                f"{reference!r} fits more than one ADR ({names}); give more of its name, "
                "or its path"
            )
    where = ", ".join(_shown(place.path, repo) for place in places)
    raise EditError(
        f"no ADR {reference} in {where}; give its number, the start of its file name, or its "
        "path (adr.dir sets the folder)"
    )


def load(path: Path, repo: Path) -> Adr:
    """The ADR at ``path``, in the format its text is in."""
    shown = _shown(path, repo)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise EditError(f"{shown} is not UTF-8 text; pairup adr edits Markdown files") from None
    except OSError as error:
        raise EditError(f"cannot read {shown}: {error.strerror}") from None
    fmt = lifecycle.detect(text)
    if fmt is None:
        raise EditError(f"{shown} has no status pairup can read: expected {READABLE}")
    if not path.stat().st_mode & stat.S_IWUSR:
        raise EditError(f"{shown} is read-only; make it writable (chmod u+w) to change it")
    return Adr(path, text, fmt, shown)


def set_status(adr: Adr, status: str) -> Change:
    """``adr`` with its status ``status``; nothing written when it has it already."""
    try:
        text = lifecycle.set_status(adr.text, adr.fmt, status)
    except lifecycle.Refused as error:
        raise EditError(
            f"{adr.shown} is not {status}: {error}; edit its status by hand to change that"
        ) from None
    except lifecycle.Unreadable as error:
        raise EditError(f"{adr.shown} has no status pairup can read: {error}") from None
    if text == adr.text:
        return Change(adr, "unchanged", f"already {status}")
    try:
        replace_file(adr.path, text)
    except OSError as error:
        raise EditError(
            f"could not write {adr.shown}: {_reason(error)}; it was left as it was"
        ) from None
    return Change(adr, status)


def supersede(old: Adr, new: Adr) -> list[Change]:
    """``old`` superseded by ``new``, and ``new`` linking back: both checked before either is
    written, so a refusal changes neither file."""
    if old.path.resolve() == new.path.resolve():
        raise EditError(f"{old.shown} cannot supersede itself; name two different ADRs")
    try:
        back = lifecycle.read_status(new.text, new.fmt)
        if back.superseded_by is not None and lifecycle.names(
            back.superseded_by, old.ref_from(new), new.fmt
        ):
            raise EditError(
                f"{new.shown} is superseded by {old.shown}: the two would supersede each other"
            )
        superseded = lifecycle.supersede(old.text, old.fmt, new.ref_from(old))
        linked = lifecycle.add_link(new.text, new.fmt, lifecycle.SUPERSEDES, old.ref_from(new))
    except lifecycle.Refused as error:
        raise EditError(
            f"{old.shown} cannot be superseded by {new.shown}: {error}; edit its status by hand "
            "to change that"
        ) from None
    except lifecycle.Unreadable as error:
        raise EditError(f"an ADR has no status pairup can read: {error}") from None
    back = _change(new, linked, "linked", f"supersedes {old.path.name}")
    forth = _change(old, superseded, "superseded", f"by {new.path.name}")
    _write_both(back, linked, forth, superseded)
    return [forth, back]


def link(source: Adr, kind: str, target: Adr, reverse: str) -> list[Change]:
    """``source`` linked to ``target`` as ``kind``, and ``target`` back as ``reverse``, as
    adr-tools' ``adr link`` does."""
    if source.path.resolve() == target.path.resolve():
        raise EditError(f"{source.shown} cannot link to itself; name two different ADRs")
    try:
        forward = lifecycle.add_link(source.text, source.fmt, kind, target.ref_from(source))
        backward = lifecycle.add_link(target.text, target.fmt, reverse, source.ref_from(target))
    except lifecycle.Unreadable as error:
        raise EditError(f"an ADR has no status pairup can read: {error}") from None
    except ValueError as error:
        raise EditError(str(error)) from None
    there = _change(source, forward, "linked", f"{kind} {target.path.name}")
    back = _change(target, backward, "linked", f"{reverse} {source.path.name}")
    _write_both(back, backward, there, forward)
    return [there, back]


def _change(adr: Adr, text: str, action: str, detail: str) -> Change:
    """What writing ``text`` to ``adr`` does: ``action``, or nothing if it says that already."""
    return Change(adr, "unchanged" if text == adr.text else action, detail)


def _write_both(first: Change, first_text: str, second: Change, second_text: str) -> None:
    """``first`` written, then ``second``; when ``second`` cannot be, ``first`` gets its old
    text back, so both files are as they were. Either way the error is one line."""
    pair = f"{first.adr.shown} and {second.adr.shown}"
    if first.action != "unchanged":
        try:
            replace_file(first.adr.path, first_text)
        except OSError as error:
            raise EditError(
                f"could not write {first.adr.shown}: {_reason(error)}; {pair} were left as they "
                "were"
            ) from None
    if second.action == "unchanged":
        return
    try:
        replace_file(second.adr.path, second_text)
    except OSError as error:
        reason = _reason(error)
        if first.action != "unchanged":
            try:
                replace_file(first.adr.path, first.adr.text)
            except OSError as undo:
                raise EditError(
                    f"could not write {second.adr.shown}: {reason}, nor put {first.adr.shown} "
                    f"back: {_reason(undo)}; {first.adr.shown} is changed, "
                    f"{second.adr.shown} was left as it was"
                ) from None
        raise EditError(
            f"could not write {second.adr.shown}: {reason}; {pair} were left as they were"
        ) from None


def _reason(error: OSError) -> str:
    return error.strerror or str(error)


def _candidates(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.glob("*.md"))
    except OSError:
        return []
    return [
        path
        for path in entries
        if not path.name.startswith(".") and path.name.casefold() not in _NOT_ADRS
    ]


def _fits(name: str, reference: str) -> bool:
    """Whether a file name is named by ``reference``: its number, or the start of its name
    with or without its number or date."""
    number = _NUMBER.match(name)
    # isdigit() alone takes "²", which int() refuses: a number is ASCII digits.
    if reference.isascii() and reference.isdigit():
        return number is not None and int(number.group(1)) == int(reference)
    bare = name[number.end() :] if number else name
    return name.startswith(reference) or bare.startswith(reference)


def _within(path: Path, repo: Path) -> Path:
    """``path`` once links are followed, refused unless it is inside the repository: pairup
    adr writes where the export would, and nowhere else."""
    if not inside(repo, path):
        raise EditError(
            f"{path} is outside the repository {repo.resolve()}; pairup adr edits ADRs inside it"
        )
    return path.resolve()


def _shown(path: Path, repo: Path) -> str:
    root = repo.resolve()
    real = path.resolve() if path.exists() else path
    return real.relative_to(root).as_posix() if real.is_relative_to(root) else str(path)
