"""Every preset in presets/ trains one epoch on folder data with nothing changed but the data source
(and a 64-pixel image size for the presets that resize to 224, for time): validation counts written
for CIFAR's 50,000 images, Caltech's background class and the rest must adapt to the folder.

The folder is a few images per class of the real CIFAR-10 subset, so an epoch is a batch or two.
The memory layout is pinned: its probe (a dozen 64-image steps) would cost more than the epoch, and
the layout changes no result. Pretrained presets need their ImageNet weights, which cannot be
downloaded here: they are skipped unless Keras has the weights cached."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import first_cifar_images, needs_cifar10_mini

from kerashp.config import load_preset
from kerashp.data import check_data_available
from kerashp.status import RunStatus

REPOSITORY = Path(__file__).resolve().parents[2]
PRESETS = sorted(path.stem for path in (REPOSITORY / "presets").glob("*.toml"))
WEIGHTS = {"vgg16": "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
           "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"}  # fmt: skip
TRAIN_PER_CLASS, TEST_PER_CLASS = 3, 1

pytestmark = [
    pytest.mark.e2e,
    needs_cifar10_mini,
]


@pytest.fixture(scope="module")
def few_cifar(tmp_path_factory) -> Path:
    """The first few images of each class of cifar10-mini, in its ImageFolder layout."""
    return first_cifar_images(tmp_path_factory.mktemp("few") / "cifar", TRAIN_PER_CLASS, TEST_PER_CLASS)


def missing_weights(preset) -> str | None:
    model = preset["model"]
    if model.get("weights") != "imagenet":
        return None
    cached = Path.home() / ".keras" / "models" / WEIGHTS[model["name"]]
    return None if cached.is_file() else f"needs the ImageNet weights of {model['name']} (no network here)"


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_trains_an_epoch_on_folder_data(name, few_cifar, tmp_path):
    from kerashp.training.run import train

    overrides = [f"data.source=folder:{few_cifar}", "train.memory_layout=contiguous"]
    if load_preset(name)["data"]["image_size"] == [224, 224]:
        overrides.append("data.image_size=[64, 64]")
    preset = load_preset(name, overrides)
    if reason := missing_weights(preset):
        pytest.skip(reason)
    check_data_available(preset)  # warns of what it adapts (validation counts, Caltech's background)
    result = train(preset, tmp_path, [], epochs=1)
    assert result.status == RunStatus.COMPLETED, result.summary
    assert result.summary["epochs_done"] == 1
