"""Refuse a data source that cannot load, before a command imports anything heavy: a wrong path is
refused in a blink, not after torch and keras have loaded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from kerashp.config.preset import Preset
from kerashp.data.classes import excluded_classes
from kerashp.data.sources.folder_files import folder_files
from kerashp.data.split import validation_count
from kerashp.errors import DataError


def check_preset_data(preset: Preset) -> None:
    """Refuse a folder source that cannot load (the tfds name's syntax is checked with the preset),
    and warn of the settings it adapts (`check_fit`): from the directory listing, no image opened
    (cifar10-mini's 6,000 files: 0.2-0.4 s on 2 cores at load average 16)."""
    data = preset["data"]
    kind, _, target = data["source"].partition(":")
    if kind == "folder":
        lists = (data["train_list"], data["test_list"])
        files = folder_files(check_folder(target, lists), target, lists)
        check_fit(preset, files.class_names, [label for _, label in files.train])


def check_data_available(preset: Preset) -> None:
    """`check_preset_data`, and for a tfds source, that it is prepared or can be downloaded from
    here, for a command about to load the data: refused before torch and keras load (about a
    second to import tensorflow_datasets; offline, a 3 s probe at most) rather than after them."""
    check_preset_data(preset)
    kind, _, name = preset["data"]["source"].partition(":")
    if kind == "tfds":
        # imported here: the tfds source brings numpy and OpenCV, which a folder source's check needs not
        from kerashp.data.sources.tfds import check_available

        check_available(name)


def check_fit(preset: Preset, class_names: list[str], train_labels: list[int]) -> None:
    """What the preset's [data] asks of data with these classes and training labels, before any
    image is decoded: an excluded class the data lacks and a validation count larger than the data
    allows are warned of and adapted (as the loader and the split will); a setting that leaves
    nothing to train on is refused."""
    data = preset["data"]
    excluded = set(excluded_classes(data["exclude_classes"], class_names, data["source"]))
    if len(excluded) == len(class_names):
        raise DataError(f"data.exclude_classes: leaves no classes of {data['source']} to train on")
    counts = Counter(label for label in train_labels if class_names[label] not in excluded)
    classes = len(counts) if data["split"] == "stratified" else 1
    validation_count(sum(counts.values()), data["validation"], classes)


def check_folder(root: str, split_lists: tuple[str, str] = ("", "")) -> Path:
    """The folder `root` names, if it has the layout a folder source needs: train/ and test/, or
    two split lists. A relative path is read from the current directory, so its error shows where that is."""
    base = Path(root).expanduser()
    where = f"folder:{root}" if base.is_absolute() else f"folder:{root} ({base.resolve()})"
    if not base.is_dir():
        raise DataError(f"{where}: no such directory")
    if any(split_lists):  # the lists themselves are read, and their faults named, by the loader
        if not all(split_lists):
            raise DataError("data.train_list and data.test_list: set both or neither")
        return base
    for split in ("train", "test"):
        if not (base / split).is_dir():
            raise DataError(
                f"{where}: missing '{split}/' subfolder (expected {root}/train/<class>/*.jpg and "
                f"{root}/test/<class>/*.jpg, or set data.train_list and data.test_list)"
            )
    return base
