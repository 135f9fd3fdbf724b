"""A run's data feeds: the preset's data, split, normalised and batched for Keras `fit`.

The split and the normalisation are saved in the run folder, so a resumed run feeds exactly the
images, in exactly the scale, that it began with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from kerashp.config import Preset
from kerashp.config.preset import TrainSection
from kerashp.data import load_preset_data
from kerashp.data.augment import build_pipeline
from kerashp.data.batches import ImageBatches
from kerashp.data.mixing import MixSpec
from kerashp.data.normalize import normalization
from kerashp.data.split import preset_split
from kerashp.events import Listener, Progress
from kerashp.models import DATA_FORMAT
from kerashp.runs import files as run_files
from kerashp.runs.folder import RunDir, replace_atomically, write_json


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

    def use_layout(self, layout: str) -> None:
        """Feed every batch in `layout` (see kerashp.training.fast.layout)."""
        for feed in (self.train, self.validation, self.test):
            if feed is not None:
                feed.layout = layout


def build_feeds(preset: Preset, emit: Listener, saved: dict[str, Any] | None = None, initial_epoch: int = 0) -> Feeds:
    """Data -> split -> normalisation -> generators, exactly as the preset says; `saved` is the
    normalisation a resumed run began with (statistics computed on the data are reused, not redone)."""
    train_cfg = preset["train"]
    dataset = load_preset_data(preset, lambda what, done, total: emit(Progress(what, done, total)))
    train_idx, val_idx = preset_split(preset, dataset.train.labels)
    train_set, val_set = dataset.train.subset(train_idx), dataset.train.subset(val_idx)
    if saved is None:
        mean, std = normalization(preset["data"], train_set.images)
    else:
        mean, std = np.asarray(saved["mean"], np.float32), np.asarray(saved["std"], np.float32)
    height, width = dataset.image_shape[:2]
    common: dict[str, Any] = dict(  # what every feed shares
        num_classes=dataset.num_classes,
        batch_size=train_cfg["batch_size"],
        mean=mean,
        std=std,
        channels_first=DATA_FORMAT == "channels_first",
    )
    pipeline = build_pipeline(preset["augment"], height, width, seed=preset["seed"])
    mix = MixSpec.from_augment(preset["augment"])
    cheap = pipeline is None and mix is None and isinstance(train_set.images, np.ndarray)
    feed = ImageBatches(
        train_set.images,
        train_set.labels,
        pipeline=pipeline,
        mix=mix,
        shuffle=True,
        seed=preset["seed"],
        epoch=initial_epoch,
        workers=_feed_workers(train_cfg, cheap),
        use_multiprocessing=train_cfg["use_multiprocessing"],
        **common,
    )
    validation = ImageBatches(val_set.images, val_set.labels, **common) if len(val_set) else None
    test = ImageBatches(dataset.test.images, dataset.test.labels, **common)
    stats = {"mode": preset["data"]["normalize"], "mean": mean.tolist(), "std": std.tolist()}
    split = {"train": train_idx, "validation": val_idx}
    return Feeds(feed, validation, test, dataset.image_shape, dataset.num_classes, split, stats)


def saved_normalization(run: RunDir) -> dict[str, Any] | None:
    """The normalisation the run began with, so a resumed run normalises exactly as it began."""
    saved = run.path / "normalization.json"
    return run_files.read_normalization(saved) if saved.exists() else None


def _feed_workers(train_cfg: TrainSection, cheap: bool) -> int:
    """Background workers only where a batch costs something to make and a core is free to make it.

    A batch of in-memory images without augmentation or mixup takes ~0.4 ms: threads would only
    compete with torch's own (LeNet-5 trained ~5% slower with two). And threads beyond the cores
    left over by training slow it down: on 2 cores lenet5_aug trained at ~5,200 img/s inline
    and ~4,400 with two worker threads.
    """
    if train_cfg["use_multiprocessing"]:
        return train_cfg["workers"]
    spare = (os.cpu_count() or 1) - 1
    return 1 if cheap else max(1, min(train_cfg["workers"], spare))
