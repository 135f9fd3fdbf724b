"""Reading a finished (or running) search: its trials ranked, and the best one as a preset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kerashp.config import Preset, preset_toml
from kerashp.errors import UserError
from kerashp.runs.folder import RunDir, atomic_write
from kerashp.search.directory import SearchDir
from kerashp.search.records import TrialRecord, best, ranked
from kerashp.search.space import trial_preset

if TYPE_CHECKING:
    from kerashp.search.importance import Importance


@dataclass
class SearchResults:
    search: SearchDir
    preset: Preset  # the search's base preset
    records: list[TrialRecord]  # best first

    @classmethod
    def load(cls, path: Path | str) -> SearchResults:
        search = SearchDir.open(path)
        preset = search.read_preset()
        return cls(search, preset, ranked(search.records(), preset["search"]["direction"]))

    @property
    def objective(self) -> str:
        return self.preset["search"]["objective"]

    @property
    def space_keys(self) -> list[str]:
        return list(self.preset["search"]["space"])

    @property
    def best(self) -> TrialRecord | None:
        return best(self.records, self.preset["search"]["direction"])

    def execution_objectives(self, record: TrialRecord) -> list[float]:
        """The best objective of each of the trial's executions (the record keeps their mean), read
        from each run's history: what `--results` and the report show the spread of."""
        pick = max if self.preset["search"]["direction"] == "max" else min
        objectives = []
        for run in record.runs:  # checked by read_record: trials/<id>/<run>, inside the search
            values = [
                row[self.objective] for row in RunDir(self.search.path / run).read_history() if self.objective in row
            ]
            if values:
                objectives.append(pick(values))
        return objectives

    def importance(self) -> Importance:
        """How much each hyperparameter mattered over the completed trials (kerashp.search.importance)."""
        from kerashp.search.importance import importance  # on first use: Optuna and scikit-learn take seconds

        settings = self.preset["search"]
        return importance(settings["space"], settings["direction"], self.records)

    def _exportable_best(self) -> TrialRecord:
        """The best trial; a UserError when no trial has completed yet."""
        top = self.best
        if top is None:
            raise UserError(f"{self.search.path}: no completed trial yet, so no best trial to export")
        return top

    def best_preset(self) -> Preset:
        """The base preset with the best trial's values (and, for Hyperband, its epochs)."""
        top = self._exportable_best()
        values = dict(top.hyperparameters)
        if top.bracket is not None:
            values["train.epochs"] = top.epochs
        preset = trial_preset(self.preset, values, source=str(self.search.preset_file))
        preset["description"] = (
            f"{self.preset['description']} (best trial {top.trial_id} of {self.search.path})".strip()
        )
        return preset

    def export_best(self, file: Path) -> TrialRecord:
        """Write the best trial as a preset file that `kerashp train --preset FILE` runs."""
        preset, top = self.best_preset(), self._exportable_best()
        document = {key: value for key, value in preset.items() if key not in ("name", "search")}
        header = (
            f"# Best trial {top.trial_id} of the search in {self.search.path}: "
            f"{self.objective} = {top.objective:.4f} at epoch {top.best_epoch} of {top.epochs}.\n"
            f"# Train it with: kerashp train --preset {file}\n"
        )
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(file, preset_toml(document, header))
        return top
