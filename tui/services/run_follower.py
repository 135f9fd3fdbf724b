"""`RunFollower`: a run another process trains, followed through its `events.jsonl`.

A search trains its trials inside `kerashp tune`, out of the app's reach, but every run appends
each event it emits to its folder's events log. Reading the new complete lines of that log and
applying them to a `LiveRun` gives the search screen the same state, and so the same
`RunProgress` line (batches and ETA of the current epoch), that the training dashboard draws.
"""

from __future__ import annotations

import time
from pathlib import Path

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
from kerashp.runs.folder import EventLogTail
from tui.services.live import LiveRun

CLOCK = time.time  # event times are wall-clock times (tests fix it)
EVENT_TYPES = {
    kind.__name__: kind
    for kind in (RunStarted, Progress, EpochStarted, BatchEnded, EpochEnded, Evaluated, RunFinished, RunFailed)
}


def decode(record: dict) -> tuple[Event, float] | None:
    """The event a line of events.jsonl holds and when it happened; None for anything else."""
    fields = dict(record)
    kind, when = EVENT_TYPES.get(fields.pop("event", None)), fields.pop("time", None)
    if kind is None:
        return None
    try:
        return kind(**fields), float(when) if when is not None else CLOCK()
    except (TypeError, ValueError):
        return None


class RunFollower:
    """The run in `run_dir` as a `LiveRun`; `poll()` catches up with what it has written since."""

    def __init__(self, run_dir: Path, preset: str, epochs: int):
        self.run_dir = Path(run_dir)
        self.events = EventLogTail(self.run_dir / "events.jsonl")
        self.live = LiveRun(preset, epochs, {}, clock=CLOCK, activity="starting")

    def poll(self) -> bool:
        """Apply the events logged since the last poll; whether there were any."""
        records = self.events.read()
        for record in records:
            decoded = decode(record)
            if decoded is not None:
                self._apply(*decoded)
        return bool(records)

    def _apply(self, event: Event, when: float) -> None:
        self.live.apply(event)
        if isinstance(event, EpochStarted):
            self.live.epoch_started = when  # when it started in the training process, not when read here
