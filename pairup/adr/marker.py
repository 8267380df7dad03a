"""The last line of every Markdown file pairup writes: whose file it is, and what pairup wrote.

``<!-- pairup: session=S decision=D digest=H -->`` (``record`` in place of ``decision=D`` for
the session record) lets a re-export find its file again, however it was renamed, and tell
whether a person changed it since: ``H`` is the start of the SHA-256 of everything above the
line, as pairup wrote it (ADR 19). Only the last line counts, so a marker quoted in a body, or
one pasted there by a partner, names nothing; participant text is escaped besides
(:mod:`pairup.adr.markdown`), so it cannot even form a marker line. Markers written before the
digest existed are read too, with no digest.
"""

import hashlib
import re
from dataclasses import dataclass

_LINE = re.compile(
    r"<!-- pairup: session=(?P<session>\S+) (?:decision=(?P<decision>\S+)|record)"
    r"(?: digest=(?P<digest>[0-9a-f]{16}))? -->"
)
_DIGEST_LENGTH = 16
"""64 bits of SHA-256: the digest tells an edit from pairup's own text, not a forgery from it."""


@dataclass(frozen=True, slots=True)
class Marker:
    session_id: str
    decision_id: str | None
    """None marks the session record."""
    digest: str | None
    """None for a marker written before pairup kept digests."""


@dataclass(frozen=True, slots=True)
class Marked:
    """A file's text split into what is above its marker, and the marker."""

    content: str
    marker: Marker

    @property
    def untouched(self) -> bool:
        """Whether the text above the marker is what pairup wrote there, byte for byte."""
        return self.marker.digest is not None and self.marker.digest == _digest(self.content)


def seal(document: str, session_id: str, decision_id: str | None) -> str:
    """``document`` (ending in a line break) with a blank line and its marker after it."""
    content = document + "\n"
    decision = "record" if decision_id is None else f"decision={decision_id}"
    return f"{content}<!-- pairup: session={session_id} {decision} digest={_digest(content)} -->\n"


def read(text: str) -> Marked | None:
    """The marker on the last line of ``text`` with the text above it; None when that line is
    not a marker. Trailing blank lines are allowed (an editor may add or drop one); line ends
    are compared as LF, so a checkout with CRLF line ends reads as untouched."""
    text = text.replace("\r\n", "\n").rstrip()
    start = text.rfind("\n") + 1
    match = _LINE.fullmatch(text, start)
    if match is None:
        return None
    marker = Marker(match["session"], match["decision"], match["digest"])
    return Marked(text[:start], marker)


def is_marker_line(line: str) -> bool:
    """Whether ``line`` is a marker: an edit that must keep the marker last needs to know it."""
    return _LINE.fullmatch(line.strip()) is not None


def _digest(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]
