"""`kerashp export tensorboard`: runs, searches and studies as TensorBoard event files, with the
HParams plugin's table and parallel-coordinates view. The engine (`kerashp.export.tensorboard`)
loads on use, not at start-up."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kerashp.cli.options import subcommand
from kerashp.text import plural

PROGRESS_FROM = 6  # sessions; fewer export in a blink, with no bar
DESCRIPTION = """Write TensorBoard event files: every run's, search trial's and study variant's
per-epoch metrics as scalars, and the HParams plugin's data (the
hyperparameters: a search's space, or the preset keys the runs differ in; the
final, best and test metrics). OUT must be new, empty or an earlier export;
the export is written beside it and swapped in when complete."""
EXAMPLES = """  kerashp export tensorboard searches/lenet5-lr --out tb/lenet5-lr
  tensorboard --logdir tb/lenet5-lr          # then open the HPARAMS tab
  # runs and a study in one export; --overwrite replaces an earlier one
  kerashp export tensorboard runs/lenet5-20261125-101500 \\
      studies/lenet5-learning_rate --out tb/lenet5 --overwrite
"""


def register(subcommands) -> None:
    parser = subcommand(subcommands, "export", "export runs, searches and studies for other tools", EXAMPLES)
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    tensorboard = formats.add_parser(
        "tensorboard",
        help="per-epoch scalars and HParams data for `tensorboard --logdir OUT`",
        description=DESCRIPTION,
        epilog=f"examples:\n{EXAMPLES}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    tensorboard.add_argument("paths", nargs="+", type=Path, metavar="RUN|RUNS_DIR|STUDY|SEARCH")
    tensorboard.add_argument("--out", type=Path, required=True, help="the TensorBoard log folder to write")
    tensorboard.add_argument("--overwrite", action="store_true", help="replace an earlier export in OUT")
    tensorboard.set_defaults(handler=export_tensorboard)


def export_tensorboard(args) -> int:
    from kerashp.export.tensorboard import export_tensorboard

    with _progress() as progress:
        sessions = export_tensorboard(args.paths, args.out, args.overwrite, progress)
    print(f"exported {plural(len(sessions), 'run')} to {args.out}")
    print(f"view them with: tensorboard --logdir {args.out}")
    return 0


@contextmanager
def _progress() -> Iterator[Callable[[int, int], None]]:
    """A bar over the sessions written, on a terminal and for more than a few; nothing otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), transient=True)
    task = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if total < PROGRESS_FROM or not bar.console.is_terminal:
            return
        if task is None:
            bar.start()
            task = bar.add_task("export", total=total)
        bar.update(task, completed=done)

    try:
        yield advance
    finally:
        bar.stop()
