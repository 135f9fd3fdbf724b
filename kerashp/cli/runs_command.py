"""`kerashp runs`: list runs with their status and key metrics."""

from __future__ import annotations

from kerashp.cli.options import add_runs_dir, runs_dir, subcommand


def register(subcommands) -> None:
    parser = subcommand(subcommands, "runs", "list runs with their status and key metrics", "  kerashp runs --runs-dir runs\n")
    add_runs_dir(parser)
    parser.set_defaults(handler=list_runs_table)


def list_runs_table(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from kerashp.console import run_row
    from kerashp.runs import list_runs

    directory = runs_dir(args)
    runs = list_runs(directory)
    if not runs:
        print(f"no runs in {directory}")
        return 0
    table = Table()
    for column in ("run", "status", "epochs", "val_acc (best)", "val_acc (final)", "test_acc", "wall"):
        table.add_column(column, justify="left" if column in ("run", "status") else "right")
    for run in runs:
        table.add_row(*run_row(run))
    Console().print(table)
    return 0
