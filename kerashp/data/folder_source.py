"""`folder:PATH`: class-per-subfolder images with `train/` and `test/` subfolders (ImageFolder layout).

Images are decoded once, in parallel threads (decoding releases the GIL), into uint8 RGB arrays.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from kerashp.data.dataset import Dataset, ImageSet, Progress
from kerashp.data.images import as_rgb, fit_size
from kerashp.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def load_folder(root: str, size: tuple[int, int] | None, progress: Progress | None = None) -> Dataset:
    base = Path(root).expanduser()
    if not base.is_dir():
        raise DataError(f"folder:{root}: no such directory")
    split_dirs = {split: base / split for split in ("train", "test")}
    for split, path in split_dirs.items():
        if not path.is_dir():
            raise DataError(f"folder:{root}: missing '{split}/' subfolder (expected {root}/train/<class>/*.jpg and {root}/test/<class>/*.jpg)")
    class_names = _class_names(split_dirs["train"])
    train = _read_split(split_dirs["train"], class_names, size, progress)
    test = _read_split(split_dirs["test"], class_names, size, progress)
    return Dataset(f"folder:{root}", train, test, class_names)


def _class_names(train_dir: Path) -> list[str]:
    names = sorted(p.name for p in train_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise DataError(f"{train_dir}: no class subfolders (expected {train_dir}/<class>/*.jpg)")
    return names


def _read_split(split_dir: Path, class_names: list[str], size, progress: Progress | None) -> ImageSet:
    files: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(class_names):
        class_dir = split_dir / name
        found = sorted(p for p in class_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if class_dir.is_dir() else []
        if not found and split_dir.name == "train":
            raise DataError(f"{class_dir}: empty class folder (no images with suffix {', '.join(sorted(IMAGE_SUFFIXES))})")
        files += found
        labels += [label] * len(found)
    for extra in split_dir.iterdir():
        if extra.is_dir() and extra.name not in class_names and not extra.name.startswith("."):
            raise DataError(f"{extra}: class '{extra.name}' is not in train/ (classes: {', '.join(class_names)})")
    images = _decode_all(files, size, f"reading {split_dir.name}", progress)
    return ImageSet(images, np.asarray(labels, dtype=np.int64))


def _decode_all(files: list[Path], size, what: str, progress: Progress | None) -> np.ndarray:
    decoded: list[np.ndarray] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for index, image in enumerate(pool.map(lambda f: _decode(f, size), files), start=1):
            decoded.append(image)
            if progress and (index % 256 == 0 or index == len(files)):
                progress(what, index, len(files))
    for path, image in zip(files, decoded):
        if image.shape != decoded[0].shape:
            raise DataError(
                f"{path}: image size {image.shape[:2]} differs from {decoded[0].shape[:2]}; "
                "set data.image_size = [height, width] to resize every image"
            )
    return np.stack(decoded) if decoded else np.zeros((0, *(size or (32, 32)), 3), np.uint8)


def _decode(path: Path, size) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            array = np.asarray(image.convert("RGB") if image.mode not in ("L", "RGB") else image)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot decode image ({exc.__class__.__name__}: {exc})") from None
    return fit_size(as_rgb(array), size)
