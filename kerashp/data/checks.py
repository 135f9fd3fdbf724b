"""Refuse a data source that cannot load, before a command imports anything heavy: a wrong path is
refused in a blink, not after torch and keras have loaded."""

from __future__ import annotations

from pathlib import Path

from kerashp.config.preset import Preset
from kerashp.errors import DataError


def check_preset_data(preset: Preset) -> None:
    """Refuse a folder source that cannot load (the tfds name's syntax is checked with the preset):
    a glance at the disk, cheap enough for every keystroke in the TUI's tweak screen."""
    data = preset["data"]
    kind, _, target = data["source"].partition(":")
    if kind == "folder":
        check_folder(target, (data["train_list"], data["test_list"]))


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
