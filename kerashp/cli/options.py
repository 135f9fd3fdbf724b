"""Arguments several subcommands share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

RUNS_DIR_ENV = "KERASHP_RUNS_DIR"


def default_runs_dir() -> Path:
    return Path(os.environ.get(RUNS_DIR_ENV, "runs"))


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help=f"where runs are kept (default: ${RUNS_DIR_ENV} or ./runs)"
    )


def runs_dir(args) -> Path:
    return args.runs_dir or default_runs_dir()


def add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a preset key, e.g. --set optimizer.learning_rate=0.05 (repeatable; TOML values)",
    )


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text}")
    return value


def subcommand(subcommands, name: str, help: str, examples: str = "", description: str | None = None):
    """A subparser whose --help shows its examples verbatim."""
    return subcommands.add_parser(
        name,
        help=help,
        description=description or help[:1].upper() + help[1:] + ".",
        epilog=f"examples:\n{examples}" if examples else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
