"""The export's renderers: each format against golden files, and the rules that keep them readable.

Golden files pin the exact bytes of every document for one realistic session on a fake clock.
After an intended change, rewrite them with ``PAIRUP_UPDATE_GOLDEN=1 pytest`` and read the diff.
"""

import dataclasses
import datetime
import difflib
import itertools
import os
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from pairup.adr import lifecycle, marker
from pairup.adr.lifecycle import Ref
from pairup.adr.render import (
    FORMATS,
    PLACEHOLDER,
    Attendee,
    SessionFacts,
    decision_links,
    duration,
    facts,
    gantt,
    lifecycle_format,
    render_decision,
    render_json,
    render_record,
    slug,
)
from pairup.session import events as ev
from pairup.session import fold
from pairup.session.state import Opinion, State
from tests.hostile import CORPUS, NAMEABLE, fit
from tests.markdown_reading import headings, named, one_line, parse

GOLDEN = Path(__file__).parent.parent / "golden" / "export"
T0 = 1_795_683_600  # 2026-11-26 09:00 UTC
SESSION = "s-2026-11-26-export"

ANN = ev.Participant(id="ann", name="Ann Lee", email="ann@example.test")
BOB = ev.Participant(id="bob", name="Bob O'Brien", email="bob@example.test")
ZOE = ev.Participant(id="zoe", name="Zoë Ångström", email="zoe@example.test")
SHA_1 = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d"
SHA_2 = "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b"


class Log:
    """Events with increasing ids, ``at`` seconds after ``T0`` on the fake clock."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)

    def __call__(self, cls: type, at: float, actor: str = "ann", **fields: object) -> ev.Event:
        return cls(id=f"evt-{next(self.ids):06d}", actor=actor, at=T0 + at, **fields)


def person(participant: ev.Participant) -> ev.Person:
    return ev.Person(name=participant.name, email=participant.email)


def realistic_log() -> list[ev.Event]:
    """Three people, three 15-minute turns with a break before the third, three decisions (one
    amended to accepted, one left empty and taken while Bob was away), two co-authored commits,
    one lesson, and in the third turn five minutes added, the driver away and a pause."""
    log = Log()
    return [
        log(
            ev.SessionOpened,
            0,
            title="Export: ADRs & the session record",
            settings=ev.SessionSettings(turn_seconds=900, break_seconds=300),
        ),
        log(ev.ParticipantJoined, 0, participant=ANN),
        log(ev.ParticipantJoined, 20, actor="bob", participant=BOB),
        log(ev.ParticipantJoined, 40, actor="zoe", participant=ZOE),
        log(ev.TurnStarted, 60, turn=1),
        log(
            ev.DecisionRecorded,
            420,
            decision_id="dec-wal-0001",
            title='Use SQLite (WAL) — not Postgres?! "#1": 100% «sure» | ok',
            context="The relay must survive restarts.\nOne machine, one file: no server to run.",
            decision="Keep the relay's store in SQLite, in WAL mode.",
            consequences="Backups are a file copy.\n\nWrites are serialised per database.",
        ),
        log(ev.RolesRotated, 960, turn=1),
        log(
            ev.DecisionRecorded,
            1200,
            actor="bob",
            decision_id="dec-clock-0002",
            title="The relay's clock is the session's clock",
            context="Laptops disagree on the time by seconds.",
            decision="Every event is timed by the relay's stamp.",
            consequences="Clients estimate their offset to the relay.",
        ),
        log(
            ev.CommitRecorded,
            1500,
            actor="bob",
            sha=SHA_1,
            summary="Relay stamps every event with its clock",
            author=person(BOB),
            co_authors=(person(ANN), person(ZOE)),
        ),
        log(ev.BreakStarted, 1700, actor="bob", turn=2),
        log(ev.BreakEnded, 2000, actor="zoe", turn=3),
        log(ev.ParticipantAway, 2050, actor="bob", participant_id="bob"),
        log(ev.DecisionRecorded, 2100, actor="zoe", decision_id="dec-retry-0003", title="Retry"),
        log(ev.ParticipantBack, 2150, actor="bob", participant_id="bob"),
        log(ev.DecisionAmended, 2200, actor="bob", decision_id="dec-clock-0002", status="accepted"),
        log(ev.TimerExtended, 2300, actor="bob", turn=3, seconds=300),
        log(ev.ParticipantAway, 2400, actor="ann", participant_id="zoe"),
        log(ev.ParticipantBack, 2530, actor="zoe", participant_id="zoe"),
        log(
            ev.CommitRecorded,
            2600,
            actor="zoe",
            sha=SHA_2,
            summary="Export drafts ADRs from the session's decisions",
            author=person(ZOE),
            co_authors=(person(ANN), person(BOB)),
        ),
        log(ev.LessonNoted, 2700, actor="bob", text="Write the golden files before the code."),
        log(ev.TimerPaused, 2750, actor="zoe", turn=3),
        log(ev.TimerResumed, 2795, actor="zoe", turn=3),
        log(ev.SessionEnded, 2900, actor="ann"),
    ]


def quiet_log(log: Log) -> list[ev.Event]:
    """A session still running: no decisions, commits or lessons, and one person who left."""
    return [
        log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=600)),
        log(ev.ParticipantJoined, 0, participant=ANN),
        log(ev.ParticipantJoined, 10, actor="bob", participant=BOB),
        log(ev.TurnStarted, 30, turn=1),
        log(ev.TurnSkipped, 330, turn=1),
        log(ev.ParticipantLeft, 400, actor="ann", participant_id="ann"),
    ]


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with the golden file ``name``, or rewrite it when asked to."""
    path = GOLDEN / name
    if os.environ.get("PAIRUP_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
        return
    if not path.exists():
        pytest.fail(f"no golden file {name}; write it with PAIRUP_UPDATE_GOLDEN=1")
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"golden/{name}",
            tofile="rendered",
        )
        pytest.fail("rendered output differs from the golden file:\n" + "".join(diff))


HERE = frozenset({SHA_1})
"""The commits the exporting repository holds: SHA_2 was made in another clone."""


def drafts(state: State, fmt: str) -> dict[str, str]:
    """Every decision of ``state`` as the file the export writes, by the file name it uses."""
    info = facts(state, SESSION)
    rendered = {}
    for decision in state.decisions_in_order():
        after = [c for c in state.commits_in_order() if c.at >= decision.proposed_at]
        text = render_decision(
            fmt, decision, decision.number, info, commits=after, in_this_repository=HERE
        )
        rendered[f"{decision.number:04d}-{slug(decision.title)}.md"] = marker.seal(
            text, SESSION, decision.id
        )
    return rendered


@pytest.fixture(scope="module")
def state() -> State:
    return fold(realistic_log())


def front_matter(text: str) -> object:
    lines = text.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end]))


# Golden files


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_matches_its_golden_files(state, fmt):
    rendered = drafts(state, fmt)
    assert len(rendered) == 3
    for name, text in rendered.items():
        check_golden(f"{fmt}/{name}", text)


def life_log() -> list[ev.Event]:
    """A decision's every state: one weighed with drivers, options, pros and cons and
    opinions, then superseded by a later one; one accepted, one rejected, one deprecated."""
    log = Log()
    sqlite = ev.ConsideredOption(
        name="SQLite in WAL mode",
        pros=("One file to back up", "No server to run"),
        cons=("Writes are serialised",),
    )
    postgres = ev.ConsideredOption(
        name="Postgres", pros=("Concurrent writers",), cons=("A server to run and upgrade",)
    )
    flat = ev.ConsideredOption(name="Flat files")
    return [
        log(ev.SessionOpened, 0, title="A decision's life"),
        log(ev.ParticipantJoined, 0, participant=ANN),
        log(ev.ParticipantJoined, 20, actor="bob", participant=BOB),
        log(ev.ParticipantJoined, 40, actor="zoe", participant=ZOE),
        log(ev.TurnStarted, 60, turn=1),
        log(
            ev.DecisionRecorded,
            120,
            decision_id="dec-store-0001",
            title="Keep the session log in SQLite",
            context="The relay must not lose an acknowledged event.",
            decision="it is one file and survives a restart.",
            consequences="Backups are a file copy.",
            drivers=("No lost events", "Nothing more to operate"),
            options=(sqlite, postgres, flat),
            chosen="SQLite in WAL mode",
        ),
        log(
            ev.DecisionOpinion,
            130,
            actor="bob",
            decision_id="dec-store-0001",
            stance="agree",
            why="We run one relay per team.",
        ),
        log(
            ev.DecisionOpinion,
            140,
            actor="zoe",
            decision_id="dec-store-0001",
            stance="object",
            why="Two relays will need one store.",
        ),
        log(
            ev.DecisionRecorded,
            200,
            actor="bob",
            decision_id="dec-clock-0002",
            title="The relay's clock is the session's clock",
        ),
        log(ev.DecisionAmended, 210, actor="bob", decision_id="dec-clock-0002", status="accepted"),
        log(
            ev.DecisionRecorded,
            300,
            actor="zoe",
            decision_id="dec-poll-0003",
            title="Poll the relay every second",
        ),
        log(ev.DecisionAmended, 310, actor="zoe", decision_id="dec-poll-0003", status="rejected"),
        log(ev.DecisionRecorded, 400, decision_id="dec-json-0004", title="Send frames as JSON"),
        log(ev.DecisionAmended, 410, decision_id="dec-json-0004", status="deprecated"),
        log(
            ev.DecisionRecorded,
            500,
            decision_id="dec-pg-0005",
            title="Keep the session log in Postgres",
            decision="Two relays share one Postgres.",
            options=(sqlite, postgres),
            chosen="Postgres",
        ),
        log(ev.DecisionOpinion, 510, actor="zoe", decision_id="dec-pg-0005", stance="agree"),
        log(ev.DecisionSuperseded, 520, decision_id="dec-store-0001", by="dec-pg-0005"),
        log(ev.SessionEnded, 900),
    ]


def life_drafts(state: State, fmt: str) -> dict[str, str]:
    """Every decision of ``state`` as the export writes it, supersede links included, under
    the file names the export gives (log4brains' by date)."""
    info = facts(state, SESSION)
    names = {
        d.id: f"20261126-{slug(d.title)}.md"
        if fmt == "log4brains"
        else f"{d.number:04d}-{slug(d.title)}.md"
        for d in state.decisions_in_order()
    }
    links = decision_links(
        state, fmt, {d.id: (d.number, names[d.id]) for d in state.decisions_in_order()}
    )
    return {
        names[d.id]: marker.seal(
            render_decision(fmt, d, d.number, info, commits=[], links=links[d.id]), SESSION, d.id
        )
        for d in state.decisions_in_order()
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_state_of_a_decision_matches_its_golden_files(fmt):
    state = fold(life_log())
    rendered = life_drafts(state, fmt)
    assert len(rendered) == 5
    for name, text in rendered.items():
        check_golden(f"life/{fmt}/{name}", text)
    record = render_record(state, facts(state, SESSION), {}, now=T0 + 999)
    check_golden("life/record.md", marker.seal(record, SESSION, None))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_decision_superseded_in_the_session_reads_as_pairup_adr_supersede_writes_it(fmt):
    """Exporting a supersede gives the text an export without it, then ``pairup adr
    supersede``, would: same status, same links, in both files."""
    state = fold(life_log())
    plain_state = fold([e for e in life_log() if e.kind != "decision.superseded"])
    exported = life_drafts(state, fmt)
    plain = life_drafts(plain_state, fmt)
    old_name = next(name for name in exported if name.endswith("-in-sqlite.md"))
    new_name = next(name for name in exported if name.endswith("-in-postgres.md"))
    numbered = fmt != "log4brains"
    by = Ref(5 if numbered else None, "Keep the session log in Postgres", new_name, new_name[:-3])
    was = Ref(1 if numbered else None, "Keep the session log in SQLite", old_name, old_name[:-3])
    shape = lifecycle_format(fmt)
    by_hand_old = lifecycle.supersede(plain[old_name], shape, by)
    by_hand_new = lifecycle.add_link(plain[new_name], shape, lifecycle.SUPERSEDES, was)
    assert content(exported[old_name]) == content(by_hand_old)
    assert content(exported[new_name]) == content(by_hand_new)


def content(text: str) -> str:
    """A file's text above pairup's marker, and the marker without its digest."""
    return re.sub(r" digest=[0-9a-f]{16} -->", " -->", text)


def test_the_record_matches_its_golden_file(state):
    links = {
        "dec-wal-0001": [
            "../../doc/adr/0001-use-sqlite-wal-not-postgres-1-100-sure-ok.md",
            "../../docs/decisions/0001-use-sqlite-wal-not-postgres-1-100-sure-ok.md",
        ],
        "dec-clock-0002": ["../../doc/adr/0002-the-relay-s-clock-is-the-session-s-clock.md"],
    }
    record = render_record(
        state, facts(state, SESSION), links, now=T0 + 99_999, in_this_repository=HERE
    )
    check_golden("record.md", marker.seal(record, SESSION, None))


def test_a_quiet_unfinished_session_still_has_a_record(state):
    quiet = fold(quiet_log(Log()))
    record = render_record(quiet, facts(quiet, "s-quiet"), {}, now=T0 + 500)
    check_golden("record-quiet.md", record)
    assert "_No decisions were recorded._" in record
    assert "_No commits were recorded._" in record
    assert "- What do we know now that we did not know when we started?" in record
    assert "- Ended: not yet; this record was written at 2026-11-26 09:08 UTC" in record


def test_the_event_log_matches_its_golden_file():
    text = render_json(realistic_log())
    check_golden("events.json", text)
    assert [event.id for event in realistic_log()] == [
        event["id"] for event in yaml.safe_load(text)["events"]
    ]


# What each format promises


def test_the_event_log_leaves_out_the_handovers_package():
    log = Log()
    events = [
        *realistic_log(),
        log(ev.HandoverPart, 3000, handover="hand-0001", index=0, count=1, data="UEFDSw=="),
        log(
            ev.HandoverOffered,
            3001,
            turn=4,
            handover="hand-0001",
            snapshot="a" * 40,
            head="b" * 40,
            parts=1,
            size=5,
            digest="c" * 64,
        ),
        log(ev.HandoverApplied, 3002, actor="bob", handover="hand-0001"),
    ]
    kinds = [event["kind"] for event in yaml.safe_load(render_json(events))["events"]]
    assert "handover.part" not in kinds
    assert kinds[-2:] == ["handover.offered", "handover.applied"]
    assert render_json(events).replace("UEFDSw==", "") == render_json(events)
    assert "UEFDSw==" in render_json(events, with_parts=True)


def test_rendering_is_deterministic(state):
    for fmt in FORMATS:
        assert drafts(state, fmt) == drafts(fold(realistic_log()), fmt)
    info = facts(state, SESSION)
    assert render_record(state, info, {}, T0) == render_record(state, info, {}, T0 + 1)


def test_facts_name_everyone_in_rotation_order_and_the_start_day(state):
    assert facts(state, SESSION) == SessionFacts(
        SESSION,
        (
            Attendee("ann", "Ann Lee"),
            Attendee("bob", "Bob O'Brien"),
            Attendee("zoe", "Zoë Ångström"),
        ),
        "2026-11-26",
    )


def test_a_session_with_no_events_has_no_facts():
    with pytest.raises(ValueError, match="no events"):
        facts(State(), SESSION)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_draft_says_where_it_came_from_and_who_took_the_decision(state, fmt):
    everyone = "Ann Lee, Bob O'Brien and Zoë Ångström"
    by = [everyone, everyone, "Ann Lee and Zoë Ångström"]
    for decision, text, names in zip(
        state.decisions_in_order(), drafts(state, fmt).values(), by, strict=True
    ):
        assert f"on 2026-11-26 by {names} (session `{SESSION}`)" in text
        marked = marker.read(text)
        assert marked is not None
        assert marked.marker == marker.Marker(SESSION, decision.id, marked.marker.digest)
        assert marked.untouched


def test_a_draft_lists_only_the_commits_passed_to_it(state):
    first, _, last = state.decisions_in_order()
    info = facts(state, SESSION)
    commits = state.commits_in_order()
    both = render_decision("adr", first, 1, info, commits=commits)
    assert "- `4f1c2d3` Relay stamps every event with its clock (with Ann Lee, Zoë Ångström)" in (
        both
    )
    assert "- `9a8b7c6` Export drafts ADRs from the session's decisions" in both
    none = render_decision("adr", last, 3, info, commits=[])
    assert "No commits were made in the session after this decision." in none


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_sections_get_a_placeholder(state, fmt):
    empty = state.decisions_in_order()[2]
    text = render_decision(fmt, empty, 3, facts(state, SESSION), commits=[])
    assert text.count(f"\n\n{PLACEHOLDER}\n") == 3


def test_adr_tools_reads_the_number_and_title_from_the_first_line(state):
    decision = state.decisions_in_order()[1]
    text = render_decision("adr", decision, 12, facts(state, SESSION), commits=[])
    assert text.startswith("# 12. The relay's clock is the session's clock\n\nDate: 2026-11-26\n")
    assert "\n## Status\n\nAccepted\n\n## Context\n" in text


def test_madr_front_matter_is_yaml_with_exactly_its_keys(state):
    decision = state.decisions_in_order()[0]
    text = render_decision("madr", decision, 1, facts(state, SESSION), commits=[])
    assert front_matter(text) == {
        "status": "proposed",
        "date": datetime.date(2026, 11, 26),
        "decision-makers": ["Ann Lee"],
        "consulted": ["Bob O'Brien", "Zoë Ångström"],
    }
    assert '\n# Use SQLite (WAL) — not Postgres?! "\\#1": 100% «sure» \\| ok\n' in text
    for heading in ("## Context and Problem Statement", "## Decision Outcome", "### Consequences"):
        assert f"\n{heading}\n" in text


names = st.text(
    st.characters(exclude_categories=["Cc", "Cs"], exclude_characters="<>\u2028\u2029"),
    min_size=1,
    max_size=40,
)
"""Any name a participant can have: control characters, line separators and the angle
brackets of an address are refused when they join."""


@given(st.lists(names, max_size=8))
def test_madr_front_matter_gives_back_any_names_exactly(people):
    state = fold(realistic_log())
    attendees = tuple(Attendee(f"p{index}", name) for index, name in enumerate(people))
    agreeing = attendees[1::2]
    decision = dataclasses.replace(
        state.decisions_in_order()[0],
        proposed_by=attendees[0].id if attendees else "p0",
        present=tuple(person.id for person in attendees),
        opinions=tuple(Opinion(person.id, "agree", "", T0) for person in agreeing),
    )
    info = SessionFacts("s", attendees, "2026-11-26")
    text = render_decision("madr", decision, 1, info, commits=[])
    front = front_matter(text)
    assert front["decision-makers"] == ([people[0], *people[1::2]] if people else ["p0"])
    assert front.get("consulted", []) == people[2::2]


def test_log4brains_metadata_is_its_templates_bullet_list(state):
    decision = state.decisions_in_order()[1]
    text = render_decision("log4brains", decision, 2, facts(state, SESSION), commits=[])
    assert text.startswith(
        "# The relay's clock is the session's clock\n\n"
        "- Status: accepted\n"
        "- Deciders: Ann Lee, Bob O'Brien, Zoë Ångström\n"
        "- Date: 2026-11-26\n\n"
        "## Context and Problem Statement\n"
    )


def test_an_unknown_format_is_refused(state):
    decision = state.decisions_in_order()[0]
    with pytest.raises(ValueError, match="unknown format"):
        render_decision("rst", decision, 1, facts(state, SESSION), commits=[])


def test_the_record_links_exported_adrs_and_says_which_were_not(state):
    links = {"dec-wal-0001": ["docs/adr/0001 use sqlite.md", "doc/adr/[x].md"]}
    record = render_record(state, facts(state, SESSION), links, T0)
    assert (
        "| [docs/adr/0001 use sqlite.md](docs/adr/0001%20use%20sqlite.md), "
        "[doc/adr/\\[x\\].md](doc/adr/%5Bx%5D.md) |"
    ) in record
    assert record.count("| not exported |") == 2
    assert '| 1 | Use SQLite (WAL) — not Postgres?! "\\#1": 100% «sure» \\| ok | proposed |' in (
        record
    )


def test_the_record_shares_the_keyboard_time_out(state):
    record = render_record(state, facts(state, SESSION), {}, T0)
    assert "| Participant | Driving time | Share |" in record
    assert "| Ann Lee | 15 min | 38.1% |" in record
    assert "| Bob O'Brien | 12 min 20 s | 31.3% |" in record
    assert "| Zoë Ångström | 12 min 05 s | 30.7% |" in record
    assert (
        "Spread between the most and the least time at the keyboard: 2 min 55 s "
        "(an even share would be 13 min 08 s each)."
    ) in record


# Mermaid

CHART_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
GANTT_LINE = re.compile(
    r"^(gantt"
    r"|    title Turns, breaks and pauses \(UTC\)"
    r"|    dateFormat YYYY-MM-DD HH:mm:ss"
    r"|    axisFormat %H:%M"
    r"|    section (Turns|Breaks|Pauses)"
    r"|    (?P<name>[^:#;%`\s][^:#;%`]*) "
    rf":(?P<kind>[tbp])(?P<index>\d+), (?P<start>{CHART_TIME}), (?P<end>{CHART_TIME}))$"
)
# What mermaid's gantt lexer would take for something other than task text.
MERMAID_KEYWORD = re.compile(
    r"^(gantt|inclusiveenddates|topaxis|(dateformat|axisformat|tickinterval|includes|excludes"
    r"|todaymarker|weekday|weekend|datemarker|title|accdescription|section|click|call|href)\s"
    r"|acctitle|accdescr"
    r"|\d{4}-\d\d-\d\d)",
    re.IGNORECASE,
)


def check_gantt(text: str) -> list[re.Match[str]]:
    """Every line of ``text`` in the strict grammar; the tasks, in order."""
    lines = text.split("\n")
    assert lines[:5] == [
        "gantt",
        "    title Turns, breaks and pauses (UTC)",
        "    dateFormat YYYY-MM-DD HH:mm:ss",
        "    axisFormat %H:%M",
        "    section Turns",
    ]
    tasks = []
    for line in lines:
        match = GANTT_LINE.match(line)
        assert match is not None, f"not a line of the gantt grammar: {line!r}"
        if match["name"] is not None:
            assert match["start"] < match["end"]
            assert not MERMAID_KEYWORD.match(match["name"])
            tasks.append(match)
    return tasks


def test_the_gantt_chart_has_one_task_per_stint_break_and_pause_at_utc_clock_times(state):
    text = gantt(state, T0)
    tasks = check_gantt(text)
    assert [(t["kind"], t["name"], t["start"][11:], t["end"][11:]) for t in tasks] == [
        ("t", "Ann Lee (turn 1)", "09:01:00", "09:16:00"),
        ("t", "Bob O'Brien (turn 2)", "09:16:00", "09:28:20"),
        ("t", "Zoë Ångström (turn 3)", "09:33:20", "09:40:00"),
        ("t", "Zoë Ångström (turn 3)", "09:42:10", "09:45:50"),
        ("t", "Zoë Ångström (turn 3)", "09:46:35", "09:48:20"),
        ("b", "Break", "09:28:20", "09:33:20"),
        ("p", "Paused, Zoë Ångström away (turn 3)", "09:40:00", "09:42:10"),
        ("p", "Paused (turn 3)", "09:45:50", "09:46:35"),
    ]
    assert {t["start"][:10] for t in tasks} == {"2026-11-26"}


def test_the_gantt_chart_runs_an_open_stint_and_break_to_now():
    log = Log()
    events = [
        *quiet_log(log),
        log(ev.BreakStarted, 600, actor="bob", turn=2, seconds=300),
    ]
    state = fold(events)
    tasks = check_gantt(gantt(state, T0 + 700))
    assert tasks[-1]["kind"] == "b"
    assert tasks[-1]["end"] == "2026-11-26 09:11:40"


@given(st.lists(names, min_size=2, max_size=4, unique=True))
def test_any_names_keep_the_gantt_grammar(people):
    participants = [ev.Participant(id=f"p{i}", name=name) for i, name in enumerate(people)]
    log = Log()
    events = [
        log(ev.SessionOpened, 0, actor="p0", settings=ev.SessionSettings(turn_seconds=60)),
        *(log(ev.ParticipantJoined, 0, actor=p.id, participant=p) for p in participants),
        log(ev.TurnStarted, 1, actor="p0", turn=1),
        *(log(ev.TurnSkipped, 30 * (n + 1), actor="p0", turn=n + 1) for n in range(len(people))),
    ]
    state = fold(events)
    tasks = check_gantt(gantt(state, T0 + 10_000))
    assert len(tasks) == len(people) + 1


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Title Smith", "“Title Smith” (turn 1)"),
        ("section", "“section” (turn 1)"),
        ("Gantt", "“Gantt” (turn 1)"),
        ("a: b # c; d % e", "a b c d e (turn 1)"),
        (":::", "p0 (turn 1)"),
    ],
)
def test_names_that_mermaid_would_misread_are_made_safe(name, label):
    person = ev.Participant(id="p0", name=name)
    other = ev.Participant(id="p1", name="Other")
    log = Log()
    state = fold(
        [
            log(ev.SessionOpened, 0, actor="p0"),
            log(ev.ParticipantJoined, 0, actor="p0", participant=person),
            log(ev.ParticipantJoined, 0, actor="p1", participant=other),
            log(ev.TurnStarted, 1, actor="p0", turn=1),
        ]
    )
    tasks = check_gantt(gantt(state, T0 + 100))
    assert tasks[0]["name"] == label


# Slugs

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            'Use SQLite (WAL) — not Postgres?! "#1": 100% «sure»; ok | go',
            "use-sqlite-wal-not-postgres-1-100-sure-ok-go",
        ),
        ("Crème brûlée & Straße", "creme-brulee-strasse"),
        ("ﬁnal Ⅻ ①", "final-xii-1"),
        ("日本語のタイトル", "decision"),
        ("🎉🚀", "decision"),
        ("", "decision"),
        ("--- ///", "decision"),
        ("CON", "con-decision"),
        ("word " * 20, "-".join(["word"] * 12)),
        ("x" * 70, "x" * 60),
    ],
)
def test_slug_examples(title, expected):
    assert slug(title) == expected


@given(st.text())
def test_slug_is_always_a_short_safe_file_name(title):
    result = slug(title)
    assert SLUG.match(result)
    assert 0 < len(result) <= 60
    assert slug(title) == result


@given(
    st.lists(st.sampled_from(["alpha", "beta", "gamma-ray", "ü", "日本", "x" * 61]), max_size=20)
)
def test_slug_cuts_long_titles_at_a_word_boundary(words):
    title = " ".join(words)
    full = re.sub(r"[^a-z0-9]+", "-", title.replace("ü", "u").lower()).strip("-")
    result = slug(title)
    assert SLUG.match(result)
    if len(full) <= 60 and full:
        assert result == full
    elif full and "-" in full[:60]:
        assert (full + "-").startswith(result + "-")


# How the record reads


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0, "0 s"),
        (0.4, "0 s"),
        (45, "45 s"),
        (59.6, "1 min"),
        (90, "1 min 30 s"),
        (725, "12 min 05 s"),
        (900, "15 min"),
        (3600, "1 h"),
        (3900, "1 h 05 min"),
        (3605, "1 h 00 min 05 s"),
        (-3, "0 s"),
    ],
)
def test_durations_read_as_minutes_and_seconds(seconds, said):
    assert duration(seconds) == said


def test_the_turn_length_reads_as_a_length():
    log = Log()
    state = fold(
        [
            log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=90)),
            log(ev.ParticipantJoined, 0, participant=ANN),
        ]
    )
    assert "- Turn length: 1 min 30 s\n" in render_record(state, facts(state, "s"), {}, T0 + 1)


def test_pauses_and_extensions_are_listed_under_the_chart_with_utc_times(state):
    record = render_record(state, facts(state, SESSION), {}, T0)
    chart_end = record.index("```\n", record.index("```mermaid")) + 4
    driving = record.index("## Driving time")
    assert record[chart_end:driving] == (
        "\n"
        "- 09:38:20 UTC: Bob O'Brien added 5 min to turn 3\n"
        "- 09:40:00 to 09:42:10 UTC: turn 3 paused: Zoë Ångström away (2 min 10 s)\n"
        "- 09:45:50 to 09:46:35 UTC: turn 3 paused (45 s)\n"
        "\n"
    )


def test_a_pause_still_going_on_runs_to_now_and_a_later_day_is_dated():
    log = Log()
    events = [
        log(ev.SessionOpened, 0, settings=ev.SessionSettings(turn_seconds=3600)),
        log(ev.ParticipantJoined, 0, participant=ANN),
        log(ev.ParticipantJoined, 0, actor="bob", participant=BOB),
        log(ev.TurnStarted, 10, turn=1),
        log(ev.TimerExtended, 20, actor="bob", turn=1, seconds=600),
        log(ev.TimerPaused, 30, turn=1),
    ]
    state = fold(events)
    now = T0 + 24 * 3600
    record = render_record(state, facts(state, "s"), {}, now)
    assert "- 09:00:30 to 2026-11-27 09:00:00 UTC: turn 1 paused (23 h 59 min 30 s)" in record
    (pause,) = [task for task in check_gantt(gantt(state, now)) if task["kind"] == "p"]
    assert (pause["name"], pause["end"]) == ("Paused (turn 1)", "2026-11-27 09:00:00")


def test_a_session_without_pauses_or_extensions_has_no_lines_under_the_chart():
    quiet = fold(quiet_log(Log()))
    record = render_record(quiet, facts(quiet, "s"), {}, T0 + 500)
    assert "```\n\n## Driving time" in record


def test_decision_makers_are_who_was_there_in_rotation_order(state):
    first, _, last = state.decisions_in_order()
    info = facts(state, SESSION)
    reordered = dataclasses.replace(first, present=("zoe", "ann"))
    text = render_decision("madr", reordered, 1, info, commits=[])
    assert front_matter(text)["decision-makers"] == ["Ann Lee"]
    assert front_matter(text)["consulted"] == ["Zoë Ångström"]
    assert "by Ann Lee and Zoë Ångström (session" in text
    text = render_decision("log4brains", last, 3, info, commits=[])
    assert "\n- Deciders: Ann Lee, Zoë Ångström\n" in text
    stranger = dataclasses.replace(first, present=("bob", "gone-1"))
    text = render_decision("madr", stranger, 1, info, commits=[])
    assert front_matter(text)["decision-makers"] == ["Ann Lee"]
    assert front_matter(text)["consulted"] == ["Bob O'Brien", "gone-1"]
    agreed = dataclasses.replace(
        first,
        present=("ann", "bob", "zoe", "gone-2"),
        opinions=(Opinion("gone-2", "agree", "", T0), Opinion("zoe", "agree", "", T0)),
    )
    text = render_decision("madr", agreed, 1, info, commits=[])
    assert front_matter(text)["decision-makers"] == ["Ann Lee", "Zoë Ångström", "gone-2"]
    assert front_matter(text)["consulted"] == ["Bob O'Brien"]
    nobody = dataclasses.replace(first, present=())
    text = render_decision("madr", nobody, 1, info, commits=[])
    assert front_matter(text)["decision-makers"] == ["Ann Lee"]
    assert "consulted" not in front_matter(text)
    assert "in a pairing session on 2026-11-26 (session" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_commits_outside_the_repository_are_said_to_be_made_elsewhere(state, fmt):
    first = state.decisions_in_order()[0]
    info = facts(state, SESSION)
    commits = state.commits_in_order()
    elsewhere = "(made in another clone; not in this repository)"
    unchecked = render_decision(fmt, first, 1, info, commits=commits)
    assert elsewhere not in unchecked
    checked = render_decision(fmt, first, 1, info, commits=commits, in_this_repository=HERE)
    assert "- `4f1c2d3` Relay stamps every event with its clock (with Ann Lee, Zoë Ångström)\n" in (
        checked
    )
    assert (
        "- `9a8b7c6` Export drafts ADRs from the session's decisions (with Ann Lee, Bob O'Brien) "
        f"{elsewhere}\n"
    ) in checked
    none_here = render_decision(fmt, first, 1, info, commits=commits, in_this_repository=set())
    assert none_here.count(elsewhere) == 2


def test_the_records_commit_table_says_which_commits_were_made_elsewhere(state):
    record = render_record(state, facts(state, SESSION), {}, T0, in_this_repository=HERE)
    assert "| `4f1c2d3` | Relay stamps every event with its clock | Bob O'Brien |" in record
    assert (
        "| `9a8b7c6` | Export drafts ADRs from the session's decisions (made in another clone; "
        "not in this repository) | Zoë Ångström |"
    ) in record
    assert "another clone" not in render_record(state, facts(state, SESSION), {}, T0)


@pytest.mark.parametrize("key", sorted(CORPUS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_drivers_options_and_opinions_stay_text(fmt, key):
    """Drivers, options, pros, cons and opinions typed as hostile text add no heading, no
    HTML and no list item of their own, and MADR's front matter still reads back the names."""
    text = CORPUS[key]
    name = fit(NAMEABLE.get(key, "Plain Name"), 200)
    point = fit(text, 2000)
    option = ev.ConsideredOption(name=fit(text, 200), pros=(point,), cons=(point,))
    log = Log()
    people = (ev.Participant(id="ann", name=name), ev.Participant(id="bob", name="Bob"))
    state = fold(
        [
            log(ev.SessionOpened, 0),
            *(log(ev.ParticipantJoined, 0, actor=p.id, participant=p) for p in people),
            log(ev.TurnStarted, 1, turn=1),
            log(
                ev.DecisionRecorded,
                2,
                decision_id="dec-hostile-01",
                title="Hostile",
                decision=text,
                drivers=(fit(text, 200),),
                options=(option, ev.ConsideredOption(name="Plain")),
                chosen=fit(text, 200),
            ),
            log(
                ev.DecisionOpinion,
                3,
                actor="bob",
                decision_id="dec-hostile-01",
                stance="object",
                why=fit(text, 2000),
            ),
            log(ev.DecisionOpinion, 4, decision_id="dec-hostile-01", stance="agree", why=text[:9]),
        ]
    )
    (decision,) = state.decisions_in_order()
    rendered = render_decision(fmt, decision, 1, facts(state, SESSION), commits=[])
    tokens = parse(rendered)
    shown = [(h.level, h.text) for h in headings(tokens)]
    if fmt == "adr":
        assert shown == [
            (1, "1. Hostile"),
            *((2, s) for s in ("Status", "Context", "Decision", "Consequences", "Notes")),
        ]
    else:
        option_name = one_line(fit(text, 200))
        assert shown == [
            (1, "Hostile"),
            (2, "Context and Problem Statement"),
            (2, "Decision Drivers"),
            (2, "Considered Options"),
            (2, "Decision Outcome"),
            (3, "Consequences"),
            (2, "Pros and Cons of the Options"),
            (3, option_name),
            (2, "More Information"),
        ]
    assert not [t for t in tokens if t.type in ("html_block", "html_inline")]
    assert all(not [c for c in t.children or [] if c.type == "html_inline"] for t in tokens)
    if fmt == "madr":
        front = front_matter(rendered)
        assert front["decision-makers"] == [named(name)]
        assert front["consulted"] == ["Bob"]
