"""The run in progress as the TUI sees it, and the listener that carries its events out.

`EventForwarder` is the listener `train()` calls: it passes each event on (in the training
process, down the pipe to the interface) and drops batch and progress events that arrive faster
than the screen can usefully show them. `LiveRun` is plain state rebuilt from those events on the
UI thread, where they arrive as `RunEvent` messages; screens render it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from textual.message import Message

from kerashp.config import Preset
from kerashp.control import RunControl
from kerashp.events import (
    BatchEnded,
    EpochEnded,
    EpochStarted,
    Evaluated,
    Event,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
)
from kerashp.status import RunStatus
from kerashp.text import number


class LiveStatus(StrEnum):
    """What only the interface shows of a run: moments between the run's own statuses (`RunStatus`)."""

    STARTING = "starting"  # the training process is importing Keras, loading data
    PAUSED = "paused"  # by the user; training waits inside its epoch
    STOPPING = "stopping"  # asked to stop: it finishes its batch, then ends `stopped`


ENDED = frozenset({RunStatus.COMPLETED, RunStatus.STOPPED, RunStatus.DIVERGED, RunStatus.INTERRUPTED, RunStatus.FAILED})


class RunEvent(Message):
    """A training event, delivered on the UI thread."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class EventForwarder:
    """A `train()` listener: passes events to `post`, at most one batch/progress update per interval."""

    def __init__(self, post: Callable[[Event], object], min_interval: float = 0.25, clock=time.monotonic):
        self.post, self.min_interval, self.clock = post, min_interval, clock
        self.ended = False  # a RunFinished/RunFailed went through
        self._last = -float("inf")

    def __call__(self, event: Event) -> None:
        if _frequent(event):
            now = self.clock()
            if now - self._last < self.min_interval:
                return
            self._last = now
        self.ended = self.ended or isinstance(event, (RunFinished, RunFailed))
        self.post(event)


def _frequent(event: Event) -> bool:
    """Intermediate batch/progress updates; the last of each series always goes through."""
    if isinstance(event, BatchEnded):
        return event.step < event.steps
    if isinstance(event, Progress):
        return event.done < event.total
    return False


@dataclass
class LiveRun:
    preset: str
    epochs: int
    reference: dict
    control: RunControl = field(default_factory=RunControl)  # or anything with its pause/resume/stop/paused/stopped
    clock: Callable[[], float] = time.monotonic
    status: RunStatus | LiveStatus = LiveStatus.STARTING  # running, paused, stopping, then one of ENDED
    activity: str = "importing Keras and PyTorch"  # work outside epochs: loading data, evaluating
    progress: tuple[int, int] = (0, 0)  # (done, total) of that work
    run_dir: str = ""
    device: str = ""
    parameters: int | None = None
    epoch: int = 0
    step: int = 0
    steps: int = 0
    loss: float | None = None
    accuracy: float | None = None
    rows: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    message: str = ""  # the outcome (or error) once the run has ended
    summary: dict = field(default_factory=dict)
    epoch_started: float | None = None
    paused_s: float = 0.0  # time paused in this epoch so far, not counting a pause still going on
    paused_since: float | None = None

    @classmethod
    def for_preset(cls, preset: Preset, control=None) -> LiveRun:
        return cls(preset.name, preset["train"]["epochs"], dict(preset["reference"]), control or RunControl())

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    # ------------------------------------------------------------------ control (UI thread)
    def toggle_pause(self) -> None:
        if self.ended or self.control.stopped:
            return
        if self.control.paused:
            self.control.resume()
            if self.paused_since is not None:
                self.paused_s += self.clock() - self.paused_since
            self.paused_since = None
        else:
            self.control.pause()
            self.paused_since = self.clock()
        self.status = self._active_status()

    def stop(self) -> None:
        if not self.ended:
            self.control.stop()
            self.status = LiveStatus.STOPPING

    def _active_status(self) -> RunStatus | LiveStatus:
        if self.control.stopped:
            return LiveStatus.STOPPING
        return LiveStatus.PAUSED if self.control.paused else RunStatus.RUNNING

    # ------------------------------------------------------------------ events
    def apply(self, event: Event) -> None:
        handler = getattr(self, f"_on_{type(event).__name__}", None)
        if handler is not None:
            handler(event)

    def _on_RunStarted(self, event: RunStarted) -> None:
        self.run_dir, self.device, self.parameters = event.run_dir, event.device, event.parameters
        self.epochs, self.epoch, self.steps = event.epochs, event.initial_epoch, event.steps_per_epoch
        self.status, self.activity = self._active_status(), ""

    def _on_Progress(self, event: Progress) -> None:
        self.activity, self.progress = event.what, (event.done, event.total)

    def _on_EpochStarted(self, event: EpochStarted) -> None:
        self.epoch, self.epochs, self.steps, self.step = event.epoch, event.epochs, event.steps, 0
        self.epoch_started, self.activity = self.clock(), ""
        self.paused_s = 0.0
        if self.paused_since is not None:
            self.paused_since = self.epoch_started

    def _on_BatchEnded(self, event: BatchEnded) -> None:
        self.step, self.steps, self.loss, self.accuracy = event.step, event.steps, event.loss, event.accuracy

    def _on_EpochEnded(self, event: EpochEnded) -> None:
        self.rows.append({"epoch": event.epoch, **event.metrics})
        if event.best:
            self.best_epoch = event.epoch

    def _on_Evaluated(self, event: Evaluated) -> None:
        self.activity = ""
        self.summary[event.split] = dict(event.metrics)

    def _on_RunFinished(self, event: RunFinished) -> None:
        self.status, self.summary, self.activity = RunStatus(event.status), dict(event.summary), ""
        self.run_dir = event.run_dir or self.run_dir
        self.message = outcome(self.status, self.summary, self.run_dir)

    def _on_RunFailed(self, event: RunFailed) -> None:
        self.status, self.activity, self.message = RunStatus.FAILED, "", f"run failed: {event.error}"

    # ------------------------------------------------------------------ timing
    def epoch_eta(self) -> float | None:
        """Seconds left in this epoch, from its pace so far (time spent paused is not pace)."""
        if self.epoch_started is None or not self.step or self.ended:
            return None
        return self._training_time() / self.step * (self.steps - self.step)

    def _training_time(self) -> float:
        """Seconds this epoch has trained: since it started, less the time paused (0 before it started)."""
        if self.epoch_started is None:
            return 0.0
        now = self.clock()
        paused = self.paused_s + (now - self.paused_since if self.paused_since is not None else 0.0)
        return max(0.0, now - self.epoch_started - paused)

    def run_eta(self) -> float | None:
        """Seconds left in the run: this epoch plus the remaining ones at the mean epoch time."""
        this_epoch = self.epoch_eta()
        if this_epoch is None:
            return None
        times = [row["epoch_time"] for row in self.rows if "epoch_time" in row]
        per_epoch = sum(times) / len(times) if times else self._training_time() / self.step * self.steps
        return this_epoch + per_epoch * max(0, self.epochs - self.epoch)


def outcome(status: RunStatus, summary: dict, run_dir: str) -> str:
    """One line saying how a run ended and what to do next (the CLI's final words, for the TUI)."""
    epochs = summary.get("epochs_done", 0)
    if status == RunStatus.COMPLETED:
        test = (summary.get("test") or {}).get("accuracy")
        tested = f"; test accuracy {number(test)} (best epoch {summary.get('best_epoch')})" if test is not None else ""
        return f"completed {epochs} epochs{tested}"
    if status == RunStatus.DIVERGED:
        return (
            f"diverged: loss became NaN/inf at epoch {summary.get('diverged_at_epoch')}; "
            "the last finite epoch is in history.csv — try a lower learning rate"
        )
    if status in (RunStatus.STOPPED, RunStatus.INTERRUPTED):
        return f"{status} after epoch {epochs}; resume with  kerashp train --resume {run_dir}"
    return status


def duration(seconds: float | None) -> str:
    """`1:05` / `1:02:03`; `--:--` when unknown."""
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
