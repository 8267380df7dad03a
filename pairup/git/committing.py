"""Commit for this session: the one place a session's commit is made, however it was asked for.

``pairup commit`` with nobody listening, the running pairup's socket and the TUI's commit form
all credit the same people the same way: their emails corrected by ``.git-coauthors`` files
(the repository's, then the home directory of whoever asked), the commit made through
:func:`pairup.git.repo.commit`, and the answer said with the branch and any warning about an
email GitHub cannot match. Everything here blocks: call it from a thread while an event loop
runs.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pygit2

from pairup.git.coauthors import resolve
from pairup.git.live import toplevel
from pairup.git.repo import Committed, commit
from pairup.git.trailers import Person


@dataclass(frozen=True, slots=True)
class SessionCommit:
    """A commit made for the session: what was made, on which branch, and what to warn of."""

    made: Committed
    branch: str
    warnings: tuple[str, ...]

    def answer(self) -> dict[str, object]:
        """The JSON answer ``pairup commit`` prints (:func:`pairup.commit_request.show`),
        the same whether the running pairup or the command itself made the commit."""
        return {
            "ok": True,
            "sha": self.made.sha,
            "summary": self.made.summary,
            "branch": self.branch,
            "co_authors": [[person.name, person.email] for person in self.made.co_authors],
            "warnings": list(self.warnings),
        }


def correction_places(cwd: Path, env: Mapping[str, str]) -> tuple[Path, Path]:
    """Where ``.git-coauthors`` files correct co-authors' emails, the earlier winning: the
    repository's top directory around ``cwd``, then the home directory ``env`` names (the
    asker's, which for a request over the socket is not the running pairup's)."""
    home = env.get("HOME") or str(Path.home())
    return toplevel(cwd) or cwd, Path(home)


def resolve_credit(
    people: Iterable[Person], cwd: Path, env: Mapping[str, str]
) -> tuple[tuple[Person, ...], tuple[str, ...]]:
    """``people`` as a commit made in ``cwd`` credits them, and a warning for each email
    GitHub could not match (reads files)."""
    return resolve(people, correction_places(cwd, env))


def commit_for_session(
    repo: pygit2.Repository,
    cwd: Path,
    message: str,
    people: Iterable[Person],
    env: Mapping[str, str],
    *,
    stage_all: bool = False,
    verify: bool = True,
    index_read: bytes | None = None,
) -> SessionCommit:
    """Commit ``repo``'s index as the one ``env`` names, crediting ``people`` (corrected once,
    here); ``stage_all``, ``verify`` and ``index_read`` as :func:`pairup.git.repo.commit`
    takes them. Raises :class:`~pairup.git.repo.GitError` with what to do."""
    credited, warnings = resolve_credit(people, cwd, env)
    made = commit(
        repo,
        message,
        co_authors=credited,
        env=env,
        stage_all=stage_all,
        verify=verify,
        index_read=index_read,
    )
    branch = "detached HEAD" if repo.head_is_detached else repo.head.shorthand
    return SessionCommit(made, branch, warnings)
