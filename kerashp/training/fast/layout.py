"""Pick the memory layout a model trains in: plain NCHW (contiguous) or torch's `channels_last`.

Both layouts hold the same channels-first tensors; only the order of their bytes differs, and
every layer keeps the layout of its input. Which one is faster depends on the model: on the
2-core CPU, a plain PyTorch ResNet-20 ran about 1.4x faster in channels_last (oneDNN's preferred
layout for convolutions with many channels), while LeNet-5, with its 6- and 16-channel
convolutions, ran 1.2x faster in plain NCHW. So before training, kerashp times a training step
in each, as cuDNN's benchmark mode does for convolution algorithms. The weights are restored
afterwards, so the probe leaves no trace.

On a GPU the probe times the run's own batch size, several steps between `torch.cuda.synchronize()`
calls: a small batch's step there takes as long as the host needs to launch its kernels, in either
layout, so a probe at 64 images always kept contiguous, where a plain PyTorch ResNet-20 at batch
512 trains 1.2x faster in channels_last on an H200 (39,200 against 32,500 img/s).

The two layouts sum in different orders, so their results differ in the last bits, and a run's
numbers would depend on the machine's load at its start (`study --jobs 2` flipped LeNet-5's pick).
So the decision is made to be stable: contiguous wins unless channels_last is faster by MARGIN;
the decision and its timings are recorded in the run (a resumed run reuses them); a process that
trains many runs of one model (a search's trials) probes once; and `train.memory_layout` pins it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import keras
import numpy as np
import torch

from kerashp.data.batches import CHANNELS_LAST, CONTIGUOUS

LAYOUTS = (CONTIGUOUS, CHANNELS_LAST)
ROUNDS = 3  # the first round warms up kernels and allocator caches; the faster of the rest counts
PROBE_BATCH = 64  # on a CPU: enough to rank the layouts, and short for large models
GPU_STEPS = 3  # steps per timing on a GPU, so the queue of kernels, not the host, sets the pace
MARGIN = 0.15  # channels_last must take at most 1 / 1.15 of contiguous's time to be picked

PINNED, PROBED, REUSED, RESUMED = "preset", "probe", "probe earlier in this process", "resumed run"


@dataclass(frozen=True)
class LayoutChoice:
    """A layout and how it was decided; `timings` (seconds per probe step) when it was probed."""

    layout: str
    how: str
    timings: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict[str, object]:
        """What the run folder keeps of the decision (summary.json's `memory_layout_choice`)."""
        return {"how": self.how, "margin": MARGIN, "timings": self.timings}


_decided: dict[str, LayoutChoice] = {}  # probe results of this process, by `decide_layout`'s key


def decide_layout(model: keras.Model, batch_size: int, key: str) -> LayoutChoice:
    """The layout for `model`, probed once per `key` (the model's configuration, batch size and
    device) in this process; later runs of the same key reuse the first decision."""
    if key in _decided:
        return LayoutChoice(_decided[key].layout, REUSED, _decided[key].timings)
    timings = probe_timings(model, batch_size)
    _decided[key] = LayoutChoice(pick_layout(timings), PROBED, timings)
    return _decided[key]


def pick_layout(timings: dict[str, float]) -> str:
    """Contiguous, unless channels_last's step is faster by a clear MARGIN (noise under load must
    not flip the pick); contiguous too when either layout was not timed."""
    contiguous, channels_last = timings.get(CONTIGUOUS), timings.get(CHANNELS_LAST)
    if contiguous is None or channels_last is None or channels_last * (1 + MARGIN) > contiguous:
        return CONTIGUOUS
    return CHANNELS_LAST


def probe_timings(model: keras.Model, batch_size: int) -> dict[str, float]:
    """Seconds of a forward and backward pass of `model` (channels-first) in each layout, the
    fastest of ROUNDS - 1 after a warm-up; {} where layouts do not apply (not 4-D, not torch)."""
    shape = model.input_shape
    if keras.backend.backend() != "torch" or len(shape) != 4:
        return {}
    on_gpu = keras.ops.convert_to_tensor(0.0).is_cuda
    rows = batch_size if on_gpu else min(batch_size, PROBE_BATCH)
    images = np.random.default_rng(0).normal(size=(rows, *shape[1:])).astype(np.float32)
    batches = {
        CONTIGUOUS: images,
        CHANNELS_LAST: np.ascontiguousarray(images.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    }
    saved = model.get_weights()
    best = {layout: float("inf") for layout in batches}
    try:
        for round_ in range(ROUNDS):
            for layout, batch in batches.items():
                elapsed = _time_steps(model, batch, GPU_STEPS if on_gpu else 1)
                if round_:
                    best[layout] = min(best[layout], elapsed)
    finally:
        model.set_weights(saved)
        for variable in model.trainable_variables:
            variable.value.grad = None
    return {layout: round(seconds, 6) for layout, seconds in best.items()}


def _time_steps(model: keras.Model, batch: np.ndarray, steps: int) -> float:
    """Seconds per forward and backward pass, over `steps` passes."""
    inputs = torch.from_numpy(batch).to(keras.ops.convert_to_tensor(0.0).device)
    cuda = inputs.is_cuda
    if cuda:
        torch.cuda.synchronize()  # the copy and any earlier work are not the step's
    started = time.perf_counter()
    for _ in range(steps):
        outputs = model(inputs, training=True)
        outputs.float().square().mean().backward()
    if cuda:
        torch.cuda.synchronize()  # kernels run asynchronously: wait for the steps' own
    return (time.perf_counter() - started) / steps
