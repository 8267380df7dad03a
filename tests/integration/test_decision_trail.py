"""A decision followed from the keystroke to the line of code it explains, and back, with
pairup alone: two real headless participants decide and commit through a real relay, the
session is exported and committed, and then ``pairup why`` on the line names the decision and
its ADR, ``pairup log`` names the commit and the file after the decision, and ``pairup adr``
accepts the ADR in place; on another machine (no journals, only the repository) the same
answers come from the session log committed with the record."""

import json
import os
import shutil
from pathlib import Path

from .test_git_commits import ann_env, git, new_repo, pairup, wait_for_live
from .test_headless import environment, guest, host, is_event, participants

TITLE = "Keep the relay's log in SQLite"


def answered(repo: Path, env: dict[str, str], *args: str) -> dict:
    done = pairup(repo, env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_decision_leads_to_the_line_it_explains_and_the_line_back_to_it(tmp_path):
    env = ann_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    bob_repo = tmp_path / "bob-repo"
    bob_repo.mkdir()
    with participants(tmp_path) as launch:
        ann, link = host(launch, cwd=repo)
        bob = guest(launch, link, cwd=bob_repo)
        wait_for_live(repo, "Bob")
        ann.send(
            {
                "cmd": "decide",
                "title": TITLE,
                "options": [{"name": "SQLite", "pros": ["One file"]}, {"name": "Postgres"}],
                "chosen": "SQLite",
            }
        )
        ann.expect(is_event("decision.recorded", title=TITLE), "the decision")
        bob.send({"cmd": "agree", "number": 1, "why": "Nothing to run beside it"})
        ann.expect(is_event("decision.opinion", stance="agree"), "bob agrees")
        (repo / "relay.py").write_text("import sqlite3\n\nSTORE = 'relay.db'\n")
        git(repo, "add", "relay.py", env=env)
        made = pairup(repo, env, "commit", "-m", "Store the relay's log in SQLite")
        assert made.returncode == 0, made.stderr
        ann.expect(is_event("commit.recorded"), "the commit")
        ann.send({"cmd": "end"})
        ann.rest(timeout=15)
        bob.rest(timeout=15)

    exported = pairup(repo, env, "export")
    assert exported.returncode == 0, exported.stderr
    (adr,) = (repo / "doc" / "adr").glob("0001-*.md")
    (log_file,) = (repo / ".pairup" / "sessions").glob("*.json")
    git(repo, "add", "doc", ".pairup", env=env)
    git(repo, "commit", "-q", "-m", "Record the session", env=env)

    # From the line to the decision.
    why = answered(repo, env, "why", "relay.py:3")
    text = json.dumps(why, ensure_ascii=False)
    assert "Store the relay's log in SQLite" in text
    assert TITLE in text
    assert adr.relative_to(repo).as_posix() in text
    assert "Bob" in text

    # And back: the decision, the commit after it and the file it touched.
    log = answered(repo, env, "log")
    text = json.dumps(log, ensure_ascii=False)
    assert TITLE in text
    assert "relay.py" in text
    assert "Store the relay's log in SQLite" in text

    # The ADR is accepted in its file; the export keeps that and the log still finds it.
    accepted = pairup(repo, env, "adr", "accept", "1")
    assert accepted.returncode == 0, accepted.stderr
    assert "## Status\n\nAccepted\n" in adr.read_text()
    again = pairup(repo, env, "export")
    assert again.returncode == 0, again.stderr
    assert "## Status\n\nAccepted\n" in adr.read_text()

    # A teammate's machine has no journal of the session: the committed log answers.
    teammate = {**environment(tmp_path, "c"), "GIT_CONFIG_GLOBAL": os.devnull}
    clone = tmp_path / "teammate-clone"
    shutil.copytree(repo, clone, symlinks=True)
    assert log_file.exists()
    why = answered(clone, teammate, "why", "relay.py:3")
    assert TITLE in json.dumps(why, ensure_ascii=False)
    shown = pairup(clone, teammate, "why", "relay.py:3")
    assert shown.returncode == 0, shown.stderr
    assert TITLE in shown.stdout
