"""The one duration parser: "90s", "15m", "1h30m"; never a bare number."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.duration import DurationError, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("1h30m", 5400), ("1h", 3600), ("2m5s", 125), (" 1H 5M ", 3900)],
)
def test_reads_hours_minutes_and_seconds(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "m", "1m1h", "1.5h", "15 minutes", "-1m", "1m1m", "1d"])
def test_refuses_anything_else_with_an_example_of_what_works(text):
    with pytest.raises(DurationError, match=r"expected a duration like 90s, 15m or 1h30m"):
        parse_duration(text)


@given(st.integers(0, 10 * 24 * 3600))
def test_formatting_reads_back_as_the_same_seconds(seconds):
    assert parse_duration(format_duration(seconds)) == seconds


def test_formats_in_the_shortest_form():
    assert [format_duration(s) for s in (0, 59, 60, 5400, 3601)] == [
        "0s",
        "59s",
        "1m",
        "1h30m",
        "1h1s",
    ]
