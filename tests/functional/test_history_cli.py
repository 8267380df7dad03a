"""``pairup why``, ``pairup log`` and ``pairup stats`` as a user runs them: the real command
in a subprocess, in a real repository (its identity in its own config) with a real journal of
a session held there and the JSON log and ADRs the real export wrote."""

import json
import shutil
from pathlib import Path

import pytest

from pairup.adr.export import Where, export
from tests.export_kit import T0, make_repo
from tests.integration.test_history import commit, held, session_events

from .conftest import Run

COMMANDS = ("why", "log", "stats")


class Repo:
    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "repo"
        repository = make_repo(self.path)
        self.path = self.path.resolve()
        self.first = commit(repository, {"src/relay.py": "one\ntwo\nthree\n"}, "Relay", 10)
        self.second = commit(repository, {"docs/store.md": "store\n"}, "Store", 20)
        self.outside = commit(repository, {"src/other.py": "x\n"}, "Outside", 30)
        info = held(
            tmp_path / "data", "s-held", session_events([self.first, self.second]), self.path
        )
        export(info, "adr", Where(repo=self.path), record=True, now=T0 + 4000)


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_why_answers_a_line_with_its_session_decisions_and_adrs(pairup: Run, repo: Repo) -> None:
    done = pairup("why", "src/relay.py:2", cwd=repo.path / "src" / "..")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"src/relay.py:2: commit {repo.first[:12]}, ")
    assert lines[0].endswith(', "Relay"')
    assert "  made in session s-held (" in done.stdout
    assert "  in the session: Ann, Bob" in done.stdout
    assert "    #1 Keep the session log in SQLite [accepted]" in lines
    assert "       ADR doc/adr/0001-keep-the-session-log-in-sqlite.md (Accepted)" in lines
    assert done.stderr == ""


def test_why_in_a_moved_copy_of_the_repository(pairup: Run, repo: Repo, tmp_path: Path) -> None:
    """The journal names the repository's old path; its commits say it is the same one."""
    moved = tmp_path / "repo-moved"
    shutil.copytree(repo.path, moved, symlinks=True)
    shutil.rmtree(moved / ".pairup")

    done = pairup("why", "src/relay.py:2", cwd=moved)

    assert done.returncode == 0, done.stderr
    assert "  made in session s-held (" in done.stdout
    assert "    #1 Keep the session log in SQLite [accepted]" in done.stdout


def test_why_from_a_folder_and_as_json(pairup: Run, repo: Repo) -> None:
    done = pairup("why", "relay.py:2", "--json", cwd=repo.path / "src")

    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["path"], answer["line"]) == ("src/relay.py", 2)
    (found,) = answer["commits"]
    assert found["sha"] == repo.first
    assert found["session"]["id"] == "s-held"
    assert found["session"]["credited"] == [
        {"name": "Ann", "email": "ann@example.test"},
        {"name": "Bob", "email": "bob@example.test"},
    ]
    assert [d["title"] for d in found["session"]["decisions"]] == ["Keep the session log in SQLite"]


def test_why_of_a_commit_no_session_recorded(pairup: Run, repo: Repo) -> None:
    done = pairup("why", "--repo", str(repo.path), "src/other.py:1")

    assert done.returncode == 0, done.stderr
    assert f"no pairup session held here recorded commit {repo.outside[:12]}" in done.stdout


def test_why_of_a_whole_file_lists_its_commits(pairup: Run, repo: Repo) -> None:
    (repo.path / "src" / "relay.py").write_text("one\ntwo\nthree\nmore\n")

    done = pairup("why", "src/relay.py", cwd=repo.path)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("src/relay.py (lines 4): not committed yet")
    assert f"src/relay.py (lines 1-3): commit {repo.first[:12]}" in done.stdout


@pytest.mark.parametrize(
    ("args", "cwd", "message"),
    [
        (["src/relay.py:1"], "outside", "is not inside a git repository; give the repository"),
        (["src/nothing.py:1"], "repo", "src/nothing.py: no such file"),
        (["src/relay.py:4"], "repo", "src/relay.py has 3 lines: no line 4"),
        (["src/relay.py:0"], "repo", "src/relay.py has 3 lines: no line 0"),
        (["src/new.py:1"], "repo", "src/new.py is not tracked by git"),
        (["src:1"], "repo", "src is a directory: give a file, or FILE:LINE"),
        (["src/relay.py:\u00b2"], "repo", "src/relay.py:\u00b2: no such file"),
        (["src/relay.py:\u0663"], "repo", "src/relay.py:\u0663: no such file"),
        (["../elsewhere.py"], "repo", "../elsewhere.py is outside the repository"),
        (["--repo", "/no/such/dir", "a.py"], "repo", "--repo /no/such/dir: no such directory"),
    ],
)
def test_why_mistakes_are_one_line_and_a_failure(
    pairup: Run, repo: Repo, tmp_path: Path, args: list[str], cwd: str, message: str
) -> None:
    (repo.path / "src" / "new.py").write_text("new\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "elsewhere.py").write_text("x\n")

    done = pairup("why", *args, cwd=outside if cwd == "outside" else repo.path)

    assert done.returncode != 0
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("pairup: ")
    assert message in done.stderr


def test_log_lists_the_sessions_and_filters_them(pairup: Run, repo: Repo) -> None:
    done = pairup("log", cwd=repo.path)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[2:] == ["session", "s-held", "30m", "Ann,", "Bob"]
    assert "  #1 Keep the session log in SQLite [accepted]" in lines
    assert "     agreed: Bob" in lines
    assert f"     commit {repo.first[:12]} Add the relay" in lines
    assert "       src/relay.py" in lines
    assert "  #2 Rotate every ten minutes [proposed]" in lines
    assert "     objected: Ann" in lines

    nobody = pairup("log", "--participant", "carol", cwd=repo.path)
    assert nobody.returncode == 0
    assert nobody.stdout.startswith("no session held in")
    bob = pairup("log", "--participant", "BOB@example.test", "--json", cwd=repo.path)
    assert [s["id"] for s in json.loads(bob.stdout)["sessions"]] == ["s-held"]
    proposed = json.loads(pairup("log", "--status", "proposed", "--json", cwd=repo.path).stdout)
    (session,) = proposed["sessions"]
    assert [d["number"] for d in session["decisions"]] == [2]
    assert session["decisions"][0]["commits_after"] == [repo.second]
    later = pairup("log", "--since", "2026-11-27", cwd=repo.path)
    assert later.stdout.startswith("no session held in"), "the session was on 2026-11-26"
    since = pairup("log", "--since", "2026-11-25", "--json", cwd=repo.path)
    assert [s["id"] for s in json.loads(since.stdout)["sessions"]] == ["s-held"]
    wrong = pairup("log", "--since", "last tuesday", cwd=repo.path)
    assert wrong.returncode != 0
    assert "--since: expected a day like 2026-11-02" in wrong.stderr


def test_an_adrs_status_is_the_decisions_once_a_person_changed_it(pairup: Run, repo: Repo) -> None:
    """ADR 32: after the export the file's status is the person's. Decision 2 was proposed
    in the session; its ADR is accepted since."""
    accepted = pairup("adr", "accept", "2", cwd=repo.path)
    assert accepted.returncode == 0, accepted.stderr

    done = pairup("log", cwd=repo.path)
    only = json.loads(pairup("log", "--status", "accepted", "--json", cwd=repo.path).stdout)
    proposed = pairup("log", "--status", "proposed", cwd=repo.path)
    why = pairup("why", "docs/store.md:1", cwd=repo.path)
    answer = json.loads(pairup("why", "docs/store.md:1", "--json", cwd=repo.path).stdout)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  #1 Keep the session log in SQLite [accepted]" in lines
    assert "  #2 Rotate every ten minutes [ADR: accepted, session: proposed]" in lines
    assert "     ADR doc/adr/0002-rotate-every-ten-minutes.md (Accepted)" in lines
    (session,) = only["sessions"]
    assert [(d["number"], d["status"], d["session_status"]) for d in session["decisions"]] == [
        (1, "accepted", "accepted"),
        (2, "accepted", "proposed"),
    ]
    assert proposed.stdout.startswith("no session held in"), proposed.stdout
    assert "    #2 Rotate every ten minutes [ADR: accepted, session: proposed]" in why.stdout
    decisions = answer["commits"][0]["session"]["decisions"]
    assert [(d["status"], d["session_status"]) for d in decisions] == [
        ("accepted", "accepted"),
        ("accepted", "proposed"),
    ]


def test_stats_as_json(pairup: Run, repo: Repo) -> None:
    done = pairup("stats", "--json", cwd=repo.path)

    assert done.returncode == 0, done.stderr
    stats = json.loads(done.stdout)
    (session,) = stats["sessions"]
    assert (session["id"], session["here"], session["decisions"], session["lessons"]) == (
        "s-held",
        True,
        2,
        1,
    )
    (pair,) = stats["pairs"]
    assert [p["name"] for p in pair["people"]] == ["Ann", "Bob"]
    assert pair["seconds"] == 1740
    (week,) = stats["driving"]
    assert sum(person["share"] for person in week["people"]) == pytest.approx(1)
    assert {item["directory"]: len(item["people"]) for item in stats["knowledge"]} == {
        "docs": 2,
        "src": 2,
    }


def test_stats_in_the_terminal_and_as_markdown(pairup: Run, repo: Repo) -> None:
    text = pairup("stats", "--here", cwd=repo.path)
    markdown = pairup("stats", "--markdown", cwd=repo.path)
    both = pairup("stats", "--json", "--markdown", cwd=repo.path)

    assert text.returncode == 0, text.stderr
    assert "Who paired with whom" in text.stdout
    assert "█" in text.stdout
    assert markdown.stdout.startswith("# Pairing stats\n")
    assert "```mermaid\npie title Driving minutes in 2026-W48\n" in markdown.stdout
    assert both.returncode != 0
    assert both.stderr == "pairup: give --json or --markdown, not both\n"


def test_stats_outside_a_repository_counts_this_machines_sessions(
    pairup: Run, repo: Repo, tmp_path: Path
) -> None:
    done = pairup("stats", "--json", cwd=tmp_path)
    here = pairup("stats", "--here", cwd=tmp_path)

    assert [s["id"] for s in json.loads(done.stdout)["sessions"]] == ["s-held"]
    assert json.loads(done.stdout)["knowledge"] == []
    assert here.returncode != 0
    assert "is not inside a git repository" in here.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_explains_itself_with_examples(pairup: Run, command: str) -> None:
    done = pairup(command, "--help")

    assert done.returncode == 0
    assert f"usage: pairup {command}" in done.stdout
    assert f"examples:\n  pairup {command}" in done.stdout
