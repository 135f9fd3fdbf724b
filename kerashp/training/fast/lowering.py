"""Torch-functional equivalents of the plain Keras layers small models are made of.

Keras's torch backend runs `Conv2D.call` through `keras.ops` (argument standardisation, kernel
transposes, dtype checks, padding arithmetic) on every call; for LeNet-5 that Python costs more
than some of the arithmetic. For a layer in a plain configuration the same computation is one
`torch.nn.functional` call on the layer's own variables, so gradients, optimizer updates and
checkpoints are untouched. Anything else (other layers, other options) keeps `layer.call`; and
`kerashp.training.fast.step` compares the whole model's output with Keras's before using either.

Two stand-ins also fix a memory layout the Keras way leaves to torch to repair on every step: a
convolution kernel is stored the way torch reads it (`torch_kernel_layout`), and the
channels-last flatten hands its gradient back in the map's own layout (`_FlattenChannelsLast`).
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import torch
import torch.nn.functional as F

try:  # Keras's own "same" arithmetic, asymmetric included; private, so a Keras without it keeps layer.call
    from keras.src.backend.torch.nn import _apply_same_padding
except ImportError:  # pragma: no cover - depends on the Keras version
    _apply_same_padding = None

Call = Callable[..., object]


def lowered(layer) -> Call | None:
    """A function of (inputs, **ignored) computing `layer.call`, or None where there is none.
    A convolution's kernel is re-laid in torch's memory order on the way (`torch_kernel_layout`)."""
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
    if function in (None, keras.activations.linear):
        return lambda x: x
    if function is keras.activations.relu:
        return F.relu
    return None


def _conv2d(layer) -> Call | None:
    plain = layer.data_format == "channels_first" and layer.groups == 1 and tuple(layer.dilation_rate) == (1, 1)
    activation = _activation(layer.activation)
    if not plain or activation is None or layer.padding not in ("same", "valid"):
        return None
    if layer.padding == "same" and _apply_same_padding is None:
        return None
    size, strides, same = tuple(layer.kernel_size), tuple(layer.strides), layer.padding == "same"
    torch_kernel_layout(layer.kernel)

    def conv(x, **_):
        kernel = layer.kernel.value.permute(3, 2, 0, 1)  # Keras (h, w, in, out) -> torch (out, in, h, w), contiguous
        bias = layer.bias.value if layer.use_bias else None
        padding = 0
        if same:
            x, padding = _apply_same_padding(x, size, strides, "channels_first", "conv")
        return activation(F.conv2d(x, kernel, bias, strides, padding))

    return conv


def torch_kernel_layout(kernel) -> None:
    """Store a Keras (h, w, in, out) convolution kernel in torch's (out, in, h, w) memory order.

    The variable keeps its shape, values and checkpoints; only its strides change, so the permuted
    view the convolution takes is contiguous. oneDNN and cuDNN then read the kernel in place, and
    its gradient lands in the variable's own layout, where Keras's order made torch copy both on
    every step (about a fifth of ResNet-20's convolution time on CPU).
    """
    value = kernel.value
    with torch.no_grad():
        value.data = value.data.permute(3, 2, 0, 1).contiguous().permute(2, 3, 1, 0)


def _dense(layer) -> Call | None:
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
    if layer.data_format != "channels_first" or layer.padding != "valid":
        return None
    size, strides = tuple(layer.pool_size), tuple(layer.strides)
    return lambda x, **_: F.max_pool2d(x, size, strides)


def _activation_layer(layer) -> Call | None:
    activation = _activation(layer.activation)
    return None if activation is None else (lambda x, **_: activation(x))


def _relu_layer(layer) -> Call | None:
    if layer.max_value is not None or layer.negative_slope != 0 or layer.threshold != 0:
        return None
    return lambda x, **_: F.relu(x)


def _flatten(layer) -> Call | None:
    if layer.data_format != "channels_first":
        return None
    return lambda x, **_: _FlattenChannelsLast.apply(x) if x.ndim > 2 else x


class _FlattenChannelsLast(torch.autograd.Function):
    """Keras flattens channels-first maps in channels-last order, so weights load across formats.
    As a plain permute and reshape, the gradient would go back as a channels-last view of the map
    whatever the map's own layout, and for a contiguous map the ops behind it (max-pool, ReLU and
    batch norm backward) would each copy it back first. The gradient goes back in the map's layout."""

    @staticmethod
    def forward(ctx, x):
        ctx.map_shape = x.shape
        ctx.layout = (
            torch.channels_last
            if x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
            else torch.contiguous_format
        )
        return x.permute(0, *range(2, x.ndim), 1).reshape(x.shape[0], -1)

    @staticmethod
    def backward(ctx, grad):
        batch, channels, *spatial = ctx.map_shape
        grad = grad.reshape(batch, *spatial, channels).permute(0, -1, *range(1, len(spatial) + 1))
        return grad.contiguous(memory_format=ctx.layout)
