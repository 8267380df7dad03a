"""The decision form's syntax for options and drivers: what people type, read back exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.tui.considered import (
    MOST,
    Considered,
    Problem,
    drivers_text,
    options_text,
    parse_drivers,
    parse_options,
)
from pairup.tui.shown import OptionRow

# One line of the form's text: what the screen shows of anything (control characters are
# pictures by then), no line breaks, and no blanks at either end (the form strips them).
LINE = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)
POINTS = st.lists(LINE, max_size=4).map(tuple)


@st.composite
def considered(draw: st.DrawFn) -> Considered:
    names = draw(st.lists(LINE, max_size=6, unique=True))
    options = tuple(OptionRow(name, draw(POINTS), draw(POINTS)) for name in names)
    chosen = draw(st.sampled_from(["", *names]))
    return Considered(options, chosen)


@given(considered())
def test_options_read_back_as_they_were_written(weighed: Considered) -> None:
    assert parse_options(options_text(weighed)) == weighed


@given(st.lists(LINE, max_size=MOST).map(tuple))
def test_drivers_read_back_as_they_were_written(drivers: tuple[str, ...]) -> None:
    assert parse_drivers(drivers_text(drivers)) == drivers


def test_a_few_keystrokes_name_the_options_their_pros_and_cons_and_the_one_chosen() -> None:
    typed = "SQLite\n+ one file\n-one more to back up\n\n* Postgres\n  + we know it  \n"
    assert parse_options(typed) == Considered(
        (
            OptionRow("SQLite", ("one file",), ("one more to back up",)),
            OptionRow("Postgres", ("we know it",)),
        ),
        "Postgres",
    )


def test_a_name_starting_with_a_mark_is_written_after_a_backslash() -> None:
    weighed = Considered((OptionRow("-5 degrees"), OptionRow("* star"), OptionRow("\\x")), "* star")
    text = options_text(weighed)
    assert text == "\\-5 degrees\n* \\* star\n\\\\x"
    assert parse_options(text) == weighed


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("+ fast\nSQLite", "line 1: a pro (+) goes under the option it speaks of"),
        ("SQLite\n\n-", "line 3: a con (-) needs its words"),
        ("* SQLite\n* Postgres", "line 2: only one option is chosen (*), and SQLite is already"),
        ("SQLite\nPostgres\n SQLite ", "line 3: SQLite is named twice"),
        ("x" * 201, "line 1: an option's name is at most 200 characters (this one has 201)"),
        ("*", "line 1: an option needs a name"),
        ("SQLite\n+ " + "y" * 2001, "line 2: a pro (+) is at most 2000 characters"),
        ("\n".join(f"option {n}" for n in range(21)), "line 21: at most 20 options"),
    ],
)
def test_a_mistake_says_what_and_on_which_line(typed: str, said: str) -> None:
    with pytest.raises(Problem) as raised:
        parse_options(typed)
    assert str(raised.value).startswith(said)


def test_drivers_are_one_a_line_and_short() -> None:
    assert parse_drivers(" speed \n\nno server\n") == ("speed", "no server")
    with pytest.raises(Problem, match="line 2: a driver is at most 200 characters"):
        parse_drivers("speed\n" + "z" * 201)
    with pytest.raises(Problem, match="line 21: at most 20 drivers"):
        parse_drivers("\n".join(f"driver {n}" for n in range(21)))
