"""Seeded validation splits: random (like torch's `random_split`) or stratified by class."""

from __future__ import annotations

import numpy as np

from kerashp.config.preset import Preset
from kerashp.errors import DataError


def validation_count(total: int, validation: float | int) -> int:
    """A fraction in [0, 1) of `total`, or an absolute count."""
    count = validation if isinstance(validation, int) else int(round(total * validation))
    if count >= total:
        raise DataError(f"data.validation = {validation}: leaves no training images (the training split has {total})")
    return count


def split_indices(labels: np.ndarray, validation: float | int, mode: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, validation_indices), reproducible from `seed`, each sorted."""
    count = validation_count(len(labels), validation)
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
    training uses and augment-preview draws from."""
    data = preset["data"]
    return split_indices(labels, data["validation"], data["split"], preset["seed"])


def _stratified(labels: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """Take from each class in proportion to its size (largest remainders get the leftovers)."""
    classes, sizes = np.unique(labels, return_counts=True)
    exact = sizes * count / len(labels)
    quota = np.floor(exact).astype(int)
    leftover = count - quota.sum()
    quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
    picked = [rng.permutation(np.flatnonzero(labels == cls))[:take] for cls, take in zip(classes, quota)]
    return np.concatenate(picked)
