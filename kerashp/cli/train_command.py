"""`kerashp train`: train a preset, or resume a run."""

from __future__ import annotations

from kerashp.cli.options import add_overrides, add_runs_dir, positive_int, subcommand, writable_runs_dir
from kerashp.errors import UserError

EXAMPLES = """  kerashp train --preset lenet5_aug
  kerashp train --preset lenet5_aug --epochs 2 \\
      --set data.source=folder:../shared/data/cifar10-mini
  kerashp train --preset my_presets/wide.toml \\
      --set optimizer.learning_rate=0.05
  kerashp train --resume runs/lenet5_aug-20261125-101500
"""


def register(subcommands) -> None:
    parser = subcommand(subcommands, "train", "train a preset (or resume a run)", EXAMPLES)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--preset", metavar="NAME|FILE", help="preset name (see `kerashp presets list`) or a .toml file"
    )
    source.add_argument("--resume", metavar="RUN", help="run directory to continue from its last finished epoch")
    add_overrides(parser)
    parser.add_argument("--epochs", type=positive_int, help="override train.epochs")
    add_runs_dir(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    from kerashp.config import load_preset
    from kerashp.data import check_data_available

    if args.resume and args.overrides:
        raise UserError("--set cannot change a run being resumed; start a new run with --preset instead")
    preset = load_preset(args.preset, args.overrides) if args.preset else None  # validate before importing torch
    if preset is not None:
        check_data_available(preset)
        runs = writable_runs_dir(args)

    from kerashp.cli.console import ConsoleView
    from kerashp.training.run import resume, train

    view = ConsoleView()
    if preset is not None:
        result = train(preset, runs, [view], epochs=args.epochs)
    else:
        result = resume(args.resume, [view], epochs=args.epochs)
    return result.exit_code
