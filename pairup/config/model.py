"""The shape of pairup's settings: one frozen pydantic model per TOML section.

No field has a default. The shipped ``config/pairup.toml`` (see :mod:`pairup.config.shipped`) is
the single source of defaults, so the model only says what a valid value is, and a shipped file
that forgets a setting fails loudly instead of silently falling back to a second, disagreeing
default.

Validation is strict because a config file is written by hand: ``port = "9000"`` is more likely
a mistake than a wish, so text is never turned into numbers here. The loader converts text from
the environment and flags before it reaches the model.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, get_origin

import platformdirs
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from pairup.duration import EXAMPLES, DurationError, parse_duration

APP_NAME = "pairup"


@dataclass(frozen=True)
class RunsCommand:
    """Marks a setting whose value pairup executes.

    Such a setting may not come from a repository's ``.pairup.toml``: cloning a repository and
    running ``pairup`` in it must never be enough to run a command the repository chose.
    """


@dataclass(frozen=True)
class IsDuration:
    """Marks a duration field, kept as text from the environment and shown as text again."""


def _custom_error(message: str) -> PydanticCustomError:
    """A validation error whose message is used verbatim (braces in values are not templates)."""
    return PydanticCustomError("pairup", "{message}", {"message": message})


@dataclass(frozen=True)
class IsSize:
    """Marks a size field, written as text such as ``"8 MiB"`` and shown as text again."""


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB)?\s*$")
_UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
SIZE_EXAMPLES = '"8 MiB", "500 KiB" or "1 GiB"'


def _bytes(value: object) -> object:
    """Read a size string into bytes; a bare number is refused because its unit is a guess."""
    found = _SIZE.fullmatch(value) if isinstance(value, str) else None
    if found is None or found.group(2) is None:
        raise _custom_error(f"expected a size like {SIZE_EXAMPLES}, got {value!r}")
    size = int(found.group(1)) * _UNITS[found.group(2)]
    if size == 0:
        raise _custom_error(f"expected a size larger than zero, got {value!r}")
    return size


def format_size(size: int) -> str:
    """A size as the settings write it: the largest unit that divides it."""
    for unit in ("GiB", "MiB", "KiB"):
        if size % _UNITS[unit] == 0:
            return f"{size // _UNITS[unit]} {unit}"
    return f"{size} B"


def _seconds(value: object) -> object:
    """Read a duration string into seconds; numbers are refused because their unit is a guess."""
    if not isinstance(value, str):
        raise _custom_error(f"expected a duration like {EXAMPLES}, got {value!r}")
    try:
        seconds = parse_duration(value)
    except DurationError as error:
        raise _custom_error(str(error)) from None
    if seconds == 0:
        raise _custom_error(f"expected a duration longer than zero, got {value!r}")
    return seconds


def _relay_url(value: str) -> str:
    """Only WebSocket URLs make sense for the relay; catch ``http://`` or a bare host early."""
    if value and not value.startswith(("ws://", "wss://")):
        raise _custom_error(
            f'expected a ws:// or wss:// URL, or "" for the embedded relay, got {value!r}'
        )
    return value


Duration = Annotated[int, BeforeValidator(_seconds), IsDuration()]
"""Whole seconds, written in files as a duration string such as ``"15m"``."""

Size = Annotated[int, BeforeValidator(_bytes), IsSize()]
"""Bytes, written in files as a size string such as ``"8 MiB"``."""

Command = Annotated[tuple[StrictStr, ...], Field(strict=False), RunsCommand()]
"""An argv run without a shell; a TOML list becomes an immutable tuple."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SessionConfig(_Section):
    """How turns, breaks and rotation go when this person starts a session."""

    turn: Duration
    break_every: Annotated[int, Field(ge=0)]
    break_length: Duration
    max_participants: Annotated[int, Field(ge=2, le=8)]
    next_turn: Literal["auto", "driver"]
    retro: bool
    away_after: Duration
    approve: bool


class IdentityConfig(_Section):
    """Who this person is to the others; empty values are filled from git config elsewhere."""

    name: str
    email: str


class RelayConfig(_Section):
    """Where the session's relay listens, or which external relay to use instead."""

    host: str
    port: Annotated[int, Field(ge=0, le=65535)]
    advertise: str
    url: Annotated[str, AfterValidator(_relay_url)]
    tls: Literal["self-signed", "off"]


class AdrConfig(_Section):
    """Where accepted decisions are written and in which ADR flavour."""

    dir: str
    format: Literal["adr", "madr", "log4brains"]
    record_dir: str


class GitConfig(_Section):
    """How commits made during a session credit the people in it."""

    credit: Literal["present", "all-participants"]


class NotifyConfig(_Section):
    """How this person is told that the driver changed."""

    bell: bool
    command: Command


class HandoverConfig(_Section):
    """How the code moves to the next driver when a turn ends."""

    mode: Literal["link", "branch", "off"]
    max_size: Size
    open: Command
    remote: str
    finish: Literal["squash", "keep"]


class DataConfig(_Section):
    """Where pairup keeps what it records on this machine."""

    dir: str


class Config(_Section):
    """All of pairup's settings, validated; build it with :func:`pairup.config.load_config`."""

    session: SessionConfig
    identity: IdentityConfig
    relay: RelayConfig
    adr: AdrConfig
    git: GitConfig
    notify: NotifyConfig
    handover: HandoverConfig
    data: DataConfig

    @property
    def data_dir(self) -> Path:
        """Where session journals live: ``data.dir``, or the platform's data dir when empty."""
        if self.data.dir:
            return Path(self.data.dir).expanduser()
        return platformdirs.user_data_path(APP_NAME)


Kind = Literal["duration", "size", "int", "bool", "list", "text"]


@dataclass(frozen=True)
class Setting:
    """One ``section.key`` of :class:`Config`, described so loaders and printers need no types."""

    section: str
    key: str
    kind: Kind
    runs_command: bool
    minimum: int | None
    maximum: int | None

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def env_var(self) -> str:
        """The environment variable that sets it, e.g. ``PAIRUP_SESSION_BREAK_EVERY``."""
        return f"PAIRUP_{self.section}_{self.key}".upper()


def _kind(field: FieldInfo) -> Kind:
    if any(isinstance(item, IsDuration) for item in field.metadata):
        return "duration"
    if any(isinstance(item, IsSize) for item in field.metadata):
        return "size"
    if field.annotation is bool:
        return "bool"
    if field.annotation is int:
        return "int"
    if get_origin(field.annotation) is tuple:
        return "list"
    return "text"


def _bound(field: FieldInfo, name: Literal["ge", "le"]) -> int | None:
    """The ``ge`` or ``le`` limit of a numeric field, so range errors can name both ends."""
    limits = [getattr(item, name) for item in field.metadata if hasattr(item, name)]
    return int(limits[0]) if limits else None


def _collect_settings() -> dict[str, Setting]:
    settings: dict[str, Setting] = {}
    for section, section_field in Config.model_fields.items():
        model = section_field.annotation
        if not (isinstance(model, type) and issubclass(model, _Section)):
            raise TypeError(f"Config.{section} must be a section model, not {model!r}")
        for key, field in model.model_fields.items():
            setting = Setting(
                section=section,
                key=key,
                kind=_kind(field),
                runs_command=any(isinstance(item, RunsCommand) for item in field.metadata),
                minimum=_bound(field, "ge"),
                maximum=_bound(field, "le"),
            )
            settings[setting.dotted] = setting
    return settings


SETTINGS: dict[str, Setting] = _collect_settings()
"""Every setting by dotted key, in the order of the model (and of the shipped file)."""


def known_keys(section: str | None) -> list[str]:
    """The section names (``None``) or the keys of one section, for "unknown setting" messages."""
    if section is None:
        return list(Config.model_fields)
    return [setting.key for setting in SETTINGS.values() if setting.section == section]
