"""The in-memory dataset every source produces (`kerashp.data.loading` picks the source)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kerashp.data.classes import excluded_classes
from kerashp.data.lazy import Images, LazyImages

Progress = Callable[[str, int, int], None]  # (what, done, total)


@dataclass
class ImageSet:
    images: Images  # lazy for streamed sources
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
        """Drop whole classes (like Caltech101's background) and renumber the rest from 0; names
        match as `excluded_classes` says (any case; one the data lacks is warned of)."""
        names = excluded_classes(names, self.class_names, self.source)
        kept = [i for i, name in enumerate(self.class_names) if name not in names]
        relabel = np.full(len(self.class_names), -1)
        relabel[kept] = np.arange(len(kept))

        def keep(part: ImageSet) -> ImageSet:
            subset = part.subset(np.flatnonzero(np.isin(part.labels, kept)))
            return ImageSet(subset.images, relabel[subset.labels])

        return Dataset(self.source, keep(self.train), keep(self.test), [self.class_names[i] for i in kept])
