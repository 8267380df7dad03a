"""Participant text as Markdown that reads as text and never as structure.

Titles, names, bodies, commit subjects and lessons are typed by people (or sent by a partner's
script) and end up in files that GitHub, MkDocs, adr-tools and log4brains read as Markdown. A
title holding ``]`` or ``|`` must still give one heading, one table row and a working link in
``adr generate toc``; a context holding ``# x`` or a fence must not open a heading or a code
block. Every participant string goes through :func:`inline` or :func:`block` and nothing else,
so the rules live here once. Both are pure: the renderers that call them are.

The escapes are CommonMark backslash escapes (plus GFM's ``\\|`` in table cells), which every
Markdown reader honours and which leave the source readable: ``Fix \\[/\\] tag`` rather than
character references.
"""

import re

from pairup.printable import printable

# Characters with an inline meaning wherever they stand: escapes, code spans, emphasis, links,
# raw HTML and autolinks, table cells, ATX closing sequences, strikethrough and math.
_ALWAYS = re.compile(r"[\\`*\[\]<|#~$]")
# '_' opens or closes emphasis unless letters or digits stand on both sides of its run.
_UNDERSCORES = re.compile(r"_+")
# '&' only means something as the start of a character reference.
_REFERENCE = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
# At the start of a line these open a block: blockquote, list item, setext underline, table
# delimiter row; '#', '*', '_', '`', '~', '<' and '|' are escaped wherever they stand.
_BLOCK_START = frozenset(">-+=:")
_ORDERED_MARKER = re.compile(r"^(\d+)([.)])")
_NO_BREAK_SPACE = "\u00a0"


def inline(text: str) -> str:
    """``text`` on one line, safe anywhere a line of Markdown holds text.

    Line breaks and runs of whitespace become one space, other control characters their
    visible names; then every character that could start markup is escaped, including a block
    marker at the start, so the result is equally safe in a heading, a table cell, link text,
    after a list bullet or at the start of a line.
    """
    return _escape_line(one_line(text))


def one_line(text: str) -> str:
    """``text`` on one line, not escaped: line breaks and runs of whitespace become one space,
    every other control character its visible name. For text under rules of its own (a mermaid
    label, a code span), and the first step of :func:`inline`."""
    return _visible(" ".join(text.split()))


def block(text: str) -> str:
    """``text`` as paragraphs of plain text: its line breaks kept, its structure not.

    Each line is escaped as :func:`inline` escapes text; blank lines stay paragraph breaks,
    runs of them one break. Leading spaces and tabs become no-break spaces, which keep the
    indentation a person typed but which Markdown never counts as indentation, so no line
    becomes an indented code block or a list's continuation; a tab counts as four spaces.
    Empty text gives "".
    """
    lines: list[str] = []
    for raw in text.splitlines():
        line = _keep_indent(_visible(raw.replace("\t", "    ")).rstrip())
        if line:
            lines.append(_escape_line(line))
        elif lines and lines[-1]:
            lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _visible(text: str) -> str:
    """``text`` with every control character by its visible name, as every screen shows it
    (ADR 21): C0 controls and DEL as control pictures (``␛``), C1 as ``⟨U+009B⟩``,
    bidirectional controls as ``⟨RLO⟩``. None has a place in a document: an escape sequence
    would still act on a terminal that shows the file, and an override would make a title read
    backwards. Line breaks and tabs are the callers' to handle first; any left are named."""
    return printable(text)


def _keep_indent(line: str) -> str:
    """Leading spaces as no-break spaces."""
    text = line.lstrip(" ")
    return _NO_BREAK_SPACE * (len(line) - len(text)) + text


def _escape_line(line: str) -> str:
    escaped = _ALWAYS.sub(r"\\\g<0>", line)
    escaped = _UNDERSCORES.sub(_underscores, escaped)
    escaped = _REFERENCE.sub(r"\\&", escaped)
    text = escaped.lstrip(_NO_BREAK_SPACE)
    indent = escaped[: len(escaped) - len(text)]
    if text[:1] in _BLOCK_START:
        return f"{indent}\\{text}"
    return indent + _ORDERED_MARKER.sub(r"\1\\\2", text)


def _underscores(match: re.Match[str]) -> str:
    before = match.string[match.start() - 1] if match.start() > 0 else " "
    after = match.string[match.end()] if match.end() < len(match.string) else " "
    if before.isalnum() and after.isalnum():
        return match.group()
    return "\\_" * len(match.group())
