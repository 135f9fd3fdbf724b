"""AlexNet (Krizhevsky et al. 2012) as one tower for 224x224 input: five convolutions, then dense layers.

The first convolution pads "same" so 224x224 reaches the classic 6x6x256 map (56 -> 27 -> 13 -> 6)
that the original got from 227x227. Local response normalization is left out; `batch_norm` is its
modern stand-in.
"""

from __future__ import annotations

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.blocks import classifier, conv, dense_stack, layer_style

# (filters, kernel, stride, max-pool after)
CONVS = ((96, 11, 4, True), (256, 5, 1, True), (384, 3, 1, False), (384, 3, 1, False), (256, 3, 1, True))


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    style = layer_style(options)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for filters, kernel_size, strides, pool in CONVS:
        x = conv(x, filters, kernel_size, strides=strides, **style)
        if pool:
            x = layers.MaxPooling2D(3, strides=2)(x)
    x = layers.Flatten()(x)
    x = dense_stack(x, options["dense"], dropout=options["dropout"], **style)
    return classifier(inputs, x, num_classes, options["initializer"], name="alexnet")
