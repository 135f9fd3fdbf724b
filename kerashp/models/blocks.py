"""Layer patterns the builders share, so each architecture only states its own shape.

Like LeNet-5, a layer followed by batch norm drops its bias (the norm's beta replaces it).
"""

from __future__ import annotations

from typing import TypedDict

import keras
from keras import layers

from kerashp.config.preset import ModelSection
from kerashp.models.layers import batch_normalization


class LayerStyle(TypedDict):
    """How each layer of a stack is finished: keyword arguments for the helpers below."""

    batch_norm: bool
    activation: str
    initializer: str


def layer_style(options: ModelSection) -> LayerStyle:
    """The `batch_norm`, `activation` and `initializer` options."""
    return {
        "batch_norm": options["batch_norm"],
        "activation": options["activation"],
        "initializer": options["initializer"],
    }


def normalize_activate(x, *, batch_norm: bool, activation: str | None):
    """Optional batch norm, then the activation (`None` leaves the output linear)."""
    if batch_norm:
        x = batch_normalization()(x)
    if activation:
        x = layers.Activation(activation)(x)
    return x


def conv(
    x, filters: int, kernel_size: int, *, strides: int = 1, batch_norm: bool, activation: str | None, initializer: str
):
    """Conv2D ("same" padding) -> [batch norm] -> [activation]."""
    x = layers.Conv2D(
        filters, kernel_size, strides=strides, padding="same", kernel_initializer=initializer, use_bias=not batch_norm
    )(x)
    return normalize_activate(x, batch_norm=batch_norm, activation=activation)


def dense_stack(x, widths: list[int], *, dropout: float, batch_norm: bool, activation: str, initializer: str):
    """Hidden Dense layers, each -> [batch norm] -> activation -> [dropout], as in VGG and AlexNet."""
    for units in widths:
        x = layers.Dense(units, kernel_initializer=initializer, use_bias=not batch_norm)(x)
        x = normalize_activate(x, batch_norm=batch_norm, activation=activation)
        if dropout:
            x = layers.Dropout(dropout)(x)
    return x


def classifier(inputs, x, num_classes: int, initializer: str, name: str) -> keras.Model:
    """Close the model with the Dense layer named "logits" (the loss applies the softmax)."""
    outputs = layers.Dense(num_classes, kernel_initializer=initializer, name="logits")(x)
    return keras.Model(inputs, outputs, name=name)
