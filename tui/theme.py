"""Follow the terminal's dark or light background.

Terminals do not report their theme in a standard way; many (xterm, rxvt, Konsole, iTerm2) set
`COLORFGBG="foreground;background"` with ANSI colour numbers, where a background of 7 or 15 (white)
means a light theme. Anything else, or no variable, keeps Textual's dark default. The command
palette (and ctrl+t) switch between the two at any time.
"""

from __future__ import annotations

import os
from typing import Mapping

DARK, LIGHT = "textual-dark", "textual-light"
LIGHT_BACKGROUNDS = {7, 15}


def terminal_theme(environ: Mapping[str, str] = os.environ) -> str:
    background = environ.get("COLORFGBG", "").rpartition(";")[2]
    return LIGHT if background.isdigit() and int(background) in LIGHT_BACKGROUNDS else DARK


def opposite(theme: str) -> str:
    return DARK if theme == LIGHT else LIGHT
