"""A repository's pairing history: its sessions, their decisions and commits, read from the
journals of this machine and the session logs committed to the repository."""
