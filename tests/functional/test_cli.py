"""The real ``pairup`` command, run as a user would run it."""

import subprocess
import sys
import tomllib

import pytest

from pairup import __version__
from pairup.journal import Journal
from pairup.session import events as ev

from .conftest import PAIRUP

COMMANDS = [
    "start",
    "join",
    "relay",
    "export",
    "sessions",
    "commit",
    "trailers",
    "hook",
    "adr",
    "why",
    "log",
    "stats",
    "config",
]
HEAVY = ("textual", "websockets", "pygit2", "pydantic")


def test_version(pairup):
    result = pairup("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"pairup {__version__}"


def test_python_dash_m_runs_the_same_entry_point(isolated_env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pairup", "--version"],
        env=isolated_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == f"pairup {__version__}"


def test_help_lists_every_command(pairup):
    result = pairup("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert f"\n    {command} " in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_itself(pairup, command):
    result = pairup(command, "--help")
    assert result.returncode == 0
    assert f"usage: pairup {command}" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in COMMANDS]])
def test_help_imports_nothing_heavy(isolated_env, tmp_path, args):
    probe = (
        "import sys\n"
        "from pairup.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=isolated_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "loaded:"


@pytest.mark.parametrize("args", [["start"], ["join", "ws://127.0.0.1:9/s/abc#secret"]])
def test_the_terminal_ui_without_a_terminal_points_to_headless(pairup, args):
    result = pairup(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "needs a terminal" in result.stderr
    assert "--headless" in result.stderr


def test_no_command_prints_help_and_exits_2(pairup):
    result = pairup()
    assert result.returncode == 2
    assert "usage: pairup" in result.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[sesion]\nturn = "15m"\n', ".pairup.toml: sesion: unknown setting"),
        ('[session]\nturn = "15 minutes"\n', ".pairup.toml: session.turn: expected a duration"),
        (
            '[session]\nbreak_every = "four"\n',
            ".pairup.toml: session.break_every: expected an integer",
        ),
        ("[session\n", ".pairup.toml: not valid TOML"),
        (
            '[notify]\ncommand = ["touch", "owned"]\n',
            ".pairup.toml: notify.command: runs a command",
        ),
    ],
)
def test_a_bad_repository_config_is_one_line_naming_file_and_key(
    pairup, tmp_path, content, expected
):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".pairup.toml").write_text(content)
    nested = repo / "src" / "deep"
    nested.mkdir(parents=True)

    for command in (["sessions"], ["config"], ["start", "--headless"]):
        result = pairup(*command, cwd=nested)
        assert result.returncode == 2, command
        assert result.stderr.count("\n") == 1, result.stderr
        assert expected in result.stderr
        assert str(repo / ".pairup.toml") in result.stderr
        assert "Traceback" not in result.stderr
    assert not (nested / "owned").exists()


def test_a_bad_user_config_names_the_user_file(pairup, isolated_env, tmp_path):
    user_file = tmp_path / "home" / ".config" / "pairup" / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("[relay]\nport = 99999\n")
    result = pairup("config")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"pairup: {user_file}: relay.port: expected an integer from 0 to 65535, got 99999"
    )


def test_an_environment_typo_is_named(pairup):
    result = pairup("config", env={"PAIRUP_SESSION_TRUN": "20m"})
    assert result.returncode == 2
    assert "PAIRUP_SESSION_TRUN" in result.stderr
    assert "PAIRUP_SESSION_TURN" in result.stderr


def test_config_shows_every_layer_with_its_source(pairup, tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".pairup.toml").write_text('[session]\nturn = "20m"\nbreak_every = 3\n')
    user_file = tmp_path / "user.toml"
    user_file.write_text(
        '[session]\nturn = "10m"\nmax_participants = 4\n[identity]\nname = "Ann"\n'
    )
    env = {"PAIRUP_CONFIG": str(user_file), "PAIRUP_SESSION_BREAK_EVERY": "2"}

    result = pairup("config", "--turn", "25m", cwd=repo, env=env)

    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["session"]["turn"] == "25m"
    assert shown["session"]["break_every"] == 2
    assert shown["session"]["max_participants"] == 4
    assert shown["identity"]["name"] == "Ann"
    lines = dict(
        line.split("  # from ") for line in result.stdout.splitlines() if "  # from " in line
    )
    assert lines['turn = "25m"'] == "command line"
    assert lines["break_every = 2"] == "environment variable PAIRUP_SESSION_BREAK_EVERY"
    assert lines["max_participants = 4"] == str(user_file)
    assert lines["retro = true"] == "default"


def test_sessions_lists_what_the_journals_hold(pairup, tmp_path):
    data = tmp_path / "data"
    ann = ev.Participant(id="ann", name="Ann Example", email="ann@example.test")
    bob = ev.Participant(id="bob", name="Bob Example", email="bob@example.test")
    t0 = 1_800_000_000.0
    events = [
        ev.SessionOpened(id="evt-000001", actor="ann", at=t0),
        ev.ParticipantJoined(id="evt-000002", actor="ann", at=t0, participant=ann),
        ev.ParticipantJoined(id="evt-000003", actor="bob", at=t0 + 60, participant=bob),
        ev.TurnStarted(id="evt-000004", actor="ann", at=t0 + 60, turn=1),
        ev.DecisionRecorded(
            id="evt-000005", actor="bob", at=t0 + 600, decision_id="dec-0001", title="Use SQLite"
        ),
        ev.SessionEnded(id="evt-000006", actor="ann", at=t0 + 3900),
    ]
    with Journal.create(data, "s-first", created_at=t0) as journal:
        journal.append_many(events)
    with Journal.create(data, "s-second", created_at=t0 + 86_400) as journal:
        journal.append(
            ev.ParticipantJoined(id="evt-000010", actor="ann", at=t0 + 86_400, participant=ann)
        )

    result = pairup("sessions")

    assert result.returncode == 0, result.stderr
    header, newest, oldest = result.stdout.splitlines()
    assert header.split() == [
        "STARTED",
        "SESSION",
        "LENGTH",
        "DECISIONS",
        "COMMITS",
        "PARTICIPANTS",
    ]
    assert "s-second" in newest
    assert oldest.split()[2:] == ["s-first", "1h5m", "1", "0", "Ann", "Example,", "Bob", "Example"]


def test_sessions_with_none_recorded_says_how_to_start(pairup):
    result = pairup("sessions")
    assert result.returncode == 0
    assert "No sessions recorded yet" in result.stdout


def test_the_installed_pairup_script_answers_help_without_heavy_imports(isolated_env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-X", "importtime", str(PAIRUP), "--help"],
        env=isolated_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "pairup.cli" in imported
    assert not {name for name in imported if name.split(".")[0] in HEAVY}


def test_one_damaged_journal_is_reported_and_the_others_still_listed(pairup, tmp_path):
    data = tmp_path / "data"
    ann = ev.Participant(id="ann", name="Ann", email="ann@example.test")
    t0 = 1_800_000_000.0
    with Journal.create(data, "s-good", created_at=t0) as journal:
        journal.append(ev.ParticipantJoined(id="evt-000001", actor="ann", at=t0, participant=ann))
    with Journal.create(data, "s-damaged", created_at=t0 + 10) as journal:
        journal.append(ev.ParticipantJoined(id="evt-000002", actor="ann", at=t0, participant=ann))
        path = journal.path
    with path.open("ab") as file:
        file.write(b"{garbage in the middle\n")
        file.write(b'{"id":"evt-000003","actor":"ann","at":1.0,"kind":"session.ended"}\n')

    result = pairup("sessions")

    assert result.returncode == 0
    assert "s-good" in result.stdout
    assert "s-damaged" not in result.stdout
    assert result.stderr.startswith("pairup: warning: ")
    assert "line 3" in result.stderr


@pytest.mark.parametrize(
    ("session", "said"),
    [("NOPE12345", "no session NOPE12345 on this machine"), ("../../etc", "session id must be")],
)
def test_export_of_an_unknown_or_malformed_session_is_one_line(pairup, tmp_path, session, said):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    result = pairup("export", session, cwd=repo)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert said in result.stderr
    assert "Traceback" not in result.stderr
