"""Which image files a `folder:PATH` source holds, and each one's class, from the directory listing
alone: no image is opened, so the quick checks (`kerashp.data.checks`) see the same files, classes
and faults as the loader (`kerashp.data.sources.folder`), in milliseconds.

Two layouts:
- `PATH/train/<class>/*.jpg` and `PATH/test/<class>/*.jpg` (ImageFolder);
- `PATH/<class>/*.jpg` plus split lists (`data.train_list`, `data.test_list`): one path per line,
  relative to PATH, like the Caltech101 homework's train.txt / test.txt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kerashp.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}

Labelled = list[tuple[Path, int]]


@dataclass
class FolderFiles:
    class_names: list[str]
    train: Labelled
    test: Labelled


def folder_files(base: Path, root: str, split_lists: tuple[str, str] = ("", "")) -> FolderFiles:
    """The files of the folder source at `base` (`root` as the user wrote it, for messages)."""
    if any(split_lists):
        class_names = _class_names(base)
        train, test = (_listed(base, name, class_names) for name in split_lists)
        return FolderFiles(class_names, train, test)
    class_names = _class_names(base / "train")
    train = _walk(base / "train", class_names, require_every_class=True)
    test = _walk(base / "test", class_names, require_every_class=False)
    if not test:  # otherwise the run trains for nothing and fails evaluating an empty test set
        raise DataError(f"{base / 'test'}: no images in any class folder (expected {root}/test/<class>/*.jpg)")
    return FolderFiles(class_names, train, test)


def class_folders(directory: Path) -> list[Path]:
    """The class subfolders of `directory`, sorted by name (hidden ones left out)."""
    return sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))


def images_in(directory: Path) -> list[Path]:
    """The image files in `directory`, sorted; scandir's entries know their type without a stat per
    file, which keeps the quick check of a large folder quick."""
    if not directory.is_dir():
        return []
    with os.scandir(directory) as entries:
        names = [entry.name for entry in entries if _is_image(entry.name) and entry.is_file()]
    return [directory / name for name in sorted(names)]


def _is_image(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _class_names(directory: Path) -> list[str]:
    names = [p.name for p in class_folders(directory)]
    if not names:
        raise DataError(f"{directory}: no class subfolders (expected {directory}/<class>/*.jpg)")
    return names


def _walk(split_dir: Path, class_names: list[str], require_every_class: bool) -> Labelled:
    for extra in split_dir.iterdir():
        if extra.is_dir() and extra.name not in class_names and not extra.name.startswith("."):
            raise DataError(f"{extra}: class '{extra.name}' is not in train/ (classes: {', '.join(class_names)})")
    files: Labelled = []
    for label, name in enumerate(class_names):
        found = images_in(split_dir / name)
        if not found and require_every_class:
            raise DataError(
                f"{split_dir / name}: empty class folder (no images with suffix {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        files += [(path, label) for path in found]
    return files


def _listed(base: Path, list_name: str, class_names: list[str]) -> Labelled:
    """Paths from a split list, relative to the list's own folder (PATH, when the list is in it:
    Caltech101's train.txt beside `101_ObjectCategories/` names `101_ObjectCategories/<class>/...`);
    each one's class is its first folder under PATH."""
    list_file = base / list_name
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"{list_file}: cannot read split list ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{list_file}: not a text file of paths (byte {exc.start} is not UTF-8)") from None
    index = {name: label for label, name in enumerate(class_names)}
    classes_root, list_folder = Path(os.path.abspath(base)), Path(os.path.abspath(list_file.parent))
    files: Labelled = []
    for number, line in enumerate(lines, start=1):
        relative = line.strip()
        if not relative or relative.startswith("#"):
            continue
        path = Path(os.path.normpath(list_folder / relative))
        parts = path.relative_to(classes_root).parts if path.is_relative_to(classes_root) else ()
        label = index.get(parts[0]) if len(parts) > 1 else None
        if label is None or not path.is_file():
            problem = "no such file" if label is not None else f"first folder is not a class ({', '.join(class_names)})"
            raise DataError(f"{list_file}:{number}: {relative}: {problem}")
        files.append((path, label))
    if not files:
        raise DataError(f"{list_file}: lists no images")
    return files
