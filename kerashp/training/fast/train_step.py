"""A leaner Keras `train_step` for the torch backend: the step `TorchTrainer.train_step` takes,
value for value, without its per-step Python.

Keras's step walks the layers for `trainable_weights`, updates the loss tracker and the accuracy
metric through `keras.ops` (casts, rank matching, broadcasting), computes every metric's result,
and reaches the optimizer's torch `_foreach` update through `apply` (name scopes, known-variable
checks, empty-gradient filtering, overwrite, accumulation and EMA branches): about a millisecond
of a LeNet-5 step on a 2-core CPU. For what kerashp compiles (the torch loss of
`kerashp.training.fast.loss`, one `CategoricalAccuracy`, a Keras optimizer with a `_foreach`
update and no accumulation, EMA, fixed loss-scale factor or constraints) the same arithmetic runs
here on the same variables: Keras's own clipping, weight decay, learning-rate schedule and
`_parallel_update_step`, and the metrics' `total`/`count` sums. float16's dynamic loss scaling is
Keras's `LossScaleOptimizer` arithmetic with one read back a step where Keras's makes two
(`_unscale_if_finite`). Callbacks, logs, checkpoints and `fit` are Keras's. Anything else keeps Keras's step.
"""

from __future__ import annotations

import math

import keras
import torch
from keras.optimizers.schedules import LearningRateSchedule
from keras.src.backend.torch.optimizers.torch_parallel_optimizer import TorchParallelOptimizer
from keras.src.backend.torch.optimizers.torch_sgd import SGD as TorchSGD
from keras.src.optimizers.loss_scale_optimizer import LossScaleOptimizer
from keras.src.trainers.compile_utils import CompileMetrics
from keras.src.trainers.data_adapters.data_adapter_utils import unpack_x_y_sample_weight

from kerashp.models.variables import torch_values
from kerashp.training.fast.loss import TorchLoss


def lean_train_step(model: keras.Model) -> bool:
    """Give `model` the lean step where it computes what Keras's would; True when it does."""
    optimizer = _unscaled(model.optimizer)
    if (
        model.jit_compile  # torch.compile traces Keras's step and removes its Python itself (train.compile)
        or not isinstance(optimizer, TorchParallelOptimizer)  # kerashp's SGD with momentum > 1 updates per variable
        or optimizer.gradient_accumulation_steps
        or optimizer.use_ema
        or optimizer.loss_scale_factor is not None
        or not isinstance(model.loss, keras.losses.CategoricalCrossentropy)
        or not isinstance(vars(model).get("compute_loss"), TorchLoss)  # the torch loss is in place
        or not isinstance(model._compile_metrics, CompileMetrics)
        or [type(m) for m in model._compile_metrics._user_metrics] != [keras.metrics.CategoricalAccuracy]
        or model._compile_metrics._user_weighted_metrics
        or not _scales_exactly(model.optimizer)
    ):
        return False
    if any(v.constraint is not None or v.overwrite_with_gradient for v in model.trainable_variables):
        return False
    model.train_step = _LeanStep(model)
    return True


class _LeanStep:
    """Keras's `TorchTrainer.train_step`, step for step, on kerashp's compiled configuration."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.metrics: list = []  # the loss tracker and the accuracy, once fit's symbolic build has made them
        self.steps_done: int | None = None  # the optimizer's step count, kept on the host (see `_learning_rate`)
        self.counted: tuple[torch.Tensor, int] | None = None  # the step counter tensor and its version when counted
        self.kept_rate: tuple[object, float, float] | None = None  # (schedule, epoch key, rate): `_learning_rate`

    def __call__(self, data):
        model = self.model
        x, y, sample_weight = unpack_x_y_sample_weight(data)
        if sample_weight is not None or model.jit_compile:  # a resumed run may be compiled after loading
            return type(model).train_step(model, data)  # its counter change is noticed (`_learning_rate`)
        if not self.metrics:  # built by fit's (or train_on_batch's) symbolic build, before the first step
            self.metrics = [model._loss_tracker, *model._compile_metrics.metrics]
            _slots_like_their_variables(model.optimizer, model.trainable_variables)
        tracker, accuracy = self.metrics
        x, y = (keras.ops.convert_to_tensor(v) for v in (x, y))  # train_on_batch may hand over NumPy arrays
        variables = model.trainable_variables

        # the direct pass (fast.step) needs none of Model.__call__'s wrapping: no autocast, masks or added losses
        y_pred = model.call(x, training=True) if "call" in vars(model) else model(x, training=True)
        parameters = torch_values(variables)
        for parameter in parameters:  # Module.zero_grad()
            parameter.grad = None
        loss = model.compute_loss.data_loss(y, y_pred)
        scale = _loss_scale(model.optimizer, loss)  # float16's: the backward pass starts from it, not from 1
        loss.backward(scale)
        with torch.no_grad():
            loss = model.compute_loss.penalise(loss.detach(), scale)  # the L2 terms, outside the graph (fast.loss)
            self._update([parameter.grad for parameter in parameters], variables)
            batch = x.shape[0]
            loss_total, loss_count, right, seen = torch_values(
                (tracker.total, tracker.count, accuracy.total, accuracy.count)
            )
            loss_total.add_(loss * batch)  # Mean.update_state(loss, sample_weight=batch)
            matches = y.argmax(dim=-1) == y_pred.argmax(dim=-1)  # categorical_accuracy
            right.add_(matches.sum(dtype=right.dtype))
            torch._foreach_add_([loss_count, seen], batch)  # both counts, one kernel
            # get_metrics_result(); count > 0
            return {tracker.name: loss_total / loss_count, accuracy.name: right / seen}

    def _update(self, grads, variables) -> None:
        """`optimizer.apply(grads, variables)` for the optimizers `lean_train_step` accepts."""
        outer = self.model.optimizer  # a LossScaleOptimizer in float16, else the optimizer itself
        if not outer.built or any(grad is None for grad in grads):  # building, filtering: Keras's way
            outer.apply(grads, variables)
            return
        scaled = isinstance(outer, LossScaleOptimizer)
        if scaled and not _unscale_if_finite(outer, grads):
            return  # skipped, as Keras skips a step whose scaled gradients overflowed
        optimizer = _unscaled(outer)
        grads = optimizer._clip_gradients(grads)
        optimizer._apply_weight_decay(variables)
        optimizer._parallel_update_step(grads, variables, self._learning_rate())
        counter = optimizer._iterations.value
        counter.add_(1)  # assign_add(1) without its conversions: the same integer
        if self.steps_done is not None:
            self.steps_done += 1
            self.counted = (counter, counter._version)
        if scaled:
            _count_finite_step(outer)

    def _learning_rate(self):
        """This step's rate, as Keras computes it (`optimizer.learning_rate`).

        Keras's torch SGD passes the rate to torch as a Python number (`alpha=-rate`), so a rate
        computed on the GPU is read back three times a step, each read waiting for every kernel
        queued so far: the host could never run ahead of the GPU. For SGD the schedule is
        evaluated on the CPU instead, at the step count this object keeps on the host (read from
        the optimizer once, then counted; read again if anything else changed the counter), giving
        the same float32 value on a CPU. On a GPU, a schedule's `cos` or `power` may round its last
        bit differently from Keras's GPU computation, which weight decay and the logged rate still
        use. A schedule that changes only between epochs (`PresetSchedule.epoch_key`) is evaluated
        once an epoch (each evaluation is about 70 us of Keras ops). Other optimizers use the rate as
        a tensor, on the device.
        """
        optimizer = _unscaled(self.model.optimizer)
        schedule = optimizer._learning_rate
        if not isinstance(optimizer, TorchSGD) or not isinstance(schedule, LearningRateSchedule):
            return optimizer.learning_rate
        counter = optimizer._iterations.value
        if self.counted is None or self.counted[0] is not counter or self.counted[1] != counter._version:
            self.steps_done = int(counter)  # one read, at the first step (or after a load or assign)
        key = schedule.epoch_key(self.steps_done) if hasattr(schedule, "epoch_key") else None
        kept = self.kept_rate
        if key is not None and kept is not None and kept[0] is schedule and kept[1] == key:
            return kept[2]
        with keras.device("cpu"):
            rate = float(schedule(torch.tensor(self.steps_done)))
        if key is not None:
            self.kept_rate = (schedule, key, rate)
        return rate


def _unscaled(optimizer):
    """The optimizer that updates the variables: a `LossScaleOptimizer`'s inner one."""
    return optimizer.inner_optimizer if isinstance(optimizer, LossScaleOptimizer) else optimizer


# float16's dynamic loss scaling. Keras's torch step reads two device values back every step
# (whether the gradients are finite, whether the growth counter is due), each a wait for every
# queued GPU kernel. Here the finite check and the unscaling are one fused kernel (the one torch's
# `GradScaler` uses) and the counter updates on the device: one read back a step.


def _scales_exactly(optimizer) -> bool:
    """Whether the lean step gives `optimizer`'s loss scaling to the bit: none, or a power-of-two
    scale (Keras's default 2 ** 15), which doubling and halving keep one. Multiplying by such a
    scale, or by its reciprocal, then rounds as Keras's products and division do (down to a scale
    of 2 ** -126, some 140 overflows in a row from the default, whose reciprocal float32 cannot hold)."""
    if not isinstance(optimizer, LossScaleOptimizer):
        return True
    initial = float(optimizer.initial_scale)
    return initial > 0 and math.frexp(initial)[0] == 0.5


def _loss_scale(optimizer, loss: torch.Tensor) -> torch.Tensor | None:
    """The factor Keras's step multiplies the loss by before differentiating it
    (`LossScaleOptimizer.scale_loss`), as a tensor like `loss`; None when there is none."""
    if not isinstance(optimizer, LossScaleOptimizer):
        return None
    if optimizer.built:
        return torch_values([optimizer.dynamic_scale])[0]
    return torch.full_like(loss, optimizer.initial_scale)  # a step called before fit's symbolic build


def _unscale_if_finite(optimizer: LossScaleOptimizer, grads: list[torch.Tensor]) -> bool:
    """Unscale the gradients in place (times 1 / scale: Keras's division, for a power of two) and
    say whether they are all finite (the step's one read back); when they are not, halve the scale
    and restart its growth count, as Keras does. A skipped step's gradients are left unscaled, unused."""
    counter, scale = torch_values([optimizer.step_counter, optimizer.dynamic_scale])
    overflowed = torch.zeros((), dtype=torch.float32, device=scale.device)  # the kernel's flag is float32
    torch._amp_foreach_non_finite_check_and_unscale_(grads, overflowed, scale.reciprocal())
    if not overflowed.item():
        return True
    counter.zero_()
    scale.mul_(0.5)
    return False


def _count_finite_step(optimizer: LossScaleOptimizer) -> None:
    """Keras's growth rule on the device: the scale doubles after `dynamic_growth_steps` finite
    steps in a row, and the count restarts."""
    counter, scale = torch_values([optimizer.step_counter, optimizer.dynamic_scale])
    due = counter == optimizer.dynamic_growth_steps - 1
    scale.mul_(torch.where(due, 2.0, 1.0))
    counter.add_(1).masked_fill_(due, 0)


def _slots_like_their_variables(optimizer, variables) -> None:
    """Give each optimizer slot (momentum, velocity, ...) the memory order of its variable.

    Keras makes slots contiguous, but a lowered convolution's kernel is not
    (`lowering.torch_kernel_layout`), and torch's multi-tensor updates take their fused path on a
    GPU only when every slot, gradient and variable share strides. Keras names a slot after its
    variable's path; the values are copied, so only the layout changes.
    """
    slots = [slot for slot in optimizer.variables if len(slot.shape) > 1]
    for variable in variables:
        value = variable.value
        if value.is_contiguous():
            continue
        prefix = variable.path.replace("/", "_") + "_"
        for slot in slots:
            if slot.name.startswith(prefix) and tuple(slot.shape) == tuple(variable.shape):
                slot.value.data = torch.empty_like(value).copy_(slot.value)  # empty_like keeps the strides
