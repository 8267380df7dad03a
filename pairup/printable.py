"""Participants' text made safe to show on a terminal: what it says, never what it would do.

A name, a title or a lesson comes from another person's keyboard (or their script). Written to
a terminal as it is, an escape sequence in it could recolour the screen, set the clipboard
(OSC 52), plant a hidden link (OSC 8) or move the cursor; a bidirectional override could make
text read backwards. So every character that controls a terminal or reorders text is replaced,
for display only, with a visible stand-in; the stored text is never changed.

- C0 controls and DEL become their Unicode control pictures (ESC shows as ``␛``).
- C1 controls (U+0080 to U+009F, among them the one-byte CSI) become ``⟨U+009B⟩``.
- Bidirectional embeddings, overrides, isolates and marks become their short names (``⟨RLO⟩``).
- Line and paragraph separators, and lone surrogates, which no terminal can show as text.

Only the standard library, and no regular expressions: ``pairup commit`` prints through this
before the rest of pairup loads.
"""

_BIDI = {
    0x061C: "ALM",
    0x200E: "LRM",
    0x200F: "RLM",
    0x202A: "LRE",
    0x202B: "RLE",
    0x202C: "PDF",
    0x202D: "LRO",
    0x202E: "RLO",
    0x2066: "LRI",
    0x2067: "RLI",
    0x2068: "FSI",
    0x2069: "PDI",
}


def _table(*, keep_lines: bool) -> dict[int, str]:
    table = {code: chr(0x2400 + code) for code in range(0x20)}
    table[0x7F] = "\u2421"
    table.update({code: f"⟨U+{code:04X}⟩" for code in range(0x80, 0xA0)})
    table.update({code: f"⟨{name}⟩" for code, name in _BIDI.items()})
    if keep_lines:
        table.update({0x0A: "\n", 0x09: "\t", 0x2028: "\n", 0x2029: "\n"})
    else:
        table.update({0x09: " ", 0x2028: "⟨LS⟩", 0x2029: "⟨PS⟩"})
    return table


_ONE_LINE = _table(keep_lines=False)
_BLOCK = _table(keep_lines=True)


_BIDI_NAMED = {code: f"⟨{name}⟩" for code, name in _BIDI.items()}


def bidi_named(text: str) -> str:
    """``text`` with each bidirectional control shown by its name (``⟨RLO⟩``) and nothing else
    changed: for documents, which have their own rules for other control characters but where
    an override would make a title read backwards just the same."""
    return text.translate(_BIDI_NAMED)


def printable(text: str) -> str:
    """``text`` for one line of a terminal: every control character visible, a line break too
    (as ``␊``), a tab as a space."""
    return _whole(text.translate(_ONE_LINE))


def printable_block(text: str) -> str:
    """``text`` for several lines of a terminal: line breaks and tabs kept (``\\r\\n`` read as
    one break), every other control character visible."""
    return _whole(text.replace("\r\n", "\n").translate(_BLOCK))


def _whole(text: str) -> str:
    """``text`` with any lone surrogate (half of a character, which no terminal can show and
    UTF-8 cannot carry) as U+FFFD; checked by encoding, since they are rare."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(char) < 0xE000 else char for char in text)
    return text
