"""A run trains in a child process, on that process's main thread, exactly as `kerashp train` does.

Why not a thread of the TUI: a thread would share the interface's GIL (every redraw is time taken
from Keras's Python side of each step), and PyTorch's CPU kernels measured 20% slower or 4x faster
off the main thread on the same 2-core machine depending on its load (benchmarks/tui_overhead.py),
so the interface could not promise the CLI's speed. In its own process the run *is* the CLI's run.

The child sends training events back over a pipe (throttled by `EventForwarder`) and obeys
pause / resume / stop sent the other way through a `RunControl`. `TrainingProcess` offers the
same pause / resume / stop / paused / stopped as a RunControl, so `LiveRun` drives either.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

from kerashp.config import Preset
from kerashp.events import Event, RunFailed
from tui.services.live import EventForwarder
from tui.services.processes import CONTEXT, silence_output, start


def _obey(commands, control) -> None:
    """In the child: apply each command from the interface to the run's RunControl."""
    while True:
        try:
            command = commands.recv()
        except (EOFError, OSError):  # the interface is gone: stop, keeping the last finished epoch
            control.stop()
            return
        getattr(control, command)()


def _train(preset: Preset, runs_dir: Path, events, commands) -> None:
    """The child process: train `preset`, sending events to the interface."""
    silence_output()
    from kerashp.control import RunControl

    control = RunControl()
    threading.Thread(target=_obey, args=(commands, control), daemon=True).start()
    forwarder = EventForwarder(events.send)
    try:
        from kerashp.training.run import train

        train(preset, runs_dir, [forwarder], control=control)
    except Exception as exc:  # the run directory keeps error.log; the interface shows the message
        if not forwarder.ended:
            events.send(RunFailed("", f"{type(exc).__name__}: {exc}"))
    finally:
        events.close()


class TrainingProcess:
    def __init__(self, preset: Preset, runs_dir: Path):
        self._events, child_events = CONTEXT.Pipe(duplex=False)
        child_commands, self._commands = CONTEXT.Pipe(duplex=False)
        self._process = start(_train, (preset, runs_dir, child_events, child_commands), f"kerashp-tui-{preset.name}")
        child_events.close()
        child_commands.close()
        self.paused = self.stopped = False

    def events(self) -> Iterator[Event]:
        """Every event the run sends, until it ends (blocks: iterate in a thread worker)."""
        while True:
            try:
                yield self._events.recv()
            except (EOFError, OSError):
                break
        self._process.join()
        if self._process.exitcode:  # killed (out of memory?) before it could say why
            yield RunFailed("", f"the training process ended with exit code {self._process.exitcode}")

    def _send(self, command: str) -> None:
        try:
            self._commands.send(command)
        except (BrokenPipeError, OSError):
            pass  # the run has already ended

    # the RunControl interface, seen from the interface's side
    def pause(self) -> None:
        self.paused = True
        self._send("pause")

    def resume(self) -> None:
        self.paused = False
        self._send("resume")

    def stop(self) -> None:
        self.paused, self.stopped = False, True
        self._send("stop")

    def kill(self) -> None:
        """Last resort when the interface exits without waiting (the run directory stays resumable)."""
        if self._process.is_alive():
            self._process.terminate()
