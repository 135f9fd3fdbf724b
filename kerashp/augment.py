"""Build the Albumentations pipeline a preset's `[augment]` section describes.

`transforms` combine as the preset's `order` says (in sequence, in random order, one of, some of);
`after` always follows in order. Normalisation is not part of the pipeline: the generator does it
on whole batches, which is much faster than per image.
"""

from __future__ import annotations

import os
import random

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never phone home

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

CONSTANT = cv2.BORDER_CONSTANT


def build_transform(spec: dict, height: int, width: int) -> A.BasicTransform:
    """One preset transform table -> one Albumentations transform applied with probability `p`."""
    name, p = spec["name"], spec["p"]
    if name == "horizontal_flip":
        return A.HorizontalFlip(p=p)
    if name == "vertical_flip":
        return A.VerticalFlip(p=p)
    if name == "pad_crop":
        pad = spec["padding"]
        return A.Sequential(
            [
                A.PadIfNeeded(height + 2 * pad, width + 2 * pad, border_mode=CONSTANT, fill=0),
                A.RandomCrop(height, width),
            ],
            p=p,
        )
    if name == "random_resized_crop":
        return A.RandomResizedCrop(size=(height, width), scale=tuple(spec["scale"]), ratio=tuple(spec["ratio"]), p=p)
    if name == "affine":
        return A.Affine(
            rotate=(-spec["rotate"], spec["rotate"]),
            translate_percent=(-spec["translate"], spec["translate"]),
            scale=tuple(spec["scale"]),
            shear=0.0,
            border_mode=CONSTANT,
            fill=0,
            p=p,
        )
    if name == "rotate":
        return A.Rotate(limit=spec["limit"], border_mode=CONSTANT, fill=0, p=p)
    if name == "color_jitter":
        return A.ColorJitter(
            brightness=spec["brightness"],
            contrast=spec["contrast"],
            saturation=spec["saturation"],
            hue=spec["hue"],
            p=p,
        )
    if name == "random_erasing":
        return A.Erasing(scale=tuple(spec["scale"]), ratio=tuple(spec["ratio"]), fill=0, p=p)
    if name == "gaussian_blur":
        return A.GaussianBlur(blur_limit=0, sigma_limit=tuple(spec["sigma"]), p=p)
    raise ValueError(f"unknown transform {name!r}")  # the schema rejects these before we get here


def _combine(transforms: list, order: str, some_of_n: int) -> A.BaseCompose:
    if order == "random":
        return A.RandomOrder(transforms, n=len(transforms), replace=False, p=1.0)
    if order == "one_of":
        return A.OneOf(transforms, p=1.0)
    if order == "some_of":
        return A.SomeOf(transforms, n=min(some_of_n, len(transforms)), replace=False, p=1.0)
    return A.Sequential(transforms, p=1.0)


def build_pipeline(augment: dict, height: int, width: int, seed: int = 0) -> A.Compose | None:
    """The whole per-image pipeline, or None when the preset augments nothing."""
    main = [build_transform(spec, height, width) for spec in augment["transforms"]]
    after = [build_transform(spec, height, width) for spec in augment["after"]]
    if not main and not after:
        return None
    stages = ([_combine(main, augment["order"], augment["some_of_n"])] if main else []) + after
    pipeline = A.Compose(stages)
    seed_pipeline(pipeline, seed)
    return pipeline


def seed_pipeline(pipeline: A.BaseCompose, seed: int) -> None:
    """Restart `pipeline` from `seed` with ONE random stream that all its transforms draw from in turn.

    Albumentations' own `set_random_seed` (and `Compose(seed=...)`) gives every transform a generator
    of its own seeded with the same number, so every transform draws the same values: two flips at
    p = 0.5 would always fire together, and a crop's offset would follow the rotation's angle."""
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
