"""An ADR's status and its links to other ADRs, changed in its text the way each tool does it.

``pairup adr accept|reject|deprecate|supersede|link`` edit files people may have reworded since
the export, so every change here touches the status and the link lines and nothing else: every
other byte, line end (CRLF stays CRLF), a missing final line break and pairup's marker line stay
as they were. The functions take a file's text and give its new text, with no files, so the
rules can be tested on any text a person could have written; :mod:`pairup.adr.edit` reads and
writes the files, and the renderers use the same functions, so an ADR superseded during the
session reads as one superseded afterwards.

A status a person wrote is theirs: pairup rewrites it only when it is a status word and nothing
but punctuation and white space after it ("Proposed", "Accepted."), and then changes the word
alone (in its case) or, to supersede, puts the link in its place. A status that says more
("Accepted by the architecture board on 2024-05-01.", a paragraph of how the team decided) is
kept byte for byte, and the new status goes first, on its own: swapping its word would make
their sentence say what they did not ("Deprecated by the architecture board"). So in adr-tools'
files the new status or the link is a paragraph of its own above theirs (adr-tools reads every
line of the section, and only link lines as links); in log4brains' a ``- Status:`` line of its
own above theirs (log4brains and pairup read the first); in MADR's front matter, where a key
holds one value, the new value replaces theirs, which stays in a comment on the line
(``status: deprecated # was: accepted by the board``), and a comment already there stays after
it. A ``status:`` YAML would not read back as one line pairup can rewrite (a block or
multi-line scalar, an anchor, a tag, a second ``status:``) is :class:`Unreadable`, with why.

How each format says it, following each tool's own commands (ADR 32):

- adr-tools: the paragraphs under ``## Status``. ``adr new -s N`` replaces N's status with
  ``Superseded by [M. Title](000M-title.md)`` and appends ``Supersedes [N. Title](000N-title.md)``
  to M's, each link a line of its own, which ``adr generate graph`` draws as an edge.
- MADR 4: the front matter's ``status:``, ``superseded by ADR-0123`` as its template says; the
  superseding record lists the link in "More Information", where MADR puts links to other
  decisions. Front matter makes a file MADR's only when it is YAML's ``key:`` lines and holds a
  ``status:``, or when the file has no other status: an adr-tools file may carry a site
  generator's front matter (``title:``, ``sidebar_position:``), and a file may open with a
  ``---`` rule.
- log4brains: the ``- Status:`` bullet, ``superseded by [slug](file)`` as ``log4brains`` itself
  writes it (it finds the superseding ADR by the link's text, the file name's stem); the
  superseding record gets ``- Supersedes [slug](file)`` under ``## Links``, also as log4brains
  does.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pairup.adr import marker

Format = Literal["adr", "madr", "log4brains"]

STATUSES = ("proposed", "accepted", "rejected", "deprecated")
"""What ``pairup adr`` sets a status to; "superseded" comes with a link (:func:`supersede`)."""

SUPERSEDES = "Supersedes"
SUPERSEDED_BY = "Superseded by"

EXPECTED = {
    "adr": "a '## Status' section (adr-tools)",
    "madr": "YAML front matter between '---' lines (MADR)",
    "log4brains": "a '- Status:' line under the title (log4brains)",
}
"""What each format's status is read from, for a refusal that says what it looked for."""

# A status word a person or a tool may have written first in a status; only that word changes.
_STATUS_WORD = re.compile(
    r"(proposed|accepted|rejected|deprecated|superseded|draft)\b", re.IGNORECASE
)
# ATX headings: up to three spaces, one to six '#', then a space or the end of the line.
_HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*")
_CLOSING = re.compile(r"(?:^|[ \t]+)#+$")
_COMMENT = re.compile(r"<!--.*?-->")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
# A link line as adr-tools reads one back (``_adr_links``): a kind, then a Markdown link.
_LINK = re.compile(r"(?P<kind>[^\W\d][\w -]*?) \[(?P<label>.*)\]\((?P<href>[^()\s]*)\)[ \t]*")
_BULLET = re.compile(r"(?P<bullet>[ \t]*[-*+][ \t]+)(?P<rest>.*)")
_METADATA = re.compile(r"(?P<key>[^:]+?)[ \t]*:(?P<space>[ \t]*)(?P<value>.*?)[ \t]*")
# A top-level YAML key line, and MADR's status key (a key needs white space or the line's end
# after its colon: "status:x" is a plain scalar, no key).
_YAML_KEY = re.compile(
    r"""(?:[^\W\d][\w.-]*(?:[ \t]+[\w.-]+)*|"[^"\n]*"|'[^'\n]*')[ \t]*:(?:[ \t]|$)"""
)
_FRONT_STATUS = re.compile(r"status[ \t]*:(?=[ \t]|$)")
_PLAIN_YAML = re.compile(r"[A-Za-z][A-Za-z0-9 .-]*")
_DOUBLE_QUOTED = re.compile(r'"((?:[^"\\]|\\["\\])*)"')
_SINGLE_QUOTED = re.compile(r"'((?:[^']|'')*)'")
_AFTER_VALUE = re.compile(r"(?:[ \t]+#.*|[ \t]*)")
_NUMBERED_TITLE = re.compile(r"\d+\.[ \t]+")


class Unreadable(ValueError):
    """The text has no status in the shape its format keeps one; the message says which shape
    was expected."""


class Refused(ValueError):
    """The change would contradict what the ADR says (it is superseded already)."""


@dataclass(frozen=True, slots=True)
class Ref:
    """Another ADR, as a link to it names it."""

    number: int | None
    """The ``NNNN-`` of its file name; None for a log4brains date-named file."""
    title: str
    """Its title as its heading writes it (Markdown, escapes kept), without adr-tools' "N. "."""
    href: str
    """Its path relative to the folder of the ADR that links to it, URL-quoted."""
    stem: str
    """Its file name without ``.md``: log4brains' slug."""


@dataclass(frozen=True, slots=True)
class Status:
    """An ADR's status as its text says it."""

    text: str
    """As written: "Proposed", "superseded by ADR-0003"; empty when none is written."""
    superseded: bool
    superseded_by: str | None
    """The href of the ADR that supersedes this one, when the status names it."""

    def is_(self, status: str) -> bool:
        """Whether the status is ``status`` (its first word, in any case)."""
        word = _STATUS_WORD.match(self.text.strip())
        return word is not None and word.group(1).casefold() == status


def detect(text: str) -> Format | None:
    """The format ``text`` keeps its status in: YAML front matter with a ``status:`` is MADR's,
    a ``## Status`` heading adr-tools', a ``- Status:`` line under the title log4brains'; YAML
    front matter in a file with none of these is MADR's too (its status is optional)."""
    doc = _Text(text)
    adr = doc.heading_index("status", level=2) is not None
    log4brains = doc.metadata_index("status") is not None
    if doc.front is not None and (doc.has_front_status() or not (adr or log4brains)):
        return "madr"
    if adr:
        return "adr"
    if log4brains:
        return "log4brains"
    return None


def read_status(text: str, fmt: Format) -> Status:
    """The status of ``text``; :class:`Unreadable` when it has none in ``fmt``'s shape."""
    doc = _Text(text)
    if fmt == "adr":
        section = doc.status_section()
        links = [link for _, link in doc.links(section)]
        by = next((link for link in links if _is_kind(link, SUPERSEDED_BY)), None)
        if by is not None:
            return Status(f"{SUPERSEDED_BY} [{by['label']}]({by['href']})", True, by["href"])
        paragraph = doc.status_paragraph(section)
        said = " ".join(doc.lines[i].strip() for i in paragraph) if paragraph else ""
        return Status(said, _superseded_word(said), None)
    if fmt == "madr":
        front = doc.front_status()
        value = "" if front is None else front.value
    else:
        index = doc.metadata_index("status")
        if index is None:
            raise Unreadable(f"expected {EXPECTED[fmt]}")
        value = _metadata(doc.lines[index])["value"]
    target = _LINK.fullmatch(value)
    href = target["href"] if target is not None else None
    if href is None and (named := re.fullmatch(r"(?i)superseded by (.+)", value)):
        href = named.group(1)
    return Status(value, _superseded_word(value), href if _superseded_word(value) else None)


def title_of(text: str, fmt: Format) -> str:
    """The title the text's first heading gives (adr-tools' "N. " left out); "" if none."""
    doc = _Text(text)
    for index in range(0 if doc.front is None else doc.front[1] + 1, len(doc.lines)):
        heading = doc.heading(index)
        if heading is not None and heading[0] == 1:
            title = heading[1]
            return _NUMBERED_TITLE.sub("", title, count=1) if fmt == "adr" else title
    return ""


def set_status(text: str, fmt: Format, status: str) -> str:
    """``text`` with its status ``status`` (one of :data:`STATUSES`), unchanged if it has it.

    A bare status word changes alone, in its case ("Accepted." becomes "Deprecated."); a status
    that says more stays as the person wrote it, after the new one (the module's rule). A
    superseded ADR is refused: its status is a link, and the ADR that supersedes it links back.
    """
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    current = read_status(text, fmt)
    if current.superseded_by is not None:
        raise Refused(f"it is {current.text}")
    if current.is_(status):
        return text
    doc = _Text(text)
    if fmt == "adr":
        section = doc.status_section()
        paragraph = doc.status_paragraph(section)
        if doc.bare(paragraph):
            doc.restate(paragraph, status)
        else:
            doc.insert_paragraph(_above(paragraph, section), [status.capitalize()])
    elif fmt == "madr":
        doc.set_front_status(status)
    else:
        doc.set_metadata_status(status)
    return doc.join()


def supersede(text: str, fmt: Format, by: Ref) -> str:
    """``text`` marked as superseded by ``by``, unchanged if it already is; :class:`Refused`
    when it is superseded by another ADR."""
    current = read_status(text, fmt)
    if current.superseded_by is not None and names(current.superseded_by, by, fmt):
        return text
    if current.superseded_by is not None:
        raise Refused(f"it is {current.text} already")
    doc = _Text(text)
    if fmt == "adr":
        section = doc.status_section()
        line = link_line(fmt, SUPERSEDED_BY, by)
        paragraph = doc.status_paragraph(section)
        if doc.bare(paragraph):
            doc.replace(paragraph, [line])
        else:
            doc.insert_paragraph(_above(paragraph, section), [line])
    elif fmt == "madr":
        doc.set_front_status(superseded_status(fmt, by))
    else:
        doc.set_metadata_status(superseded_status(fmt, by))
    return doc.join()


def add_link(text: str, fmt: Format, kind: str, target: Ref) -> str:
    """``text`` with a link ``KIND [target](href)`` (``Supersedes``, ``Amends``…), unchanged if
    it has that link already. adr-tools: at the end of the status section, as ``adr link`` and
    ``adr new -s`` put it; MADR: first in "More Information"; log4brains: in "## Links"."""
    kind = " ".join(kind.split())
    if not kind:
        raise ValueError("a link needs a kind, such as Supersedes or Amends")
    doc = _Text(text)
    if fmt == "adr":
        section = doc.status_section()
        present = [link for _, link in doc.links(section)]
    else:
        read_status(text, fmt)
        section = doc.section(_LINKS_HEADING[fmt], level=2)
        present = [] if section is None else [link for _, link in doc.links(section)]
    if any(_is_kind(link, kind) and names(link["href"], target, fmt) for link in present):
        return text
    line = link_line(fmt, kind, target)
    if fmt == "adr":
        assert section is not None
        doc.append_paragraph(section, [line])
    elif section is None:
        doc.add_section(_LINKS_HEADING[fmt], [line if fmt == "madr" else f"- {line}"])
    elif fmt == "madr":
        doc.prepend_link(section, line)
    else:
        doc.append_item(section, f"- {line}")
    return doc.join()


def link_line(fmt: Format, kind: str, target: Ref) -> str:
    """``KIND [label](href)``: the label is "N. Title" for adr-tools (what its ``adr link``
    writes), "ADR-NNNN: Title" for MADR, the slug for log4brains (which resolves it)."""
    return f"{kind} [{label(fmt, target)}]({target.href})"


def superseded_status(fmt: Format, by: Ref) -> str:
    """The status of an ADR superseded by ``by``, as ``fmt`` writes it."""
    if fmt == "adr":
        return link_line(fmt, SUPERSEDED_BY, by)
    if fmt == "madr" and by.number is not None:
        return f"superseded by ADR-{by.number:04d}"
    return f"superseded by [{label(fmt, by)}]({by.href})"


def label(fmt: Format, target: Ref) -> str:
    """How a link in ``fmt`` names ``target``."""
    if fmt == "log4brains":
        return target.stem
    if target.number is None:
        return target.title or target.stem
    if fmt == "adr":
        return f"{target.number}. {target.title}"
    return f"ADR-{target.number:04d}: {target.title}"


_LINKS_HEADING: dict[str, str] = {"madr": "More Information", "log4brains": "Links"}


def _is_kind(link: re.Match[str], kind: str) -> bool:
    return " ".join(link["kind"].split()).casefold() == kind.casefold()


def names(href: str, target: Ref, fmt: Format) -> bool:
    """Whether a link's ``href`` (or MADR's "ADR-0003") names ``target``."""
    if href == target.href:
        return True
    if fmt == "madr" and target.number is not None:
        return href.strip().casefold() == f"adr-{target.number:04d}"
    return False


def _superseded_word(text: str) -> bool:
    word = _STATUS_WORD.match(text.strip())
    return word is not None and word.group(1).casefold() == "superseded"


def _styled(word: str, like: str) -> str:
    """``word`` in the case of ``like``: "ACCEPTED", "Accepted" or "accepted"."""
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word.capitalize()
    return word.lower()


def _bare(said: str) -> re.Match[str] | None:
    """The status word ``said`` is, when nothing but punctuation and white space follows it:
    a status pairup may rewrite. None when it says more, or has no status word."""
    word = _STATUS_WORD.match(said)
    rest = said[word.end() :] if word else ""
    if word is None or not all(c.isspace() or unicodedata.category(c)[0] == "P" for c in rest):
        return None
    return word


def _rewritten(old: str, word: re.Match[str], value: str) -> str:
    """A bare status ``old`` saying ``value``: a status word (one of :data:`STATUSES`) takes
    the place and case of ``old``'s word, its punctuation kept; a supersede is the whole value."""
    if value not in STATUSES:
        return value
    return old[: word.start()] + _styled(value, word.group(1)) + old[word.end() :]


def _above(paragraph: Sequence[int], section: range) -> range:
    """Where a paragraph goes to come first: right above ``paragraph``, or atop ``section``."""
    return range(paragraph[0], paragraph[0]) if paragraph else section


def _metadata(line: str) -> re.Match[str]:
    bullet = _BULLET.fullmatch(line)
    assert bullet is not None
    found = _METADATA.fullmatch(bullet["rest"])
    assert found is not None
    return found


@dataclass(frozen=True, slots=True)
class _FrontStatus:
    """MADR's ``status:`` line, cut where pairup may write: ``line[:start]`` stays, ``raw`` is
    the value as written (quotes included), ``tail`` what follows it (spaces, a comment)."""

    index: int
    start: int
    raw: str
    value: str
    """``raw`` as YAML reads it."""
    quote: str
    """'"', "'" or "" (plain)."""
    tail: str


_ONE_LINE = "write it on the status: line, as status: accepted"


def _front_status(lines: Sequence[str], index: int, end: int) -> _FrontStatus:
    """The ``status:`` at ``index`` of front matter ending at ``end``; :class:`Unreadable`
    when YAML would read it as anything but the one-line value pairup rewrites."""
    line = lines[index]
    key = _FRONT_STATUS.match(line)
    assert key is not None
    rest = line[key.end() :].lstrip(" \t")
    start = len(line) - len(rest)
    following = next((other for other in lines[index + 1 : end] if other.strip()), "")
    if following[:1] in (" ", "\t") and not following.lstrip().startswith("#"):
        raise Unreadable(f"its status: goes on over several lines; {_ONE_LINE}")
    if following == "-" or following.startswith(("- ", "-\t")):
        raise Unreadable(f"its status: is a YAML list; {_ONE_LINE}")
    if not rest or rest.startswith("#"):
        # Nothing written: the value goes after one space, the rest (a comment) after it.
        start = min(start, key.end() + 1)
        return _FrontStatus(index, start, "", "", "", line[start:])
    if rest[0] in "|>":
        raise Unreadable(f"its status: is a YAML block scalar ({rest[0]}); {_ONE_LINE}")
    if rest[0] in "&*![]{}@`%," or rest[:2] in ("- ", "? ", ": "):
        raise Unreadable(
            f"its status: is YAML pairup does not rewrite (an anchor, alias, tag or collection); "
            f"{_ONE_LINE}"
        )
    if rest[0] in "\"'":
        quoted = (_DOUBLE_QUOTED if rest[0] == '"' else _SINGLE_QUOTED).match(rest)
        if quoted is None:
            raise Unreadable(
                f"its status: is quoted over several lines or with escapes pairup does not "
                f"rewrite; {_ONE_LINE}"
            )
        if not _AFTER_VALUE.fullmatch(rest[quoted.end() :]):
            raise Unreadable(f"its status: has text after its quoted value; {_ONE_LINE}")
        inner = quoted.group(1)
        value = re.sub(r"\\(.)", r"\1", inner) if rest[0] == '"' else inner.replace("''", "'")
        return _FrontStatus(index, start, quoted.group(0), value, rest[0], rest[quoted.end() :])
    comment = re.search(r"[ \t]#", rest)
    raw = (rest[: comment.start()] if comment else rest).rstrip(" \t")
    if ": " in raw or raw.endswith(":"):
        raise Unreadable(f"its status: holds a ': ', which YAML reads as a mapping; {_ONE_LINE}")
    return _FrontStatus(index, start, raw, raw, "", rest[len(raw) :])


def _yaml_scalar(value: str, style: str) -> str:
    """``value`` quoted as the old value was, when YAML reads it back so; else double-quoted.
    Values pairup writes are a status word or "superseded by" a link: no control characters."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == "" and _PLAIN_YAML.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Text:
    """A file's lines without their ends, and the ends, so every line not changed is given
    back byte for byte; new lines take the file's own line end."""

    def __init__(self, text: str) -> None:
        parts = re.findall(r"[^\n]*\n|[^\n]+$", text)
        self.ends = [
            "\r\n" if p.endswith("\r\n") else "\n" if p.endswith("\n") else "" for p in parts
        ]
        self.lines = [p[: len(p) - len(end)] for p, end in zip(parts, self.ends, strict=True)]
        self.newline = next((end for end in self.ends if end), "\n")
        self.front = _front_matter(self.lines)
        """The indexes of the ``---`` lines around YAML front matter at the top, if any."""
        # Front matter is no Markdown: none of its lines is a heading, a status or a link.
        body = 0 if self.front is None else self.front[1] + 1
        self.fenced = [True] * body + _fenced(self.lines[body:])

    def join(self) -> str:
        return "".join(line + end for line, end in zip(self.lines, self.ends, strict=True))

    # Reading

    def heading(self, index: int) -> tuple[int, str] | None:
        """The level and text of the heading at ``index``; None if it is none (or in a fence)."""
        if self.fenced[index]:
            return None
        found = _HEADING.fullmatch(self.lines[index])
        if found is None:
            return None
        text = _CLOSING.sub("", found.group(2) or "")
        return len(found.group(1)), text.strip()

    def heading_index(self, name: str, *, level: int) -> int | None:
        """The first level-``level`` heading reading ``name`` (comments and case aside)."""
        for index in range(len(self.lines)):
            heading = self.heading(index)
            if (
                heading is not None
                and heading[0] == level
                and _COMMENT.sub("", heading[1]).strip().casefold() == name.casefold()
            ):
                return index
        return None

    def section(self, name: str, *, level: int) -> range | None:
        """The lines under a heading, up to the next heading of any level (as adr-tools reads a
        section) or the marker line."""
        start = self.heading_index(name, level=level)
        if start is None:
            return None
        end = start + 1
        while end < len(self.lines) and self.heading(end) is None and not self.is_marker(end):
            end += 1
        return range(start + 1, end)

    def status_section(self) -> range:
        section = self.section("status", level=2)
        if section is None:
            raise Unreadable(f"expected {EXPECTED['adr']}")
        return section

    def links(self, section: range) -> list[tuple[int, re.Match[str]]]:
        """The link lines in ``section`` (list items in log4brains' Links), by index."""
        found = []
        for index in section:
            line = self.lines[index]
            bullet = _BULLET.fullmatch(line)
            link = _LINK.fullmatch(bullet["rest"] if bullet else line.strip())
            if link is not None and not self.fenced[index]:
                found.append((index, link))
        return found

    def status_paragraph(self, section: range) -> list[int]:
        """The lines of the first paragraph in the status section that is not a link."""
        linked = {index for index, _ in self.links(section)}
        paragraph: list[int] = []
        for index in section:
            blank = not self.lines[index].strip()
            if blank or index in linked:
                if paragraph:
                    break
                continue
            paragraph.append(index)
        return paragraph

    def has_front_status(self) -> bool:
        return self.front is not None and any(
            _FRONT_STATUS.match(line) for line in self.lines[self.front[0] + 1 : self.front[1]]
        )

    def front_status(self) -> _FrontStatus | None:
        """The front matter's ``status:``; None when it has none, :class:`Unreadable` when
        there is no front matter, or a status pairup cannot rewrite safely."""
        if self.front is None:
            raise Unreadable(f"expected {EXPECTED['madr']}")
        start, end = self.front
        found = [i for i in range(start + 1, end) if _FRONT_STATUS.match(self.lines[i])]
        if len(found) > 1:
            raise Unreadable("its front matter has more than one status: (YAML reads the last)")
        return _front_status(self.lines, found[0], end) if found else None

    def metadata_index(self, key: str) -> int | None:
        """The ``- KEY: value`` line of the list under the title, before the first ``##``."""
        for index in range(len(self.lines)):
            heading = self.heading(index)
            if heading is not None and heading[0] >= 2:
                return None
            bullet = _BULLET.fullmatch(self.lines[index])
            if bullet is None or self.fenced[index]:
                continue
            found = _METADATA.fullmatch(bullet["rest"])
            if found is not None and found["key"].strip().casefold() == key:
                return index
        return None

    def is_marker(self, index: int) -> bool:
        return marker.is_marker_line(self.lines[index]) and not any(
            line.strip() for line in self.lines[index + 1 :]
        )

    # Changing

    def bare(self, paragraph: Sequence[int]) -> bool:
        """Whether the status paragraph is a status word and punctuation alone (:func:`_bare`)."""
        said = "\n".join(self.lines[index] for index in paragraph).lstrip()
        return bool(paragraph) and _bare(said) is not None

    def restate(self, paragraph: Sequence[int], status: str) -> None:
        """The bare status paragraph saying ``status``: its word replaced, in its case."""
        first = paragraph[0]
        line = self.lines[first]
        indent = len(line) - len(line.lstrip())
        word = _bare(line[indent:])
        assert word is not None
        self.lines[first] = line[:indent] + _rewritten(line[indent:], word, status)

    def replace(self, indexes: Sequence[int], lines: Sequence[str]) -> None:
        """The lines at ``indexes`` (consecutive) replaced, the last one's end kept."""
        first, last = indexes[0], indexes[-1]
        end = self.ends[last]
        self.lines[first : last + 1] = list(lines)
        self.ends[first : last + 1] = [self.newline] * (len(lines) - 1) + [end]
        self.fenced[first : last + 1] = [False] * len(lines)

    def insert(self, at: int, lines: Sequence[str]) -> None:
        """``lines`` before line ``at``; at the very end of a file without a final line break,
        the file still ends without one."""
        ends = [self.newline] * len(lines)
        if at == len(self.lines) and self.lines and not self.ends[-1]:
            self.ends[-1] = self.newline
            ends[-1] = ""
        self.lines[at:at] = list(lines)
        self.ends[at:at] = ends
        self.fenced[at:at] = [False] * len(lines)

    def insert_paragraph(self, section: range, lines: Sequence[str]) -> None:
        """``lines`` as the first paragraph of ``section``, a blank line on either side."""
        at = section.start
        while at < section.stop and not self.lines[at].strip():
            at += 1
        before = [] if at > section.start or self._blank_before(at) else [""]
        after = [""] if at < len(self.lines) and self.lines[at].strip() else []
        self.insert(at, [*before, *lines, *after])

    def append_paragraph(self, section: range, lines: Sequence[str]) -> None:
        """``lines`` as the last paragraph of ``section``, a blank line on either side."""
        at = section.stop
        while at > section.start and not self.lines[at - 1].strip():
            at -= 1
        before = [] if self._blank_before(at) else [""]
        after = [""] if at == section.stop and at < len(self.lines) else []
        self.insert(at, [*before, *lines, *after])

    def prepend_link(self, section: range, line: str) -> None:
        """``line`` as a paragraph after the link paragraphs that open ``section``."""
        at = section.start
        linked = {index for index, _ in self.links(section)}
        while at < section.stop and (not self.lines[at].strip() or at in linked):
            at += 1
        if at == section.stop:
            self.append_paragraph(section, [line])
            return
        self.insert(at, [line, ""])
        if not self._blank_before(at):
            self.insert(at, [""])

    def append_item(self, section: range, item: str) -> None:
        """``item`` after the last list item of ``section``, or as a list at its end."""
        items = [index for index in section if _BULLET.fullmatch(self.lines[index])]
        if not items:
            self.append_paragraph(section, [item])
            return
        self.insert(items[-1] + 1, [item])

    def add_section(self, name: str, lines: Sequence[str]) -> None:
        """A ``## name`` section at the end, before pairup's marker line if there is one."""
        at = len(self.lines)
        while at > 0 and not self.lines[at - 1].strip():
            at -= 1
        if at > 0 and self.is_marker(at - 1):
            at -= 1
            while at > 0 and not self.lines[at - 1].strip():
                at -= 1
        before = [] if at == 0 else [""]
        after = [""] if at < len(self.lines) and self.lines[at].strip() else []
        self.insert(at, [*before, f"## {name}", "", *lines, *after])

    def set_front_status(self, value: str) -> None:
        """The front matter's status ``value``: a bare status word swapped in its quotes, any
        other value replaced and kept in a comment, a comment after it kept."""
        found = self.front_status()
        if found is None:
            assert self.front is not None
            self.insert(self.front[0] + 1, [f"status: {_yaml_scalar(value, '')}"])
            return
        word = _bare(found.value)
        if (
            word is not None
            and value in STATUSES
            and found.raw[len(found.quote) :].startswith(found.value[: word.end()])
        ):
            inner = found.raw[len(found.quote) :]
            new = found.quote + _rewritten(inner, word, value)
        elif word is not None or not found.value:
            new = _yaml_scalar(value, found.quote)
        else:
            new = f"{_yaml_scalar(value, found.quote)} # was: {found.raw}"
        line = self.lines[found.index]
        head = line[: found.start]
        head += "" if head.endswith((" ", "\t")) else " "
        tail = found.tail if not found.tail.startswith("#") else " " + found.tail
        self.lines[found.index] = head + new + tail

    def set_metadata_status(self, value: str) -> None:
        """log4brains' ``- Status:`` saying ``value``: a bare or empty value rewritten in place;
        one that says more kept whole, with a ``- Status:`` line of its own above it."""
        index = self.metadata_index("status")
        assert index is not None
        line = self.lines[index]
        bullet = _BULLET.fullmatch(line)
        assert bullet is not None
        found = _METADATA.fullmatch(bullet["rest"])
        assert found is not None
        old = found["value"]
        start = bullet.start("rest") + found.start("value")
        head = line[:start] + ("" if found["space"] else " ")
        word = _bare(old)
        if word is not None:
            self.lines[index] = (
                line[:start] + _rewritten(old, word, value) + line[start + len(old) :]
            )
        elif not old:
            self.lines[index] = head + value + line[start:]
        else:
            self.insert(index, [head + value])

    def _blank_before(self, at: int) -> bool:
        return at == 0 or not self.lines[at - 1].strip()


def _fenced(lines: Sequence[str]) -> list[bool]:
    """Which lines are inside a fenced code block (the fence lines included), where nothing
    is a heading, a status or a link."""
    inside: list[bool] = []
    fence = ""
    for line in lines:
        opening = _FENCE.match(line)
        if fence:
            inside.append(True)
            # A closing fence: the same character, at least as many, nothing after it.
            if opening and not line.strip().lstrip(fence[0]) and len(line.strip()) >= len(fence):
                fence = ""
        elif opening:
            inside.append(True)
            fence = opening.group(1)
        else:
            inside.append(False)
    return inside


def _front_matter(lines: Sequence[str]) -> tuple[int, int] | None:
    """The indexes of the ``---`` lines around front matter that is YAML: ``key:`` lines, each
    key's nested lines, comments. A ``---`` rule opening a file, with prose before the next
    one, is no front matter."""
    if not lines or lines[0].lstrip("\ufeff").rstrip() != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        return None
    keys = False
    for line in lines[1:end]:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if _YAML_KEY.match(line):
            keys = True
        elif not (keys and (line[0] in " \t" or line == "-" or line.startswith("- "))):
            return None
    return (0, end) if keys else None
