"""Torch-functional equivalents of the plain Keras layers small models are made of.

Keras's torch backend runs `Conv2D.call` through `keras.ops` (argument standardisation, kernel
transposes, dtype checks, padding arithmetic) on every call; for LeNet-5 that Python costs more
than some of the arithmetic. For a layer in a plain configuration the same computation is one
`torch.nn.functional` call on the layer's own variables, so gradients, optimizer updates and
checkpoints are untouched. Anything else (other layers, other options) keeps `layer.call`; and
`kerashp.training.fast.step` compares the whole model's output with Keras's before using either.
"""

from __future__ import annotations

from collections.abc import Callable

import keras

Call = Callable[..., object]


def lowered(layer) -> Call | None:
    """A function of (inputs, **ignored) computing `layer.call`, or None where there is none."""
    kind = type(layer)
    maker = {
        keras.layers.Conv2D: _conv2d,
        keras.layers.Dense: _dense,
        keras.layers.MaxPooling2D: _max_pool2d,
        keras.layers.Activation: _activation_layer,
        keras.layers.ReLU: _relu_layer,
        keras.layers.Flatten: _flatten,
    }.get(kind)
    return maker(layer) if maker is not None else None


def _activation(function) -> Call | None:
    import torch.nn.functional as F

    if function in (None, keras.activations.linear):
        return lambda x: x
    if function is keras.activations.relu:
        return F.relu
    return None


def _conv2d(layer) -> Call | None:
    import torch.nn.functional as F

    kernel_h, kernel_w = layer.kernel_size
    plain = layer.data_format == "channels_first" and layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)
    # "same" is symmetric (and so a plain torch padding) only at stride 1 with odd kernels
    same_ok = tuple(layer.strides) == (1, 1) and kernel_h % 2 == 1 and kernel_w % 2 == 1
    activation = _activation(layer.activation)
    if (
        not plain
        or activation is None
        or (layer.padding == "same" and not same_ok)
        or layer.padding not in ("same", "valid")
    ):
        return None
    padding = (kernel_h // 2, kernel_w // 2) if layer.padding == "same" else 0
    strides = tuple(layer.strides)

    def conv(x, **_):
        kernel = layer.kernel.value.permute(3, 2, 0, 1)  # Keras (h, w, in, out) -> torch (out, in, h, w)
        bias = layer.bias.value if layer.use_bias else None
        return activation(F.conv2d(x, kernel, bias, strides, padding))

    return conv


def _dense(layer) -> Call | None:
    import torch

    activation = _activation(layer.activation)
    if activation is None or layer.lora_enabled or getattr(layer, "quantization_mode", None):
        return None

    def dense(x, **_):
        if x.ndim != 2:
            return layer.call(x)
        if layer.bias is not None:
            return activation(torch.addmm(layer.bias.value, x, layer.kernel.value))
        return activation(x @ layer.kernel.value)

    return dense


def _max_pool2d(layer) -> Call | None:
    import torch.nn.functional as F

    if layer.data_format != "channels_first" or layer.padding != "valid":
        return None
    size, strides = tuple(layer.pool_size), tuple(layer.strides)
    return lambda x, **_: F.max_pool2d(x, size, strides)


def _activation_layer(layer) -> Call | None:
    activation = _activation(layer.activation)
    return None if activation is None else (lambda x, **_: activation(x))


def _relu_layer(layer) -> Call | None:
    import torch.nn.functional as F

    if layer.max_value is not None or layer.negative_slope != 0 or layer.threshold != 0:
        return None
    return lambda x, **_: F.relu(x)


def _flatten(layer) -> Call | None:
    if layer.data_format != "channels_first":
        return None
    # Keras flattens channels-first maps in channels-last order, so weights load across formats
    return lambda x, **_: x.permute(0, *range(2, x.ndim), 1).reshape(x.shape[0], -1) if x.ndim > 2 else x
