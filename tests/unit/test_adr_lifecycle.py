"""The text transforms behind ``pairup adr``: on any document a person could have made of an
export, only the status and the link lines change, byte for byte everything else stays, and
doing a change twice is doing it once.

Documents are built in each format's shape around text drawn by hypothesis (and the hostile
corpus), with LF or CRLF line ends, with or without a final line break and pairup's marker.
"""

import difflib
import re

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pairup.adr import lifecycle
from pairup.adr.lifecycle import Ref
from pairup.adr.markdown import inline
from tests.hostile import CORPUS

MARKER = "<!-- pairup: session=s-1 decision=dec-1 digest=0123456789abcdef -->"
WORDS = ["Proposed", "proposed", "Accepted", "ACCEPTED", "Rejected", "deprecated", "Draft"]
OTHER_STATUS = ["In review", "We agreed on it on Monday"]
TAILS = ["", ". Amends ADR 12 (see the notes)", " — pending the security review"]

# A person's words: anything on one line, from any script, with Markdown's punctuation.
prose_line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30
)
prose = st.lists(prose_line, max_size=4)
titles = st.one_of(
    st.sampled_from([inline(text) for text in CORPUS.values()]).map(lambda t: t[:200]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(inline),
)


def refs(numbered: bool = True) -> st.SearchStrategy[Ref]:
    def ref(number: int, title: str, slug: str) -> Ref:
        stem = f"{number:04d}-{slug}" if numbered else f"20261126-{slug}"
        return Ref(number if numbered else None, title, f"{stem}.md", stem)

    return st.builds(
        ref, st.integers(1, 9999), titles, st.from_regex(r"[a-z0-9]{1,20}", fullmatch=True)
    )


class Doc:
    """A document in a format's shape: its text, and where the status word is in it."""

    def __init__(self, fmt: str, lines: list[str], status_at: int, newline: str, final: bool):
        self.fmt = fmt
        self.lines = lines
        self.status_at = status_at
        self.newline = newline
        self.final = final

    @property
    def text(self) -> str:
        return self.newline.join(self.lines) + (self.newline if self.final else "")

    def with_status_line(self, line: str) -> str:
        lines = list(self.lines)
        lines[self.status_at] = line
        return self.newline.join(lines) + (self.newline if self.final else "")


@st.composite
def documents(draw: st.DrawFn, fmt: str) -> Doc:
    word = draw(st.sampled_from(WORDS + OTHER_STATUS))
    tail = draw(st.sampled_from(TAILS)) if word in WORDS else ""
    title = draw(titles)
    body = [line for line in draw(prose) if line.strip()] or ["Some context."]
    notes = [line for line in draw(prose) if line.strip()]
    marked = draw(st.booleans())
    if fmt == "adr":
        links = draw(st.sampled_from([[], ["Amends [2. Other](0002-other.md)"]]))
        head = [f"# 7. {title}", "", "Date: 2026-11-26", "", "## Status", ""]
        status_at = len(head)
        lines = [*head, word + tail, "", *(x for link in links for x in (link, "")), "## Context"]
        lines += ["", *body, "", "## Notes", "", *notes]
    elif fmt == "madr":
        quote = draw(st.sampled_from(['"', "'", ""]))
        head = ["---"]
        status_at = 1
        lines = [*head, f"status: {quote}{word.lower()}{quote}", "date: 2026-11-26", "---", ""]
        lines += [f"# {title}", "", "## Context and Problem Statement", "", *body]
        lines += ["", "## More Information", "", *(notes or ["Drafted."])]
    else:
        status_at = 2
        lines = [f"# {title}", "", f"- Status: {word.lower()}{tail}", "- Date: 2026-11-26", ""]
        lines += ["## Context and Problem Statement", "", *body, "", "## More Information", ""]
        lines += notes or ["Drafted."]
    if marked:
        lines += ["", MARKER]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return Doc(fmt, lines, status_at, newline, draw(st.booleans()))


def edits(old: str, new: str) -> list[tuple[str, list[str], list[str]]]:
    """What changed, line by line with line ends: (kind, old lines, new lines)."""
    # Lines end at "\n" alone, as in Markdown: str.splitlines would also split at "\x1e"…
    a, b = re.findall(r"[^\n]*\n|[^\n]+$", old), re.findall(r"[^\n]*\n|[^\n]+$", new)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [
        (tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]


def only_inserted(old: str, new: str) -> list[str]:
    """The lines ``new`` adds to ``old``, which must keep every one of its lines as they were."""
    added = []
    for tag, removed, inserted in edits(old, new):
        if tag == "replace" and removed == [old.rsplit("\n", 1)[-1]]:
            # Lines added after a last line without a line break give it one.
            assert inserted[0].rstrip("\r\n") == removed[0], (removed, inserted)
            added += inserted[1:]
        else:
            assert tag == "insert", (tag, removed, inserted)
            added += inserted
    return added


def last_line(text: str) -> str:
    return text.rstrip("\r\n").rsplit("\n", 1)[-1].rstrip("\r")


FORMATS = ("adr", "madr", "log4brains")


@pytest.mark.parametrize("fmt", FORMATS)
@given(data=st.data(), status=st.sampled_from(lifecycle.STATUSES))
def test_a_status_change_changes_the_status_word_alone(fmt, data, status):
    doc = data.draw(documents(fmt))
    changed = lifecycle.set_status(doc.text, fmt, status)
    old_line = doc.lines[doc.status_at]
    found = re.search(r"(?i)\b(proposed|accepted|rejected|deprecated|draft)\b", old_line)
    if found is None:
        quote = old_line[len("status: ")] if old_line[len("status: ")] in "'\"" else ""
        expected_line = {
            "adr": status.capitalize(),
            "madr": f"status: {quote}{status}{quote}",
        }.get(fmt, f"- Status: {status}")
    else:
        like = found.group(1)
        word = status.upper() if like.isupper() else status.capitalize()
        word = word if like[0].isupper() else status
        expected_line = old_line[: found.start()] + word + old_line[found.end() :]
        if found.group(1).casefold() == status:
            expected_line = old_line
    assert changed == doc.with_status_line(expected_line)
    assert lifecycle.set_status(changed, fmt, status) == changed
    assert lifecycle.read_status(changed, fmt).is_(status)


@pytest.mark.parametrize("fmt", FORMATS)
@given(data=st.data())
def test_superseding_writes_the_link_where_the_status_was_and_once(fmt, data):
    doc = data.draw(documents(fmt))
    by = data.draw(refs(numbered=fmt != "log4brains"))
    changed = lifecycle.supersede(doc.text, fmt, by)
    assert lifecycle.supersede(changed, fmt, by) == changed
    status = lifecycle.read_status(changed, fmt)
    assert status.superseded
    assert status.superseded_by is not None
    assert lifecycle.names(status.superseded_by, by, fmt)
    written = lifecycle.superseded_status(fmt, by)
    for tag, removed, inserted in edits(doc.text, changed):
        # The status line gives way to the link, or (when it says more than its status word)
        # the link comes before it as a paragraph and only its word changes.
        assert tag in ("replace", "insert"), (tag, removed, inserted)
        assert any(written in line or "uperseded" in line for line in inserted) or not any(
            line.strip() for line in inserted
        )
    if MARKER in doc.text:
        assert last_line(changed) == MARKER
    other = Ref(None, "Another", "0999-another.md", "0999-another")
    with pytest.raises(lifecycle.Refused):
        lifecycle.supersede(changed, fmt, other)
    with pytest.raises(lifecycle.Refused):
        lifecycle.set_status(changed, fmt, "accepted")


@pytest.mark.parametrize("fmt", FORMATS)
@given(data=st.data(), kind=st.sampled_from(["Supersedes", "Amends", "Amended by"]))
def test_a_link_is_added_as_one_line_and_nothing_else_moves(fmt, data, kind):
    doc = data.draw(documents(fmt))
    target = data.draw(refs(numbered=fmt != "log4brains"))
    changed = lifecycle.add_link(doc.text, fmt, kind, target)
    assert lifecycle.add_link(changed, fmt, kind, target) == changed
    added = [line.rstrip("\r\n") for line in only_inserted(doc.text, changed)]
    line = lifecycle.link_line(fmt, kind, target)
    assert [a for a in added if a.strip()] in (
        [line],
        [f"- {line}"],
        ["## More Information", line],
        ["## Links", f"- {line}"],
    )
    assert all(a.endswith(doc.newline) for a in only_inserted(doc.text, changed)[:-1])
    if MARKER in doc.text:
        assert last_line(changed) == MARKER
    assert changed.count("\r\n") == (changed.count("\n") if doc.newline == "\r\n" else 0)


@given(data=st.data())
def test_supersede_writes_both_links_adr_tools_reads_back(data):
    old, new = data.draw(documents("adr")), data.draw(documents("adr"))
    old_ref, new_ref = data.draw(refs()), data.draw(refs())
    superseded = lifecycle.supersede(old.text, "adr", new_ref)
    linked = lifecycle.add_link(new.text, "adr", lifecycle.SUPERSEDES, old_ref)
    assert (new_ref.number, "Superseded by") in adr_tools_links(superseded)
    assert (old_ref.number, "Supersedes") in adr_tools_links(linked)


def adr_tools_links(text: str) -> list[tuple[int, str]]:
    """What adr-tools' ``_adr_status`` and ``_adr_links`` read: the status section's lines that
    are neither headings nor blank, then ``^(.+) \\[.*\\]\\(0*([1-9][0-9]*).*\\)``."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines.index("## Status")
    found = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        match = re.match(r"^(.+) \[.*\]\(0*([1-9][0-9]*).*\)", line)
        if match:
            found.append((int(match.group(2)), match.group(1)))
    return found


# Examples, each format as its tool writes it

ADR = "# 1. Use SQLite\n\nDate: 2026-11-26\n\n## Status\n\nProposed\n\n## Context\n\nWhy.\n"
MADR = (
    '---\nstatus: proposed\ndate: 2026-11-26\ndecision-makers:\n  - "Ann"\n---\n\n'
    "# Use SQLite\n\n## Context and Problem Statement\n\nWhy.\n\n"
    f"## More Information\n\nDrafted.\n\n{MARKER}\n"
)
L4B = (
    "# Use SQLite\n\n- Status: proposed\n- Date: 2026-11-26\n\n"
    f"## Context and Problem Statement\n\nWhy.\n\n## More Information\n\nDrafted.\n\n{MARKER}\n"
)
POSTGRES = Ref(3, "Use Postgres", "0003-use-postgres.md", "0003-use-postgres")
SQLITE = Ref(1, "Use SQLite", "0001-use-sqlite.md", "0001-use-sqlite")


def test_adr_tools_superseding_reads_as_adr_new_s_writes_it():
    assert lifecycle.supersede(ADR, "adr", POSTGRES) == ADR.replace(
        "\nProposed\n", "\nSuperseded by [3. Use Postgres](0003-use-postgres.md)\n"
    )
    assert lifecycle.add_link(ADR, "adr", "Supersedes", POSTGRES) == ADR.replace(
        "\nProposed\n", "\nProposed\n\nSupersedes [3. Use Postgres](0003-use-postgres.md)\n"
    )


def test_a_status_that_says_more_keeps_its_words_when_superseded():
    said = ADR.replace("Proposed", "Accepted. Amends ADR 12")
    assert lifecycle.supersede(said, "adr", POSTGRES) == said.replace(
        "\nAccepted. Amends ADR 12\n",
        "\nSuperseded by [3. Use Postgres](0003-use-postgres.md)\n\nSuperseded. Amends ADR 12\n",
    )


def test_madr_superseded_status_is_its_templates_and_yaml_reads_it():
    changed = lifecycle.supersede(MADR, "madr", POSTGRES)
    front = yaml.safe_load(changed.split("---\n")[1])
    assert front["status"] == "superseded by ADR-0003"
    linked = lifecycle.add_link(MADR, "madr", "Supersedes", SQLITE)
    assert "## More Information\n\nSupersedes [ADR-0001: Use SQLite](0001-use-sqlite.md)\n\n" in (
        linked
    )
    quoted = MADR.replace("status: proposed", "status: 'proposed'  ")
    assert "status: 'accepted'\n" in lifecycle.set_status(quoted, "madr", "accepted")
    unnumbered = Ref(None, 'Use "Postgres": [now]', "pg.md", "pg")
    odd = lifecycle.supersede(MADR, "madr", unnumbered)
    front = yaml.safe_load(odd.split("---\n")[1])
    assert front["status"] == 'superseded by [Use "Postgres": [now]](pg.md)'


def test_madr_front_matter_without_a_status_gets_one():
    bare = MADR.replace("status: proposed\n", "")
    assert lifecycle.set_status(bare, "madr", "accepted").startswith("---\nstatus: accepted\n")


def test_log4brains_superseded_by_names_the_slug_as_log4brains_resolves_it():
    by = Ref(None, "Use Postgres", "20261201-use-postgres.md", "20261201-use-postgres")
    changed = lifecycle.supersede(L4B, "log4brains", by)
    assert "- Status: superseded by [20261201-use-postgres](20261201-use-postgres.md)\n" in changed
    linked = lifecycle.add_link(L4B, "log4brains", "Supersedes", by)
    assert linked.endswith(
        "Drafted.\n\n## Links\n\n- Supersedes [20261201-use-postgres](20261201-use-postgres.md)\n"
        f"\n{MARKER}\n"
    )
    again = lifecycle.add_link(linked, "log4brains", "Amends", SQLITE)
    assert "- Supersedes [20261201-use-postgres](20261201-use-postgres.md)\n" in again
    assert "- Amends [0001-use-sqlite](0001-use-sqlite.md)\n\n" in again


def test_the_format_is_read_from_the_text():
    assert lifecycle.detect(ADR) == "adr"
    assert lifecycle.detect(MADR) == "madr"
    assert lifecycle.detect(L4B) == "log4brains"
    assert lifecycle.detect("# Notes\n\nNo status here.\n") is None
    fenced = "# T\n\n```\n## Status\n```\n\nProposed\n"
    assert lifecycle.detect(fenced) is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_text_without_a_status_says_what_was_expected(fmt):
    with pytest.raises(lifecycle.Unreadable, match=re.escape(lifecycle.EXPECTED[fmt])):
        lifecycle.set_status("# Notes\n\nNothing.\n", fmt, "accepted")


def test_the_title_is_read_without_adr_tools_number():
    assert lifecycle.title_of(ADR, "adr") == "Use SQLite"
    assert lifecycle.title_of(MADR, "madr") == "Use SQLite"
    assert lifecycle.title_of(L4B, "log4brains") == "Use SQLite"
