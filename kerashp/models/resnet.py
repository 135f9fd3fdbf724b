"""CIFAR ResNet (He et al. 2016) of basic blocks: a stem convolution, then one stage per entry of `stages`.

Every stage after the first halves the map in its first block. A block's skip connection is the
identity, or a 1x1 convolution with batch norm where the shape changes (as in the common PyTorch
CIFAR ResNet-18, whose parameter count this reproduces). `skip_pool` is the 5M-parameter study's
variant: a max-pool with stride 1 over `kernel_size` x `kernel_size` before that 1x1 convolution,
so a strided skip keeps each neighbourhood's maximum instead of dropping 3 of every 4 pixels.
Pooling has no weights, so it leaves the parameter count unchanged.
"""

from __future__ import annotations

from functools import partial

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.errors import UserError
from kerashp.models.blocks import classifier, conv
from kerashp.models.layers import channel_axis
from kerashp.text import shown_value


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    stages = options["stages"]
    counts = _blocks_per_stage(options["blocks"], stages)
    block = partial(
        _basic_block,
        kernel_size=options["kernel_size"],
        skip_pool=options["skip_pool"],
        activation=options["activation"],
        initializer=options["initializer"],
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv(
        inputs,
        stages[0],
        options["kernel_size"],
        batch_norm=True,
        activation=options["activation"],
        initializer=options["initializer"],
    )
    for stage, (filters, count) in enumerate(zip(stages, counts, strict=True)):
        for index in range(count):
            x = block(x, filters, strides=2 if stage and not index else 1)
    x = layers.GlobalAveragePooling2D()(x)
    return classifier(inputs, x, num_classes, options["initializer"], name="resnet")


def _basic_block(
    x, filters: int, *, strides: int, kernel_size: int, skip_pool: bool, activation: str, initializer: str
):
    """Two convolutions added to the skip connection, then the activation."""
    conv_bn = partial(conv, batch_norm=True, initializer=initializer)
    skip = x
    if strides != 1 or x.shape[channel_axis()] != filters:
        if skip_pool:
            skip = layers.MaxPooling2D(kernel_size, strides=1, padding="same")(skip)
        skip = conv_bn(skip, filters, 1, strides=strides, activation=None)
    x = conv_bn(x, filters, kernel_size, strides=strides, activation=activation)
    x = conv_bn(x, filters, kernel_size, activation=None)
    return layers.Activation(activation)(layers.Add()([skip, x]))


def _blocks_per_stage(blocks: int | list[int], stages: list[int]) -> list[int]:
    """`blocks` as one count per stage: a single number applies to every stage."""
    if not stages:
        raise UserError("model.stages = []: expected at least one stage width")
    counts = [blocks] * len(stages) if isinstance(blocks, int) else blocks
    if len(counts) != len(stages):
        raise UserError(
            f"model.blocks = {shown_value(blocks)}: expected one count per stage of "
            f"model.stages = {shown_value(stages)}, or a single count for every stage"
        )
    return counts
