"""Each torch-functional stand-in computes what its Keras layer computes, gradients included."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from kerashp.training.fast.lowering import lowered

FIRST = "channels_first"


@pytest.mark.parametrize(
    "layer, shape",
    [
        (keras.layers.Conv2D(6, 5, data_format=FIRST), (4, 3, 12, 12)),
        (keras.layers.Conv2D(8, 3, padding="same", activation="relu", use_bias=False, data_format=FIRST), (4, 3, 9, 9)),
        (keras.layers.Conv2D(8, 3, strides=2, data_format=FIRST), (4, 3, 9, 9)),
        (keras.layers.Conv2D(4, 3, padding="same", strides=2, data_format=FIRST), (4, 3, 8, 8)),  # asymmetric "same"
        (keras.layers.Conv2D(4, 1, padding="same", strides=2, data_format=FIRST), (4, 3, 8, 8)),
        (keras.layers.Conv2D(4, 4, padding="same", data_format=FIRST), (4, 3, 7, 7)),  # even kernel
        (keras.layers.Dense(7, activation="relu"), (4, 5)),
        (keras.layers.Dense(7, use_bias=False), (4, 5)),
        (keras.layers.MaxPooling2D(2, data_format=FIRST), (4, 3, 8, 8)),
        (keras.layers.MaxPooling2D(3, strides=2, data_format=FIRST), (4, 3, 9, 9)),
        (keras.layers.Activation("relu"), (4, 5)),
        (keras.layers.ReLU(), (4, 3, 2, 2)),
        (keras.layers.Flatten(data_format=FIRST), (4, 3, 2, 5)),
    ],
    ids=lambda value: value.__class__.__name__ if isinstance(value, keras.layers.Layer) else None,
)
def test_a_stand_in_matches_the_layer_forward_and_backward(layer, shape):
    layer.build(shape)
    function = lowered(layer)
    assert function is not None
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    results = []
    for run in (layer.call, function):
        inputs = torch.tensor(x, requires_grad=True)
        for variable in layer.trainable_variables:
            variable.value.grad = None
        out = run(inputs)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        results.append([out.detach().numpy(), inputs.grad.numpy(), *[v.value.grad.numpy() for v in layer.trainable_variables]])
    for expected, got in zip(*results):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "layer",
    [
        keras.layers.Conv2D(4, 3, dilation_rate=2, data_format=FIRST),
        keras.layers.Conv2D(4, 3, data_format="channels_last"),
        keras.layers.Conv2D(4, 3, activation="elu", data_format=FIRST),
        keras.layers.MaxPooling2D(2, padding="same", data_format=FIRST),
        keras.layers.ReLU(max_value=6.0),
        keras.layers.Dropout(0.5),
    ],
)
def test_other_configurations_keep_the_layers_own_call(layer):
    assert lowered(layer) is None


def test_a_lowered_convolution_keeps_its_kernel_in_torch_order_and_its_values():
    layer = keras.layers.Conv2D(8, 3, data_format=FIRST)
    layer.build((2, 3, 9, 9))
    before = layer.kernel.numpy()
    assert lowered(layer) is not None
    assert layer.kernel.value.permute(3, 2, 0, 1).is_contiguous()  # read in place, no per-step copy
    assert layer.kernel.shape == (3, 3, 3, 8)
    np.testing.assert_array_equal(layer.kernel.numpy(), before)
    layer.kernel.assign(before + 1.0)  # what loading weights does: the layout stays
    assert layer.kernel.value.permute(3, 2, 0, 1).is_contiguous()
    np.testing.assert_array_equal(layer.kernel.numpy(), before + 1.0)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_the_flatten_gives_back_its_gradient_in_the_maps_layout(layout):
    layer = keras.layers.Flatten(data_format=FIRST)
    inputs = torch.randn(2, 3, 4, 5).contiguous(memory_format=layout).requires_grad_()
    lowered(layer)(inputs).sum().backward()
    assert inputs.grad.is_contiguous(memory_format=layout)
