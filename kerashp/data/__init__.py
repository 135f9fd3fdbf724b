"""Datasets: where images come from (`tfds:NAME`, `folder:PATH`), how they are split and normalised.

Every source yields the same thing, a `Dataset` of uint8 NHWC arrays held in memory, so the
generator, the models and the reports never care where the pixels came from.
"""

from kerashp.data.dataset import Dataset, ImageSet, load_dataset, load_preset_data

__all__ = ["Dataset", "ImageSet", "load_dataset", "load_preset_data"]
