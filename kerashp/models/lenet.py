"""The modified LeNet-5 of the LeNet-5 study: two 5x5 convolutions with max-pooling, then 120-84-classes.

Without batch norm it has exactly 62,006 parameters and 651,720 multiply-accumulates per 32x32x3
image, the figures the study computed by hand.
"""

from __future__ import annotations

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.layers import batch_normalization


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    init = options["initializer"]
    batch_norm = options["batch_norm"]

    def activate(x):
        if batch_norm:
            x = batch_normalization()(x)
        return layers.Activation(options["activation"])(x)

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for filters in (6, 16):
        x = layers.Conv2D(filters, 5, kernel_initializer=init, use_bias=not batch_norm)(x)
        x = activate(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    for units in (120, 84):
        if options["dropout"]:
            x = layers.Dropout(options["dropout"])(x)
        x = layers.Dense(units, kernel_initializer=init, use_bias=not batch_norm)(x)
        x = activate(x)
    outputs = layers.Dense(num_classes, kernel_initializer=init, name="logits")(x)
    return keras.Model(inputs, outputs, name="lenet5")
