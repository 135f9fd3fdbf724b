"""`kerashp augment-preview`: a picture of originals and augmented training images (and mixup or CutMix)."""

from __future__ import annotations

import os
from pathlib import Path

from kerashp.cli.options import add_overrides, positive_int, subcommand
from kerashp.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")

EXAMPLES = """  kerashp augment-preview --preset lenet5_aug \\
      --set data.source=folder:../shared/data/cifar10-mini
  kerashp augment-preview --preset mobilenet_cifar100 --n 16 --out mixup.png
  # writes figures/augment-lenet5_aug.png:
  kerashp augment-preview --preset lenet5_aug --out figures/
"""


def register(subcommands) -> None:
    parser = subcommand(
        subcommands,
        "augment-preview",
        "draw original vs augmented training images, mixup pairs and the class histogram",
        EXAMPLES,
    )
    parser.add_argument("--preset", required=True, metavar="NAME|FILE")
    add_overrides(parser)
    parser.add_argument("--n", type=positive_int, default=32, help="images to show (default 32)")
    parser.add_argument(
        "--out",
        default=None,
        metavar="FILE|DIR",
        help="image to write: .png, .jpg, .pdf or .svg (no suffix: .png; a folder: augment-<preset>.png in it; "
        "default: augment-<preset>.png)",
    )
    parser.set_defaults(handler=preview)


def preview(args) -> int:
    from kerashp.config import load_preset
    from kerashp.data import check_data_available

    preset = load_preset(args.preset, args.overrides)
    check_data_available(preset)  # a bad source is refused in a second, not after torch has loaded
    out = output_path(args.out, preset.name)  # before loading any data: a bad --out fails at once
    from kerashp.backend import use_torch_backend

    use_torch_backend()
    from kerashp.data import load_preset_data
    from kerashp.data.preview import draw_preview

    dataset = load_preset_data(preset)
    print(f"wrote {draw_preview(preset, dataset, args.n, out)}")
    return 0


def output_path(text: str | None, preset_name: str) -> Path:
    """The file that will really be written (matplotlib would add .png to a bare name silently)."""
    default = f"augment-{preset_name}.png"
    if text is None:
        return Path(default)
    out = Path(text)
    if out.is_dir() or text.endswith(("/", os.sep)):
        return out / default
    if not out.suffix:
        return out.with_name(f"{out.name}.png")
    if out.suffix.lower() not in IMAGE_SUFFIXES:
        raise UserError(
            f"--out {out}: '{out.suffix}' is not an image type kerashp writes (use .png, .jpg, .pdf or .svg)"
        )
    return out
