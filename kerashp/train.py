"""`train(preset, ...)`: build everything a preset describes, run Keras `fit`, record the run.

The flow is the same for a new run and a resumed one: a resumed run reloads the last committed
epoch checkpoint (model and optimizer state, so the step-based LR schedule continues where it
stopped), truncates the history to that epoch, and positions the data feed at the next epoch.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kerashp.backend import device_description, use_torch_backend, versions
from kerashp.config import Preset, validate
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
from kerashp.runs import RunDir, read_json, replace_atomically, write_json, writing

use_torch_backend()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerashp.augment import build_pipeline  # noqa: E402
from kerashp.data import load_preset_data  # noqa: E402
from kerashp.data.normalize import normalization  # noqa: E402
from kerashp.data.split import preset_split  # noqa: E402
from kerashp.generator import ImageBatches, batch_seed  # noqa: E402
from kerashp.mixing import MixSpec  # noqa: E402
from kerashp.fastpath import accelerate  # noqa: E402
from kerashp.layout import fastest_layout  # noqa: E402
from kerashp.models import DATA_FORMAT, build_model  # noqa: E402
from kerashp.optim import apply_l2, build_optimizer, current_learning_rate  # noqa: E402

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

    def use_layout(self, layout: str) -> None:
        """Feed every batch in `layout` (see kerashp.layout)."""
        for feed in (self.train, self.validation, self.test):
            if feed is not None:
                feed.layout = layout


def train(
    preset: Preset, runs_dir: Path, listeners=(), epochs: int | None = None, control: RunControl | None = None
) -> RunResult:
    """Start a new run of `preset` under `runs_dir`; `listeners` receive every event."""
    if epochs is not None:
        preset["train"]["epochs"] = epochs
    run = RunDir.create(Path(runs_dir), preset.name or "run")
    with writing(run.path):
        run.write_preset(preset)
    return _execute(run, preset, listeners, control or RunControl(), epochs_done=0)


def resume(
    run_path: Path | str, listeners=(), epochs: int | None = None, control: RunControl | None = None
) -> RunResult:
    """Continue a run from its last finished epoch (after Ctrl-C, a crash or SIGKILL)."""
    run = RunDir.open(run_path)
    preset = validate(run.read_preset_document(), source=str(run.preset_file))
    recorded = run.read_summary()
    preset["name"] = recorded.get("preset", run.name)
    if epochs is not None:
        preset["train"]["epochs"] = epochs
        with writing(run.path):
            run.write_preset(preset)
    owner = recorded.get("pid")
    if run.status() == "running" and owner != os.getpid():
        raise RunError(f"{run.path}: still being trained by process {owner}; stop it before resuming")
    state = run.read_state()
    epochs_done = int(state.get("epochs_done", 0))
    if epochs_done >= preset["train"]["epochs"] and run.status() == "completed":
        raise RunError(f"{run.path}: already completed {epochs_done} epochs; pass --epochs N to train further")
    with writing(run.path):
        run.remove_temp_files()
        run.drop_partial_event()
        if epochs_done:
            run.keep_only_checkpoint(epochs_done)
        if epochs_done and state.get("best_epoch") == epochs_done:  # killed between the commit and the best copy
            _atomic_copy(run.epoch_checkpoint(epochs_done), run.best_checkpoint)
    return _execute(run, preset, listeners, control or RunControl(), epochs_done=epochs_done, state=state)


# ---------------------------------------------------------------------------------------- building


def build_feeds(preset: Preset, emit: Emit, run: RunDir | None = None, initial_epoch: int = 0) -> Feeds:
    """Data -> split -> normalisation -> generators, exactly as the preset says."""
    data, train_cfg = preset["data"], preset["train"]
    dataset = load_preset_data(preset, lambda what, done, total: emit(Progress(what, done, total)))
    train_idx, val_idx = preset_split(preset, dataset.train.labels)
    if run is not None:
        _save_split(run, train_idx, val_idx)
    train_set, val_set = dataset.train.subset(train_idx), dataset.train.subset(val_idx)
    mean, std = _normalization(preset, train_set, run)
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
    return Feeds(feed, validation, test, dataset.image_shape, dataset.num_classes)


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


def _normalization(preset: Preset, train_set, run: RunDir | None) -> tuple[np.ndarray, np.ndarray]:
    """The preset's normalisation; statistics computed on the data are saved in the run and
    reused on resume, so a resumed run normalises exactly as it began."""
    saved = run.path / "normalization.json" if run is not None else None
    if saved is not None and saved.exists():
        stats = read_json(saved)
        return np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
    mean, std = normalization(preset["data"], train_set.images)
    if saved is not None:
        write_json(saved, {"mode": preset["data"]["normalize"], "mean": mean.tolist(), "std": std.tolist()})
    return mean, std


def _save_split(run: RunDir, train_idx: np.ndarray, val_idx: np.ndarray) -> None:
    replace_atomically(run.path / "split.npz", lambda temp: np.savez_compressed(temp, train=train_idx, validation=val_idx))


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
    """Load a `.keras` checkpoint in safe mode (no arbitrary code from the file is run)."""
    import kerashp.models.layers  # noqa: F401  registers kerashp's layers for deserialisation
    import kerashp.optim  # noqa: F401  registers the schedule and optimizer classes

    try:
        model = keras.saving.load_model(path, safe_mode=True)
    except ValueError as exc:
        if "safe_mode" not in str(exc):
            raise
        raise RunError(f"{path}: refused: it holds code (a Lambda layer or a function), which kerashp never runs from a file") from None
    accelerate(model)
    return model


# ---------------------------------------------------------------------------------------- running


def _execute(
    run: RunDir, preset: Preset, listeners, control: RunControl, epochs_done: int, state: dict | None = None
) -> RunResult:
    def emit(event: Event) -> None:
        run.append_event(event.to_json())
        for listener in listeners:
            listener(event)

    started = time.time()
    state = dict(state or {})
    previous = run.read_summary()
    summary = previous | {
        "wall_time_before": previous.get("wall_time", 0.0),
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
        keras.utils.set_random_seed(preset["seed"])
        feeds = build_feeds(preset, emit, run, initial_epoch=epochs_done)
        if epochs_done:
            model = load_checkpoint(run.epoch_checkpoint(epochs_done))
        else:
            model = build_compiled_model(preset, feeds)
        summary["memory_layout"] = _memory_layout(preset, model, previous if epochs_done else {})
        feeds.use_layout(summary["memory_layout"])
        recorder = EpochRecorder(run, preset, emit, run.read_history()[:epochs_done], state, control)
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
        (run.path / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
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

    def __init__(self, run: RunDir, preset: Preset, emit: Emit, history: list[dict], state: dict, control: RunControl):
        super().__init__()
        self.run, self.emit, self.history, self.control = run, emit, history, control
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
        keras.utils.set_random_seed(batch_seed(self.seed, epoch, EPOCH_RNG_STREAM))
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
        self.run.write_state({"epochs_done": epoch + 1, "best_epoch": self.best_epoch, "best_value": self.best_value})
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
