"""VGG-11/13/16/19 (Simonyan & Zisserman) for 32x32 input: five 3x3-conv stages, each closed by 2x2 max-pooling.

Five poolings take 32x32 to a 1x1x512 map, so the dense part starts from 512 features. The LeNet-5
study's modified VGG-19 (the catalog defaults) used ELU, Glorot normal init and dense
4096 -> 1024 -> 128 -> classes with dropout 0.5.
"""

from __future__ import annotations

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.blocks import classifier, conv, dense_stack, layer_style

STAGE_FILTERS = (64, 128, 256, 512, 512)
# depth -> convolutions per stage; depth = convolutions + 3 dense layers
CONVS_PER_STAGE = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}


def build(options: ModelSection, input_shape: tuple[int, int, int], num_classes: int) -> keras.Model:
    style = layer_style(options)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for filters, convs in zip(STAGE_FILTERS, CONVS_PER_STAGE[options["depth"]], strict=True):
        for _ in range(convs):
            x = conv(x, filters, 3, **style)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = dense_stack(x, options["dense"], dropout=options["dropout"], **style)
    return classifier(inputs, x, num_classes, options["initializer"], name=f"vgg{options['depth']}")
