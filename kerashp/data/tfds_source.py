"""`tfds:NAME`: any tensorflow-datasets image classification dataset, read with `tfds.data_source`.

Reading a prepared dataset (array_record files) needs no TensorFlow. Preparing one (download and
convert) does, so it runs in a separate process (`python -m kerashp.data.prepare NAME`) and the
training process never imports TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
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
        train_source, test_source = tfds.data_source(name, split=["train", "test"], download=False, data_dir=data_dir())
    except Exception:  # tfds raises several kinds for "not prepared"; preparing tells us which it was
        prepare(name)
        train_source, test_source = tfds.data_source(name, split=["train", "test"], download=False, data_dir=data_dir())
    return Dataset(
        source=f"tfds:{name}",
        train=_read(train_source, size, f"reading tfds:{name} train", progress),
        test=_read(test_source, size, f"reading tfds:{name} test", progress),
        class_names=list(label_feature.names),
    )


def _builder(name: str):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir())
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"tfds:{name}: no such tfds dataset (see the tfds catalog for names)") from None


def _read(source, size, what: str, progress: Progress | None) -> ImageSet:
    total = len(source)
    images, labels = [], []
    for index in range(total):
        example = source[index]
        images.append(fit_size(as_rgb(np.asarray(example["image"])), size))
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
