"""Load a dataset: dispatch on the source kind (`tfds:NAME`, `folder:PATH`), at the size a preset's model needs."""

from __future__ import annotations

from collections.abc import Sequence

from kerashp.config.preset import Preset
from kerashp.data.dataset import Dataset, Progress
from kerashp.data.glance import preset_image_size
from kerashp.data.sources.folder import load_folder
from kerashp.data.sources.tfds import load_tfds
from kerashp.errors import DataError


def load_dataset(
    source: str,
    image_size: Sequence[int] | None = None,
    progress: Progress | None = None,
    *,
    split_lists: tuple[str, str] = ("", ""),
    cache: str = "auto",
) -> Dataset:
    """Load `tfds:NAME` or `folder:PATH` (see the preset's `[data]` keys), resized to [height, width] if asked."""
    kind, _, target = source.partition(":")
    if not target:
        raise DataError(f'data.source = "{source}": expected tfds:NAME or folder:PATH')
    size = (image_size[0], image_size[1]) if image_size else None
    if kind == "tfds":
        return load_tfds(target, size, progress, cache=cache)
    if kind == "folder":
        return load_folder(target, size, progress, split_lists=split_lists, cache=cache)
    raise DataError(f"data.source = \"{source}\": unknown source kind '{kind}'; allowed: tfds, folder")


def load_preset_data(preset: Preset, progress: Progress | None = None) -> Dataset:
    """The dataset a preset's `[data]` section describes, at the size its model needs."""
    data = preset["data"]
    dataset = load_dataset(
        data["source"],
        preset_image_size(preset),
        progress,
        split_lists=(data["train_list"], data["test_list"]),
        cache=data["cache"],
    )
    return dataset.without_classes(data["exclude_classes"]) if data["exclude_classes"] else dataset
