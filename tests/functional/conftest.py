"""Run the real ``pairup`` command in a subprocess, in an environment the test owns.

Nothing leaks in from the machine: HOME, XDG dirs and the data dir point into tmp_path, git
reads no global or system config, and PAIRUP_* and GIT_* variables from the developer's shell
are dropped, as are COLUMNS and LINES, which would override the width of a pipe's help text
or of a tmux pane (Textual and argparse read them before the terminal).
"""

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

PAIRUP = Path(sys.executable).with_name("pairup")


@pytest.fixture
def isolated_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PAIRUP_", "XDG_", "GIT_")) and key not in {"COLUMNS", "LINES"}
    }
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PAIRUP_DATA_DIR=str(tmp_path / "data"),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    return env


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def pairup(isolated_env: dict[str, str], tmp_path: Path) -> Run:
    def run(
        *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PAIRUP), *args],
            cwd=cwd or tmp_path,
            env={**isolated_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run
