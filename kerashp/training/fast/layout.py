"""Pick the memory layout a model trains fastest in: plain NCHW or torch's `channels_last`.

Both layouts hold the same channels-first tensors; only the order of their bytes differs, and
every layer keeps the layout of its input. Which one is faster depends on the model: on the
2-core CPU, a plain PyTorch ResNet-20 ran about 1.4x faster in channels_last (oneDNN's preferred
layout for convolutions with many channels), while LeNet-5, with its 6- and 16-channel
convolutions, ran 1.2x faster in plain NCHW. So before training, kerashp times a training step
in each and keeps the faster, as cuDNN's benchmark mode does for convolution algorithms. The
weights are restored afterwards, so the probe leaves no trace in the run.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from kerashp.data.batches import CHANNELS_LAST, CONTIGUOUS

ROUNDS = 3  # the first round warms up kernels and allocator caches; the faster of the rest counts
PROBE_BATCH = 64  # enough to rank the layouts; keeps the probe short for large models on a CPU


def fastest_layout(model: keras.Model, batch_size: int) -> str:
    """The layout in which `model` (channels-first) runs a forward and backward pass faster."""
    shape = model.input_shape
    if keras.backend.backend() != "torch" or len(shape) != 4:
        return CONTIGUOUS
    images = np.random.default_rng(0).normal(size=(min(batch_size, PROBE_BATCH), *shape[1:])).astype(np.float32)
    batches = {
        CONTIGUOUS: images,
        CHANNELS_LAST: np.ascontiguousarray(images.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2),
    }
    saved = model.get_weights()
    best = {layout: float("inf") for layout in batches}
    try:
        for round_ in range(ROUNDS):
            for layout, batch in batches.items():
                elapsed = _time_step(model, batch)
                if round_:
                    best[layout] = min(best[layout], elapsed)
    finally:
        model.set_weights(saved)
        for variable in model.trainable_variables:
            variable.value.grad = None
    return min(best, key=lambda layout: best[layout])


def _time_step(model: keras.Model, batch: np.ndarray) -> float:
    import torch

    inputs = torch.from_numpy(batch).to(keras.ops.convert_to_tensor(0.0).device)
    started = time.perf_counter()
    outputs = model(inputs, training=True)
    outputs.float().square().mean().backward()
    if outputs.is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - started
