"""Input pipeline: the feed's images/s in the training process and with 1, 2 (and N) worker
processes, training off (goal: 2 workers >= 1.7x one), against Keras's own process pool; the
workers' start-up; the cores a GPU run needs to feed LeNet-5 and ResNet-20 at their GPU speed;
and training with on-the-fly augmentation vs pre-augmented in-memory data (lenet5_aug).

The pre-augmented data is the training set put through lenet5_aug's pipeline once, written
losslessly as a folder dataset that training decodes into memory and feeds without augmentation.

    python benchmarks/input_pipeline.py [--repeats 3] [--epochs 3] [--workers auto] [--data PATH]
        [--gpu-images-per-s lenet5=85000,resnet20=22800] [--no-training]

The feed's workers import this script (as every multiprocessing child imports its parent's main
module): keras, torch and the training code are imported inside the functions that use them.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import interleaved, machine

os.environ.setdefault("KERAS_BACKEND", "torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from kerashp.config import load_preset  # noqa: E402
from kerashp.data import load_dataset  # noqa: E402
from kerashp.data.augment import build_pipeline  # noqa: E402
from kerashp.data.mixing import MixSpec  # noqa: E402

MINI = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-mini"
# Training images/s of a plain PyTorch loop on one H200 at batch 512, float32, nothing waiting for
# data (benchmarks/step_throughput.py --device cuda, 2026-12-04; benchmarks/README.md): what a feed
# must keep up with there. gpu_check.sh passes the figures of the GPU it runs on instead.
GPU_ESTIMATE = {"lenet5": 85_000.0, "resnet20": 22_800.0}
MEAN, STD = np.full(3, 0.5, np.float32), np.full(3, 0.25, np.float32)


def feed(images, labels, augment: dict, workers: int):
    from kerashp.data.batches import ImageBatches

    pipeline, mix = build_pipeline(augment, 32, 32), MixSpec.from_augment(augment)
    return ImageBatches(images, labels, 10, 128, MEAN, STD, pipeline=pipeline, mix=mix, shuffle=True,
                        channels_first=True, workers=workers)  # fmt: skip


def epoch_rate(batches, epochs: int = 2) -> float:
    """Images/s over `epochs` epochs as Keras `fit` draws them, after the first batch (start-up is
    timed apart); the feed is then closed."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    adapter = PyDatasetAdapter(batches, shuffle=False)
    iterator = adapter.get_numpy_iterator()
    next(iterator)
    count, started = 0, time.perf_counter()
    for epoch in range(epochs):
        count += sum(len(x) for x, _ in iterator)
        adapter.on_epoch_end()
        if epoch + 1 < epochs:
            iterator = adapter.get_numpy_iterator()
    seconds = time.perf_counter() - started
    getattr(batches, "close", lambda: None)()
    return count / seconds


def keras_pool(images, labels, augment: dict, workers: int):
    """The same batches through Keras's own `PyDataset(workers, use_multiprocessing=True)`, which
    pickles every batch back through a multiprocessing pool."""
    import keras

    ours = feed(images, labels, augment, 0)

    class KerasPool(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=workers, use_multiprocessing=True)

        def __len__(self):
            return len(ours)

        def __getitem__(self, index):
            return ours[index]

        def on_epoch_end(self):
            ours.on_epoch_end()

    return KerasPool()


def start_up(images, labels, augment: dict, workers: int) -> float:
    """Seconds from a new feed to its first batch."""
    started = time.perf_counter()
    batches = feed(images, labels, augment, workers)
    batches[0]
    seconds = time.perf_counter() - started
    batches.close()
    return seconds


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
    """Training images/s: the median epoch after the first."""
    from kerashp.training.run import train

    preset = load_preset(
        "lenet5_aug", ["data.validation=0", "train.evaluate_test=false", f"train.epochs={epochs}", *overrides]
    )
    result = train(preset, runs)
    images = len(np.load(result.run.path / "split.npz")["train"])
    return images / statistics.median(row["epoch_time"] for row in result.run.read_history()[1:])


def gpu_rates(text: str) -> dict[str, float]:
    rates = dict(GPU_ESTIMATE)
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if name not in rates:
            raise SystemExit(f"--gpu-images-per-s: unknown model {name!r}; allowed: {', '.join(rates)}")
        rates[name] = float(value)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training repeat (the first is warm-up)")
    parser.add_argument("--data", default=str(MINI))
    parser.add_argument(
        "--workers", default="auto", help='train.workers for training, and the largest pool timed ("auto" or N)'
    )
    parser.add_argument("--gpu-images-per-s", default="", metavar="lenet5=R,resnet20=R",
                        help=f"GPU training speeds to feed (default: estimates {GPU_ESTIMATE})")  # fmt: skip
    parser.add_argument("--no-training", action="store_true", help="time the feed only")
    args = parser.parse_args()
    from kerashp.training.feeds import feed_workers

    workers = args.workers if args.workers == "auto" else int(args.workers)
    dataset = load_dataset(f"folder:{args.data}")
    preset = load_preset("lenet5_aug")
    augment = preset["augment"]
    images, labels = dataset.train.images, dataset.train.labels
    most = feed_workers(workers, False, images, preset["train"]["batch_size"], dataset.num_classes)
    print(f"input_pipeline on {machine()}, {len(images)} training images, medians of {args.repeats}")
    print(f"  train.workers = {args.workers} -> {most} worker processes here")

    start_up(images, labels, augment, 1)  # starts multiprocessing's fork server, once per process
    starts = interleaved({w: (lambda w=w: start_up(images, labels, augment, w)) for w in (1, 2)}, args.repeats)
    print(
        "  start-up, new feed to first batch: " + ", ".join(f"{w} workers {s * 1000:.0f} ms" for w, s in starts.items())
    )

    counts = sorted({0, 1, 2, most})
    candidates = {f"{w} workers": (lambda w=w: epoch_rate(feed(images, labels, augment, w))) for w in counts}
    candidates["Keras pool, 2 processes"] = lambda: epoch_rate(keras_pool(images, labels, augment, 2))
    with_mixup = dict(augment, mixup_alpha=0.2)
    candidates["2 workers, plus mixup 0.2"] = lambda: epoch_rate(feed(images, labels, with_mixup, 2))
    rates = interleaved(candidates, args.repeats)
    for name, rate in rates.items():
        print(f"  feed, lenet5_aug augmentation, {name:<26} {rate:8.0f} img/s")
    one = rates["1 workers"]
    print(
        f"  scaling: 2 workers / 1 = {rates['2 workers'] / one:.2f}"
        + (f", {most} / 1 = {rates[f'{most} workers'] / one:.2f}" if most > 2 else "")
    )
    for model, gpu in gpu_rates(args.gpu_images_per_s).items():
        cores = math.ceil(gpu / one)
        print(f"  to feed {model} at {gpu:,.0f} img/s on a GPU: {cores} worker cores ({one:,.0f} img/s each)")
    if args.no_training:
        return

    augmented, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        runs = Path(scratch) / "runs"
        ready = pre_augmented(dataset, Path(args.data), augment, preset["seed"], Path(scratch) / "pre-augmented")
        on_the_fly = [f"data.source=folder:{args.data}", f"train.workers={workers}"]
        in_memory = [f"data.source=folder:{ready}", "augment.transforms=[]", "augment.after=[]"]
        for _ in range(args.repeats):
            augmented.append(training_rate(on_the_fly, runs, args.epochs))
            plain.append(training_rate(in_memory, runs, args.epochs))
    ratio = statistics.median(augmented) / statistics.median(plain)
    print(
        f"  training lenet5_aug (train.workers = {args.workers}: {most} processes): augmented on the fly "
        f"{statistics.median(augmented):.0f} img/s, pre-augmented in memory {statistics.median(plain):.0f} img/s, "
        f"ratio {ratio:.2f}"
    )


if __name__ == "__main__":
    main()
