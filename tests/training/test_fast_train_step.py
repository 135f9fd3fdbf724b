"""The lean train step (kerashp.training.fast.train_step) trains exactly as Keras's own step does."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import torch

from kerashp.backend import set_random_seed
from kerashp.config import load_preset
from kerashp.models import build_model
from kerashp.training.fast.step import accelerate
from kerashp.training.optim import apply_l2
from kerashp.training.precision import build_in_precision
from kerashp.training.run import compile_model

STEPS = 3

# every optimizer the presets can name, with the options that change its update
OPTIMIZERS = {
    "sgd nesterov, L2": ["optimizer.name='sgd'", "optimizer.momentum=0.9", "optimizer.nesterov=true"],
    "sgd, weight decay, clipnorm": [
        "optimizer.name='sgd'",
        "optimizer.momentum=0.5",
        "optimizer.weight_decay=0.01",
        "optimizer.clipnorm=0.5",
    ],
    "plain sgd, clipvalue, step schedule": [
        "optimizer.name='sgd'",
        "optimizer.momentum=0.0",
        "optimizer.clipvalue=0.01",
        "schedule.name='step'",
        "schedule.step_epochs=1",
        "schedule.gamma=0.5",
    ],
    "adam, global clipnorm": ["optimizer.name='adam'", "optimizer.global_clipnorm=1.0"],
    "adamw, cosine": ["optimizer.name='adamw'", "optimizer.weight_decay=0.05", "schedule.name='cosine'"],
    "adagrad": ["optimizer.name='adagrad'"],
    "rmsprop": ["optimizer.name='rmsprop'", "optimizer.momentum=0.9"],
}


# float16's loss scaling, set to take every branch in 2 x 3 steps: from 2 ** 20 LeNet-5's scaled
# gradients overflow three times (the scale halves each time), two finite steps double it, and it
# overflows once more
LOSS_SCALING = {"initial_scale": 2.0**20, "dynamic_growth_steps": 2}


def _fit(overrides: list[str], lean: bool, precision: str = "float32") -> tuple[keras.Model, dict]:
    preset = load_preset(
        "lenet5", ["model.dropout=0.2", "train.label_smoothing=0.1", f"train.precision={precision}", *overrides]
    )
    set_random_seed(0)
    model = build_in_precision(lambda: build_model("lenet5", preset["model"], (32, 32, 3), 10), precision)
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, steps_per_epoch=STEPS)
    if isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer):
        for name, value in LOSS_SCALING.items():  # read when the optimizer is built
            setattr(model.optimizer, name, value)
    accelerate(model)
    assert ("train_step" in vars(model)) is True  # the lean step is in place for every preset optimizer
    if not lean:
        del model.train_step  # Keras's own TorchTrainer.train_step, on the same forward pass and loss
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * 8, *model.input_shape[1:])).astype("float32")
    y = rng.dirichlet(np.ones(10), STEPS * 8).astype("float32")  # soft labels, as mixup gives
    set_random_seed(1)
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return model, history.history


MIXED = [  # bfloat16 needs no loss scaling; float16 scales its loss (LOSS_SCALING)
    (name, precision)
    for precision in ("mixed_bfloat16", "mixed_float16")
    for name in ("sgd nesterov, L2", "plain sgd, clipvalue, step schedule", "adamw, cosine")
]


@pytest.mark.parametrize(
    "overrides, precision",
    [
        *(pytest.param(overrides, "float32", id=name) for name, overrides in OPTIMIZERS.items()),
        *(pytest.param(OPTIMIZERS[name], precision, id=f"{name}, {precision}") for name, precision in MIXED),
    ],
)
def test_lean_step_gives_keras_weights_optimizer_state_and_logs(overrides, precision):
    (lean, lean_logs), (stock, stock_logs) = _fit(overrides, True, precision), _fit(overrides, False, precision)
    assert lean_logs == stock_logs  # loss and accuracy per epoch, to the bit
    for ours, theirs in zip(lean.weights, stock.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
    for ours, theirs in zip(lean.optimizer.variables, stock.optimizer.variables, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=ours.path)
    updates = int(lean.optimizer.iterations.numpy())
    if precision == "mixed_float16":  # 2 on this CPU; a GPU's kernels may overflow on other steps
        assert 0 < updates < 2 * STEPS  # steps skipped and steps taken: the scaling's branches
    else:
        assert updates == 2 * STEPS


def test_lean_step_steps_aside_where_it_would_differ():
    preset = load_preset("lenet5", ["optimizer.momentum=10"])  # kerashp's SGD subclass updates per variable
    model = build_model("lenet5", preset["model"], (32, 32, 3), 10)
    compile_model(model, preset, steps_per_epoch=STEPS)
    accelerate(model)
    assert "train_step" not in vars(model)


def test_torch_compile_keeps_the_stock_step():
    preset = load_preset("lenet5")
    model = build_model("lenet5", preset["model"], (32, 32, 3), 10)
    compile_model(model, preset, steps_per_epoch=STEPS)
    model.jit_compile = True  # as train.compile = true compiles it
    accelerate(model)
    assert "train_step" not in vars(model)


def test_a_loss_scale_that_is_no_power_of_two_keeps_the_stock_step():
    preset = load_preset("lenet5", ["train.precision=mixed_float16"])
    model = build_in_precision(lambda: build_model("lenet5", preset["model"], (32, 32, 3), 10), "mixed_float16")
    compile_model(model, preset, steps_per_epoch=STEPS)
    model.optimizer.initial_scale = 1000.0  # unscaling by it would round differently from Keras's division
    assert accelerate(model) is True  # the direct pass, in float16, and the torch loss Keras's step scales
    assert "train_step" not in vars(model) and {"call", "compute_loss"} <= set(vars(model))


def test_optimizer_slots_take_their_kernels_memory_order():
    model, _ = _fit(OPTIMIZERS["sgd nesterov, L2"], lean=True)
    kernels = [v for v in model.trainable_variables if v.name == "kernel" and len(v.shape) == 4]
    assert kernels
    for kernel in kernels:
        momentum = model.optimizer.momentums[model.optimizer._get_variable_index(kernel)]
        assert momentum.value.stride() == kernel.value.stride() != kernel.value.contiguous().stride()


def test_sgd_gets_its_rate_as_a_host_number_from_a_host_step_count(monkeypatch):
    model, _ = _fit(OPTIMIZERS["plain sgd, clipvalue, step schedule"], lean=True)
    step = model.train_step
    assert step.steps_done == int(model.optimizer.iterations.numpy()) == 2 * STEPS
    rates = []
    update = model.optimizer._parallel_update_step
    monkeypatch.setattr(model.optimizer, "_parallel_update_step", lambda g, v, rate: (rates.append(rate), update(g, v, rate)))
    expected = float(model.optimizer.learning_rate)  # Keras's own rate at this step, on the device
    model.train_on_batch(np.zeros((8, *model.input_shape[1:]), "float32"), np.eye(10, dtype="float32")[:8])
    assert type(rates[0]) is float and rates[0] == expected  # no device tensor for torch to read back
    assert step.steps_done == 2 * STEPS + 1
    model.optimizer.iterations.assign(40)  # a change from outside (a load, say) is noticed
    expected = float(model.optimizer.learning_rate)
    model.train_on_batch(np.zeros((8, *model.input_shape[1:]), "float32"), np.eye(10, dtype="float32")[:8])
    assert rates[-1] == expected != rates[0] and step.steps_done == 41


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_a_lean_sgd_step_never_waits_for_the_gpu():
    # SGD as the presets use it; Keras's other optimizers, clipping and weight decay convert Python
    # numbers to GPU tensors inside their updates (`convert_to_tensor`), copies sync-debug mode may flag
    model, _ = _fit(OPTIMIZERS["sgd nesterov, L2"], lean=True)  # dropout included: unseeded, it is torch's own
    x = torch.zeros((8, *model.input_shape[1:]), device="cuda")
    y = torch.eye(10, device="cuda")[:8]
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host read raises
    try:
        model.train_step((x, y))
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_a_lean_float16_step_reads_back_once():
    model, _ = _fit(OPTIMIZERS["sgd nesterov, L2"], lean=True, precision="mixed_float16")
    x = torch.zeros((8, *model.input_shape[1:]), device="cuda")
    y = torch.eye(10, device="cuda")[:8]
    model.optimizer.dynamic_scale.assign(1.0)  # no overflow from here
    model.train_step((x, y))  # an update: the SGD step count is read once, at the first
    torch.cuda.set_sync_debug_mode("warn")  # each device-to-host read warns
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.train_step((x, y))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    reads = [w for w in caught if "synchronizing" in str(w.message)]
    assert len(reads) == 1, [str(w.message) for w in reads]  # whether the gradients are finite; Keras's step reads 2


def test_an_epochwise_schedule_is_evaluated_once_an_epoch(monkeypatch):
    from kerashp.training.optim import PresetSchedule

    evaluated = []
    schedule_call = PresetSchedule.__call__
    monkeypatch.setattr(PresetSchedule, "__call__", lambda self, step: (evaluated.append(int(step)), schedule_call(self, step))[1])
    _fit(OPTIMIZERS["plain sgd, clipvalue, step schedule"], lean=True)  # 2 epochs of 3 steps, the rate halving between
    assert evaluated == [0, 3]  # the lean step's bitwise equality with Keras's is the first test's
