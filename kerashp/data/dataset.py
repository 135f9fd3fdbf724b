"""The in-memory dataset every source produces, and `load_dataset` that dispatches on the source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kerashp.config.model_table import native_input_size
from kerashp.data.lazy import LazyImages
from kerashp.errors import DataError

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class ImageSet:
    images: np.ndarray | LazyImages  # uint8, (N, H, W, C); lazy for streamed folders
    labels: np.ndarray  # int64, (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> ImageSet:
        images = self.images.subset(indices) if isinstance(self.images, LazyImages) else self.images[indices]
        return ImageSet(images, self.labels[indices])


@dataclass
class Dataset:
    source: str
    train: ImageSet
    test: ImageSet
    class_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])

    def without_classes(self, names: list[str]) -> Dataset:
        """Drop whole classes (like Caltech101's background) and renumber the rest from 0."""
        unknown = sorted(set(names) - set(self.class_names))
        if unknown:
            raise DataError(
                f"data.exclude_classes: {', '.join(unknown)} not in {self.source} "
                f"(classes: {', '.join(self.class_names)})"
            )
        kept = [i for i, name in enumerate(self.class_names) if name not in names]
        relabel = np.full(len(self.class_names), -1)
        relabel[kept] = np.arange(len(kept))

        def keep(part: ImageSet) -> ImageSet:
            subset = part.subset(np.flatnonzero(np.isin(part.labels, kept)))
            return ImageSet(subset.images, relabel[subset.labels])

        return Dataset(self.source, keep(self.train), keep(self.test), [self.class_names[i] for i in kept])


def load_dataset(
    source: str,
    image_size: list[int] | None = None,
    progress: Progress | None = None,
    *,
    split_lists: tuple[str, str] = ("", ""),
    cache: str = "auto",
) -> Dataset:
    """Load `tfds:NAME` or `folder:PATH` (see the preset's `[data]` keys), resized if asked."""
    kind, _, target = source.partition(":")
    if not target:
        raise DataError(f'data.source = "{source}": expected tfds:NAME or folder:PATH')
    size = tuple(image_size) if image_size else None
    if kind == "tfds":
        from kerashp.data.sources.tfds import load_tfds

        return load_tfds(target, size, progress, cache=cache)
    if kind == "folder":
        from kerashp.data.sources.folder import load_folder

        return load_folder(target, size, progress, split_lists=split_lists, cache=cache)
    raise DataError(f"data.source = \"{source}\": unknown source kind '{kind}'; allowed: tfds, folder")


def load_preset_data(preset: dict, progress: Progress | None = None) -> Dataset:
    """The dataset a preset's `[data]` section describes, at the size its model needs."""
    data = preset["data"]
    native = native_input_size(preset["model"]["name"])
    dataset = load_dataset(
        data["source"],
        data["image_size"] or ([native, native] if native else None),
        progress,
        split_lists=(data["train_list"], data["test_list"]),
        cache=data["cache"],
    )
    return dataset.without_classes(data["exclude_classes"]) if data["exclude_classes"] else dataset
