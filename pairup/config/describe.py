"""Print the effective settings as TOML, each value followed by where it came from.

The output is a valid config file: it parses with ``tomllib`` and could be saved as a user file,
so ``pairup config`` doubles as a way to start one.
"""

from pairup.config.load import DEFAULT, LoadedConfig
from pairup.config.model import SETTINGS, Setting, format_size
from pairup.duration import format_duration

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def describe(loaded: LoadedConfig) -> str:
    """TOML text of every setting with a ``# from <source>`` comment, in the shipped order."""
    lines = [
        "# Effective pairup settings; each comment says where the value came from.",
        f"# Defaults, each setting explained: {_comment(str(loaded.defaults))}",
    ]
    lines += [f"# Read {_comment(str(path))}" for path in loaded.files]
    values = loaded.config.model_dump()
    section = None
    for dotted, setting in SETTINGS.items():
        if setting.section != section:
            section = setting.section
            lines += ["", f"[{section}]"]
        value = _toml_value(values[setting.section][setting.key], setting)
        source = _comment(loaded.sources.get(dotted, DEFAULT))
        lines.append(f"{setting.key} = {value}  # from {source}")
    return "\n".join(lines) + "\n"


def _toml_value(value: object, setting: Setting) -> str:
    if setting.kind == "duration" and isinstance(value, int):
        return _toml_string(format_duration(value))
    if setting.kind == "size" and isinstance(value, int):
        return _toml_string(format_size(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_string(str(item)) for item in value) + "]"
    return _toml_string(str(value))


def _toml_string(text: str) -> str:
    """A TOML basic string; control characters TOML forbids raw become ``\\uXXXX`` escapes."""
    escaped = []
    for char in text:
        if char in _ESCAPES:
            escaped.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _comment(text: str) -> str:
    """Keep a source on its comment line even if a path holds a newline or other control char."""
    return "".join(char if char.isprintable() else "?" for char in text)
