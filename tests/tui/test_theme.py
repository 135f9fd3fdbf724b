"""Following the terminal's background: the OSC 11 reply parsed, and the query asked of a real pty."""

from __future__ import annotations

import os
import pty
import select
import time

from tui.theme import DARK, LIGHT, QUERY, REPLY_TIMEOUT_S, is_light, parse_background, terminal_theme


def test_reply_forms_parse_to_channels_between_0_and_1():
    assert parse_background(b"\x1b]11;rgb:ffff/ffff/ffff\x07") == (1.0, 1.0, 1.0)
    assert parse_background(b"\x1b]11;rgb:00/00/00\x1b\\\x1b[?62;c") == (0.0, 0.0, 0.0)
    red, green, blue = parse_background(b"\x1b]11;rgb:2828/2c2c/3434\x1b\\")
    assert abs(red - 0x28 / 0xFF) < 1e-3 and abs(blue - 0x34 / 0xFF) < 1e-3
    assert parse_background(b"\x1b[?62;22c") is None  # the terminal ignored OSC 11
    assert parse_background(b"") is None


def test_luminance_decides_light_or_dark():
    assert is_light((1.0, 1.0, 1.0)) and is_light((0.99, 0.96, 0.89))  # white, solarized light
    assert not is_light((0.0, 0.0, 0.0)) and not is_light((0.0, 0.17, 0.21))  # black, solarized dark
    assert terminal_theme({}, background=parse_background(b"\x1b]11;rgb:ffff/ffff/ffff\x07")) == LIGHT
    assert terminal_theme({"COLORFGBG": "0;15"}, background=(0.1, 0.1, 0.1)) == DARK


def _ask_through_a_pty(reply: bytes | None) -> tuple[bytes, str]:
    """Run query_background in a child whose controlling terminal is a pty we answer for."""
    pid, master = pty.fork()
    if pid == 0:  # the child: its /dev/tty is the pty
        from tui.theme import query_background

        started = time.monotonic()
        result = query_background()
        os.write(1, f"\r\nresult={result} took={time.monotonic() - started:.2f}\r\n".encode())
        os._exit(0)
    received = b""
    while QUERY not in received:
        if not select.select([master], [], [], 10)[0]:
            break
        received += os.read(master, 1024)
    if reply is not None:
        os.write(master, reply)
    output = b""
    while b"took=" not in output or not output.endswith(b"\r\n"):
        if not select.select([master], [], [], 10)[0]:
            break
        try:
            output += os.read(master, 1024)
        except OSError:
            break
    os.waitpid(pid, 0)
    os.close(master)
    return received, output.decode(errors="replace")


def test_the_query_reads_a_real_terminals_answer():
    received, output = _ask_through_a_pty(b"\x1b]11;rgb:ffff/ffff/ffff\x07\x1b[?62;c")
    assert QUERY in received
    assert "result=(1.0, 1.0, 1.0)" in output


def test_a_terminal_that_does_not_answer_costs_only_the_timeout():
    _, output = _ask_through_a_pty(None)
    assert "result=None" in output
    took = float(output.split("took=")[1].split()[0])
    assert took < REPLY_TIMEOUT_S + 0.4
