"""Decoding and resizing single images (shared by every source)."""

from __future__ import annotations

import cv2
import numpy as np

from kerashp.errors import DataError


def fit_size(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """Resize to (height, width) with area interpolation when shrinking, bilinear when growing."""
    if size is None or image.shape[:2] == size:
        return image
    height, width = size
    shrinking = height * width < image.shape[0] * image.shape[1]
    resized = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return resized[..., None] if resized.ndim == 2 else resized


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Grayscale (H, W) or (H, W, 1) and RGBA images become (H, W, 3) RGB."""
    if image.ndim == 2:
        image = image[..., None]
    if image.shape[-1] == 1:
        return np.repeat(image, 3, axis=-1)
    return image[..., :3]


def check_size(where: str, image: np.ndarray, expected: tuple[int, ...]) -> None:
    """Every image of a dataset must share one size; `where` names the image that does not."""
    if image.shape != tuple(expected):
        raise DataError(
            f"{where}: image size {image.shape[:2]} differs from {tuple(expected)[:2]}; "
            "set data.image_size = [height, width] to resize every image"
        )
