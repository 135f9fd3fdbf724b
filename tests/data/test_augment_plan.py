"""kerashp's own choice of which transforms fire, and in what order: each with its p, independently,
in a fresh random order per image for `order = "random"`, as Albumentations' compositions would."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kerashp.config import load_preset
from kerashp.data.augment import build_pipeline, seed_pipeline

COUNT = 4000
TOLERANCE = 0.025  # four binomial standard deviations at p = 0.2 over 4000 images


def lenet5_aug(**changes):
    augment = dict(load_preset("lenet5_aug")["augment"], **changes)
    pipeline = build_pipeline(augment, 32, 32)
    seed_pipeline(pipeline, 11)
    return augment, pipeline


def fired(plan, count):
    """(images, transforms) booleans: which transform fired on which image."""
    table = np.zeros((len(plan), count), bool)
    for row, chosen in zip(table, plan):
        row[chosen] = True
    return table


@pytest.mark.parametrize("order", ["sequence", "random"])
def test_each_transform_fires_with_its_own_p_independently(order):
    augment, pipeline = lenet5_aug(order=order)
    p = np.array([spec["p"] for spec in augment["transforms"] + augment["after"]])
    table = fired(pipeline.plan(COUNT), len(p))
    assert np.all(np.abs(table.mean(0) - p) < TOLERANCE), (table.mean(0), p)
    assert abs((~table).all(1).mean() - np.prod(1 - p)) < TOLERANCE  # ~40% of images untouched
    for i, j in itertools.combinations(range(len(p)), 2):
        assert abs((table[:, i] & table[:, j]).mean() - p[i] * p[j]) < TOLERANCE / 2, (i, j)


def test_random_order_varies_per_image_and_sequence_keeps_the_listed_order():
    _, shuffled = lenet5_aug(order="random", transforms=[dict(t, p=0.6) for t in load_preset("lenet5_aug")["augment"]["transforms"]])
    plan = shuffled.plan(COUNT)
    after = len(shuffled.main_p)  # random erasing's index: it always comes last
    for i, j in itertools.combinations(range(after), 2):
        both = [chosen for chosen in plan if i in chosen and j in chosen]
        first = np.mean([chosen.index(i) < chosen.index(j) for chosen in both])
        assert abs(first - 0.5) < 0.06, (i, j, first, len(both))
    assert all(chosen[-1] == after for chosen in plan if after in chosen)
    _, listed = lenet5_aug(order="sequence")
    assert all(chosen == sorted(chosen) for chosen in listed.plan(COUNT))


def test_one_of_picks_exactly_one_in_proportion_to_p_and_some_of_picks_n_uniformly():
    augment, one_of = lenet5_aug(order="one_of", after=[])
    p = np.array([spec["p"] for spec in augment["transforms"]])
    plan = one_of.plan(COUNT)
    assert all(len(chosen) == 1 for chosen in plan)
    assert np.all(np.abs(fired(plan, len(p)).mean(0) - p / p.sum()) < TOLERANCE)
    _, some_of = lenet5_aug(order="some_of", some_of_n=2, after=[], transforms=[dict(t, p=1.0) for t in augment["transforms"]])
    plan = some_of.plan(COUNT)
    assert all(len(chosen) == 2 and chosen[0] < chosen[1] for chosen in plan)
    assert np.all(np.abs(fired(plan, len(p)).mean(0) - 2 / len(p)) < TOLERANCE)


def test_images_nothing_fires_on_come_back_untouched_and_the_others_change():
    _, pipeline = lenet5_aug()
    images = np.random.default_rng(0).integers(0, 256, (256, 32, 32, 3), dtype=np.uint8)
    seed_pipeline(pipeline, 4)
    plan = pipeline.plan(len(images))
    seed_pipeline(pipeline, 4)  # augment_batch draws the same plan first
    out = pipeline.augment_batch(images.copy())
    same = np.all(out == images, axis=(1, 2, 3))
    untouched = np.array([not chosen for chosen in plan])
    assert untouched.any() and same[untouched].all()
    assert same[~untouched].mean() < 0.05  # a crop or erasing can rarely be a no-op
    assert out.shape == images.shape and out.dtype == np.uint8


def test_one_image_call_leaves_its_input_alone():
    _, pipeline = lenet5_aug(transforms=[{"name": "horizontal_flip", "p": 1.0}], after=[])
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    kept = image.copy()
    assert np.array_equal(pipeline(image=image)["image"], kept[:, ::-1]) and np.array_equal(image, kept)
