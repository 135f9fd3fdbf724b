"""Build the per-image augmentation a preset's `[augment]` section describes.

`transforms` combine as the preset's `order` says (in sequence, in random order, one of, some of);
`after` always follows in order. Normalisation is not part of the pipeline: the generator does it
on whole batches, which is much faster than per image.
"""

from __future__ import annotations

import os
import random
from functools import partial

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # never phone home

import albumentations as A  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402

from kerashp.config.preset import AugmentSection, Transform  # noqa: E402

CONSTANT = cv2.BORDER_CONSTANT
NEAREST = cv2.INTER_NEAREST  # torchvision's RandomAffine and RandomRotation default, as the studies ran them


def build_transform(spec: Transform, height: int, width: int) -> A.BasicTransform:
    """One preset transform table -> the Albumentations transform that does its pixel work, applied
    every time it is called (the `Augmenter` decides when a transform fires; flips it does itself)."""
    name, always = spec["name"], 1.0
    if name == "pad_crop":
        pad = spec["padding"]
        return A.Sequential(
            [
                A.PadIfNeeded(height + 2 * pad, width + 2 * pad, border_mode=CONSTANT, fill=0),
                A.RandomCrop(height, width),
            ],
            p=always,
        )
    if name == "random_resized_crop":
        return A.RandomResizedCrop(
            size=(height, width), scale=tuple(spec["scale"]), ratio=tuple(spec["ratio"]), p=always
        )
    if name == "affine":
        return A.Affine(
            rotate=(-spec["rotate"], spec["rotate"]),
            translate_percent=(-spec["translate"], spec["translate"]),
            scale=tuple(spec["scale"]),
            shear=0.0,
            interpolation=NEAREST,
            border_mode=CONSTANT,
            fill=0,
            p=always,
        )
    if name == "rotate":
        return A.Rotate(limit=spec["limit"], interpolation=NEAREST, border_mode=CONSTANT, fill=0, p=always)
    if name == "color_jitter":
        return A.ColorJitter(
            brightness=spec["brightness"],
            contrast=spec["contrast"],
            saturation=spec["saturation"],
            hue=spec["hue"],
            p=always,
        )
    if name == "random_erasing":
        return A.Erasing(scale=tuple(spec["scale"]), ratio=tuple(spec["ratio"]), fill=0, p=always)
    if name == "gaussian_blur":
        return A.GaussianBlur(blur_limit=0, sigma_limit=tuple(spec["sigma"]), p=always)
    raise ValueError(f"unknown transform {name!r}")  # the schema rejects these before we get here


def build_pipeline(augment: AugmentSection, height: int, width: int, seed: int = 0) -> Augmenter | None:
    """The whole per-image pipeline, or None when the preset augments nothing."""
    if not augment["transforms"] and not augment["after"]:
        return None
    pipeline = Augmenter(augment, height, width)
    seed_pipeline(pipeline, seed)
    return pipeline


class Augmenter:
    """The preset's transforms, with kerashp deciding what fires and Albumentations doing the pixels.

    For a whole batch at once kerashp draws which transforms fire on each image (each with its `p`)
    and in what order, exactly as Albumentations' Sequential, RandomOrder, OneOf and SomeOf would;
    then only those run, built with p = 1 (flips as numpy views). Images on which nothing fires
    (about 40% with lenet5_aug) cost nothing, and no image pays Compose's bookkeeping: with
    lenet5_aug that was ~33 us an image on top of ~30 us of the transforms' own work."""

    def __init__(self, augment: AugmentSection, height: int, width: int):
        main, after = augment["transforms"], augment["after"]
        self.order = augment["order"]
        self.some_of_n = min(augment["some_of_n"], len(main))
        self.main_p = np.array([spec["p"] for spec in main])
        self.after_p = np.array([spec["p"] for spec in after])
        self.transforms: list[A.BasicTransform] = []  # the Albumentations ones, which seed_pipeline seeds
        self.steps = [self._step(spec, height, width) for spec in main + after]
        self.rng: np.random.Generator  # set by seed_pipeline, before every batch

    def _step(self, spec: Transform, height: int, width: int):
        if spec["name"] in FLIP_VIEWS:
            return FLIP_VIEWS[spec["name"]]
        transform = build_transform(spec, height, width)
        self.transforms.append(transform)
        return partial(_through, transform)

    def plan(self, count: int) -> list[list[int]]:
        """For each of `count` images, the indices (into `transforms` then `after`) of the
        transforms that fire on it, in the order they apply."""
        orders = self._orders(count)
        if self.order == "one_of":
            fires = np.ones_like(orders, bool)  # OneOf forces the transform it picks
        else:
            fires = np.take_along_axis(self.rng.random((count, len(self.main_p))) < self.main_p, orders, axis=1)
        after = self.rng.random((count, len(self.after_p))) < self.after_p
        first = len(self.main_p)
        return [
            [i for i, fired in zip(row, row_fires) if fired] + [first + j for j, fired in enumerate(row_after) if fired]
            for row, row_fires, row_after in zip(orders.tolist(), fires.tolist(), after.tolist())
        ]

    def _orders(self, count: int) -> np.ndarray:
        """(count, m) indices of the transforms each image considers, in the order it considers them."""
        size = len(self.main_p)
        if self.order == "one_of":
            total = self.main_p.sum()
            if not total:
                return np.empty((count, 0), int)
            return self.rng.choice(size, size=(count, 1), p=self.main_p / total)
        if self.order == "sequence":
            return np.broadcast_to(np.arange(size), (count, size))
        shuffled = np.argsort(self.rng.random((count, size)), axis=1)  # a uniform permutation per row
        if self.order == "some_of":
            return np.sort(shuffled[:, : self.some_of_n], axis=1)  # SomeOf keeps the listed order
        return shuffled

    def augment_batch(self, images: np.ndarray) -> np.ndarray:
        """Augment a batch of same-sized images in place (the feed passes its own copy) and return it."""
        for index, chosen in enumerate(self.plan(len(images))):
            if chosen:
                image = images[index]
                for step in chosen:
                    image = self.steps[step](image)
                images[index] = image
        return images

    def __call__(self, *, image: np.ndarray) -> dict:
        """One image, called as an Albumentations transform is (augment-preview draws this way)."""
        return {"image": self.augment_batch(image[None].copy())[0]}


def _flip_columns(image: np.ndarray) -> np.ndarray:
    return image[:, ::-1]


def _flip_rows(image: np.ndarray) -> np.ndarray:
    return image[::-1]


FLIP_VIEWS = {"horizontal_flip": _flip_columns, "vertical_flip": _flip_rows}  # numpy views, no copy


def _through(transform: A.BasicTransform, image: np.ndarray) -> np.ndarray:
    """One Albumentations transform built with p = 1 on one image (OpenCV wants contiguous arrays)."""
    return transform(image=np.ascontiguousarray(image))["image"]


def seed_pipeline(pipeline: Augmenter, seed: int) -> None:
    """Restart `pipeline` from `seed` with ONE random stream that its choices and all its transforms
    draw from in turn.

    Albumentations' own `set_random_seed` (and `Compose(seed=...)`) gives every transform a generator
    of its own seeded with the same number, so every transform draws the same values: two flips at
    p = 0.5 would always fire together, and a crop's offset would follow the rotation's angle."""
    numbers, python_numbers = np.random.default_rng(seed), random.Random(seed)
    pipeline.rng = numbers
    for transform in pipeline.transforms:
        transform.set_random_state(numbers, python_numbers)
