"""The speed paths keep results equivalent: fused batch norm, the direct forward pass, channels-first."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from kerashp.config import load_preset
from kerashp.models import build_model
from kerashp.models.layers import BatchNormalization
from kerashp.training.fast.step import accelerate
from kerashp.training.run import compile_model


@pytest.mark.parametrize("shape, axis", [((16, 5, 6, 6), 1), ((16, 7), -1), ((16, 6, 6, 5), -1)])
def test_fused_batch_norm_matches_keras_in_training(shape, axis):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype("float32")
    ours, stock = BatchNormalization(axis=axis), keras.layers.BatchNormalization(axis=axis)
    for layer in (ours, stock):
        layer.build(shape)
    ours.set_weights(stock.get_weights())
    outputs, grads = [], []
    for layer in (ours, stock):
        inputs = torch.tensor(x, requires_grad=True)
        out = layer(inputs, training=True)
        (out * torch.arange(out.numel()).reshape(out.shape)).sum().backward()
        outputs.append(out.detach().numpy())
        grads.append(inputs.grad.numpy())
    assert np.allclose(outputs[0], outputs[1], atol=1e-4)
    assert np.allclose(grads[0], grads[1], rtol=1e-3, atol=1e-3)
    assert np.allclose(ours.moving_mean.numpy(), stock.moving_mean.numpy(), atol=1e-6)
    values_per_channel = x.size // x.shape[axis]
    unbiased = values_per_channel / (values_per_channel - 1)  # PyTorch's moving-variance convention
    expected = 0.99 * 1.0 + 0.01 * (stock.moving_variance.numpy() - 0.99) / 0.01 * unbiased
    assert np.allclose(ours.moving_variance.numpy(), expected, rtol=1e-4)


def test_fused_batch_norm_inference_is_keras():
    layer = BatchNormalization(axis=1)
    x = np.random.default_rng(1).normal(size=(4, 3, 2, 2)).astype("float32")
    layer.build(x.shape)
    reference = keras.layers.BatchNormalization(axis=1)
    reference.build(x.shape)
    assert np.allclose(keras.ops.convert_to_numpy(layer(x, training=False)), keras.ops.convert_to_numpy(reference(x, training=False)))


def _trained_losses(accelerated: bool, steps: int = 6) -> list[float]:
    keras.utils.set_random_seed(0)
    preset = load_preset("lenet5", ["model.dropout=0.2"])
    model = build_model("lenet5", preset["model"], (32, 32, 3), 10)
    compile_model(model, preset, steps_per_epoch=steps)
    if accelerated:
        assert accelerate(model)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(steps, 16, *model.input_shape[1:])).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, (steps, 16))]
    keras.utils.set_random_seed(1)
    return [float(model.train_on_batch(x[i], y[i])[0]) for i in range(steps)]


def test_direct_forward_pass_gives_the_same_loss_curve():
    stock, fast = _trained_losses(False), _trained_losses(True)
    assert np.allclose(stock, fast, rtol=1e-5, atol=1e-6), (stock, fast)
    assert stock[-1] != stock[0]  # the model did train


def test_direct_forward_pass_is_refused_where_it_would_differ():
    inputs = keras.Input((3,))
    model = keras.Model([inputs, keras.Input((2,))], [inputs])
    assert accelerate(model) is False  # two inputs: not handled, stock path kept
    assert "call" not in vars(model)


def test_models_are_channels_first_and_leave_the_global_format_alone():
    preset = load_preset("lenet5")
    model = build_model("lenet5", preset["model"], (32, 32, 3), 10)
    assert model.input_shape == (None, 3, 32, 32)
    assert keras.config.image_data_format() == "channels_last"


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_the_torch_loss_matches_keras_with_label_smoothing_and_l2(label_smoothing):
    from kerashp.training.fast.loss import accelerate_loss
    from kerashp.training.optim import apply_l2

    preset = load_preset("lenet5", [f"train.label_smoothing={label_smoothing}"])
    model = build_model("lenet5", preset["model"], (32, 32, 3), 10)
    apply_l2(model, 1e-3)
    compile_model(model, preset, steps_per_epoch=4)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(8, 3, 32, 32)).astype("float32"))
    y = torch.tensor(np.eye(10, dtype="float32")[rng.integers(0, 10, 8)])
    y_pred = model(x, training=True)
    stock = float(model.compute_loss(x, y, y_pred).detach())
    assert accelerate_loss(model)
    assert "compute_loss" in vars(model)
    assert float(model.compute_loss(x, y, y_pred).detach()) == stock  # to the bit: the same sums in the same order


def test_other_losses_keep_keras_compute_loss():
    from kerashp.training.fast.loss import accelerate_loss

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    assert accelerate_loss(model) is False and "compute_loss" not in vars(model)


def test_the_direct_pass_lets_each_intermediate_tensor_go_after_its_last_reader():
    from kerashp.training.fast.step import _plan

    preset = load_preset("lenet5", ['model.name="resnet"', "model.stages=[4, 8]", "model.blocks=1"])
    model = build_model("resnet", preset["model"], (8, 8, 3), 3)
    steps = _plan(model)
    made = {model_input for model_input in map(id, model.inputs)} | {t for step in steps for t in step.outputs}
    freed = [t for step in steps for t in step.last_uses]
    assert len(freed) == len(set(freed))  # each once
    assert set(freed) == made - {id(x) for x in model.outputs}  # every tensor but the output
    for index, step in enumerate(steps):  # and never before a later step reads it
        later = {t for s in steps[index + 1 :] for t in ([s.single_input] if s.single_input is not None else [])}
        assert not later & set(step.last_uses)


MODELS = {
    "lenet5": ("lenet5", []),
    "resnet": ("resnet", ['model.name="resnet"', "model.stages=[4, 8]", "model.blocks=1"]),  # batch norm, adds
}


@pytest.mark.parametrize("name, overrides", MODELS.values(), ids=MODELS.keys())
def test_a_bfloat16_model_takes_the_direct_pass_with_keras_casts(name, overrides):
    """The direct pass makes Layer.__call__'s casts: bfloat16 inputs and weights inside, float32
    weights kept and float32 logits out. On a CPU it computes Keras's bits, forward and backward
    (a pass in float32 would differ from them in the third digit); on a GPU, where a fused bias
    may round once where Keras rounds twice, it agrees to bfloat16's resolution."""
    from kerashp.training.fast.step import _direct_call, _plan
    from kerashp.training.precision import build_in_precision

    preset = load_preset("lenet5", overrides)
    keras.utils.set_random_seed(0)
    model = build_in_precision(lambda: build_model(name, preset["model"], (16, 16, 3), 5), "mixed_bfloat16")
    device = model.weights[0].value.device  # Keras's torch backend builds on the GPU when there is one
    x = torch.tensor(np.random.default_rng(0).normal(size=(4, 3, 16, 16)).astype("float32"), device=device)
    results = []
    for forward in (lambda: model(x, training=True), lambda: _direct_call(model, _plan(model), x, training=True)):
        for v in model.trainable_variables:
            v.value.grad = None
        out = forward()
        (out * torch.arange(out.numel(), device=device).reshape(out.shape)).sum().backward()
        results.append((out.detach().cpu().numpy(), [v.value.grad.cpu().numpy() for v in model.trainable_variables]))
    (stock, stock_grads), (direct, direct_grads) = results
    assert direct.dtype == np.float32 and {v.dtype for v in model.weights} == {"float32"}
    for ours, theirs in zip([direct, *direct_grads], [stock, *stock_grads], strict=True):
        if device.type == "cpu":
            np.testing.assert_array_equal(ours, theirs)
        else:
            np.testing.assert_allclose(ours, theirs, rtol=2e-2, atol=2e-2 * np.abs(theirs).max())
    float32 = build_model(name, preset["model"], (16, 16, 3), 5)  # the same weights, computing in float32
    float32.set_weights(model.get_weights())
    assert not np.allclose(direct, keras.ops.convert_to_numpy(float32(x, training=True)), rtol=1e-4, atol=1e-5)


def test_torch_values_are_what_value_returns_inside_and_outside_keras_scopes():
    from keras.src.backend.common.variables import AutocastScope

    from kerashp.models.variables import torch_values

    variables = [keras.Variable(np.ones((2, 2), "float32")), keras.Variable(np.zeros(3, "float32"))]
    assert all(ours is v.value for ours, v in zip(torch_values(variables), variables, strict=True))
    with AutocastScope("bfloat16"):  # a mixed layer's call: Keras casts on every read
        assert [t.dtype for t in torch_values(variables)] == [torch.bfloat16] * 2
    with keras.StatelessScope(state_mapping=[(variables[0], np.full((2, 2), 5.0, "float32"))]):
        assert float(torch_values(variables)[0][0, 0]) == 5.0


def test_fused_batch_norm_without_gamma_or_beta_matches_keras():
    x = np.random.default_rng(2).normal(1.0, 2.0, size=(8, 3, 4, 4)).astype("float32")
    ours = BatchNormalization(axis=1, center=False, scale=False)
    stock = keras.layers.BatchNormalization(axis=1, center=False, scale=False)
    for layer in (ours, stock):
        layer.build(x.shape)
    outputs = [keras.ops.convert_to_numpy(layer(x, training=True)) for layer in (ours, stock)]
    assert np.allclose(outputs[0], outputs[1], atol=1e-4)
