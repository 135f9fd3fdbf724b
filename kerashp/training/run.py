"""`train(preset, ...)`: build everything a preset describes, run Keras `fit`, record the run.

The flow is the same for a new run and a resumed one: a resumed run reloads the last committed
epoch checkpoint (model and optimizer state, so the step-based LR schedule continues where it
stopped), truncates the history to that epoch, and positions the data feed at the next epoch.
A new run loads its data before its folder is made; a resumed one checks every file of the run
against the others before it writes or deletes anything. Either holds the run's lock throughout.
The data feeds are built in `feeds`, each epoch is written by `recorder`, checkpoints and the
commit record are read and written by `checkpoints`.
"""

from __future__ import annotations

import errno
import json
import os
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras

from kerashp import events
from kerashp.backend import device_description, set_random_seed, versions
from kerashp.config import Preset
from kerashp.config.names import check_folder_name
from kerashp.config.preset import ModelSection
from kerashp.control import RunControl
from kerashp.errors import RunError, RunFailedError, UserError
from kerashp.events import Evaluated, Event, Listener, Progress, RunFailed, RunFinished, RunStarted
from kerashp.models import build_model
from kerashp.models.summary import trainable_parameters
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, writing
from kerashp.status import RunStatus
from kerashp.text import shown_value
from kerashp.training.checkpoints import atomic_copy, committed_state, load_checkpoint
from kerashp.training.device import check_precision, on_device, prepare_device, use_compile
from kerashp.training.fast.callbacks import QuietCallbackList
from kerashp.training.fast.layout import LAYOUTS, PINNED, RESUMED, LayoutChoice, decide_layout
from kerashp.training.fast.step import accelerate
from kerashp.training.feeds import Feeds, build_feeds, saved_normalization
from kerashp.training.optim import apply_l2, build_optimizer
from kerashp.training.precision import build_in_precision, loss_scaled, model_precision
from kerashp.training.recorder import EpochRecorder

UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}  # the disk, not the run, is at fault


@dataclass
class RunResult:
    run: RunDir
    status: RunStatus  # completed | diverged | stopped | interrupted
    summary: dict[str, Any]

    @property
    def exit_code(self) -> int:
        return self.status.exit_code


def train(
    preset: Preset,
    runs_dir: Path,
    listeners: Sequence[Listener] = (),
    epochs: int | None = None,
    control: RunControl | None = None,
) -> RunResult:
    """Start a new run of `preset` under `runs_dir`; `listeners` receive every event. The data is
    loaded first, so a source that fails (a missing folder, an unprepared dataset) leaves no run behind."""
    if epochs is not None:
        preset["train"]["epochs"] = epochs
    name = check_folder_name(preset.name or "run", "preset")  # refused now, not after the data has loaded
    check_precision(preset["train"]["precision"], preset.name or "preset")
    feeds = _load_feeds(preset, listeners)
    run = RunDir.create(Path(runs_dir), name)
    with run.lock():
        with writing(run.path):
            run.write_preset(preset)
            feeds.save(run)
        return _execute(run, preset, listeners, control or RunControl(), feeds, epochs_done=0)


def resume(
    run_path: Path | str,
    listeners: Sequence[Listener] = (),
    epochs: int | None = None,
    control: RunControl | None = None,
) -> RunResult:
    """Continue a run from its last committed epoch (after Ctrl-C, a crash or SIGKILL). Nothing in
    the run is written or deleted before its files are proven to agree with each other."""
    run = RunDir.open(run_path)
    with run.lock():
        preset, state, recorded = _resumable(run, epochs)
        check_precision(preset["train"]["precision"], str(run.preset_file))
        epochs_done = state["epochs_done"]
        model = _resumed_model(run, preset, epochs_done) if epochs_done else None
        feeds = _load_feeds(preset, listeners, saved_normalization(run), epochs_done)
        with writing(run.path):
            if epochs is not None:
                run.write_preset(preset)
            feeds.save(run)
            run.remove_temp_files()
            run.drop_partial_event()
            run.keep_only_checkpoint(epochs_done)  # an uncommitted epoch's checkpoint goes (all of them, at 0)
            if epochs_done and state.get("best_epoch") == epochs_done:  # killed between the commit and the best copy
                atomic_copy(run.epoch_checkpoint(epochs_done), run.best_checkpoint)
        control = control or RunControl()
        return _execute(
            run, preset, listeners, control, feeds, epochs_done, state=state, previous=recorded, model=model
        )


def _resumable(run: RunDir, epochs: int | None) -> tuple[Preset, dict[str, Any], dict[str, Any]]:
    """The run's preset (with `epochs`), commit record and summary, once they are proven to agree
    with each other and with the files on disk; else one RunError saying what is wrong."""
    preset = run_files.read_preset(run.preset_file)
    recorded = run_files.read_summary(run.summary_file)
    preset["name"] = recorded.get("preset", run.name)
    if epochs is not None:
        preset["train"]["epochs"] = epochs
    state = committed_state(run)
    done, target = state["epochs_done"], preset["train"]["epochs"]
    if done >= target and recorded.get("status") == RunStatus.COMPLETED:
        raise RunError(f"{run.path}: already completed {done} epochs; pass --epochs N to train further")
    if done > target:
        raise RunError(f"{run.path}: has trained {done} epochs already; pass --epochs {done + 1} or more")
    _check_same_model(run, state.get("model"), preset["model"])
    layout = recorded.get("memory_layout")
    if layout is not None and layout not in LAYOUTS:
        allowed = ", ".join(LAYOUTS)
        raise RunError(f"{run.summary_file}: memory_layout = {shown_value(layout)}: expected one of {allowed}")
    return preset, state, recorded


def _resumed_model(run: RunDir, preset: Preset, epochs_done: int) -> keras.Model:
    """The last committed checkpoint, which must compute in the preset's precision (its layers
    record their dtype policies, so it restores the one the run began with)."""
    path = run.epoch_checkpoint(epochs_done)
    model = load_checkpoint(path)
    wanted, found = preset["train"]["precision"], model_precision(model)
    if found != wanted:
        raise RunError(
            f"{run.preset_file}: train.precision = {shown_value(wanted)}, but {path.name} computes in "
            f"{shown_value(found)}; start a new run to train in another precision"
        )
    return model


def _check_same_model(run: RunDir, trained: dict[str, Any] | None, model: ModelSection) -> None:
    """A resumed run continues the architecture its checkpoints hold: refuse a changed [model] table."""
    wanted = json.loads(json.dumps(model, default=str))  # as state.json records it
    if trained is None or trained == wanted:  # None: a run from before the model was recorded
        return
    key = min(key for key in {*trained, *wanted} if trained.get(key) != wanted.get(key))
    raise RunError(
        f"{run.preset_file}: model.{key} = {shown_value(wanted.get(key))}, but the run's checkpoints are of "
        f"model.{key} = {shown_value(trained.get(key))}; start a new run to train another model"
    )


def _load_feeds(
    preset: Preset, listeners: Sequence[Listener], saved: dict[str, Any] | None = None, epochs_done: int = 0
) -> Feeds:
    """The run's data, loaded before anything is written: a source that fails leaves the run as it was."""
    set_random_seed(preset["seed"])
    return build_feeds(preset, lambda event: events.emit(listeners, event), saved, initial_epoch=epochs_done)


def build_compiled_model(preset: Preset, feeds: Feeds) -> keras.Model:
    model = build_in_precision(
        lambda: build_model(preset["model"]["name"], preset["model"], feeds.input_shape, feeds.num_classes),
        preset["train"]["precision"],
    )
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, len(feeds.train))
    accelerate(model)
    return model


def compile_model(model: keras.Model, preset: Preset, steps_per_epoch: int) -> None:
    train_cfg = preset["train"]
    optimizer = build_optimizer(preset["optimizer"], preset["schedule"], steps_per_epoch, train_cfg["epochs"])
    model.compile(
        optimizer=loss_scaled(optimizer, train_cfg["precision"]),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=train_cfg["label_smoothing"]),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=use_compile(train_cfg["compile"]),
    )


def _execute(
    run: RunDir,
    preset: Preset,
    listeners: Sequence[Listener],
    control: RunControl,
    feeds: Feeds,
    epochs_done: int,
    state: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    model: keras.Model | None = None,
) -> RunResult:
    """Train `run` (already locked) on `feeds` from `epochs_done`; a resumed run brings its `model`,
    its commit record `state` and its `previous` summary."""

    def emit(event: Event) -> None:
        run.append_event(event.to_json())
        events.emit(listeners, event)

    started = time.time()
    state = dict(state or {})
    previous = previous or {}
    summary = previous | {
        # the time of every earlier session: state.json's is the newer after a kill, summary.json's after an end
        "wall_time_before": max(previous.get("wall_time", 0.0), state.get("wall_time", 0.0)),
        "preset": preset.name,
        "status": RunStatus.RUNNING,
        "pid": os.getpid(),
        "started": started,
        "epochs": preset["train"]["epochs"],
        "device": device_description(),
        "precision": preset["train"]["precision"],
        "versions": versions(),
    }
    with writing(run.path):
        run.write_summary(summary)
    try:
        prepare_device()
        if model is None:
            model = build_compiled_model(preset, feeds)
        else:
            model.jit_compile = use_compile(preset["train"]["compile"])  # as a new run's compile_model decides
        summary["compiled"] = bool(model.jit_compile)
        layout = _memory_layout(preset, feeds, model, previous if epochs_done else {})
        summary["memory_layout"] = layout.layout
        if layout.how != RESUMED:  # a resumed run keeps the record of its first decision
            summary["memory_layout_choice"] = layout.record()
        feeds.use_layout(layout.layout)
        history = run_files.read_history(run.history_file)[:epochs_done]
        recorder = EpochRecorder(run, preset, emit, history, state, control, lambda: _wall(summary, started))
        emit(
            RunStarted(
                str(run.path),
                preset.name,
                preset["train"]["epochs"],
                epochs_done,
                len(feeds.train),
                _how_it_computes(summary),
                model.count_params(),
            )
        )
        status = RunStatus.COMPLETED
        try:
            epochs = preset["train"]["epochs"]
            model.fit(
                on_device(feeds.train),
                validation_data=on_device(feeds.validation),
                epochs=epochs,
                initial_epoch=epochs_done,
                # what fit would make of [recorder], without a thread-pool task per step for no listener
                callbacks=QuietCallbackList(
                    [recorder], add_history=True, model=model, verbose=0, epochs=epochs, steps=len(feeds.train)
                ),
                shuffle=False,  # the feed shuffles per (seed, epoch); Keras's own shuffle would use the global RNG
                verbose=0,
            )
        except KeyboardInterrupt:
            status = RunStatus.INTERRUPTED
        if recorder.diverged_at is not None:
            status = RunStatus.DIVERGED
        elif recorder.stopped:
            status = RunStatus.STOPPED
        summary |= recorder.summary()
        summary["parameters"] = model.count_params()
        summary["trainable_parameters"] = trainable_parameters(model)  # as studies count them
        if status.is_result and preset["train"]["evaluate_test"] and run.best_checkpoint.exists():
            summary["test"] = _evaluate(load_checkpoint(run.best_checkpoint), on_device(feeds.test), emit)
    except KeyboardInterrupt:
        status = RunStatus.INTERRUPTED
    except Exception as exc:
        summary |= {
            "status": RunStatus.FAILED,
            "error": f"{type(exc).__name__}: {exc}",
            "wall_time": _wall(summary, started),
        }
        _record_failure(run, summary, emit)
        if isinstance(exc, UserError):
            raise
        if isinstance(exc, OSError) and exc.errno in UNWRITABLE:
            committed = int(run.read_state().get("epochs_done", 0))
            raise RunFailedError(
                f"{run.path}: cannot write {exc.filename or 'the run'}: {exc.strerror}; free space or fix permissions, "
                f"then `kerashp train --resume {run.path}` continues after epoch {committed}"
            ) from exc
        raise RunFailedError(f"{run.path}: run failed: {summary['error']} (traceback in error.log)") from exc
    finally:
        feeds.close()  # the feed's worker processes end with the run, not when the feed is collected
    summary |= {"status": status, "finished": time.time(), "wall_time": _wall(summary, started)}
    run.write_summary(summary)
    emit(RunFinished(status, str(run.path), summary))
    return RunResult(run, status, summary)


def _record_failure(run: RunDir, summary: dict[str, Any], emit: Listener) -> None:
    """Record why the run failed, as far as the disk allows: when even that cannot be written
    (a full disk), summary.json still says `running`, so the run lists as killed and resumes."""
    try:
        run.write_summary(summary)
        # backslashreplace: a file name that is not UTF-8 (kept by Python as surrogates) still writes
        (run.path / "error.log").write_text(traceback.format_exc(), encoding="utf-8", errors="backslashreplace")
        emit(RunFailed(str(run.path), summary["error"]))
    except OSError:
        pass


def _wall(summary: dict[str, Any], started: float) -> float:
    """Wall time across every session of the run (a resumed run adds to the earlier total)."""
    return round(summary.get("wall_time_before", 0.0) + time.time() - started, 2)


def _evaluate(model: keras.Model, feed: keras.utils.PyDataset, emit: Listener) -> dict[str, float]:
    emit(Progress("evaluating on test", 0, len(feed)))
    metrics = model.evaluate(feed, verbose=0, return_dict=True)
    result = {"loss": float(metrics["loss"]), "accuracy": float(metrics["accuracy"])}
    emit(Evaluated("test", result))
    return result


def _how_it_computes(summary: dict[str, Any]) -> str:
    """The device, precision and compilation, as `kerashp train`'s header shows them."""
    compiled = ", torch.compile" if summary["compiled"] else ""
    return f"{summary['device']}, {summary['precision']}{compiled}"


def _memory_layout(preset: Preset, feeds: Feeds, model: keras.Model, previous: dict[str, Any]) -> LayoutChoice:
    """The preset's layout, else the one a resumed run chose at its start, else the one probed for
    this model, batch size, precision and device (once per process: see kerashp.training.fast.layout)."""
    train_cfg = preset["train"]
    if train_cfg["memory_layout"] != "auto":
        return LayoutChoice(train_cfg["memory_layout"], PINNED)
    recorded = previous.get("memory_layout")
    if recorded is not None:  # checked by _resumable
        return LayoutChoice(recorded, RESUMED)
    same_model = [preset["model"], feeds.input_shape, feeds.num_classes, train_cfg["precision"]]
    key = json.dumps([*same_model, train_cfg["batch_size"], device_description()], sort_keys=True, default=str)
    return decide_layout(model, train_cfg["batch_size"], key)
