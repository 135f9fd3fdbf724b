"""Device decisions (kerashp.training.device): each is a function of plain facts, checked here for a
machine with and without CUDA; what needs a real GPU is skipped without one."""

from __future__ import annotations

import numpy as np
import pytest

from kerashp.backend import use_torch_backend

use_torch_backend()

import torch  # noqa: E402

from kerashp.data.batches import ImageBatches  # noqa: E402
from kerashp.data.mixing import MixSpec  # noqa: E402
from kerashp.training import device  # noqa: E402

CUDA = torch.cuda.is_available()
NEEDS_CUDA = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
WITHOUT_CUDA = pytest.mark.skipif(CUDA, reason="checks the CPU fallback")


def feed(count: int = 8) -> ImageBatches:
    images = np.random.default_rng(0).integers(0, 256, (count, 8, 8, 3), dtype=np.uint8)
    return ImageBatches(images, np.arange(count) % 2, 2, 4, np.zeros(3), np.ones(3), channels_first=True)


@pytest.mark.parametrize(
    ("cuda", "processes", "pinned"),
    [(False, False, False), (False, True, False), (True, False, True), (True, True, False)],
)
def test_batches_are_pinned_only_on_cuda_and_only_when_made_in_this_process(cuda, processes, pinned):
    assert device.pins_batches(cuda, processes) is pinned


def test_compile_is_off_unless_asked_for():
    assert device.use_compile(False) is False


def test_compile_falls_back_with_one_warning_where_the_compiler_is_missing(monkeypatch):
    monkeypatch.setattr(device, "compile_unavailable", lambda: "torch.compile does not support this Python or platform")
    with pytest.warns(UserWarning, match="train.compile = true: torch.compile does not support") as caught:
        assert device.use_compile(True) is False
    assert len(caught) == 1 and "\n" not in str(caught[0].message)


def test_the_compiler_check_names_a_reason_or_none():
    reason = device.compile_unavailable()
    assert reason is None or (isinstance(reason, str) and reason)


@WITHOUT_CUDA
def test_without_cuda_the_feed_and_cudnn_are_left_alone():
    batches = feed()
    assert device.on_device(batches) is batches and device.on_device(None) is None
    raw, normalized = raw_and_normalized(True, "contiguous")
    landed = device.on_device(raw)  # a raw feed is normalised by torch, on the CPU
    assert isinstance(landed, device.DeviceBatches)
    np.testing.assert_array_equal(landed[0][0].numpy(), normalized[0][0])
    device.prepare_device()
    assert torch.backends.cudnn.benchmark is False


@NEEDS_CUDA
def test_on_cuda_batches_arrive_on_the_gpu_with_their_values_and_layout():
    batches = feed()
    batches.layout = "channels_last"
    x, y = batches[0]
    on_gpu = device.on_device(batches)
    gx, gy = on_gpu[0]
    torch.cuda.synchronize()
    assert gx.is_cuda and gy.is_cuda and len(on_gpu) == len(batches)
    assert gx.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(gx.cpu().numpy(), x)
    np.testing.assert_array_equal(gy.cpu().numpy(), y)
    device.prepare_device()
    assert torch.backends.cudnn.benchmark is True


def raw_and_normalized(channels_first: bool, layout: str, workers: int = 0) -> tuple[ImageBatches, ImageBatches]:
    """The same feed twice: handing over uint8 pixels, and normalising them on the host."""
    images = np.random.default_rng(1).integers(0, 256, (10, 6, 5, 3), dtype=np.uint8)
    mean, std = np.array([0.49, 0.48, 0.45], np.float32), np.array([0.2, 0.21, 0.19], np.float32)
    feeds = []
    for raw in (True, False):
        feed = ImageBatches(
            images,
            np.arange(10) % 3,
            3,
            4,
            mean,
            std,
            shuffle=True,
            seed=5,
            channels_first=channels_first,
            workers=workers if raw else 0,
            raw=raw,
        )
        feed.layout = layout
        feeds.append(feed)
    return feeds[0], feeds[1]


@pytest.mark.parametrize(
    ("channels_first", "layout", "workers"),
    [(False, "contiguous", 0), (True, "contiguous", 0), (True, "channels_last", 0), (True, "channels_last", 1)],
)
def test_raw_batches_normalised_where_they_land_are_the_hosts_values_bit_for_bit(channels_first, layout, workers):
    raw, normalized = raw_and_normalized(channels_first, layout, workers)
    try:
        landed = device.DeviceBatches(raw, torch.device("cpu"))
        for index in range(len(raw)):
            assert raw[index][0].dtype == np.uint8
            x, y = landed[index]
            expected_x, expected_y = normalized[index]
            assert x.dtype == torch.float32 and x.stride() == torch.from_numpy(expected_x).stride()
            np.testing.assert_array_equal(x.numpy(), expected_x)
            np.testing.assert_array_equal(y.numpy(), expected_y)
    finally:
        raw.close()


def test_a_mixing_feed_cannot_be_raw_and_a_gpu_leaves_it_to_the_host():
    with pytest.raises(ValueError, match="mixing recipe"):
        ImageBatches(
            np.zeros((4, 4, 4, 3), np.uint8),
            np.arange(4) % 2,
            2,
            2,
            np.zeros(3),
            np.ones(3),
            mix=MixSpec(mixup_alpha=0.2),
            raw=True,
        )
    assert device.normalizes_on_device(mixes=True, worker_processes=False) is False
    assert device.normalizes_on_device(mixes=False, worker_processes=True) is CUDA  # a CPU's workers normalise
    assert device.normalizes_on_device(mixes=False, worker_processes=False) is True


def test_values_read_later_are_the_values():
    values = [torch.tensor(1.5), 2.0, torch.tensor(float("nan"))]
    later = device.ReadLater(values)
    assert later.ready() and later.read()[:2] == [1.5, 2.0] and np.isnan(later.read()[2])


@NEEDS_CUDA
@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_on_cuda_raw_batches_are_normalised_on_the_gpu_as_the_host_would(layout):
    raw, normalized = raw_and_normalized(True, layout)
    landed = device.on_device(raw)
    assert landed.ahead and landed.lays_out
    for index in range(len(raw)):
        gx, _ = landed[index]
        memory_format = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        assert gx.is_cuda and gx.is_contiguous(memory_format=memory_format)
        np.testing.assert_array_equal(gx.cpu().numpy(), normalized[index][0])
    later = device.ReadLater([gx.sum(), gx.max()])
    assert later.read() == pytest.approx([float(gx.sum()), float(gx.max())])
    torch.cuda.synchronize()
    assert later.ready()


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_batches_made_ahead_are_the_batches_asked_for_in_every_epoch_and_order(layout):
    """The GPU path makes the next batch in a thread while the step runs; here on the CPU. Each
    batch must be the one asked for: in order, out of order, and after the epoch moves on."""
    raw, normalized = raw_and_normalized(True, layout)
    landed = device.DeviceBatches(raw, torch.device("cpu"), ahead=True)
    landed.lays_out = True  # as on a GPU: NHWC bytes cross, and take the model's layout where they land
    expected_layout = torch.channels_last if layout == "channels_last" else torch.contiguous_format
    for epoch in range(2):
        for index in [*range(len(raw)), 1, 0, 2]:
            x, y = landed[index]
            expected_x, expected_y = normalized[index]
            assert x.is_contiguous(memory_format=expected_layout)
            np.testing.assert_array_equal(x.numpy(), expected_x)
            np.testing.assert_array_equal(y.numpy(), expected_y)
        landed.on_epoch_end()
        normalized.on_epoch_end()
        assert raw.epoch == normalized.epoch == epoch + 1


def test_only_a_gpu_feed_makes_batches_ahead_and_lays_them_out_there():
    raw, _ = raw_and_normalized(True, "contiguous")
    on_cpu = device.DeviceBatches(raw, torch.device("cpu"))
    assert not on_cpu.ahead and not on_cpu.lays_out
