"""What the generator feeds the model, drawn: originals beside their augmented versions, mixup
pairs with their lambda, the class histogram and the Beta(alpha, alpha) density."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kerashp.augment import build_pipeline, seed_pipeline
from kerashp.config import Preset
from kerashp.data import Dataset
from kerashp.generator import batch_seed


def augmented_pairs(preset: Preset, images: np.ndarray) -> np.ndarray:
    """Each image through the preset's pipeline, seeded per image as the generator seeds batches."""
    pipeline = build_pipeline(preset["augment"], images.shape[1], images.shape[2], seed=preset["seed"])
    if pipeline is None:
        return images.copy()
    out = []
    for index, image in enumerate(images):
        seed_pipeline(pipeline, batch_seed(preset["seed"], 0, index, 1))
        out.append(pipeline(image=image)["image"])
    return np.stack(out)


def draw_preview(preset: Preset, dataset: Dataset, count: int, out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(preset["seed"])
    picked = np.sort(rng.choice(len(dataset.train), size=min(count, len(dataset.train)), replace=False))
    originals = dataset.train.images[picked]
    augmented = augmented_pairs(preset, originals)
    alpha = preset["augment"]["mixup_alpha"]
    columns = 8
    pair_rows = math.ceil(len(picked) / (columns // 2))
    mix_rows = 2 if alpha > 0 else 0
    figure = plt.figure(figsize=(columns * 1.3, (pair_rows + mix_rows) * 1.45 + 3.2), layout="constrained")
    grid = figure.add_gridspec(pair_rows + mix_rows + 1, columns, height_ratios=[1] * (pair_rows + mix_rows) + [2.2])
    for slot, index in enumerate(range(len(picked))):
        row, column = divmod(slot, columns // 2)
        for offset, (image, kind) in enumerate(((originals[index], "original"), (augmented[index], "augmented"))):
            axis = figure.add_subplot(grid[row, 2 * column + offset])
            _show(axis, image, f"{dataset.class_names[dataset.train.labels[picked[index]]]}\n{kind}")
    if alpha > 0:
        _draw_mixup(figure, grid, pair_rows, augmented, alpha, rng)
    _draw_histogram(figure.add_subplot(grid[-1, : columns // 2 if alpha > 0 else columns]), dataset)
    if alpha > 0:
        _draw_beta(figure.add_subplot(grid[-1, columns // 2 :]), alpha)
    figure.suptitle(f"{preset.name}: what the training generator feeds the model (seed {preset['seed']})")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _show(axis, image: np.ndarray, title: str) -> None:
    axis.imshow(image, interpolation="nearest")
    axis.set_title(title, fontsize=7)
    axis.axis("off")


def _draw_mixup(figure, grid, first_row: int, images: np.ndarray, alpha: float, rng) -> None:
    """Two rows of (source A, source B, mix) triples, each titled with its lambda."""
    for row in range(2):
        for triple in range(2):
            a, b = rng.choice(len(images), size=2, replace=False)
            lam = rng.beta(alpha, alpha)
            mixed = (lam * images[a].astype(np.float32) + (1 - lam) * images[b]).astype(np.uint8)
            base = triple * 4
            for offset, (image, title) in enumerate(((images[a], "source A"), (images[b], "source B"), (mixed, f"mix, λ={lam:.2f}"))):
                _show(figure.add_subplot(grid[first_row + row, base + offset]), image, title)


def _draw_histogram(axis, dataset: Dataset) -> None:
    counts = np.bincount(dataset.train.labels, minlength=dataset.num_classes)
    axis.bar(range(dataset.num_classes), counts, color="#4477aa")
    axis.set_title(f"training images per class ({len(dataset.train)} in all)", fontsize=9)
    axis.set_xlabel("class")
    axis.set_ylabel("images")
    if dataset.num_classes <= 20:
        axis.set_xticks(range(dataset.num_classes), dataset.class_names, rotation=45, ha="right", fontsize=7)


def _draw_beta(axis, alpha: float) -> None:
    from math import gamma

    x = np.linspace(0.005, 0.995, 400)
    density = gamma(2 * alpha) / gamma(alpha) ** 2 * (x * (1 - x)) ** (alpha - 1)
    axis.plot(x, density, color="#ee6677")
    axis.set_title(f"mixup λ ~ Beta({alpha:g}, {alpha:g})", fontsize=9)
    axis.set_xlabel("λ")
    axis.set_ylabel("density")
