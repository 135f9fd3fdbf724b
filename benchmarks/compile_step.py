"""`train.compile`: kerashp's training step eager vs under `torch.compile` (Keras `jit_compile`).

Both models are built as a run builds them (the preset's model, L2, optimizer and schedule, the
fast forward pass and loss) and trained with `fit` on the same in-memory batches; epochs of
`--steps` steps alternate between them, the first of each (compilation, warm-up) is not timed,
and the medians of images/s are compared.

    python benchmarks/compile_step.py [--model lenet5|resnet20] [--steps 300] [--batch-size 128]
        [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from common import machine

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from kerashp.backend import set_random_seed  # noqa: E402
from kerashp.config import load_preset  # noqa: E402
from kerashp.models import build_model  # noqa: E402
from kerashp.training.device import compile_unavailable  # noqa: E402
from kerashp.training.fast.step import accelerate  # noqa: E402
from kerashp.training.optim import apply_l2  # noqa: E402
from kerashp.training.run import compile_model  # noqa: E402

MODELS = {"lenet5": [], "resnet20": ['model.name="resnet"', "model.stages=[16, 32, 64]", "model.blocks=3"]}


def build(name: str, compiled: bool, steps: int):
    preset = load_preset("lenet5", [*MODELS[name], f"train.compile={str(compiled).lower()}"])
    set_random_seed(0)
    model = build_model(preset["model"]["name"], preset["model"], (32, 32, 3), 10)
    apply_l2(model, preset["optimizer"]["l2"])
    compile_model(model, preset, steps)
    accelerate(model)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", choices=list(MODELS), default="lenet5")
    parser.add_argument("--steps", type=int, default=300, help="steps per timed epoch")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if compile_unavailable():
        raise SystemExit(f"compile_step: {compile_unavailable()}")
    rng = np.random.default_rng(0)
    count = args.steps * args.batch_size
    x = rng.normal(size=(count, 3, 32, 32)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, count)]
    models = {"eager": build(args.model, False, args.steps), "torch.compile": build(args.model, True, args.steps)}
    rates: dict[str, list[float]] = {name: [] for name in models}
    for name, model in models.items():
        started = time.perf_counter()
        model.fit(x[: 2 * args.batch_size], y[: 2 * args.batch_size], batch_size=args.batch_size, verbose=0)
        print(f"  {name}: first epoch (compilation, warm-up) {time.perf_counter() - started:.1f} s", flush=True)
    for _ in range(args.repeats):
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(x, y, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
            rates[name].append(count / (time.perf_counter() - started))
    eager, compiled = (statistics.median(rates[name]) for name in models)
    print(
        f"compile_step on {machine()}, {args.model}, batch {args.batch_size}, {args.steps} steps x {args.repeats}: "
        f"eager {eager:.0f} img/s, torch.compile {compiled:.0f} img/s, ratio {compiled / eager:.2f}"
    )
    for name in models:
        print(f"  {name} samples {[round(rate) for rate in rates[name]]}")


if __name__ == "__main__":
    main()
