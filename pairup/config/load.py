"""Build the effective :class:`Config` from its layers and say where every value came from.

Layers, weakest first: the shipped ``config/pairup.toml``, the user file, the repository's
``.pairup.toml``, ``PAIRUP_*`` environment variables, command-line flags. They are merged one at
a time and the result is validated after each, so a bad value is reported against the file,
variable or flag that brought it in, in one line a person can act on.
"""

import difflib
import os
import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from pairup.config.model import APP_NAME, SETTINGS, Config, Setting, known_keys
from pairup.config.shipped import MISSING, SHIPPED_DIR

DEFAULTS_FILE = SHIPPED_DIR / "pairup.toml"
"""The shipped defaults: ``config/pairup.toml`` of the source tree, wherever this pairup keeps
it (see :mod:`pairup.config.shipped`)."""

REPO_FILE_NAME = ".pairup.toml"
CONFIG_ENV_VAR = "PAIRUP_CONFIG"

RESERVED_ENV_VARS: frozenset[str] = frozenset({CONFIG_ENV_VAR})
"""``PAIRUP_*`` variables that are not settings; any other unknown ``PAIRUP_*`` is an error."""

COMMAND_LINE = "command line"
DEFAULT = "default"

_INTEGER = re.compile(r"[+-]?[0-9]+")
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_SHOWN_VALUE_LENGTH = 60
_RUNS_COMMAND_MESSAGE = (
    "runs a command, so only your user config, the environment or a flag may set it"
)


class ConfigError(Exception):
    """A setting that cannot be used, as one line: where it came from, which key, what is wrong."""

    def __init__(self, source: str, message: str, key: str | None = None) -> None:
        self.source = source
        self.key = key
        self.message = message
        super().__init__(": ".join(part for part in (source, key, message) if part))


@dataclass(frozen=True)
class LoadedConfig:
    """The validated settings together with the provenance ``pairup config`` prints."""

    config: Config
    sources: dict[str, str]
    """Dotted key -> ``"default"``, a file path, ``"environment variable PAIRUP_..."`` or
    ``"command line"``."""
    files: list[Path]
    """The user and repository files that were read (the shipped defaults always are)."""
    defaults: Path
    """The shipped defaults file that was read, which documents every setting."""
    repo_root: Path | None = None
    """The repository ``cwd`` is in, if any; its ``.pairup.toml`` is the repository layer."""


@dataclass(frozen=True)
class _Layer:
    values: dict[str, Any]
    origins: dict[str, str]
    """Dotted key (or section name, for a section that is not a table) -> its source."""
    fallback: str
    """The source named for an error no single key explains."""
    may_run_commands: bool


def load_config(
    *, cwd: Path, env: Mapping[str, str], flags: Mapping[str, object] | None = None
) -> LoadedConfig:
    """Merge the defaults, user file, repository file, environment and flags, in that order.

    ``env`` and ``flags`` are passed in rather than read from the process so that callers and
    tests decide exactly what is seen. Raises :class:`ConfigError` for the first bad value.
    """
    if not DEFAULTS_FILE.is_file():
        raise ConfigError(str(DEFAULTS_FILE), MISSING)
    repo_root = find_repo_root(cwd)
    merged: dict[str, Any] = {}
    config = _apply(merged, _file_layer(DEFAULTS_FILE, may_run_commands=True))
    sources = dict.fromkeys(SETTINGS, DEFAULT)
    files: list[Path] = []
    layers: list[_Layer] = []
    user_file = _user_file(cwd, env)
    if user_file is not None:
        files.append(user_file)
        layers.append(_file_layer(user_file, may_run_commands=True))
    repo_file = None if repo_root is None else repo_root / REPO_FILE_NAME
    if repo_file is not None and repo_file.is_file():
        files.append(repo_file)
        layers.append(_file_layer(repo_file, may_run_commands=False))
    layers.append(_env_layer(env))
    layers.append(_flag_layer(flags or {}))
    for layer in layers:
        config = _apply(merged, layer)
        sources.update(layer.origins)
    return LoadedConfig(
        config=config, sources=sources, files=files, repo_root=repo_root, defaults=DEFAULTS_FILE
    )


def find_repo_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` (a directory, or a file in a
    worktree or submodule). Plain path checks keep git libraries out of config loading."""
    start = start.absolute()
    for directory in (start, *start.parents):
        if (directory / ".git").exists():
            return directory
    return None


def user_config_file(env: Mapping[str, str]) -> Path:
    """Where the user file lives unless ``PAIRUP_CONFIG`` says otherwise.

    An absolute ``XDG_CONFIG_HOME`` in ``env`` wins, as platformdirs would honour it from the
    process environment; taking it from ``env`` keeps callers (and tests) in control.
    """
    xdg_config_home = env.get("XDG_CONFIG_HOME", "")
    if os.path.isabs(xdg_config_home):
        return Path(xdg_config_home) / APP_NAME / "config.toml"
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def _user_file(cwd: Path, env: Mapping[str, str]) -> Path | None:
    """The user file to read: ``PAIRUP_CONFIG`` must exist if set (empty counts as unset), because
    a named file that is silently skipped hides a typo; the default file may be absent."""
    named = env.get(CONFIG_ENV_VAR, "")
    if named:
        path = cwd / Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"environment variable {CONFIG_ENV_VAR}", f"no such file: {path}")
        return path
    default = user_config_file(env)
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(str(path), f"cannot read: {error.strerror or error}") from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), "not valid TOML: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(str(path), f"not valid TOML: {error}") from None


def _file_layer(path: Path, *, may_run_commands: bool) -> _Layer:
    values = _read_toml(path)
    source = str(path)
    origins: dict[str, str] = {}
    for section, table in values.items():
        if isinstance(table, dict):
            origins.update({f"{section}.{key}": source for key in table})
        else:
            origins[section] = source
    return _Layer(values, origins, source, may_run_commands)


def _env_layer(env: Mapping[str, str]) -> _Layer:
    by_variable = {setting.env_var: setting for setting in SETTINGS.values()}
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for name in sorted(env):
        if not name.startswith("PAIRUP_") or name in RESERVED_ENV_VARS:
            continue
        source = f"environment variable {name}"
        setting = by_variable.get(name)
        if setting is None:
            raise ConfigError(source, _no_such_variable(name, list(by_variable)))
        values.setdefault(setting.section, {})[setting.key] = _from_text(env[name], setting, source)
        origins[setting.dotted] = source
    return _Layer(values, origins, "environment", may_run_commands=True)


def _no_such_variable(name: str, known: list[str]) -> str:
    """Suggest the variable a typo most likely meant, comparing the parts after ``PAIRUP_``."""
    suffixes = {variable.removeprefix("PAIRUP_"): variable for variable in known}
    close = difflib.get_close_matches(name.removeprefix("PAIRUP_"), suffixes, n=1)
    if close:
        return f"matches no setting; did you mean {suffixes[close[0]]}?"
    return "matches no setting (expected PAIRUP_<SECTION>_<KEY>, e.g. PAIRUP_SESSION_TURN)"


def _flag_layer(flags: Mapping[str, object]) -> _Layer:
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for dotted, raw in flags.items():
        if raw is None:
            continue
        section, dot, key = dotted.partition(".")
        if not dot:
            raise ConfigError(COMMAND_LINE, "unknown setting (expected section.key)", dotted)
        value = os.fspath(raw) if isinstance(raw, os.PathLike) else raw
        setting = SETTINGS.get(dotted)
        if setting is not None and isinstance(value, str):
            value = _from_text(value, setting, COMMAND_LINE)
        values.setdefault(section, {})[key] = value
        origins[dotted] = COMMAND_LINE
    return _Layer(values, origins, COMMAND_LINE, may_run_commands=True)


def _from_text(text: str, setting: Setting, source: str) -> object:
    """Turn text from the environment or a flag into what a file would have held.

    Durations and plain strings stay text; the model parses durations itself so every layer gets
    the same duration message.
    """
    if setting.kind == "int":
        if not _INTEGER.fullmatch(text.strip()):
            raise ConfigError(source, f"expected an integer, got {_show(text)}", setting.dotted)
        return int(text)
    if setting.kind == "bool":
        if text.strip().lower() not in _BOOLEANS:
            message = f"expected true, false, 1 or 0, got {_show(text)}"
            raise ConfigError(source, message, setting.dotted)
        return _BOOLEANS[text.strip().lower()]
    if setting.kind == "list":
        try:
            return shlex.split(text)
        except ValueError as error:
            message = f"expected a command line such as 'notify-send pairup' ({error})"
            raise ConfigError(source, message, setting.dotted) from None
    return text


def _apply(merged: dict[str, Any], layer: _Layer) -> Config:
    """Merge ``layer`` into ``merged`` in place and validate, blaming ``layer`` for any error."""
    if not layer.may_run_commands:
        for dotted, source in layer.origins.items():
            setting = SETTINGS.get(dotted)
            if setting is not None and setting.runs_command:
                raise ConfigError(source, _RUNS_COMMAND_MESSAGE, dotted)
    for section, table in layer.values.items():
        if isinstance(table, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **table}
        else:
            merged[section] = table
    try:
        return Config.model_validate(merged)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        path = tuple(first["loc"])
        raise ConfigError(_origin(layer, path), _explain(first, path), _dotted(path)) from None


def _origin(layer: _Layer, path: tuple[str | int, ...]) -> str:
    for depth in (2, 1):
        source = layer.origins.get(".".join(str(part) for part in path[:depth]))
        if source is not None:
            return source
    return layer.fallback


def _dotted(path: tuple[str | int, ...]) -> str:
    """``("notify", "command", 0)`` -> ``notify.command[0]``."""
    keys = ".".join(part for part in path if isinstance(part, str))
    return keys + "".join(f"[{part}]" for part in path if isinstance(part, int))


def _explain(error: ErrorDetails, path: tuple[str | int, ...]) -> str:
    """Say what was expected, in the words of a config file rather than of pydantic."""
    kind = error["type"]
    got = f", got {_show(error['input'])}"
    if kind == "extra_forbidden":
        section = str(path[0]) if len(path) > 1 else None
        return f"unknown setting (known: {', '.join(known_keys(section))})"
    if kind == "missing":
        return "missing setting"
    if kind in {"model_type", "model_attributes_type", "dict_type"}:
        return f"expected a table of settings{got}"
    if kind == "int_type":
        return f"expected an integer{got}"
    if kind == "bool_type":
        return f"expected true or false{got}"
    if kind == "string_type":
        return f"expected a string{got}"
    if kind == "tuple_type":
        return f"expected a list of strings{got}"
    if kind == "literal_error":
        return f"expected {error.get('ctx', {}).get('expected')}{got}"
    if kind in {"greater_than_equal", "less_than_equal"}:
        return f"{_expected_range(SETTINGS[_dotted(path[:2])])}{got}"
    if kind == "pairup":
        return error["msg"]
    return f"{error['msg'][:1].lower()}{error['msg'][1:]}{got}"


def _expected_range(setting: Setting) -> str:
    if setting.maximum is None:
        return f"expected an integer of at least {setting.minimum}"
    if setting.minimum is None:
        return f"expected an integer of at most {setting.maximum}"
    return f"expected an integer from {setting.minimum} to {setting.maximum}"


def _show(value: object) -> str:
    """A value as a message shows it: short, on one line, booleans spelled as in TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    shown = repr(value)
    if len(shown) > _SHOWN_VALUE_LENGTH:
        return f"{shown[: _SHOWN_VALUE_LENGTH - 3]}..."
    return shown
