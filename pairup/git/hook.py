"""The ``prepare-commit-msg`` hook: plain ``git commit`` credits who is pairing, while a session
is live in this repository, and nobody once it has ended.

The hook is written into this repository only, never into a global hooks directory. A hook
already there is kept and chained: it runs first, under another name, and comes back on
uninstall.
"""

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

NAME = "prepare-commit-msg"
CHAINED = f"{NAME}.pre-pairup"
MARKER = "# Installed by `pairup hook install`."


class HookError(Exception):
    """Why the hook cannot be installed or removed here, in one line."""


def hooks_dir(cwd: Path) -> Path:
    """Where git looks for this repository's hooks (``core.hooksPath`` included), as git says;
    refused when that is outside the repository, since writing there would affect others."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-path", "hooks", "--git-dir"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise HookError(f"cannot run git: {error}") from None
    if result.returncode != 0:
        raise HookError(f"{cwd} is not inside a git repository")
    hooks, git_dir = (Path(line) for line in result.stdout.splitlines()[:2])
    top = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    inside = [git_dir.resolve(), *([Path(top).resolve()] if top else [])]
    if not any(hooks.resolve().is_relative_to(place) for place in inside):
        raise HookError(
            f"core.hooksPath sends hooks to {hooks}, outside this repository; pairup installs "
            "hooks into the repository only (unset core.hooksPath here, or add the hook yourself)"
        )
    return hooks


def script(python: str = sys.executable) -> str:
    command = shlex.quote(python)
    return f"""#!/bin/sh
{MARKER}
# While a pairup session is live in this repository, it adds Co-authored-by trailers for
# everyone pairing; otherwise it adds nothing. Commits replayed by a rebase, cherry-pick or
# revert, merges and squashes are left as they are, and a pairup that cannot run never stops
# a commit. `pairup hook uninstall` removes it and puts back the hook it chained, if any.
chained="$(dirname "$0")/{CHAINED}"
if [ -x "$chained" ]; then "$chained" "$@" || exit $?; fi
case "$2" in merge|squash) exit 0 ;; esac
case "$GIT_REFLOG_ACTION" in *rebase*|*cherry-pick*|*revert*) exit 0 ;; esac
git_dir="$(git rev-parse --git-dir 2>/dev/null)" || exit 0
if [ -d "$git_dir/rebase-merge" ] || [ -d "$git_dir/rebase-apply" ]; then exit 0; fi
if [ -x {command} ]; then {command} -m pairup trailers --message-file "$1" || true; fi
exit 0
"""


def install(cwd: Path) -> str:
    """Install (or refresh) the hook; says what it did."""
    hooks = hooks_dir(cwd)
    hooks.mkdir(parents=True, exist_ok=True)
    hook = hooks / NAME
    said = f"installed {hook}"
    if hook.exists() and not _ours(hook):
        if (hooks / CHAINED).exists():
            raise HookError(f"{hooks / CHAINED} is in the way; move it or the existing hook")
        hook.rename(hooks / CHAINED)
        said += f" (your existing hook now runs first, as {CHAINED})"
    elif hook.exists():
        said = f"refreshed {hook}"
    temporary = hook.with_name(f".{NAME}.pairup-new")
    temporary.write_text(script(), encoding="utf-8")
    temporary.chmod(temporary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.replace(temporary, hook)
    return said


def uninstall(cwd: Path) -> str:
    hooks = hooks_dir(cwd)
    hook = hooks / NAME
    if not hook.exists() or not _ours(hook):
        raise HookError(f"pairup's hook is not installed in {hooks}")
    hook.unlink()
    chained = hooks / CHAINED
    if chained.exists():
        chained.rename(hook)
        return f"removed pairup's hook; your own {NAME} hook is back in place"
    return f"removed {hook}"


def _ours(hook: Path) -> bool:
    try:
        return MARKER in hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
