"""Branch mode of the handover: the work in progress travels through a WIP branch on a shared
remote, as mob.sh does, for teams whose work lives on that remote anyway.

The **WIP commit** a driver pushes has the whole working tree as its tree (tracked files as
they are, untracked files added, ``.gitignore`` respected), so ``git diff main
origin/pairup/main`` reads as the work in progress. Its parents are the WIP branch's previous
tip (or, on the first turn, the commit the driver's branch is at) and the turn's snapshot
(see :mod:`pairup.git.handover`). The first parents make the WIP branch a plain history that
only moves forward, one commit a turn; the second parent brings the snapshot, and the commits
it was made on, with the fetch, so the next driver applies it exactly as link mode would:
staged and unstaged changes, untracked files and HEAD as the last driver had them, which the
WIP tree alone cannot say.

No local branch is made. The WIP commit is kept at ``refs/remotes/<remote>/<wip_branch>``,
where the user's own ``git fetch`` would put it: ``git branch`` lists only the user's own
branches, nothing can clash with one of theirs, there is no branch for anyone to commit on
by mistake (the driver keeps working on their own branch), and ``git fetch --prune`` tidies
it away like any other once the WIP branch is gone.

Network work goes through the ``git`` command line, so the user's credential helpers, ssh
configuration and ``insteadOf`` rewrites apply as they do for their own pushes; pygit2 makes
the commits. Nothing is ever forced: a push is fast-forward only, and the session's end
removes the WIP branch only while its tip is the handover this clone last sent or received.

Everything here blocks: call it from a thread when an event loop is running.
"""

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import pygit2

from pairup.git.handover import LAST_REF, PAIRUP, HandoverError, Snapshot, whole_tree

WIP_PREFIX = "pairup/"
MESSAGE = "pairup: work in progress [ci skip]\n"
"""``[ci skip]``: a WIP commit is half-done work, not worth a CI run at every rotation."""
GIT_TIMEOUT = 120.0
"""Seconds a git command may take: a push of a turn's work over a slow link fits, while a
remote that stopped answering does not hold up the rotation for long."""
OR_LINK = 'or set handover.mode = "link"'


def wip_branch_for(branch: str | None) -> str:
    """The WIP branch for the driver's branch: one per branch, so two sessions on different
    branches of the same remote never meet."""
    if branch is None:
        raise HandoverError(
            "HEAD is detached, and the WIP branch is named after the branch you are on: "
            f"switch to a branch (git switch NAME) to hand over, {OR_LINK}"
        )
    return f"{WIP_PREFIX}{branch}"


def push(
    workdir: Path, snapshot: Snapshot, remote: str, wip_branch: str, env: Mapping[str, str]
) -> str:
    """Commit ``snapshot`` onto ``wip_branch`` and push it to ``remote``, fast-forward only;
    the WIP commit's id, for the offer."""
    repo = _open(workdir)
    tracking = _tracking(repo, remote, wip_branch)
    tip = _remote_tip(workdir, remote, wip_branch, env)
    if tip is not None and pygit2.Oid(hex=tip) not in repo.odb:
        _fetch(workdir, remote, wip_branch, tracking, env)
        tip = str(repo.references[tracking].target)
    signature = pygit2.Signature(PAIRUP.name, PAIRUP.email)
    parents = [pygit2.Oid(hex=tip or snapshot.head), pygit2.Oid(hex=snapshot.commit)]
    tree = pygit2.Oid(hex=whole_tree(repo, snapshot))
    commit = str(repo.create_commit(None, signature, signature, MESSAGE, tree, parents))
    result = _git(
        workdir,
        env,
        f"git push to {remote}",
        # No pre-push hook (a hook that runs the tests would fail half-done work, or take
        # minutes at every rotation; mob.sh skips them too), and none of the user's settings
        # that would push tags, submodules or ask for a signature along with it.
        "push",
        "--no-verify",
        "--no-follow-tags",
        "--no-signed",
        "--recurse-submodules=no",
        "--",
        remote,
        f"{commit}:refs/heads/{wip_branch}",
    )
    if result.returncode != 0:
        try:
            now = _remote_tip(workdir, remote, wip_branch, env)
        except HandoverError:
            now = tip
        if now != tip:
            raise HandoverError(
                f"{wip_branch} on {remote} moved while pairup pushed to it (someone else "
                "pushes there too) and pairup never forces a push: hand over again to build "
                f"on theirs, {OR_LINK}"
            )
        raise HandoverError(
            f"git push to {remote} failed: {_said(result.stderr)}; check you can push to "
            f"{remote}, {OR_LINK}"
        )
    repo.references.create(tracking, pygit2.Oid(hex=commit), force=True)
    return commit


def fetch(
    workdir: Path, remote: str, wip_branch: str, wip_commit: str, env: Mapping[str, str]
) -> str:
    """Fetch ``wip_branch`` from ``remote`` and check it holds ``wip_commit``; the snapshot
    commit to apply (the WIP commit's second parent)."""
    repo = _open(workdir)
    tracking = _tracking(repo, remote, wip_branch)
    _fetch(workdir, remote, wip_branch, tracking, env)
    tip = repo.references[tracking].target
    made = _commit(repo, wip_commit)
    if made is None or not (made.id == tip or repo.descendant_of(tip, made.id)):
        raise HandoverError(
            f"{wip_branch} on {remote} does not hold the handover {wip_commit[:12]} (someone "
            "rewrote the branch): ask the last driver to hand over again"
        )
    if len(made.parent_ids) != 2:
        raise HandoverError(f"{wip_commit[:12]} on {wip_branch} is not a pairup WIP commit")
    return str(made.parent_ids[1])


def finish(
    workdir: Path,
    remote: str,
    wip_branch: str,
    how: Literal["squash", "keep"],
    env: Mapping[str, str],
) -> str:
    """At the session's end, on the clone of whoever drove last: ``squash`` removes the WIP
    branch, whose work this working tree holds as uncommitted changes, one change to commit;
    ``keep`` leaves it. A line saying what was done."""
    if how == "keep":
        return (
            f"kept {wip_branch} on {remote}; remove it with: "
            f"git push {remote} --delete {wip_branch}"
        )
    repo = _open(workdir)
    tracking = _tracking(repo, remote, wip_branch)
    tip = _remote_tip(workdir, remote, wip_branch, env)
    if tip is None:
        _forget(repo, tracking)
        return f"{wip_branch} was not on {remote}: nothing to remove"
    if not _put_in_place_here(repo, tip):
        raise HandoverError(
            f"{wip_branch} on {remote} holds work this working tree does not: left it; look at "
            f"it (git fetch {remote} {wip_branch}, then git log -p FETCH_HEAD) and remove it "
            f"yourself (git push {remote} --delete {wip_branch})"
        )
    result = _git(
        workdir,
        env,
        f"git push to {remote}",
        "push",
        "--no-verify",
        # Forces nothing (a deletion needs no force): the lease makes the deletion happen only
        # while the branch is still at ``tip``, so work pushed meanwhile is never removed.
        f"--force-with-lease=refs/heads/{wip_branch}:{tip}",
        "--",
        remote,
        f":refs/heads/{wip_branch}",
    )
    if result.returncode != 0:
        raise HandoverError(
            f"could not remove {wip_branch} from {remote}: {_said(result.stderr)}; it is "
            f"left as it was (git push {remote} --delete {wip_branch} removes it)"
        )
    _forget(repo, tracking)
    return (
        f"removed {wip_branch} from {remote}; the session's work is in this working tree, "
        "to commit as one change"
    )


def _open(workdir: Path) -> pygit2.Repository:
    try:
        return pygit2.Repository(str(workdir))
    except pygit2.GitError:
        raise HandoverError(f"{workdir} is not a git working tree") from None


def _tracking(repo: pygit2.Repository, remote: str, wip_branch: str) -> str:
    """Where this clone keeps the WIP branch's tip: its remote-tracking ref, which is why the
    remote must be one this clone names (a URL has no place under ``refs/remotes/``)."""
    if remote not in set(repo.remotes.names()):
        raise HandoverError(
            f"this clone has no remote named {remote} (git remote -v lists them): set "
            f"handover.remote to one of them, {OR_LINK}"
        )
    ref = f"refs/remotes/{remote}/{wip_branch}"
    if not pygit2.reference_is_valid_name(ref):
        raise HandoverError(f"{wip_branch} on {remote} is not a name git takes for a branch")
    return ref


def _remote_tip(workdir: Path, remote: str, wip_branch: str, env: Mapping[str, str]) -> str | None:
    """The WIP branch's tip on the remote as it answers now; None when it has none."""
    name = f"refs/heads/{wip_branch}"
    result = _git(workdir, env, f"git ls-remote {remote}", "ls-remote", "--", remote, name)
    if result.returncode != 0:
        raise HandoverError(
            f"could not reach {remote}: {_said(result.stderr)}; check its URL (git remote -v) "
            f"and that you can fetch from it, {OR_LINK}"
        )
    for line in result.stdout.splitlines():
        oid, _, ref = line.partition("\t")
        if ref == name:
            return oid
    return None


def _fetch(
    workdir: Path, remote: str, wip_branch: str, tracking: str, env: Mapping[str, str]
) -> None:
    # "+" updates this clone's copy whatever the remote did, as git's own refspec does; what
    # the copy is then checked for is up to the caller.
    refspec = f"+refs/heads/{wip_branch}:{tracking}"
    result = _git(
        workdir,
        env,
        f"git fetch from {remote}",
        "fetch",
        "--no-tags",
        "--no-recurse-submodules",
        "--",
        remote,
        refspec,
    )
    if result.returncode != 0:
        raise HandoverError(
            f"git fetch from {remote} failed: {_said(result.stderr)}; check you can fetch "
            f"{wip_branch} from {remote}, {OR_LINK}"
        )


def _put_in_place_here(repo: pygit2.Repository, tip: str) -> bool:
    """Whether ``tip`` is a WIP commit whose snapshot this clone last sent or received: then
    the working tree holds that work, or what its driver made of it since."""
    made = _commit(repo, tip)
    last = repo.references.get(LAST_REF)
    return made is not None and last is not None and made.parent_ids[1:] == [last.target]


def _commit(repo: pygit2.Repository, oid: str) -> pygit2.Commit | None:
    """The commit ``oid`` names here, None when this clone lacks it or it is no commit."""
    try:
        found = repo[oid]
    except (KeyError, ValueError):
        return None
    return found if isinstance(found, pygit2.Commit) else None


def _forget(repo: pygit2.Repository, tracking: str) -> None:
    if tracking in repo.references:
        repo.references.delete(tracking)


def _git(
    workdir: Path, env: Mapping[str, str], what: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """Run git with the user's environment, never waiting on a prompt: no terminal prompt for
    credentials, and a session of its own, so ssh has no terminal to ask a passphrase on; a
    credential helper or an agent still answers."""
    command = ["git", *args]
    try:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env={**env, "GIT_TERMINAL_PROMPT": "0"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as error:
        raise HandoverError(
            f"{what} could not start git ({error}): install git, {OR_LINK}"
        ) from None
    with process:
        try:
            stdout, stderr = process.communicate(timeout=GIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            _stop(process)
            process.communicate()
            raise HandoverError(
                f"{what} took longer than {GIT_TIMEOUT:.0f} s and was stopped: check the "
                f"remote answers (git remote -v), {OR_LINK}"
            ) from None
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def _stop(process: subprocess.Popen[str]) -> None:
    """Stop git and what it started (ssh, a remote helper): those hold its output open, so
    stopping git alone would leave this waiting on them."""
    if os.name == "nt":
        process.kill()
    else:
        os.killpg(process.pid, signal.SIGKILL)


def _said(stderr: str) -> str:
    """The line of git's output that says what went wrong: a refused ref's line, else its
    first line that is not a warning, a hint or where it pushed to (ssh's own complaint, when
    there is one, comes before git's "could not read from remote repository")."""
    lines = [
        line.strip().rstrip(".")
        for line in stderr.splitlines()
        if line.strip() and not line.startswith(("warning:", "hint:", "To "))
    ]
    refused = [line for line in lines if line.startswith("!")]
    return (refused or lines or ["git said nothing"])[0]
