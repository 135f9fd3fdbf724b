"""Follow the terminal's dark or light background.

Before Textual starts, `query_background` asks the terminal for its background colour with OSC 11
(`ESC ] 11 ; ? BEL`), which xterm, VTE (GNOME Terminal), kitty, iTerm2, WezTerm, foot, Alacritty,
Konsole and tmux answer with `ESC ] 11 ; rgb:RRRR/GGGG/BBBB`; a luminance above one half means a
light theme. A device-attributes query (`ESC [ c`, which every terminal answers) follows it, so a
terminal that ignores OSC 11 costs no waiting, and 500 ms bound the whole exchange (generous: a reply
arriving after Textual starts would be read as keystrokes, and over SSH replies take a round trip). Without an
answer (not a terminal, an old one), `COLORFGBG="foreground;background"` decides where the
terminal sets it (xterm, rxvt, Konsole): a background of 7 or 15 (white) means light. Otherwise
Textual's dark default. The command palette (and ctrl+t) switch between the two at any time.
"""

from __future__ import annotations

import os
import re
import select
import termios
import time
import tty
from collections.abc import Mapping

DARK, LIGHT = "textual-dark", "textual-light"
LIGHT_BACKGROUNDS = {7, 15}
QUERY = b"\x1b]11;?\x07\x1b[c"  # background colour, then device attributes as a sentinel
REPLY_TIMEOUT_S = 0.5  # only a terminal that answers neither query waits this long
BACKGROUND_REPLY = re.compile(rb"\x1b\]11;rgb:([0-9a-fA-F]{1,4})/([0-9a-fA-F]{1,4})/([0-9a-fA-F]{1,4})")
ATTRIBUTES_REPLY = re.compile(rb"\x1b\[\?[0-9;]*c")

RGB = tuple[float, float, float]


def parse_background(reply: bytes) -> RGB | None:
    """The background colour in a terminal's OSC 11 reply, each channel 0..1 (1 to 4 hex digits each)."""
    match = BACKGROUND_REPLY.search(reply)
    if match is None:
        return None
    return tuple(int(digits, 16) / (16 ** len(digits) - 1) for digits in match.groups())


def is_light(rgb: RGB) -> bool:
    red, green, blue = rgb
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5


def query_background(timeout: float = REPLY_TIMEOUT_S) -> RGB | None:
    """Ask the controlling terminal for its background colour; None when there is no terminal or no answer."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if not os.isatty(fd):
            return None
        saved = termios.tcgetattr(fd)
        try:
            tty.setraw(fd, termios.TCSANOW)  # the reply must not echo or wait for a newline
            os.write(fd, QUERY)
            return parse_background(_read_reply(fd, timeout))
        finally:
            termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_reply(fd: int, timeout: float) -> bytes:
    """What the terminal sends back until its device-attributes answer (which ends every reply) or the timeout."""
    reply, deadline = b"", time.monotonic() + timeout
    while not ATTRIBUTES_REPLY.search(reply):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        reply += os.read(fd, 1024)
    return reply


def terminal_theme(environ: Mapping[str, str] = os.environ, background: RGB | None = None) -> str:
    """The theme for the terminal's `background` colour when known, else for `COLORFGBG`, else dark."""
    if background is not None:
        return LIGHT if is_light(background) else DARK
    colour = environ.get("COLORFGBG", "").rpartition(";")[2]
    return LIGHT if colour.isdigit() and int(colour) in LIGHT_BACKGROUNDS else DARK


def opposite(theme: str) -> str:
    return DARK if theme == LIGHT else LIGHT
