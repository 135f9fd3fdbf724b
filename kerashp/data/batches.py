"""The training/evaluation data feed: a `keras.utils.PyDataset` over uint8 images.

Keras asks for the batches in order, in the training process (its own thread or process pool
would pickle every batch); with `workers` > 0 they are made ahead of time by worker processes
(`workers.WorkerPool`, started on the first batch and kept for every epoch), else here. Either
way `recipe.BatchRecipe` makes them, so the batches do not depend on the number of workers.
"""

from __future__ import annotations

import numpy as np
from keras.utils import PyDataset

from kerashp.data.augment import Augmenter
from kerashp.data.lazy import Images
from kerashp.data.mixing import MixSpec
from kerashp.data.recipe import CHANNELS_LAST, CONTIGUOUS, BatchRecipe, batch_seed
from kerashp.data.workers import WorkerPool

__all__ = ["CHANNELS_LAST", "CONTIGUOUS", "ImageBatches", "batch_seed"]


class ImageBatches(PyDataset):
    """Batches of (images, one-hot or mixed soft labels), NHWC or NCHW: normalised float32 images,
    or with `raw` the uint8 pixels, for the device to normalise with `recipe.scale` and `.offset`."""

    def __init__(
        self,
        images: Images,
        labels: np.ndarray,
        num_classes: int,
        batch_size: int,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        pipeline: Augmenter | None = None,
        mix: MixSpec | None = None,
        shuffle: bool = False,
        channels_first: bool = False,
        seed: int = 0,
        epoch: int = 0,
        workers: int = 0,
        raw: bool = False,
    ):
        super().__init__()  # Keras feeds it inline (its `workers` stays 1): the worker processes, if any, are ours
        self.images, self.processes = images, workers
        scale, offset = (1.0 / (255.0 * std)).astype(np.float32), (-mean / std).astype(np.float32)
        self.recipe = BatchRecipe(
            labels, num_classes, batch_size, scale, offset, pipeline, mix, shuffle, seed, channels_first, raw
        )
        self.layout = CONTIGUOUS
        self._pool: WorkerPool | None = None
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Position the feed at `epoch` (0-based): its shuffle order and random streams."""
        self.epoch = epoch
        self.order = self.recipe.order(epoch)

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)

    def __len__(self) -> int:
        return len(self.recipe)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        return self.batch(index, self.layout)

    def batch(self, index: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of this epoch in `layout`, which may differ from the model's: a GPU feed
        takes channels-first pixels in their stored order and lays them out on the GPU."""
        if not self.processes:
            return self.recipe.make(self.images, self.order, self.epoch, index, layout)
        if self._pool is None or not self._pool.alive:
            self._pool = WorkerPool(self.recipe, self.images, self.processes)
        return self._pool.get(self.epoch, index, layout)

    def close(self) -> None:
        """Stop the worker processes now rather than when the feed is collected."""
        if self._pool is not None:
            self._pool.close()
