"""MobileNet v1 (Howard et al. 2017) adapted to 32x32 input, with width multiplier `alpha`.

The ImageNet network strides its stem and four of its 13 depthwise-separable blocks (224 -> 7).
On 32x32 that leaves a 1x1 map after the fourth block's stride, so here the stem and the first
stride-2 block keep stride 1: the three remaining stride-2 blocks give 32 -> 16 -> 8 -> 4, the same
4x4 final map as the CIFAR ResNets. The layers, and so the parameter count, are the ImageNet ones.
"""

from __future__ import annotations

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.blocks import LayerStyle, classifier, conv, normalize_activate

STEM_FILTERS = 32
# (pointwise filters, stride) of the 13 depthwise-separable blocks
SEPARABLE_BLOCKS = ((64, 1), (128, 1), (128, 1), (256, 2), (256, 1), (512, 2), *[(512, 1)] * 5, (1024, 2), (1024, 1))


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    alpha, activation, init = options["alpha"], options["activation"], options["initializer"]
    style: LayerStyle = {"batch_norm": True, "activation": activation, "initializer": init}
    inputs = keras.Input(shape=input_shape, name="image")
    x = conv(inputs, _width(STEM_FILTERS, alpha), 3, **style)
    for filters, strides in SEPARABLE_BLOCKS:
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", depthwise_initializer=init, use_bias=False)(x)
        x = normalize_activate(x, batch_norm=True, activation=activation)
        x = conv(x, _width(filters, alpha), 1, **style)
    x = layers.GlobalAveragePooling2D()(x)
    if options["dropout"]:
        x = layers.Dropout(options["dropout"])(x)
    return classifier(inputs, x, num_classes, init, name="mobilenet")


def _width(filters: int, alpha: float) -> int:
    """Channels after the width multiplier, rounded down as keras.applications.MobileNet does."""
    return max(1, int(filters * alpha))
