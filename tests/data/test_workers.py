"""The feed's worker processes: the same batches whatever their number, errors raised in the
training process, and nothing left behind (processes, /dev/shm segments) after a normal end,
Ctrl-C or a killed training process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

from kerashp.config import load_preset
from kerashp.data.augment import build_pipeline
from kerashp.data.batches import CHANNELS_LAST, CONTIGUOUS, ImageBatches
from kerashp.data.lazy import LazyImages
from kerashp.data.mixing import MixSpec
from kerashp.errors import DataError

MEAN = np.array([0.5, 0.4, 0.3], np.float32)
STD = np.array([0.25, 0.2, 0.3], np.float32)
SHM = Path("/dev/shm")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (44, 16, 16, 3), dtype=np.uint8), rng.integers(0, 4, 44)


def augmented_feed(images, labels, workers, **kwargs):
    pipeline = build_pipeline(load_preset("lenet5_aug")["augment"], 16, 16)
    mix = MixSpec(mixup_alpha=0.2, cutmix_alpha=1.0)
    return ImageBatches(images, labels, 4, 8, MEAN, STD, pipeline=pipeline, mix=mix, shuffle=True, seed=5,
                        workers=workers, **kwargs)  # fmt: skip


def epochs_as_keras_draws_them(feed, layout, count=2):
    feed.layout = layout
    adapter = PyDatasetAdapter(feed, shuffle=False)
    epochs = []
    for _ in range(count):
        epochs.append([(np.asarray(x), np.asarray(y)) for x, y in adapter.get_numpy_iterator()])
        adapter.on_epoch_end()
    feed.close()
    return epochs


@pytest.mark.parametrize("layout", [CONTIGUOUS, CHANNELS_LAST])
def test_zero_one_and_two_workers_give_the_same_batches_epoch_after_epoch(images, layout):
    drawn = {w: epochs_as_keras_draws_them(augmented_feed(*images, w, channels_first=True), layout) for w in (0, 1, 2)}
    for workers in (1, 2):
        for epoch_alone, epoch_pooled in zip(drawn[0], drawn[workers]):
            assert len(epoch_alone) == len(epoch_pooled) == 6  # the last batch has 4 images
            for (x0, y0), (x, y) in zip(epoch_alone, epoch_pooled):
                assert np.array_equal(x0, x) and np.array_equal(y0, y) and x0.strides == x.strides
    assert not np.array_equal(drawn[0][0][0][0], drawn[0][1][0][0])  # epochs differ


def test_a_resumed_or_repositioned_pooled_feed_gives_the_batches_of_its_epoch(images):
    alone = augmented_feed(*images, 0, epoch=1)
    pooled = augmented_feed(*images, 2, epoch=1)
    try:
        for index in (3, 0, 5, 1):  # out of the stream's order: the pool restarts where asked
            assert np.array_equal(alone[index][0], pooled[index][0])
        pooled.set_epoch(4)
        alone.set_epoch(4)
        assert np.array_equal(alone[2][1], pooled[2][1])
    finally:
        pooled.close()


def _refuse(index: int) -> np.ndarray:
    if index == 6:
        raise DataError(f"image {index}: not an image")
    return np.zeros((16, 16, 3), np.uint8)


def test_a_worker_error_is_raised_in_the_training_process_with_its_type_and_message():
    lazy = LazyImages(list(range(12)), _refuse, (16, 16, 3))
    feed = ImageBatches(lazy, np.zeros(12, int), 2, 4, MEAN, STD, workers=2)
    assert feed[0][0].shape == (4, 16, 16, 3)
    with pytest.raises(DataError, match="image 6: not an image"):
        feed[1]
    assert feed[2][0].shape == (4, 16, 16, 3)  # a new pool serves the next call
    feed.close()


CHILD = textwrap.dedent(
    """
    import json, sys, time

    if __name__ == "__main__":  # the workers import this script too: keras only here
        import numpy as np
        from kerashp.data.batches import ImageBatches
        from kerashp.data.mixing import MixSpec

        images = np.zeros((64, 8, 8, 3), np.uint8)
        feed = ImageBatches(images, np.zeros(64, int), 2, 8, np.zeros(3), np.ones(3), mix=MixSpec(0.2), workers=2)
        feed[0]
        pool = feed._pool
        started = {"pids": [p.pid for p in pool._processes], "segments": [s.name for s in pool._segments]}
        print(json.dumps(started), flush=True)
        if sys.argv[1] == "end":
            feed.close()
        else:
            while True:
                feed[1]
                time.sleep(0.05)
    """
)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as stat:  # a zombie waiting for its parent has ended too
        return stat.read().split(") ")[1].startswith("Z")


@pytest.mark.e2e
@pytest.mark.skipif(not SHM.is_dir(), reason="needs /dev/shm (Linux) to look for leftover segments")
@pytest.mark.parametrize("how", ["end", "ctrl-c", "kill"])
def test_no_process_or_shared_memory_outlives_a_feed(tmp_path, how):
    script = tmp_path / "feed.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True)
    started = json.loads(child.stdout.readline())
    assert all((SHM / name.lstrip("/")).exists() for name in started["segments"]) or how == "end"
    if how != "end":
        child.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    child.wait(timeout=60)
    deadline = time.time() + 30  # the workers notice a dead parent within a second or two
    while time.time() < deadline and not all(map(_gone, started["pids"])):
        time.sleep(0.2)
    assert all(map(_gone, started["pids"]))
    while time.time() < deadline and any((SHM / name.lstrip("/")).exists() for name in started["segments"]):
        time.sleep(0.2)  # after a kill, multiprocessing's resource tracker unlinks them
    assert not [name for name in started["segments"] if (SHM / name.lstrip("/")).exists()]
