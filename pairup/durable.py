"""Directories that survive a power loss: the one place that fsyncs directory entries.

A new file is durable only once its directory entry is, so the journal and the relay's store
both create their directories and files through here. And when what pairup keeps on disk
cannot be kept any more, the error says so with one type, :class:`StorageError`.
"""

import os
from pathlib import Path


class StorageError(Exception):
    """What pairup keeps on this machine can be kept no longer: the disk is full, or a file is
    damaged. Whoever uses it stops; the message says what is kept and what to do. It lives here,
    with nothing imported, so that a screen which may not load the journal's parser before its
    first frame (ADR 10) can still catch it."""


def make_dirs(directory: Path) -> None:
    """Create ``directory`` and any missing parents, fsyncing each new entry into its parent."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        sync_dir(new.parent)


def sync_dir(directory: Path) -> None:
    """Make a directory's entries durable. Windows cannot open a directory to fsync it, and
    NTFS journals its metadata itself, so there this does nothing."""
    if os.name == "nt":
        return
    descriptor = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
