"""What ``config/`` ships: a real wheel carries it where an installed pairup looks, and each
example in it works as its header says.

The wheel and the sdist are built by hatchling's PEP 517 hooks, the ones pip calls, in this
process; each build takes a fraction of a second.
"""

import contextlib
import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hatchling.build import build_sdist, build_wheel

from pairup.git.coauthors import FILE_NAME, known_emails, resolve
from pairup.git.trailers import Person

from .conftest import PAIRUP, Run

SOURCE_TREE = Path(__file__).parents[2]
CONFIG = SOURCE_TREE / "config"
IN_WHEEL = "pairup/config/shipped"
UNIT = CONFIG / "pairup-relay.service"
WAIT = 30


def shipped() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in CONFIG.iterdir() if path.is_file()}


def build(
    hook: Callable[[str], str], root: Path, out: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Build with a PEP 517 hook of hatchling, which builds the project in the current directory."""
    out.mkdir(exist_ok=True)
    with monkeypatch.context() as patch:
        patch.chdir(root)
        return out / hook(str(out))


def wheel_files(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_wheel_carries_config_inside_the_package_and_nowhere_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = wheel_files(build(build_wheel, SOURCE_TREE, tmp_path / "dist", monkeypatch))
    carried = {
        name.removeprefix(f"{IN_WHEEL}/"): data
        for name, data in files.items()
        if name.startswith(f"{IN_WHEEL}/")
    }
    assert carried == shipped()
    assert {"pairup.toml", "drills.toml", "pairup-relay.service", "git-coauthors.json"} <= set(
        carried
    )
    assert [name for name in files if name.endswith("/pairup.toml")] == [f"{IN_WHEEL}/pairup.toml"]


def test_the_wheel_carries_every_file_of_the_watch_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay serves the page from the installed package: each file in the source tree
    is in the wheel, byte for byte."""
    files = wheel_files(build(build_wheel, SOURCE_TREE, tmp_path / "dist", monkeypatch))
    static = SOURCE_TREE / "pairup" / "web" / "static"
    page = {path.name: path.read_bytes() for path in static.iterdir()}
    assert {"watch.html", "watch.mjs", "session.mjs", "seal.mjs", "render.mjs"} <= set(page)
    assert {name: files.get(f"pairup/web/static/{name}") for name in page} == page


def test_a_wheel_built_from_the_sdist_carries_it_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sdist = build(build_sdist, SOURCE_TREE, tmp_path / "dist", monkeypatch)
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (root,) = (tmp_path / "unpacked").iterdir()
    assert {path.name: path.read_bytes() for path in (root / "config").iterdir()} == shipped()
    files = wheel_files(build(build_wheel, root, tmp_path / "wheels", monkeypatch))
    assert files[f"{IN_WHEEL}/pairup.toml"] == (CONFIG / "pairup.toml").read_bytes()


def test_pairup_installed_from_a_wheel_reads_the_defaults_and_presets_it_carries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: dict[str, str]
) -> None:
    """The unpacked wheel comes first on the path, as site-packages would hold it, so what
    runs is the wheel's pairup, not this source tree's."""
    wheel = build(build_wheel, SOURCE_TREE, tmp_path / "dist", monkeypatch)
    installed = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(installed)
    env = {**isolated_env, "PYTHONPATH": str(installed)}

    def pairup(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pairup", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )

    described = pairup("config")
    assert described.returncode == 0, described.stderr
    defaults = installed / IN_WHEEL / "pairup.toml"
    assert f"# Defaults, each setting explained: {defaults}" in described.stdout.splitlines()

    mistyped = pairup("relay", "--chaos", "lossey", "--host", "127.0.0.1", "--port", "0")
    assert mistyped.returncode == 2
    assert mistyped.stderr.count("\n") == 1, mistyped.stderr
    assert "(did you mean lossy?)" in mistyped.stderr
    assert "presets: lossy, " in mistyped.stderr


@dataclass
class Served:
    listening: str
    """The relay's first line on stdout, where it says what it listens on."""
    stderr: str = ""
    """All it wrote on stderr, once stopped."""


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], cwd: Path) -> Iterator[Served]:
    """``pairup relay`` in a process of its own, stopped at the end with SIGTERM (as systemd
    stops a service), which it must take as a clean exit."""
    relay = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert relay.stdout is not None
    served = Served("")
    try:
        served.listening = relay.stdout.readline()
        yield served
    finally:
        relay.send_signal(signal.SIGTERM)
        _, served.stderr = relay.communicate(timeout=WAIT)
    assert relay.returncode == 0, served.stderr


def test_a_preset_runs_a_drill_on_pairup_relay(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    argv = [str(PAIRUP), "relay", "--chaos", "lossy", "--host", "127.0.0.1", "--port", "0"]
    with serving(argv, isolated_env, tmp_path) as served:
        assert "listening on ws://127.0.0.1:" in served.listening
    lines = served.stderr.splitlines()
    assert lines[0].startswith("pairup relay: FAULT DRILL ON (drop=0.05,seed=1)")
    assert lines[-1].startswith("pairup relay: chaos drill (drop=0.05,seed=1): ")


def exec_start() -> list[str]:
    (line,) = [line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def flags_of(pairup: Run, command: str) -> set[str]:
    result = pairup(command, "--help")
    assert result.returncode == 0, result.stderr
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", result.stdout))


def test_the_service_unit_runs_pairup_relay_with_flags_it_has(pairup: Run) -> None:
    argv = exec_start()
    assert Path(argv[0]).name == "pairup"
    assert argv[1] == "relay"
    relay_flags = flags_of(pairup, "relay")
    assert {arg for arg in argv if arg.startswith("--")} <= relay_flags
    header = UNIT.read_text()
    for flag in ("--cert", "--key", "--chaos"):
        assert flag in header
        assert flag in relay_flags
    assert "pairup start --relay ws://" in header
    assert "--relay" in flags_of(pairup, "start")


def test_the_service_units_command_serves_and_stops_on_sigterm(
    tmp_path: Path, isolated_env: dict[str, str]
) -> None:
    """The unit's own command line, with systemd's %S filled in and kept to loopback on a free
    port; systemd stops a service with SIGTERM."""
    argv = [str(PAIRUP), *exec_start()[1:]]
    argv = [arg.replace("%S", str(tmp_path / "state")) for arg in argv]
    argv[argv.index("--host") + 1] = "127.0.0.1"
    argv[argv.index("--port") + 1] = "0"
    with serving(argv, isolated_env, tmp_path) as served:
        line = served.listening
        listening = re.search(r"listening on ws://(127\.0\.0\.1:\d+) \(data in (.+), epoch", line)
        assert listening, line
        assert Path(listening.group(2)) == tmp_path / "state" / "pairup-relay"
        with urllib.request.urlopen(f"http://{listening.group(1)}/healthz", timeout=WAIT) as answer:
            assert answer.status == 200


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is missing")
def test_systemd_finds_nothing_wrong_with_the_service_unit(tmp_path: Path) -> None:
    """systemd checks that the command exists, so it is pointed at the pairup being tested."""
    unit = tmp_path / UNIT.name
    argv = exec_start()
    unit.write_text(UNIT.read_text().replace(argv[0], str(PAIRUP)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert UNIT.name not in result.stderr


def test_the_git_coauthors_example_corrects_a_partners_email(tmp_path: Path) -> None:
    example = json.loads((CONFIG / "git-coauthors.json").read_text())
    assert set(example) == {"//", "coauthors"}
    shutil.copy(CONFIG / "git-coauthors.json", tmp_path / FILE_NAME)
    assert known_emails([tmp_path]) == {
        "amy doe": "amy@example.com",
        "bob kim": "1234567+bobkim@users.noreply.github.com",
    }
    people, warnings = resolve([Person(name="amy doe", email="")], [tmp_path])
    assert people == (Person(name="amy doe", email="amy@example.com"),)
    assert warnings == ()
