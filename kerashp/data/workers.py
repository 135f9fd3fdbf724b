"""Worker processes that make a feed's batches ahead of training, on the cores training leaves free.

The decoded uint8 images sit once in shared memory, which every worker maps (no image is ever
pickled); the workers write finished batches into a ring of shared-memory slots and the pipes
carry only (epoch, batch, slot) one way and "done" the other. Batch k of the stream goes to
worker k mod N and is taken back in order, so the feed sees exactly the batches the training
process would have made itself (`recipe.BatchRecipe` decides every byte).

Workers are forked from multiprocessing's fork server, a small process with no torch or keras
threads that imports this module (numpy, Albumentations, OpenCV) once: a feed's workers start in
milliseconds, which matters to searches, where every trial builds its own feed. Workers ignore
Ctrl-C (the training process decides what an interrupt means), and exit when told, when their
pipe closes, or when the training process dies. The shared memory is unlinked when the pool is
closed or collected, and by multiprocessing's resource tracker if the training process is killed.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal
import sys
import traceback
import weakref
from collections import deque
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.shared_memory import SharedMemory

import cv2
import numpy as np

from kerashp.data.lazy import Images, LazyImages
from kerashp.data.recipe import BatchRecipe
from kerashp.errors import DataError

CONTEXT = multiprocessing.get_context("forkserver")
CONTEXT.set_forkserver_preload(["kerashp.data.feed_server"])
POLL_SECONDS = 1.0  # how often a waiting side checks that the other is still alive
SLOTS_PER_WORKER = 2  # one batch being made and one waiting, per worker
SHARED_MEMORY = "/dev/shm"  # where Linux keeps it; writing past its size would kill the process (SIGBUS)

SharedImages = tuple[str, tuple[int, ...]]  # (segment name, shape): uint8 images in shared memory


class WorkerPool:
    """`workers` processes making the batches of one feed, in the order the feed asks for them,
    and a few batches ahead of it (into the next epoch too, while training validates)."""

    def __init__(self, recipe: BatchRecipe, images: Images, workers: int):
        self.recipe, self.image_shape = recipe, tuple(images.shape[1:])
        self._segments: list[SharedMemory] = []
        self._processes: list[BaseProcess] = []
        self._connections: list[Connection] = []
        self._close = weakref.finalize(self, _release, self._processes, self._connections, self._segments)
        if not can_reach(images):
            raise DataError(f"train.workers = {workers}: these streamed images cannot be decoded elsewhere; use 0")
        needed = shared_memory_needed(images, recipe.batch_size, recipe.num_classes, workers)
        if needed > (free := shared_memory_free()):
            raise DataError(
                f"train.workers = {workers}: the feed needs {needed / 2**20:,.0f} MiB of shared memory and "
                f"{SHARED_MEMORY} has {free / 2**20:,.0f} MiB free; use fewer workers, 0, or a larger {SHARED_MEMORY}"
            )
        source: SharedImages | LazyImages = images if isinstance(images, LazyImages) else self._share(images)
        self._slot_bytes = _slot_bytes(self.image_shape, recipe.batch_size, recipe.num_classes)
        slots = SLOTS_PER_WORKER * workers
        ring = self._segment(slots * self._slot_bytes)
        for _ in range(workers):
            ours, theirs = CONTEXT.Pipe()
            process = CONTEXT.Process(
                target=_work,
                args=(theirs, recipe, source, ring.name, self._slot_bytes),
                daemon=True,
                name="kerashp-feed",
            )
            process.start()
            theirs.close()
            self._processes.append(process)
            self._connections.append(ours)
        self._free = deque(range(slots))
        self._pending: deque[tuple[int, int, str, int, int]] = deque()  # (epoch, batch, layout, slot, worker)
        self._next = (0, 0)
        self._turn = 0

    def get(self, epoch: int, index: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
        """Batch `index` of epoch `epoch` in `layout`, as `BatchRecipe.make` makes it (a copy out of
        its slot, so the slot is free again at once). A pool interrupted here is closed: the next
        feed call starts a new one rather than read replies out of step."""
        try:
            if not self._pending or self._pending[0][:3] != (epoch, index, layout):
                self._restart(epoch, index)
            self._fill(layout)
            rows = self._receive()
            _, _, _, slot, _ = self._pending.popleft()
            x, y = self._read(slot, rows, layout)
            self._free.append(slot)
            self._fill(layout)
            return x, y
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the workers and unlink the shared memory (also done when the pool is collected)."""
        self._close()

    @property
    def alive(self) -> bool:
        return self._close.alive

    def _share(self, images: np.ndarray) -> SharedImages:
        segment = self._segment(images.nbytes)
        np.ndarray(images.shape, np.uint8, buffer=segment.buf)[...] = images
        return segment.name, tuple(images.shape)

    def _segment(self, size: int) -> SharedMemory:
        segment = SharedMemory(create=True, size=max(1, size))
        self._segments.append(segment)
        return segment

    def _restart(self, epoch: int, index: int) -> None:
        """Asked for a batch out of the expected stream (a resumed or repositioned feed): let the
        batches on the way arrive, unused, and continue from (epoch, index)."""
        while self._pending:
            self._receive()
            self._free.append(self._pending.popleft()[3])
        self._next = (epoch, index)

    def _fill(self, layout: str) -> None:
        while self._free:
            epoch, index = self._next
            slot, worker = self._free.popleft(), self._turn % len(self._processes)
            self._connections[worker].send((epoch, index, layout, slot))
            self._pending.append((epoch, index, layout, slot, worker))
            self._turn += 1
            self._next = (epoch, index + 1) if index + 1 < len(self.recipe) else (epoch + 1, 0)

    def _receive(self) -> int:
        """The reply for the oldest batch on the way: its row count, or the worker's error raised here."""
        worker = self._pending[0][4]
        connection, process = self._connections[worker], self._processes[worker]
        while not connection.poll(POLL_SECONDS):
            if not process.is_alive():
                break
        try:
            reply = connection.recv()
        except (EOFError, OSError):
            raise RuntimeError(f"a feed worker process ended unexpectedly (exit code {process.exitcode})") from None
        if isinstance(reply, int):
            return reply
        error, where = reply
        error.add_note(f"in feed worker {worker}:\n{where}")
        raise error

    def _read(self, slot: int, rows: int, layout: str) -> tuple[np.ndarray, np.ndarray]:
        ring = self._segments[-1].buf
        shape = self.recipe.stored_shape(rows, self.image_shape, layout)
        start = slot * self._slot_bytes
        x = np.ndarray(shape, self.recipe.pixel_dtype, buffer=ring, offset=start).copy()
        y = np.ndarray((rows, self.recipe.num_classes), np.float32, buffer=ring, offset=start + x.nbytes).copy()
        return self.recipe.as_fed(x, layout), y


def can_reach(images: Images) -> bool:
    """Whether worker processes can get these images: in shared memory, or decoded on demand by a
    decoder that pickles (a local function, such as a lambda, does not)."""
    if not isinstance(images, LazyImages):
        return True
    try:
        pickle.dumps(images.decode)
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


def shared_memory_needed(images: Images, batch_size: int, num_classes: int, workers: int) -> int:
    """Bytes of shared memory a pool of `workers` holds: the images (unless decoded on demand) and its slots."""
    held = 0 if isinstance(images, LazyImages) else images.nbytes
    return held + SLOTS_PER_WORKER * workers * _slot_bytes(tuple(images.shape[1:]), batch_size, num_classes)


def shared_memory_free() -> int:
    """Free bytes where shared memory lives (a container's /dev/shm is often only 64 MiB)."""
    return shutil.disk_usage(SHARED_MEMORY).free if os.path.isdir(SHARED_MEMORY) else sys.maxsize


def _slot_bytes(image_shape: tuple[int, ...], batch_size: int, num_classes: int) -> int:
    """One finished batch: images and labels, as float32 (room for a raw recipe's uint8 images too)."""
    return batch_size * (int(np.prod(image_shape)) + num_classes) * 4


def _release(processes: list[BaseProcess], connections: list[Connection], segments: list[SharedMemory]) -> None:
    for connection in connections:
        try:
            connection.send(None)
        except OSError:  # the worker has gone already
            pass
    for process in processes:
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()
    for connection in connections:
        connection.close()
    for segment in segments:
        segment.close()
        segment.unlink()


def _work(
    connection: Connection, recipe: BatchRecipe, source: SharedImages | LazyImages, ring_name: str, slot_bytes: int
) -> None:
    """A worker's life: make the batches asked for into their slots until told to stop, the pipe
    closes, or the training process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)  # one core per worker: that is what the worker count was chosen for
    images: Images
    ring_segment = SharedMemory(ring_name)  # kept referenced: collecting it would unmap the memory
    ring = ring_segment.buf
    if isinstance(source, LazyImages):
        images = source
    else:
        name, shape = source
        images_segment = SharedMemory(name)
        images = np.ndarray(shape, np.uint8, buffer=images_segment.buf)
    parent = multiprocessing.parent_process()
    order_epoch, order = -1, np.arange(0)
    while True:
        if not connection.poll(POLL_SECONDS):
            if parent is not None and not parent.is_alive():
                return
            continue
        try:
            task = connection.recv()
        except EOFError:
            return
        if task is None:
            return
        epoch, index, layout, slot = task
        try:
            if epoch != order_epoch:
                order_epoch, order = epoch, recipe.order(epoch)
            x, y = recipe.make(images, order, epoch, index, layout)
            stored, start = recipe.stored(x, layout), slot * slot_bytes
            np.ndarray(stored.shape, recipe.pixel_dtype, buffer=ring, offset=start)[...] = stored
            np.ndarray(y.shape, np.float32, buffer=ring, offset=start + stored.nbytes)[...] = y
            connection.send(len(y))
        except Exception as error:  # reported to the training process, which raises it
            _report(connection, error)


def _report(connection: Connection, error: Exception) -> None:
    where = traceback.format_exc()
    try:
        connection.send((error, where))
    except Exception:  # an error that does not pickle goes as its text
        connection.send((RuntimeError(f"{type(error).__name__}: {error}"), where))
