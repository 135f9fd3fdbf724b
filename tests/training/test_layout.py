"""The memory-layout probe: it leaves the model as it found it, picks channels_last only by a clear
margin, decides once per model in a process, and either layout trains alike."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kerashp.backend import set_random_seed, use_torch_backend

use_torch_backend()

import keras  # noqa: E402
import torch  # noqa: E402

from kerashp.config import load_preset  # noqa: E402
from kerashp.data.batches import ImageBatches  # noqa: E402
from kerashp.errors import RunError  # noqa: E402
from kerashp.models import build_model  # noqa: E402
from kerashp.training.fast import layout as layout_module  # noqa: E402
from kerashp.training.fast.layout import (  # noqa: E402
    CHANNELS_LAST,
    CONTIGUOUS,
    PROBED,
    REUSED,
    decide_layout,
    pick_layout,
    probe_timings,
)
from kerashp.training.run import resume, train  # noqa: E402


def lenet(seed: int = 0) -> keras.Model:
    set_random_seed(seed)
    model = build_model("lenet5", load_preset("lenet5")["model"], (32, 32, 3), 4)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=keras.losses.CategoricalCrossentropy(from_logits=True)
    )
    return model


def test_the_probe_times_both_layouts_and_leaves_every_weight_as_it_was():
    model = lenet()
    before = model.get_weights()  # batch norm's moving statistics included
    timings = probe_timings(model, batch_size=16)
    assert set(timings) == {CONTIGUOUS, CHANNELS_LAST} and all(seconds > 0 for seconds in timings.values())
    for old, new in zip(before, model.get_weights()):
        np.testing.assert_array_equal(old, new)
    assert all(v.value.grad is None for v in model.trainable_variables)


@pytest.mark.parametrize(
    ("contiguous", "channels_last", "picked"),
    [
        (1.0, 0.5, CHANNELS_LAST),  # twice as fast
        (1.0, 0.88, CONTIGUOUS),  # 1.14x: within what load can fake
        (1.0, 0.87, CONTIGUOUS),  # 1.149x: just short of the margin
        (1.0, 0.85, CHANNELS_LAST),  # 1.18x
        (0.5, 1.0, CONTIGUOUS),
    ],
)
def test_channels_last_is_picked_only_when_clearly_faster(contiguous, channels_last, picked):
    assert pick_layout({CONTIGUOUS: contiguous, CHANNELS_LAST: channels_last}) == picked


def test_without_timings_the_default_layout_is_kept():
    assert pick_layout({}) == CONTIGUOUS and pick_layout({CHANNELS_LAST: 0.1}) == CONTIGUOUS


def test_a_process_probes_each_model_once():
    first = decide_layout(lenet(), 16, key="test: lenet5 at 16")
    again = decide_layout(lenet(seed=1), 16, key="test: lenet5 at 16")
    assert first.how == PROBED and again.how == REUSED
    assert (again.layout, again.timings) == (first.layout, first.timings)
    assert again.record()["timings"] == first.timings


@pytest.mark.parametrize("layout", [CONTIGUOUS, CHANNELS_LAST])
def test_batches_come_in_the_chosen_layout_with_the_same_values(layout):
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    feed = ImageBatches(images, np.arange(8) % 4, 4, 8, np.zeros(3), np.ones(3), channels_first=True)
    feed.layout = layout
    x, _ = feed[0]
    assert x.shape == (8, 3, 32, 32) and x.flags["C_CONTIGUOUS"] == (layout == CONTIGUOUS)
    np.testing.assert_allclose(x, images.transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)


def test_training_in_either_layout_gives_the_same_losses(monkeypatch):
    # on a GPU cuDNN would convolve in TF32, whose 10-bit mantissa differs between layouts far more
    # than the summation order does: the comparison is of the layouts, in float32
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    images = np.random.default_rng(1).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(64) % 4
    losses = {}
    for layout in (CONTIGUOUS, CHANNELS_LAST):
        feed = ImageBatches(images, labels, 4, 16, np.full(3, 0.5), np.full(3, 0.25), channels_first=True)
        feed.layout = layout
        losses[layout] = lenet().fit(feed, epochs=2, verbose=0).history["loss"]
    np.testing.assert_allclose(losses[CONTIGUOUS], losses[CHANNELS_LAST], rtol=1e-4)


def test_a_resumed_run_keeps_its_recorded_layout_without_probing_again(tiny_folder, tmp_path, monkeypatch):
    overrides = [f"data.source=folder:{tiny_folder}", "train.batch_size=8", "data.validation=8", "train.epochs=1"]
    first = train(load_preset("lenet5", overrides), tmp_path)
    choice = first.summary["memory_layout_choice"]
    assert choice["how"] in (PROBED, REUSED) and set(choice["timings"]) == {CONTIGUOUS, CHANNELS_LAST}
    assert first.summary["memory_layout"] == pick_layout(choice["timings"])

    def no_probe(*args):
        raise AssertionError("a resumed run probed its layout again")

    monkeypatch.setattr(layout_module, "probe_timings", no_probe)
    recorded = json.loads(first.run.summary_file.read_text())
    first.run.summary_file.write_text(json.dumps(recorded | {"memory_layout": "diagonal"}))
    with pytest.raises(RunError, match='memory_layout = "diagonal": expected one of contiguous, channels_last'):
        resume(first.run.path, epochs=2)
    first.run.summary_file.write_text(json.dumps(recorded))
    resumed = resume(first.run.path, epochs=2)
    assert resumed.summary["memory_layout"] == first.summary["memory_layout"]
    assert resumed.summary["memory_layout_choice"] == choice
