"""Schedules against their closed forms, optimizers and clipping from presets, the L2 penalty, and
what a real optimizer step does with all of them."""

from __future__ import annotations

import json
import math
import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from keras import ops  # noqa: E402

from kerashp.errors import PresetError  # noqa: E402
from kerashp.training.optim import (  # noqa: E402
    PresetSchedule,
    apply_l2,
    build_optimizer,
    build_schedule,
    current_learning_rate,
    learning_rate_at,
)

STEPS_PER_EPOCH = 10
EPOCHS = 10
TOTAL = STEPS_PER_EPOCH * EPOCHS
BASE_LR = 0.1


def rates(schedule: dict, steps, base_lr: float = BASE_LR) -> dict[int, float]:
    return {step: learning_rate_at(schedule, base_lr, STEPS_PER_EPOCH, EPOCHS, step) for step in steps}


# ---------------------------------------------------------------------------------------- schedules


def test_constant_holds_the_base_rate():
    steps = [0, 55, TOTAL, 10 * TOTAL]
    assert rates({"name": "constant"}, steps) == pytest.approx(dict.fromkeys(steps, BASE_LR))


def test_step_decays_every_step_epochs_like_pytorch_steplr():
    schedule = {"name": "step", "gamma": 0.96, "step_epochs": 2}
    expected = {0: 0.1, 19: 0.1, 20: 0.1 * 0.96, 39: 0.1 * 0.96, 40: 0.1 * 0.96**2, 99: 0.1 * 0.96**4}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_exponential_staircase_is_the_step_schedule():
    step = {"name": "step", "gamma": 0.5, "step_epochs": 3}
    exponential = {**step, "name": "exponential", "staircase": True}
    steps = [0, 29, 30, 59, 60, 95]
    assert rates(exponential, steps) == pytest.approx(rates(step, steps), rel=1e-6)


def test_exponential_without_staircase_decays_smoothly():
    schedule = {"name": "exponential", "gamma": 0.96, "step_epochs": 2, "staircase": False}
    expected = {0: 0.1, 10: 0.1 * 0.96**0.5, 20: 0.1 * 0.96, 30: 0.1 * 0.96**1.5}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_cosine_falls_from_base_to_min_over_the_run_and_stays_there():
    schedule = {"name": "cosine", "min_lr": 0.001}
    expected = {
        0: 0.1,
        25: 0.001 + 0.099 * (1 + math.cos(math.pi / 4)) / 2,
        50: (0.1 + 0.001) / 2,
        TOTAL: 0.001,
        2 * TOTAL: 0.001,
    }
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-5)


def test_one_cycle_rises_to_max_lr_then_anneals_to_the_final_floor_ignoring_base_lr():
    schedule = {"name": "one_cycle", "max_lr": 0.2, "pct_start": 0.3, "div_factor": 25.0, "final_div_factor": 1e4}
    start, end = 0.2 / 25, 0.2 / 25 / 1e4
    peak_step = 0.3 * TOTAL - 1  # 29, as PyTorch OneCycleLR places it
    expected = {
        0: start,
        29: 0.2,
        64: (0.2 + end) / 2,  # halfway down: (99 - 29) / 2 steps after the peak
        TOTAL - 1: end,
    }
    assert peak_step == 29
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-5)
    assert rates(schedule, expected, base_lr=5.0) == pytest.approx(expected, rel=1e-5)


def test_cyclic_is_smiths_triangle_between_min_and_max_lr():
    schedule = {"name": "cyclic", "min_lr": 1e-5, "max_lr": 1e-1, "half_cycle_steps": 2000}
    expected = {0: 1e-5, 1000: (1e-5 + 1e-1) / 2, 2000: 1e-1, 3000: (1e-5 + 1e-1) / 2, 4000: 1e-5, 6000: 1e-1}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-5)
    assert rates(schedule, expected, base_lr=7.0) == pytest.approx(expected, rel=1e-5)


def test_warmup_ramps_linearly_to_the_schedule_value():
    schedule = {"name": "constant", "warmup_epochs": 2}  # W = 20 steps
    expected = {0: 0.1 / 20, 9: 0.1 * 10 / 20, 19: 0.1, 20: 0.1, 50: 0.1}
    assert rates(schedule, expected) == pytest.approx(expected, rel=1e-6)


def test_warmup_does_not_shift_the_schedule_clock():
    step = {"name": "step", "gamma": 0.5, "step_epochs": 1}
    expected = {
        9: 0.1 * 10 / 20,
        10: 0.05 * 11 / 20,  # the decay at epoch 1 happens during warm-up, as without it
        19: 0.05,
        20: 0.025,
    }
    assert rates({**step, "warmup_epochs": 2}, expected) == pytest.approx(expected, rel=1e-6)
    cosine = {"name": "cosine", "min_lr": 0.001, "warmup_epochs": 2}
    assert rates(cosine, [TOTAL])[TOTAL] == pytest.approx(0.001, rel=1e-5)


def test_fractional_warmup_epochs():
    expected = {0: 0.1 / 5, 3: 0.1 * 4 / 5, 4: 0.1, 5: 0.1}
    assert rates({"name": "constant", "warmup_epochs": 0.5}, expected) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "schedule, epochwise",
    [
        ({"name": "constant"}, True),
        ({"name": "step", "step_epochs": 3, "gamma": 0.5}, True),
        ({"name": "exponential", "staircase": True, "step_epochs": 2, "gamma": 0.7}, True),
        ({"name": "exponential", "staircase": False}, False),
        ({"name": "cosine"}, False),
        ({"name": "step", "warmup_epochs": 1}, False),
    ],
)
def test_an_epoch_key_stands_for_one_rate_to_the_bit(schedule, epochwise):
    """A caller may evaluate an epoch-wise schedule once per key (the lean step does): every step
    with the same key has exactly the same float32 rate, here over 1,000 epochs of 391 steps."""
    preset_schedule = build_schedule(schedule, BASE_LR, 391, 1000)
    steps = np.arange(0, 391_000, 97)
    keys = [preset_schedule.epoch_key(int(step)) for step in steps]
    if not epochwise:
        assert set(keys) == {None}
        return
    assert keys == [float(step // 391) for step in steps]
    computed = ops.convert_to_numpy(preset_schedule(ops.convert_to_tensor(steps)))
    by_key: dict = {}
    for key, rate in zip(keys, computed.tolist(), strict=True):
        assert by_key.setdefault(key, rate) == rate


def test_schedule_round_trips_through_keras_serialization():
    schedule = {"name": "one_cycle", "max_lr": 0.3, "warmup_epochs": 1}
    original = build_schedule(schedule, BASE_LR, STEPS_PER_EPOCH, EPOCHS)
    serialized = json.loads(json.dumps(keras.optimizers.schedules.serialize(original)))
    restored = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(restored, PresetSchedule)
    assert restored.get_config() == original.get_config()
    for step in (0, 7, 29, 64, 99):
        assert float(restored(step)) == float(original(step))


# ---------------------------------------------------------------------------------------- optimizers


@pytest.mark.parametrize(
    "settings, cls, expected",
    [
        ({"name": "sgd", "momentum": 0.9, "nesterov": True}, keras.optimizers.SGD, {"momentum": 0.9, "nesterov": True}),
        (
            {"name": "adam", "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6},
            keras.optimizers.Adam,
            {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "weight_decay": None},
        ),
        (
            {"name": "adamw", "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "weight_decay": 5e-4},
            keras.optimizers.AdamW,
            {"beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-6, "weight_decay": 5e-4},
        ),
        ({"name": "adamw"}, keras.optimizers.AdamW, {"weight_decay": 0.0}),  # not Keras's 0.004 default
        ({"name": "adagrad", "epsilon": 1e-5}, keras.optimizers.Adagrad, {"epsilon": 1e-5}),
        (
            {"name": "rmsprop", "rho": 0.95, "momentum": 0.5, "epsilon": 1e-6},
            keras.optimizers.RMSprop,
            {"rho": 0.95, "momentum": 0.5, "epsilon": 1e-6},
        ),
        ({"name": "sgd", "weight_decay": 1e-4}, keras.optimizers.SGD, {"weight_decay": 1e-4}),
    ],
)
def test_each_optimizer_gets_its_class_hyperparameters_and_schedule(settings, cls, expected):
    optimizer = build_optimizer({**settings, "learning_rate": 0.05}, {"name": "constant"}, STEPS_PER_EPOCH, EPOCHS)
    # Keras hands out its torch subclass; the name check keeps adam from passing as AdamW
    assert isinstance(optimizer, cls) and type(optimizer).__name__ == cls.__name__
    assert {key: getattr(optimizer, key) for key in expected} == expected
    assert optimizer.get_config()["learning_rate"]["class_name"] == "PresetSchedule"
    assert float(optimizer.learning_rate) == pytest.approx(0.05)


@pytest.mark.parametrize("key", ["clipnorm", "clipvalue", "global_clipnorm"])
def test_clipping_reaches_the_optimizer(key):
    optimizer = build_optimizer({"name": "sgd", key: 2.5}, {"name": "constant"}, STEPS_PER_EPOCH, EPOCHS)
    assert {k: getattr(optimizer, k) for k in ("clipnorm", "clipvalue", "global_clipnorm")} == {
        k: 2.5 if k == key else None for k in ("clipnorm", "clipvalue", "global_clipnorm")
    }


def test_two_clipping_options_are_a_preset_error():
    with pytest.raises(PresetError) as raised:
        build_optimizer({"name": "sgd", "clipnorm": 1.0, "global_clipnorm": 5.0}, {"name": "constant"}, 1, 1)
    assert str(raised.value) == "preset: optimizer.clipnorm: set only one of clipnorm and global_clipnorm"


# ---------------------------------------------------------------------------------------- real steps


def linear_probe(optimizer: dict, schedule: dict, steps_per_epoch: int = 2, l2: float = 0.0) -> keras.Model:
    """One weight w (0.5) trained on loss = w: its gradient is exactly 1, so each SGD step moves w
    by exactly that step's learning rate, and anything else in the update shows up in w."""
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(0.5))
    model = keras.Sequential([keras.Input((1,)), dense])
    apply_l2(model, l2)
    optimizer = build_optimizer(optimizer, schedule, steps_per_epoch, epochs=3)
    model.compile(optimizer=optimizer, loss=lambda _, output: ops.mean(output))
    return model


def train_steps(model: keras.Model, count: int) -> list[float]:
    ones = np.ones((1, 1), "float32")
    return [float(model.train_on_batch(ones, ones)) for _ in range(count)]


def weight(model: keras.Model) -> float:
    return float(ops.convert_to_numpy(model.layers[0].kernel)[0, 0])


def test_each_update_uses_the_schedule_rate_of_its_step():
    model = linear_probe({"name": "sgd", "learning_rate": 0.1}, {"name": "step", "gamma": 0.5, "step_epochs": 1})
    assert current_learning_rate(model.optimizer) == pytest.approx(0.1)
    train_steps(model, 4)  # rates 0.1, 0.1, 0.05, 0.05
    assert int(model.optimizer.iterations) == 4
    assert weight(model) == pytest.approx(0.5 - 0.3, rel=1e-6)
    assert current_learning_rate(model.optimizer) == pytest.approx(0.05)  # what step 3 used
    assert float(model.optimizer.learning_rate) == pytest.approx(0.025)  # what step 4 will use


def test_l2_penalty_is_in_the_training_loss_and_its_gradient():
    model = linear_probe({"name": "sgd", "learning_rate": 0.1}, {"name": "constant"}, l2=0.01)
    [loss] = train_steps(model, 1)
    assert loss == pytest.approx(0.5 + 0.01 * 0.5**2, rel=1e-6)
    assert weight(model) == pytest.approx(0.5 - 0.1 * (1 + 2 * 0.01 * 0.5), rel=1e-6)


def test_weight_decay_shrinks_weights_without_entering_the_loss():
    model = linear_probe({"name": "sgd", "learning_rate": 0.1, "weight_decay": 0.1}, {"name": "constant"})
    [loss] = train_steps(model, 1)
    assert loss == pytest.approx(0.5, rel=1e-6)
    assert weight(model) == pytest.approx(0.5 * (1 - 0.1 * 0.1) - 0.1, rel=1e-6)


# ---------------------------------------------------------------------------------------- L2 penalty


def small_convnet() -> keras.Model:
    """Five kernels (conv, separable depthwise + pointwise, depthwise, dense) among biases and a batch norm."""
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(2, 3)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.SeparableConv2D(2, 3)(x)
    x = keras.layers.DepthwiseConv2D(3)(x)
    outputs = keras.layers.Dense(3)(keras.layers.Flatten()(x))
    return keras.Model(inputs, outputs)


KERNEL_COUNT = 5


def penalties(model: keras.Model) -> list[float]:
    return sorted(float(ops.convert_to_numpy(loss)) for loss in model.losses)


def kernel_penalties(model: keras.Model, l2: float) -> list[float]:
    kernels = [v for v in model.trainable_weights if v.path.endswith("kernel")]
    assert len(kernels) == KERNEL_COUNT
    return sorted(l2 * float(np.sum(ops.convert_to_numpy(v) ** 2)) for v in kernels)


@pytest.mark.parametrize("nested", [False, True])
def test_apply_l2_adds_one_penalty_per_kernel(nested):
    inner = small_convnet()
    model = keras.Sequential([keras.Input((8, 8, 3)), inner]) if nested else inner
    apply_l2(model, 1e-3)
    assert penalties(model) == pytest.approx(kernel_penalties(model, 1e-3), rel=1e-5)


def test_apply_l2_zero_adds_nothing():
    model = small_convnet()
    apply_l2(model, 0.0)
    assert model.losses == []


def test_checkpoint_keeps_the_penalty_schedule_and_step(tmp_path):
    model = small_convnet()
    apply_l2(model, 1e-3)
    optimizer = build_optimizer({"name": "adam"}, {"name": "cosine", "warmup_epochs": 1}, steps_per_epoch=4, epochs=2)
    model.compile(optimizer=optimizer, loss="mse")
    model.train_on_batch(np.ones((2, 8, 8, 3), "float32"), np.zeros((2, 3), "float32"))
    model.save(tmp_path / "checkpoint.keras")

    restored = keras.saving.load_model(tmp_path / "checkpoint.keras", safe_mode=True)
    assert penalties(restored) == pytest.approx(kernel_penalties(model, 1e-3), rel=1e-5)
    assert restored.optimizer.get_config()["learning_rate"] == model.optimizer.get_config()["learning_rate"]
    assert int(restored.optimizer.iterations) == 1
    assert current_learning_rate(restored.optimizer) == current_learning_rate(model.optimizer)
