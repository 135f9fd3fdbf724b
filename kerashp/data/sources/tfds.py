"""`tfds:NAME`: any tensorflow-datasets image classification dataset, read with `tfds.data_source`.

Reading a prepared dataset (array_record files) needs no TensorFlow. Preparing one (download and
convert) does, so it runs in a separate process (`python -m kerashp.data.prepare NAME`) and the
training process never imports TensorFlow.

A dataset of your own: define a `tfds.core.GeneratorBasedBuilder` in a package (installed or on
PYTHONPATH; tfds wants a package, not a lone .py file) and name it in $KERASHP_TFDS_MODULES
(comma-separated for several). The training process and the prepare subprocess both import it, so
`tfds:<builder name>` (the class name in snake_case) prepares and trains like a catalog dataset:

    KERASHP_TFDS_MODULES=my_datasets kerashp train --preset lenet5 --set data.source=tfds:my_dataset
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from kerashp.data.dataset import Dataset, ImageSet, Progress
from kerashp.data.images import as_rgb, check_size, fit_size
from kerashp.data.lazy import LazyImages, should_stream
from kerashp.errors import DataError

DATA_DIR_ENV = "TFDS_DATA_DIR"
MODULES_ENV = "KERASHP_TFDS_MODULES"
PROBE_TIMEOUT_S = 3.0  # a download host that takes longer to accept a connection counts as unreachable


def data_dir() -> str:
    """Where tfds keeps prepared datasets ($TFDS_DATA_DIR, default ~/tensorflow_datasets)."""
    return os.environ.get(DATA_DIR_ENV) or os.path.expanduser("~/tensorflow_datasets")


def load_tfds(
    name: str, size: tuple[int, int] | None, progress: Progress | None = None, cache: str = "auto"
) -> Dataset:
    features = builder(name).info.features
    label_feature = features["label"] if "label" in features and "image" in features else None
    if not hasattr(label_feature, "names"):
        raise DataError(f"tfds:{name}: not an image classification dataset (no 'label' class feature)")
    train_source, test_source = _open_splits(name)
    # names from the prepared dataset's info: a builder made before preparing (above) has only
    # placeholders ('0', '1', ...) for datasets like cifar10 that learn their names on download
    class_names = list(train_source.dataset_info.features["label"].names)
    count = len(train_source) + len(test_source)
    read = _stream if should_stream(cache, count, lambda: _image(train_source[0], size).nbytes) else _read
    train = read(name, "train", train_source, size, progress)
    test = read(name, "test", test_source, size, progress, shape=train.images.shape[1:])
    return Dataset(source=f"tfds:{name}", train=train, test=test, class_names=class_names)


def _open_splits(name: str):
    """The train and test data sources, preparing the dataset first if it is not on disk."""
    try:
        return _data_sources(name)
    except Exception:  # tfds raises several kinds for "not prepared"; preparing tells us which it was
        prepare(name)
        try:
            return _data_sources(name)
        except Exception as exc:  # prepared, yet unreadable: most often a dataset without a test split
            raise DataError(
                f"tfds:{name}: prepared in {data_dir()} but its train and test splits cannot be read "
                f"({tfds_reason(exc)}); kerashp needs both"
            ) from None


def _data_sources(name: str):
    import tensorflow_datasets as tfds

    with _quiet_tfds():
        return tfds.data_source(name, split=["train", "test"], download=False, data_dir=data_dir())


def register_builders() -> None:
    """Import the modules named in $KERASHP_TFDS_MODULES: defining a builder class registers it
    with tfds, so its name resolves like a catalog dataset's."""
    for module in filter(None, (part.strip() for part in os.environ.get(MODULES_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except Exception as exc:  # anything a user's module raises on import
            reason = (str(exc).strip().splitlines() or [""])[0]
            raise DataError(f"{MODULES_ENV}: cannot import {module} ({type(exc).__name__}: {reason})") from None


def builder(name: str):
    """The tfds builder named `name`, a user's own ($KERASHP_TFDS_MODULES) included; a DataError for an
    unknown name."""
    import tensorflow_datasets as tfds

    register_builders()
    try:
        return tfds.builder(name, data_dir=data_dir())
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"tfds:{name}: no such tfds dataset (see the catalog)") from None
    except Exception as exc:  # a malformed name, an unknown config or version: multi-line tfds errors
        raise DataError(
            f"tfds:{name}: {tfds_reason(exc)} (names look like NAME, NAME/CONFIG or NAME:VERSION)"
        ) from None


def tfds_reason(exc: Exception) -> str:
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


def _image(example: dict, size) -> np.ndarray:
    return fit_size(as_rgb(np.asarray(example["image"])), size)


class _ExampleImages:
    """Decodes one example's image on demand (for `LazyImages`), checking it has `shape`; a
    plain object rather than a closure so streamed datasets survive multiprocessing workers."""

    def __init__(self, where: str, source, size, shape: tuple[int, ...]):
        self.where, self.source, self.size, self.shape = where, source, size, tuple(shape)

    def __call__(self, index: int) -> np.ndarray:
        image = _image(self.source[index], self.size)
        check_size(f"{self.where} example {index}", image, self.shape)
        return image


def _read(name: str, split: str, source, size, progress: Progress | None, shape=None) -> ImageSet:
    """Every image decoded into memory; each must have `shape` (default: the first one's):
    datasets like caltech101 mix sizes, and need data.image_size."""
    total, what = len(source), f"reading tfds:{name} {split}"
    images, labels = [], []
    for index in range(total):
        example = source[index]
        image = _image(example, size)
        shape = tuple(shape or image.shape)
        check_size(f"tfds:{name} {split} example {index}", image, shape)
        images.append(image)
        labels.append(int(example["label"]))
        if progress and ((index + 1) % 1024 == 0 or index + 1 == total):
            progress(what, index + 1, total)
    return ImageSet(np.stack(images).astype(np.uint8), np.asarray(labels, dtype=np.int64))


def _stream(name: str, split: str, source, size, progress: Progress | None, shape=None) -> ImageSet:
    """Labels read now (one pass that keeps no image), images decoded per batch. (A source
    opened with SkipDecoding would spare decoding here, but tfds's mock_data needs TensorFlow
    to serve one, so it could not be tested without TensorFlow.)"""
    total, what = len(source), f"reading tfds:{name} {split} labels"
    labels = np.empty(total, dtype=np.int64)
    for index in range(total):
        labels[index] = int(source[index]["label"])
        if progress and ((index + 1) % 4096 == 0 or index + 1 == total):
            progress(what, index + 1, total)
    first = _image(source[0], size)
    shape = tuple(shape or first.shape)
    check_size(f"tfds:{name} {split} example 0", first, shape)  # fail now, not in the middle of an epoch
    decode = _ExampleImages(f"tfds:{name} {split}", source, size, shape)
    return ImageSet(LazyImages(range(total), decode, decode.shape), labels)


def prepare(name: str) -> None:
    """Download and prepare `name` as array_record in a TensorFlow-capable subprocess, its
    progress shown on stderr (a first download can take many minutes and must not look like a hang).
    Offline, it fails at once: the download hosts are probed first."""
    _refuse_unreachable(name, builder(name))  # an unknown name fails in builder(), with its own message
    print(f"preparing tfds:{name} in {data_dir()} (can take minutes)...", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "kerashp.data.prepare", name]
    quiet = {"TF_CPP_MIN_LOG_LEVEL": "1", **os.environ}  # unless asked, TensorFlow's C++ start-up notes are noise
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=_progress_stream(), text=True, env=quiet)
    if result.returncode != 0:
        reason = (result.stdout.strip().splitlines() or [f"exit code {result.returncode}"])[-1]
        raise DataError(
            f"tfds:{name}: not prepared in {data_dir()} and preparing it failed ({reason}); {_instead(name)}"
        )


def check_available(name: str) -> None:
    """Refuse, before a command loads torch and keras, a dataset that is neither prepared nor
    downloadable from here: the one line `prepare` would give, seconds sooner."""
    try:
        _data_sources(name)
    except Exception:  # not prepared (tfds raises several kinds): preparing must be possible
        _refuse_unreachable(name, builder(name))


def _refuse_unreachable(name: str, dataset_builder) -> None:
    unreachable = unreachable_hosts(dataset_builder.url_infos or {})
    if unreachable:
        raise DataError(
            f"tfds:{name}: not prepared in {data_dir()}, and {', '.join(unreachable)} cannot be reached "
            f"to download it; {_instead(name)}"
        )


def _instead(name: str) -> str:
    """What to do when this machine cannot prepare `name`."""
    return (
        f"use a folder source (--set data.source=folder:PATH), or run `kerashp data prepare {name}` "
        f"on a connected machine and copy its ~/tensorflow_datasets to {data_dir()}"
    )


def unreachable_hosts(urls, timeout: float = PROBE_TIMEOUT_S) -> list[str]:
    """The hosts of the http(s) `urls` that accept no TCP connection within `timeout` seconds,
    probed all at once and through the proxy the environment sets, as the download would go
    (offline, tfds's downloader retries for minutes before it gives up)."""
    targets: dict[str, tuple[str, int]] = {}
    for url in urls:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme in ("http", "https") and parts.hostname:
            targets.setdefault(parts.hostname, _address(parts.hostname, parts))
    reached: dict[str, bool] = {}

    def probe(host: str, address: tuple[str, int]) -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            reached[host] = True
        except OSError:  # no such host, refused, timed out, no route
            reached[host] = False

    # daemon threads: a name lookup can outlast `timeout`, and must not hold the process
    threads = [threading.Thread(target=probe, args=target, daemon=True) for target in targets.items()]
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [host for host in targets if not reached.get(host)]


def _address(host: str, parts: urllib.parse.SplitResult) -> tuple[str, int]:
    """Where a download of this URL (at `host`) first connects: its host, or the proxy set for its scheme."""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        via = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if via.hostname:
            return via.hostname, via.port or (443 if via.scheme == "https" else 80)
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _progress_stream():
    """Our stderr for the subprocess's progress, wherever it points now (the TUI's training
    process points it at /dev/null, so progress never scribbles over the screen); discarded when
    it is not a real file."""
    try:
        sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return subprocess.DEVNULL
    sys.stderr.flush()
    return sys.stderr


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
