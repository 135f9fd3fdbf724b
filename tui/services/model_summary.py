"""Model summaries, built in a helper process so that importing Keras and building a model never
competes with the interface for Python's GIL (a thread doing that makes every keypress wait).

One daemon helper per TUI process, started on first use and ended with it. `describe` blocks
until the helper answers, so call it from a thread worker: that thread only waits on a pipe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from kerashp.config import Preset
from tui.services.processes import CONTEXT, silence_output, start

if TYPE_CHECKING:
    from kerashp.models.summary import ModelSummary


def describe_summary(summary: ModelSummary) -> str:
    """One line for a `kerashp.models.summary.ModelSummary`."""
    layers = sum(1 for row in summary.rows if row.depth == 0)
    shape = "×".join(str(side) for side in summary.input_shape)
    return (
        f"{summary.parameters:,} parameters ({summary.trainable:,} trainable) · {summary.macs:,} MACs · "
        f"{layers} layers · input {shape} → {summary.num_classes} classes"
    )


def _serve(connection: Connection) -> None:
    """The helper: answer each preset with its summary line, or the reason there is none."""
    silence_output()
    from kerashp.models.summary import summarize_preset

    while True:
        try:
            preset = connection.recv()
        except EOFError:
            return
        try:
            connection.send(describe_summary(summarize_preset(preset)))
        except Exception as exc:  # a dataset not there yet, an input size the data does not fix...
            connection.send(f"not available: {exc}")


class SummaryHelper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None

    def describe(self, preset: Preset, wanted: Callable[[], bool] = lambda: True) -> str | None:
        """The summary line; None when, by the helper's turn, it is no longer `wanted`."""
        with self._lock:
            if not wanted():  # the user has moved on while earlier requests were being answered
                return None
            if self._process is None or self._connection is None or not self._process.is_alive():
                self._connection = self._start()
            try:
                self._connection.send(preset)
                return self._connection.recv()
            except (EOFError, OSError) as exc:  # the helper died (out of memory?): start afresh next time
                self._process = None
                return f"not available: the summary process ended ({exc or 'no answer'})"

    def _start(self) -> Connection:
        """Start the helper; returns the connection to it."""
        connection, child = CONTEXT.Pipe()
        self._process = start(_serve, (child,), "kerashp-tui-summaries", daemon=True)
        child.close()
        return connection


HELPER = SummaryHelper()
