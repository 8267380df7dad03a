"""The session's repository, seen from a participant: who to credit, and what was committed.

While a participant takes part from inside a git repository, their pairup keeps the
live-session file current (so ``pairup commit``, ``pairup trailers`` and the hook know whom to
credit) and records every commit made here during the session, however it was made, so every
participant sees it. File and git work runs in threads, never on the event loop.
"""

import asyncio
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pygit2

from pairup.git.coauthors import resolve
from pairup.git.live import (
    LiveSession,
    commit_socket,
    git_dirs,
    remove_live,
    write_live,
)
from pairup.git.repo import Committed, GitError, commit, credited, open_repository
from pairup.git.trailers import Person
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.credit import Credit, co_authors
from pairup.session.state import State

INTERVAL = 1.0
MAX_REQUEST = 1 << 20
NEWEST_FIRST_LIMIT = 50
"""At most this many commits are looked at per check; more at once is a pull, not pairing."""


async def keep_repository(
    link: Link, me: ev.Participant, cwd: Path, credit: Credit = "present"
) -> None:
    """Run until cancelled or the session ends; removes the live-session file when it stops."""
    dirs = await asyncio.to_thread(git_dirs, cwd)
    if dirs is None:
        return
    await _Repository(link, me, cwd, dirs[1], credit).run()


class _Repository:
    def __init__(
        self, link: Link, me: ev.Participant, cwd: Path, common: Path, credit: Credit
    ) -> None:
        self.link = link
        self.me = me
        self.cwd = cwd
        self.common = common
        self.credit = credit
        self.socket = commit_socket(common)
        self.commits = asyncio.Lock()

    async def run(self) -> None:
        watcher = await asyncio.to_thread(_HeadWatcher.open, self.cwd)
        server = await self._listen() if watcher is not None else None
        written: LiveSession | None = None
        try:
            while self.link.view.phase != "ended":
                view = self.link.view
                member = view.member(self.me.id)
                if member is not None and member.present:
                    serving = str(self.socket) if server is not None and self.socket else ""
                    live = _live(self.link, self.me, view, self.credit, serving)
                    if live != written:
                        await asyncio.to_thread(write_live, self.common, live)
                        written = live
                if watcher is not None:
                    async with self.commits:
                        found = await asyncio.to_thread(
                            watcher.new_commits, self.link.view, self.me.id
                        )
                        for event in found:
                            await self.link.submit(event)
                await asyncio.sleep(INTERVAL)
        finally:
            if written is not None:
                remove_live(self.common, self.link.join.session)
            if server is not None:
                server.close()
                if self.socket is not None:
                    self.socket.unlink(missing_ok=True)

    async def _listen(self) -> asyncio.Server | None:
        """Take commits from ``pairup commit`` over a socket only this user can open, so the
        command need not load git itself."""
        path = self.socket
        if path is None:
            return None
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        try:
            server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_REQUEST)
        except OSError:
            return None
        path.chmod(0o600)
        return server

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            reply = await self._commit(json.loads(line))
        except (ValueError, asyncio.LimitOverrunError):
            reply = {"ok": False, "error": "pairup could not read the request"}
        try:
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _commit(self, request: Any) -> dict[str, Any]:
        """A commit as the caller asked, crediting who is pairing, recorded in the session."""
        if not isinstance(request, dict) or request.get("op") != "commit":
            return {"ok": False, "error": "pairup was asked for something it does not do"}
        message, env = request.get("message"), request.get("env")
        if not isinstance(message, str) or not isinstance(env, dict):
            return {"ok": False, "error": "a commit needs a message"}
        env = {str(key): str(value) for key, value in env.items()}
        people, warnings = resolve(
            (Person(p.name, p.email) for p in co_authors(self.link.view, self.me.id, self.credit)),
            [self.cwd, Path(env.get("HOME", str(Path.home())))],
        )
        async with self.commits:
            try:
                made, branch = await asyncio.to_thread(
                    _commit_in,
                    self.cwd,
                    message,
                    people,
                    env,
                    stage_all=bool(request.get("all")),
                    verify=bool(request.get("verify", True)),
                )
            except GitError as error:
                return {"ok": False, "error": str(error)}
            # Recorded before the lock is let go, so the watcher never records it again.
            await self.link.submit(
                ev.CommitRecorded(
                    id=new_id(),
                    actor=self.me.id,
                    at=self.link.now(),
                    sha=made.sha,
                    summary=made.summary,
                    author=ev.Person(name=made.author.name, email=made.author.email),
                    co_authors=tuple(
                        ev.Person(name=p.name, email=p.email) for p in made.co_authors
                    ),
                )
            )
        return {
            "ok": True,
            "sha": made.sha,
            "summary": made.summary,
            "branch": branch,
            "co_authors": [[p.name, p.email] for p in made.co_authors],
            "warnings": list(warnings),
        }


def _commit_in(
    cwd: Path,
    message: str,
    people: tuple[Person, ...],
    env: dict[str, str],
    *,
    stage_all: bool,
    verify: bool,
) -> tuple[Committed, str]:
    repo = open_repository(cwd)
    made = commit(repo, message, co_authors=people, env=env, stage_all=stage_all, verify=verify)
    return made, "detached HEAD" if repo.head_is_detached else repo.head.shorthand


def _live(link: Link, me: ev.Participant, view: State, credit: Credit, serving: str) -> LiveSession:
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
        socket=serving,
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
        for made in _first_parents(repo, head):
            if str(made.id) == seen or made.commit_time < started:
                break
            if str(made.id) in view.commits:
                continue
            people = credited(made.message)
            involved = {made.author.email.casefold(), *(p.email.casefold() for p in people)}
            if members & involved:
                found.append(
                    ev.CommitRecorded(
                        id=new_id(),
                        actor=me,
                        at=float(made.commit_time),
                        sha=str(made.id),
                        summary=made.message.split("\n", 1)[0][:200],
                        author=ev.Person(name=made.author.name, email=made.author.email),
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
