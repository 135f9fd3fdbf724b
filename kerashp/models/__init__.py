"""Model builders by name. `build_model` imports keras lazily; the catalog stays light."""

from __future__ import annotations

import importlib

# model name -> module in this package that defines `build(options, input_shape, num_classes)`
_BUILDERS = {
    "lenet5": "lenet",
}


def build_model(name: str, options: dict, input_shape: tuple[int, int, int], num_classes: int):
    """Build an uncompiled `keras.Model` for `name` with the preset's `[model]` options."""
    module = importlib.import_module(f"kerashp.models.{_BUILDERS[name]}")
    return module.build(options, input_shape, num_classes)
