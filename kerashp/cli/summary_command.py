"""`kerashp summary`: a preset's model layer by layer, with parameters and multiply-accumulates."""

from __future__ import annotations

import argparse

from kerashp.cli.options import add_overrides, positive_int, subcommand

EXAMPLES = """  # 62,006 parameters, 651,720 MACs:
  kerashp summary --preset lenet5 --set model.batch_norm=false
  kerashp summary --preset mobilenet_cifar100
  kerashp summary --preset resnet50_caltech101 --input-shape 224,224,3 \\
      --classes 101
"""


def register(subcommands) -> None:
    parser = subcommand(
        subcommands, "summary", "print a preset's model per layer: output shape, parameters, MACs", EXAMPLES
    )
    parser.add_argument("--preset", required=True, metavar="NAME|FILE")
    add_overrides(parser)
    parser.add_argument(
        "--input-shape", type=_shape, metavar="H,W,C", help="input shape (default: what the preset's data gives)"
    )
    parser.add_argument(
        "--classes", type=positive_int, metavar="N", help="number of classes (default: the preset's data)"
    )
    parser.set_defaults(handler=run)


def _shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 32,32,3, got {text!r}")
    return shape


def run(args) -> int:
    from kerashp.config import load_preset

    preset = load_preset(args.preset, args.overrides)

    from rich.console import Console
    from rich.table import Table

    from kerashp.models.summary import summarize_preset

    summary = summarize_preset(preset, args.input_shape, args.classes)
    height, width, channels = summary.input_shape
    table = Table(
        title=f"preset {preset.name}: model {preset['model']['name']}, "
        f"input {height} x {width} x {channels} (H x W x C), {summary.num_classes} classes",
        title_justify="left",
        caption="MACs: multiply-accumulates per image; biases, batch norm, pooling and activations count 0",
        caption_justify="left",
    )
    for column in ("layer", "type", "output shape\n(H, W, C)", "parameters", "MACs"):
        table.add_column(column, justify="right" if column in ("parameters", "MACs") else "left")
    for row in summary.rows:
        shape = "(" + ", ".join(map(str, row.output_shape)) + ")"
        table.add_row("  " * row.depth + row.name, row.kind, shape, f"{row.parameters:,}", f"{row.macs:,}")
    table.add_section()
    table.add_row("total", "", "", f"{summary.parameters:,}", f"{summary.macs:,}", style="bold")
    table.add_row("trainable", "", "", f"{summary.trainable:,}", "")
    Console(highlight=False).print(table)
    return 0
