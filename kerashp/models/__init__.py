"""Model builders by name. `build_model` imports keras lazily; the catalog stays light."""

from __future__ import annotations

import importlib

# model name -> (module in this package, its function `(options, input_shape, num_classes) -> keras.Model`)
_BUILDERS = {
    "lenet5": ("lenet", "build"),
    "vgg": ("vgg", "build"),
    "mobilenet": ("mobilenet", "build"),
    "resnet": ("resnet", "build"),
    "mlp": ("mlp", "build"),
    "alexnet": ("alexnet", "build"),
    "vgg16": ("transfer", "vgg16"),
    "resnet50": ("transfer", "resnet50"),
    "mobilenet_v2": ("transfer", "mobilenet_v2"),
}

# Models built for ImageNet-sized input; the data pipeline resizes images to this side.
_NATIVE_INPUT_SIZE = {"alexnet": 224, "vgg16": 224, "resnet50": 224, "mobilenet_v2": 224}


def build_model(name: str, options: dict, input_shape: tuple[int, int, int], num_classes: int):
    """Build an uncompiled `keras.Model` for `name` with the preset's `[model]` options."""
    module_name, function = _BUILDERS[name]
    module = importlib.import_module(f"kerashp.models.{module_name}")
    return getattr(module, function)(options, input_shape, num_classes)


def native_input_size(name: str) -> int | None:
    """The square input side `name` is designed for, or None when it takes images at their own size."""
    return _NATIVE_INPUT_SIZE.get(name)
