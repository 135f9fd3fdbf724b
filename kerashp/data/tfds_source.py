"""`tfds:NAME`: any tensorflow-datasets image classification dataset, read with `tfds.data_source`.

Reading a prepared dataset (array_record files) needs no TensorFlow. Preparing one (download and
convert) does, so it runs in a separate process (`python -m kerashp.data.prepare NAME`) and the
training process never imports TensorFlow.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kerashp.data.dataset import Dataset, ImageSet, Progress
from kerashp.data.images import as_rgb, fit_size
from kerashp.errors import DataError

DATA_DIR_ENV = "TFDS_DATA_DIR"


def data_dir() -> str:
    """Where tfds keeps prepared datasets ($TFDS_DATA_DIR, default ~/tensorflow_datasets)."""
    return os.environ.get(DATA_DIR_ENV) or os.path.expanduser("~/tensorflow_datasets")


def load_tfds(name: str, size: tuple[int, int] | None, progress: Progress | None = None) -> Dataset:
    import tensorflow_datasets as tfds

    builder = _builder(name)
    features = builder.info.features
    label_feature = features["label"] if "label" in features and "image" in features else None
    if not hasattr(label_feature, "names"):
        raise DataError(f"tfds:{name}: not an image classification dataset (no 'label' class feature)")
    try:
        with _quiet_tfds():
            train_source, test_source = tfds.data_source(
                name, split=["train", "test"], download=False, data_dir=data_dir()
            )
    except Exception:  # tfds raises several kinds for "not prepared"; preparing tells us which it was
        prepare(name)
        try:
            with _quiet_tfds():
                train_source, test_source = tfds.data_source(
                    name, split=["train", "test"], download=False, data_dir=data_dir()
                )
        except Exception as exc:  # prepared, yet unreadable: most often a dataset without a test split
            raise DataError(
                f"tfds:{name}: prepared in {data_dir()} but its train and test splits cannot be read ({_reason(exc)}); "
                "kerashp needs both"
            ) from None
    train = _read(train_source, size, f"reading tfds:{name} train", progress)
    test = _read(test_source, size, f"reading tfds:{name} test", progress, shape=train.images.shape[1:])
    return Dataset(source=f"tfds:{name}", train=train, test=test, class_names=list(label_feature.names))


def _builder(name: str):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir())
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"tfds:{name}: no such tfds dataset (see the tfds catalog for names)") from None
    except Exception as exc:  # a malformed name, an unknown config or version: multi-line tfds errors
        raise DataError(f"tfds:{name}: {_reason(exc)} (names look like NAME, NAME/CONFIG or NAME:VERSION)") from None


def _reason(exc: Exception) -> str:
    """A tfds error's first line, without tfds's restatement of the builder arguments, so the
    CLI can print it on one line."""
    lines = str(exc).strip().splitlines()
    line = re.sub(r'^Failed to construct dataset .*?builder_kwargs ".*?": ', "", lines[0]) if lines else ""
    return line.split(" Here are ")[0].rstrip(":. ") or type(exc).__name__


@contextmanager
def _quiet_tfds():
    """tfds logs an absl WARNING for each unprepared version it probes; kerashp says so itself,
    in one line, so the warning would only add noise to stderr."""
    logger = logging.getLogger("absl")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _read(source, size, what: str, progress: Progress | None, shape=None) -> ImageSet:
    """Every image must have `shape` (default: the first one's): datasets like caltech101 mix
    sizes, and need data.image_size."""
    total = len(source)
    images, labels = [], []
    for index in range(total):
        example = source[index]
        image = fit_size(as_rgb(np.asarray(example["image"])), size)
        expected = tuple(shape or (images[0].shape if images else image.shape))
        if image.shape != expected:
            raise DataError(
                f"{what.removeprefix('reading ')} example {index}: image size {image.shape[:2]} differs from "
                f"{expected[:2]}; set data.image_size = [height, width] to resize every image"
            )
        images.append(image)
        labels.append(int(example["label"]))
        if progress and ((index + 1) % 1024 == 0 or index + 1 == total):
            progress(what, index + 1, total)
    return ImageSet(np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))


def prepare(name: str, show_output: bool = False) -> None:
    """Download and prepare `name` as array_record in a TensorFlow-capable subprocess."""
    _builder(name)  # an unknown name fails here, with its own message
    command = [sys.executable, "-m", "kerashp.data.prepare", name]
    result = subprocess.run(command, stderr=subprocess.PIPE, stdout=None if show_output else subprocess.DEVNULL, text=True)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise DataError(
            f"tfds:{name}: not prepared in {data_dir()} and preparing it failed ({reason}); "
            f"run `kerashp data prepare {name}` on a machine with a network "
            f"(needs `pip install 'kerashp[prepare]'`), or set data.source = \"folder:PATH\""
        )


def prepared_datasets() -> list[tuple[str, str, int]]:
    """(name, version, bytes on disk) of every dataset prepared under `data_dir()`."""
    root = Path(data_dir())
    found = []
    for info in sorted(root.glob("*/**/dataset_info.json")):
        version_dir = info.parent
        if not any(version_dir.glob("*.array_record*")):
            continue
        name = "/".join(version_dir.relative_to(root).parts[:-1])
        size = sum(f.stat().st_size for f in version_dir.iterdir() if f.is_file())
        found.append((name, version_dir.name, size))
    return found
