"""The TUI benchmark's baseline: about the least a Textual app can be, a header, a line, a footer.

It imports Textual and nothing else, so the baseline costs what Textual costs; ``bench.tui``
starts it (``python -m bench.textual_app``) in a pseudo-terminal, as it starts pairup.
"""

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class Bare(App[None]):
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Join link")
        yield Footer()


if __name__ == "__main__":
    Bare().run()
