"""Run the real ``pairup`` command in a subprocess, in an environment the test owns.

Nothing leaks in from the machine: HOME, XDG dirs and the data dir point into tmp_path, and
PAIRUP_* variables from the developer's shell are dropped.
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
        key: value for key, value in os.environ.items() if not key.startswith(("PAIRUP_", "XDG_"))
    }
    home = tmp_path / "home"
    home.mkdir()
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        PAIRUP_DATA_DIR=str(tmp_path / "data"),
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
