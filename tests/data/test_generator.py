"""The PyDataset feed and the Albumentations pipeline: determinism, no augmentation of held-out
data, shuffling per epoch, and mixup soft labels."""

from __future__ import annotations

import numpy as np
import pytest

from kerashp.config import load_preset
from kerashp.data.augment import build_pipeline
from kerashp.data.batches import ImageBatches
from kerashp.data.mixing import MixSpec, mix_batch

MEAN = np.array([0.5, 0.5, 0.5], np.float32)
STD = np.array([0.25, 0.25, 0.25], np.float32)


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 32, 32, 3), dtype=np.uint8), rng.integers(0, 4, 40)


def feed(images, labels, **kwargs):
    return ImageBatches(images, labels, 4, 8, MEAN, STD, **kwargs)


def lenet5_aug_pipeline(seed=0):
    return build_pipeline(load_preset("lenet5_aug")["augment"], 32, 32, seed=seed)


def test_plain_feed_normalises_and_one_hot_encodes(images):
    x, y = feed(*images)[0]
    expected = (images[0][:8] / 255.0 - 0.5) / 0.25
    assert x.dtype == np.float32 and np.allclose(x, expected, atol=1e-5)
    assert y.shape == (8, 4) and np.array_equal(y.argmax(1), images[1][:8]) and np.all(y.sum(1) == 1)


def test_same_seed_gives_identical_augmented_batches_and_epochs_differ(images):
    first = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=7)
    second = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=7)
    for index in range(len(first)):
        assert np.array_equal(first[index][0], second[index][0])
    before = first[0][0]
    first.on_epoch_end()
    assert not np.array_equal(first[0][0], before)
    assert np.array_equal(first.order.size, 40)


def test_batches_do_not_depend_on_which_thread_or_order_asks(images):
    """Per-batch seeding: asking in reverse order (as parallel workers may) gives the same batches."""
    forward = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=1)
    backward = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=1)
    wanted = [forward[i][0] for i in range(len(forward))]
    got = [backward[i][0] for i in reversed(range(len(backward)))][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(wanted, got))


def test_resumed_feed_replays_the_same_epoch(images):
    fresh = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=2)
    fresh.on_epoch_end()
    resumed = feed(*images, pipeline=lenet5_aug_pipeline(), shuffle=True, seed=2, epoch=1)
    assert np.array_equal(fresh[1][0], resumed[1][0]) and np.array_equal(fresh[1][1], resumed[1][1])


def test_augmentation_changes_images_but_keeps_shape(images):
    pipeline = build_pipeline(
        {
            "order": "sequence",
            "some_of_n": 1,
            "transforms": [{"name": "horizontal_flip", "p": 1.0}],
            "after": [],
            "mixup_alpha": 0.0,
            "cutmix_alpha": 0.0,
        },
        32,
        32,
    )
    x, _ = feed(*images, pipeline=pipeline)[0]
    plain, _ = feed(*images)[0]
    assert x.shape == plain.shape and np.allclose(x, plain[:, :, ::-1, :], atol=1e-5)


@pytest.mark.parametrize("shape", [(32, 32, 3), (28, 20, 1)])
def test_every_transform_builds_and_runs(shape):
    """Also on odd-sized grayscale images, which each transform now gets without Compose around it."""
    from kerashp.config.schema import TRANSFORMS

    preset = load_preset("lenet5")
    image = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    for name, fields in TRANSFORMS.items():
        spec = {"name": name, "p": 1.0, **{k: f.default for k, f in fields.items()}}
        augment = dict(preset["augment"], transforms=[spec])
        out = build_pipeline(augment, *shape[:2])(image=image)["image"]
        assert out.shape == image.shape and out.dtype == np.uint8, name


def test_mixup_makes_soft_labels_that_sum_to_one(images):
    x, y = feed(*images, mix=MixSpec(mixup_alpha=0.2))[0]
    assert np.allclose(y.sum(1), 1.0) and x.shape == (8, 32, 32, 3)
    rng = np.random.default_rng(0)
    eye = np.eye(4, dtype=np.float32)[[0, 1, 2, 3]]
    _, mixed = mix_batch(np.zeros((4, 8, 8, 3), np.float32), eye, MixSpec(cutmix_alpha=1.0), rng)
    assert np.allclose(mixed.sum(1), 1.0) and mixed.max() <= 1.0


@pytest.mark.parametrize("order", ["sequence", "random"])
def test_transforms_fire_independently_of_each_other(order):
    """Two flips at p = 0.5 through the real feed: each of the four outcomes about a quarter of the time
    (Albumentations' own per-transform seeding made both flips fire together or not at all)."""
    image = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    flips = [{"name": "horizontal_flip", "p": 0.5}, {"name": "vertical_flip", "p": 0.5}]
    augment = dict(load_preset("lenet5")["augment"], transforms=flips, order=order)
    batches = ImageBatches(np.repeat(image[None], 400, 0), np.zeros(400, int), 1, 100, MEAN, STD,
                           pipeline=build_pipeline(augment, 8, 8), seed=3)  # fmt: skip
    scaled = (image / 255.0 - MEAN) / STD
    outcomes = {"none": scaled, "h": scaled[:, ::-1], "v": scaled[::-1], "both": scaled[::-1, ::-1]}
    counts = dict.fromkeys(outcomes, 0)
    for index in range(len(batches)):
        for x in batches[index][0]:
            counts[next(name for name, expected in outcomes.items() if np.allclose(x, expected, atol=1e-5))] += 1
    assert all(60 <= count <= 140 for count in counts.values()), counts
