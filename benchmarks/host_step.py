"""Host time of one training step: kerashp's step vs Keras's own vs plain PyTorch, with batches so
small that every step is host work.

On a GPU a small model's step is bound by the Python and the kernel launches that queue it, not by
its arithmetic (LeNet-5 at batch 512 is about a millisecond of kernels on an H200). A CPU measures
that host work too, once the batch is tiny. Side by side, interleaved, on the same batch:
plain PyTorch (step_throughput.py's loop: autocast, and torch's `GradScaler` in float16), Keras's
own train step (stock `compile`: Keras's layer calls, loss and optimizer `apply`), and kerashp's
(the direct pass, the torch loss and the lean step). Each step is called directly, without `fit`'s
loop around it. Quoted: median ms a step, and each Keras side's median ms over plain PyTorch within
a repeat. float16 runs on a CPU here for this (its kernels are slow there, on every side alike).

    python benchmarks/host_step.py [--model lenet5|resnet20] [--batch-size 2]
        [--precision float32|mixed_bfloat16|mixed_float16] [--steps 50] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported (kerashp, step_throughput)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from common import machine  # noqa: E402
from step_throughput import AUTOCAST, OVERRIDES, synchronize, torch_model, torch_step  # noqa: E402, I001

from kerashp.backend import set_random_seed  # noqa: E402
from kerashp.config import load_preset  # noqa: E402
from kerashp.models import build_model  # noqa: E402
from kerashp.training.fast.step import accelerate  # noqa: E402
from kerashp.training.optim import apply_l2  # noqa: E402
from kerashp.training.precision import build_in_precision  # noqa: E402
from kerashp.training.run import compile_model  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=list(OVERRIDES), default="lenet5")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--precision", choices=tuple(AUTOCAST), default="float32")
    parser.add_argument("--steps", type=int, default=50, help="steps a side per repeat")
    parser.add_argument("--repeats", type=int, default=7)
    return parser.parse_args()


def plain_step(name: str, precision: str, x: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    model = torch_model(name, x.device, precision)
    labels = y.argmax(dim=1)
    model.train()
    return lambda: torch_step(model, x, labels)


def keras_step(name: str, precision: str, x: torch.Tensor, y: torch.Tensor, kerashp: bool) -> Callable[[], object]:
    """Keras's train step on the preset's model, compiled as kerashp compiles it; with `kerashp`, accelerated."""
    preset = load_preset("lenet5", [*OVERRIDES[name], f"train.precision={precision}"])
    settings = preset["model"]
    model = build_in_precision(lambda: build_model(settings["name"], settings, (32, 32, 3), 10), precision)
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, steps_per_epoch=1000)
    if kerashp and not (accelerate(model) and "train_step" in vars(model)):
        raise SystemExit(f"{name} in {precision}: kerashp's direct pass or lean step stepped aside")
    model.train_on_batch(x, y)  # builds the optimizer and the metrics
    step = model.train_step
    return lambda: step((x, y))


def main() -> None:
    args = parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # where Keras's backend trains
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(args.batch_size, 3, 32, 32)).astype("float32"), device=device)
    y = torch.tensor(np.eye(10, dtype="float32")[rng.integers(0, 10, args.batch_size)], device=device)
    set_random_seed(0)
    sides = {
        "plain PyTorch": plain_step(args.model, args.precision, x, y),
        "Keras": keras_step(args.model, args.precision, x, y, kerashp=False),
        "kerashp": keras_step(args.model, args.precision, x, y, kerashp=True),
    }
    ms: dict[str, list[float]] = {side: [] for side in sides}
    for repeat in range(args.repeats + 1):  # the first round warms up
        for side, step in sides.items():
            synchronize(device)
            started = time.perf_counter()
            for _ in range(args.steps):
                step()
            synchronize(device)
            if repeat:
                ms[side].append((time.perf_counter() - started) / args.steps * 1e3)
    print(
        f"host_step on {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}, "
        f"{args.model}, {args.precision}, batch {args.batch_size}, "
        f"{args.steps} steps x {args.repeats} interleaved repeats"
    )
    plain = ms["plain PyTorch"]
    for side, times in ms.items():
        over = statistics.median(t - p for t, p in zip(times, plain))
        extra = "" if side == "plain PyTorch" else f"   {over:+.3f} ms over plain PyTorch"
        print(f"  {side:<14} {statistics.median(times):7.3f} ms a step{extra}")


if __name__ == "__main__":
    main()
