"""Data decoded once per search: runs in one process with the same data settings share the
decoded, split images (read-only); any setting that changes them loads anew. Also how many feed
worker processes `train.workers` asks for."""

from __future__ import annotations

import numpy as np
import pytest

from kerashp.config import load_preset
from kerashp.training import feeds


@pytest.fixture
def loads(monkeypatch):
    """The data loads `build_feeds` makes (each a decode of the folder)."""
    calls = []

    def counting(preset, progress=None):
        calls.append(preset["seed"])
        return real(preset, progress)

    real = feeds.load_preset_data
    monkeypatch.setattr(feeds, "load_preset_data", counting)
    monkeypatch.setattr(feeds, "_kept", None)
    return calls


def preset(folder, *overrides):
    return load_preset("lenet5", [f"data.source=folder:{folder}", "data.validation=8", *overrides])


def build(preset):
    return feeds.build_feeds(preset, lambda event: None)


def test_runs_with_the_same_data_settings_decode_once_and_share_read_only_arrays(tiny_folder, loads):
    first = build(preset(tiny_folder))
    second = build(preset(tiny_folder, "optimizer.learning_rate=0.5", "train.epochs=3"))  # a search's next trial
    assert len(loads) == 1
    assert second.train.images is first.train.images and second.test.images is first.test.images
    assert np.array_equal(first.split["validation"], second.split["validation"])
    assert first.normalization == second.normalization
    with pytest.raises(ValueError, match="read-only"):
        first.train.images[0, 0, 0, 0] = 1
    with pytest.raises(ValueError, match="read-only"):
        second.validation.recipe.labels[0] = 3


@pytest.mark.parametrize(
    "change", ["seed=1", "data.validation=12", "data.exclude_classes=['cat']", "data.image_size=[24, 24]"]
)
def test_different_data_settings_load_their_own_data_and_only_the_last_is_kept(tiny_folder, loads, change):
    first = build(preset(tiny_folder))
    other = build(preset(tiny_folder, change))
    assert len(loads) == 2 and other.train.images is not first.train.images
    build(preset(tiny_folder))
    assert len(loads) == 3  # one entry: the first settings were let go


IMAGES = np.zeros((1000, 32, 32, 3), np.uint8)  # 3 MiB; a slot of 8 of them 96 KiB


@pytest.mark.parametrize(
    "workers, cheap, cores, threads, expected",
    [
        (3, True, 2, 2, 3),
        (0, False, 16, 1, 0),
        ("auto", True, 16, 1, 0),
        ("auto", False, 16, 4, 12),
        ("auto", False, 2, 2, 0),
    ],
)
def test_workers_auto_takes_the_cores_training_leaves_free(monkeypatch, workers, cheap, cores, threads, expected):
    monkeypatch.setattr(feeds.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(feeds.torch, "get_num_threads", lambda: threads)
    monkeypatch.setattr(feeds.torch.cuda, "is_available", lambda: False)
    assert feeds.feed_workers(workers, cheap, IMAGES, 8, 4) == expected
    monkeypatch.setattr(feeds.torch.cuda, "is_available", lambda: True)  # the GPU trains: one core drives it
    assert feeds.feed_workers("auto", False, IMAGES, 8, 4) == cores - 1


def test_workers_auto_takes_only_as_many_as_shared_memory_holds_and_a_count_too_many_is_refused(monkeypatch):
    from kerashp.data import workers
    from kerashp.data.batches import ImageBatches
    from kerashp.errors import DataError

    monkeypatch.setattr(feeds.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    monkeypatch.setattr(feeds.torch.cuda, "is_available", lambda: True)
    room = workers.shared_memory_needed(IMAGES, 8, 4, 3)
    monkeypatch.setattr(feeds, "shared_memory_free", lambda: room)
    assert feeds.feed_workers("auto", False, IMAGES, 8, 4) == 3
    monkeypatch.setattr(workers, "shared_memory_free", lambda: room)
    feed = ImageBatches(IMAGES, np.zeros(1000, int), 4, 8, np.zeros(3), np.ones(3), workers=4)
    with pytest.raises(DataError, match=r"train.workers = 4: the feed needs 4 MiB of shared memory and .* 3 MiB free"):
        feed[0]


def test_workers_auto_makes_batches_here_when_workers_could_not_decode_the_streamed_images(monkeypatch):
    from kerashp.data.lazy import LazyImages

    monkeypatch.setattr(feeds.torch.cuda, "is_available", lambda: True)
    local = LazyImages(list(range(10)), lambda index: IMAGES[index], IMAGES.shape[1:])  # a lambda does not pickle
    assert feeds.feed_workers("auto", False, local, 8, 4) == 0
