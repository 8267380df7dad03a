"""What a terminal is given of a participant's text: every character, none obeyed."""

import re

from hypothesis import given
from hypothesis import strategies as st

from pairup.printable import bidi_named, printable, printable_block
from tests.hostile import CORPUS

OBEYED = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
"""Characters a terminal acts on, or reorders text by, or cannot encode."""


@given(st.text())
def test_nothing_a_terminal_would_act_on_survives_on_one_line(text: str) -> None:
    assert not OBEYED.search(printable(text))


@given(st.text())
def test_several_lines_keep_line_breaks_and_tabs_and_nothing_else_a_terminal_acts_on(
    text: str,
) -> None:
    shown = printable_block(text)
    assert not OBEYED.search(shown.replace("\n", "").replace("\t", ""))
    assert shown.count("\n") == text.replace("\r\n", "\n").count("\n") + text.count(
        "\u2028"
    ) + text.count("\u2029")


@given(st.text(st.characters(blacklist_categories=("Cc", "Cs"))))
def test_ordinary_text_is_shown_exactly_as_typed(text: str) -> None:
    if not OBEYED.search(text):
        assert printable(text) == text
        assert printable_block(text) == text


def test_each_kind_of_control_has_a_visible_stand_in() -> None:
    assert printable(CORPUS["osc 52 clipboard"]) == "␛]52;c;cm0gLXJmIH4K␇copied"
    assert printable("\x9b31m") == "⟨U+009B⟩31m"
    assert printable("\u202etxt.exe") == "⟨RLO⟩txt.exe"
    assert printable("one\ntwo\tthree") == "one␊two three"
    assert printable("half \ud800") == "half \ufffd"
    assert printable_block("one\r\ntwo\x07") == "one\ntwo␇"


def test_a_document_gets_bidi_controls_by_name_and_nothing_else_changed() -> None:
    assert bidi_named("\u202etxt.exe\u202c \x1b x") == "⟨RLO⟩txt.exe⟨PDF⟩ \x1b x"
