"""`kerashp runs`: list runs with their status and key metrics."""

from __future__ import annotations

from kerashp.cli.options import add_runs_dir, runs_dir, subcommand


def register(subcommands) -> None:
    parser = subcommand(
        subcommands, "runs", "list runs with their status and key metrics", "  kerashp runs --runs-dir runs\n"
    )
    add_runs_dir(parser)
    parser.set_defaults(handler=list_runs_table)


def list_runs_table(args) -> int:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from kerashp.runs.folder import list_runs
    from kerashp.runs.listing import run_row

    directory = runs_dir(args)
    runs = list_runs(directory)
    if not runs:
        print(f"no runs in {directory}")
        return 0
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
    for column in ("run", "status", "epochs", "best", "final", "test", "wall"):
        # the run name is what a user copies into --resume or report: never cut it
        table.add_column(column, justify="left" if column in ("run", "status") else "right", no_wrap=column == "run")
    damaged = []
    for run in runs:
        row = run_row(run)
        if not run.path.is_dir():
            continue  # deleted while being listed
        table.add_row(*row)
        problem = run.problem()
        if problem:
            damaged.append(problem)
    Console().print(table)
    print("best, final: validation accuracy at the best and the last epoch; test: the best checkpoint's")
    for problem in damaged:  # listed as far as their files allow; say what is wrong with them
        print(f"damaged: {problem}")
    return 0
