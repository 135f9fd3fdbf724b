"""Every device decision of a run, in one place: CPU or CUDA, which precisions the device can
compute in, cuDNN's benchmark mode, batches copied to the GPU from pinned memory, and whether
`torch.compile` can be used. On a machine without CUDA each choice falls back to the plain CPU
path, so the same preset trains anywhere it is allowed to.
"""

from __future__ import annotations

import functools
import warnings

import keras
import numpy as np
import torch

from kerashp.errors import PresetError
from kerashp.training.precision import FLOAT16


def cuda_available() -> bool:
    return torch.cuda.is_available()


def check_precision(precision: str, source: str, cuda: bool | None = None) -> None:
    """Refuse a precision this machine cannot compute in (float16 needs a GPU: CPU kernels for it
    are missing or far slower than float32), before any data is loaded."""
    if precision == FLOAT16 and not (cuda_available() if cuda is None else cuda):
        raise PresetError(
            source,
            "train.precision",
            'needs a CUDA GPU and none is visible here; use "mixed_bfloat16" or "float32" on a CPU',
            precision,
        )


def prepare_device() -> None:
    """Let cuDNN time its convolution algorithms once per input shape and keep the fastest: a
    run's batches all have one shape (but the last), so the first step pays for every later one."""
    if cuda_available():
        torch.backends.cudnn.benchmark = True


def pins_batches(cuda: bool, worker_processes: bool) -> bool:
    """Copy batches to the GPU from pinned memory, asynchronously, where the batch is made in this
    process (CUDA cannot be used from Keras's forked feed processes; those keep Keras's own copy)."""
    return cuda and not worker_processes


class DeviceBatches(keras.utils.PyDataset):
    """A feed whose batches arrive on the GPU already: each array is copied into pinned (page-locked)
    host memory and sent with `non_blocking=True`, so the copy is a DMA transfer queued behind the
    step under way and the thread making batches does not wait for it (Keras would copy from
    pageable memory, synchronously, in the training thread). Keras passes tensors on its device through."""

    def __init__(self, feed: keras.utils.PyDataset):
        super().__init__(workers=feed.workers, use_multiprocessing=False, max_queue_size=feed.max_queue_size)
        self.feed = feed
        self.device = torch.device("cuda", torch.cuda.current_device())

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, index: int):
        return tuple(self._send(part) for part in self.feed[index])

    def _send(self, array: np.ndarray) -> torch.Tensor:
        host = torch.from_numpy(array)
        pinned = torch.empty_like(host, pin_memory=True)  # keeps the strides: a channels_last batch stays one
        pinned.copy_(host)
        return pinned.to(self.device, non_blocking=True)

    def on_epoch_begin(self) -> None:
        self.feed.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.feed.on_epoch_end()


def on_device(feed: keras.utils.PyDataset | None) -> keras.utils.PyDataset | None:
    """`feed` as `fit` should read it on this machine (see `pins_batches`)."""
    if feed is None or not pins_batches(cuda_available(), feed.use_multiprocessing):
        return feed
    return DeviceBatches(feed)


@functools.cache
def compile_unavailable() -> str | None:
    """Why `torch.compile` cannot be used here, or None when it can (Keras's `jit_compile` on the
    torch backend is `torch.compile` of the training step)."""
    try:
        import torch._dynamo  # noqa: F401  the compiler's front end; missing or broken on some builds

        if not torch._dynamo.is_dynamo_supported():
            return "torch.compile does not support this Python or platform"
    except Exception as exc:  # an import that fails for any reason means no compiler
        return f"torch.compile cannot load ({type(exc).__name__}: {exc})"
    return None


def use_compile(wanted: bool) -> bool:
    """`train.compile`, where the compiler is there; otherwise one warning and the eager step. A
    model the compiler fails on falls back to eager frame by frame (dynamo's `suppress_errors`)."""
    if not wanted:
        return False
    reason = compile_unavailable()
    if reason is not None:
        warnings.warn(f"train.compile = true: {reason}; training without it", stacklevel=2)
        return False
    torch._dynamo.config.suppress_errors = True
    return True
