"""Images decoded on demand, for datasets too large to hold decoded in memory, and the
`data.cache` policy that decides when a source streams.

Behaves like the uint8 array it stands for wherever kerashp indexes images: `len`, `.shape`,
`images[index_array]` (decodes just those), `images[a:b]` and `subset(indices)` (stays lazy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

import numpy as np

STREAM_ABOVE_BYTES = 4 * 2**30  # `cache = "auto"` streams datasets larger than this once decoded


def should_stream(cache: str, count: int, image_bytes: Callable[[], int]) -> bool:
    """`data.cache`: "stream" or "memory" as asked; "auto" streams when `count` images of
    `image_bytes()` each (decoded only for "auto") would not comfortably fit in memory."""
    if cache != "auto":
        return cache == "stream"
    return image_bytes() * count > STREAM_ABOVE_BYTES


Item = TypeVar("Item")  # what `decode` makes one image from: a file's path, an example's index


class LazyImages(Generic[Item]):
    def __init__(self, items: Sequence[Item], decode: Callable[[Item], np.ndarray], image_shape: tuple[int, ...]):
        self.items = list(items)
        self.decode = decode
        self.image_shape = tuple(image_shape)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.items), *self.image_shape)

    @property
    def dtype(self):
        return np.dtype(np.uint8)

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            key = range(*key.indices(len(self.items)))
        if isinstance(key, (int, np.integer)):
            return self.decode(self.items[key])
        images = [self.decode(self.items[i]) for i in key]
        return np.stack(images) if images else np.zeros((0, *self.image_shape), np.uint8)

    def subset(self, indices: np.ndarray) -> LazyImages[Item]:
        return LazyImages([self.items[i] for i in indices], self.decode, self.image_shape)


Images = np.ndarray | LazyImages  # uint8, (N, H, W, C): held in memory, or decoded on demand
