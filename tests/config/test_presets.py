"""Every shipped preset builds its model with its optimizer and schedule and takes a real step.

Parameter counts are checked against the figures the studies reported.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kerashp.config import available_presets, load_preset

CLASSES = {"tfds:cifar10": 10, "tfds:cifar100": 100, "tfds:caltech101": 101}  # caltech: 102 less background


def trainable_parameters(model) -> int:
    return int(sum(math.prod(w.shape) for w in model.trainable_weights))


def build(preset):
    from kerashp.models import build_model, native_input_size
    from kerashp.training.optim import apply_l2
    from kerashp.training.run import compile_model

    side = preset["data"]["image_size"] or [native_input_size(preset["model"]["name"]) or 32] * 2
    model = build_model(preset["model"]["name"], preset["model"], (*side, 3), CLASSES[preset["data"]["source"]])
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, steps_per_epoch=10)
    return model


@pytest.mark.parametrize("name", sorted(available_presets()))
def test_preset_model_takes_a_training_step(name):
    overrides = ["model.weights=none"] if "caltech101" in name and name != "alexnet_caltech101" else []
    preset = load_preset(name, overrides)
    model = build(preset)
    batch = 2 if preset["data"]["image_size"] else 4
    classes = CLASSES[preset["data"]["source"]]
    x = np.random.default_rng(0).normal(size=(batch, *model.input_shape[1:])).astype("float32")
    y = np.eye(classes, dtype="float32")[np.arange(batch) % classes]
    loss = model.train_on_batch(x, y, return_dict=True)["loss"]
    assert math.isfinite(loss)
    assert model.output_shape == (None, classes)


def test_lenet5_has_the_hand_computed_62006_parameters():
    model = build(load_preset("lenet5", ["model.batch_norm=false"]))
    assert model.count_params() == 62_006


@pytest.mark.parametrize("name, reported", [("resnet5m_cifar10", 4_960_234), ("resnet5m4_cifar10", 4_901_962)])
def test_resnet_presets_are_within_one_percent_of_the_study(name, reported):
    preset = load_preset(name)
    assert preset["reference"]["parameters"] == reported
    assert abs(trainable_parameters(build(preset)) - reported) / reported < 0.01


def test_frozen_transfer_presets_train_only_the_head():
    frozen = build(load_preset("resnet50_caltech101_frozen", ["model.weights=none"]))
    tuned = build(load_preset("resnet50_caltech101", ["model.weights=none"]))
    assert trainable_parameters(frozen) < 0.05 * trainable_parameters(tuned)


def test_presets_list_shows_every_preset_whole_under_its_study_at_80_columns(capsys, monkeypatch):
    from kerashp.cli import main

    monkeypatch.setenv("COLUMNS", "80")
    assert main(["presets", "list"]) == 0
    shown = capsys.readouterr().out
    assert max(len(line) for line in shown.splitlines()) <= 80
    for name in available_presets():
        preset = load_preset(name)
        assert f" {name} " in shown and preset["study"] in shown
    assert "test 0.9416" in shown and "4,901,962 params" in shown
