"""A run's data feeds: the preset's data, split, normalised and batched for Keras `fit`.

The split and the normalisation are saved in the run folder, so a resumed run feeds exactly the
images, in exactly the scale, that it began with.

The decoded and split images are kept for the next run in this process with the same data settings
(a search's trials, a study's variants run here): decoding is then paid once, not per run. One
entry only, so memory stays flat; its arrays are read-only, so no feed can change another's images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch

from kerashp.config import Preset
from kerashp.data import load_preset_data
from kerashp.data.augment import build_pipeline
from kerashp.data.batches import ImageBatches
from kerashp.data.dataset import ImageSet
from kerashp.data.glance import preset_image_size
from kerashp.data.lazy import Images
from kerashp.data.mixing import MixSpec
from kerashp.data.normalize import normalization
from kerashp.data.split import preset_split
from kerashp.data.workers import can_reach, shared_memory_free, shared_memory_needed
from kerashp.events import Listener, Progress
from kerashp.models import DATA_FORMAT
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, replace_atomically, write_json
from kerashp.training.device import normalizes_on_device


@dataclass
class Feeds:
    train: ImageBatches
    validation: ImageBatches | None
    test: ImageBatches
    input_shape: tuple[int, int, int]
    num_classes: int
    split: dict[str, np.ndarray]  # training-set indices of the train and validation parts
    normalization: dict[str, Any]  # mode, mean, std

    def save(self, run: RunDir) -> None:
        """Record the split and the normalisation in the run, so a resumed run uses the same."""
        train, validation = self.split["train"], self.split["validation"]
        replace_atomically(
            run.path / "split.npz", lambda temp: np.savez_compressed(temp, train=train, validation=validation)
        )
        write_json(run.path / "normalization.json", self.normalization)

    def close(self) -> None:
        """Stop the training feed's worker processes now (else they stop when it is collected)."""
        self.train.close()

    def use_layout(self, layout: str) -> None:
        """Feed every batch in `layout` (see kerashp.training.fast.layout)."""
        for feed in (self.train, self.validation, self.test):
            if feed is not None:
                feed.layout = layout


def build_feeds(preset: Preset, emit: Listener, saved: dict[str, Any] | None = None, initial_epoch: int = 0) -> Feeds:
    """Data -> split -> normalisation -> batches, exactly as the preset says; `saved` is the
    normalisation a resumed run began with (statistics computed on the data are reused, not redone)."""
    train_cfg = preset["train"]
    data = _prepared_data(preset, emit)
    if saved is None:
        mean, std = data.statistics
    else:
        mean, std = np.asarray(saved["mean"], np.float32), np.asarray(saved["std"], np.float32)
    height, width = data.image_shape[:2]
    common: dict[str, Any] = dict(  # what every feed shares
        num_classes=data.num_classes,
        batch_size=train_cfg["batch_size"],
        mean=mean,
        std=std,
        channels_first=DATA_FORMAT == "channels_first",
        raw=normalizes_on_device(mixes=False, worker_processes=False),  # torch normalises uint8 batches
    )
    pipeline = build_pipeline(preset["augment"], height, width, seed=preset["seed"])
    mix = MixSpec.from_augment(preset["augment"])
    cheap = pipeline is None and mix is None and isinstance(data.train.images, np.ndarray)
    workers = feed_workers(train_cfg["workers"], cheap, data.train.images, train_cfg["batch_size"], data.num_classes)
    feed = ImageBatches(
        data.train.images,
        data.train.labels,
        pipeline=pipeline,
        mix=mix,
        shuffle=True,
        seed=preset["seed"],
        epoch=initial_epoch,
        workers=workers,
        **(common | {"raw": normalizes_on_device(mixes=mix is not None, worker_processes=workers > 0)}),
    )
    validation = (
        ImageBatches(data.validation.images, data.validation.labels, **common) if len(data.validation) else None
    )
    test = ImageBatches(data.test.images, data.test.labels, **common)
    stats = {"mode": preset["data"]["normalize"], "mean": mean.tolist(), "std": std.tolist()}
    split = {"train": data.train_indices, "validation": data.validation_indices}
    return Feeds(feed, validation, test, data.image_shape, data.num_classes, split, stats)


class PreparedData:
    """The images a preset's data settings decide, decoded, split and read-only."""

    def __init__(self, preset: Preset, emit: Listener):
        dataset = load_preset_data(preset, lambda what, done, total: emit(Progress(what, done, total)))
        self.train_indices, self.validation_indices = preset_split(preset, dataset.train.labels)
        self.train = _read_only(dataset.train.subset(self.train_indices))
        self.validation = _read_only(dataset.train.subset(self.validation_indices))
        self.test = _read_only(dataset.test)
        self.image_shape, self.num_classes = dataset.image_shape, dataset.num_classes
        self._data_section = preset["data"]
        for indices in (self.train_indices, self.validation_indices):
            indices.flags.writeable = False

    @cached_property
    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) as `data.normalize` asks, computed on the training part once."""
        return normalization(self._data_section, self.train.images)


_kept: tuple[str, PreparedData] | None = None  # (data settings, their data): the last run's


def _prepared_data(preset: Preset, emit: Listener) -> PreparedData:
    """The preset's data: the last run's, when its data settings were the same, else loaded now
    (after letting go of the last, so two datasets are never held at once)."""
    global _kept
    key = json.dumps([preset["data"], preset["seed"], preset_image_size(preset)], sort_keys=True)
    if _kept is None or _kept[0] != key:
        _kept = None
        _kept = key, PreparedData(preset, emit)
    return _kept[1]


def _read_only(part: ImageSet) -> ImageSet:
    for array in (part.images, part.labels):
        if isinstance(array, np.ndarray):
            array.flags.writeable = False
    return part


def saved_normalization(run: RunDir) -> dict[str, Any] | None:
    """The normalisation the run began with, so a resumed run normalises exactly as it began."""
    saved = run.path / "normalization.json"
    return run_files.read_normalization(saved) if saved.exists() else None


def feed_workers(workers: int | str, cheap: bool, images: Images, batch_size: int, num_classes: int) -> int:
    """`train.workers` as a number of worker processes (0: batches made in the training process).

    "auto" takes the cores training leaves free: all but torch's intra-op threads on a CPU, all
    but one (the process driving the GPU) with CUDA; as many as shared memory has room for. None
    where a batch costs next to nothing to make (in-memory images, no augmentation or mixup:
    ~0.4 ms), as a worker would only add a copy, or where workers cannot decode streamed images.
    """
    if workers != "auto":
        return int(workers)
    if cheap or not can_reach(images):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    free = max(0, cores - (1 if torch.cuda.is_available() else torch.get_num_threads()))
    room = shared_memory_free()
    while free and shared_memory_needed(images, batch_size, num_classes, free) > room:
        free -= 1
    return free
