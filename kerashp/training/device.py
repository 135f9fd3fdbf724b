"""Every device decision of a run, in one place: CPU or CUDA, which precisions the device can
compute in, cuDNN's benchmark mode, batches copied to the GPU from pinned memory, and whether
`torch.compile` can be used. On a machine without CUDA each choice falls back to the plain CPU
path, so the same preset trains anywhere it is allowed to.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence

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


def normalizes_on_device(mixes: bool, worker_processes: bool) -> bool:
    """Whether a feed hands over raw uint8 batches for `DeviceBatches` to normalise with torch where
    they land. On a GPU that takes microseconds where the host took milliseconds a batch, and a
    quarter of the bytes cross the bus. On a CPU, torch's vectorised kernels on the training threads
    take about 0.3 ms for 128 CIFAR images where NumPy took 0.5 ms, but worker processes normalise
    beside training, so their batches come normalised. Mixing blends float pixels on the host, so
    a mixing feed normalises there."""
    return not mixes and (cuda_available() or not worker_processes)


class DeviceBatches(keras.utils.PyDataset):
    """A feed whose batches arrive as tensors on `device`. On a GPU each array is copied into pinned
    (page-locked) host memory and sent with `non_blocking=True`, so the copy is a DMA transfer
    queued behind the step under way and the thread making batches does not wait for it (Keras
    would copy from pageable memory, synchronously, in the training thread). A raw feed's uint8
    images are normalised where they land, with the same float32 multiply and add the host would
    do (so the values are the same bits). Keras passes tensors on its device through."""

    def __init__(self, feed: keras.utils.PyDataset, device: torch.device | None = None):
        super().__init__(workers=feed.workers, use_multiprocessing=False, max_queue_size=feed.max_queue_size)
        self.feed = feed
        self.device = device or torch.device("cuda", torch.cuda.current_device())
        recipe = _raw_recipe(feed)
        self.normalization = None
        if recipe is not None:
            shape = (1, -1, 1, 1) if recipe.channels_first else (1, 1, 1, -1)
            self.normalization = tuple(
                torch.from_numpy(values).to(self.device).view(shape) for values in (recipe.scale, recipe.offset)
            )

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, index: int):
        x, *rest = (self._send(part) for part in self.feed[index])
        if self.normalization is not None:
            scale, offset = self.normalization
            x = x.float().mul_(scale).add_(offset)  # float() keeps the strides: channels_last stays so
        return (x, *rest)

    def _send(self, array: np.ndarray) -> torch.Tensor:
        host = torch.from_numpy(array)
        if self.device.type != "cuda":
            return host
        pinned = torch.empty_like(host, pin_memory=True)  # keeps the strides: a channels_last batch stays one
        pinned.copy_(host)
        return pinned.to(self.device, non_blocking=True)

    def on_epoch_begin(self) -> None:
        self.feed.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self.feed.on_epoch_end()


def read_later(values: Sequence[torch.Tensor | float]) -> Callable[[], list[float]]:
    """Start copying scalars to the host; the returned function reads them. A GPU tensor's copy
    queues behind the work that makes it, and only the reader waits for it (`float()` would make the
    training thread wait for every step queued so far); anything else is read at once."""
    on_gpu = [v for v in values if isinstance(v, torch.Tensor) and v.is_cuda]
    if not on_gpu:
        now = [float(v) for v in values]
        return lambda: now
    stacked = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=on_gpu[0].device) for v in values])
    host = stacked.to("cpu", non_blocking=True)
    copied = torch.cuda.Event()
    copied.record()

    def read() -> list[float]:
        copied.synchronize()
        return host.tolist()

    return read


def on_device(feed: keras.utils.PyDataset | None) -> keras.utils.PyDataset | None:
    """`feed` as `fit` and `evaluate` should read it on this machine (see `pins_batches` and
    `normalizes_on_device`)."""
    if feed is None:
        return feed
    if pins_batches(cuda_available(), feed.use_multiprocessing):
        return DeviceBatches(feed)
    return DeviceBatches(feed, torch.device("cpu")) if _raw_recipe(feed) is not None else feed


def _raw_recipe(feed: keras.utils.PyDataset):
    """The feed's batch recipe where it hands over uint8 pixels for the device to normalise."""
    recipe = getattr(feed, "recipe", None)
    return recipe if recipe is not None and recipe.raw else None


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
