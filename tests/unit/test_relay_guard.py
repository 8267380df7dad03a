"""The relay's guards that meet the process: failures said once; and its limits read from
``--limit NAME=VALUE`` (ADR 25). The budgets and the doorway are in tests/unit/relay."""

import logging
import re
import sys
from pathlib import Path

import pytest

from pairup.relay.guard import AcceptErrors, StoreTrouble
from pairup.relay.limits import LimitError, Limits, parse_limits
from pairup.relay.store import StoreError, StoreFull


def test_asyncios_accept_error_is_one_line_a_minute_without_its_traceback():
    now = [0.0]
    quiet = AcceptErrors(60.0, clock=lambda: now[0])

    def record(message: str) -> logging.LogRecord:
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            return logging.LogRecord("asyncio", logging.ERROR, "", 0, message, (), sys.exc_info())

    first = record("socket.accept() out of system resource\nsocket: <...>")
    assert quiet.filter(first)
    assert first.exc_info is None
    assert "\n" not in first.getMessage()
    assert "file limit" in first.getMessage()
    assert not quiet.filter(record("socket.accept() out of system resource"))
    now[0] = 61.0
    assert quiet.filter(record("socket.accept() out of system resource"))
    other = record("Task exception was never retrieved")
    assert quiet.filter(other)
    assert other.exc_info is not None


def test_a_failing_store_is_said_once_until_it_is_over(caplog):
    caplog.set_level(logging.INFO)
    trouble = StoreTrouble(logging.getLogger("test.relay"))
    full = StoreFull(f"{Path('/srv/relay.sqlite3')}: cannot append events: the disk is full")
    for _ in range(3):
        trouble.report(full)
    trouble.report(StoreError("/srv/relay.sqlite3: cannot append events: disk I/O error"))
    trouble.over()
    trouble.over()
    trouble.report(full)
    assert [record.levelname for record in caplog.records] == [
        "ERROR",
        "ERROR",
        "WARNING",
        "ERROR",
    ]
    assert trouble.reason == (
        "the relay's disk is full: your pairup keeps your events and sends them again"
    )


def test_limits_are_read_from_name_value_pairs_in_numbers_or_durations():
    limits = parse_limits(["burst=100", "hello-timeout=90s", "unused_session_seconds=2h"])
    assert (limits.burst, limits.hello_timeout, limits.unused_session_seconds) == (100, 90, 7200)
    assert parse_limits([]) == Limits()


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("burst", "expected NAME=VALUE, e.g. burst=100"),
        ("bursts=3", "no limit is called bursts; did you mean burst?"),
        ("burst=2.5", "expected a whole number"),
        ("hello_timeout=soon", "expected seconds (a number, or a duration like 90s or 1h)"),
        ("messages_per_second=0", "expected a number above 0"),
        ("session_byte_burst=1024", "at least 49152"),
    ],
)
def test_a_limit_that_cannot_be_used_says_why(given, said):
    with pytest.raises(LimitError, match=re.escape(said)):
        parse_limits([given])
