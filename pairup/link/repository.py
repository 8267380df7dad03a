"""The session's repository, seen from a participant: who to credit, and what was committed.

While a participant takes part from inside a git repository, their pairup keeps the
live-session file current (so ``pairup commit``, ``pairup trailers`` and the hook know whom to
credit) and records every commit made here during the session, however it was made, so every
participant sees it. File and git work runs in threads, never on the event loop.
"""

import asyncio
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pygit2

from pairup.git.live import LiveSession, git_dirs, remove_live, write_live
from pairup.git.repo import GitError, credited, open_repository
from pairup.git.trailers import Person
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.credit import Credit, co_authors
from pairup.session.state import State

INTERVAL = 1.0
NEWEST_FIRST_LIMIT = 50
"""At most this many commits are looked at per check; more at once is a pull, not pairing."""


async def keep_repository(
    link: Link, me: ev.Participant, cwd: Path, credit: Credit = "present"
) -> None:
    """Run until cancelled or the session ends; removes the live-session file when it stops."""
    dirs = await asyncio.to_thread(git_dirs, cwd)
    if dirs is None:
        return
    _, common = dirs
    watcher = await asyncio.to_thread(_HeadWatcher.open, cwd)
    written: LiveSession | None = None
    try:
        while link.view.phase != "ended":
            view = link.view
            member = view.member(me.id)
            if member is not None and member.present:
                live = _live(link, me, view, credit)
                if live != written:
                    await asyncio.to_thread(write_live, common, live)
                    written = live
            if watcher is not None:
                for event in await asyncio.to_thread(watcher.new_commits, link.view, me.id):
                    await link.submit(event)
            await asyncio.sleep(INTERVAL)
    finally:
        if written is not None:
            remove_live(common, link.join.session)


def _live(link: Link, me: ev.Participant, view: State, credit: Credit) -> LiveSession:
    return LiveSession(
        session=link.join.session,
        participant=me.id,
        me=Person(name=me.name, email=me.email),
        co_authors=tuple(
            Person(name=person.name, email=person.email)
            for person in co_authors(view, me.id, credit)
        ),
        pid=os.getpid(),
        host=socket.gethostname(),
    )


class _HeadWatcher:
    """Notices commits made in the repository (by pairup, git or an editor) during the session."""

    def __init__(self, repo: pygit2.Repository, head: str | None) -> None:
        self.repo = repo
        self.seen = head

    @classmethod
    def open(cls, cwd: Path) -> "_HeadWatcher | None":
        try:
            repo = open_repository(cwd)
        except GitError:
            return None
        return cls(repo, _head(repo))

    def new_commits(self, view: State, me: str) -> list[ev.CommitRecorded]:
        """The commits since the last look that someone in the session wrote, oldest first."""
        repo = self.repo
        head = _head(repo)
        if head is None or head == self.seen:
            return []
        seen, self.seen = self.seen, head
        members = {m.participant.email.casefold() for m in view.members if m.participant.email}
        started = view.opened_at or 0.0
        found = []
        for commit in _first_parents(repo, head):
            if str(commit.id) == seen or commit.commit_time < started:
                break
            if str(commit.id) in view.commits:
                continue
            people = credited(commit.message)
            involved = {commit.author.email.casefold(), *(p.email.casefold() for p in people)}
            if members & involved:
                found.append(
                    ev.CommitRecorded(
                        id=new_id(),
                        actor=me,
                        at=float(commit.commit_time),
                        sha=str(commit.id),
                        summary=commit.message.split("\n", 1)[0][:200],
                        author=ev.Person(name=commit.author.name, email=commit.author.email),
                        co_authors=tuple(ev.Person(name=p.name, email=p.email) for p in people),
                    )
                )
        return list(reversed(found))


def _head(repo: pygit2.Repository) -> str | None:
    try:
        return None if repo.head_is_unborn else str(repo.head.target)
    except pygit2.GitError:
        return None


def _first_parents(repo: pygit2.Repository, head: str) -> Iterator[pygit2.Commit]:
    commit = repo[head]
    for _ in range(NEWEST_FIRST_LIMIT):
        if not isinstance(commit, pygit2.Commit):
            return
        yield commit
        if not commit.parents:
            return
        commit = commit.parents[0]
