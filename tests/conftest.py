"""Shared fixtures: tiny image datasets generated on the fly, so tests need no downloads, and the
reliability suite's counts (kill points survived, bad inputs tried, fuzz examples run), printed at
the end of a test session so the figures quoted in the README come from a real run."""

from __future__ import annotations

import os
import shutil
from collections import Counter

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from kerashp.cli import main as kerashp_main  # noqa: E402

CLASSES = ("cat", "dog", "frog", "ship")
# the real CIFAR-10 subset in ../shared, beside the checkout (wherever it is cloned, CI's too)
CIFAR10_MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-mini"
needs_cifar10_mini = pytest.mark.skipif(not CIFAR10_MINI.is_dir(), reason=f"needs the CIFAR-10 subset at {CIFAR10_MINI}")


def first_cifar_images(root: Path, train_per_class: int, test_per_class: int) -> Path:
    """The first few images of each class of cifar10-mini, in its ImageFolder layout, at `root`."""
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for folder in sorted((CIFAR10_MINI / split).iterdir()):
            (root / split / folder.name).mkdir(parents=True)
            for image in sorted(folder.iterdir())[:count]:
                shutil.copy(image, root / split / folder.name / image.name)
    return root


def write_image_folder(root: Path, train_per_class: int = 12, test_per_class: int = 4, size: int = 32, seed: int = 0) -> Path:
    """An ImageFolder dataset whose classes differ by colour, so a model can learn them quickly."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(count):
                base = np.zeros((size, size, 3))
                base[..., label % 3] = 160 + 80 * (label // 3)
                pixels = np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{index:04d}.png")
    return root


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("tiny") / "images")


@pytest.fixture(scope="session")
def trained(tiny_folder, tmp_path_factory) -> Path:
    """A completed run of 2 epochs (lenet5, tiny folder data, a pinned memory layout), shared by the
    tests that damage run folders. Never change it: copy it."""
    runs = tmp_path_factory.mktemp("trained")
    args = [
        "train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=8",
        "--set", "data.validation=8", "--set", "train.memory_layout=contiguous", "--epochs", "2",
        "--runs-dir", str(runs),
    ]  # fmt: skip
    assert kerashp_main(args) == 0
    (run,) = list(runs.iterdir())
    return run


@pytest.fixture
def preset_dir(tmp_path, monkeypatch) -> Path:
    """A directory on the preset search path, for tests that write their own presets."""
    directory = tmp_path / "presets"
    directory.mkdir()
    monkeypatch.setenv("KERASHP_PRESET_PATH", str(directory))
    return directory


COUNTS: Counter[str] = Counter()


@pytest.fixture
def tally():
    """`tally("kill points survived", 3)` adds to the totals printed after the tests."""

    def add(what: str, count: int = 1) -> None:
        COUNTS[what] += count

    return add


def pytest_terminal_summary(terminalreporter):
    if COUNTS:
        terminalreporter.section("reliability")
        for what, count in sorted(COUNTS.items()):
            terminalreporter.write_line(f"{count:6d}  {what}")


# Preset documents that must fail, with a part of the key and of the allowed values each error names
# (tests/config/test_config.py, and tests/reliability/test_bad_input.py through the CLI).
BAD_DOCUMENTS = [
    ("[optimizer]\nlearning_rate = -0.1\n", "optimizer.learning_rate = -0.1", "a number > 0"),
    ("[optimizer]\nlearnin_rate = 0.1\n", "optimizer.learnin_rate", "did you mean learning_rate"),
    ("[optimizer]\nname = \"adamax\"\n", 'optimizer.name = "adamax"', "allowed: sgd, adam, adamw, adagrad, rmsprop"),
    ("[model]\nname = \"transformer\"\n", 'model.name = "transformer"', "allowed: "),
    ("[model]\nname = \"lenet5\"\ndepth = 3\n", "model.depth", "unknown key"),
    ("[schedule]\nname = \"warm\"\n", 'schedule.name = "warm"', "constant, step"),
    ("[train]\nbatch_size = \"big\"\n", 'train.batch_size = "big"', "an integer >= 1"),
    ("[train]\nepochs = 0\n", "train.epochs = 0", "an integer >= 1"),
    ("[train]\nepochs = 2.5\n", "train.epochs = 2.5", "an integer"),
    ("[optimizer]\nnesterov = 1\n", "optimizer.nesterov = 1", "true or false"),
    ("[augment]\ntransforms = [{ name = \"twirl\", p = 0.5 }]\n", 'augment.transforms.0.name = "twirl"', "horizontal_flip"),
    ("[augment]\ntransforms = [{ name = \"vertical_flip\", p = 1.5 }]\n", "augment.transforms.vertical_flip.p = 1.5", "[0, 1]"),
    ("[augment]\ntransforms = [{ name = \"affine\", shear = 5 }]\n", "augment.transforms.affine.shear", "unknown key"),
    ("[augment]\ntransforms = [{ name = \"random_erasing\", scale = [0.3, 0.1] }]\n", "augment.transforms.random_erasing.scale", "ascending"),
    ("[data]\nsource = \"s3://bucket\"\n", 'data.source = "s3://bucket"', "expected tfds:NAME"),
    ("[data]\nmean = [0.5, 0.5]\n", "data.mean = [0.5, 0.5]", "1 or 3"),
    ("[data]\nvalidation = 1.5\n", "data.validation = 1.5", "fraction"),
    ("[colour]\nx = 1\n", "colour", "unknown section"),
    ("seed = -1\n", "seed = -1", ">= 0"),
    ("[reference]\nval_accuracy = [1]\n", "reference.val_accuracy", "a number or a string"),
    ('[search.space]\n"optimizer.learning_rate" = { type = "float", min = 0.1, max = 0.1 }\n', "search.space", "empty range"),
    ('[search.space]\n"optimizer.learning_rate" = { type = "float", min = 0.0, max = 0.1, log = true }\n', "min", "above zero"),
    ('[search.space]\n"optimizer.speed" = { type = "float", min = 0.1, max = 1.0 }\n', "optimizer.speed", "not a key of this preset"),
    ("[optimizer\nname = 1\n", "", "TOML syntax error"),
]
