"""The Caltech presets on the real Caltech101 folder layout: `101_ObjectCategories/` holding
`BACKGROUND_Google`, `Faces_easy`, ... (capitals as Caltech spells them, images of many sizes), read
with the study's train.txt / test.txt lying beside it. The presets exclude tfds's `background_google`,
which must find `BACKGROUND_Google`."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerashp.config import load_preset
from kerashp.data import check_preset_data, load_preset_data
from kerashp.data.classes import DataWarning
from kerashp.data.glance import preset_input
from kerashp.status import RunStatus

CALTECH_PRESETS = ["alexnet_caltech101", "vgg16_caltech101", "vgg16_caltech101_frozen",
                   "resnet50_caltech101", "resnet50_caltech101_frozen"]  # fmt: skip
CATEGORIES = ("BACKGROUND_Google", "Faces_easy", "Leopards", "accordion")


def caltech_folder(root: Path, per_class: int = 4) -> Path:
    """`root/101_ObjectCategories/<category>/image_000N.jpg` and `root/train.txt`, `root/test.txt`
    naming `101_ObjectCategories/<category>/image_000N.jpg` (the last image of each category is a test image)."""
    rng = np.random.default_rng(0)
    train, test = [], []
    for label, category in enumerate(CATEGORIES):
        folder = root / "101_ObjectCategories" / category
        folder.mkdir(parents=True)
        for index in range(1, per_class + 1):
            height, width = 30 + 4 * index, 40 - 2 * index  # sizes vary, as Caltech's do
            noise = rng.integers(0, 40, (height, width, 3), np.uint8)
            pixels = np.full((height, width, 3), 60 * label, np.uint8) + noise
            Image.fromarray(pixels).save(folder / f"image_{index:04d}.jpg")
            (test if index == per_class else train).append(f"101_ObjectCategories/{category}/image_{index:04d}.jpg")
    (root / "train.txt").write_text("\n".join(train) + "\n")
    (root / "test.txt").write_text("\n".join(test) + "\n")
    return root / "101_ObjectCategories"


def on_caltech(root: Path, preset: str, *overrides: str):
    source = [f"data.source=folder:{root}", "data.train_list=../train.txt", "data.test_list=../test.txt"]
    return load_preset(preset, [*source, *overrides])


@pytest.fixture(scope="module")
def caltech(tmp_path_factory) -> Path:
    return caltech_folder(tmp_path_factory.mktemp("caltech"))


@pytest.mark.parametrize("name", CALTECH_PRESETS)
def test_every_caltech_preset_finds_the_background_class_and_counts_the_rest(caltech, name):
    preset = on_caltech(caltech, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # nothing adapted: the class is there, in Caltech's capitals
        check_preset_data(preset)
        assert preset_input(preset) == ((224, 224, 3), 3)


def test_the_loaded_data_drops_the_background_and_keeps_the_lists_split(caltech):
    dataset = load_preset_data(on_caltech(caltech, "alexnet_caltech101", "data.image_size=[32, 32]"))
    assert dataset.class_names == ["Faces_easy", "Leopards", "accordion"]
    assert len(dataset.train) == 9 and len(dataset.test) == 3 and dataset.image_shape == (32, 32, 3)
    assert sorted(set(dataset.train.labels.tolist())) == [0, 1, 2]


@pytest.mark.e2e
def test_alexnet_caltech101_trains_an_epoch_on_the_layout(caltech, tmp_path):
    from kerashp.training.run import train

    fast = ["data.image_size=[64, 64]", "train.memory_layout=contiguous"]  # 224 pixels: minutes on 2 cores
    result = train(on_caltech(caltech, "alexnet_caltech101", *fast), tmp_path, [], epochs=1)
    assert result.status == RunStatus.COMPLETED and result.summary["epochs_done"] == 1
    assert result.summary["test"]["accuracy"] is not None  # evaluated on the test.txt images
