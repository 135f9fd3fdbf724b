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
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
from PIL import Image

from kerashp.config import load_preset
from kerashp.data.augment import build_pipeline
from kerashp.data.batches import CHANNELS_LAST, CONTIGUOUS, ImageBatches
from kerashp.data.lazy import LazyImages
from kerashp.data.mixing import MixSpec
from kerashp.data.sources.folder import _decode_as
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
    assert adapter.enqueuer is None  # Keras asks in order, in this thread: the processes are the feed's own
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
    processes, segments = pooled._pool._processes, pooled._pool._segments
    assert not any(process.is_alive() for process in processes)
    assert not any((SHM / segment.name.lstrip("/")).exists() for segment in segments)


def test_a_worker_error_is_raised_in_the_training_process_with_its_type_and_message(tmp_path):
    """A streamed image of the wrong size, decoded in a worker, fails the feed as it would here."""
    paths = []
    for index in range(12):
        paths.append(tmp_path / f"{index}.png")
        Image.fromarray(np.zeros((20, 16, 3) if index == 6 else (16, 16, 3), np.uint8)).save(paths[-1])
    lazy = LazyImages(paths, partial(_decode_as, size=None, expected=(16, 16, 3)), (16, 16, 3))
    feed = ImageBatches(lazy, np.zeros(12, int), 2, 4, MEAN, STD, workers=2)
    assert feed[0][0].shape == (4, 16, 16, 3)
    with pytest.raises(DataError, match=r"6\.png: image size \(20, 16\) differs"):
        feed[1]
    assert feed[2][0].shape == (4, 16, 16, 3)  # a new pool serves the next call
    feed.close()


CHILD = textwrap.dedent(
    """
    import json, time

    if __name__ == "__main__":  # the workers import this script too
        import numpy as np
        from kerashp.data.mixing import MixSpec
        from kerashp.data.recipe import BatchRecipe
        from kerashp.data.workers import WorkerPool

        recipe = BatchRecipe(np.zeros(64, int), 2, 8, np.ones(3, np.float32), np.zeros(3, np.float32), mix=MixSpec(0.2))
        pool = WorkerPool(recipe, np.zeros((64, 8, 8, 3), np.uint8), 2)
        pool.get(0, 0, "contiguous")
        started = {"pids": [p.pid for p in pool._processes], "segments": [s.name for s in pool._segments]}
        print(json.dumps(started), flush=True)
        while True:
            pool.get(0, 1, "contiguous")
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
@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_no_process_or_shared_memory_outlives_an_interrupted_or_killed_feed(tmp_path, how):
    script = tmp_path / "feed.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, text=True)
    started = json.loads(child.stdout.readline())
    assert all((SHM / name.lstrip("/")).exists() for name in started["segments"])
    child.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
    child.wait(timeout=60)
    deadline = time.time() + 30  # the workers notice a dead parent within a second or two
    while time.time() < deadline and not all(map(_gone, started["pids"])):
        time.sleep(0.2)
    assert all(map(_gone, started["pids"]))
    while time.time() < deadline and any((SHM / name.lstrip("/")).exists() for name in started["segments"]):
        time.sleep(0.2)  # after a kill, multiprocessing's resource tracker unlinks them
    assert not [name for name in started["segments"] if (SHM / name.lstrip("/")).exists()]
