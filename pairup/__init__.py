"""pairup: remote pair and mob programming from the terminal."""

__version__ = "0.1.0"
