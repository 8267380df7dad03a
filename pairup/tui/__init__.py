"""The terminal UI: one screen that shows the roster, the countdown and the decisions."""
