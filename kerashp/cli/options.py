"""Arguments several subcommands share."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from kerashp.errors import UserError
from kerashp.runs.listing import RUNS_DIR_ENV, default_runs_dir


class Parser(argparse.ArgumentParser):
    """argparse that refuses bad options in one line, like every other bad input (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")

    def parse_args(self, args=None, namespace=None):
        """As argparse's, but an unknown option is told by the subcommand it was given to."""
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.chosen(parsed).error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def chosen(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        """The innermost (sub)parser `parsed` went through, e.g. `kerashp data prepare`'s."""
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction) and getattr(parsed, action.dest, None) in action.choices:
                return action.choices[getattr(parsed, action.dest)].chosen(parsed)
        return self


def add_runs_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help=f"where runs are kept (default: ${RUNS_DIR_ENV} or ./runs)"
    )


def runs_dir(args) -> Path:
    return args.runs_dir or default_runs_dir()


def writable_runs_dir(args) -> Path:
    """The runs folder, refused at once (before torch loads) when a run could not be created in it:
    it is a file, or the nearest folder that exists cannot be written."""
    path = runs_dir(args)
    existing = next(folder for folder in (path, *path.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise UserError(f"{existing}: not a folder, so runs cannot be kept under it; pass --runs-dir DIR")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"{existing}: cannot write there (permission denied); pass --runs-dir DIR")
    return path


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
