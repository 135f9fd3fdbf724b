"""The training/evaluation data feed: a `keras.utils.PyDataset` over in-memory uint8 images.

Each batch's randomness (shuffle order, augmentation, mixup) is derived from (seed, epoch, batch
index) alone, so the same seed gives the same batches whatever the number of workers, threads or
processes, and a resumed run replays exactly the epochs it has not finished. Albumentations'
own `Compose(seed=...)` would give every worker the same stream; re-seeding per batch avoids that.

Channels-first batches come in the memory layout `kerashp.training.fast.layout` found fastest for the model:
plain NCHW, or torch's `channels_last` (NCHW shapes over the decoded images' NHWC bytes, a
transposed view rather than a copy).
"""

from __future__ import annotations

import copy
import math
import threading

import keras
import numpy as np

from kerashp.data.augment import seed_pipeline
from kerashp.data.lazy import Images
from kerashp.data.mixing import MixSpec, mix_batch

CONTIGUOUS = "contiguous"  # memory layouts a batch may come in (`kerashp.training.fast.layout` picks one)
CHANNELS_LAST = "channels_last"


def batch_seed(*key: int) -> int:
    """A 32-bit seed that depends on every part of `key` (seed, epoch, batch, stream)."""
    return int(np.random.SeedSequence(list(key)).generate_state(1)[0])


class ImageBatches(keras.utils.PyDataset):
    """Batches of (normalised float32 images, one-hot or mixed soft labels), NHWC or NCHW."""

    def __init__(
        self,
        images: Images,
        labels: np.ndarray,
        num_classes: int,
        batch_size: int,
        mean: np.ndarray,
        std: np.ndarray,
        *,
        pipeline=None,
        mix: MixSpec | None = None,
        shuffle: bool = False,
        channels_first: bool = False,
        seed: int = 0,
        epoch: int = 0,
        workers: int = 1,
        use_multiprocessing: bool = False,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing)
        self.images, self.labels = images, labels
        self.num_classes, self.batch_size = num_classes, batch_size
        self.scale = (1.0 / (255.0 * std)).astype(np.float32)
        self.offset = (-mean / std).astype(np.float32)
        self.pipeline, self.mix = pipeline, mix
        self.shuffle, self.seed = shuffle, seed
        self.channels_first = channels_first
        self.layout = CONTIGUOUS
        self._local = threading.local()
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        """Position the feed at `epoch` (0-based): its shuffle order and random streams."""
        self.epoch = epoch
        if self.shuffle:
            self.order = np.random.default_rng(batch_seed(self.seed, epoch)).permutation(len(self.labels))
        else:
            self.order = np.arange(len(self.labels))

    def on_epoch_end(self) -> None:
        self.set_epoch(self.epoch + 1)

    def __len__(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index: int):
        picked = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images = self.images[picked]
        if self.pipeline is not None:
            images = self._augment(images, batch_seed(self.seed, self.epoch, index, 1))
        y = np.eye(self.num_classes, dtype=np.float32)[self.labels[picked]]
        if self.mix is None and self.channels_first and self.layout == CONTIGUOUS:
            return self._normalize(images.transpose(0, 3, 1, 2), channel_axis=1), y  # moves uint8 bytes, not floats
        x = self._normalize(images, channel_axis=3)
        if self.mix is not None:
            x, y = mix_batch(x, y, self.mix, np.random.default_rng(batch_seed(self.seed, self.epoch, index, 2)))
        if self.channels_first:
            x = x.transpose(0, 3, 1, 2)  # a view: torch's channels_last memory format
            if self.layout == CONTIGUOUS:
                x = np.ascontiguousarray(x)
        return x, y

    def _normalize(self, images: np.ndarray, channel_axis: int) -> np.ndarray:
        """(images / 255 - mean) / std as float32, written once into a new C-ordered array."""
        shape = [1] * images.ndim
        shape[channel_axis] = -1
        x = np.empty(images.shape, np.float32)
        np.multiply(images, self.scale.reshape(shape), out=x)
        x += self.offset.reshape(shape)
        return x

    def _augment(self, images: np.ndarray, seed: int) -> np.ndarray:
        pipeline = getattr(self._local, "pipeline", None)
        if pipeline is None:  # one copy per thread: the pipeline and its transforms hold RNG state
            pipeline = self._local.pipeline = copy.deepcopy(self.pipeline)
        seed_pipeline(pipeline, seed)
        return pipeline.augment_batch(images)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_local"] = None  # thread-locals do not cross process boundaries
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._local = threading.local()
