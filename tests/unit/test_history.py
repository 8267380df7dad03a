"""The history's pure parts: a session's facts from its log, their cache form, the figures
``stats`` makes of them, blame's porcelain, ``--since``, and the text each output writes."""

import itertools
import math
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pairup.history.extract import sitting
from pairup.history.facts import Sitting, Span, from_json, to_json
from pairup.history.git import parse_porcelain
from pairup.history.report import mermaid_label, render_markdown, render_text
from pairup.history.since import SinceError, parse_since
from pairup.history.stats import by_week, compute, overlap, pair_times, union
from pairup.history.text import bar, cells, cut, shown, table
from pairup.history.why import line_ranges
from pairup.session import events as ev
from tests.export_kit import T0, Clock
from tests.hostile import CORPUS
from tests.unit.session.strategies import session_logs

SHA_A = "a" * 40
SHA_B = "b" * 40
ANN = ev.Participant(id="ann", name="Ann", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob", email="bob@example.test")
CAROL = ev.Participant(id="carol", name="Carol", email="")


def pairing() -> list[ev.Event]:
    """Ann and Bob, Carol for a while; a decision and a commit recorded at the same moment
    (the log's order tells which came first), a break, a superseded decision."""
    clock = Clock()
    return [
        clock(ev.ParticipantJoined, 0, participant=ANN),
        clock(
            ev.SessionOpened,
            0,
            settings=ev.SessionSettings(turn_seconds=600, break_every=1, break_seconds=60),
        ),
        clock(ev.ParticipantJoined, 100, actor="bob", participant=BOB),
        clock(ev.TurnStarted, 100, turn=1),
        clock(ev.ParticipantJoined, 200, actor="carol", participant=CAROL),
        clock(ev.DecisionRecorded, 300, decision_id="dec-00000001", title="One"),
        clock(
            ev.CommitRecorded,
            300,
            sha=SHA_A,
            summary="A",
            author=ev.Person(name="Ann", email="ann@example.test"),
            co_authors=(ev.Person(name="Bob", email="bob@example.test"),),
        ),
        clock(ev.ParticipantLeft, 400, actor="carol", participant_id="carol"),
        clock(ev.RolesRotated, 700, turn=1),
        clock(ev.BreakEnded, 760, turn=2),
        clock(ev.DecisionRecorded, 800, actor="bob", decision_id="dec-00000002", title="Two"),
        clock(ev.DecisionOpinion, 810, decision_id="dec-00000002", stance="object"),
        clock(ev.DecisionRecorded, 820, actor="bob", decision_id="dec-00000003", title="Three"),
        clock(
            ev.DecisionSuperseded, 830, actor="bob", decision_id="dec-00000002", by="dec-00000003"
        ),
        clock(ev.DecisionOpinion, 840, actor="bob", decision_id="dec-00000001", stance="agree"),
        clock(
            ev.CommitRecorded,
            900,
            actor="bob",
            sha=SHA_B,
            summary="B",
            author=ev.Person(name="Bob", email="bob@example.test"),
        ),
        clock(ev.LessonNoted, 950, actor="bob", text="Breaks help."),
        clock(ev.SessionEnded, 1000),
    ]


def test_the_facts_of_a_session() -> None:
    facts = sitting("s-one", pairing(), "/repo")

    assert facts is not None
    assert (facts.started, facts.ended, facts.length) == (T0, T0 + 1000, 1000)
    assert [(m.id, m.name) for m in facts.members] == [
        ("ann", "Ann"),
        ("bob", "Bob"),
        ("carol", "Carol"),
    ]
    assert facts.presence == (
        Span("ann", T0, T0 + 1000),
        Span("bob", T0 + 100, T0 + 1000),
        Span("carol", T0 + 200, T0 + 400),
    )
    assert facts.driving == (Span("ann", T0 + 100, T0 + 700), Span("bob", T0 + 760, T0 + 1000))
    assert (facts.turns, facts.breaks, facts.lessons, facts.events) == (2, 1, 1, 18)
    one, two, three = facts.decisions
    assert (one.agreed, two.objected, two.status, two.superseded_by) == (
        ("bob",),
        ("ann",),
        "superseded",
        "dec-00000003",
    )
    first, second = facts.commits
    assert facts.decisions_before(first) == [one], "recorded at the same moment, but before"
    assert facts.decisions_before(second) == [one, two, three]
    assert facts.commits_after(one) == [first, second]
    assert facts.commits_after(three) == [second]
    assert facts.repository == "/repo"


def test_a_log_with_no_events_has_no_facts() -> None:
    assert sitting("s-none", []) is None


@given(session_logs(max_events=40))
def test_facts_read_back_from_the_cache_as_they_were(log: list[ev.Event]) -> None:
    facts = sitting("s-any", log, "/r")
    if facts is not None:
        assert from_json(to_json(facts)) == facts


@given(session_logs(max_events=60))
def test_pair_time_never_exceeds_the_session(log: list[ev.Event]) -> None:
    facts = sitting("s-any", log)
    if facts is None or facts.length is None:
        return
    for seconds in pair_times(facts).values():
        assert 0 < seconds <= facts.length + 1e-6


@given(session_logs(max_events=60))
def test_each_weeks_driving_shares_add_up_to_all_of_it(log: list[ev.Event]) -> None:
    facts = sitting("s-any", log)
    if facts is None:
        return
    stats = compute([facts], {})
    for week in stats.weeks:
        shares = stats.shares(week)
        if sum(stats.weeks[week].values()) > 0:
            assert math.isclose(sum(shares.values()), 1.0)
            assert all(0 <= share <= 1 for share in shares.values())


times = st.floats(T0 - 1e8, T0 + 1e8, allow_nan=False)


@given(times, st.floats(0, 1e7, allow_nan=False))
def test_the_weeks_of_a_stretch_add_up_to_it(start: float, seconds: float) -> None:
    parts = by_week(start, start + seconds)
    assert math.isclose(sum(part for _, part in parts), seconds, abs_tol=1e-3)
    assert len({week for week, _ in parts}) == len(parts)
    assert all(re.fullmatch(r"\d{4}-W\d{2}", week) for week, _ in parts)


spans = st.lists(
    st.tuples(times, st.floats(0, 1e5, allow_nan=False)).map(
        lambda pair: Span("p", pair[0], pair[0] + pair[1])
    ),
    max_size=8,
)


@given(spans, spans)
def test_overlap_is_within_both_and_the_same_either_way(
    mine: list[Span], theirs: list[Span]
) -> None:
    first, second = union(mine), union(theirs)
    together = overlap(first, second)
    assert together == pytest.approx(overlap(second, first))
    assert together <= sum(s.end - s.start for s in first) + 1e-3
    assert together <= sum(s.end - s.start for s in second) + 1e-3
    assert all(a.end < b.start for a, b in itertools.pairwise(first))


def test_porcelain_reads_headers_not_content() -> None:
    """A line of the file that looks like a header is content: it follows a tab."""
    text = (
        f"{SHA_A} 1 1 2\nauthor Ann\nauthor-mail <ann@example.test>\nauthor-time 1795683600\n"
        "committer-time 1795683600\nsummary First\nfilename f\n"
        f"\t{SHA_B} 9 9 9\n"
        f"{SHA_A} 2 2\n\tsecond\n"
        f"{'0' * 40} 3 3 1\nauthor Not Committed Yet\ncommitter-time 1800000000\n"
        "summary Version of f from f\nfilename f\n\tthird\n"
        f"{SHA_B} 1 4 1\nauthor Bob\nauthor-mail <bob@example.test>\nauthor-time 1795690000\n"
        "committer-time 1795690000\nsummary Second\nfilename f\n\tfourth\n"
    )

    uncommitted, newer, older = parse_porcelain(text)

    assert not uncommitted.committed
    assert (newer.sha, newer.lines, newer.author_mail) == (SHA_B, [4], "bob@example.test")
    assert (older.sha, older.lines, older.summary) == (SHA_A, [1, 2], "First")


def test_porcelain_reads_only_ascii_digits_as_times() -> None:
    """``"²".isdigit()`` is true and ``int("²")`` fails: a time git never writes is no time."""
    text = f"{SHA_A} 1 1 1\nauthor-time \u00b2\ncommitter-time 1\u00b2\nsummary S\n\tline\n"

    (blamed,) = parse_porcelain(text)

    assert (blamed.author_time, blamed.committer_time, blamed.summary) == (0, 0, "S")


def test_line_ranges() -> None:
    assert line_ranges([3, 1, 2, 7, 9, 10]) == "1-3, 7, 9-10"
    assert line_ranges(range(1, 40, 2)).endswith("and 14 more ranges")


def test_since_reads_days_and_times_ago() -> None:
    now = 1_800_000_000.0
    assert parse_since("2w", now) == now - 14 * 86_400
    assert parse_since("3d", now) == now - 3 * 86_400
    assert parse_since("12h", now) == now - 12 * 3600
    assert parse_since(" 1h30m ", now) == now - 5400
    assert parse_since("2026-11-02", now) > 1_790_000_000
    for bad in ("yesterday", "2026-13-40", "3", "-2w", ""):
        with pytest.raises(SinceError, match="--since"):
            parse_since(bad, now)


@pytest.mark.parametrize(
    "text", ["\u00b2w", "\u0663d", "\u0662\u0660\u0662\u0666-11-02", "1h\u0663m"]
)
def test_since_reads_only_ascii_digits(text: str) -> None:
    """Other scripts' digits (``٣``) and superscripts (``²``) are refused with the examples,
    not read as a number nor called "not a day of the calendar"."""
    with pytest.raises(SinceError, match="expected a day like 2026-11-02"):
        parse_since(text, 1_800_000_000.0)


def test_cells_count_what_a_terminal_shows() -> None:
    assert cells("abc") == 3
    assert cells("決定") == 4
    assert cells("e\u0301") == 1
    assert cells("zero\u200bwidth") == 9
    assert cut("決定する設定", 5) == "決定…"
    assert cut("short", 10) == "short"
    assert bar(0.5, 10) == "█████·····"
    assert bar(0.25, 1) == "▎"


@given(st.lists(st.lists(st.text(max_size=30), min_size=3, max_size=3), max_size=6))
def test_a_table_fits_its_width(rows: list[list[str]]) -> None:
    text = table(("A", "B", "C"), [[shown(cell) for cell in row] for row in rows], width=40)
    assert all(cells(line) <= 40 for line in text.splitlines())


@pytest.mark.parametrize("key", list(CORPUS))
def test_a_mermaid_label_is_only_text(key: str) -> None:
    label = mermaid_label(CORPUS[key], 3)
    assert not set(label) & set(':"`%#;<>')
    assert not [c for c in label if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert 0 < len(label) <= 40
    assert label == label.strip()


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("An\u0144", "An\u0144"),
        ("Ann\u0301", "An\u0144"),
        ("Zoe\u0308 O\u2019Brien-Smith", "Zo\u00eb O\u2019Brien-Smith"),
        ("q\u0303uentin", "q\u0303uentin"),
        (
            "\u6c7a\u5b9a \u0627\u0644\u0645\u0647\u0646\u062f\u0633",
            "\u6c7a\u5b9a \u0627\u0644\u0645\u0647\u0646\u062f\u0633",
        ),
        ("Ann [lead] {ops} \\ 100$", "Ann [lead] {ops} \\ 100$"),
        (
            'a:b"c`d%e#f;g<h>i\nj\u202ek\u0007l\u200bm',
            "a b c d e f g h i j\u27e8RLO\u27e9k\u2407lm",
        ),
    ],
)
def test_a_mermaid_label_keeps_what_people_write(name: str, label: str) -> None:
    """Letters keep their marks, composed first (NFC: ``n`` and U+0301 are ``ń``); what
    mermaid reads becomes a space, a control its visible name as everywhere in the Markdown
    (a zero-width one goes)."""
    assert mermaid_label(name, 1) == label


def test_stats_outputs_say_nobody_when_nothing_happened() -> None:
    stats = compute([], {})
    assert render_text(stats, 80) == "no sessions to count"
    assert "_None._" in render_markdown(stats)


def test_stats_of_one_session() -> None:
    facts = sitting("s-one", pairing())
    assert isinstance(facts, Sitting)
    stats = compute([facts], {SHA_A: ["src/a.py", "README.md"], SHA_B: ["src/b.py"]})

    ann, bob, carol = "email:ann@example.test", "email:bob@example.test", "name:carol"
    assert {(p.first, p.second): p.seconds for p in stats.pairs} == {
        (ann, bob): 900,
        (ann, carol): 200,
        (bob, carol): 200,
    }
    assert {item.directory: item.people for item in stats.spread} == {
        ".": (ann, bob),
        "src": (ann, bob),
    }
    (week,) = stats.weeks
    assert stats.weeks[week] == {ann: 600, bob: 240}
    text = render_text(stats, 100)
    assert "Ann     Bob         15m         1" in text.splitlines()
    assert "2026-W48  Ann  " in text
