"""One record per trial, and `trials.csv`, the table made from them.

Each trial's record is its own JSON file, written by whichever process runs the trial (a worker,
in a distributed search), so no two processes ever write the same file; `trials.csv` is rebuilt
from all records under a lock and can always be rebuilt again.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kerashp.errors import RunError
from kerashp.runs.files import read_object
from kerashp.status import TrialStatus

HYPERBAND_COLUMNS = ("bracket", "round", "parent")
TRIAL_ID = re.compile(r"[0-9]{1,9}")  # KerasTuner numbers trials "0", "1"... (zero-padded to max_trials' width)


@dataclass
class TrialRecord:
    trial_id: str
    status: str  # a TrialStatus
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
        return self.status != TrialStatus.RUNNING

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> TrialRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"


def is_trial_id(value: Any) -> bool:
    """A trial id as KerasTuner makes them: digits only, so it is safe as a folder name."""
    return isinstance(value, str) and TRIAL_ID.fullmatch(value) is not None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _relative_run(value: Any) -> bool:
    """A run folder inside the search: `trials/<id>/<run>`, no `..`, not absolute."""
    parts = Path(value).parts if isinstance(value, str) else ()
    return len(parts) == 3 and parts[0] == "trials" and is_trial_id(parts[1]) and parts[2] not in ("..", ".")


RECORD_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "trial_id": (is_trial_id, "expected a trial id (digits)"),
    "status": (lambda v: v in list(TrialStatus), f"expected one of {', '.join(TrialStatus)}"),
    "hyperparameters": (
        lambda v: isinstance(v, dict) and all(isinstance(x, (bool, int, float, str, list)) for x in v.values()),
        "expected an object of preset keys to values",
    ),
    "worker": (lambda v: isinstance(v, str), "expected a string"),
    "epochs": (_whole, "expected a whole number, 0 or more"),
    "objective": (_optional(_number), "expected a number or null"),
    "best_epoch": (_optional(_whole), "expected a whole number or null"),
    "time_s": (lambda v: _number(v) and v >= 0, "expected a number of seconds, 0 or more"),
    "reason": (lambda v: isinstance(v, str), "expected a string"),
    "curve": (lambda v: isinstance(v, list) and all(_number(x) for x in v), "expected a list of numbers"),
    "runs": (
        lambda v: isinstance(v, list) and all(_relative_run(x) for x in v),
        "expected run folders trials/<id>/<run>",
    ),
    "bracket": (_optional(_whole), "expected a whole number or null"),
    "round": (_optional(_whole), "expected a whole number or null"),
    "parent": (_optional(is_trial_id), "expected a trial id (digits) or null"),
}


def read_record(path: Path) -> TrialRecord:
    """A trial's record.json, checked field by field (a record is untrusted: any worker, or anyone
    with access to the folder, may have written it); one RunError naming the file otherwise."""
    data = read_object(path)
    for key in ("trial_id", "status", "hyperparameters"):
        if key not in data:
            raise RunError(f"{path}: {key}: missing")
    for key, (check, expected) in RECORD_FIELDS.items():
        if key in data and not check(data[key]):
            raise RunError(f"{path}: {key} = {json.dumps(data[key])[:40]}: {expected}")
    if data["trial_id"] != path.parent.name:
        shown = json.dumps(data["trial_id"])
        raise RunError(f"{path}: trial_id = {shown}: expected {path.parent.name}, the name of its folder")
    return TrialRecord.from_json(data)


def trial_order(record: TrialRecord) -> tuple[int, str]:
    """By number: an extended search's ids change width ("9", then "10")."""
    return record.number, record.trial_id


def ranked(records: list[TrialRecord], direction: str) -> list[TrialRecord]:
    """Trials with an objective, best first, then the others in trial order."""
    scored = [(r.objective, r) for r in records if r.objective is not None]
    scored.sort(key=lambda pair: pair[0], reverse=direction == "max")
    return [r for _, r in scored] + sorted((r for r in records if r.objective is None), key=trial_order)


def best(records: list[TrialRecord], direction: str) -> TrialRecord | None:
    """The best completed trial (a pruned one stopped early, so it is not a candidate)."""
    completed = [r for r in records if r.status == TrialStatus.COMPLETED]
    return ranked(completed, direction)[0] if completed else None


def columns(records: list[TrialRecord], space_keys: list[str]) -> list[str]:
    hyperband = list(HYPERBAND_COLUMNS) if any(r.bracket is not None for r in records) else []
    return [
        "trial_id",
        "status",
        *space_keys,
        "epochs",
        "objective",
        "best_epoch",
        "time_s",
        "worker",
        *hyperband,
        "reason",
    ]


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
