"""Child processes of the TUI: how they are started and kept off the terminal the interface owns.

Heavy work (building models, training) runs in fresh interpreters started with `spawn`: they never
compete with the interface for the GIL, and forking a process that has threads is unsafe.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from typing import Any

CONTEXT = multiprocessing.get_context("spawn")


def start(target: Callable[..., Any], args: tuple, name: str, daemon: bool = False) -> BaseProcess:
    """Start `target(*args)` in a fresh interpreter and return its `Process`."""
    process = CONTEXT.Process(target=target, args=args, name=name, daemon=daemon)
    # multiprocessing hands its helpers sys.stderr's file descriptor, which Textual's stand-in lacks
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
        process.start()
    return process


def silence_output() -> None:
    """Called first in a child: it shares the terminal the interface draws on, so library
    chatter (warnings, progress prints) must not reach it."""
    quiet = os.open(os.devnull, os.O_WRONLY)
    for stream in (1, 2):
        os.dup2(quiet, stream)
