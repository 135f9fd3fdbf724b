"""A preset's input shape and class count, from a glance at its data rather than reading it."""

from __future__ import annotations

from kerashp.config import load_preset
from kerashp.data.glance import preset_image_size, preset_input

CIFAR = (32, 32, 3)


def test_input_comes_from_a_glance_at_the_data(tiny_folder):
    assert preset_input(load_preset("lenet5", [f"data.source=folder:{tiny_folder}"])) == (CIFAR, 4)
    assert preset_input(load_preset("lenet5", [f"data.source=folder:{tiny_folder}", "data.exclude_classes=['cat']"])) == (CIFAR, 3)
    assert preset_input(load_preset("alexnet_caltech101", [f"data.source=folder:{tiny_folder}", "data.exclude_classes=[]"])) == ((224, 224, 3), 4)


def test_images_take_data_image_size_else_the_models_native_size():
    assert preset_image_size(load_preset("lenet5")) is None  # each image keeps its own size
    assert preset_image_size(load_preset("lenet5", ["data.image_size=[20, 24]"])) == (20, 24)
    assert preset_image_size(load_preset("alexnet_caltech101", ["data.image_size=[]"])) == (224, 224)
    assert preset_image_size(load_preset("alexnet_caltech101", ["data.image_size=[64, 64]"])) == (64, 64)
