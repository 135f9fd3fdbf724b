"""`augment-preview`'s picture: mixup and CutMix rows drawn through kerashp.data.mixing, the class
histogram of the training part after the validation split, and where the file goes."""

from __future__ import annotations

import numpy as np
import pytest

from kerashp.cli.augment_preview_command import output_path
from kerashp.config import load_preset
from kerashp.data import load_dataset
from kerashp.data.mixing import MixSpec, mix_batch, mix_images
from kerashp.errors import UserError


def preview_text(preset, dataset, tmp_path) -> str:
    """The preview as SVG with its titles kept as text, so a test can read them."""
    import matplotlib

    from kerashp.data.preview import draw_preview

    with matplotlib.rc_context({"svg.fonttype": "none"}):
        out = draw_preview(preset, dataset, 8, tmp_path / "preview.svg")
    return out.read_text()


@pytest.mark.parametrize(
    "alphas, kinds",
    [({"augment.cutmix_alpha": 1.0}, {"CutMix"}), ({"augment.mixup_alpha": 0.2}, {"mixup"}),
     ({"augment.mixup_alpha": 0.2, "augment.cutmix_alpha": 1.0}, {"mixup", "CutMix"})],
)
def test_mix_rows_show_the_kinds_the_preset_uses(alphas, kinds, tiny_folder, tmp_path):
    overrides = [f"{key}={value}" for key, value in alphas.items()]
    preset = load_preset("lenet5_aug", [f"data.source=folder:{tiny_folder}", *overrides])
    text = preview_text(preset, load_dataset(f"folder:{tiny_folder}"), tmp_path)
    for kind in ("mixup", "CutMix"):
        assert (f"{kind}, λ=" in text) == (kind in kinds), kind
        assert (f"{kind}: Beta(" in text) == (kind in kinds), kind


def test_no_mix_rows_without_mixing(tiny_folder, tmp_path):
    preset = load_preset("lenet5_aug", [f"data.source=folder:{tiny_folder}"])
    text = preview_text(preset, load_dataset(f"folder:{tiny_folder}"), tmp_path)
    assert "λ=" not in text and "Beta(" not in text and "augmented" in text


def test_histogram_counts_the_training_part_after_the_validation_split(tiny_folder, tmp_path):
    preset = load_preset("lenet5_aug", [f"data.source=folder:{tiny_folder}", "data.validation=8"])
    text = preview_text(preset, load_dataset(f"folder:{tiny_folder}"), tmp_path)
    assert "training images per class (40 in all; 8 held out for validation)" in text  # 48 images before the split


def test_the_preview_mixes_as_the_generator_does():
    """Same images, spec and seed: mix_images gives the pixels and the soft labels mix_batch gives."""
    images = np.random.default_rng(1).integers(0, 256, (6, 8, 8, 3)).astype(np.float32)
    labels = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    spec = MixSpec(cutmix_alpha=1.0)
    x, y = mix_batch(images, labels, spec, np.random.default_rng(7))
    mix = mix_images(images, spec, np.random.default_rng(7))
    assert mix.kind == "CutMix" and np.array_equal(mix.images, x)
    assert np.allclose(y, mix.lam * labels + (1 - mix.lam) * labels[mix.partner])
    changed = (x != images).any(axis=-1).mean(axis=(1, 2))  # CutMix: lam is the share of own pixels kept
    moved = mix.partner != np.arange(6)
    assert np.allclose(changed[moved], 1 - mix.lam, atol=0.05)


def test_output_path_names_the_file_really_written(tmp_path):
    assert output_path(None, "p") == output_path("augment-p.png", "x")
    assert output_path(str(tmp_path), "p") == tmp_path / "augment-p.png"
    assert output_path(f"{tmp_path}/new/", "p") == tmp_path / "new" / "augment-p.png"
    assert output_path(str(tmp_path / "grid"), "p") == tmp_path / "grid.png"
    for suffix in (".png", ".JPG", ".jpeg", ".pdf", ".svg"):
        assert output_path(f"a{suffix}", "p").name == f"a{suffix}"
    with pytest.raises(UserError, match=r"--out p.txt: '.txt' is not an image type .*\.png, \.jpg, \.pdf or \.svg"):
        output_path("p.txt", "p")
