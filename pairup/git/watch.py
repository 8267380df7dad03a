"""Notice, without polling, when git replaces a file in a directory (Linux inotify).

The running pairup keeps the repository's index loaded so ``pairup commit`` need not read it
on its critical path: git writes ``index.lock`` and renames it over ``index``, and this tells
the pairup at once, so it reads the new index while the command is still starting. Where
there is no inotify (macOS, Windows, a libc without it) :func:`watch` returns ``None`` and
commits read the index themselves, as they must anyway when it changed since the last read.
"""

import ctypes
import os
import struct
import sys
from pathlib import Path

_IN_CLOSE_WRITE = 0x00000008
_IN_MOVED_TO = 0x00000080
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")
"""struct inotify_event: wd, mask, cookie, len; then ``len`` bytes of NUL-padded name."""


class Watch:
    """An inotify descriptor on one directory; :meth:`changed` says which watched names were
    written or moved into place since the last call. Close it when done."""

    def __init__(self, fd: int, names: frozenset[bytes]) -> None:
        self.fd = fd
        self.names = names

    def changed(self) -> set[str]:
        """The watched names replaced or written since the last call (reads what is pending)."""
        found: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return found
            offset = 0
            while offset + _EVENT.size <= len(data):
                _, _, _, length = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size : offset + _EVENT.size + length].rstrip(b"\0")
                if name in self.names:
                    found.add(name.decode())
                offset += _EVENT.size + length

    def close(self) -> None:
        os.close(self.fd)


def watch(directory: Path, names: set[str]) -> Watch | None:
    """Watch ``directory`` for ``names`` being written or moved into place; ``None`` where
    inotify is not to be had."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        # The symbols this process has loaded already, the C library's among them: no
        # search for the library (find_library runs a subprocess to find it).
        libc = ctypes.CDLL(None, use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError):
        return None
    add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = init(_IN_NONBLOCK | _IN_CLOEXEC)
    if fd < 0:
        return None
    if add(fd, os.fsencode(directory), _IN_MOVED_TO | _IN_CLOSE_WRITE) < 0:
        os.close(fd)
        return None
    return Watch(fd, frozenset(os.fsencode(name) for name in names))
