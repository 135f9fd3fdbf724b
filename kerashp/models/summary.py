"""Per-layer output shape, parameters and multiply-accumulate operations (MACs) of a preset's model.

MACs are counted for one image's forward pass through the layers that multiply by weights:
convolutions (1D/2D/3D, grouped), depthwise and separable convolutions, and Dense (once per
position when its input has more than one axis). Biases, batch norm (at inference it folds into
the layer before), pooling, activations and additions count 0. For LeNet-5 without batch norm
this gives the LeNet-5 study's hand computation: 62,006 parameters and 651,720 MACs.

Image shapes are given as (height, width, channels), the order --input-shape takes, although
kerashp builds its models channels-first.

keras is imported only once the data source has been glanced at, so a bad source is refused at once.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kerashp.backend import use_torch_backend
from kerashp.config.preset import Preset
from kerashp.data.glance import preset_input
from kerashp.models import build_model

if TYPE_CHECKING:
    import keras


@dataclass
class LayerRow:
    name: str
    kind: str
    output_shape: tuple  # without the batch axis; an image's as (H, W, C)
    parameters: int
    macs: int
    depth: int = 0  # nesting level inside sub-models


@dataclass
class ModelSummary:
    name: str
    input_shape: tuple[int, int, int]
    num_classes: int
    rows: list[LayerRow]
    parameters: int  # as Keras counts them, batch-norm moving statistics included
    trainable: int

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.rows if row.depth == 0)


def layer_macs(layer: keras.layers.Layer) -> int:
    """Multiply-accumulates of one forward pass of `layer` for one example (0 for weightless layers)."""
    import keras

    separable, depthwise, convolutions = _convolution_kinds()
    if isinstance(layer, keras.Model):
        return sum(layer_macs(inner) for inner in layer.layers)
    weighted: tuple[type[Any], ...] = (keras.layers.Dense, *convolutions)
    if not isinstance(layer, weighted):
        return 0
    inputs, outputs = _shape(layer.input), _shape(layer.output)
    channel = 0 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1
    in_channels = inputs[channel]
    positions = math.prod(outputs) // outputs[channel]  # output pixels (or rows, for Dense)
    if isinstance(layer, keras.layers.Dense):
        return positions * in_channels * layer.units
    kernel = math.prod(layer.kernel_size)
    if isinstance(layer, separable):
        expanded = in_channels * layer.depth_multiplier
        return positions * (kernel * expanded + expanded * layer.filters)
    if isinstance(layer, depthwise):
        return positions * kernel * in_channels * layer.depth_multiplier
    return positions * outputs[channel] * kernel * in_channels // layer.groups


@functools.cache
def _convolution_kinds() -> tuple[tuple[type[Any], ...], tuple[type[Any], ...], tuple[type[Any], ...]]:
    """(separable, depthwise, all) convolution layer classes."""
    from keras import layers

    separable = (layers.SeparableConv1D, layers.SeparableConv2D)
    depthwise = (layers.DepthwiseConv1D, layers.DepthwiseConv2D)
    return separable, depthwise, (layers.Conv1D, layers.Conv2D, layers.Conv3D, *separable, *depthwise)


def _shape(tensor) -> tuple[int, ...]:
    first = tensor[0] if isinstance(tensor, (list, tuple)) else tensor
    return tuple(first.shape[1:])


def layer_rows(model: keras.Model, depth: int = 0, channels_first: bool = False) -> list[LayerRow]:
    """One row per layer, sub-models followed by their own layers one level deeper."""
    import keras

    rows = []
    for layer in model.layers:
        shape = _hwc(_shape(layer.output), channels_first)
        rows.append(LayerRow(layer.name, type(layer).__name__, shape, layer.count_params(), layer_macs(layer), depth))
        if isinstance(layer, keras.Model):
            rows += layer_rows(layer, depth + 1, channels_first)
    return rows


def trainable_parameters(model: keras.Model) -> int:
    """The parameters a study counts: the weights training changes, without batch norm's moving
    statistics (which Keras's `count_params` includes) or a frozen base."""
    return sum(math.prod(weight.shape) for weight in model.trainable_weights)


def summarize(model: keras.Model) -> ModelSummary:
    trainable = trainable_parameters(model)
    channels_first = _channels_first(model)
    input_shape = _hwc(_shape(model.inputs), channels_first)
    num_classes = _shape(model.outputs)[-1]
    return ModelSummary(
        model.name, input_shape, num_classes, layer_rows(model, 0, channels_first), model.count_params(), trainable
    )


def _channels_first(model: keras.Model) -> bool:
    """Whether the model's image layers (any of them, sub-models included) put channels first."""
    import keras

    return any(
        getattr(layer, "data_format", None) == "channels_first"
        or (isinstance(layer, keras.Model) and _channels_first(layer))
        for layer in model.layers
    )


def _hwc(shape: tuple, channels_first: bool) -> tuple:
    """An image shape (C, H, W) of a channels-first model as (H, W, C); other shapes as they are."""
    return (*shape[1:], shape[0]) if channels_first and len(shape) == 3 else shape


def summarize_preset(
    preset: Preset, input_shape: tuple[int, int, int] | None = None, num_classes: int | None = None
) -> ModelSummary:
    """The model `preset` trains, for its data's image size and classes unless given.

    Pretrained bases are built without downloading their weights: the layers are the same."""
    if input_shape is None or num_classes is None:
        data_shape, data_classes = preset_input(preset)
        input_shape, num_classes = input_shape or data_shape, num_classes or data_classes
    options = preset["model"].copy()
    if "weights" in options:
        options["weights"] = "none"
    use_torch_backend()
    return summarize(build_model(options["name"], options, input_shape, num_classes))
