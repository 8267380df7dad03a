"""Commit-message trailers, read and written exactly as ``git interpret-trailers`` does.

pairup credits everyone who paired with ``Co-authored-by`` trailers. A message that pairup edits
must read back the same to git, GitHub and every other tool that follows git's rules, so this
module follows git (2.39) line for line rather than a tidier idea of what a trailer is, including
where git is surprising: a bare URL line is a trailer (``https: //example.com``), values are
compared without regard to case, a key matches any key it is a prefix of, and CRLF messages get
LF-terminated trailers. The integration tests run the same messages through real git.

It is pure (no git process, no files), so a ``prepare-commit-msg`` hook stays fast and the rules
can be tested in isolation. Git's configuration is not consulted: the comment character is
``#``, the separator is ``:`` and no trailer keys are configured, which are git's defaults.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CO_AUTHORED_BY = "Co-authored-by"

_COMMENT = "#"
# git's own ctype: only these four count as space, so a trailing \v or \f is part of a value.
_SPACE = " \t\n\r"
# A line that starts with one of these makes its paragraph a trailer block even among prose.
_GIT_GENERATED_PREFIXES = ("Signed-off-by: ", "(cherry picked from commit ")
# ``git commit -v`` puts the diff below this line; nothing under it is part of the message.
_SCISSORS = "# ------------------------ >8 ------------------------\n"
# A patch follows a line of three dashes and a blank (``format-patch`` output, ``git am`` input).
_DIVIDER = re.compile(r"^---[ \t\r\n]", re.MULTILINE)
# A key: letters, digits and dashes, then optional blanks, then the separator.
_SEPARATOR = re.compile(r"(?:[A-Za-z0-9-]+[ \t]*)?:")
_KEY = re.compile(r"[A-Za-z0-9-]+")
_KEY_TAIL = re.compile(r"[^A-Za-z0-9]*\Z")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_EMAIL = re.compile(r"<([^<>]*)>[ \t]*\Z")


@dataclass(frozen=True, slots=True)
class Trailer:
    """One ``Key: value`` trailer.

    Only keys and values that git would read back unchanged are accepted, so that writing a
    trailer and parsing the message again always gives the same trailer.
    """

    key: str
    value: str

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError(f"a trailer key is letters, digits and dashes, got {self.key!r}")
        if "\n" in self.value or self.value != self.value.strip(_SPACE):
            raise ValueError(
                f"a trailer value is one line without surrounding blanks, got {self.value!r}"
            )

    def __str__(self) -> str:
        return f"{self.key}: {self.value}"


@dataclass(frozen=True, slots=True)
class Person:
    """A co-author, credited in a commit as ``Co-authored-by: Name <email>``."""

    name: str
    email: str

    def trailer(self) -> Trailer:
        """The trailer GitHub and GitLab recognise as crediting this person."""
        return Trailer(CO_AUTHORED_BY, f"{self.name} <{self.email}>")


@dataclass(frozen=True, slots=True)
class _Item:
    """A line of the trailer block as git holds it while rewriting: a trailer, or (key None)
    a line git kept in the block although it is not a trailer."""

    key: str | None
    value: str


@dataclass(frozen=True, slots=True)
class _Block:
    """Where the trailer block lies in a message, and its lines with continuations joined."""

    start: int
    end: int
    lines: list[str]
    blank_line_before: bool


def parse_trailers(message: str) -> list[Trailer]:
    """The message's trailers, as `git interpret-trailers --parse` reports them (same order,
    continuation lines unfolded, repeated keys kept)."""
    return [
        Trailer(item.key, _unfold(item.value))
        for item in _items(_find_block(message))
        if item.key is not None
    ]


def add_trailers(message: str, trailers: Sequence[Trailer]) -> str:
    """`message` with each of `trailers` added as `git interpret-trailers --if-exists addIfDifferent
    --trailer ...` would (default `--where end`, `--if-missing add`): no trailer added that is
    already there with the same key (case-insensitive) and value, existing trailers such as
    Signed-off-by kept, exactly one blank line before a new trailer block.

    Like git, the block is rewritten even when nothing is added: each trailer is written back as
    ``Key: value`` with LF, comment lines inside the block are dropped, and a message without a
    block gains a blank line. Values are compared without regard to ASCII case, and a key counts
    as the same when one is a prefix of the other, as git compares them. A message whose last
    line has no newline gets the new block right under that line, as git 2.39 does (later
    versions complete the line first); ``git commit`` always hands hooks complete lines.
    """
    block = _find_block(message)
    items = _items(block)
    for trailer in trailers:
        if not any(_same_key(item, trailer) and _same_value(item, trailer) for item in items):
            items.append(_Item(trailer.key, trailer.value))
    blank = "" if block.blank_line_before else "\n"
    written = "".join(
        f"{item.value}\n" if item.key is None else f"{item.key}: {item.value}\n" for item in items
    )
    return f"{message[: block.start]}{blank}{written}{message[block.end :]}"


def add_co_authors(message: str, co_authors: Iterable[Person], *, author_email: str) -> str:
    """Co-authored-by trailers for `co_authors`, minus the author themself (emails compared
    case-insensitively), minus duplicates (an email already credited in the message, compared
    case-insensitively, is not credited again), minus anyone without an email or whose name
    could not stand in a trailer.

    With nobody left to credit the message is returned untouched, so a solo commit's message is
    exactly what its author wrote.
    """
    credited = {author_email.casefold()}
    for trailer in parse_trailers(message):
        email = _EMAIL.search(trailer.value)
        if trailer.key.casefold() == CO_AUTHORED_BY.casefold() and email:
            credited.add(email.group(1).casefold())
    new: list[Trailer] = []
    for person in co_authors:
        if not person.email.strip() or person.email.casefold() in credited:
            continue
        try:
            trailer = person.trailer()
        except ValueError:
            # A name git could not read back (a line break in it, say): skip that person
            # rather than fail the commit.
            continue
        credited.add(person.email.casefold())
        new.append(trailer)
    return add_trailers(message, new) if new else message


def _find_block(message: str) -> _Block:
    """Locate the trailer block and join its continuation lines, as git's ``trailer_info_get``.

    A line that starts with a blank continues the trailer above it; after a line that is not a
    trailer it stays a line of its own, which git keeps as it is.
    """
    end = _end_of_log_message(message)
    start = _block_start(message, end)
    lines: list[str] = []
    joinable = False
    for line in _split_lines(message[start:end]):
        if joinable and line[0] in _SPACE:
            lines[-1] += line
            continue
        lines.append(line)
        joinable = _separator(line) >= 1
    before = _last_line(message, start)
    return _Block(start, end, lines, before >= 0 and _is_blank(message, before))


def _items(block: _Block) -> list[_Item]:
    """The block's lines as git rewrites them: trailers trimmed, comments gone, others as is."""
    items: list[_Item] = []
    for line in block.lines:
        if line.startswith(_COMMENT):
            continue
        separator = _separator(line)
        if separator >= 1:
            key = line[:separator].strip(_SPACE)
            items.append(_Item(key, line[separator + 1 :].strip(_SPACE)))
        else:
            items.append(_Item(None, line.removesuffix("\n")))
    return items


def _end_of_log_message(message: str) -> int:
    """Where the message proper ends: before a ``---`` patch divider, a ``git commit -v``
    scissors line, and the comment lines, blank lines and old-style ``Conflicts:`` list that
    trail it (git's ``ignore_non_trailer``).

    A run of such lines that starts at the very top is not trailing, because git marks "no run
    yet" with offset 0. When git would find the scissors only below the divider it loops for
    ever; here such a scissors line is simply below the end, where it cannot matter.
    """
    end = _divider(message)
    cutoff = _scissors(message, end)
    run_start = 0
    in_conflicts = False
    line = 0
    while line < cutoff:
        newline = message.find("\n", line, end)
        next_line = end if newline < 0 else newline + 1
        if message.startswith((_COMMENT, "\n"), line):
            run_start = run_start or line
        elif message.startswith("Conflicts:\n", line):
            in_conflicts = True
            run_start = run_start or line
        elif in_conflicts and message.startswith("\t", line):
            pass
        elif run_start:
            run_start = 0
            in_conflicts = False
        line = next_line
    return run_start or cutoff


def _divider(message: str) -> int:
    """Where the first ``---`` line followed by a blank starts, or the message's length."""
    divider = _DIVIDER.search(message)
    return divider.start() if divider else len(message)


def _scissors(message: str, end: int) -> int:
    """Where the first scissors line starts, or ``end``; git looks for it in the whole text."""
    if message.startswith(_SCISSORS):
        return 0
    found = message.find(f"\n{_SCISSORS}")
    return end if found < 0 else min(found + 1, end)


def _block_start(message: str, end: int) -> int:
    """Where the trailer block of ``message[:end]`` starts, or ``end`` if there is none.

    Reading up from the end, the block is the last paragraph when every line of it is a
    trailer (or continues one), or when a git-generated trailer such as Signed-off-by is among
    them and at least a quarter of its lines are trailers. The title paragraph never counts, and
    comment lines are skipped over.
    """
    end_of_title = 0
    while end_of_title < end:
        if not message.startswith(_COMMENT, end_of_title) and _is_blank(message, end_of_title):
            break
        end_of_title = _next_line(message, end_of_title)
    only_blank = True
    recognised = False
    trailers = 0
    others = 0
    continuations = 0
    line = _last_line(message, end)
    while line >= end_of_title:
        if message.startswith(_COMMENT, line):
            others += continuations
            continuations = 0
        elif _is_blank(message, line):
            if not only_blank:
                others += continuations
                if (recognised and trailers * 3 >= others) or (trailers and not others):
                    return _next_line(message, line)
                return end
        else:
            only_blank = False
            generated = message.startswith(_GIT_GENERATED_PREFIXES, line)
            if generated or _separator(message[line : _next_line(message, line)]) >= 1:
                recognised = recognised or generated
                trailers += 1
                continuations = 0
            elif message[line] in _SPACE:
                continuations += 1
            else:
                others += 1 + continuations
                continuations = 0
        line = _last_line(message, line)
    return end


def _separator(line: str) -> int:
    """The offset of the ``:`` after a key at the start of ``line``, or -1 (git's
    ``find_separator``); 0 means the line starts with ``:``, which makes no trailer."""
    match = _SEPARATOR.match(line)
    return match.end() - 1 if match else -1


def _split_lines(text: str) -> list[str]:
    """``text`` cut after each LF only, since a lone CR or form feed does not end a line."""
    return [part for part in re.split(r"(?<=\n)", text) if part]


def _next_line(message: str, position: int) -> int:
    newline = message.find("\n", position)
    return len(message) if newline < 0 else newline + 1


def _last_line(message: str, end: int) -> int:
    """Where the last line of ``message[:end]`` starts (a final LF belongs to it), -1 if empty."""
    if end == 0:
        return -1
    return message.rfind("\n", 0, end - 1) + 1


def _is_blank(message: str, position: int) -> bool:
    """Whether the line at ``position`` holds nothing but git's blanks (CR included)."""
    newline = _next_line(message, position)
    return not message[position:newline].strip(_SPACE)


def _unfold(value: str) -> str:
    """A folded value on one line: each line break and the blanks after it become one space."""
    return re.sub(r"\n[ \t\n\r]*", " ", value).strip(_SPACE)


def _ascii_lower(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def _same_key(item: _Item, trailer: Trailer) -> bool:
    """git's ``same_token``: keys match, ignoring ASCII case, over the length of the shorter
    one once trailing punctuation is dropped; so ``Co`` matches ``Co-authored-by``."""
    if item.key is None:
        return False
    shorter = min(
        len(_KEY_TAIL.sub("", item.key)),
        len(_KEY_TAIL.sub("", trailer.key)),
    )
    return _ascii_lower(item.key[:shorter]) == _ascii_lower(trailer.key[:shorter])


def _same_value(item: _Item, trailer: Trailer) -> bool:
    """git's ``same_value``: equal ignoring ASCII case, a folded value compared as written."""
    return _ascii_lower(item.value) == _ascii_lower(trailer.value)
