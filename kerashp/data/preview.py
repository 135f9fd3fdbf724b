"""What the generator feeds the model, drawn: originals beside their augmented versions, mixup
and CutMix pairs with their lambda, the class histogram and the Beta(alpha, alpha) density."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from kerashp.config.preset import Preset
from kerashp.data.augment import build_pipeline, seed_pipeline
from kerashp.data.batches import batch_seed
from kerashp.data.dataset import Dataset, ImageSet
from kerashp.data.mixing import MixSpec, mix_images
from kerashp.data.split import preset_split
from kerashp.errors import UserError


def augmented_pairs(preset: Preset, images: np.ndarray) -> np.ndarray:
    """Each image through the preset's pipeline, with a seed of its own drawn the way the generator
    seeds a batch (so the grid is reproducible; it is not the draw training makes for that image)."""
    pipeline = build_pipeline(preset["augment"], images.shape[1], images.shape[2])  # seeded per image below
    if pipeline is None:
        return images.copy()
    out = []
    for index, image in enumerate(images):
        seed_pipeline(pipeline, batch_seed(preset["seed"], 0, index, 1))
        out.append(pipeline(image=image)["image"])
    return np.stack(out)


def draw_preview(preset: Preset, dataset: Dataset, count: int, out: Path) -> Path:
    """Draw from the training part the run trains on (after the validation split), so the
    pictures and the histogram show what the generator sees."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_indices, held_out = preset_split(preset, dataset.train.labels)
    training = dataset.train.subset(train_indices)
    rng = np.random.default_rng(preset["seed"])
    picked = np.sort(rng.choice(len(training), size=min(count, len(training)), replace=False))
    originals = training.images[picked]
    augmented = augmented_pairs(preset, originals)
    mix = MixSpec.from_augment(preset["augment"])
    mixes = _mix_specs(mix) if len(picked) > 1 else []
    columns = 8
    pair_rows = math.ceil(len(picked) / (columns // 2))
    figure = plt.figure(figsize=(columns * 1.3, (pair_rows + len(mixes)) * 1.45 + 3.2), layout="constrained")
    grid = figure.add_gridspec(
        pair_rows + len(mixes) + 1, columns, height_ratios=[1] * (pair_rows + len(mixes)) + [2.2]
    )
    for slot, index in enumerate(range(len(picked))):
        row, column = divmod(slot, columns // 2)
        for offset, (image, kind) in enumerate(((originals[index], "original"), (augmented[index], "augmented"))):
            axis = figure.add_subplot(grid[row, 2 * column + offset])
            _show(axis, image, f"{dataset.class_names[training.labels[picked[index]]]}\n{kind}")
    for row, spec in enumerate(mixes):
        _draw_mix_row(figure, grid, pair_rows + row, augmented, spec, batch_seed(preset["seed"], 0, row, 2))
    _draw_histogram(
        figure.add_subplot(grid[-1, : columns // 2 if mixes else columns]), training, dataset.class_names, len(held_out)
    )
    if mix is not None and mixes:
        _draw_beta(figure.add_subplot(grid[-1, columns // 2 :]), mix)
    figure.suptitle(f"{preset.name}: what the training generator feeds the model (seed {preset['seed']})")
    _save(figure, out)
    plt.close(figure)
    return out


def _save(figure, out: Path) -> None:
    """A path that cannot be written (no such folder, no permission, /proc) is bad input: one line."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(out, dpi=110)
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
        raise UserError(f"{out}: cannot write the preview ({reason})") from None


def _mix_specs(spec: MixSpec | None) -> list[MixSpec]:
    """One spec per mix row: with both alphas the generator picks mixup or CutMix per batch,
    so one row shows each; with one, both rows show it."""
    if spec is None:
        return []
    if spec.mixup_alpha > 0 and spec.cutmix_alpha > 0:
        return [MixSpec(mixup_alpha=spec.mixup_alpha), MixSpec(cutmix_alpha=spec.cutmix_alpha)]
    return [spec, spec]


def _show(axis, image: np.ndarray, title: str) -> None:
    axis.imshow(image, interpolation="nearest")
    axis.set_title(title, fontsize=7)
    axis.axis("off")


def _draw_mix_row(figure, grid, row: int, images: np.ndarray, spec: MixSpec, seed: int) -> None:
    """Two (source A, source B, mix) triples from one batch mixed by `kerashp.data.mixing` as the
    generator mixes its batch with the same seed (it mixes normalised pixels; normalising is
    per-channel affine, so mixing the raw pixels shows the same picture)."""
    mix = mix_images(images, spec, np.random.default_rng(seed))
    firsts = [index for index in range(len(images)) if mix.partner[index] != index][:2]
    for triple, a in enumerate(firsts):
        b = mix.partner[a]
        mixed = np.clip(mix.images[a], 0, 255).astype(np.uint8)
        cells = ((images[a], "source A"), (images[b], "source B"), (mixed, f"{mix.kind}, λ={mix.lam:.2f}"))
        for offset, (image, title) in enumerate(cells):
            _show(figure.add_subplot(grid[row, triple * 4 + offset]), image, title)


def _draw_histogram(axis, training: ImageSet, class_names: list[str], held_out: int) -> None:
    counts = np.bincount(training.labels, minlength=len(class_names))
    axis.bar(range(len(class_names)), counts, color="#4477aa")
    axis.set_title(
        f"training images per class ({len(training)} in all; {held_out} held out for validation)", fontsize=9
    )
    axis.set_xlabel("class")
    axis.set_ylabel("images")
    if len(class_names) <= 20:
        axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=7)


def _draw_beta(axis, spec: MixSpec) -> None:
    from math import gamma

    x = np.linspace(0.005, 0.995, 400)
    for kind, alpha, colour in (("mixup", spec.mixup_alpha, "#ee6677"), ("CutMix", spec.cutmix_alpha, "#228833")):
        if alpha > 0:
            density = gamma(2 * alpha) / gamma(alpha) ** 2 * (x * (1 - x)) ** (alpha - 1)
            axis.plot(x, density, color=colour, label=f"{kind}: Beta({alpha:g}, {alpha:g})")
    axis.legend(fontsize=7)
    axis.set_title("λ ~ Beta(α, α)", fontsize=9)
    axis.set_xlabel("λ")
    axis.set_ylabel("density")
