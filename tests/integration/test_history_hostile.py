"""Hostile text through the history: each corpus entry as a participant's name, the session's
title, a decision's title, a commit's subject, a lesson and the path of the file the commit
touched (a top-level directory too), in a real repository and a real journal. ``why``,
``log`` and ``stats`` run through ``pairup.cli.main`` as the command runs them.

What the terminal gets holds no raw control character (no escape sequence, no bidirectional
override, no line break inside a line); the Markdown keeps its headings and its tables' rows
and cells, with no markup coming out of the text; mermaid labels hold nothing mermaid reads;
JSON carries the text as typed.
"""

import json
import re
from pathlib import Path

import pytest

from pairup.cli import main
from pairup.printable import printable
from pairup.session import events as ev
from tests.export_kit import make_repo
from tests.hostile import CORPUS, NAMEABLE, fit
from tests.markdown_reading import BIDI_NAMES, headings, markup, parse, table_rows

from .test_history import BOB, commit, held, session_events

RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029" + "".join(BIDI_NAMES) + "]")
"""What a terminal must never be sent as it is: every control but the line break between
lines, and every bidirectional control."""
PIE_SLICE = re.compile(r'    "[^":`%#;\n<>]+" : \d+\.\d')
STATS_HEADINGS = [
    (1, "Pairing stats"),
    (2, "Who paired with whom"),
    (2, "Driving share per ISO week (UTC)"),
    (2, "Sessions"),
    (2, "Knowledge spread"),
]


def path_of(text: str) -> str:
    """``text`` as a path git can hold: its slashes make folders, each name at most 40
    characters; no NUL, no empty, ``.``, ``..`` or ``.git`` name."""
    names = [
        fit(name, 40)
        for name in text.replace("\x00", "").split("/")
        if name.strip(".") and name != ".git"
    ]
    return "/".join(names) if len(names) > 1 else f"{names[0] if names else 'x'}/file"


@pytest.fixture(params=list(CORPUS), ids=list(CORPUS))
def hostile(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str, str]:
    """A session with the entry everywhere it can go; the entry, the path, the name."""
    text = CORPUS[request.param]
    name = fit(NAMEABLE[request.param], 200) if request.param in NAMEABLE else "Plain Name"
    path = path_of(text)
    repo_path = tmp_path / "repo"
    repository = make_repo(repo_path)
    first = commit(repository, {path: "one\ntwo\n"}, fit(text, 200).replace("\x00", ""), 10)
    second = commit(repository, {"README.md": "# demo\nmore\n"}, "Second", 20)
    host = ev.Participant(id="host", name=name, email="host@example.test")
    events = session_events([first, second], host=host, first_title=fit(text, 200))
    events[1] = events[1].model_copy(update={"title": fit(text, 200)})
    events[-2] = events[-2].model_copy(update={"text": fit(text, 2000)})
    held(tmp_path / "data", "s-hostile", events, repo_path.resolve())
    for key in ("HOME", "XDG_CONFIG_HOME", "PAIRUP_DATA_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PAIRUP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(repo_path)
    return text, path, name


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(list(args)) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_the_terminal_shows_hostile_text_as_text(
    hostile: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    text, path, name = hostile

    every = (("why", f"{path}:1"), ("why", path), ("log",), ("stats",))
    for args in (*every, *((*args, "--json") for args in every)):
        out = run(capsys, *args)
        found = RAW.search(out)
        assert found is None, f"pairup {args[0]} sent {found.group()!r} to the terminal"

    why = run(capsys, "why", f"{path}:2")
    assert printable(fit(text, 200)) in why, "the decision's title, shown"
    assert printable(name) in why
    assert why.startswith(printable(f"{path}:2: commit "))


def test_json_carries_hostile_text_as_typed(
    hostile: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    text, path, name = hostile

    answer = json.loads(run(capsys, "why", "--json", f"{path}:1"))
    logged = json.loads(run(capsys, "log", "--json"))

    assert answer["path"] == path
    (found,) = answer["commits"]
    session = found["session"]
    assert session["participants"][0]["name"] == name
    assert session["title"] == fit(text, 200)
    assert session["decisions"][0]["title"] == fit(text, 200)
    assert logged["sessions"][0]["commits"][0]["files"] == [path]


def test_markdown_and_mermaid_stay_structural(
    hostile: tuple[str, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _, path, name = hostile

    markdown = run(capsys, "stats", "--markdown")

    tokens = parse(markdown)
    assert [(h.level, h.text) for h in headings(tokens)] == STATS_HEADINGS
    for row in table_rows(tokens):
        assert len(row) in (3, 4, 8), [cell.content for cell in row]
        for cell in row:
            assert markup(cell) in ([], ["code_inline"]), cell.content
    fences = [token for token in tokens if token.type == "fence"]
    assert fences, "a chart of the driving"
    for fence in fences:
        assert fence.info == "mermaid"
        first, *slices = fence.content.splitlines()
        assert first.startswith("pie title Driving minutes in ")
        assert len(slices) == 2
        assert all(PIE_SLICE.fullmatch(line) for line in slices), slices
    counted = json.loads(run(capsys, "stats", "--json"))
    spread = {item["directory"]: item["people"] for item in counted["knowledge"]}
    assert sorted(p["name"] for p in spread[path.split("/")[0]]) == sorted([name, BOB.name])
