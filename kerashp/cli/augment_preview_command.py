"""`kerashp augment-preview`: a PNG of originals and augmented training images (and mixup)."""

from __future__ import annotations

from pathlib import Path

from kerashp.cli.options import add_overrides, positive_int, subcommand

EXAMPLES = """  kerashp augment-preview --preset lenet5_aug --set data.source=folder:../shared/data/cifar10-mini
  kerashp augment-preview --preset mobilenet_cifar100 --n 16 --out mixup.png
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
    parser.add_argument("--out", type=Path, default=None, help="PNG to write (default: augment-<preset>.png)")
    parser.set_defaults(handler=preview)


def preview(args) -> int:
    from kerashp.config import load_preset

    preset = load_preset(args.preset, args.overrides)
    from kerashp.backend import use_torch_backend

    use_torch_backend()
    from kerashp.data import load_preset_data
    from kerashp.preview import draw_preview

    dataset = load_preset_data(preset)
    out = draw_preview(preset, dataset, args.n, args.out or Path(f"augment-{preset.name}.png"))
    print(f"wrote {out}")
    return 0
