"""Hostile text through every field of a session, exported in every format into a real repository
and read back by the tools that read those files.

Each corpus entry is a session's title, a participant's name (when a name may hold it), a
decision's title and three bodies, two commits' subjects and a lesson. The session is exported
as adr-tools, MADR and log4brains ADRs, the session record and the JSON log; then adr-tools
lists the ADRs and builds its table of contents, PyYAML reads MADR's front matter, and
markdown-it-py reads every Markdown file: one h1 holding the title as typed, the template's
headings and nothing else, table rows that stay rows with the right cells, bodies that are
paragraphs of their lines, and no HTML but pairup's own marker on the last line.
"""

import datetime
import json
from pathlib import Path

import pytest
import yaml
from markdown_it.token import Token

from pairup.adr.export import Where, export
from pairup.adr.write import Written
from pairup.journal import JournalInfo
from pairup.session import decode_event
from pairup.session import events as ev
from tests.export_kit import Clock, adr_tools, commit_file, make_repo, record_session
from tests.hostile import CORPUS, NAMEABLE, fit
from tests.markdown_reading import headings, markup, named, one_line, parse, plain, table_rows
from tests.unit.test_adr_render import check_gantt

SESSION = "s-hostile"
ELSEWHERE_SHA = "0123456789abcdef0123456789abcdef01234567"
ELSEWHERE = "(made in another clone; not in this repository)"
ADR_HEADINGS = [(2, "Status"), (2, "Context"), (2, "Decision"), (2, "Consequences"), (2, "Notes")]
MADR_HEADINGS = [
    (2, "Context and Problem Statement"),
    (2, "Decision Outcome"),
    (3, "Consequences"),
    (2, "More Information"),
]
RECORD_HEADINGS = [
    (2, "Timeline"),
    (2, "Driving time"),
    (2, "Decisions"),
    (2, "Commits"),
    (2, "Handovers"),
    (2, "Lessons learned"),
]
FOLDERS = {"adr": "doc/adr", "madr": "docs/decisions", "log4brains": "docs/adr"}


class Hostile:
    """One corpus entry as every field of a session, and what each should read back as."""

    def __init__(self, key: str, local_sha: str) -> None:
        text = CORPUS[key]
        self.text = text
        self.title = fit(text, 200)
        self.name = fit(NAMEABLE[key], 200) if key in NAMEABLE else "Plain Name"
        self.lesson = fit(text, 2000)
        self.local_sha = local_sha
        ann = ev.Participant(id="ann", name=self.name)
        bob = ev.Participant(id="bob", name="Bob")
        clock = Clock()
        self.events = [
            clock(ev.SessionOpened, 0, title=self.title),
            clock(ev.ParticipantJoined, 0, participant=ann),
            clock(ev.ParticipantJoined, 1, actor="bob", participant=bob),
            clock(ev.TurnStarted, 2, turn=1),
            clock(
                ev.DecisionRecorded,
                60,
                decision_id="dec-hostile-1",
                title=self.title,
                context=text,
                decision=text,
                consequences=text,
            ),
            clock(ev.TimerExtended, 120, turn=1, seconds=120),
            clock(ev.ParticipantAway, 180, actor="bob", participant_id="ann"),
            clock(ev.ParticipantBack, 240, participant_id="ann"),
            clock(
                ev.CommitRecorded,
                300,
                sha=local_sha,
                summary=self.title,
                author=ev.Person(name=self.name),
                co_authors=(ev.Person(name="Bob"),),
            ),
            clock(
                ev.CommitRecorded,
                360,
                actor="bob",
                sha=ELSEWHERE_SHA,
                summary=self.title,
                author=ev.Person(name="Bob"),
                co_authors=(ev.Person(name=self.name),),
            ),
            clock(ev.LessonNoted, 420, text=self.lesson),
            clock(ev.TurnSkipped, 430, turn=1),
            clock(
                ev.HandoverOffered,
                440,
                turn=2,
                handover="hand-hostile-1",
                snapshot="a" * 40,
                head="b" * 40,
                files=2,
                insertions=3,
                deletions=1,
                last_file=fit(text, 4096),
                last_line=7,
            ),
            clock(
                ev.HandoverRefused,
                450,
                actor="bob",
                turn=2,
                handover="hand-hostile-1",
                reason=fit(text, 2000),
            ),
            clock(ev.SessionEnded, 480),
        ]

    @property
    def heading(self) -> str:
        return one_line(self.title) or "(no title)"

    @property
    def shown_name(self) -> str:
        return one_line(self.name)


@pytest.fixture(params=list(CORPUS), ids=list(CORPUS))
def exported(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Hostile, Path, JournalInfo, dict[str, list[Written]]]:
    """The session of one corpus entry exported in every format, twice."""
    repo = make_repo(tmp_path / "repo")
    workdir = Path(repo.workdir)
    hostile = Hostile(request.param, commit_file(repo, "relay.py", "pass\n", "Add the relay"))
    info = record_session(tmp_path / "data", SESSION, hostile.events)
    where = Where(repo=workdir)
    written: dict[str, list[Written]] = {}
    for fmt in ("adr", "madr", "log4brains", "markdown", "json"):
        written[fmt] = export(info, fmt, where, record=True, now=0.0)
    for fmt in ("adr", "madr", "log4brains", "markdown", "json"):
        again = export(info, fmt, where, record=True, now=0.0)
        assert [item.action for item in again] == ["unchanged"] * len(again), again
    return hostile, workdir, info, written


def test_adr_tools_lists_the_adr_and_its_toc_links_it_under_its_title(exported, tmp_path):
    hostile, repo, _, _ = exported
    (path,) = (repo / "doc/adr").glob("*.md")
    assert adr_tools(repo, tmp_path, "list").split("\n") == [f"doc/adr/{path.name}", ""]
    toc = parse(adr_tools(repo, tmp_path, "generate", "toc"))
    assert [(h.level, h.text) for h in headings(toc)] == [(1, "Architecture Decision Records")]
    (item,) = [token for token in toc if token.type == "inline" and token.level > 1]
    children = item.children or []
    assert [child.type for child in children if child.type != "text"] == [
        "link_open",
        "link_close",
    ]
    assert children[0].attrs["href"] == path.name
    assert plain(item) == f"1. {hostile.heading}"


@pytest.mark.parametrize("fmt", ["adr", "madr", "log4brains"])
def test_each_adr_is_its_template_with_the_text_as_typed(exported, fmt):
    hostile, repo, _, _ = exported
    (path,) = (repo / FOLDERS[fmt]).glob("*.md")
    text = path.read_text(encoding="utf-8")
    if fmt == "madr":
        front, text = split_front_matter(text)
        assert front == {
            "status": "proposed",
            "date": datetime.date(2026, 11, 26),
            "decision-makers": [named(hostile.name)],
            "consulted": ["Bob"],
        }
    tokens = parse(text)
    title = f"1. {hostile.heading}" if fmt == "adr" else hostile.heading
    found = headings(tokens)
    assert [(h.level, h.text) for h in found] == [
        (1, title),
        *(ADR_HEADINGS if fmt == "adr" else MADR_HEADINGS),
    ]
    assert all(h.markup == [] for h in found)
    assert only_the_marker_is_html(tokens, text)
    context = "Context" if fmt == "adr" else "Context and Problem Statement"
    for section in (context, "Decision" if fmt == "adr" else "Decision Outcome", "Consequences"):
        assert section_lines(tokens, section) == typed_lines(hostile.text)
    allowed = {SESSION, hostile.local_sha[:7], ELSEWHERE_SHA[:7]}
    for token in inline_tokens(tokens):
        assert all(kind == "code_inline" for kind in markup(token)), plain(token)
        codes = [c.content for c in token.children or [] if c.type == "code_inline"]
        assert set(codes) <= allowed
    bullets = list_items(tokens)
    commits = bullets[-2:]
    assert plain(commits[0]) == f"{hostile.local_sha[:7]} {hostile.heading} (with Bob)"
    assert plain(commits[1]) == (
        f"{ELSEWHERE_SHA[:7]} {hostile.heading} (with {hostile.shown_name}) {ELSEWHERE}"
    )
    if fmt == "log4brains":
        deciders = one_line(hostile.name.replace(",", " "))
        assert [plain(item) for item in bullets[:3]] == [
            "Status: proposed",
            f"Deciders: {deciders}, Bob",
            "Date: 2026-11-26",
        ]
    else:
        assert len(bullets) == 2


def test_the_record_keeps_its_structure_and_links_every_format(exported):
    hostile, repo, _, written = exported
    (path,) = (repo / ".pairup/sessions").glob("*.md")
    assert [item.path for item in written["markdown"]] == [path, path.with_suffix(".json")]
    text = path.read_text(encoding="utf-8")
    tokens = parse(text)
    title = one_line(hostile.title) or "pairing session of 2026-11-26"
    found = headings(tokens)
    assert [(h.level, h.text) for h in found] == [(1, f"Session record: {title}"), *RECORD_HEADINGS]
    assert all(h.markup == [] for h in found)
    assert only_the_marker_is_html(tokens, text)
    (chart,) = [token for token in tokens if token.type == "fence"]
    assert chart.info == "mermaid"
    tasks = check_gantt(chart.content.rstrip("\n"))
    assert [task["kind"] for task in tasks] == ["t", "t", "t", "p"]
    driving, decisions, commits, handovers = tables(tokens)
    assert [[plain(cell) for cell in row][:1] for row in driving[1:]] == [
        [hostile.shown_name],
        ["Bob"],
    ]
    ((number, decision, status, adrs),) = decisions[1:]
    assert [plain(number), plain(decision), plain(status)] == ["1", hostile.heading, "proposed"]
    links = [c.attrs["href"] for c in adrs.children or [] if c.type == "link_open"]
    expected = {next((repo / folder).glob("*.md")).resolve() for folder in FOLDERS.values()}
    assert {(path.parent / str(link)).resolve() for link in links} == expected
    assert [[plain(cell) for cell in row] for row in commits[1:]] == [
        [hostile.local_sha[:7], hostile.heading, hostile.shown_name, "Bob"],
        [ELSEWHERE_SHA[:7], f"{hostile.heading} {ELSEWHERE}", "Bob", hostile.shown_name],
    ]
    ((turn, by, to, moved, outcome),) = handovers[1:]
    assert [plain(turn), plain(by), plain(to)] == ["2", hostile.shown_name, "Bob"]
    assert (
        plain(moved)
        == f"2 files, +3 -1, 0 commits; last touched {one_line(fit(hostile.text, 4096))}, line 7"
    )
    assert plain(outcome) == f"refused: {one_line(fit(hostile.text, 2000))}"
    for row in (*driving, *decisions, *commits, *handovers):
        for index, cell in enumerate(row):
            allowed = {"link_open"} if row in decisions and index == 3 else {"code_inline"}
            assert set(markup(cell)) <= allowed
    about, timeline, lessons = bullet_lists(tokens)
    assert [plain(item) for item in about] == [
        f"Session: {SESSION}",
        f"Participants: {hostile.shown_name} and Bob",
        "Started: 2026-11-26 09:00 UTC",
        "Ended: 2026-11-26 09:08 UTC",
        "Turn length: 15 min",
    ]
    assert all(set(markup(item)) <= {"code_inline"} for item in about)
    assert [plain(item).split(" UTC: ")[1] for item in timeline] == [
        f"{hostile.shown_name} added 2 min to turn 1",
        f"turn 1 paused: {hostile.shown_name} away (1 min)",
    ]
    (lesson,) = lessons
    shown = plain(lesson)
    attribution = f" ({hostile.shown_name}, turn 1)"
    assert shown.endswith(attribution)
    assert [one_line(line) for line in shown.removesuffix(attribution).split("\n")] == (
        typed_lines(hostile.lesson)
    )
    children = lesson.children or []
    assert markup(lesson) == ["em_open"]
    opened = [child.type for child in children].index("em_open")
    assert [child.type for child in children[opened:]] == ["em_open", "text", "em_close"]
    assert children[opened + 1].content == attribution.strip()


def test_the_json_log_reads_back_as_the_events(exported):
    hostile, repo, _, written = exported
    ((item,),) = [written["json"]]
    document = json.loads(item.path.read_text(encoding="utf-8"))
    assert [decode_event(json.dumps(event)) for event in document["events"]] == hostile.events
    assert item.path.parent == repo / ".pairup/sessions"


def split_front_matter(text: str) -> tuple[object, str]:
    lines = text.split("\n")
    assert lines[0] == "---"
    end = lines.index("---", 1)
    return yaml.safe_load("\n".join(lines[1:end])), "\n".join(lines[end + 1 :])


def only_the_marker_is_html(tokens: list[Token], text: str) -> bool:
    """The one HTML block is pairup's marker, and it is the file's last line."""
    html = [token for token in tokens if token.type in ("html_block", "html_inline")]
    last = text.rstrip("\n").rsplit("\n", 1)[1]
    return [token.content.rstrip("\n") for token in html] == [last] and tokens[-1] is html[-1]


def inline_tokens(tokens: list[Token]) -> list[Token]:
    return [token for token in tokens if token.type == "inline"]


def section_lines(tokens: list[Token], heading: str) -> list[str]:
    """The lines of text in the paragraphs under ``heading``, up to the next heading."""
    lines: list[str] = []
    inside = False
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            inside = plain(tokens[index + 1]) == heading
        elif inside and token.type == "inline" and tokens[index - 1].type != "heading_open":
            assert tokens[index - 1].type == "paragraph_open"
            lines += [one_line(line) for line in plain(token).split("\n")]
    return lines


def typed_lines(text: str) -> list[str]:
    """The lines a body shows: as typed, on their own, blank ones left out."""
    return [one_line(line) for line in text.splitlines() if one_line(line)]


def list_items(tokens: list[Token]) -> list[Token]:
    return [item for items in bullet_lists(tokens) for item in items]


def bullet_lists(tokens: list[Token]) -> list[list[Token]]:
    """Each bullet list's items, as the inline token of their first paragraph."""
    lists: list[list[Token]] = []
    for index, token in enumerate(tokens):
        if token.type == "bullet_list_open":
            lists.append([])
        elif token.type == "list_item_open":
            lists[-1].append(tokens[index + 2])
    return lists


def tables(tokens: list[Token]) -> list[list[list[Token]]]:
    """Each table's rows, header row first."""
    found: list[list[list[Token]]] = []
    start = 0
    for index, token in enumerate(tokens):
        if token.type == "table_open":
            start = index
        elif token.type == "table_close":
            found.append(table_rows(tokens[start : index + 1]))
    return found
