"""Plain-text tables and bars for a terminal: columns line up by the cells a character takes
(a CJK character or an emoji takes two, a combining mark none), and a cell that would push a
table past the terminal's width is cut with an ellipsis.

Every participant's string reaches here through :func:`pairup.printable.printable` first
(ADR 21): an escape sequence or a bidirectional override shows as what it is, and a cut never
splits a visible name in two.
"""

import unicodedata
from collections.abc import Sequence

from pairup.printable import printable

ELLIPSIS = "…"
NARROWEST = 6
"""Cells a cut column keeps at least, ellipsis included."""


def cells(text: str) -> int:
    """How many terminal cells ``text`` takes."""
    if text.isascii():
        return len(text)
    return sum(_width(char) for char in text)


def _width(char: str) -> int:
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, ending in an ellipsis when it had to be cut."""
    if cells(text) <= width:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        size = _width(char)
        if used + size > width - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


def pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - cells(text))
    return gap + text if right else text + gap


def shown(text: str) -> str:
    """Participant text for one line of a terminal."""
    return printable(text)


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int,
    numeric: Sequence[int] = (),
) -> str:
    """``rows`` under ``header`` in aligned columns two spaces apart, at most ``width`` cells
    wide: the widest column gives way first, never below :data:`NARROWEST`. Columns listed in
    ``numeric`` are aligned right. Cells are shown as given: make participant text
    :func:`shown` first."""
    columns = len(header)
    widths = [max(cells(row[i]) for row in (header, *rows)) for i in range(columns)]
    budget = width - 2 * (columns - 1)
    while sum(widths) > budget:
        widest = max(range(columns), key=lambda i: widths[i])
        if widths[widest] <= NARROWEST:
            break
        widths[widest] = max(NARROWEST, widths[widest] - (sum(widths) - budget))
    lines = []
    for row in (header, *rows):
        parts = [
            pad(cut(cell, widths[i]), widths[i], right=i in numeric) for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def bar(share: float, width: int) -> str:
    """A bar ``width`` cells long, filled to ``share`` (0 to 1) in eighths of a cell."""
    share = min(1.0, max(0.0, share))
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width, "·")
