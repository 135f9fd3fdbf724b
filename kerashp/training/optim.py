"""Optimizer, learning-rate schedule and L2 penalty, built from a preset's `optimizer` and `schedule`.

The schedule is one serializable `LearningRateSchedule` evaluated per optimizer step with backend
ops, so it runs inside the optimizer and is saved in every checkpoint: a resumed run continues the
schedule from the restored step counter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
from keras import ops

from kerashp.config import schema
from kerashp.errors import PresetError

CLIP_KEYS = ("clipnorm", "clipvalue", "global_clipnorm")


def _with_defaults(fields: dict, values: Mapping[str, Any]) -> dict[str, Any]:
    """A section with the schema defaults filled in, so partial dicts (tests, plots) work too."""
    return {**{key: field.default for key, field in fields.items()}, **values}


@keras.saving.register_keras_serializable(package="kerashp")
class PresetSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate at an optimizer step, as the preset's `schedule` section describes it.

    Shapes (`schedule["name"]`), with t the step and T = epochs * steps_per_epoch:
      constant     base_lr
      step         base_lr * gamma ** floor(epoch / step_epochs), epoch = floor(t / steps_per_epoch)
                   (PyTorch StepLR)
      exponential  the step formula when `staircase`, else base_lr * gamma ** (t / (steps_per_epoch * step_epochs))
      cosine       min_lr + (base_lr - min_lr) * (1 + cos(pi * min(t, T) / T)) / 2
      one_cycle    PyTorch OneCycleLR (cosine): max_lr / div_factor rising to the peak `max_lr` at step
                   pct_start * T - 1, then falling to max_lr / div_factor / final_div_factor at T - 1.
                   base_lr is ignored: `max_lr` sets the scale.
      cyclic       Smith's triangular cycle between min_lr and max_lr, half_cycle_steps steps each way,
                   starting at min_lr. base_lr is ignored.

    Warm-up (`warmup_epochs` > 0, W = warmup_epochs * steps_per_epoch steps) multiplies the shape by
    min(1, (t + 1) / W): the rate ramps linearly from about 0 to the shape's own value at step W - 1,
    then the shape carries on unchanged. The shape's clock is not shifted, so decay epochs and the
    cosine horizon mean the same with or without warm-up (as in Goyal et al.'s gradual warm-up).
    """

    def __init__(self, schedule: Mapping[str, Any], base_lr: float, steps_per_epoch: int, epochs: int):
        super().__init__()
        self.schedule = _with_defaults(schema.SCHEDULE, schedule)
        self.base_lr = float(base_lr)
        self.steps_per_epoch = int(steps_per_epoch)
        self.epochs = int(epochs)
        self.total_steps = self.epochs * self.steps_per_epoch

    def __call__(self, step):
        step = ops.cast(step, "float32")
        shapes = {
            "constant": self._constant,
            "step": self._step,
            "exponential": self._exponential,
            "cosine": self._cosine,
            "one_cycle": self._one_cycle,
            "cyclic": self._cyclic,
        }
        rate = shapes[self.schedule["name"]](step)
        warmup_steps = self.schedule["warmup_epochs"] * self.steps_per_epoch
        if warmup_steps > 0:
            rate = rate * ops.minimum(1.0, (step + 1.0) / warmup_steps)
        return rate

    def epoch_key(self, step: int) -> float | None:
        """What the rate at `step` depends on when it changes only between epochs (constant, step and
        staircase exponential shapes, no warm-up): the float32 floor(step / steps_per_epoch) that
        `__call__` computes (IEEE division, so NumPy's float32 gives torch's bits). Equal keys mean
        equal rates, so a caller may keep one rate per key; None for shapes that change every step."""
        epochwise = self.schedule["name"] in ("constant", "step") or (
            self.schedule["name"] == "exponential" and self.schedule["staircase"]
        )
        if not epochwise or self.schedule["warmup_epochs"] > 0:
            return None
        return float(np.floor(np.float32(step) / np.float32(self.steps_per_epoch)))

    def _constant(self, step):
        return ops.full_like(step, self.base_lr)

    def _step(self, step):
        epoch = ops.floor(step / self.steps_per_epoch)
        return self.base_lr * ops.power(self.schedule["gamma"], ops.floor(epoch / self.schedule["step_epochs"]))

    def _exponential(self, step):
        if self.schedule["staircase"]:
            return self._step(step)
        decays = step / (self.steps_per_epoch * self.schedule["step_epochs"])
        return self.base_lr * ops.power(self.schedule["gamma"], decays)

    def _cosine(self, step):
        min_lr = self.schedule["min_lr"]
        progress = ops.minimum(step, self.total_steps) / self.total_steps
        return min_lr + (self.base_lr - min_lr) * (1.0 + ops.cos(math.pi * progress)) / 2.0

    def _one_cycle(self, step):
        s = self.schedule
        peak = s["max_lr"]
        start = peak / s["div_factor"]
        end = start / s["final_div_factor"]
        peak_step = s["pct_start"] * self.total_steps - 1
        # max(..., 1) keeps degenerate tiny runs finite where PyTorch would divide by zero
        rising = ops.clip(step / max(peak_step, 1.0), 0.0, 1.0)
        falling = ops.clip((step - peak_step) / max(self.total_steps - 1 - peak_step, 1.0), 0.0, 1.0)
        return ops.where(step <= peak_step, _cosine_anneal(start, peak, rising), _cosine_anneal(peak, end, falling))

    def _cyclic(self, step):
        low, high, half = self.schedule["min_lr"], self.schedule["max_lr"], self.schedule["half_cycle_steps"]
        cycle = ops.floor(1.0 + step / (2.0 * half))
        distance = ops.abs(step / half - 2.0 * cycle + 1.0)
        return low + (high - low) * ops.maximum(0.0, 1.0 - distance)

    def get_config(self) -> dict:
        return {
            "schedule": dict(self.schedule),
            "base_lr": self.base_lr,
            "steps_per_epoch": self.steps_per_epoch,
            "epochs": self.epochs,
        }


@keras.saving.register_keras_serializable(package="kerashp")
class SGD(keras.optimizers.SGD):
    """Keras SGD that accepts momentum above 1, as PyTorch does.

    Such momentum diverges, and showing that is part of the LeNet-5 study (momentum 10), so the
    lab must be able to run it; Keras's own SGD refuses it at construction.
    """

    def __init__(self, momentum: float = 0.0, **kwargs):
        super().__init__(momentum=min(float(momentum), 1.0), **kwargs)
        self.momentum = float(momentum)


def _cosine_anneal(start: float, end: float, fraction):
    """From `start` (fraction 0) to `end` (fraction 1) along half a cosine, as PyTorch anneals."""
    return end + (start - end) * (1.0 + ops.cos(math.pi * fraction)) / 2.0


def build_schedule(schedule: Mapping[str, Any], base_lr: float, steps_per_epoch: int, epochs: int) -> PresetSchedule:
    """The preset's `schedule` section as a per-step learning-rate schedule (see `PresetSchedule`)."""
    return PresetSchedule(schedule, base_lr, steps_per_epoch, epochs)


def learning_rate_at(
    schedule: Mapping[str, Any], base_lr: float, steps_per_epoch: int, epochs: int, step: int
) -> float:
    """The rate at one step, without an optimizer or model, for logging and plotting a schedule."""
    return float(ops.convert_to_numpy(build_schedule(schedule, base_lr, steps_per_epoch, epochs)(step)))


def build_optimizer(
    optimizer: Mapping[str, Any], schedule: Mapping[str, Any], steps_per_epoch: int, epochs: int
) -> keras.optimizers.Optimizer:
    """The preset's optimizer, driven by its schedule, with decoupled weight decay and clipping."""
    o = _with_defaults(schema.OPTIMIZER, optimizer)
    adam_like = {"beta_1": o["beta_1"], "beta_2": o["beta_2"], "epsilon": o["epsilon"]}
    kinds = {
        # Keras maps its own SGD class to a fused (torch._foreach) implementation; subclasses miss
        # that mapping, so the unbounded subclass is used only where it is needed.
        "sgd": (
            SGD if o["momentum"] > 1 else keras.optimizers.SGD,
            {"momentum": o["momentum"], "nesterov": o["nesterov"]},
        ),
        "adam": (keras.optimizers.Adam, adam_like),
        "adamw": (keras.optimizers.AdamW, adam_like),
        "adagrad": (keras.optimizers.Adagrad, {"epsilon": o["epsilon"]}),
        "rmsprop": (keras.optimizers.RMSprop, {"rho": o["rho"], "momentum": o["momentum"], "epsilon": o["epsilon"]}),
    }
    cls, hyperparameters = kinds[o["name"]]
    # None skips Keras's per-variable decay pass; AdamW refuses None, and 0.0 there means plain Adam
    weight_decay = o["weight_decay"] if o["weight_decay"] > 0 or cls is keras.optimizers.AdamW else None
    return cls(
        learning_rate=build_schedule(schedule, o["learning_rate"], steps_per_epoch, epochs),
        weight_decay=weight_decay,
        **hyperparameters,
        **_clipping(o),
    )


def _clipping(optimizer: dict[str, Any]) -> dict[str, float]:
    """The clipping arguments that are on (> 0); Keras accepts at most one of them."""
    chosen = {key: optimizer[key] for key in CLIP_KEYS if optimizer[key] > 0}
    if len(chosen) > 1:
        *others, last = chosen
        problem = f"set only one of {', '.join(others)} and {last}"
        raise PresetError("preset", f"optimizer.{others[0]}", problem, has_value=False)
    return chosen


def apply_l2(model: keras.Model, l2: float) -> None:
    """Add the coupled L2 penalty l2 * sum(w ** 2) of every kernel to the loss (biases and norms excluded).

    Works on an already built model: the variable's regularizer is what `model.losses` reads, and
    the layer's regularizer attribute is what its config saves, so a resumed run keeps the penalty.
    """
    if l2 == 0:
        return
    for layer in model._flatten_layers(include_self=False):  # Keras's own walk, nested models included
        for weight_name, regularizer_name in _kernels(layer):
            regularizer = keras.regularizers.L2(l2)
            setattr(layer, regularizer_name, regularizer)
            getattr(layer, weight_name).regularizer = regularizer


def _kernels(layer: keras.layers.Layer) -> tuple[tuple[str, str], ...]:
    """(kernel weight, regularizer attribute) pairs of a layer; Keras names them per layer kind."""
    if isinstance(layer, (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)):
        return (("kernel", "depthwise_regularizer"),)
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        return (("depthwise_kernel", "depthwise_regularizer"), ("pointwise_kernel", "pointwise_regularizer"))
    if hasattr(layer, "kernel") and hasattr(layer, "kernel_regularizer"):  # Dense, Conv*, Conv*Transpose
        return (("kernel", "kernel_regularizer"),)
    return ()


def current_learning_rate(optimizer: keras.optimizers.Optimizer) -> float:
    """The rate the latest update used (the first update's before any), for the epoch's log row.

    `optimizer.learning_rate` is the rate of the *next* step, which after a decay boundary already
    belongs to the following epoch.
    """
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # a LossScaleOptimizer's rate is its inner one's
    schedule = optimizer._learning_rate  # Keras has no public accessor for the schedule object
    if not isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        return float(ops.convert_to_numpy(optimizer.learning_rate))
    latest_step = ops.maximum(optimizer.iterations - 1, 0)
    return float(ops.convert_to_numpy(schedule(latest_step)))
