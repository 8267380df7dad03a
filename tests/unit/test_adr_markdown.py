"""Participant text in exported Markdown, and the marker line that ends each file.

Every rule is checked the way a reader meets it: markdown-it-py parses the text placed where
the export places it (a heading, a table cell, a list item, a body between two headings) and
the test looks at the blocks and the text that come out.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.adr import marker
from pairup.adr.markdown import block, inline
from tests.hostile import CORPUS
from tests.markdown_reading import (
    block_kinds,
    headings,
    markup,
    one_line,
    parse,
    plain,
    table_rows,
)

STRUCTURE = {
    "indented code": "    code()\n\tmore()",
    "bullets": "- item\n* star\n+ plus",
    "ordered": "1. one\n2) two\n2024. a year",
    "quote": "> quoted\n>> nested",
    "atx headings": "# one\n###### six\n#no space",
    "setext": "Title\n===\nOther\n---",
    "thematic breaks": "***\n_ _ _\n- - -",
    "fences": "```python\nprint()\n```\n~~~\nx\n~~~",
    "html block": "<div>\n<p>x</p>\n</div>",
    "html comment": "<!-- hidden -->",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "table without pipes in the delimiter": "a | b\n:-:",
    "link reference": "[ref]: https://example.invalid\n[ref]",
    "autolink": "<https://example.invalid> <me@example.invalid>",
    "image": "![alt](x.png)",
    "emphasis": "*a* **b** _c_ __d__ ***e***",
    "underscores inside words": "snake_case_name and __dunder__",
    "references": "&amp; &#65; &#x41; &copy; AT&T",
    "backslashes": "a\\*b\\ c\\\\ end\\",
    "hard breaks": "two spaces  \nbackslash\\\nnext",
    "math": "$x$ and $$y$$",
    "strikethrough": "~one~ ~~two~~",
    "unicode line breaks": "a\u2028b\u2029c\x85d\x0be\x0cf",
    "marker": "<!-- pairup: session=s decision=d -->",
    "only whitespace": " \t \n\n  ",
    "colons and equals": ":--\n=\n+",
}
CASES = {**CORPUS, **STRUCTURE}
IDS = list(CASES)
TEXTS = list(CASES.values())


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_inline_text_gives_one_heading_that_reads_as_typed(text):
    tokens = parse(f"# 1. {inline(text)}\n")
    assert block_kinds(tokens) == ["heading_open:h1"]
    (heading,) = headings(tokens)
    assert heading.text == f"1. {one_line(text)}".rstrip()
    assert heading.markup == []


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_inline_text_keeps_a_table_row_a_row_of_its_cells(text):
    tokens = parse(f"| A | B | C |\n| --- | --- | --- |\n| {inline(text)} | x | {inline(text)} |\n")
    rows = table_rows(tokens)
    assert len(rows) == 2
    cells = rows[1]
    assert [plain(cell) for cell in cells] == [one_line(text), "x", one_line(text)]
    assert all(markup(cell) == [] for cell in cells)


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_inline_text_after_a_bullet_or_at_a_line_start_opens_nothing(text):
    tokens = parse(f"- {inline(text)}\n")
    item = ["bullet_list_open", "list_item_open"]
    assert block_kinds(tokens) == [*item, "paragraph_open"] if one_line(text) else item
    tokens = parse(f"Before\n{inline(text)}\n")
    assert block_kinds(tokens) == ["paragraph_open"]
    (paragraph,) = [token for token in tokens if token.type == "inline"]
    assert plain(paragraph) == f"Before\n{one_line(text)}".rstrip()
    assert markup(paragraph) == []


@pytest.mark.parametrize("text", TEXTS, ids=IDS)
def test_a_block_is_paragraphs_of_its_lines_between_the_headings_around_it(text):
    body = block(text)
    tokens = parse(f"## Context\n\n{body}\n\n## Decision\n")
    kinds = block_kinds(tokens)
    assert kinds[0] == "heading_open:h2"
    assert kinds[-1] == "heading_open:h2"
    assert set(kinds[1:-1]) <= {"paragraph_open"}
    paragraphs = [token for token in tokens if token.type == "inline"][1:-1]
    assert all(markup(paragraph) == [] for paragraph in paragraphs)
    shown = [line for p in paragraphs for line in plain(p).split("\n")]
    typed = [one_line(line) for line in text.splitlines() if one_line(line)]
    assert [one_line(line) for line in shown] == typed


def test_a_block_keeps_line_breaks_blank_lines_and_indentation():
    assert block("first\n\n\n  second\nthird  \n\n") == "first\n\n\u00a0\u00a0second\nthird"
    assert block("\tindented") == "\u00a0" * 4 + "indented"
    assert block("") == ""
    assert block(" \n\t\n") == ""


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("Fix [/] closing tag", "Fix \\[/\\] closing tag"),
        ("a | b", "a \\| b"),
        ("#1 ## closing ##", "\\#1 \\#\\# closing \\#\\#"),
        ("<b>bold</b>", "\\<b>bold\\</b>"),
        ("R&D &amp; &#x41;", "R&D \\&amp; &\\#x41;"),
        ("snake_case _em_", "snake_case \\_em\\_"),
        ("- item", "\\- item"),
        ("12. twelve", "12\\. twelve"),
        ("Bob O'Brien", "Bob O'Brien"),
        ("Zoë Ångström", "Zoë Ångström"),
        ("line one\nline two", "line one line two"),
    ],
)
def test_inline_escapes_only_what_could_be_markup(text, escaped):
    assert inline(text) == escaped


MARKDOWN_HEAVY = st.text(
    st.one_of(st.sampled_from(list("#*_[]()<>|`~$&;\\!-+=:.19 \n\t\u00a0ab")), st.characters())
)
"""Text made mostly of the characters Markdown gives a meaning to."""


@given(MARKDOWN_HEAVY)
def test_any_text_stays_text(text):
    tokens = parse(f"# {inline(text)}\n\n{block(text)}\n\n## End\n")
    kinds = block_kinds(tokens)
    assert kinds[0] == "heading_open:h1"
    assert kinds[-1] == "heading_open:h2"
    assert set(kinds[1:-1]) <= {"paragraph_open"}
    assert all(markup(token) == [] for token in tokens if token.type == "inline")


# The marker


def test_a_sealed_document_ends_with_its_marker_and_reads_as_untouched():
    text = marker.seal("# 1. A\n\nBody.\n", "s-1", "dec-1")
    lines = text.split("\n")
    assert lines[-3:-1] == ["", lines[-2]]
    assert lines[-2].startswith("<!-- pairup: session=s-1 decision=dec-1 digest=")
    found = marker.read(text)
    assert found is not None
    assert found.marker.session_id == "s-1"
    assert found.marker.decision_id == "dec-1"
    assert found.content == "# 1. A\n\nBody.\n\n"
    assert found.untouched


def test_the_record_marker_names_no_decision():
    found = marker.read(marker.seal("# Session record\n", "s-1", None))
    assert found is not None
    assert found.marker.decision_id is None
    assert found.untouched


def test_an_edit_above_the_marker_is_seen_and_line_ends_or_trailing_blanks_are_not():
    text = marker.seal("# 1. A\n\n## Status\n\nProposed\n", "s", "d")
    edited = marker.read(text.replace("Proposed", "Accepted"))
    assert edited is not None
    assert not edited.untouched
    for same in (text.replace("\n", "\r\n"), text + "\n\n", text.rstrip("\n")):
        found = marker.read(same)
        assert found is not None
        assert found.untouched


def test_a_marker_from_before_digests_is_read_without_one():
    found = marker.read("# 1. A\n\n<!-- pairup: session=s decision=d -->\n")
    assert found is not None
    assert found.marker == marker.Marker("s", "d", None)
    assert not found.untouched


def test_only_the_last_line_is_a_marker():
    forged = "<!-- pairup: session=s decision=other -->"
    assert marker.read(f"# A\n\n{forged}\n\nMore text after it.\n") is None
    text = marker.seal(f"# A\n\n{forged}\n", "s", "mine")
    found = marker.read(text)
    assert found is not None
    assert found.marker.decision_id == "mine"
    assert marker.read("<!-- pairup: session=s decision=d --> and more\n") is None


@pytest.mark.parametrize(
    "forged",
    [
        "<!-- pairup: session=s decision=d -->",
        "<!-- pairup: session=s record -->",
        "x\n<!-- pairup: session=s decision=d digest=0123456789abcdef -->",
    ],
)
def test_participant_text_cannot_forge_a_marker(forged):
    assert marker.read(f"# {inline(forged)}\n") is None
    assert marker.read(f"# A\n\n{block(forged)}\n") is None
