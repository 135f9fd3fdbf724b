"""`KeyFooter`: every key of the screen on one line, `q quit` kept within 80 columns.

Compact (one space between hints, not three) and without Textual's command-palette hint docked on
the right, which took 12 columns whatever else needed them: `^p palette` is an ordinary hint of the
app's, after `q quit`, so on a narrow terminal it is the one that falls off (`?` still lists it).
"""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter.-compact FooterLabel { margin: 0 1 0 0; }
    """

    def __init__(self) -> None:
        super().__init__(compact=True, show_command_palette=False)
