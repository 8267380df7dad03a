"""The layered config: shipped defaults < user file < repository file < environment < flags.

Every test passes an explicit ``env`` whose XDG_CONFIG_HOME (or PAIRUP_CONFIG) points into
``tmp_path``, so nothing here reads the real home directory or the real environment.
"""

import tomllib
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from pairup.config import (
    DEFAULTS_FILE,
    RESERVED_ENV_VARS,
    SETTINGS,
    Config,
    ConfigError,
    describe,
    find_repo_root,
    load_config,
    user_config_file,
)
from pairup.duration import format_duration, parse_duration


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


@pytest.fixture
def user_file(env: dict[str, str]) -> Path:
    path = user_config_file(env)
    path.parent.mkdir(parents=True)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load_error(cwd: Path, env: dict[str, str], flags: dict[str, object] | None = None) -> str:
    """The message of the ConfigError loading raises, checked to be a single line."""
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=cwd, env=env, flags=flags)
    message = str(caught.value)
    assert "\n" not in message
    return message


# The shipped defaults

SOURCE_TREE = Path(__file__).parents[2]


def test_a_source_tree_reads_its_defaults_from_the_top_level_config_directory() -> None:
    assert DEFAULTS_FILE == SOURCE_TREE / "config" / "pairup.toml"
    assert not (SOURCE_TREE / "pairup" / "config" / "pairup.toml").exists()
    assert not (SOURCE_TREE / "pairup" / "config" / "shipped").exists()


def test_missing_defaults_are_one_line_naming_the_file(
    tmp_path: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "pairup.toml"
    monkeypatch.setattr("pairup.config.load.DEFAULTS_FILE", gone)
    message = load_error(cwd=tmp_path, env=env)
    assert message.startswith(f"{gone}: missing: ")
    assert "reinstall" in message


def test_shipped_defaults_validate_on_their_own() -> None:
    with DEFAULTS_FILE.open("rb") as file:
        config = Config.model_validate(tomllib.load(file))
    assert config.session.turn == 15 * 60
    assert config.session.break_length == 5 * 60
    assert config.notify.command == ()


def test_shipped_file_lists_every_setting_with_a_comment_above_it() -> None:
    lines = DEFAULTS_FILE.read_text(encoding="utf-8").splitlines()
    section = ""
    listed = []
    for number, line in enumerate(lines):
        if line.startswith("["):
            section = line.strip("[]")
        elif line and not line.startswith("#"):
            listed.append(f"{section}.{line.split(' = ')[0]}")
            assert lines[number - 1].startswith("#"), f"no comment above {listed[-1]}"
    assert listed == list(SETTINGS)


def test_with_no_files_everything_is_a_default(tmp_path: Path, env: dict[str, str]) -> None:
    loaded = load_config(cwd=tmp_path, env=env)
    with DEFAULTS_FILE.open("rb") as file:
        assert loaded.config == Config.model_validate(tomllib.load(file))
    assert set(loaded.sources.values()) == {"default"}
    assert set(loaded.sources) == set(SETTINGS)
    assert loaded.files == []


# Precedence, one step at a time


def test_user_file_overrides_defaults(tmp_path: Path, env: dict[str, str], user_file: Path) -> None:
    write(user_file, '[session]\nturn = "20m"\n')
    loaded = load_config(cwd=tmp_path, env=env)
    assert loaded.config.session.turn == 20 * 60
    assert loaded.sources["session.turn"] == str(user_file)
    assert loaded.sources["session.break_length"] == "default"
    assert loaded.files == [user_file]


def test_pairup_config_names_the_user_file_relative_to_cwd(tmp_path: Path) -> None:
    write(tmp_path / "mine.toml", "[relay]\nport = 9000\n")
    loaded = load_config(cwd=tmp_path, env={"PAIRUP_CONFIG": "mine.toml"})
    assert loaded.config.relay.port == 9000
    assert loaded.files == [tmp_path / "mine.toml"]


def test_pairup_config_replaces_the_default_user_file(
    tmp_path: Path, env: dict[str, str], user_file: Path
) -> None:
    write(user_file, "[relay]\nport = 1\n")
    named = write(tmp_path / "other.toml", "[relay]\nport = 2\n")
    loaded = load_config(cwd=tmp_path, env={**env, "PAIRUP_CONFIG": str(named)})
    assert loaded.config.relay.port == 2
    assert loaded.files == [named]


def test_a_missing_pairup_config_is_an_error(tmp_path: Path) -> None:
    message = load_error(cwd=tmp_path, env={"PAIRUP_CONFIG": str(tmp_path / "nope.toml")})
    assert message == f"environment variable PAIRUP_CONFIG: no such file: {tmp_path / 'nope.toml'}"


def test_repo_file_overrides_user_file(repo: Path, env: dict[str, str], user_file: Path) -> None:
    write(user_file, '[session]\nturn = "20m"\nbreak_every = 2\n')
    repo_file = write(repo / ".pairup.toml", '[session]\nturn = "25m"\n')
    loaded = load_config(cwd=repo, env=env)
    assert loaded.config.session.turn == 25 * 60
    assert loaded.config.session.break_every == 2
    assert loaded.sources["session.turn"] == str(repo_file)
    assert loaded.sources["session.break_every"] == str(user_file)
    assert loaded.files == [user_file, repo_file]
    assert loaded.repo_root == repo


def test_environment_overrides_repo_file(repo: Path, env: dict[str, str]) -> None:
    write(repo / ".pairup.toml", "[relay]\nport = 9000\n")
    loaded = load_config(cwd=repo, env={**env, "PAIRUP_RELAY_PORT": "9001"})
    assert loaded.config.relay.port == 9001
    assert loaded.sources["relay.port"] == "environment variable PAIRUP_RELAY_PORT"


def test_flags_override_environment(tmp_path: Path, env: dict[str, str]) -> None:
    loaded = load_config(
        cwd=tmp_path,
        env={**env, "PAIRUP_SESSION_TURN": "20m"},
        flags={"session.turn": "30m", "relay.port": None},
    )
    assert loaded.config.session.turn == 30 * 60
    assert loaded.sources["session.turn"] == "command line"
    assert loaded.sources["relay.port"] == "default"


def test_every_layer_at_once(repo: Path, env: dict[str, str], user_file: Path) -> None:
    write(user_file, 'notify.command = ["notify-send", "pairup"]\nsession.break_every = 2\n')
    repo_file = write(repo / ".pairup.toml", 'adr.format = "madr"\nsession.break_every = 3\n')
    loaded = load_config(
        cwd=repo / "src" / "deep",
        env={**env, "PAIRUP_SESSION_RETRO": "false", "PAIRUP_RELAY_PORT": "9000"},
        flags={"relay.port": 9001, "data.dir": Path("/data")},
    )
    config = loaded.config
    assert config.notify.command == ("notify-send", "pairup")
    assert config.session.break_every == 3
    assert config.adr.format == "madr"
    assert config.session.retro is False
    assert config.relay.port == 9001
    assert config.data_dir == Path("/data")
    assert loaded.sources == {
        **dict.fromkeys(SETTINGS, "default"),
        "notify.command": str(user_file),
        "session.break_every": str(repo_file),
        "adr.format": str(repo_file),
        "session.retro": "environment variable PAIRUP_SESSION_RETRO",
        "relay.port": "command line",
        "data.dir": "command line",
    }


# Errors name the source, the key and what was expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[sesion]\n",
            "sesion: unknown setting "
            "(known: session, identity, relay, adr, git, notify, handover, data)",
        ),
        (
            "[session]\ntrun = 1\n",
            "session.trun: unknown setting "
            "(known: turn, break_every, break_length, max_participants, next_turn, retro, "
            "away_after, approve)",
        ),
        (
            '[session]\nbreak_every = "four"\n',
            "session.break_every: expected an integer, got 'four'",
        ),
        (
            '[session]\nturn = "15 minutes"\n',
            "session.turn: expected a duration like 90s, 15m or 1h30m, got '15 minutes'",
        ),
        (
            "[session]\nturn = 900\n",
            "session.turn: expected a duration like 90s, 15m or 1h30m, got 900",
        ),
        (
            '[session]\nturn = "0m"\n',
            "session.turn: expected a duration longer than zero, got '0m'",
        ),
        (
            "[session]\nmax_participants = 9\n",
            "session.max_participants: expected an integer from 2 to 8, got 9",
        ),
        (
            "[session]\nbreak_every = -1\n",
            "session.break_every: expected an integer of at least 0, got -1",
        ),
        ('[session]\nretro = "yes"\n', "session.retro: expected true or false, got 'yes'"),
        (
            '[session]\nnext_turn = "now"\n',
            "session.next_turn: expected 'auto' or 'driver', got 'now'",
        ),
        ("[identity]\nname = 7\n", "identity.name: expected a string, got 7"),
        (
            '[relay]\nurl = "http://relay.example"\n',
            'relay.url: expected a ws:// or wss:// URL, or "" for the embedded relay, '
            "got 'http://relay.example'",
        ),
        (
            '[notify]\ncommand = "notify-send"\n',
            "notify.command: expected a list of strings, got 'notify-send'",
        ),
        ('[notify]\ncommand = ["notify-send", 1]\n', "notify.command[1]: expected a string, got 1"),
        ("session = 5\n", "session: expected a table of settings, got 5"),
    ],
)
def test_bad_settings_name_file_and_key(
    tmp_path: Path, env: dict[str, str], user_file: Path, text: str, expected: str
) -> None:
    write(user_file, text)
    assert load_error(cwd=tmp_path, env=env) == f"{user_file}: {expected}"


def test_invalid_toml_names_the_file(repo: Path, env: dict[str, str]) -> None:
    repo_file = write(repo / ".pairup.toml", "[session\n")
    message = load_error(cwd=repo, env=env)
    assert message.startswith(f"{repo_file}: not valid TOML: ")
    assert "line 1" in message


def test_an_error_is_blamed_on_the_layer_that_introduced_it(
    repo: Path, env: dict[str, str], user_file: Path
) -> None:
    write(user_file, '[session]\nturn = "20m"\n')
    repo_file = write(repo / ".pairup.toml", '[session]\nturn = "soon"\n')
    message = load_error(cwd=repo, env=env)
    assert message.startswith(f"{repo_file}: session.turn: ")


def test_a_bad_user_value_is_reported_even_if_a_later_layer_overrides_it(
    tmp_path: Path, env: dict[str, str], user_file: Path
) -> None:
    write(user_file, "[relay]\nport = 70000\n")
    message = load_error(cwd=tmp_path, env=env, flags={"relay.port": 9000})
    assert message == f"{user_file}: relay.port: expected an integer from 0 to 65535, got 70000"


def test_unknown_flag_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    message = load_error(cwd=tmp_path, env=env, flags={"session.trun": "20m"})
    assert message.startswith("command line: session.trun: unknown setting (known: turn, ")


def test_bad_flag_value_says_command_line(tmp_path: Path, env: dict[str, str]) -> None:
    message = load_error(cwd=tmp_path, env=env, flags={"session.turn": "a while"})
    assert message == (
        "command line: session.turn: expected a duration like 90s, 15m or 1h30m, got 'a while'"
    )


# The environment


def test_a_mistyped_environment_variable_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    message = load_error(cwd=tmp_path, env={**env, "PAIRUP_SESION_TURN": "20m"})
    assert message == (
        "environment variable PAIRUP_SESION_TURN: matches no setting; "
        "did you mean PAIRUP_SESSION_TURN?"
    )


def test_an_unrecognisable_environment_variable_is_an_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    message = load_error(cwd=tmp_path, env={**env, "PAIRUP_XYZZY": "1"})
    assert message.startswith("environment variable PAIRUP_XYZZY: matches no setting")


def test_reserved_and_foreign_variables_are_not_settings(
    tmp_path: Path, env: dict[str, str]
) -> None:
    assert "PAIRUP_CONFIG" in RESERVED_ENV_VARS
    loaded = load_config(cwd=tmp_path, env={**env, "HOME": "/nowhere", "PAIRUPX": "1"})
    assert set(loaded.sources.values()) == {"default"}


@pytest.mark.parametrize(
    ("variable", "text", "dotted", "value"),
    [
        ("PAIRUP_SESSION_MAX_PARTICIPANTS", "8", "session.max_participants", 8),
        ("PAIRUP_RELAY_PORT", " 9000 ", "relay.port", 9000),
        ("PAIRUP_SESSION_RETRO", "true", "session.retro", True),
        ("PAIRUP_SESSION_RETRO", "False", "session.retro", False),
        ("PAIRUP_NOTIFY_BELL", "1", "notify.bell", True),
        ("PAIRUP_NOTIFY_BELL", "0", "notify.bell", False),
        ("PAIRUP_SESSION_TURN", "1h30m", "session.turn", 5400),
        ("PAIRUP_DATA_DIR", "/tmp/x", "data.dir", "/tmp/x"),
        (
            "PAIRUP_NOTIFY_COMMAND",
            "notify-send pairup",
            "notify.command",
            ("notify-send", "pairup"),
        ),
        ("PAIRUP_NOTIFY_COMMAND", "say 'your turn'", "notify.command", ("say", "your turn")),
        ("PAIRUP_NOTIFY_COMMAND", "", "notify.command", ()),
    ],
)
def test_environment_text_is_converted(
    tmp_path: Path, env: dict[str, str], variable: str, text: str, dotted: str, value: object
) -> None:
    config = load_config(cwd=tmp_path, env={**env, variable: text}).config
    section, key = dotted.split(".")
    assert getattr(getattr(config, section), key) == value


@pytest.mark.parametrize(
    ("variable", "text", "expected"),
    [
        ("PAIRUP_RELAY_PORT", "abc", "relay.port: expected an integer, got 'abc'"),
        (
            "PAIRUP_RELAY_PORT",
            "70000",
            "relay.port: expected an integer from 0 to 65535, got 70000",
        ),
        ("PAIRUP_SESSION_RETRO", "yes", "session.retro: expected true, false, 1 or 0, got 'yes'"),
        (
            "PAIRUP_SESSION_TURN",
            "15",
            "session.turn: expected a duration like 90s, 15m or 1h30m, got '15'",
        ),
        (
            "PAIRUP_NOTIFY_COMMAND",
            "say 'hi",
            "notify.command: expected a command line such as 'notify-send pairup' "
            "(No closing quotation)",
        ),
    ],
)
def test_bad_environment_text_names_the_variable(
    tmp_path: Path, env: dict[str, str], variable: str, text: str, expected: str
) -> None:
    message = load_error(cwd=tmp_path, env={**env, variable: text})
    assert message == f"environment variable {variable}: {expected}"


def test_flags_convert_text_like_the_environment(tmp_path: Path, env: dict[str, str]) -> None:
    flags = {"relay.port": "9000", "notify.bell": "false", "notify.command": "notify-send pairup"}
    config = load_config(cwd=tmp_path, env=env, flags=flags).config
    assert config.relay.port == 9000
    assert config.notify.bell is False
    assert config.notify.command == ("notify-send", "pairup")


# Settings that run commands


def test_repo_file_may_not_set_a_command(repo: Path, env: dict[str, str]) -> None:
    repo_file = write(repo / ".pairup.toml", '[notify]\ncommand = ["touch", "/tmp/pwned"]\n')
    message = load_error(cwd=repo, env=env)
    assert message == (
        f"{repo_file}: notify.command: runs a command, so only your user config, "
        "the environment or a flag may set it"
    )


def test_repo_file_may_not_set_an_empty_command_either(repo: Path, env: dict[str, str]) -> None:
    write(repo / ".pairup.toml", "notify.command = []\n")
    assert "notify.command: runs a command" in load_error(cwd=repo, env=env)


def test_user_file_may_set_a_command(repo: Path, env: dict[str, str], user_file: Path) -> None:
    write(user_file, '[notify]\ncommand = ["notify-send", "pairup"]\n')
    write(repo / ".pairup.toml", "[notify]\nbell = false\n")
    config = load_config(cwd=repo, env=env).config
    assert config.notify.command == ("notify-send", "pairup")
    assert config.notify.bell is False


def test_environment_and_flags_may_set_a_command(repo: Path, env: dict[str, str]) -> None:
    from_env = load_config(cwd=repo, env={**env, "PAIRUP_NOTIFY_COMMAND": "notify-send a"})
    from_flag = load_config(cwd=repo, env=env, flags={"notify.command": ["notify-send", "b"]})
    assert from_env.config.notify.command == ("notify-send", "a")
    assert from_flag.config.notify.command == ("notify-send", "b")


def test_only_the_commands_a_person_names_run() -> None:
    assert [dotted for dotted, setting in SETTINGS.items() if setting.runs_command] == [
        "notify.command",
        "handover.open",
    ]


@pytest.mark.parametrize(
    ("text", "size"), [("8 MiB", 8 << 20), ("500KiB", 500 << 10), ("1 GiB", 1 << 30), ("12 B", 12)]
)
def test_sizes_read_with_their_unit(text: str, size: int) -> None:
    assert Config.model_validate(_with_handover({"max_size": text})).handover.max_size == size


@pytest.mark.parametrize("text", ["8", "8 MB", "0 KiB", "-1 MiB", "lots"])
def test_a_size_without_its_unit_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="expected a size"):
        Config.model_validate(_with_handover({"max_size": text}))


def _with_handover(changes: dict[str, object]) -> dict[str, object]:
    values = tomllib.loads(DEFAULTS_FILE.read_text(encoding="utf-8"))
    values["handover"] = {**values["handover"], **changes}
    return values


# Finding the repository


def test_repo_file_is_found_from_a_nested_subdirectory(repo: Path, env: dict[str, str]) -> None:
    nested = repo / "a" / "b" / "c"
    nested.mkdir(parents=True)
    write(repo / ".pairup.toml", '[git]\ncredit = "all-participants"\n')
    assert find_repo_root(nested) == repo
    assert load_config(cwd=nested, env=env).config.git.credit == "all-participants"


def test_a_git_file_marks_a_worktree_root(tmp_path: Path, env: dict[str, str]) -> None:
    worktree = tmp_path / "worktree"
    write(worktree / ".git", "gitdir: /elsewhere/.git/worktrees/worktree\n")
    write(worktree / ".pairup.toml", "[relay]\nport = 9000\n")
    (worktree / "src").mkdir()
    assert find_repo_root(worktree / "src") == worktree
    assert load_config(cwd=worktree / "src", env=env).config.relay.port == 9000


def test_the_nearest_repository_wins(repo: Path, env: dict[str, str]) -> None:
    inner = repo / "vendor" / "inner"
    (inner / ".git").mkdir(parents=True)
    write(repo / ".pairup.toml", "[relay]\nport = 1\n")
    assert find_repo_root(inner) == inner
    assert load_config(cwd=inner, env=env).config.relay.port == 0


def test_outside_a_repository_there_is_no_repo_file(tmp_path: Path, env: dict[str, str]) -> None:
    if find_repo_root(tmp_path) is not None:
        pytest.skip("the temporary directory is inside a git repository")
    write(tmp_path / ".pairup.toml", "[relay]\nport = 9000\n")
    loaded = load_config(cwd=tmp_path, env=env)
    assert loaded.config.relay.port == 0
    assert loaded.repo_root is None


# Accessors and describe()


def test_data_dir_defaults_to_the_platform_data_dir(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_config(cwd=tmp_path, env=env).config
    assert config.data_dir == platformdirs.user_data_path("pairup")


def test_data_dir_expands_the_home_directory(tmp_path: Path, env: dict[str, str]) -> None:
    config = load_config(cwd=tmp_path, env={**env, "PAIRUP_DATA_DIR": "~/journals"}).config
    assert config.data_dir == Path("~/journals").expanduser()


ADA = 'Ada "the" Lovelace'


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def test_describe_is_toml_that_names_sources(
    repo: Path, env: dict[str, str], user_file: Path
) -> None:
    write(user_file, '[session]\nturn = "90m"\n')
    write(repo / ".pairup.toml", f"[identity]\nname = {_quoted(ADA)}\n")
    loaded = load_config(
        cwd=repo, env={**env, "PAIRUP_NOTIFY_COMMAND": "say hi"}, flags={"relay.port": 9000}
    )
    text = describe(loaded)
    parsed = tomllib.loads(text)
    assert parsed["session"]["turn"] == "1h30m"
    assert Config.model_validate(parsed) == loaded.config
    lines = text.splitlines()
    assert 'turn = "1h30m"  # from ' + str(user_file) in lines
    assert f"name = {_quoted(ADA)}  # from {repo / '.pairup.toml'}" in lines
    assert 'command = ["say", "hi"]  # from environment variable PAIRUP_NOTIFY_COMMAND' in lines
    assert "port = 9000  # from command line" in lines
    assert 'break_length = "5m"  # from default' in lines
    assert f"# Defaults, each setting explained: {DEFAULTS_FILE}" in lines


# Properties

_DURATIONS = st.builds(
    lambda hours, minutes, seconds: "".join(
        f"{amount}{unit}"
        for amount, unit in ((hours, "h"), (minutes, "m"), (seconds, "s"))
        if amount is not None
    ),
    st.none() | st.integers(0, 48),
    st.none() | st.integers(0, 600),
    st.none() | st.integers(0, 100_000),
).filter(lambda text: text != "" and parse_duration(text) > 0)


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("empty")


@given(text=_DURATIONS)
def test_any_valid_duration_round_trips_through_the_config(empty_dir: Path, text: str) -> None:
    env = {"XDG_CONFIG_HOME": str(empty_dir / "xdg"), "PAIRUP_SESSION_BREAK_LENGTH": text}
    loaded = load_config(cwd=empty_dir, env=env, flags={"session.turn": text})
    assert loaded.config.session.turn == parse_duration(text)
    assert loaded.config.session.break_length == parse_duration(text)
    described = tomllib.loads(describe(loaded))
    assert parse_duration(described["session"]["turn"]) == parse_duration(text)
    assert described["session"]["turn"] == format_duration(parse_duration(text))


@given(name=st.text(), command=st.lists(st.text()))
def test_describe_writes_any_text_as_valid_toml(
    empty_dir: Path, name: str, command: list[str]
) -> None:
    env = {"XDG_CONFIG_HOME": str(empty_dir / "xdg")}
    loaded = load_config(
        cwd=empty_dir, env=env, flags={"identity.name": name, "notify.command": command}
    )
    described = tomllib.loads(describe(loaded))
    assert described["identity"]["name"] == name
    assert described["notify"]["command"] == command
