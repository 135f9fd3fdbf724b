"""A fully connected network on the flattened image: `hidden = [50, 30, 20, 20]` gives 3072-50-30-20-20-classes."""

from __future__ import annotations

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.blocks import classifier, dense_stack, layer_style


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Flatten()(inputs)
    x = dense_stack(x, options["hidden"], dropout=options["dropout"], **layer_style(options))
    return classifier(inputs, x, num_classes, options["initializer"], name="mlp")
