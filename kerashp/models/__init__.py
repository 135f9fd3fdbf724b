"""Model builders by name (the table of them is `kerashp.config.model_table.MODELS`). `build_model`
imports keras lazily, so importing this package stays light."""

from __future__ import annotations

import importlib

from kerashp.config.model_table import (
    MODELS,
    native_input_size,  # noqa: F401  (re-exported: models' own fact)
)
from kerashp.config.preset import ModelSection

# kerashp builds every model channels-first: on the torch backend a channels-last model transposes
# its activations to NCHW and back around every convolution and pooling layer.
DATA_FORMAT = "channels_first"


def build_model(name: str, options: ModelSection, image_shape: tuple[int, int, int], num_classes: int):
    """Build an uncompiled `keras.Model` for `name` with the preset's `[model]` options.

    `image_shape` is (height, width, channels); the model takes batches in `DATA_FORMAT`.
    """
    import keras

    height, width, channels = image_shape
    input_shape = (channels, height, width) if DATA_FORMAT == "channels_first" else (height, width, channels)
    entry = MODELS[name]
    module = importlib.import_module(f"kerashp.models.{entry.module}")
    previous = keras.config.image_data_format()
    keras.config.set_image_data_format(DATA_FORMAT)  # layers keep the format they were built with
    try:
        return getattr(module, entry.builder)(options, input_shape, num_classes)
    finally:
        keras.config.set_image_data_format(previous)
