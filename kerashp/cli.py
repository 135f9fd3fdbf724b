"""The `kerashp` command: argument parsing and rendering only; the engine does the work.

Heavy libraries (torch, keras) are imported inside the commands that train, so `--help`,
`presets` and `runs` answer instantly. Exit codes: 0 ok, 1 run failed or diverged, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kerashp import __version__
from kerashp.errors import RunFailedError, UserError

RUNS_DIR_ENV = "KERASHP_RUNS_DIR"

EXAMPLES = """examples:
  kerashp train --preset lenet5_aug
  kerashp train --preset lenet5_aug --set data.source=folder:../shared/data/cifar10-mini --epochs 2
  kerashp train --preset lenet5 --set optimizer.learning_rate=0.05 --set train.batch_size=64
  kerashp train --resume runs/lenet5_aug-20261125-101500
  kerashp presets list
  kerashp presets show lenet5_aug --set optimizer.momentum=0.95
  kerashp presets validate my_preset.toml
  kerashp runs
  kerashp info
"""


def default_runs_dir() -> Path:
    return Path(os.environ.get(RUNS_DIR_ENV, "runs"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerashp",
        description="A hyperparameter lab for image classifiers: Keras 3 on PyTorch, driven by presets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kerashp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a preset (or resume a run)",
        description="Train a preset and record the run under --runs-dir.",
        epilog="examples:\n  kerashp train --preset lenet5_aug --epochs 2\n  kerashp train --resume runs/lenet5_aug-20261125-101500",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", metavar="NAME|FILE", help="preset name (see `kerashp presets list`) or path to a .toml file")
    source.add_argument("--resume", metavar="RUN", help="run directory to continue from its last finished epoch")
    _add_overrides(train)
    train.add_argument("--epochs", type=_positive_int, help="override train.epochs")
    train.add_argument("--runs-dir", type=Path, default=None, help=f"where runs are written (default: ${RUNS_DIR_ENV} or ./runs)")
    train.set_defaults(handler=cmd_train)

    presets = commands.add_parser("presets", help="list, show or validate presets")
    preset_commands = presets.add_subparsers(dest="presets_command", metavar="ACTION", required=True)
    listing = preset_commands.add_parser("list", help="every preset with its study and reference figure")
    listing.set_defaults(handler=cmd_presets_list)
    show = preset_commands.add_parser("show", help="print a resolved preset (extends and overrides applied)")
    show.add_argument("preset", metavar="NAME|FILE")
    _add_overrides(show)
    show.set_defaults(handler=cmd_presets_show)
    check = preset_commands.add_parser("validate", help="check preset files against the schema")
    check.add_argument("files", nargs="+", metavar="NAME|FILE")
    check.set_defaults(handler=cmd_presets_validate)

    runs = commands.add_parser("runs", help="list runs with their status and key metrics")
    runs.add_argument("--runs-dir", type=Path, default=None, help=f"(default: ${RUNS_DIR_ENV} or ./runs)")
    runs.set_defaults(handler=cmd_runs)

    info = commands.add_parser("info", help="versions, backend, devices and where data and runs live")
    info.add_argument("--runs-dir", type=Path, default=None)
    info.set_defaults(handler=cmd_info)
    return parser


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset key, e.g. --set optimizer.learning_rate=0.05 (repeatable; TOML values)",
    )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


# ---------------------------------------------------------------------------------------- commands


def cmd_train(args) -> int:
    from kerashp.config import load_preset

    runs_dir = args.runs_dir or default_runs_dir()
    preset = load_preset(args.preset, args.overrides) if args.preset else None  # validate before importing torch
    if args.resume and args.overrides:
        raise UserError("--set cannot change a run being resumed; start a new run with --preset instead")

    from kerashp.console import ConsoleView
    from kerashp.train import resume, train

    view = ConsoleView()
    if preset is not None:
        result = train(preset, runs_dir, [view], epochs=args.epochs)
    else:
        result = resume(args.resume, [view], epochs=args.epochs)
    return result.exit_code


def cmd_presets_list(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kerashp.config import available_presets, load_preset

    table = Table(show_lines=False)
    for column in ("preset", "model", "data", "study", "reference"):
        table.add_column(column)
    for name in available_presets():
        preset = load_preset(name)
        reference = ", ".join(f"{k} {v}" for k, v in preset["reference"].items() if k != "epochs")
        table.add_row(name, preset["model"]["name"], preset["data"]["source"], preset["study"], reference or "-")
    Console().print(table)
    return 0


def cmd_presets_show(args) -> int:
    import tomli_w

    from kerashp.config import load_preset

    preset = load_preset(args.preset, args.overrides)
    name = preset.pop("name")
    print(f"# {name} (resolved)")
    print(tomli_w.dumps(preset), end="")
    return 0


def cmd_presets_validate(args) -> int:
    from kerashp.config import load_preset

    for file in args.files:
        load_preset(file)
        print(f"{file}: ok")
    return 0


def cmd_runs(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kerashp.console import fmt
    from kerashp.runs import list_runs

    runs_dir = args.runs_dir or default_runs_dir()
    runs = list_runs(runs_dir)
    if not runs:
        print(f"no runs in {runs_dir}")
        return 0
    table = Table()
    for column in ("run", "status", "epochs", "val_acc (best)", "val_acc (final)", "test_acc", "wall"):
        table.add_column(column, justify="left" if column in ("run", "status") else "right")
    for run in runs:
        summary = run.read_summary()
        best = (summary.get("best") or {}).get("val_accuracy")
        final = (summary.get("final") or {}).get("val_accuracy")
        test = (summary.get("test") or {}).get("accuracy")
        epochs = f"{summary.get('epochs_done', len(run.read_history()))}/{summary.get('epochs', '?')}"
        wall = f"{summary['wall_time']:.0f}s" if "wall_time" in summary else "-"
        table.add_row(run.name, run.status(), epochs, fmt(best), fmt(final), fmt(test), wall)
    Console().print(table)
    return 0


def cmd_info(args) -> int:
    from kerashp.backend import device_description, use_torch_backend, versions
    from kerashp.config import preset_dirs
    from kerashp.data.tfds_source import data_dir

    use_torch_backend()
    import keras

    rows = {f"{name} version": value for name, value in versions().items()}
    rows |= {
        "python": sys.version.split()[0],
        "keras backend": keras.backend.backend(),
        "device": device_description(),
        "datasets (tfds)": data_dir(),
        "runs": str((args.runs_dir or default_runs_dir()).resolve()),
        "presets": ", ".join(str(p) for p in preset_dirs()),
    }
    width = max(map(len, rows))
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (UserError, RunFailedError) as exc:
        print(f"kerashp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kerashp: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
