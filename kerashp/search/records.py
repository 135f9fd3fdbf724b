"""One record per trial, and `trials.csv`, the table made from them.

Each trial's record is its own JSON file, written by whichever process runs the trial (a worker,
in a distributed search), so no two processes ever write the same file; `trials.csv` is rebuilt
from all records under a lock and can always be rebuilt again.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

STATUSES = ("running", "completed", "pruned", "failed")
HYPERBAND_COLUMNS = ("bracket", "round", "parent")


@dataclass
class TrialRecord:
    trial_id: str
    status: str  # one of STATUSES
    hyperparameters: dict[str, Any]
    worker: str = ""
    epochs: int = 0  # epochs the trial's run holds (Hyperband: counting those continued from its parent)
    objective: float | None = None  # best value of search.objective over the epochs (mean over executions)
    best_epoch: int | None = None
    time_s: float = 0.0  # training time of this trial (not its Hyperband parent's)
    reason: str = ""  # why a trial failed or was pruned
    curve: list[float] = field(default_factory=list)  # the objective per epoch, for median stopping and plots
    runs: list[str] = field(default_factory=list)  # its run directories, relative to the search directory
    bracket: int | None = None
    round: int | None = None
    parent: str | None = None  # Hyperband: the trial this one continues

    @property
    def number(self) -> int:
        """1-based position in the search (KerasTuner numbers trials from 0)."""
        return int(self.trial_id) + 1 if self.trial_id.isdigit() else 0

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrialRecord":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def trial_order(record: TrialRecord) -> tuple[int, str]:
    """By number: an extended search's ids change width ("9", then "10")."""
    return record.number, record.trial_id


def ranked(records: list[TrialRecord], direction: str) -> list[TrialRecord]:
    """Trials with an objective, best first, then the others in trial order."""
    scored = sorted((r for r in records if r.objective is not None), key=lambda r: r.objective, reverse=direction == "max")
    return scored + sorted((r for r in records if r.objective is None), key=trial_order)


def best(records: list[TrialRecord], direction: str) -> TrialRecord | None:
    """The best completed trial (a pruned one stopped early, so it is not a candidate)."""
    completed = [r for r in records if r.status == "completed"]
    return ranked(completed, direction)[0] if completed else None


def columns(records: list[TrialRecord], space_keys: list[str]) -> list[str]:
    hyperband = list(HYPERBAND_COLUMNS) if any(r.bracket is not None for r in records) else []
    return ["trial_id", "status", *space_keys, "epochs", "objective", "best_epoch", "time_s", "worker", *hyperband, "reason"]


def trials_csv(records: list[TrialRecord], space_keys: list[str]) -> str:
    """One row per trial in trial order; a hyperparameter a trial did not use is left empty."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(records, space_keys), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for record in sorted(records, key=trial_order):
        row = {key: value for key, value in record.to_json().items() if value is not None}
        row |= {key: _cell(value) for key, value in record.hyperparameters.items()}
        if record.objective is not None:
            row["objective"] = f"{record.objective:.6g}"
        writer.writerow(row)
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:.6g}" if isinstance(value, float) else value
