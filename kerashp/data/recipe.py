"""How batch `index` of epoch `epoch` is made: a pure function of (seed, epoch, batch index).

Shared by the feed in the training process (`batches.ImageBatches`) and its worker processes
(`workers`), so a batch comes out the same bytes wherever it is made. Imports neither keras nor
torch: the worker processes import this module, and should start in a blink.

Each batch's randomness (shuffle order, augmentation, mixup) is derived from (seed, epoch, batch
index) alone, so the same seed gives the same batches whatever the number of workers, and a resumed
run replays exactly the epochs it has not finished. Albumentations' own `Compose(seed=...)` would
give every worker the same stream; re-seeding per batch avoids that.

Channels-first batches come in the memory layout `kerashp.training.fast.layout` found fastest for
the model: plain NCHW, or torch's `channels_last` (NCHW shapes over NHWC bytes, a transposed view
rather than a copy).

A `raw` recipe (no mixing) hands over the uint8 pixels and leaves `scale` and `offset` to the device
the batch lands on (`kerashp.training.device.DeviceBatches`): a GPU normalises a batch in
microseconds, and a quarter of the bytes cross the bus.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kerashp.data.augment import Augmenter, seed_pipeline
from kerashp.data.lazy import Images
from kerashp.data.mixing import MixSpec, mix_batch

CONTIGUOUS = "contiguous"  # memory layouts a batch may come in (`kerashp.training.fast.layout` picks one)
CHANNELS_LAST = "channels_last"


def batch_seed(*key: int) -> int:
    """A 32-bit seed that depends on every part of `key` (seed, epoch, batch, stream)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


@dataclass
class BatchRecipe:
    """Everything but the pixels that decides a batch: labels, scale, augmentation, mixing, order."""

    labels: np.ndarray
    num_classes: int
    batch_size: int
    scale: np.ndarray  # 1 / (255 std), per channel
    offset: np.ndarray  # -mean / std, per channel
    pipeline: Augmenter | None = None
    mix: MixSpec | None = None
    shuffle: bool = False
    seed: int = 0
    channels_first: bool = False
    raw: bool = False  # uint8 pixels, normalised where they land (only without mixing)

    def __post_init__(self) -> None:
        if self.raw and self.mix is not None:
            raise ValueError("a mixing recipe makes float pixels: it cannot hand over raw ones")

    @property
    def pixel_dtype(self) -> type[np.generic]:
        return np.uint8 if self.raw else np.float32

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The order in which epoch `epoch` visits the images."""
        if self.shuffle:
            return np.random.default_rng(batch_seed(self.seed, epoch)).permutation(len(self.labels))
        return np.arange(len(self.labels))

    def stored_shape(self, rows: int, image_shape: tuple[int, ...], layout: str) -> tuple[int, ...]:
        """The C-ordered shape of a batch's bytes: NCHW when it is fed so, else NHWC."""
        height, width, channels = image_shape
        if self.channels_first and layout == CONTIGUOUS:
            return (rows, channels, height, width)
        return (rows, height, width, channels)

    def as_fed(self, stored: np.ndarray, layout: str) -> np.ndarray:
        """A batch's bytes (see `stored_shape`) viewed as the model takes them."""
        if self.channels_first and layout == CHANNELS_LAST:
            return stored.transpose(0, 3, 1, 2)  # a view: torch's channels_last memory format
        return stored

    def stored(self, x: np.ndarray, layout: str) -> np.ndarray:
        """`x` (as fed) viewed in the order of its bytes, `stored_shape` (undoes `as_fed`)."""
        if self.channels_first and layout == CHANNELS_LAST:
            return x.transpose(0, 2, 3, 1)
        return x

    def make(
        self, images: Images, order: np.ndarray, epoch: int, index: int, layout: str
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of epoch `epoch` (whose visiting `order` is given): (images, labels), the
        images normalised float32, or uint8 when the recipe is `raw`."""
        picked = order[index * self.batch_size : (index + 1) * self.batch_size]
        pixels = images[picked]  # a copy, which augmentation may change in place
        if self.pipeline is not None:
            seed_pipeline(self.pipeline, batch_seed(self.seed, epoch, index, 1))
            pixels = self.pipeline.augment_batch(pixels)
        y = np.eye(self.num_classes, dtype=np.float32)[self.labels[picked]]
        if self.raw:
            return self._in_layout(pixels, layout), y
        if self.mix is None and self.channels_first and layout == CONTIGUOUS:
            return self._normalize(pixels.transpose(0, 3, 1, 2), channel_axis=1), y  # moves uint8 bytes, not floats
        x = self._normalize(pixels, channel_axis=3)
        if self.mix is not None:
            x, y = mix_batch(x, y, self.mix, np.random.default_rng(batch_seed(self.seed, epoch, index, 2)))
        return self._in_layout(x, layout), y

    def _in_layout(self, x: np.ndarray, layout: str) -> np.ndarray:
        """NHWC images as the model takes them in `layout` (see `as_fed`)."""
        if self.channels_first:
            x = x.transpose(0, 3, 1, 2)
            if layout == CONTIGUOUS:
                x = np.ascontiguousarray(x)
        return x

    def _normalize(self, images: np.ndarray, channel_axis: int) -> np.ndarray:
        """(images / 255 - mean) / std as float32, written once into a new C-ordered array."""
        shape = [1] * images.ndim
        shape[channel_axis] = -1
        x = np.empty(images.shape, np.float32)
        np.multiply(images, self.scale.reshape(shape), out=x)
        x += self.offset.reshape(shape)
        return x
