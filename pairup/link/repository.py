"""The session's repository, seen from a participant: who to credit, and what was committed.

While a participant takes part from inside a git repository, their pairup keeps the
live-session file current (so ``pairup commit``, ``pairup trailers`` and the hook know whom to
credit), makes the commits asked of it (over its socket, or from its own screen) and records
every commit made here during the session, however it was made, so every participant sees it.
Git work holds one lock, :attr:`SessionRepository.git_lock`, and runs in threads, never on the
event loop.
"""

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import struct
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pygit2

from pairup.git.committing import SessionCommit, commit_for_session
from pairup.git.live import LiveSession, commit_socket, git_dirs, remove_live, write_live
from pairup.git.repo import GitError, credited, open_repository, read_index
from pairup.git.trailers import Person
from pairup.git.watch import Watch, watch
from pairup.link.client import Link
from pairup.link.timekeeper import new_id
from pairup.session import events as ev
from pairup.session.credit import Credit, co_authors
from pairup.session.state import State

log = logging.getLogger("pairup.repository")

INTERVAL = 1.0
MAX_REQUEST = 1 << 20
NEWEST_FIRST_LIMIT = 50
"""At most this many commits are looked at per check; more at once is a pull, not pairing."""


def session_credits(link: Link, me: ev.Participant, credit: Credit) -> tuple[Person, ...]:
    """Whom a commit made now by ``me`` credits, as the session stands on the event loop (read
    it there: the view changes under a thread's feet)."""
    return tuple(
        Person(name=person.name, email=person.email)
        for person in co_authors(link.view, me.id, credit, link.ever_online)
    )


class SessionRepository:
    """The repository ``me`` works in, kept for the session: run :meth:`run` beside the link,
    commit through :meth:`commit`, and hold :attr:`git_lock` for any other git work here."""

    def __init__(
        self, link: Link, me: ev.Participant, cwd: Path, credit: Credit = "present"
    ) -> None:
        self.link = link
        self.me = me
        self.cwd = cwd
        self.credit = credit
        self.git_lock = asyncio.Lock()
        """Held by every piece of git work done here for this participant (commits, the
        commit watcher, the index read ahead): one at a time, so a commit this pairup made is
        recorded before the watcher can take it for someone else's."""
        self._dirs: tuple[Path, Path] | None = None
        """The repository's git and common directories, once :meth:`run` has looked."""
        self._socket: Path | None = None
        self._socket_inode: int | None = None
        self._complained: set[str] = set()
        self._repo: pygit2.Repository | None = None
        """The repository the watcher keeps open, used under ``git_lock`` only: its index
        stays loaded, so a commit reads it once, not once to open it and again to refresh it."""
        self._index_read: bytes | None = None
        """The index file's stamp when ``_repo``'s index was last read from it, if a read
        ahead of a commit left it current (see :func:`pairup.git.repo.commit`)."""
        self._index_stale = False
        self._reading: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Keep the live-session file, the socket and the record of commits until cancelled or
        the session ends (outside a repository, nothing); removes the file and the socket
        when it stops."""
        self._dirs = await asyncio.to_thread(git_dirs, self.cwd)
        if self._dirs is None:
            return
        common = self._dirs[1]
        self._socket = commit_socket(common)
        watcher = await asyncio.to_thread(_HeadWatcher.open, self.cwd)
        self._repo = None if watcher is None else watcher.repo
        server: asyncio.Server | None = None
        index_watch: Watch | None = None
        written: LiveSession | None = None
        try:
            server = await self._listen() if self._repo is not None else None
            index_watch = await self._watch_index() if server is not None else None
            while self.link.view.phase != "ended":
                try:
                    written = await self._tick(common, watcher, server, written)
                except (OSError, GitError, pygit2.GitError) as error:
                    # The session matters more than the repository's bookkeeping: say so once
                    # and carry on; the next tick tries again.
                    self._complain(f"cannot keep up with the repository: {error}")
                await asyncio.sleep(INTERVAL)
        finally:
            if written is not None:
                remove_live(common, self.link.join.session)
            if index_watch is not None:
                asyncio.get_running_loop().remove_reader(index_watch.fd)
                index_watch.close()
            if self._reading is not None:
                self._reading.cancel()
            if server is not None:
                server.close()
                self._remove_socket()

    async def commit(
        self, message: str, env: Mapping[str, str], *, stage_all: bool = False, verify: bool = True
    ) -> SessionCommit:
        """Commit here as ``env`` names the author, crediting who pairs now, and record it in
        the session before the lock is let go, so the watcher never records it again. Raises
        :class:`~pairup.git.repo.GitError` with what to do."""
        people = session_credits(self.link, self.me, self.credit)
        async with self.git_lock:
            # The repository the watcher holds, its index perhaps read ahead; before the
            # watcher has opened it (or where it could not), one opened for this commit.
            kept, index_read = self._repo, self._index_read

            def made_here() -> SessionCommit:
                repo = kept if kept is not None else open_repository(self.cwd)
                return commit_for_session(
                    repo,
                    self.cwd,
                    message,
                    people,
                    env,
                    stage_all=stage_all,
                    verify=verify,
                    index_read=index_read,
                )

            try:
                done = await asyncio.to_thread(made_here)
            finally:
                # A hook or -a may have changed the index: the next commit reads it.
                self._index_read = None
            made = done.made
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
        return done

    async def _watch_index(self) -> Watch | None:
        """Read the index again as soon as git replaces it (``git add``), so ``pairup commit``
        finds it read already; where nothing tells us, commits read it themselves."""
        assert self._repo is not None
        index_watch = await asyncio.to_thread(watch, Path(self._repo.path), {"index"})
        if index_watch is not None:
            asyncio.get_running_loop().add_reader(index_watch.fd, self._index_replaced, index_watch)
        return index_watch

    def _index_replaced(self, index_watch: Watch) -> None:
        if not index_watch.changed():
            return
        self._index_stale = True
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read_index())

    async def _read_index(self) -> None:
        while self._index_stale and self._repo is not None:
            self._index_stale = False
            async with self.git_lock:
                try:
                    self._index_read = await asyncio.to_thread(read_index, self._repo)
                except GitError as error:
                    # A half-written or locked index: the commit reads it itself.
                    self._index_read = None
                    log.debug("reading the index ahead of a commit failed: %s", error)

    async def _tick(
        self,
        common: Path,
        watcher: "_HeadWatcher | None",
        server: asyncio.Server | None,
        written: LiveSession | None,
    ) -> LiveSession | None:
        member = self.link.view.member(self.me.id)
        if member is not None and member.present:
            serving = str(self._socket) if server is not None and self._socket else ""
            live = _live(self.link, self.me, self.credit, serving)
            if live != written:
                await asyncio.to_thread(write_live, common, live)
                written = live
        if watcher is not None:
            async with self.git_lock:
                found = await asyncio.to_thread(watcher.new_commits, self.link.view, self.me.id)
                for event in found:
                    await self.link.submit(event)
        return written

    def _complain(self, message: str) -> None:
        if message not in self._complained:
            self._complained.add(message)
            log.warning("%s", message)

    async def _listen(self) -> asyncio.Server | None:
        """Take commits from ``pairup commit`` over a socket in a directory only this user can
        enter, so the command need not load git itself. Another pairup already listening in
        this repository keeps its socket."""
        path = self._socket
        if path is None:
            return None
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            path.parent.chmod(0o700)
            if await asyncio.to_thread(_answers, path):
                return None
            path.unlink(missing_ok=True)
            server = await asyncio.start_unix_server(self._serve, path=str(path), limit=MAX_REQUEST)
            path.chmod(0o600)
            self._socket_inode = path.stat().st_ino
        except OSError as error:
            self._complain(f"pairup commit will not go through this pairup: {error}")
            return None
        return server

    def _remove_socket(self) -> None:
        """Remove the socket if it is still this process's (another pairup may have taken the
        path over after this one stopped answering)."""
        if self._socket is None or self._socket_inode is None:
            return
        with contextlib.suppress(OSError):
            if self._socket.stat().st_ino == self._socket_inode:
                self._socket.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not _same_user(writer):
                reply: dict[str, Any] = {"ok": False, "error": "not your pairup"}
            else:
                reply = await self._commit(json.loads(await reader.readline()))
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
        """A commit as ``pairup commit`` asked over the socket (see :meth:`commit`)."""
        if not isinstance(request, dict) or request.get("op") != "commit":
            return {"ok": False, "error": "pairup was asked for something it does not do"}
        message, env, cwd = request.get("message"), request.get("env"), request.get("cwd")
        if not isinstance(message, str) or not isinstance(env, dict) or not isinstance(cwd, str):
            return {"ok": False, "error": "a commit needs a message"}
        env = {str(key): str(value) for key, value in env.items()}
        if await asyncio.to_thread(git_dirs, Path(cwd)) != self._dirs:
            # Another worktree of the repository: its index is not this pairup's to commit.
            return {"ok": False, "elsewhere": True, "error": "another worktree"}
        try:
            done = await self.commit(
                message,
                env,
                stage_all=bool(request.get("all")),
                verify=bool(request.get("verify", True)),
            )
        except GitError as error:
            return {"ok": False, "error": str(error)}
        return done.answer()


def _answers(path: Path) -> bool:
    """Whether a process listens on the socket at ``path`` now."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def _same_user(writer: asyncio.StreamWriter) -> bool:
    """Whether the peer runs as this user (where the system says; elsewhere the directory's
    permissions already keep others out)."""
    connection = writer.get_extra_info("socket")
    peer_credentials = getattr(socket, "SO_PEERCRED", None)
    if connection is None or peer_credentials is None:
        return True
    _, uid, _ = struct.unpack("3i", connection.getsockopt(socket.SOL_SOCKET, peer_credentials, 12))
    return uid == os.getuid()


def _live(link: Link, me: ev.Participant, credit: Credit, serving: str) -> LiveSession:
    return LiveSession(
        session=link.join.session,
        participant=me.id,
        me=Person(name=me.name, email=me.email),
        co_authors=session_credits(link, me, credit),
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
        # Git keeps whole seconds: a commit made in the second the session opened counts.
        started = math.floor(view.opened_at or 0.0)
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
