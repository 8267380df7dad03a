"""Suite-wide settings.

Hypothesis deadlines are off: CI shares a small machine, and a property that is correct but
met a slow moment must not fail. Speed is measured in ``bench/``, never in a test.
"""

import tempfile

import pygit2
from hypothesis import settings
from pygit2.enums import ConfigLevel

settings.register_profile("pairup", deadline=None, print_blob=True)
settings.load_profile("pairup")

# pygit2 reads the global, XDG and system git config from paths it fixes when it is imported:
# point them at an empty directory, so no test sees the machine's own git config.
_NO_CONFIG = tempfile.mkdtemp(prefix="pairup-no-git-config-")
for _level in (ConfigLevel.GLOBAL, ConfigLevel.XDG, ConfigLevel.SYSTEM):
    pygit2.settings.search_path[_level] = _NO_CONFIG
