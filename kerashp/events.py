"""Events: what training reports. Front ends (CLI, TUI, run directory) consume these; the engine
imports no UI library. Every event is a small frozen dataclass that serialises to one JSON line."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

from kerashp.status import RunStatus


@dataclass(frozen=True)
class Event:
    def to_json(self) -> dict:
        return {"event": type(self).__name__, "time": time.time(), **asdict(self)}


@dataclass(frozen=True)
class RunStarted(Event):
    run_dir: str
    preset: str
    epochs: int
    initial_epoch: int
    steps_per_epoch: int
    device: str
    parameters: int


@dataclass(frozen=True)
class Progress(Event):
    """Long work outside epochs (reading a dataset, evaluating), for progress bars."""

    what: str
    done: int
    total: int


@dataclass(frozen=True)
class EpochStarted(Event):
    epoch: int  # 1-based
    epochs: int
    steps: int


@dataclass(frozen=True)
class BatchEnded(Event):
    """Sent every few batches (not every one) so front ends stay cheap."""

    epoch: int
    step: int  # 1-based within the epoch
    steps: int
    loss: float
    accuracy: float


@dataclass(frozen=True)
class EpochEnded(Event):
    epoch: int
    epochs: int
    metrics: dict = field(default_factory=dict)  # loss, accuracy, val_loss, val_accuracy, lr, epoch_time
    best: bool = False


@dataclass(frozen=True)
class Evaluated(Event):
    split: str
    metrics: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunFinished(Event):
    status: RunStatus  # completed | diverged | stopped | interrupted
    run_dir: str
    summary: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunFailed(Event):
    run_dir: str
    error: str


class Listener(Protocol):
    """Takes each event: a front end's view, a run's event log, a test's `list.append` (the event is
    passed by position, so any one-argument callable fits)."""

    def __call__(self, event: Event, /) -> None: ...


def emit(listeners: Sequence[Listener], event: Event) -> None:
    """Hand `event` to each listener in turn."""
    for listener in listeners:
        listener(event)
