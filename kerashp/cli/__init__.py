"""The `kerashp` command: argument parsing and rendering only; the engine does the work.

Each subcommand lives in its own module here with `register(subcommands)` adding its parser and
handler. Heavy libraries (torch, keras) are imported inside handlers that train, so `--help`,
`presets` and `runs` answer instantly. Exit codes: 0 ok, 1 run failed or diverged, 2 bad input,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from pathlib import Path

from kerashp import __version__
from kerashp.cli.options import Parser
from kerashp.errors import RunFailedError, UserError

PACKAGE = Path(__file__).resolve().parent.parent
SHOW_WARNING = warnings.showwarning
# subcommand modules, in the order `--help` lists them
COMMANDS = (
    "train", "tune", "study", "report", "export", "summary", "presets", "runs", "data", "augment_preview", "info",
)  # fmt: skip

EXAMPLES = """examples:
  kerashp train --preset lenet5_aug
  kerashp train --preset lenet5_aug --epochs 2 \\
      --set data.source=folder:../shared/data/cifar10-mini
  kerashp train --preset lenet5 --set optimizer.learning_rate=0.05 \\
      --set train.batch_size=64
  kerashp train --resume runs/lenet5_aug-20261125-101500
  kerashp presets list
  kerashp presets show lenet5_aug --set optimizer.momentum=0.95
  kerashp presets validate my_preset.toml
  kerashp runs
  kerashp data prepare cifar10
  kerashp info
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(  # its subcommands' parsers are Parsers too: bad options are one line everywhere
        prog="kerashp",
        description="A hyperparameter lab for image classifiers:\nKeras 3 on PyTorch, driven by presets.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kerashp {__version__}")
    subcommands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"kerashp.cli.{name}_command").register(subcommands)
    return parser


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """kerashp's own warnings (data settings it adapted, say) as one line, like its errors; other
    libraries' warnings as Python shows them."""
    if Path(filename).is_relative_to(PACKAGE):
        print(f"kerashp: warning: {message}", file=sys.stderr)
    else:
        SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        return _run(args)


def _run(args) -> int:
    try:
        return args.handler(args)
    except (UserError, RunFailedError) as exc:
        print(f"kerashp: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("kerashp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `kerashp runs | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # keep the final flush quiet
        return 0
