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
TAILS = ["", ".", " ;", ". Amends ADR 12 (see the notes)", " — pending the security review"]
TAILS += [" by the architecture board on 2024-05-01.", " (after review on 2024-05-01)"]
OTHER_STATUS = [["In review"], ["We agreed on it on Monday"]]
OTHER_STATUS += [["After a long debate the team went with this,", "see the minutes of 3 May."]]
# What may follow a MADR status value on its line: nothing, spaces, a YAML comment.
YAML_TAILS = ["", "  ", " # reviewed by Bob", "   # status: accepted? yes"]
# Front matter an adr-tools file may carry for a site generator (no status: key in it).
SITE_FRONT = [[], ["---", "title: Use SQLite", "sidebar_position: 7", "---", ""]]
# A ``## Status`` a reader must not take for the status: in a fence, and in a later section.
DECOYS = ["```markdown", "## Status", "", "Accepted by nobody", "```", "", "---", ""]
SECOND_STATUS = ["## Status", "", "An older status, kept for the record.", ""]

# A person's words: anything on one line, from any script, with Markdown's punctuation.
prose_line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), max_size=30
)
prose = st.lists(prose_line, max_size=4)
# A person's status, in words: text that cannot be read as a heading, a link, a fence or a
# list (a plain paragraph), of one or more lines.
said_line = prose_line.filter(lambda line: "](" not in line).map(lambda line: f"We {line}")
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
    """A document in a format's shape: its lines, and where the status is and what it says."""

    def __init__(
        self, fmt: str, lines: list[str], status_at: int, said: list[str], **shape: str
    ) -> None:
        self.fmt = fmt
        self.lines = lines
        self.status_at = status_at
        """The status line (MADR's ``status:``, log4brains' bullet), or the status paragraph's
        first line (adr-tools)."""
        self.said = said
        """The status as a person wrote it: the paragraph's lines, or the value on its line."""
        self.newline = shape.get("newline", "\n")
        self.final = shape.get("final", "yes") == "yes"
        self.quote = shape.get("quote", "")
        self.tail = shape.get("tail", "")

    @property
    def text(self) -> str:
        return self.joined(self.lines)

    def joined(self, lines: list[str]) -> str:
        return self.newline.join(lines) + (self.newline if self.final else "")

    @property
    def word(self) -> str | None:
        """The status word the status starts with, if any."""
        found = re.match(r"(?i)(proposed|accepted|rejected|deprecated|draft)\b", self.said[0])
        return found.group(1) if found else None

    @property
    def bare(self) -> bool:
        """Whether the status is its word and punctuation alone: the one pairup may rewrite."""
        rest = "".join(self.said)[len(self.word) :] if self.word else "x"
        return all(c.isspace() or c in ".,;:!?" for c in rest)

    def with_lines(self, at: int, count: int, lines: list[str]) -> str:
        return self.joined(self.lines[:at] + lines + self.lines[at + count :])


def styled(status: str, like: str) -> str:
    if len(like) > 1 and like.isupper():
        return status.upper()
    return status.capitalize() if like[0].isupper() else status


@st.composite
def documents(draw: st.DrawFn, fmt: str) -> Doc:
    worded = draw(st.booleans())
    if worded:
        word = draw(st.sampled_from(WORDS))
        said = [word + draw(st.sampled_from(TAILS))]
    else:
        said = draw(st.one_of(st.sampled_from(OTHER_STATUS), st.lists(said_line, min_size=1)))
    title = draw(titles)
    body = [line for line in draw(prose) if line.strip()] or ["Some context."]
    body += draw(st.sampled_from([[], ["", *DECOYS]]))
    notes = [line for line in draw(prose) if line.strip()]
    marked = draw(st.booleans())
    shape = {"newline": draw(st.sampled_from(["\n", "\r\n"]))}
    shape["final"] = draw(st.sampled_from(["yes", "no"]))
    if fmt == "adr":
        # Front matter for a site, or a rule on the first line with another later on.
        front = draw(st.sampled_from([*SITE_FRONT, ["---", ""]]))
        links = draw(st.sampled_from([[], ["Amends [2. Other](0002-other.md)"]]))
        head = [*front, f"# 7. {title}", "", "Date: 2026-11-26", "", "## Status", ""]
        status_at = len(head)
        lines = [*head, *said, "", *(x for link in links for x in (link, "")), "## Context"]
        lines += ["", *body, "", "---", "", *draw(st.sampled_from([[], SECOND_STATUS]))]
        lines += ["## Notes", "", *notes]
    elif fmt == "madr":
        # A value YAML reads as written, plain or quoted: a status word and its tail, or words.
        said = said if worded else draw(st.sampled_from(OTHER_STATUS))[:1]
        quote = shape["quote"] = draw(st.sampled_from(['"', "'", ""]))
        tail = shape["tail"] = draw(st.sampled_from(YAML_TAILS))
        value = f"{quote}{said[0]}{quote}"
        comment = draw(st.sampled_from([[], ["# These are optional metadata elements."]]))
        head = ["---", *comment]
        status_at = len(head)
        lines = [*head, f"status: {value}{tail}", "date: 2026-11-26"]
        lines += draw(st.sampled_from([[], ["decision-makers:", '  - "Ann"', "consulted: Bob"]]))
        lines += ["---", "", f"# {title}", "", "## Context and Problem Statement", "", *body]
        lines += ["", "## More Information", "", *(notes or ["Drafted."])]
    else:
        said = said[:1]
        status_at = 2
        lines = [f"# {title}", "", f"- Status: {said[0]}", "- Date: 2026-11-26"]
        lines += draw(st.sampled_from([[], ["- Deciders: Ann, Bob"]]))
        lines += ["", "## Context and Problem Statement", "", *body, "", "## More Information", ""]
        lines += notes or ["Drafted."]
    if marked:
        lines += ["", MARKER]
    return Doc(fmt, lines, status_at, said, **shape)


def is_plain(value: str) -> bool:
    """Whether YAML reads ``value`` unquoted as that same string (pairup keeps it unquoted)."""
    return re.fullmatch(r"[A-Za-z][A-Za-z0-9 .-]*", value) is not None


def expected_status(doc: Doc, status: str) -> str:
    """``doc`` with its status ``status``, by the rule: the word alone changes when nothing
    but punctuation follows it; otherwise the person's status stays and the new one comes
    first (above it; in MADR's front matter, the old value kept in a comment)."""
    if doc.word is not None and doc.word.casefold() == status:
        return doc.text
    if doc.bare and doc.word is not None:
        new = styled(status, doc.word) + doc.said[0][len(doc.word) :]
        line = doc.lines[doc.status_at].replace(doc.said[0], new, 1)
        return doc.with_lines(doc.status_at, 1, [line])
    if doc.fmt == "adr":
        return doc.with_lines(doc.status_at, 0, [status.capitalize(), ""])
    if doc.fmt == "log4brains":
        return doc.with_lines(doc.status_at, 0, [f"- Status: {status}"])
    new = f"{doc.quote}{status}{doc.quote}"
    old = f"{doc.quote}{doc.said[0]}{doc.quote}"
    return doc.with_lines(doc.status_at, 1, [f"status: {new} # was: {old}{doc.tail}"])


def expected_superseded(doc: Doc, by: Ref) -> str:
    """``doc`` superseded by ``by``: the link in the status's place when the status is a bare
    word, else the link first and the person's status kept."""
    written = lifecycle.superseded_status(doc.fmt, by)
    if doc.fmt == "madr":
        value = written if not doc.quote and is_plain(written) else yaml_quoted(written, doc.quote)
        old = f"{doc.quote}{doc.said[0]}{doc.quote}"
        kept = "" if doc.bare and doc.word else f" # was: {old}"
        return doc.with_lines(doc.status_at, 1, [f"status: {value}{kept}{doc.tail}"])
    if doc.fmt == "log4brains":
        line = f"- Status: {written}"
        return doc.with_lines(doc.status_at, int(doc.bare and doc.word is not None), [line])
    if doc.bare and doc.word is not None:
        return doc.with_lines(doc.status_at, len(doc.said), [written])
    return doc.with_lines(doc.status_at, 0, [written, ""])


def yaml_quoted(value: str, quote: str) -> str:
    """``value`` in single quotes when ``quote`` is one, else in double quotes."""
    if quote == "'":
        return "'" + value.replace("'", "''") + "'"
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def kept_in_order(doc: Doc, changed: str) -> None:
    """Every line of ``doc`` but a bare status word's is in ``changed``, unchanged and in order,
    and a person's status words are there too, whole."""
    lines = iter(changed.split(doc.newline))
    status = range(doc.status_at, doc.status_at + len(doc.said))
    rewritten = doc.fmt == "madr" or (doc.bare and doc.word is not None)
    for index, line in enumerate(doc.lines):
        if index in status and rewritten:
            continue
        assert any(line == other for other in lines), (line, changed)
    if not (doc.bare and doc.word is not None):
        for words in doc.said:
            assert words in changed


def front_matter(text: str) -> dict[str, object]:
    return yaml.safe_load(text.replace("\r\n", "\n").split("---\n")[1])


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
def test_a_status_change_keeps_a_persons_words_and_reads_back(fmt, data, status):
    doc = data.draw(documents(fmt))
    changed = lifecycle.set_status(doc.text, fmt, status)
    assert changed == expected_status(doc, status)
    kept_in_order(doc, changed)
    assert lifecycle.detect(changed) == fmt
    assert lifecycle.set_status(changed, fmt, status) == changed
    assert lifecycle.read_status(changed, fmt).is_(status)
    if fmt == "madr":
        before, after = front_matter(doc.text), front_matter(changed)
        # The word in the case it had, its punctuation and the person's words kept.
        assert re.match(status, after.pop("status"), re.IGNORECASE)
        before.pop("status")
        assert after == before


@pytest.mark.parametrize("fmt", FORMATS)
@given(data=st.data())
def test_superseding_writes_the_link_first_and_keeps_a_persons_words(fmt, data):
    doc = data.draw(documents(fmt))
    by = data.draw(refs(numbered=fmt != "log4brains"))
    changed = lifecycle.supersede(doc.text, fmt, by)
    assert changed == expected_superseded(doc, by)
    kept_in_order(doc, changed)
    assert lifecycle.detect(changed) == fmt
    assert lifecycle.supersede(changed, fmt, by) == changed
    status = lifecycle.read_status(changed, fmt)
    assert status.superseded
    assert status.superseded_by is not None
    assert lifecycle.names(status.superseded_by, by, fmt)
    if fmt == "madr":
        assert front_matter(changed)["status"] == lifecycle.superseded_status(fmt, by)
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


DEBATE = "After a long debate the team went with this,\nsee the minutes of 3 May.\n"
BOARD = "Accepted by the architecture board on 2024-05-01."
LINK_TO_3 = "Superseded by [3. Use Postgres](0003-use-postgres.md)"


def test_a_persons_status_stays_word_for_word_and_the_new_one_comes_first():
    debated = ADR.replace("Proposed\n", DEBATE)
    assert lifecycle.set_status(debated, "adr", "accepted") == ADR.replace(
        "Proposed\n", f"Accepted\n\n{DEBATE}"
    )
    board = ADR.replace("Proposed", BOARD)
    deprecated = lifecycle.set_status(board, "adr", "deprecated")
    assert deprecated == board.replace(f"\n{BOARD}", f"\nDeprecated\n\n{BOARD}")
    # pairup's own status paragraph is a bare word: the next change swaps it.
    assert lifecycle.set_status(deprecated, "adr", "rejected") == deprecated.replace(
        "\nDeprecated\n", "\nRejected\n"
    )
    assert lifecycle.supersede(board, "adr", POSTGRES) == board.replace(
        f"\n{BOARD}", f"\n{LINK_TO_3}\n\n{BOARD}"
    )
    assert lifecycle.supersede(deprecated, "adr", POSTGRES) == board.replace(
        f"\n{BOARD}", f"\n{LINK_TO_3}\n\n{BOARD}"
    )
    assert lifecycle.read_status(lifecycle.supersede(board, "adr", POSTGRES), "adr").text == (
        LINK_TO_3
    )


def test_a_status_word_and_punctuation_alone_is_rewritten_in_place():
    dotted = ADR.replace("Proposed", "Accepted.")
    assert lifecycle.set_status(dotted, "adr", "deprecated") == ADR.replace(
        "Proposed", "Deprecated."
    )
    assert lifecycle.supersede(dotted, "adr", POSTGRES) == ADR.replace("Proposed", LINK_TO_3)
    said = ADR.replace("Proposed", "Accepted. Amends ADR 12")
    assert lifecycle.set_status(said, "adr", "deprecated") == said.replace(
        "\nAccepted.", "\nDeprecated\n\nAccepted."
    )


def test_log4brains_status_that_says_more_stays_on_its_own_line():
    by = Ref(None, "Use Postgres", "20261201-use-postgres.md", "20261201-use-postgres")
    reviewed = L4B.replace("proposed", "accepted (after review on 2024-05-01)")
    link = "superseded by [20261201-use-postgres](20261201-use-postgres.md)"
    superseded = lifecycle.supersede(reviewed, "log4brains", by)
    assert superseded == reviewed.replace(
        "- Status: accepted", f"- Status: {link}\n- Status: accepted"
    )
    assert lifecycle.read_status(superseded, "log4brains").superseded_by == by.href
    deprecated = lifecycle.set_status(reviewed, "log4brains", "deprecated")
    assert deprecated == reviewed.replace(
        "- Status: accepted", "- Status: deprecated\n- Status: accepted"
    )
    assert lifecycle.set_status(
        L4B.replace("proposed", "Accepted!"), "log4brains", "deprecated"
    ) == (L4B.replace("proposed", "Deprecated!"))


def test_madr_status_keeps_its_comment_and_a_persons_words():
    commented = MADR.replace("status: proposed", "status: accepted # reviewed by Bob")
    changed = lifecycle.set_status(commented, "madr", "deprecated")
    assert changed == commented.replace("status: accepted", "status: deprecated")
    superseded = lifecycle.supersede(commented, "madr", POSTGRES)
    assert "\nstatus: superseded by ADR-0003 # reviewed by Bob\n" in superseded
    quoted = MADR.replace("status: proposed", "status: 'accepted' # ok")
    assert "\nstatus: 'deprecated' # ok\n" in lifecycle.set_status(quoted, "madr", "deprecated")
    board = MADR.replace("status: proposed", "status: accepted by the board")
    changed = lifecycle.set_status(board, "madr", "deprecated")
    assert "\nstatus: deprecated # was: accepted by the board\n" in changed
    assert yaml.safe_load(changed.split("---\n")[1])["status"] == "deprecated"
    empty = MADR.replace("status: proposed", "status:  # to be decided")
    assert "\nstatus: accepted # to be decided\n" in lifecycle.set_status(empty, "madr", "accepted")


@pytest.mark.parametrize(
    "line",
    [
        "status: >-\n  accepted",
        "status: |\n  accepted",
        'status: "accepted\n  by Bob"',
        "status: 'accepted\n  by Bob'",
        "status:\n  accepted",
        "status: accepted\n  by Bob",
        "status:\n- accepted",
        "status: &s accepted",
        "status: !!str accepted",
        "status: [accepted]",
        "status: *s",
        'status: "accepted" by Bob',
        "status: accepted\nstatus: proposed",
    ],
)
def test_madr_status_pairup_cannot_rewrite_safely_is_refused(line):
    text = MADR.replace("status: proposed", line)
    for change in (
        lambda: lifecycle.set_status(text, "madr", "deprecated"),
        lambda: lifecycle.supersede(text, "madr", POSTGRES),
    ):
        with pytest.raises(lifecycle.Unreadable, match="status:") as refused:
            change()
        assert "\n" not in str(refused.value)


def test_front_matter_makes_a_file_madr_only_when_it_holds_the_status():
    site = "---\ntitle: Use SQLite\nsidebar_position: 1\n---\n\n" + ADR
    assert lifecycle.detect(site) == "adr"
    assert lifecycle.set_status(site, "adr", "accepted") == site.replace(
        "\nProposed\n", "\nAccepted\n"
    )
    assert lifecycle.title_of(site, "adr") == "Use SQLite"
    ruled = "---\n\n" + ADR.replace("## Context", "---\n\n## Context")
    assert lifecycle.detect(ruled) == "adr"
    assert lifecycle.set_status(ruled, "adr", "accepted") == ruled.replace(
        "\nProposed\n", "\nAccepted\n"
    )
    # YAML front matter without a status is MADR's when nothing else says the status.
    assert lifecycle.detect("---\ntitle: Use SQLite\n---\n\n# Use SQLite\n\nWhy.\n") == "madr"
    with_status = "---\ntitle: Use SQLite\nstatus: proposed\n---\n\n" + ADR
    assert lifecycle.detect(with_status) == "madr"
    # MADR's template opens its front matter with a comment, which is no heading.
    commented = MADR.replace("---\n", "---\n# These are optional metadata elements.\n", 1)
    assert lifecycle.detect(commented) == "madr"
    assert lifecycle.title_of(commented, "madr") == "Use SQLite"


def test_madr_superseded_status_is_its_templates_and_yaml_reads_it():
    changed = lifecycle.supersede(MADR, "madr", POSTGRES)
    front = yaml.safe_load(changed.split("---\n")[1])
    assert front["status"] == "superseded by ADR-0003"
    linked = lifecycle.add_link(MADR, "madr", "Supersedes", SQLITE)
    assert "## More Information\n\nSupersedes [ADR-0001: Use SQLite](0001-use-sqlite.md)\n\n" in (
        linked
    )
    quoted = MADR.replace("status: proposed", "status: 'proposed'  ")
    assert "status: 'accepted'  \n" in lifecycle.set_status(quoted, "madr", "accepted")
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
