"""Seeded validation splits: random (like torch's `random_split`) or stratified by class."""

from __future__ import annotations

import warnings

import numpy as np

from kerashp.config.preset import Preset
from kerashp.data.classes import DataWarning
from kerashp.errors import DataError
from kerashp.text import number

CAP_SHARE = 5  # a validation count takes at most a fifth of the training images


def validation_count(total: int, validation: float | int, classes: int = 1) -> int:
    """A fraction in [0, 1) of `total`, or an absolute count capped at a fifth of `total` (at least
    `classes`, one per class for a stratified split, while a training image remains): a preset's
    count is written for its own dataset (5,000 of CIFAR-10's 50,000), so on a smaller folder it is
    cut to a share the data allows rather than leaving nothing to train on."""
    if isinstance(validation, int):
        count = min(validation, max(total // CAP_SHARE, min(classes, total - 1)))
        if count < validation:
            warnings.warn(  # one line for the quick check and the split, so it is said once
                f"data.validation = {validation}: using {number(count, group_thousands=True)} validation images "
                f"(a count takes at most a fifth of the {number(total, group_thousands=True)} training images, "
                "and at least one per class when stratified)",
                DataWarning,
                stacklevel=1,
            )
        return count
    count = int(round(total * validation))
    if count >= total:
        raise DataError(f"data.validation = {validation}: leaves no training images (the training split has {total})")
    return count


def split_indices(labels: np.ndarray, validation: float | int, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, validation_indices), reproducible from `seed`, each sorted; a count is capped
    as `validation_count` says (`kerashp.data.checks` warns of it before the images are read)."""
    classes = len(np.unique(labels)) if mode == "stratified" else 1
    count = validation_count(len(labels), validation, classes)
    rng = np.random.default_rng(seed)
    if count == 0:
        return np.arange(len(labels)), np.arange(0)
    if mode == "random":
        order = rng.permutation(len(labels))
        val = order[:count]
    else:
        val = _stratified(labels, count, rng)
    train = np.setdiff1d(np.arange(len(labels)), val)
    return train, np.sort(val)


def preset_split(preset: Preset, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation indices the preset's `[data]` and `seed` choose: the one split
    training uses and augment-preview draws from. `data.split_seed` pins it while `seed` varies."""
    data = preset["data"]
    pinned = data["split_seed"]
    return split_indices(
        labels, data["validation"], data["split"], pinned if isinstance(pinned, int) else preset["seed"]
    )


def _stratified(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Take from each class in proportion to its size (largest remainders get the leftovers)."""
    classes, sizes = np.unique(labels, return_counts=True)
    exact = sizes * count / len(labels)
    quota = np.floor(exact).astype(int)
    leftover = count - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
    picked = [rng.permutation(np.flatnonzero(labels == cls))[:take] for cls, take in zip(classes, quota)]
    return np.concatenate(picked)
