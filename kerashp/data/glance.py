"""The input shape and class count of a preset's data, from a glance (class folders and one image, or
the tfds metadata) rather than reading it: what `kerashp summary` builds a model for, in a second."""

from __future__ import annotations

from pathlib import Path

from kerashp.config.model_table import native_input_size
from kerashp.config.preset import Preset
from kerashp.data.checks import check_folder
from kerashp.data.classes import excluded_classes
from kerashp.data.sources.folder_files import class_folders, images_in
from kerashp.errors import DataError, UserError

CHANNELS = 3  # every data source delivers RGB


def preset_image_size(preset: Preset) -> tuple[int, int] | None:
    """The (height, width) a preset's images are resized to: data.image_size, else the model's native
    input size; None keeps each image's own size."""
    image_size = preset["data"]["image_size"]
    if image_size:
        height, width = image_size
        return height, width
    native = native_input_size(preset["model"]["name"])
    return (native, native) if native else None


def preset_input(preset: Preset) -> tuple[tuple[int, int, int], int]:
    """The input shape (height, width, channels) and class count training would see: the data's
    classes less those data.exclude_classes names that the data has (in any case)."""
    data = preset["data"]
    kind, _, target = data["source"].partition(":")
    size = preset_image_size(preset)
    if kind == "folder":
        base = check_folder(target, (data["train_list"], data["test_list"]))
        classes = class_folders(base if data["train_list"] else base / "train")
        class_names = [folder.name for folder in classes]
        size = size or _first_image_size(classes)
    else:
        native, class_names = _glance_tfds(target)
        size = size or native
    if size is None:
        raise UserError(f"{data['source']}: images have no fixed size; pass --input-shape H,W,C or set data.image_size")
    excluded = excluded_classes(data["exclude_classes"], class_names, data["source"])
    return (*size, CHANNELS), len(class_names) - len(set(excluded))


def _first_image_size(classes: list[Path]) -> tuple[int, int] | None:
    """The (height, width) of the first image in the class folders, whose size the others share."""
    # imported here: PIL takes a while to import, and a preset that sets its image size needs it not
    from PIL import Image

    first = next((image for folder in classes for image in images_in(folder)), None)
    if first is None:
        return None
    with Image.open(first) as image:
        width, height = image.size
    return height, width


def _glance_tfds(name: str) -> tuple[tuple[int, int] | None, list[str]]:
    # imported here: the tfds source brings tensorflow_datasets (about a second), which a folder needs not
    from kerashp.data.sources.tfds import builder

    features = builder(name).info.features
    if "image" not in features or "label" not in features or not hasattr(features["label"], "num_classes"):
        raise DataError(f"tfds:{name}: not an image classification dataset (no 'image' and 'label' class features)")
    height, width = features["image"].shape[:2]
    label = features["label"]
    names = list(getattr(label, "names", None) or (str(index) for index in range(label.num_classes)))
    return (height, width) if height and width else None, names
