"""Input pipeline: generator images/s per worker, and training with on-the-fly augmentation vs
training on pre-augmented in-memory data (goal: ratio >= 0.95 with the default workers).

The pre-augmented data is the training set put through lenet5_aug's pipeline once, written
losslessly as a folder dataset that training decodes into memory and feeds without augmentation.

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
from PIL import Image  # noqa: E402

from kerashp.config import load_preset  # noqa: E402
from kerashp.data import load_dataset  # noqa: E402
from kerashp.data.augment import build_pipeline  # noqa: E402
from kerashp.data.batches import ImageBatches  # noqa: E402
from kerashp.data.mixing import MixSpec  # noqa: E402
from kerashp.training.run import train  # noqa: E402

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


def pre_augmented(dataset, data: Path, augment: dict, seed: int, into: Path) -> Path:
    """The training images of `dataset` (read from the folder `data`) augmented once, written as a
    class-per-folder dataset beside the folder's own test images."""
    pipeline = build_pipeline(augment, *dataset.image_shape[:2], seed=seed)
    images = pipeline.augment_batch(dataset.train.images.copy())
    for index, (image, label) in enumerate(zip(images, dataset.train.labels)):
        folder = into / "train" / dataset.class_names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(folder / f"{index:05d}.png")
    (into / "test").symlink_to(data.resolve() / "test")
    return into


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
    dataset = load_dataset(f"folder:{args.data}")
    preset = load_preset("lenet5_aug")
    augment, defaults = preset["augment"], preset["train"]
    with_mixup = dict(augment, mixup_alpha=0.2)
    print(f"input_pipeline on {machine()}, {len(dataset.train)} training images, median of {args.repeats}")
    for name, spec in (("lenet5_aug augmentation", augment), ("... plus mixup 0.2", with_mixup)):
        for workers in (1, 2):
            rates = [generator_rate(dataset.train.images, dataset.train.labels, spec, workers) for _ in range(args.repeats)]
            print(f"  generator, {name:<24} workers={workers}: {statistics.median(rates):8.0f} img/s")
    augmented, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch) / "runs"
        ready = pre_augmented(dataset, Path(args.data), augment, preset["seed"], Path(scratch) / "pre-augmented")
        on_the_fly = [f"data.source=folder:{args.data}"]
        in_memory = [f"data.source=folder:{ready}", "augment.transforms=[]", "augment.after=[]"]
        for _ in range(args.repeats):
            augmented.append(training_rate(on_the_fly, runs, args.epochs))
            plain.append(training_rate(in_memory, runs, args.epochs))
    ratio = statistics.median(augmented) / statistics.median(plain)
    print(
        f"  training lenet5_aug (workers={defaults['workers']}): augmented on the fly {statistics.median(augmented):.0f} img/s, "
        f"pre-augmented in memory {statistics.median(plain):.0f} img/s, ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
