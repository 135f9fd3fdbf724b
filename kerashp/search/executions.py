"""A trial's executions as ordinary kerashp runs, so checkpoints and resume come for free.

Each execution is one run directory inside the trial's folder. Asked for execution i, this module
returns it if it already finished, resumes it from its last epoch checkpoint if it was killed, or
starts it: from scratch, or, for a Hyperband trial that continues a parent, from a copy of the
parent's run (whose last checkpoint holds the model and optimizer state to go on from).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kerashp.config import Preset
from kerashp.control import RunControl
from kerashp.events import Listener
from kerashp.runs.folder import RunDir
from kerashp.status import RunStatus, TrialStatus
from kerashp.training.run import resume, train


@dataclass
class Execution:
    run: RunDir
    status: TrialStatus  # completed, pruned or failed
    curve: list[float]  # the objective per epoch
    time_s: float  # this execution's own training time (without a Hyperband parent's)
    reason: str = ""


def execution_runs(trial_dir: Path) -> list[RunDir]:
    """The trial's runs in the order they were started (run names sort by their start time); a
    link is not one of them (it could lead a resume or a copy out of the search)."""
    if not trial_dir.is_dir():
        return []
    runs = (RunDir(p) for p in trial_dir.iterdir() if not p.is_symlink() and (p / "preset.toml").is_file())
    return sorted(runs, key=lambda run: run.name)


def run_execution(
    trial_dir: Path,
    index: int,
    preset: Preset,
    epochs: int,
    objective: str,
    listeners: Sequence[Listener] = (),
    control: RunControl | None = None,
    parent_dir: Path | None = None,
) -> Execution:
    """Execution `index` of a trial, trained (or continued) to `epochs` epochs."""
    runs = execution_runs(trial_dir)
    parent = execution_runs(parent_dir)[index] if parent_dir is not None else None
    if index < len(runs):
        run = runs[index]
        if not _finished(run, epochs):
            resume(run.path, listeners, epochs=epochs, control=control)
    elif parent is not None:
        run = _copy_run(parent, trial_dir)
        resume(run.path, listeners, epochs=epochs, control=control)
    else:
        run = train(preset, trial_dir, listeners, epochs=epochs, control=control).run
    return _outcome(run, objective, parent)


def _finished(run: RunDir, epochs: int) -> bool:
    """Whether the run is not to be run again: it diverged, failed or was pruned, or completed `epochs`."""
    status = run.status()
    if status == RunStatus.COMPLETED:
        return run.read_state().get("epochs_done", 0) >= epochs
    return status in (RunStatus.DIVERGED, RunStatus.FAILED, RunStatus.STOPPED)


def _copy_run(source: RunDir, trial_dir: Path) -> RunDir:
    """Copy a run into `trial_dir` under a temporary name, then rename: a kill leaves no half copy.
    The source's lock is held meanwhile, so no process writes it mid-copy (one training it refuses)."""
    trial_dir.mkdir(parents=True, exist_ok=True)
    temp = trial_dir / f".{source.name}.copy"
    shutil.rmtree(temp, ignore_errors=True)
    with source.lock():
        shutil.copytree(source.path, temp, ignore=_links)
    os.replace(temp, trial_dir / source.name)
    return RunDir(trial_dir / source.name)


def _links(folder: str, names: list[str]) -> list[str]:
    """What a copy leaves out: links, whose targets may lie outside the search."""
    return [name for name in names if os.path.islink(os.path.join(folder, name))]


def _outcome(run: RunDir, objective: str, parent: RunDir | None) -> Execution:
    summary = run.read_summary()
    status = summary.get("status")
    if status == RunStatus.INTERRUPTED:
        raise KeyboardInterrupt  # Ctrl-C stops the whole search; running it again resumes this trial
    curve = [row[objective] for row in run.read_history() if objective in row]
    own_time = _trained_time(run) - (_trained_time(parent) if parent else 0.0)
    if status == RunStatus.DIVERGED:
        reason = f"diverged at epoch {summary.get('diverged_at_epoch')}: the loss became NaN or infinite"
        return Execution(run, TrialStatus.FAILED, curve, own_time, reason)
    if status == RunStatus.FAILED:
        return Execution(run, TrialStatus.FAILED, curve, own_time, summary.get("error", "failed"))
    pruned = status == RunStatus.STOPPED  # median stopping stopped it
    return Execution(run, TrialStatus.PRUNED if pruned else TrialStatus.COMPLETED, curve, own_time)


def _trained_time(run: RunDir) -> float:
    """The seconds `run` trained in all its sessions: summary.json's at an end, state.json's (committed
    each epoch) after a kill, so a search's time_s keeps what a killed trial trained."""
    return max(run.read_summary().get("wall_time", 0.0), run.read_state().get("wall_time", 0.0))
