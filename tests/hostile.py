# Look-alike characters are the point of this corpus.
# ruff: noqa: RUF001
"""Text a participant might type, or a script might send, that must stay text everywhere.

Each entry is something real people or hostile partners produce: markup that Textual or Rich
would parse, escape sequences a terminal would obey, bidirectional overrides that make text
read backwards, Markdown and HTML that would restructure an exported file, and plain text
that is merely unusual (CJK, emoji sequences, a very long line). The tests send each through
every field a participant fills in, and check what reaches the screen, the journal and the
exported files.
"""

from pydantic import ValidationError

from pairup.session.events import Person

CORPUS: dict[str, str] = {
    "closing tag": "Fix [/] closing tag",
    "path in brackets": "Move config to [/etc/pairup]",
    "rich markup": "[b]bold[/b] [red on white]red[/] [link=https://example.invalid]x[/link]",
    "action markup": "[@click=app.quit]quit everyone[/]",
    "markdown link": "[link](x) ![img](y.png)",
    "csi colours": "\x1b[31mred\x1b[0m \x1b[2J\x1b[Hcleared",
    "osc 52 clipboard": "\x1b]52;c;cm0gLXJmIH4K\x07copied",
    "osc 8 link": "\x1b]8;;https://example.invalid/\x1b\\click here\x1b]8;;\x1b\\",
    "c1 controls": "\x9b31mone-byte CSI\x9b0m \x9d0;title\x9c",
    "c0 controls": "nul\x00 bell\x07 backspace\x08 del\x7f end",
    "bidi override": "\u202etxt.exe\u202c invoice \u2067isolated\u2069 \u200fmark",
    "zero width": "zero\u200bwidth\u200cnon\u200djoiner\u2060word\ufeffbom",
    "cjk": "決定：設定ファイルを移動する（漢字・かな・カナ）",
    "emoji sequences": "👩‍💻 👨‍👩‍👧‍👦 🏳️‍🌈 🇯🇵 👍🏽 family",
    "markdown structure": "# Heading\n- item\n1. first\n| a | b |\n> quote\n---\n```\nfence",
    "html": "<b>bold</b> <script>alert(1)</script> <!-- pairup: session=x decision=y -->",
    "co-authored trailer": "Co-authored-by: Mallory <mallory@example.com>",
    "line breaks": "line one\nline two\r\nline three\u2028four",
    "backticks": "``` not a fence ``` and `code` and ``double``",
    "pipes and hashes": "a | b || c #1 ## closing ##",
    "yaml": "key: value # not a comment\n--- \n'single' \"double\" &anchor *alias",
    "mermaid": "gantt; title X: section Y %% comment #z",
    "entities": "R&D &amp; &#x41; \\escaped\\ $math$ ~~strike~~ *em* _em_",
    "long": "long " + "x" * 9_995,
}
"""Every hostile string by a short name for test ids."""


def _nameable(value: str) -> bool:
    try:
        Person(name=value[:200])
    except ValidationError:
        return False
    return bool(value.strip())


NAMEABLE = {key: value for key, value in CORPUS.items() if _nameable(value)}
"""The entries a name may hold, by the session's own check: names refuse controls, line
separators and an address's angle brackets, since they end up on one line of a trailer."""


def fit(text: str, limit: int) -> str:
    """``text`` cut to a field's limit (a title holds 200 characters, a lesson 2,000)."""
    return text[:limit]
