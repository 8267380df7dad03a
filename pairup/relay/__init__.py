"""The relay: sequences, stores and fans out each session's events."""
