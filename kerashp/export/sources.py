"""What a path a user names holds: a run, a folder of runs, a study or a search. `kerashp report`
and the exports both dispatch on it."""

from __future__ import annotations

from pathlib import Path

from kerashp.errors import UserError
from kerashp.runs.folder import list_runs
from kerashp.study.folder import STUDY_FILE


def source_kind(path: Path) -> str:
    """study (study.json), search (trials.csv), run (preset.toml) or runs (a folder of runs)."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if (path / STUDY_FILE).is_file():
        return "study"
    if (path / "trials.csv").is_file():
        return "search"
    if (path / "preset.toml").is_file():
        return "run"
    if list_runs(path):
        return "runs"
    raise UserError(f"{path}: not a run, runs folder, study or search (no preset.toml, study.json or trials.csv)")
