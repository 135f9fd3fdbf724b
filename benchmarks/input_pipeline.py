"""Input pipeline: generator images/s per worker, and training with on-the-fly augmentation vs
training on pre-augmented in-memory data (goal: ratio >= 0.95 with the default workers).

    python benchmarks/input_pipeline.py [--repeats 3] [--epochs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import machine

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter  # noqa: E402

from kerashp.augment import build_pipeline  # noqa: E402
from kerashp.config import load_preset  # noqa: E402
from kerashp.data import load_dataset  # noqa: E402
from kerashp.generator import ImageBatches  # noqa: E402
from kerashp.mixing import MixSpec  # noqa: E402
from kerashp.train import train  # noqa: E402

MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-mini"


def generator_rate(images, labels, augment: dict, workers: int) -> float:
    """Images/s through the PyDataset as Keras consumes it (its own worker pool when workers > 1)."""
    feed = ImageBatches(
        images, labels, 10, 128, np.full(3, 0.5, np.float32), np.full(3, 0.25, np.float32),
        pipeline=build_pipeline(augment, 32, 32), mix=MixSpec.from_augment(augment),
        shuffle=True, channels_first=True, workers=workers,
    )
    adapter = PyDatasetAdapter(feed, shuffle=False)
    started = time.perf_counter()
    count = sum(len(x) for x, _ in adapter.get_numpy_iterator())
    adapter.on_epoch_end()
    return count / (time.perf_counter() - started)


def training_rate(overrides: list[str], runs: Path, epochs: int) -> float:
    preset = load_preset("lenet5_aug", ["data.validation=0", "train.evaluate_test=false", f"train.epochs={epochs}", *overrides])
    result = train(preset, runs)
    images = len(np.load(result.run.path / "split.npz")["train"])
    return images / statistics.median(row["epoch_time"] for row in result.run.read_history()[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training repeat (the first is warm-up)")
    parser.add_argument("--data", default=str(MINI))
    args = parser.parse_args()
    source = f"data.source=folder:{args.data}"
    dataset = load_dataset(f"folder:{args.data}")
    augment = load_preset("lenet5_aug")["augment"]
    with_mixup = dict(augment, mixup_alpha=0.2)
    defaults = load_preset("lenet5_aug")["train"]
    print(f"input_pipeline on {machine()}, {len(dataset.train)} training images, median of {args.repeats}")
    for name, spec in (("lenet5_aug augmentation", augment), ("... plus mixup 0.2", with_mixup)):
        for workers in (1, 2):
            rates = [generator_rate(dataset.train.images, dataset.train.labels, spec, workers) for _ in range(args.repeats)]
            print(f"  generator, {name:<24} workers={workers}: {statistics.median(rates):8.0f} img/s")
    augmented, plain = [], []
    with tempfile.TemporaryDirectory() as runs:
        for _ in range(args.repeats):
            augmented.append(training_rate([source], Path(runs), args.epochs))
            plain.append(training_rate([source, "augment.transforms=[]", "augment.after=[]"], Path(runs), args.epochs))
    ratio = statistics.median(augmented) / statistics.median(plain)
    print(
        f"  training lenet5_aug (workers={defaults['workers']}): augmented on the fly {statistics.median(augmented):.0f} img/s, "
        f"pre-augmented in memory {statistics.median(plain):.0f} img/s, ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
