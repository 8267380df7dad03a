"""pairup's settings: a shipped defaults file overridden by user, repository, environment and
flags, validated by pydantic, with every value traceable to where it came from.

Import from here; the submodules are an implementation detail.
"""

from pairup.config.describe import describe
from pairup.config.load import (
    DEFAULTS_FILE,
    RESERVED_ENV_VARS,
    ConfigError,
    LoadedConfig,
    find_repo_root,
    load_config,
    user_config_file,
)
from pairup.config.model import (
    SETTINGS,
    AdrConfig,
    Config,
    DataConfig,
    GitConfig,
    IdentityConfig,
    NotifyConfig,
    RelayConfig,
    RunsCommand,
    SessionConfig,
    Setting,
)

__all__ = [
    "DEFAULTS_FILE",
    "RESERVED_ENV_VARS",
    "SETTINGS",
    "AdrConfig",
    "Config",
    "ConfigError",
    "DataConfig",
    "GitConfig",
    "IdentityConfig",
    "LoadedConfig",
    "NotifyConfig",
    "RelayConfig",
    "RunsCommand",
    "SessionConfig",
    "Setting",
    "describe",
    "find_repo_root",
    "load_config",
    "user_config_file",
]
