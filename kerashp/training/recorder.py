"""`EpochRecorder`: the Keras callback that reports a run's progress and writes each finished epoch
into its run folder, in an order a kill at any point can resume from."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import keras
from keras.src.trainers.compile_utils import CompileMetrics

from kerashp.backend import set_random_seed
from kerashp.config import Preset
from kerashp.control import RunControl
from kerashp.data.batches import batch_seed
from kerashp.events import BatchEnded, EpochEnded, EpochStarted, Listener
from kerashp.runs.folder import RunDir
from kerashp.training.checkpoints import atomic_copy, atomic_save
from kerashp.training.device import ReadLater
from kerashp.training.optim import current_learning_rate

BATCH_EVENTS_PER_EPOCH = 50
EPOCH_RNG_STREAM = 3  # batch_seed key of the global RNGs per epoch (the feed uses the order, 1 and 2)


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
        emit: Listener,
        history: list[dict[str, float]],
        state: dict[str, Any],
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
        self.samples: deque[tuple[int, int, ReadLater]] = deque()  # (epoch, step, loss and accuracy)
        self.means = _loss_and_accuracy_means(self.model)
        self.emit(EpochStarted(self.epoch_number, self.epochs, self.steps))

    def on_train_batch_begin(self, batch, logs=None):
        """Pause or stop between batches, and every `every` batches take the running loss and
        accuracy. This hook, unlike `on_train_batch_end`, gets no logs: Keras converts those to
        floats after every batch when a callback has an end hook, and on a GPU each conversion
        waits for the step to finish, so the next could not be queued behind it."""
        if self.control.checkpoint():
            self.stopped = self.model.stop_training = True
            return
        if batch and batch % self.every == 0:
            self._report_samples(wait=False)  # those whose copies have arrived: the GPU may run behind
            self.samples.append((self.epoch_number, batch, ReadLater(self._running_loss_and_accuracy())))

    def _running_loss_and_accuracy(self) -> list:
        """The epoch's running loss and accuracy so far (a batch in at least), as tensors: a
        `Mean`'s result is total / count, which `model.get_metrics_result()` reaches through
        `keras.ops` for every metric, about 0.2 ms a call."""
        if self.means is None:
            results = self.model.get_metrics_result()
            return [results.get(name, math.nan) for name in ("loss", "accuracy")]
        return [mean.total.value / mean.count.value for mean in self.means]

    def _report_samples(self, wait: bool = True) -> None:
        """Report the samples taken so far, in order, as `BatchEnded` events (or stop a diverged
        run); without `wait`, only those already on the host, so the training thread never waits
        for the GPU between steps and can queue a few steps ahead of it."""
        while self.samples and (wait or self.samples[0][2].ready()):
            epoch, step, sample = self.samples.popleft()
            loss, accuracy = sample.read()
            if not math.isfinite(loss):
                self._diverge(epoch)
                self.samples.clear()
                return
            self.last_finite = {"epoch": epoch, "batch": step, "loss": loss, "accuracy": accuracy}
            self.emit(BatchEnded(epoch, step, self.steps, loss, accuracy))

    def _diverge(self, epoch: int) -> None:
        self.diverged_at = epoch
        self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        if not self.stopped and self.diverged_at is None:  # the last step, from the logs Keras has converted
            self.samples.append(
                (self.epoch_number, self.steps, ReadLater([float(logs.get(k, math.nan)) for k in ("loss", "accuracy")]))
            )
        self._report_samples()
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
        atomic_save(self.model, checkpoint)
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
            atomic_copy(checkpoint, self.run.best_checkpoint)
        self.run.keep_only_checkpoint(epoch + 1)
        self.emit(EpochEnded(epoch + 1, self.epochs, row, best))

    def summary(self) -> dict[str, Any]:
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


def _loss_and_accuracy_means(model: keras.Model) -> list[keras.metrics.Mean] | None:
    """The model's running loss and accuracy metrics, where both are Keras `Mean`s (fit has built
    them by the first epoch); None for any other set of metrics."""
    found = {}
    for metric in model.metrics:
        for leaf in metric.metrics if isinstance(metric, CompileMetrics) else [metric]:
            if leaf.name in ("loss", "accuracy") and isinstance(leaf, keras.metrics.Mean):
                found[leaf.name] = leaf
    return [found["loss"], found["accuracy"]] if len(found) == 2 else None
