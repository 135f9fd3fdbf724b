"""Training throughput: kerashp's training path vs a plain PyTorch loop (goal: ratio >= 0.95).

Both train the same architecture (LeNet-5 with batch norm; CIFAR ResNet-20) with the same batch
size, optimizer (the lenet5 preset's SGD: Nesterov momentum 0.9, L2 1e-4) and data (CIFAR-10 images held as uint8, shuffled,
normalised per batch). The kerashp side is `kerashp.training.run.train` itself: `fit`, its callbacks,
metrics, events and per-epoch checkpoints, in the memory layout it picks itself. The PyTorch
loop runs in both layouts (plain NCHW and channels_last) and the faster one is the reference.
They run alternately, `--repeats` times, and the medians of images/s are compared.

On a GPU (`--device auto` finds one, `cuda` insists on one) both sides train there: the PyTorch
loop copies each uint8 batch from pinned memory and normalises it on the device, and clocks are
read after `torch.cuda.synchronize()`. `--precision mixed_bfloat16` runs the PyTorch loop under
`torch.autocast` (bfloat16) and kerashp with `train.precision = "mixed_bfloat16"`;
`--precision mixed_float16` (a GPU only) runs it under float16 autocast with torch's `GradScaler`
(dynamic loss scaling, as kerashp's `LossScaleOptimizer`).

    python benchmarks/step_throughput.py [--models lenet5 resnet20] [--repeats 3] [--epochs 3]
        [--batch-size 128] [--precision float32|mixed_bfloat16|mixed_float16] [--device auto|cpu|cuda]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

from common import machine

LAYOUTS = ("contiguous", "channels_last")
MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-mini"
OVERRIDES = {
    "lenet5": [],
    "resnet20": ['model.name="resnet"', "model.stages=[16, 32, 64]", "model.blocks=3"],
}


# each --precision's autocast dtype on the PyTorch side (None: no autocast)
AUTOCAST = {"float32": None, "mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(OVERRIDES), choices=list(OVERRIDES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="kerashp epochs per repeat (the first is warm-up)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--precision", choices=tuple(AUTOCAST), default="float32")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--data", default=str(MINI), help="ImageFolder dataset (default: shared cifar10-mini)")
    return parser.parse_args(argv)


def hide_gpus_for(device: str) -> None:
    """Keras's torch backend picks its device when it is imported: `--device cpu` hides the GPUs first."""
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
        os.environ["KERAS_TORCH_DEVICE"] = "cpu"


ARGS = parse_args() if __name__ == "__main__" else parse_args([])
hide_gpus_for(ARGS.device)
os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from kerashp.config import load_preset  # noqa: E402
from kerashp.data import load_dataset  # noqa: E402
from kerashp.training.run import train  # noqa: E402


# ----------------------------------------------------------------------------------- plain PyTorch


def torch_lenet5() -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for filters in (6, 16):
        layers += [nn.Conv2d(channels, filters, 5, bias=False), nn.BatchNorm2d(filters), nn.ReLU(), nn.MaxPool2d(2)]
        channels = filters
    layers.append(nn.Flatten())
    width = 400
    for units in (120, 84):
        layers += [nn.Linear(width, units, bias=False), nn.BatchNorm1d(units), nn.ReLU()]
        width = units
    return nn.Sequential(*layers, nn.Linear(84, 10))


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, filters: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(inputs, filters, 3, stride, 1, bias=False), nn.BatchNorm2d(filters), nn.ReLU(),
            nn.Conv2d(filters, filters, 3, 1, 1, bias=False), nn.BatchNorm2d(filters),
        )
        self.skip = nn.Identity()
        if stride != 1 or inputs != filters:
            self.skip = nn.Sequential(nn.Conv2d(inputs, filters, 1, stride, bias=False), nn.BatchNorm2d(filters))

    def forward(self, x):
        return torch.relu(self.skip(x) + self.body(x))


def torch_resnet20() -> nn.Module:
    blocks: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    channels = 16
    for stage, filters in enumerate((16, 32, 64)):
        for block in range(3):
            blocks.append(BasicBlock(channels, filters, 2 if stage and not block else 1))
            channels = filters
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def refuse(message: str) -> NoReturn:
    """Bad input: one line, exit code 2."""
    print(f"step_throughput: {message}", file=sys.stderr)
    raise SystemExit(2)


def pick_device(wanted: str) -> torch.device:
    if wanted == "cuda" and not torch.cuda.is_available():
        refuse("--device cuda: torch sees no CUDA device here; use --device auto or cpu")
    return torch.device("cuda" if wanted != "cpu" and torch.cuda.is_available() else "cpu")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work, so the clock reads what was done, not what was queued."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def torch_model(name: str, device: torch.device, precision: str) -> nn.Module:
    """`name` in plain PyTorch on `device`, with the lenet5 preset's optimizer as `model.optimizer`
    and `precision`'s autocast context and float16 loss scaler (else None) as `model.autocast`,
    `model.scaler`: one scaler for the model's whole training, as a careful loop keeps it."""
    model = {"lenet5": torch_lenet5, "resnet20": torch_resnet20}[name]().to(device)
    optimizer = load_preset("lenet5")["optimizer"]  # kerashp's side trains with the same settings
    kernels = [p for p in model.parameters() if p.ndim > 1]  # kerashp's L2 covers kernels, not biases or norms
    others = [p for p in model.parameters() if p.ndim <= 1]
    model.optimizer = torch.optim.SGD(
        [{"params": kernels, "weight_decay": 2 * optimizer["l2"]}, {"params": others}],  # d(l2 * w**2)/dw = 2 * l2 * w
        lr=optimizer["learning_rate"], momentum=optimizer["momentum"], nesterov=optimizer["nesterov"],
    )
    dtype = AUTOCAST[precision]
    model.autocast = torch.autocast(device.type, dtype=getattr(torch, dtype)) if dtype else contextlib.nullcontext()
    model.scaler = torch.amp.GradScaler(device.type) if precision == "mixed_float16" else None
    return model


def torch_step(model: nn.Module, x, y):
    """One step of the plain loop; returns the logits and the loss."""
    scaler = model.scaler
    with model.autocast:
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, y)
    model.optimizer.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        model.optimizer.step()
    else:  # float16: scaled, and a step skipped where its gradients overflowed
        scaler.scale(loss).backward()
        scaler.step(model.optimizer)
        scaler.update()
    return logits, loss


def torch_epoch(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    batch: int,
    epoch: int,
    layout: str,
    device: torch.device,
) -> float:
    """One epoch of a well-written PyTorch loop in `layout` (contiguous NCHW or channels_last) on
    `device`, in the model's precision (`torch_model`); returns images/s."""
    mean = torch.tensor([0.4914, 0.4822, 0.4465], device=device).view(1, 3, 1, 1)
    std = torch.tensor([0.2023, 0.1994, 0.2010], device=device).view(1, 3, 1, 1)
    order = np.random.default_rng(epoch).permutation(len(labels))
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    cuda = device.type == "cuda"
    model.train()
    synchronize(device)
    started = time.perf_counter()
    for start in range(0, len(order), batch):
        picked = order[start : start + batch]
        x = torch.from_numpy(images[picked])
        y = torch.from_numpy(labels[picked])
        if cuda:  # uint8 over the bus (a quarter of float32's bytes), from pinned memory, without waiting
            x = x.pin_memory().to(device, non_blocking=True)
            y = y.pin_memory().to(device, non_blocking=True)
        x = x.permute(0, 3, 1, 2)  # channels_last memory
        if layout == "contiguous":
            x = x.contiguous()
        x = (x.float() / 255.0 - mean) / std
        logits, loss = torch_step(model, x, y)
        loss_sum += loss.detach().float() * len(picked)
        correct += (logits.argmax(1) == y).sum()
    float(loss_sum), int(correct)  # one host sync per epoch, as a careful loop does
    synchronize(device)
    return len(order) / (time.perf_counter() - started)


# ----------------------------------------------------------------------------------- kerashp


def kerashp_preset(name: str, source: str, batch: int, epochs: int, precision: str):
    """The lenet5 preset as `name` on `source`, trained on every image with no augmentation or test:
    the training path alone (shared with profile_run.py)."""
    overrides = [
        f"data.source={source}",
        "data.validation=0",
        f"train.batch_size={batch}",
        f"train.epochs={epochs}",
        "train.evaluate_test=false",
        "augment.transforms=[]",
        *OVERRIDES[name],
    ]
    if precision != "float32":  # the default: so this also runs on a kerashp without the key
        overrides.append(f'train.precision="{precision}"')
    return load_preset("lenet5", overrides)


def kerashp_epochs(name: str, source: str, runs: Path, batch: int, epochs: int, precision: str) -> tuple[float, str]:
    """`kerashp.training.run.train` for `epochs`: median images/s of the epochs after the first, and the
    memory layout it chose. (Keras's torch backend trains on the GPU whenever torch sees one.)"""
    result = train(kerashp_preset(name, source, batch, epochs, precision), runs)
    images = len(np.load(result.run.path / "split.npz")["train"])
    times = [row["epoch_time"] for row in result.run.read_history()[1:]]
    return images / statistics.median(times), result.summary["memory_layout"]


def main() -> None:
    args = ARGS
    device = pick_device(args.device)
    if args.precision == "mixed_float16" and device.type != "cuda":
        refuse("--precision mixed_float16: float16 training needs a CUDA GPU; use mixed_bfloat16 on a CPU")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as a careful GPU loop does (kerashp's run shares the process)
    source = f"folder:{args.data}"
    dataset = load_dataset(source)
    images, labels = dataset.train.images, dataset.train.labels
    torch.manual_seed(0)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"step_throughput on {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {where}, {args.precision}, batch {args.batch_size}, {len(labels)} training images, "
          f"{args.repeats} interleaved repeats")
    for name in args.models:
        model = torch_model(name, device, args.precision)
        plain: dict[str, list[float]] = {layout: [] for layout in LAYOUTS}
        ours, chosen = [], []
        for layout in LAYOUTS:  # warm-up
            torch_epoch(model, images[:512], labels[:512], args.batch_size, 0, layout, device)
        with tempfile.TemporaryDirectory() as runs:
            for repeat in range(args.repeats):
                for layout in LAYOUTS:
                    plain[layout].append(
                        torch_epoch(model, images, labels, args.batch_size, repeat, layout, device)
                    )
                speed, layout = kerashp_epochs(name, source, Path(runs), args.batch_size, args.epochs, args.precision)
                ours.append(speed)
                chosen.append(layout)
        best = max(LAYOUTS, key=lambda layout: statistics.median(plain[layout]))  # PyTorch at its best
        ratio = statistics.median(ours) / statistics.median(plain[best])
        # this machine's speed drifts by 10-20% over minutes: the ratio within each repeat drifts less
        paired = statistics.median(k / p for k, p in zip(ours, plain[best]))
        print(f"  {name:<9} plain PyTorch {statistics.median(plain[best]):8.0f} img/s ({best})   "
              f"kerashp {statistics.median(ours):8.0f} img/s ({', '.join(sorted(set(chosen)))})   ratio {ratio:.2f}   "
              f"(median of per-repeat ratios {paired:.2f})")
        for layout in LAYOUTS:
            print(f"            PyTorch {layout:<13} samples {[round(v) for v in plain[layout]]}")
        print(f"            kerashp samples {[round(v) for v in ours]}")


if __name__ == "__main__":
    main()
