"""What a search reports, besides each trial's training events (kerashp.events).

Records travel as plain dicts (`TrialRecord.to_json()`) so every event serialises to one JSON line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kerashp.events import Event


@dataclass(frozen=True)
class SearchStarted(Event):
    search_dir: str
    preset: str
    algorithm: str
    objective: str
    direction: str
    planned_trials: int | None  # max_trials, or the trials of one Hyperband iteration
    finished_trials: int  # already done when a search is resumed
    role: str  # local | chief | worker<N>
    hyperparameters: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TrialStarted(Event):
    record: dict
    planned_trials: int | None
    initial_epoch: int = 0  # Hyperband: the epochs of the parent trial it continues


@dataclass(frozen=True)
class TrialEnded(Event):
    record: dict
    best: dict | None  # the best completed trial so far


@dataclass(frozen=True)
class SearchFinished(Event):
    search_dir: str
    records: list[dict]  # best first
