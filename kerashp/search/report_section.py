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
    series_by_trial = {}
    for row in rows:
        run_path = _trial_run(path, row)
        if run_path is not None:
            series_by_trial[row["trial_id"]] = Series.load(run_path, f"trial {row['trial_id']}")
    search = _search_settings(path, list(series_by_trial.values()))
    hyperparameters = [c for c in header if c not in TRIAL_BOOKKEEPING and any(row[c] for row in rows)]
    trials = Trials(
        rows,
        hyperparameters,
        search.get("objective", "objective"),
        search.get("direction", "max") == "max",
        epochs_spent(rows),
        _importance(path),
    )
    ranked = sorted(trials.scored(), key=lambda row: float(row["objective"]), reverse=trials.maximize)
    shown = [series_by_trial[row["trial_id"]] for row in ranked if row["trial_id"] in series_by_trial][:SEARCH_CURVES]
    objective = md_text(trials.objective)
    notes = [f"{len(rows)} trials, {len(trials.scored())} with an objective ({objective}, "
             f"{'higher' if trials.maximize else 'lower'} is better)."]  # fmt: skip
    if ranked:
        best = number(float(ranked[0]["objective"]))
        notes.append(f"Best trial: **{md_text(ranked[0]['trial_id'])}** with {objective} {best}.")
    if len(shown) < len(series_by_trial):
        notes.append(f"The curves and table show the best {len(shown)} trials.")
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


def _trial_run(search_dir: Path, row: dict[str, str]) -> Path | None:
    """A trial's (first) run directory: its `run_dir` cell, relative to the search directory or
    absolute, or else the first run in `trials/<trial_id>/`; None when there is none."""
    if row.get("run_dir"):
        for candidate in (search_dir / row["run_dir"], Path(row["run_dir"])):
            if (candidate / "preset.toml").is_file():
                return candidate
        return None
    runs = list_runs(search_dir / "trials" / row["trial_id"])
    return runs[0].path if runs else None


def _search_settings(path: Path, series: list[Series]) -> dict:
    """The search's [search] table: from search.toml, else from a trial run's resolved preset."""
    if (path / "search.toml").is_file():
        return read_toml(path / "search.toml").get("search", {})
    return series[0].preset.get("search", {}) if series else {}
