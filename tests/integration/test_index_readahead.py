"""The running pairup reads the index ahead of a commit; a commit trusts that read only while
the index file is still the one it read."""

import sys
from pathlib import Path

import pygit2
import pytest

from pairup.git.repo import commit, index_stamp, open_repository, read_index
from pairup.git.trailers import Person
from pairup.git.watch import watch

from .test_git_commits import git, git_env, new_repo

BOB = Person(name="Bob", email="bob@example.test")


def test_the_stamp_follows_the_index_file(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo_path = new_repo(tmp_path / "repo", env)
    repo = open_repository(repo_path)
    before = index_stamp(repo)
    assert before is not None
    assert index_stamp(repo) == before
    (repo_path / "new.txt").write_text("new\n")
    git(repo_path, "add", "new.txt", env=env)
    assert index_stamp(repo) not in (None, before)


def test_an_index_written_without_its_hash_has_no_stamp(tmp_path: Path) -> None:
    """Git 2.40 and later write zeros for the hash under ``index.skipHash``; the file then
    says nothing of its contents, so a commit always reads it."""
    env = git_env(tmp_path)
    repo_path = new_repo(tmp_path / "repo", env)
    index = repo_path / ".git" / "index"
    index.write_bytes(index.read_bytes()[:-20] + bytes(20))
    assert index_stamp(open_repository(repo_path)) is None


def test_a_commit_reads_the_index_again_unless_it_is_the_file_read_ahead(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo_path = new_repo(tmp_path / "repo", env)
    repo = open_repository(repo_path)
    (repo_path / "kept.txt").write_text("only in memory\n")

    # Read ahead and still current: the index in memory is the one committed, so what was
    # staged in memory alone (and never written) is in the commit.
    stamp = read_index(repo)
    repo.index.add("kept.txt")
    made = commit(repo, "Ahead", co_authors=[BOB], env=env, index_read=stamp)
    assert "kept.txt" in repo[made.sha].tree

    # Staged by git after the read ahead: the file changed, so the commit reads it again.
    stamp = read_index(repo)
    (repo_path / "late.txt").write_text("staged after the read\n")
    git(repo_path, "add", "late.txt", env=env)
    made = commit(repo, "Late", co_authors=[BOB], env=env, index_read=stamp)
    tree = repo[made.sha].tree
    assert "late.txt" in tree
    assert isinstance(repo[made.sha], pygit2.Commit)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")
def test_git_replacing_the_index_is_noticed_and_other_files_are_not(tmp_path: Path) -> None:
    env = git_env(tmp_path)
    repo_path = new_repo(tmp_path / "repo", env)
    index_watch = watch(repo_path / ".git", {"index"})
    assert index_watch is not None
    try:
        assert index_watch.changed() == set()
        (repo_path / ".git" / "description").write_text("not the index\n")
        assert index_watch.changed() == set()
        (repo_path / "new.txt").write_text("new\n")
        git(repo_path, "add", "new.txt", env=env)
        assert index_watch.changed() == {"index"}
        assert index_watch.changed() == set()
    finally:
        index_watch.close()
