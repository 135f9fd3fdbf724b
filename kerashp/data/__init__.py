"""Datasets: where images come from (`tfds:NAME`, `folder:PATH`), how they are split and normalised.

Every source yields the same thing, a `Dataset` of uint8 NHWC arrays held in memory, so the
batches, the models and the reports never care where the pixels came from.

The package itself imports nothing heavy (its loaders come on first use): `check_preset_data`
runs before a command imports numpy, torch or keras, so a wrong path is refused in a blink.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from kerashp.data.checks import check_data_available, check_folder, check_preset_data

if TYPE_CHECKING:
    from kerashp.data.dataset import Dataset, ImageSet
    from kerashp.data.loading import load_dataset, load_preset_data

__all__ = [
    "Dataset", "ImageSet", "check_data_available", "check_folder", "check_preset_data", "load_dataset",
    "load_preset_data",
]  # fmt: skip
# name -> its module, imported on first use: they bring numpy, OpenCV and PIL
_HEAVY = {"Dataset": "dataset", "ImageSet": "dataset", "load_dataset": "loading", "load_preset_data": "loading"}


def __getattr__(name: str) -> object:
    if name in _HEAVY:
        return getattr(importlib.import_module(f"kerashp.data.{_HEAVY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
