"""`train(preset, ...)`: build everything a preset describes, run Keras `fit`, record the run.

The flow is the same for a new run and a resumed one: a resumed run reloads the last committed
epoch checkpoint (model and optimizer state, so the step-based LR schedule continues where it
stopped), truncates the history to that epoch, and positions the data feed at the next epoch.
A new run loads its data before its folder is made; a resumed one checks every file of the run
against the others before it writes or deletes anything. Either holds the run's lock throughout.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kerashp import events
from kerashp.backend import device_description, set_random_seed, use_torch_backend, versions
from kerashp.config import Preset
from kerashp.config.names import check_folder_name
from kerashp.control import RunControl
from kerashp.errors import RunError, RunFailedError, UserError
from kerashp.events import (
    BatchEnded,
    EpochEnded,
    EpochStarted,
    Evaluated,
    Event,
    Progress,
    RunFailed,
    RunFinished,
    RunStarted,
)
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, replace_atomically, write_json, writing
from kerashp.text import shown_value

use_torch_backend()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerashp.data import load_preset_data  # noqa: E402
from kerashp.data.augment import build_pipeline  # noqa: E402
from kerashp.data.batches import ImageBatches, batch_seed  # noqa: E402
from kerashp.data.mixing import MixSpec  # noqa: E402
from kerashp.data.normalize import normalization  # noqa: E402
from kerashp.data.split import preset_split  # noqa: E402
from kerashp.models import DATA_FORMAT, build_model  # noqa: E402
from kerashp.training.fast.layout import fastest_layout  # noqa: E402
from kerashp.training.fast.step import accelerate  # noqa: E402
from kerashp.training.optim import apply_l2, build_optimizer, current_learning_rate  # noqa: E402

Emit = Callable[[Event], None]
BATCH_EVENTS_PER_EPOCH = 50
EPOCH_RNG_STREAM = 3  # batch_seed key of the global RNGs per epoch (the feed uses the order, 1 and 2)
UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}  # the disk, not the run, is at fault


@dataclass
class RunResult:
    run: RunDir
    status: str  # completed | diverged | stopped | interrupted
    summary: dict

    @property
    def exit_code(self) -> int:
        return {"completed": 0, "stopped": 0, "interrupted": 130}.get(self.status, 1)


@dataclass
class Feeds:
    train: ImageBatches
    validation: ImageBatches | None
    test: ImageBatches
    input_shape: tuple[int, int, int]
    num_classes: int
    split: dict[str, np.ndarray]  # training-set indices of the train and validation parts
    normalization: dict  # mode, mean, std

    def save(self, run: RunDir) -> None:
        """Record the split and the normalisation in the run, so a resumed run uses the same."""
        replace_atomically(run.path / "split.npz", lambda temp: np.savez_compressed(temp, **self.split))
        write_json(run.path / "normalization.json", self.normalization)

    def use_layout(self, layout: str) -> None:
        """Feed every batch in `layout` (see kerashp.training.fast.layout)."""
        for feed in (self.train, self.validation, self.test):
            if feed is not None:
                feed.layout = layout


def train(
    preset: Preset, runs_dir: Path, listeners=(), epochs: int | None = None, control: RunControl | None = None
) -> RunResult:
    """Start a new run of `preset` under `runs_dir`; `listeners` receive every event. The data is
    loaded first, so a source that fails (a missing folder, an unprepared dataset) leaves no run behind."""
    if epochs is not None:
        preset["train"]["epochs"] = epochs
    name = check_folder_name(preset.name or "run", "preset")  # refused now, not after the data has loaded
    feeds = _load_feeds(preset, listeners)
    run = RunDir.create(Path(runs_dir), name)
    with run.lock():
        with writing(run.path):
            run.write_preset(preset)
            feeds.save(run)
        return _execute(run, preset, listeners, control or RunControl(), feeds, epochs_done=0)


def resume(
    run_path: Path | str, listeners=(), epochs: int | None = None, control: RunControl | None = None
) -> RunResult:
    """Continue a run from its last committed epoch (after Ctrl-C, a crash or SIGKILL). Nothing in
    the run is written or deleted before its files are proven to agree with each other."""
    run = RunDir.open(run_path)
    with run.lock():
        preset, state, recorded = _resumable(run, epochs)
        epochs_done = state["epochs_done"]
        model = load_checkpoint(run.epoch_checkpoint(epochs_done)) if epochs_done else None
        feeds = _load_feeds(preset, listeners, _saved_normalization(run), epochs_done)
        with writing(run.path):
            if epochs is not None:
                run.write_preset(preset)
            feeds.save(run)
            run.remove_temp_files()
            run.drop_partial_event()
            if epochs_done:
                run.keep_only_checkpoint(epochs_done)
            if epochs_done and state.get("best_epoch") == epochs_done:  # killed between the commit and the best copy
                _atomic_copy(run.epoch_checkpoint(epochs_done), run.best_checkpoint)
        control = control or RunControl()
        return _execute(
            run, preset, listeners, control, feeds, epochs_done, state=state, previous=recorded, model=model
        )


def _resumable(run: RunDir, epochs: int | None) -> tuple[Preset, dict, dict]:
    """The run's preset (with `epochs`), commit record and summary, once they are proven to agree
    with each other and with the files on disk; else one RunError saying what is wrong."""
    preset = run_files.read_preset(run.preset_file)
    recorded = run_files.read_summary(run.summary_file)
    preset["name"] = recorded.get("preset", run.name)
    if epochs is not None:
        preset["train"]["epochs"] = epochs
    state = _committed_state(run)
    done, target = state["epochs_done"], preset["train"]["epochs"]
    if done >= target and recorded.get("status") == "completed":
        raise RunError(f"{run.path}: already completed {done} epochs; pass --epochs N to train further")
    if done > target:
        raise RunError(f"{run.path}: has trained {done} epochs already; pass --epochs {done + 1} or more")
    _check_same_model(run, state.get("model"), preset["model"])
    return preset, state, recorded


def _committed_state(run: RunDir) -> dict:
    """state.json, checked against history.csv and the epoch checkpoints (see EpochRecorder for the
    order they are written in, and so which disagreements a kill can leave behind)."""
    on_disk = _checkpoint_epochs(run)
    history = run_files.read_history(run.history_file)
    if not run.state_file.exists() and not (on_disk or history or run.best_checkpoint.exists()):
        return {"epochs_done": 0}  # killed before its first epoch was committed
    try:
        state = run_files.read_state(run.state_file)
        done = state["epochs_done"]
        if done:
            run_files.check_checkpoint(run.epoch_checkpoint(done))
        if any(epoch > done + 1 for epoch in on_disk) or (not done and on_disk):
            raise RunError(f"{run.state_file}: epochs_done = {done}, but checkpoints of later epochs exist")
    except RunError as exc:
        raise RunError(f"{exc}; {_recovery(run, on_disk)}") from None
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


def _check_same_model(run: RunDir, trained: dict | None, wanted: dict) -> None:
    """A resumed run continues the architecture its checkpoints hold: refuse a changed [model] table."""
    wanted = json.loads(json.dumps(wanted, default=str))
    if trained is None or trained == wanted:  # None: a run from before the model was recorded
        return
    key = min(key for key in {*trained, *wanted} if trained.get(key) != wanted.get(key))
    raise RunError(
        f"{run.preset_file}: model.{key} = {shown_value(wanted.get(key))}, but the run's checkpoints are of "
        f"model.{key} = {shown_value(trained.get(key))}; start a new run to train another model"
    )


def _load_feeds(preset: Preset, listeners, saved: dict | None = None, epochs_done: int = 0) -> Feeds:
    """The run's data, loaded before anything is written: a source that fails leaves the run as it was."""
    set_random_seed(preset["seed"])
    return build_feeds(preset, lambda event: events.emit(listeners, event), saved, initial_epoch=epochs_done)


# ---------------------------------------------------------------------------------------- building


def build_feeds(preset: Preset, emit: Emit, saved: dict | None = None, initial_epoch: int = 0) -> Feeds:
    """Data -> split -> normalisation -> generators, exactly as the preset says; `saved` is the
    normalisation a resumed run began with (statistics computed on the data are reused, not redone)."""
    train_cfg = preset["train"]
    dataset = load_preset_data(preset, lambda what, done, total: emit(Progress(what, done, total)))
    train_idx, val_idx = preset_split(preset, dataset.train.labels)
    train_set, val_set = dataset.train.subset(train_idx), dataset.train.subset(val_idx)
    if saved is None:
        mean, std = normalization(preset["data"], train_set.images)
    else:
        mean, std = np.asarray(saved["mean"], np.float32), np.asarray(saved["std"], np.float32)
    height, width = dataset.image_shape[:2]
    common = dict(
        num_classes=dataset.num_classes,
        batch_size=train_cfg["batch_size"],
        mean=mean,
        std=std,
        channels_first=DATA_FORMAT == "channels_first",
    )
    pipeline = build_pipeline(preset["augment"], height, width, seed=preset["seed"])
    mix = MixSpec.from_augment(preset["augment"])
    cheap = pipeline is None and mix is None and isinstance(train_set.images, np.ndarray)
    feed = ImageBatches(
        train_set.images,
        train_set.labels,
        pipeline=pipeline,
        mix=mix,
        shuffle=True,
        seed=preset["seed"],
        epoch=initial_epoch,
        workers=_feed_workers(train_cfg, cheap),
        use_multiprocessing=train_cfg["use_multiprocessing"],
        **common,
    )
    validation = ImageBatches(val_set.images, val_set.labels, **common) if len(val_set) else None
    test = ImageBatches(dataset.test.images, dataset.test.labels, **common)
    stats = {"mode": preset["data"]["normalize"], "mean": mean.tolist(), "std": std.tolist()}
    split = {"train": train_idx, "validation": val_idx}
    return Feeds(feed, validation, test, dataset.image_shape, dataset.num_classes, split, stats)


def _feed_workers(train_cfg: dict, cheap: bool) -> int:
    """Background workers only where a batch costs something to make and a core is free to make it.

    A batch of in-memory images without augmentation or mixup takes ~0.4 ms: threads would only
    compete with torch's own (LeNet-5 trained ~5% slower with two). And threads beyond the cores
    left over by training slow it down: on 2 cores lenet5_aug trained at ~5,200 img/s inline
    and ~4,400 with two worker threads.
    """
    if train_cfg["use_multiprocessing"]:
        return train_cfg["workers"]
    spare = (os.cpu_count() or 1) - 1
    return 1 if cheap else max(1, min(train_cfg["workers"], spare))


def _saved_normalization(run: RunDir) -> dict | None:
    """The normalisation the run began with, so a resumed run normalises exactly as it began."""
    saved = run.path / "normalization.json"
    return run_files.read_normalization(saved) if saved.exists() else None


def build_compiled_model(preset: Preset, feeds: Feeds) -> keras.Model:
    model = build_model(preset["model"]["name"], preset["model"], feeds.input_shape, feeds.num_classes)
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, len(feeds.train))
    accelerate(model)
    return model


def compile_model(model: keras.Model, preset: Preset, steps_per_epoch: int) -> None:
    train_cfg = preset["train"]
    model.compile(
        optimizer=build_optimizer(preset["optimizer"], preset["schedule"], steps_per_epoch, train_cfg["epochs"]),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=train_cfg["label_smoothing"]),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
    )


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


# ---------------------------------------------------------------------------------------- running


def _execute(
    run: RunDir,
    preset: Preset,
    listeners,
    control: RunControl,
    feeds: Feeds,
    epochs_done: int,
    state: dict | None = None,
    previous: dict | None = None,
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
        "status": "running",
        "pid": os.getpid(),
        "started": started,
        "epochs": preset["train"]["epochs"],
        "device": device_description(),
        "versions": versions(),
    }
    with writing(run.path):
        run.write_summary(summary)
    try:
        model = model or build_compiled_model(preset, feeds)
        summary["memory_layout"] = _memory_layout(preset, model, previous if epochs_done else {})
        feeds.use_layout(summary["memory_layout"])
        history = run_files.read_history(run.history_file)[:epochs_done]
        recorder = EpochRecorder(run, preset, emit, history, state, control, lambda: _wall(summary, started))
        emit(
            RunStarted(
                str(run.path),
                preset.name,
                preset["train"]["epochs"],
                epochs_done,
                len(feeds.train),
                summary["device"],
                model.count_params(),
            )
        )
        status = "completed"
        try:
            model.fit(
                feeds.train,
                validation_data=feeds.validation,
                epochs=preset["train"]["epochs"],
                initial_epoch=epochs_done,
                callbacks=[recorder],
                shuffle=False,  # the feed shuffles per (seed, epoch); Keras's own shuffle would use the global RNG
                verbose=0,
            )
        except KeyboardInterrupt:
            status = "interrupted"
        if recorder.diverged_at is not None:
            status = "diverged"
        elif recorder.stopped:
            status = "stopped"
        summary |= recorder.summary()
        summary["parameters"] = model.count_params()
        if status in ("completed", "diverged") and preset["train"]["evaluate_test"] and run.best_checkpoint.exists():
            summary["test"] = _evaluate(load_checkpoint(run.best_checkpoint), feeds.test, emit)
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as exc:
        summary |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "wall_time": _wall(summary, started)}
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
    summary |= {"status": status, "finished": time.time(), "wall_time": _wall(summary, started)}
    run.write_summary(summary)
    emit(RunFinished(status, str(run.path), summary))
    return RunResult(run, status, summary)


def _record_failure(run: RunDir, summary: dict, emit: Emit) -> None:
    """Record why the run failed, as far as the disk allows: when even that cannot be written
    (a full disk), summary.json still says `running`, so the run lists as killed and resumes."""
    try:
        run.write_summary(summary)
        # backslashreplace: a file name that is not UTF-8 (kept by Python as surrogates) still writes
        (run.path / "error.log").write_text(traceback.format_exc(), encoding="utf-8", errors="backslashreplace")
        emit(RunFailed(str(run.path), summary["error"]))
    except OSError:
        pass


def _wall(summary: dict, started: float) -> float:
    """Wall time across every session of the run (a resumed run adds to the earlier total)."""
    return round(summary.get("wall_time_before", 0.0) + time.time() - started, 2)


def _evaluate(model: keras.Model, feed: ImageBatches, emit: Emit) -> dict:
    emit(Progress("evaluating on test", 0, len(feed)))
    metrics = model.evaluate(feed, verbose=0, return_dict=True)
    result = {"loss": float(metrics["loss"]), "accuracy": float(metrics["accuracy"])}
    emit(Evaluated("test", result))
    return result


def _memory_layout(preset: Preset, model: keras.Model, previous: dict) -> str:
    """The preset's layout, else the one a resumed run chose at its start, else the faster one now."""
    chosen = preset["train"]["memory_layout"]
    if chosen != "auto":
        return chosen
    return previous.get("memory_layout") or fastest_layout(model, preset["train"]["batch_size"])


class EpochRecorder(keras.callbacks.Callback):
    """Per-batch and per-epoch bookkeeping: events, divergence, history, checkpoints, commit.

    At each epoch end the order is: epoch checkpoint, history, state.json (the commit record),
    then best.keras as a copy of the epoch checkpoint. A kill before the commit leaves the previous
    epoch as the resume point; a kill after it leaves best.keras for `resume` to copy again.
    """

    def __init__(
        self,
        run: RunDir,
        preset: Preset,
        emit: Emit,
        history: list[dict],
        state: dict,
        control: RunControl,
        wall: Callable[[], float],
    ):
        super().__init__()
        self.run, self.emit, self.history, self.control, self.wall = run, emit, history, control, wall
        self.model_table = preset["model"]  # recorded so a resume can refuse a changed architecture
        self.stopped = False
        self.epochs = preset["train"]["epochs"]
        self.seed = preset["seed"]
        self.monitor = preset["train"]["monitor"]
        self.best_value = state.get("best_value")
        self.best_epoch = state.get("best_epoch")
        self.diverged_at: int | None = None
        self.last_finite: dict | None = None  # the last finite running loss and accuracy seen, for a diverged run

    def _better(self, value: float) -> bool:
        if self.best_value is None:
            return True
        return value > self.best_value if self.monitor.endswith("accuracy") else value < self.best_value

    def on_epoch_begin(self, epoch, logs=None):
        # every global RNG restarts from (seed, epoch), so a resumed run continues as the unbroken one would
        set_random_seed(batch_seed(self.seed, epoch, EPOCH_RNG_STREAM))
        self.epoch_started = time.perf_counter()
        self.paused_before = self.control.paused_seconds
        self.steps = self.params.get("steps") or 0
        self.every = max(1, self.steps // BATCH_EVENTS_PER_EPOCH)
        self.epoch_number = epoch + 1
        self.emit(EpochStarted(self.epoch_number, self.epochs, self.steps))

    def on_train_batch_end(self, batch, logs=None):
        if self.control.checkpoint():
            self.stopped = self.model.stop_training = True
            return
        step = batch + 1
        if step % self.every and step != self.steps:
            return
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            self._diverge(self.epoch_number)
            return
        accuracy = float(logs.get("accuracy", math.nan))
        self.last_finite = {"epoch": self.epoch_number, "batch": step, "loss": loss, "accuracy": accuracy}
        self.emit(BatchEnded(self.epoch_number, step, self.steps, loss, accuracy))

    def _diverge(self, epoch: int) -> None:
        self.diverged_at = epoch
        self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if self.stopped:
            return  # an unfinished epoch is not recorded; the run resumes before it
        if self.diverged_at is not None or not all(math.isfinite(float(v)) for v in logs.values()):
            self._diverge(epoch + 1)
            return
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
        row["lr"] = current_learning_rate(self.model.optimizer)
        paused = self.control.paused_seconds - self.paused_before
        row["epoch_time"] = round(time.perf_counter() - self.epoch_started - paused, 3)
        monitored = row.get(self.monitor, row.get(self.monitor.removeprefix("val_")))
        best = monitored is not None and self._better(monitored)
        checkpoint = self.run.epoch_checkpoint(epoch + 1)
        _atomic_save(self.model, checkpoint)
        if best:
            self.best_value, self.best_epoch = monitored, epoch + 1
        self.history.append(row)
        self.run.write_history(self.history)
        self.run.write_state(
            {
                "epochs_done": epoch + 1,
                "best_epoch": self.best_epoch,
                "best_value": self.best_value,
                "wall_time": self.wall(),  # a kill loses at most the epoch under way
                "model": self.model_table,
            }
        )
        if best:
            _atomic_copy(checkpoint, self.run.best_checkpoint)
        self.run.keep_only_checkpoint(epoch + 1)
        self.emit(EpochEnded(epoch + 1, self.epochs, row, best))

    def summary(self) -> dict:
        final = self.history[-1] if self.history else {}
        result = {
            "epochs_done": len(self.history),
            "best_epoch": self.best_epoch,
            "best": {self.monitor: self.best_value},
            "final": final,
        }
        if self.diverged_at is not None:
            result["diverged_at_epoch"] = self.diverged_at
            result["last_finite"] = self.last_finite
        return result


def _atomic_save(model: keras.Model, path: Path) -> None:
    replace_atomically(path, model.save)


def _atomic_copy(source: Path, target: Path) -> None:
    replace_atomically(target, lambda temp: shutil.copyfile(source, temp))
