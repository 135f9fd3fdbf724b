"""Mixup and CutMix on whole batches, producing soft labels (the MobileNet study used mixup 0.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kerashp.config.preset import AugmentSection


@dataclass(frozen=True)
class MixSpec:
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0

    @classmethod
    def from_augment(cls, augment: AugmentSection) -> MixSpec | None:
        spec = cls(augment["mixup_alpha"], augment["cutmix_alpha"])
        return spec if spec.mixup_alpha > 0 or spec.cutmix_alpha > 0 else None


@dataclass(frozen=True)
class Mix:
    """A mixed batch and how it was made: image i was mixed with image partner[i], keeping a
    share `lam` of its own label (for CutMix, the share of its own pixels left uncovered)."""

    images: np.ndarray  # float32
    partner: np.ndarray
    lam: float
    kind: str  # "mixup" or "CutMix"


def mix_images(x: np.ndarray, spec: MixSpec, rng: np.random.Generator) -> Mix:
    """Mix each example with a partner from the same batch. With both alphas set, each batch
    picks mixup or CutMix with equal chance (as timm does)."""
    use_cutmix = spec.cutmix_alpha > 0 and (spec.mixup_alpha == 0 or rng.random() < 0.5)
    partner = rng.permutation(len(x))
    if use_cutmix:
        lam = rng.beta(spec.cutmix_alpha, spec.cutmix_alpha)
        top, left, bottom, right = _cut_box(x.shape[1], x.shape[2], lam, rng)
        x = x.copy()
        x[:, top:bottom, left:right] = x[partner, top:bottom, left:right]
        lam = 1.0 - (bottom - top) * (right - left) / (x.shape[1] * x.shape[2])
    else:
        lam = rng.beta(spec.mixup_alpha, spec.mixup_alpha)
        x = lam * x + (1.0 - lam) * x[partner]
    return Mix(x.astype(np.float32), partner, float(lam), "CutMix" if use_cutmix else "mixup")


def mix_batch(x: np.ndarray, y: np.ndarray, spec: MixSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The mixed batch and its soft labels."""
    mix = mix_images(x, spec, rng)
    return mix.images, (mix.lam * y + (1.0 - mix.lam) * y[mix.partner]).astype(np.float32)


def _cut_box(height: int, width: int, lam: float, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A box covering about (1 - lam) of the image, centred at a random point and clipped."""
    ratio = np.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy, cx = rng.integers(height), rng.integers(width)
    top, bottom = np.clip([cy - cut_h // 2, cy + cut_h // 2], 0, height)
    left, right = np.clip([cx - cut_w // 2, cx + cut_w // 2], 0, width)
    return int(top), int(left), int(bottom), int(right)
