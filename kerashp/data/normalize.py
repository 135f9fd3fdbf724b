"""Per-channel normalisation statistics: fixed from the preset, computed on the data, or ImageNet's."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kerashp.config.preset import DataSection
from kerashp.data.lazy import Images

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def channel_stats(images: Images) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per channel on the 0..1 scale, accumulated in float64 chunks to bound memory."""
    total = np.zeros(images.shape[-1])
    squares = np.zeros(images.shape[-1])
    for start in range(0, len(images), 4096):
        chunk = images[start : start + 4096].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 1, 2))
        squares += np.square(chunk).sum(axis=(0, 1, 2))
    count = images.shape[0] * images.shape[1] * images.shape[2]
    mean = total / count
    return mean, np.sqrt(np.maximum(squares / count - mean**2, 0.0))


def normalization(data: DataSection, train_images: Images) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) for the preset's `data.normalize` mode, as float32 arrays of one value per channel."""
    mode = data["normalize"]
    mean: Sequence[float] | np.ndarray
    std: Sequence[float] | np.ndarray
    if mode == "fixed":
        mean, std = data["mean"], data["std"]
    elif mode == "dataset":
        mean, std = channel_stats(train_images)
    elif mode == "imagenet":
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        mean, std = (0.0,), (1.0,)
    return np.asarray(mean, np.float32), np.asarray(std, np.float32)
