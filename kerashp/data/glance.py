"""The input shape and class count of a preset's data, from a glance (class folders and one image, or
the tfds metadata) rather than reading it: what `kerashp summary` builds a model for, in a second."""

from __future__ import annotations

from pathlib import Path

from kerashp.config.model_table import native_input_size
from kerashp.config.preset import Preset
from kerashp.data.checks import check_folder
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
    """The input shape (height, width, channels) and class count training would see."""
    data = preset["data"]
    kind, _, target = data["source"].partition(":")
    if kind == "folder":
        base = check_folder(target, (data["train_list"], data["test_list"]))
        size, classes = _glance_folder(base, bool(data["train_list"]))
    else:
        size, classes = _glance_tfds(target)
    size = preset_image_size(preset) or size
    if size is None:
        raise UserError(f"{data['source']}: images have no fixed size; pass --input-shape H,W,C or set data.image_size")
    return (*size, CHANNELS), classes - len(data["exclude_classes"])


def _glance_folder(base: Path, listed: bool) -> tuple[tuple[int, int] | None, int]:
    # imported here: PIL, and OpenCV under the folder source, take a while to import; a tfds source needs neither
    from PIL import Image

    from kerashp.data.sources.folder import IMAGE_SUFFIXES

    root = base if listed else base / "train"
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    first = next(
        (f for folder in classes for f in sorted(folder.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES), None
    )
    if first is None:
        return None, len(classes)
    with Image.open(first) as image:
        width, height = image.size
    return (height, width), len(classes)


def _glance_tfds(name: str) -> tuple[tuple[int, int] | None, int]:
    # imported here: the tfds source brings tensorflow_datasets (about a second), which a folder needs not
    from kerashp.data.sources.tfds import builder

    features = builder(name).info.features
    if "image" not in features or "label" not in features or not hasattr(features["label"], "num_classes"):
        raise DataError(f"tfds:{name}: not an image classification dataset (no 'image' and 'label' class features)")
    height, width = features["image"].shape[:2]
    return (height, width) if height and width else None, features["label"].num_classes
