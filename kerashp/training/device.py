"""Every device decision of a run, in one place: CPU or CUDA, which precisions the device can
compute in, cuDNN's benchmark mode, batches copied to the GPU from pinned memory, and whether
`torch.compile` can be used. On a machine without CUDA each choice falls back to the plain CPU
path, so the same preset trains anywhere it is allowed to.
"""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import keras
import numpy as np
import torch

from kerashp.data.batches import CHANNELS_LAST, CONTIGUOUS
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
    """A feed whose batches arrive as tensors on `device`.

    On a GPU each array is copied into pinned (page-locked) host memory and sent with
    `non_blocking=True`, so the copy is a DMA transfer queued behind the step under way (Keras
    would copy from pageable memory, synchronously, in the training thread). A raw feed's uint8
    images are normalised where they land, with the same float32 multiply and add the host would
    do (so the values are the same bits); channels-first ones cross in the order their bytes are
    stored (NHWC) and take the model's layout in the same GPU copy, where the host would have
    transposed them first. And the next batch is made `ahead`, in a thread of its own, while the
    training thread queues the step: on an H200 making a LeNet-5 batch of 512 took 1.5 ms of a 6.5
    ms step, most of it NumPy and copies that release the GIL. On a CPU, both cores already train,
    so batches are made when asked for. Keras passes tensors on its device through.
    """

    def __init__(self, feed: keras.utils.PyDataset, device: torch.device | None = None, ahead: bool | None = None):
        super().__init__(workers=feed.workers, use_multiprocessing=False, max_queue_size=feed.max_queue_size)
        self.feed = feed
        self.device = device or torch.device("cuda", torch.cuda.current_device())
        on_gpu = self.device.type == "cuda"
        recipe = _raw_recipe(feed)
        self.normalization = None
        if recipe is not None:
            shape = (1, -1, 1, 1) if recipe.channels_first else (1, 1, 1, -1)
            self.normalization = tuple(
                torch.from_numpy(values).to(self.device).view(shape) for values in (recipe.scale, recipe.offset)
            )
        self.lays_out = on_gpu and recipe is not None and recipe.channels_first
        self.ahead = on_gpu if ahead is None else ahead
        self._next: tuple[int, Future] | None = None  # (index, the batch being made) while one is
        self._maker: ThreadPoolExecutor | None = None

    def __len__(self) -> int:
        return len(self.feed)

    def __getitem__(self, index: int):
        batch = self._made_ahead(index) or self._make(index)
        if self.ahead and index + 1 < len(self):
            self._next = (index + 1, self._thread().submit(self._make, index + 1))
        return batch

    def _made_ahead(self, index: int):
        """The batch made ahead, if it is `index`'s. Any batch under way is waited for first, so
        only one thread at a time ever uses the feed."""
        if self._next is None:
            return None
        (made, future), self._next = self._next, None
        batch = future.result()
        return batch if made == index else None

    def _make(self, index: int):
        wanted = getattr(self.feed, "layout", CONTIGUOUS)
        arrays = self.feed.batch(index, CHANNELS_LAST) if self.lays_out else self.feed[index]
        x, *rest = (self._send(array) for array in arrays)
        if self.normalization is not None:
            scale, offset = self.normalization
            layout = torch.contiguous_format if self.lays_out and wanted == CONTIGUOUS else torch.preserve_format
            x = x.to(torch.float32, memory_format=layout).mul_(scale).add_(offset)
        return (x, *rest)

    def _send(self, array: np.ndarray) -> torch.Tensor:
        host = torch.from_numpy(array)
        if self.device.type != "cuda":
            return host
        pinned = torch.empty_like(host, pin_memory=True)  # keeps the strides: a channels_last batch stays one
        pinned.copy_(host)
        return pinned.to(self.device, non_blocking=True)

    def _thread(self) -> ThreadPoolExecutor:
        if self._maker is None:
            on_gpu = self.device.type == "cuda"  # the thread's kernels go to this feed's GPU
            self._maker = ThreadPoolExecutor(
                1, "kerashp-feed", functools.partial(torch.cuda.set_device, self.device) if on_gpu else None
            )
            weakref.finalize(self, self._maker.shutdown, wait=False)
        return self._maker

    def on_epoch_begin(self) -> None:
        self._made_ahead(-1)
        self.feed.on_epoch_begin()

    def on_epoch_end(self) -> None:
        self._made_ahead(-1)  # the feed moves to the next epoch only once no batch of this one is being made
        self.feed.on_epoch_end()


class ReadLater:
    """Scalars on their way to the host. A GPU tensor's copy queues behind the work that makes it,
    and only `read` waits for it (`float()` would make the training thread wait for every step
    queued so far); `ready` says, without waiting, whether it has arrived. Anything else is read at once."""

    def __init__(self, values: Sequence[torch.Tensor | float]):
        on_gpu = [v for v in values if isinstance(v, torch.Tensor) and v.is_cuda]
        self._copied: torch.cuda.Event | None = None
        if not on_gpu:
            self._values = [float(v) for v in values]
            return
        stacked = torch.stack([torch.as_tensor(v, dtype=torch.float32, device=on_gpu[0].device) for v in values])
        self._host = stacked.to("cpu", non_blocking=True)
        self._copied = torch.cuda.Event()
        self._copied.record()

    def ready(self) -> bool:
        return self._copied is None or self._copied.query()

    def read(self) -> list[float]:
        if self._copied is None:
            return self._values
        self._copied.synchronize()
        return self._host.tolist()


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
