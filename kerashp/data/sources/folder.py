"""`folder:PATH`: class-per-subfolder images, any size, grayscale or RGB (kept as RGB), in either
layout `folder_files` lists.

Small datasets are decoded once, in parallel threads (decoding releases the GIL), into uint8
arrays; large ones (or `data.cache = "stream"`) are decoded per batch from disk.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from kerashp.data.checks import check_folder
from kerashp.data.dataset import Dataset, ImageSet, Progress
from kerashp.data.images import as_rgb, check_size, fit_size
from kerashp.data.lazy import LazyImages, should_stream
from kerashp.data.sources.folder_files import Labelled, folder_files
from kerashp.errors import DataError

# what PIL raises for a file it cannot decode (a header claiming billions of pixels is a DecompressionBombError)
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


def load_folder(
    root: str,
    size: tuple[int, int] | None,
    progress: Progress | None = None,
    *,
    split_lists: tuple[str, str] = ("", ""),
    cache: str = "auto",
) -> Dataset:
    files = folder_files(check_folder(root, split_lists), root, split_lists)
    train_files, test_files = files.train, files.test
    stream = should_stream(cache, len(train_files) + len(test_files), lambda: _decode(train_files[0][0], size).nbytes)
    train = _read(train_files, size, stream, "reading train", progress)
    # test images must match the train images' size too, or the run fails only when it evaluates
    test = _read(test_files, size, stream, "reading test", progress, shape=train.images.shape[1:])
    return Dataset(f"folder:{root}", train, test, files.class_names)


def _read(files: Labelled, size, stream: bool, what: str, progress: Progress | None, shape=None) -> ImageSet:
    """Every image must have `shape` (default: the first image's)."""
    labels = np.asarray([label for _, label in files], dtype=np.int64)
    paths = [path for path, _ in files]
    if stream:
        first = _decode(paths[0], size) if paths else None
        shape = tuple(shape or (first.shape if first is not None else (*(size or (32, 32)), 3)))
        if first is not None:
            check_size(str(paths[0]), first, shape)
        return ImageSet(LazyImages(paths, lambda path: _decode_as(path, size, shape), shape), labels)
    return ImageSet(_decode_all(paths, size, what, progress, shape), labels)


def _decode_all(files: list[Path], size, what: str, progress: Progress | None, shape=None) -> np.ndarray:
    decoded: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for index, image in enumerate(pool.map(lambda f: _decode(f, size), files), start=1):
            decoded.append(image)
            if progress and (index % 256 == 0 or index == len(files)):
                progress(what, index, len(files))
    for path, image in zip(files, decoded):
        check_size(str(path), image, tuple(shape or decoded[0].shape))
    return np.stack(decoded) if decoded else np.zeros((0, *(size or (32, 32)), 3), np.uint8)


def _decode_as(path: Path, size, expected: tuple[int, ...]) -> np.ndarray:
    image = _decode(path, size)
    check_size(str(path), image, expected)
    return image


def _as_uint8(image: Image.Image) -> np.ndarray:
    """8-bit L or RGB pixels; 16-bit grayscale keeps its full range (PIL's own convert clips it at 255)."""
    if image.mode.startswith("I"):  # "I;16*" 16-bit PNG/TIFF, or 32-bit "I" holding 8- or 16-bit values
        values = np.clip(np.asarray(image, dtype=np.int64), 0, 65535)
        sixteen_bit = image.mode.startswith("I;16") or values.max(initial=0) > 255
        return (values >> 8 if sixteen_bit else values).astype(np.uint8)
    return np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)


def _decode(path: Path, size) -> np.ndarray:
    """One image as uint8 RGB; any failure becomes a one-line DataError naming the file (also when
    it happens in Keras's generator threads while streaming)."""
    try:
        with Image.open(path) as image:
            image.load()
            array = _as_uint8(image)
    except UnidentifiedImageError:  # its message repeats the path
        raise DataError(f"{path}: cannot decode image (not a format PIL recognises; corrupt or empty?)") from None
    except DECODE_ERRORS as exc:
        text = getattr(exc, "strerror", None) or str(exc).strip()
        reason = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
        raise DataError(f"{path}: cannot decode image ({reason})") from None
    return fit_size(as_rgb(array), size)
