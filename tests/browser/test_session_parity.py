# Look-alike characters (dotless i, Cherokee) are the point of the credit cases.
# ruff: noqa: RUF001
"""session.mjs against the Python core, in headless Chromium: the same log folds to the same
rejections and the same View, and the same body decodes (or is refused) alike, with the same
signed bytes, as pydantic and ``pairup.identity`` have them.

One browser serves the whole module: the fixture keeps an ``asyncio.Runner`` with the browser
open in it, and each test runs its coroutine there. Every test sends its cases in one batch.
"""

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pairup import identity
from pairup.session import events as ev
from pairup.session import step
from pairup.session.state import State
from tests.browser.chromium import Page, serve_static, shared_browser
from tests.browser.projection import view
from tests.hostile import CORPUS
from tests.unit.session.strategies import PEOPLE, session_logs

STATIC = Path(__file__).resolve().parents[2] / "pairup" / "web" / "static"
SESSION = "parity-session"
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JS_HELPERS = """
globalThis.hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
globalThis.fold = (logs) => logs.map(({events, nows}) => {
  let state = S.initialState();
  const rejected = [];
  for (const text of events) {
    const decoded = S.decodeEvent(text);
    if (decoded.error !== undefined) { rejected.push("undecodable: " + decoded.error); continue; }
    const result = S.step(state, decoded.event);
    state = result.state;
    rejected.push(result.rejected);
  }
  return {rejected, views: nows.map((now) => S.view(state, now))};
});
globalThis.decodeAll = (session, texts) => texts.map((text) => {
  const decoded = S.decodeEvent(text);
  return decoded.error !== undefined ? null : hex(S.signedMessage(session, decoded.event));
});
true
"""


class Browser:
    """The module's one page with session.mjs loaded, and the runner its browser lives in."""

    def __init__(self, runner: asyncio.Runner, page: Page) -> None:
        self.runner = runner
        self.page = page

    def call(self, function: str, *arguments: Any) -> Any:
        given = ", ".join(json.dumps(argument) for argument in arguments)
        return self.runner.run(self.page.evaluate(f"{function}({given})"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with shared_browser() as (runner, chromium), serve_static(STATIC) as base:
        page = runner.run(chromium.page())
        runner.run(page.goto(f"{base}/"))
        loaded = "import('/session.mjs').then((m) => { globalThis.S = m; return true; })"
        assert runner.run(page.evaluate(loaded))
        assert runner.run(page.evaluate(JS_HELPERS))
        yield Browser(runner, page)


# ---------------------------------------------------------------- comparing


def assert_same(python: Any, js: Any, where: str = "") -> None:
    """Equal as JSON, floats within 1e-9."""
    if isinstance(python, float) or isinstance(js, float):
        assert isinstance(js, int | float), (where, python, js)
        assert isinstance(python, int | float), (where, python, js)
        assert math.isclose(python, js, rel_tol=1e-9, abs_tol=1e-9), (where, python, js)
    elif isinstance(python, dict):
        assert isinstance(js, dict), (where, python, js)
        assert set(python) == set(js), (where, python, js)
        for key in python:
            assert_same(python[key], js[key], f"{where}.{key}")
    elif isinstance(python, list | tuple):
        assert isinstance(js, list), (where, python, js)
        assert len(python) == len(js), (where, python, js)
        for index, (p, j) in enumerate(zip(python, js, strict=True)):
            assert_same(p, j, f"{where}[{index}]")
    else:
        assert python == js, (where, python, js)
        assert type(python) is type(js), (where, python, js)


def nows(state: State) -> list[float]:
    clock = 0.0 if state.clock is None else state.clock
    return [clock, clock + 0.5, clock + 37.25, clock + 100_000.0]


def python_fold(log: list[ev.Event]) -> tuple[list[str | None], list[dict[str, Any]]]:
    state = State()
    rejected = []
    for event in log:
        result = step(state, event)
        state = result.state
        rejected.append(result.rejected)
    return rejected, [view(state, now) for now in nows(state)]


def check_folds(browser: Browser, logs: list[list[ev.Event]]) -> None:
    expected = [python_fold(log) for log in logs]
    cases = [
        {"events": [ev.encode_event(e).decode() for e in log], "nows": nows(_final(log))}
        for log in logs
    ]
    results = browser.call("fold", cases)
    for log, (rejected, views), result in zip(logs, expected, results, strict=True):
        for index, (python, js) in enumerate(zip(rejected, result["rejected"], strict=True)):
            assert python == js, f"event {index} ({log[index].kind}): {python!r} != {js!r}"
        assert_same(views, result["views"], "view")


def _final(log: list[ev.Event]) -> State:
    state = State()
    for event in log:
        state = step(state, event).state
    return state


# ---------------------------------------------------------------- folds


@FAST
@given(st.lists(session_logs(max_events=50), min_size=4, max_size=4))
def test_session_logs_fold_alike(browser: Browser, logs: list[list[ev.Event]]) -> None:
    check_folds(browser, logs)


NEWCOMERS = (
    ev.Participant(id="q1", name="Straße", email="STRASSE@example.test"),
    ev.Participant(id="q2", name="Işık", email="ışık@example.test"),
    ev.Participant(id="q3", name="ᏣᎳᎩ", email="ꮳꮃꭹ@example.test"),
)
STRANGERS = (
    ev.Person(name="Linus Torvalds", email="torvalds@linux-foundation.org"),
    ev.Person(name="Person 1", email="someone-else@example.test"),
    ev.Person(name="x", email="P2@EXAMPLE.TEST"),
    ev.Person(name="y", email="strasse@example.test"),
    ev.Person(name="z", email="isik@example.test"),
    ev.Person(name="w", email="ᏣᎳᎩ@example.test"),
    ev.Person(name="Işık"),
    ev.Person(name="v", email="straße@example.test"),
    ev.Person(name="u", email="IŞIK@example.test"),
    ev.Person(name="s", email="ꭰ@example.test"),
)
KEYS = (None, "A" * 43, "B" * 43)
OPTION_NAMES = ("Rust", "Go", "Zig")
CHOSEN = (
    "",
    "Rust",
    "Python",
    "it's",
    'say "x"',
    "both ' and \"",
    "tab\there\\",
    "\x00\x1b[31m\x7f\x85\xa0",
    "\u2028\u202e\u200b\ufeff",
    "é😀\U000e0001\u0378\u1c89\ud7ff",
    *(text[:200] for text in CORPUS.values()),
)


@st.composite
def attack_event(draw: st.DrawFn, number: int) -> ev.Event:
    """An event a participant (or a stranger) might publish about someone else, off turn."""
    everyone = [p.id for p in PEOPLE[:4]] + [p.id for p in NEWCOMERS] + ["stranger"]
    actor = draw(st.sampled_from(everyone))
    who = draw(st.sampled_from(everyone))
    turn = draw(st.sampled_from([1, 2, 3, 4, 10**20]))
    decision_id = f"dec-{draw(st.integers(0, 3)):04d}"
    options = tuple(
        ev.ConsideredOption(name=name, pros=("fast",) if name == "Go" else ())
        for name in draw(st.lists(st.sampled_from(OPTION_NAMES), unique=True))
    )
    at = draw(st.floats(0, 2e4, allow_nan=False))
    base = {"id": f"atk-{number:05d}", "actor": actor, "at": at}
    choice = draw(st.integers(0, 11))
    if choice == 0:
        participant = draw(st.sampled_from(NEWCOMERS + PEOPLE[:4]))
        key = draw(st.sampled_from(KEYS))
        joined = participant.model_copy(update={"key": key})
        return ev.ParticipantJoined(**base | {"actor": participant.id}, participant=joined)
    if choice == 1:
        cls = draw(st.sampled_from([ev.ParticipantLeft, ev.ParticipantAway, ev.ParticipantBack]))
        return cls(**base, participant_id=who)
    if choice == 2:
        chosen = draw(st.sampled_from(["", *(o.name for o in options)]))
        return ev.DecisionRecorded(
            **base, decision_id=decision_id, title="T", options=options, chosen=chosen
        )
    if choice == 3:
        chosen = draw(st.sampled_from(CHOSEN))
        given_options = draw(st.sampled_from([None, options]))
        if given_options is not None and chosen not in {o.name for o in options}:
            chosen = ""
        return ev.DecisionAmended(
            **base,
            decision_id=decision_id,
            options=given_options,
            chosen=draw(st.sampled_from([None, chosen])),
            drivers=draw(st.sampled_from([None, (), ("speed",)])),
            status=draw(st.sampled_from([None, "accepted", "superseded"])),
        )
    if choice == 4:
        return ev.DecisionOpinion(
            **base,
            decision_id=decision_id,
            stance=draw(st.sampled_from(["agree", "object"])),
            why=draw(st.sampled_from(["", "because"])),
        )
    if choice == 5:
        return ev.DecisionSuperseded(
            **base, decision_id=decision_id, by=f"dec-{draw(st.integers(0, 3)):04d}"
        )
    if choice == 6:
        people = draw(st.lists(st.sampled_from(STRANGERS + PEOPLE[:4] + NEWCOMERS), max_size=4))
        persons = tuple(ev.Person(name=p.name, email=p.email) for p in people)
        sha = draw(st.sampled_from(["a" * 40, "f" * 64]))
        author = ev.Person(name="Person 0")
        return ev.CommitRecorded(**base, sha=sha, summary="s", author=author, co_authors=persons)
    if choice == 7:
        cls = draw(st.sampled_from([ev.RolesRotated, ev.TurnSkipped, ev.TimerPaused]))
        return cls(**base, turn=turn)
    if choice == 8:
        return ev.HandoverOffered(
            **base, turn=turn, handover="hand-0001", snapshot="d" * 40, head="e" * 40
        )
    if choice == 9:
        return ev.HandoverRefused(
            **base, turn=turn, handover=draw(st.sampled_from([None, "hand-0001"])), reason="no"
        )
    if choice == 10:
        return ev.SessionEnded(**base)
    return ev.sequenced(ev.LessonNoted(**base, text="late"), 10**20, at)


@st.composite
def attack_logs(draw: st.DrawFn) -> list[ev.Event]:
    log = draw(session_logs(max_events=40))
    count = draw(st.integers(0, 14))
    for number in range(count):
        log.insert(draw(st.integers(0, len(log))), draw(attack_event(number)))
    return log


@FAST
@given(st.lists(attack_logs(), min_size=4, max_size=4))
def test_attacks_fold_alike(browser: Browser, logs: list[list[ev.Event]]) -> None:
    check_folds(browser, logs)


def test_times_left_round_half_to_even(browser: Browser) -> None:
    """A refused rotation says how long is left as Python rounds it (4.5 s is "4s")."""
    ann = ev.Participant(id="ann", name="Ann")
    bob = ev.Participant(id="bob", name="Bob")
    opening = [
        ev.ParticipantJoined(id="join-ann", actor="ann", at=0.0, participant=ann),
        ev.SessionOpened(
            id="open-ann", actor="ann", at=0.0, settings=ev.SessionSettings(turn_seconds=10)
        ),
        ev.ParticipantJoined(id="join-bob", actor="bob", at=0.0, participant=bob),
        ev.TurnStarted(id="start-01", actor="ann", at=0.0, turn=1),
    ]
    logs = [
        [*opening, ev.RolesRotated(id=f"rotate-{n:02d}", actor="ann", at=at, turn=1)]
        for n, at in enumerate((5.5, 6.5, 4.5, 7.25, 7.75, 7.999, 8.0, 1e-9))
    ]
    check_folds(browser, logs)
    assert python_fold(logs[0])[0][-1] == "turn 1 still has 4s left"


def test_amendments_and_credit_fold_alike(browser: Browser) -> None:
    """An amendment choosing what is not an option is refused with the choice as Python's repr
    writes it; a commit credits co-authors matched by email as ``str.casefold`` matches."""
    ann = ev.Participant(id="ann", name="Ann", email="ann@example.test")
    opening: list[ev.Event] = [
        ev.ParticipantJoined(id="join-ann", actor="ann", at=0.0, participant=ann),
        *(
            ev.ParticipantJoined(id=f"joined-{p.id}", actor=p.id, at=1.0, participant=p)
            for p in NEWCOMERS
        ),
        ev.DecisionRecorded(
            id="decide-01",
            actor="ann",
            at=2.0,
            decision_id="dec-00001",
            title="Language",
            options=tuple(ev.ConsideredOption(name=name) for name in OPTION_NAMES),
        ),
    ]
    amendments = [
        ev.DecisionAmended(
            id=f"amend-{n:03d}", actor="ann", at=3.0, decision_id="dec-00001", chosen=chosen
        )
        for n, chosen in enumerate(CHOSEN)
    ]
    commits = [
        ev.CommitRecorded(
            id=f"commit-{n:03d}",
            actor="ann",
            at=4.0,
            sha=f"{n:040x}",
            summary="s",
            author=ev.Person(name="Ann"),
            co_authors=(person,),
        )
        for n, person in enumerate(STRANGERS + NEWCOMERS)
    ]
    log = opening + amendments + commits
    check_folds(browser, [log])
    credited = [c["co_authors"] for c in python_fold(log)[1][0]["commits"]]
    assert any({"name": "Straße", "email": "STRASSE@example.test"} in c for c in credited)
    assert [] in credited


# ---------------------------------------------------------------- decoding


def python_message(text: str) -> str | None:
    try:
        event = ev.decode_event(text)
    except ValidationError:
        return None
    return identity._message(SESSION, event).hex()


class Raw(str):
    """JSON text to put in a body as it is."""


def dump(value: Any, ascii_only: bool) -> str:
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        fields = (f"{json.dumps(k)}:{dump(v, ascii_only)}" for k, v in value.items())
        return "{" + ",".join(fields) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


ALL_KINDS = [
    ev.SessionOpened(id="abcdefgh", actor="ann", at=1.5, title="A session"),
    ev.ParticipantJoined(
        id="abcdefgh", actor="ann", at=1, participant=ev.Participant(id="ann", name="Ann")
    ),
    ev.ParticipantLeft(id="abcdefgh", actor="ann", at=1, participant_id="bob"),
    ev.ParticipantAway(id="abcdefgh", actor="ann", at=1, participant_id="bob", since=0.5),
    ev.ParticipantBack(id="abcdefgh", actor="ann", at=1, participant_id="bob"),
    ev.RotationReordered(id="abcdefgh", actor="ann", at=1, order=("bob", "ann")),
    ev.TurnStarted(id="abcdefgh", actor="ann", at=1, turn=1),
    ev.TimerPaused(id="abcdefgh", actor="ann", at=1, turn=1),
    ev.TimerResumed(id="abcdefgh", actor="ann", at=1, turn=1),
    ev.TimerExtended(id="abcdefgh", actor="ann", at=1, turn=1, seconds=60),
    ev.TurnSkipped(id="abcdefgh", actor="ann", at=1, turn=1),
    ev.RolesRotated(id="abcdefgh", actor="ann", at=1, turn=1, seq=3, stamped_at=2.5),
    ev.BreakStarted(id="abcdefgh", actor="ann", at=1, turn=1, seconds=30),
    ev.BreakEnded(id="abcdefgh", actor="ann", at=1, turn=1, early=True),
    ev.DecisionRecorded(
        id="abcdefgh",
        actor="ann",
        at=1,
        decision_id="dec-00001",
        title="Use SQLite",
        drivers=("speed",),
        options=(ev.ConsideredOption(name="SQLite", pros=("small",), cons=("one writer",)),),
        chosen="SQLite",
    ),
    ev.DecisionAmended(
        id="abcdefgh",
        actor="ann",
        at=1,
        decision_id="dec-00001",
        title="Use Postgres",
        options=(ev.ConsideredOption(name="Postgres"),),
        chosen="Postgres",
    ),
    ev.DecisionOpinion(id="abcdefgh", actor="ann", at=1, decision_id="dec-00001", stance="agree"),
    ev.DecisionSuperseded(id="abcdefgh", actor="ann", at=1, decision_id="dec-00001", by="dec-2222"),
    ev.CommitRecorded(
        id="abcdefgh",
        actor="ann",
        at=1,
        sha="a" * 40,
        summary="Fix it",
        author=ev.Person(name="Ann", email="ann@example.test"),
        co_authors=(ev.Person(name="Bob"),),
    ),
    ev.LessonNoted(id="abcdefgh", actor="ann", at=1, text="Small steps"),
    ev.HandoverPart(
        id="abcdefgh", actor="ann", at=1, handover="hand-0001", index=0, count=1, data="QQ=="
    ),
    ev.HandoverOffered(
        id="abcdefgh",
        actor="ann",
        at=1,
        turn=2,
        handover="hand-0001",
        snapshot="d" * 40,
        head="e" * 64,
        digest="f" * 64,
        branch="main",
    ),
    ev.HandoverApplied(id="abcdefgh", actor="ann", at=1, handover="hand-0001"),
    ev.HandoverRefused(
        id="abcdefgh", actor="ann", at=1, turn=2, reason="too big", largest=(("a.bin", 10),)
    ),
    ev.CloneHolding(id="abcdefgh", actor="ann", at=1, heads=("c" * 40,)),
    ev.SessionEnded(id="abcdefgh", actor="ann", at=1, sig="S" * 86),
]
RAW = [
    "1",
    "1.0",
    "1.5",
    "-0",
    "-0.0",
    "0",
    "2",
    "true",
    "false",
    "null",
    "[]",
    "{}",
    '["a"]',
    '"3"',
    '" 3 "',
    '"+3"',
    '"3.0"',
    '"3.00"',
    '"3."',
    '"1_0"',
    '"_1"',
    '"1__0"',
    '"1_"',
    '"1e2"',
    "1e2",
    "2.0000000000000001",
    '"\\u0661"',
    '"\\u00a03"',
    '"3\\u0085"',
    '"\\ufeff3"',
    '"\\u001c3"',
    '"1_0.0"',
    '" 1_0"',
    '"1_0 "',
    '"1._5"',
    '"+_1"',
    '"1e_1"',
    '".5"',
    '"1."',
    '"-.5e-3"',
    '"true"',
    '"YES"',
    '"off"',
    '"t"',
    '"n"',
    '""',
    '" true"',
    "0.0",
    "1e0",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-Infinity",
    '"inf"',
    '"nan"',
    '"Infinity"',
    "9223372036854775807",
    "9223372036854775808",
    "9.2e18",
    "9.3e18",
    "1e19",
    "1e30",
    "10000000000000000000000",
    '"99999999999999999999"',
    '"' + "1" * 4301 + '"',
    "1" + "0" * 4300,
    "12.0",
    "0.1",
    "1e16",
    "1e15",
    "1e-7",
    "1e-5",
    "1.5e-5",
    "5e-324",
    "1.7976931348623157e308",
    "1733601234.5678",
    '"1733601234.5678"',
    "123456789012345678",
    "0.99999999999999999999",
    '"\\ud800"',
    '"\\udc00"',
    '"\\ud800x"',
    '"\\ud83d\\ude00"',
    '"a\\u0000"',
    '"\\u0085"',
    '"<"',
    '"ann"',
    '"an n"',
    '"ann\\n"',
    '"__proto__"',
    '"abcdefgh"',
    '"abcdefg"',
    '"agree"',
    '"link"',
    '"proposed"',
    '"Proposed"',
    '"' + "a" * 40 + '"',
    '"' + "A" * 40 + '"',
    '"' + "a" * 64 + '"',
    '"' + "A" * 43 + '"',
    '"' + "A" * 86 + '"',
    '"' + "x" * 201 + '"',
    '"' + "x" * 200 + '"',
    '"' + "\\ud83d\\ude00" * 200 + '"',
    '"' + "\\ud83d\\ude00" * 201 + '"',
    '"' + "a" * 65 + '"',
    '[["a", 1]]',
    '[["a", "2"]]',
    '[["a", 1, 2]]',
    '[{"name": "x"}]',
    '[{"name": "x", "y": 1}]',
    '{"name": "Bob"}',
    '{"name": "Bob", "email": "b<c"}',
    '{"name": "B\\u2028"}',
    '{"name": ""}',
    '{"turn_seconds": "60", "auto_start": "no"}',
    '{"max_participants": 9}',
]
STRINGS = [*CORPUS.values(), "😀" * 200, "😀" * 201, "e\u0301" * 100, "\U0001f468\u200d\U0001f4bb"]


def paths(value: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield here
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*here, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*here, index))


@st.composite
def mutated_bodies(draw: st.DrawFn) -> str:
    """An event's JSON with one part changed: a value replaced, a field dropped or added."""
    body = json.loads(ev.encode_event(draw(st.sampled_from(ALL_KINDS))))
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from([p for p in paths(body) if p]))
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        how = draw(st.integers(0, 5))
        if how == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif how == 1 and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "kind", "seq", "sig", "key", "email"]))] = Raw(
                draw(st.sampled_from(RAW))
            )
        elif how == 2:
            parent[path[-1]] = draw(st.sampled_from(STRINGS))
        elif how == 3:
            parent[path[-1]] = draw(st.text(max_size=12))
        else:
            parent[path[-1]] = Raw(draw(st.sampled_from(RAW)))
    return dump(body, ascii_only=draw(st.booleans()))


def check_decoding(browser: Browser, texts: list[str]) -> None:
    expected = [python_message(text) for text in texts]
    results = browser.call("decodeAll", SESSION, texts)
    for text, python, js in zip(texts, expected, results, strict=True):
        assert python == js, f"{text[:300]!r}: python {python and bytes.fromhex(python)!r}, js {js}"


def test_every_kind_decodes_and_signs_alike(browser: Browser) -> None:
    texts = [ev.encode_event(event).decode() for event in ALL_KINDS]
    floats = ["12.0", "0.1", "1e16", "1e-7", "1733601234.5678", "1e-5", "-0.0", "1e22", "5e-324"]
    texts += [f'{{"kind":"session.ended","id":"abcdefgh","actor":"ann","at":{x}}}' for x in floats]
    texts += ['{"kind":"session.ended","id":"abcdefgh","actor":"ann","at":1,"kind":"lesson.noted"}']
    texts += ['{"kind":"lesson.noted","id":"abcdefgh","actor":"ann","at":1,"text":"a","text":"b"}']
    texts += ['\ufeff{"kind":"session.ended","id":"abcdefgh","actor":"ann","at":1}']
    texts += ['{"kind":"session.ended","id":"abcdefgh","actor":"ann","at":1,}']
    texts += [' {"kind":"session.ended","id":"abcdefgh","actor":"ann","at":1}\n']
    assert all(python_message(text) is not None for text in texts[: len(ALL_KINDS)])
    check_decoding(browser, texts)


def test_numbers_and_odd_values_decode_alike(browser: Browser) -> None:
    """Every odd value in every field of every kind."""
    texts = []
    for event in ALL_KINDS:
        body = json.loads(ev.encode_event(event))
        for path in [p for p in paths(body) if len(p) == 1]:
            for raw in RAW:
                changed = dict(body)
                changed[path[0]] = Raw(raw)
                texts.append(dump(changed, ascii_only=True))
    check_decoding(browser, texts)


@FAST
@given(st.lists(mutated_bodies(), min_size=40, max_size=40))
def test_mutated_bodies_decode_alike(browser: Browser, texts: list[str]) -> None:
    check_decoding(browser, texts)
