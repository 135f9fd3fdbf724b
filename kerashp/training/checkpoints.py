"""A run's checkpoints and its commit record: `.keras` files saved and copied atomically, loaded
safely, and the committed epoch a resumed run continues from, checked against the files beside it
(a kill may leave them a step apart; anything else is one RunError saying how to recover).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import keras

from kerashp.errors import RunError
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, replace_atomically
from kerashp.training.fast.step import accelerate


def atomic_save(model: keras.Model, path: Path) -> None:
    replace_atomically(path, model.save)


def atomic_copy(source: Path, target: Path) -> None:
    replace_atomically(target, lambda temp: shutil.copyfile(source, temp))


def load_checkpoint(path: Path) -> keras.Model:
    """Load a `.keras` checkpoint in safe mode (no arbitrary code from the file is run); a file
    that is not one kerashp wrote is one RunError naming it, never Keras's many-line errors."""
    import kerashp.models.layers  # noqa: F401  registers kerashp's layers for deserialisation
    import kerashp.training.optim  # noqa: F401  registers the schedule and optimizer classes

    run_files.check_checkpoint(path)
    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        if "safe_mode" in str(exc):
            problem = "refused: it holds code (a Lambda layer or a function), which kerashp never runs from a file"
            raise RunError(f"{path}: {problem}") from None
        reason = " ".join(str(exc).split())[:100] or type(exc).__name__
        raise RunError(f"{path}: not a checkpoint kerashp can load ({reason})") from None
    accelerate(model)
    return model


def committed_state(run: RunDir) -> dict[str, Any]:
    """state.json, checked against history.csv and the epoch checkpoints (see
    kerashp.training.recorder.EpochRecorder for the order they are written in, and so which
    disagreements a kill can leave behind)."""
    on_disk = _checkpoint_epochs(run)
    history = run_files.read_history(run.history_file)
    if not run.state_file.exists() and set(on_disk) <= {1} and len(history) <= 1 and not run.best_checkpoint.exists():
        # killed before its first epoch was committed: the checkpoint and the history row written
        # before the first state.json are an uncommitted epoch, as a kill leaves at any later one
        return _uncommitted_only(run, {"epochs_done": 0}, history)
    try:
        state = run_files.read_state(run.state_file)
        done = state["epochs_done"]
        if done:
            run_files.check_checkpoint(run.epoch_checkpoint(done))
        if any(epoch > done + 1 for epoch in on_disk) or (not done and on_disk):
            raise RunError(f"{run.state_file}: epochs_done = {done}, but checkpoints of later epochs exist")
    except RunError as exc:
        raise RunError(f"{exc}; {_recovery(run, on_disk)}") from None
    return _uncommitted_only(run, state, history)


def _uncommitted_only(run: RunDir, state: dict[str, Any], history: list) -> dict[str, Any]:
    """`state`, once history.csv holds its committed epochs, or one more that a kill left before the
    commit (that epoch's checkpoint, written first, is then on disk too)."""
    done = state["epochs_done"]
    uncommitted = len(history) == done + 1 and run.epoch_checkpoint(done + 1).exists()  # killed before the commit
    if len(history) != done and not uncommitted:
        raise RunError(
            f"{run.history_file}: holds {len(history)} epochs, but state.json says {done} are committed; "
            f"restore history.csv, or start a new run with --preset {run.preset_file}"
        )
    return state


def _checkpoint_epochs(run: RunDir) -> list[int]:
    """The epochs that have an `epoch-NNNN.keras` checkpoint on disk, oldest first."""
    found = (path.stem.removeprefix("epoch-") for path in run.checkpoints.glob("epoch-*.keras"))
    return sorted(int(number) for number in found if number.isdigit())


def _recovery(run: RunDir, on_disk: list[int]) -> str:
    """How to resume from the newest intact checkpoint, or to start afresh when there is none."""
    for epoch in reversed(on_disk):
        try:
            run_files.check_checkpoint(run.epoch_checkpoint(epoch))
        except RunError:
            continue
        return f'to resume from {run.epoch_checkpoint(epoch).name}, write {{"epochs_done": {epoch}}} to state.json'
    return f"no intact checkpoint to resume from; start a new run with --preset {run.preset_file}"
