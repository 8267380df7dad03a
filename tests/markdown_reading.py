"""Exported Markdown read back as a Markdown reader sees it: blocks, headings, table rows, text.

The tests hold every file pairup writes to one rule: participant text is text. markdown-it-py
parses as CommonMark, with GFM's tables and strikethrough on as GitHub renders them, and these
helpers turn its tokens into what a test can compare: which blocks there are, what text a
heading or a cell shows, and whether any inline markup (emphasis, links, code, raw HTML) came
out of text that had none.
"""

from dataclasses import dataclass

from markdown_it import MarkdownIt
from markdown_it.token import Token

READER = MarkdownIt("commonmark").enable(["table", "strikethrough"])

MARKUP = frozenset(
    {
        "em_open",
        "strong_open",
        "s_open",
        "link_open",
        "image",
        "code_inline",
        "html_inline",
        "hardbreak",
    }
)
"""Inline tokens that only markup produces: text escaped right gives none of them."""


def parse(text: str) -> list[Token]:
    return READER.parse(text)


def block_kinds(tokens: list[Token]) -> list[str]:
    """The opening token of every block, in order (``heading_open:h1``, ``paragraph_open``,
    ``fence``, ``html_block``…), nested ones included."""
    return [
        f"{token.type}:{token.tag}" if token.type == "heading_open" else token.type
        for token in tokens
        if token.nesting == 1 or token.type in ("fence", "code_block", "html_block", "hr")
    ]


def plain(token: Token) -> str:
    """The text an inline token shows, soft line breaks as "\\n"."""
    parts = []
    for child in token.children or []:
        if child.type == "softbreak":
            parts.append("\n")
        else:
            parts.append(child.content)
    return "".join(parts)


def markup(token: Token) -> list[str]:
    """Inline markup inside ``token``: what should never come out of escaped text."""
    return [child.type for child in token.children or [] if child.type in MARKUP]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    markup: list[str]


def headings(tokens: list[Token]) -> list[Heading]:
    found = []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            content = tokens[index + 1]
            found.append(Heading(int(token.tag[1]), plain(content), markup(content)))
    return found


def table_rows(tokens: list[Token]) -> list[list[Token]]:
    """Every table row (header rows included) as the inline tokens of its cells."""
    rows: list[list[Token]] = []
    for index, token in enumerate(tokens):
        if token.type == "tr_open":
            rows.append([])
        elif token.type in ("th_open", "td_open"):
            rows[-1].append(tokens[index + 1])
    return rows


BIDI_NAMES = {
    "\u061c": "ALM",
    "\u200e": "LRM",
    "\u200f": "RLM",
    "\u202a": "LRE",
    "\u202b": "RLE",
    "\u202c": "PDF",
    "\u202d": "LRO",
    "\u202e": "RLO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}
"""Unicode's bidirectional controls by their short names: a document shows them so, as every
screen does, never as overrides that would make a title read backwards."""


def one_line(text: str) -> str:
    """What a participant's text reads as on one line: line breaks and whitespace runs as one
    space, other control characters by their visible names as a screen shows them (C0 and DEL
    as control pictures, C1 as ``⟨U+009B⟩``), bidirectional controls by name (the rule a
    title, a name or a subject is written by)."""
    return named(" ".join(text.split()))


def named(text: str) -> str:
    """``text`` with each control character by its visible name and nothing else changed: a
    name as MADR's front matter holds it."""
    return "".join(_visible(char) for char in text)


def _visible(char: str) -> str:
    code = ord(char)
    if char in BIDI_NAMES:
        return f"⟨{BIDI_NAMES[char]}⟩"
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if 0x80 <= code < 0xA0:
        return f"⟨U+{code:04X}⟩"
    return char
