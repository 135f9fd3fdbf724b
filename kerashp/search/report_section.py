"""A search's part of a report: its trials.csv as a table, objective, best-so-far, parameter
importance and parallel-coordinates figures, and the curves of its best trials."""

from __future__ import annotations

import csv
from pathlib import Path

from kerashp.config import read_toml
from kerashp.errors import UserError
from kerashp.report import Section, Series, Trials, md_text
from kerashp.runs.folder import list_runs
from kerashp.search.results import SearchResults
from kerashp.text import number, slug

SEARCH_CURVES = 8  # a search report draws the curves of its best trials only
TRIAL_COLUMNS = ("trial_id", "status", "objective")  # required in trials.csv, plus one column per hyperparameter
# the other columns a search may write about its trials (not hyperparameters)
TRIAL_BOOKKEEPING = (
    *TRIAL_COLUMNS,
    "run_dir",
    "epochs",
    "best_epoch",
    "time_s",
    "worker",
    "bracket",
    "round",
    "parent",
    "reason",
)


def search_section(path: Path) -> Section:
    """A search directory: its trials.csv, its settings and the run directories of its trials."""
    trials_file = path / "trials.csv"
    with open(trials_file, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames or []
    missing = [column for column in TRIAL_COLUMNS if column not in header]
    if missing:
        raise UserError(
            f"{trials_file}: missing column(s) {', '.join(missing)}; "
            f"expected {', '.join(TRIAL_COLUMNS)} and one per hyperparameter"
        )
    series_by_trial = {}  # a trial's executions share its label: the report shows their mean and spread
    for row in rows:
        runs = _trial_runs(path, row)
        if runs:
            series_by_trial[row["trial_id"]] = [Series.load(run, f"trial {row['trial_id']}") for run in runs]
    search = _search_settings(path, [series for runs in series_by_trial.values() for series in runs])
    hyperparameters = [c for c in header if c not in TRIAL_BOOKKEEPING and any(row[c] for row in rows)]
    trials = Trials(
        rows,
        hyperparameters,
        search.get("objective", "objective"),
        search.get("direction", "max") == "max",
        epochs_spent(rows),
        _importance(path),
        _executions(path),
    )
    ranked = sorted(trials.scored(), key=lambda row: float(row["objective"]), reverse=trials.maximize)
    best_trials = [series_by_trial[row["trial_id"]] for row in ranked if row["trial_id"] in series_by_trial]
    best_trials = best_trials[:SEARCH_CURVES]
    shown = [series for runs in best_trials for series in runs]
    objective = md_text(trials.objective)
    notes = [f"{len(rows)} trials, {len(trials.scored())} with an objective ({objective}, "
             f"{'higher' if trials.maximize else 'lower'} is better)."]  # fmt: skip
    if ranked:
        best = number(float(ranked[0]["objective"]))
        notes.append(f"Best trial: **{md_text(ranked[0]['trial_id'])}** with {objective} {best}.")
    if len(best_trials) < len(series_by_trial):
        notes.append(f"The curves and table show the best {len(best_trials)} trials.")
    name = path.resolve().name
    return Section(f"search {name}", shown, folder_name=slug(name), notes=notes, trials=trials)


def epochs_spent(rows: list[dict[str, str]]) -> list[int]:
    """The epochs each trial trained: its `epochs`, less those of the Hyperband trial it continued."""
    epochs = {row["trial_id"]: _whole(row.get("epochs", "")) for row in rows}
    return [max(0, epochs[row["trial_id"]] - epochs.get(row.get("parent") or "", 0)) for row in rows]


def _whole(cell: str) -> int:
    return int(cell) if cell.isdigit() else 0


def _importance(path: Path) -> dict[str, float]:
    """Each hyperparameter's importance, for a search kerashp ran (it has search.toml and records)."""
    if not (path / "search.toml").is_file():
        return {}
    return SearchResults.load(path).importance().shares


def _executions(path: Path) -> dict[str, list[float]]:
    """Each trial's objective per execution, for a search kerashp ran (it has search.toml and records)."""
    if not (path / "search.toml").is_file():
        return {}
    results = SearchResults.load(path)
    return {record.trial_id: results.execution_objectives(record) for record in results.records}


def _trial_runs(search_dir: Path, row: dict[str, str]) -> list[Path]:
    """A trial's run directories: its `run_dir` cell, relative to the search directory or absolute,
    or else the runs in `trials/<trial_id>/` (one per execution); none when there is none."""
    if row.get("run_dir"):
        for candidate in (search_dir / row["run_dir"], Path(row["run_dir"])):
            if (candidate / "preset.toml").is_file():
                return [candidate]
        return []
    return [run.path for run in list_runs(search_dir / "trials" / row["trial_id"])]


def _search_settings(path: Path, series: list[Series]) -> dict:
    """The search's [search] table: from search.toml, else from a trial run's resolved preset."""
    if (path / "search.toml").is_file():
        return read_toml(path / "search.toml").get("search", {})
    return series[0].preset.get("search", {}) if series else {}
