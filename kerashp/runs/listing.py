"""Runs as lists show them: where runs are kept by default, and one row per run for `kerashp runs`
and the TUI's runs screen."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from kerashp.text import number

if TYPE_CHECKING:
    from kerashp.runs.folder import RunDir

RUNS_DIR_ENV = "KERASHP_RUNS_DIR"


def default_runs_dir() -> Path:
    """$KERASHP_RUNS_DIR, else ./runs."""
    return Path(os.environ.get(RUNS_DIR_ENV, "runs"))


def run_row(run: RunDir) -> tuple[str, ...]:
    """A run's name, status, epochs, best/final validation and test accuracy and wall time, as
    `kerashp runs` and the TUI's runs screen list them (from its `kerashp.runs.RunDir`)."""
    summary, history = run.read_summary(), run.read_history()
    best = (summary.get("best") or {}).get("val_accuracy")
    final = (summary.get("final") or {}).get("val_accuracy")
    if final is None:  # killed mid-run: its summary was never finished, its history was
        accuracies = [row["val_accuracy"] for row in history if "val_accuracy" in row]
        best, final = (max(accuracies), accuracies[-1]) if accuracies else (None, None)
    test = (summary.get("test") or {}).get("accuracy")
    epochs = f"{summary.get('epochs_done', len(history))}/{summary.get('epochs', '?')}"
    wall = f"{summary['wall_time']:.0f}s" if "wall_time" in summary else "-"
    return run.name, run.status(), epochs, number(best), number(final), number(test), wall
