"""Commit for the session (:mod:`pairup.git.committing`) in real repositories: co-authors'
emails corrected by the repository's ``.git-coauthors``, then the asker's home's, once, and the
answer ``pairup commit`` prints."""

import json
from pathlib import Path

import pytest

from pairup.git.committing import commit_for_session, correction_places, resolve_credit
from pairup.git.repo import GitError, open_repository
from pairup.git.trailers import Person

from .test_git_commits import co_authors_of, git, git_env, new_repo

BOB = Person(name="Bob", email="bob@laptop.local")
CY = Person(name="Cy", email="")


def coauthors_file(where: Path, **emails: str) -> None:
    where.mkdir(parents=True, exist_ok=True)
    entries = {name.lower(): {"name": name, "email": email} for name, email in emails.items()}
    (where / ".git-coauthors").write_text(json.dumps({"coauthors": entries}))


def test_the_repositorys_file_wins_over_the_home_of_whoever_asked(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    coauthors_file(repo, Bob="bob@example.test")
    coauthors_file(Path(env["HOME"]), Bob="bob@home.test", Cy="cy@example.test")
    (repo / "src").mkdir()
    (repo / "src" / "relay.py").write_text("print('relay')\n")
    git(repo, "add", "src/relay.py", env=env)

    done = commit_for_session(
        open_repository(repo / "src"), repo / "src", "Add the relay", [BOB, CY], env
    )

    assert co_authors_of(repo, env) == [
        "Co-authored-by: Bob <bob@example.test>",
        "Co-authored-by: Cy <cy@example.test>",
    ]
    assert done.branch == "main"
    assert done.warnings == ()
    assert done.answer() == {
        "ok": True,
        "sha": git(repo, "rev-parse", "HEAD", env=env).strip(),
        "summary": "Add the relay",
        "branch": "main",
        "co_authors": [["Bob", "bob@example.test"], ["Cy", "cy@example.test"]],
        "warnings": [],
    }


def test_an_email_left_uncorrected_is_credited_with_a_warning(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    git(repo, "checkout", "-q", "--detach", env=env)
    (repo / "README.md").write_text("# demo, detached\n")

    done = commit_for_session(
        open_repository(repo), repo, "Detached", [BOB], env, stage_all=True, verify=False
    )

    assert done.branch == "detached HEAD"
    assert done.warnings == ("Bob's email bob@laptop.local is a local address GitHub cannot match",)
    assert co_authors_of(repo, env) == ["Co-authored-by: Bob <bob@laptop.local>"]


def test_the_home_is_the_one_the_environment_names(tmp_path: Path) -> None:
    """A request over the socket carries its asker's environment: their home's file counts,
    not the running pairup's."""
    repo = new_repo(tmp_path / "repo", git_env(tmp_path))
    theirs = tmp_path / "their-home"
    coauthors_file(theirs, Bob="bob@theirs.test")
    assert correction_places(repo / "deep", {"HOME": str(theirs)}) == (repo, theirs)
    fixed, warnings = resolve_credit([BOB], repo, {"HOME": str(theirs)})
    assert fixed == (Person(name="Bob", email="bob@theirs.test"),)
    assert warnings == ()


def test_a_refused_commit_is_a_git_error_and_nothing_is_made(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo = new_repo(tmp_path / "repo", env)
    with pytest.raises(GitError, match=r"^nothing to commit"):
        commit_for_session(open_repository(repo), repo, "Nothing", [BOB], env)
    assert git(repo, "log", "--format=%s", env=env).splitlines() == ["Start"]
