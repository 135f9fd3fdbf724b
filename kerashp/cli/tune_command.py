"""`kerashp tune`: search a preset's `[search.space]` with KerasTuner, alone or distributed; read
a search's results and export its best trial as a preset."""

from __future__ import annotations

from pathlib import Path

from kerashp.cli.options import add_overrides, add_runs_dir, positive_int, runs_dir, subcommand
from kerashp.config.fields import Choice
from kerashp.config.schema import SEARCH
from kerashp.errors import UserError
from kerashp.search.pruning import MIN_TRIALS as PRUNE_AFTER
from kerashp.status import TrialStatus

assert isinstance(SEARCH["algorithm"], Choice)
ALGORITHMS = SEARCH["algorithm"].choices  # the schema's list, so a preset and --algorithm accept the same

EXAMPLES = """  kerashp tune --preset lenet5_search
  kerashp tune --preset lenet5_search --max-trials 4 --epochs 3
  kerashp tune --preset lenet5_search --algorithm hyperband --epochs 9
  kerashp tune --preset mlp_cifar10 --algorithm tpe --max-trials 30
  kerashp tune --preset lenet5_search --algorithm bohb --epochs 27 \\
      --max-trials 60
  kerashp tune --preset lenet5_search --max-trials 30 --prune \\
      --set data.source=folder:../shared/data/cifar10-mini
  kerashp tune --preset lenet5_search --local-workers 2    # 2 workers here
  # a chief and workers on several hosts (gRPC is unauthenticated):
  kerashp tune --preset lenet5_search --dir /shared/s1 --chief 0.0.0.0:8000
  kerashp tune --dir /shared/s1 --worker chief-host:8000 --id 1
  kerashp tune --results runs/lenet5_search-random --export-best best.toml
  kerashp train --preset best.toml

--epochs N: each trial trains N epochs (hyperband, bohb: at most N).
Running the same command again continues a search that was stopped or killed.
"""


def register(subcommands) -> None:
    parser = subcommand(
        subcommands,
        "tune",
        "search hyperparameters with KerasTuner",
        EXAMPLES,
        description=f"Search hyperparameters with KerasTuner.\nAlgorithms: {', '.join(ALGORITHMS)}.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--preset", metavar="NAME|FILE", help="preset with a [search] section")
    source.add_argument("--results", metavar="DIR", type=Path, help="print a search's trials, best first, and exit")
    parser.add_argument(
        "--dir",
        type=Path,
        help="search directory (default: RUNS_DIR/<preset>-<algorithm>); "
        "without --preset, continue or join the search there",
    )
    parser.add_argument("--algorithm", choices=ALGORITHMS, help="override search.algorithm")
    parser.add_argument(
        "--max-trials", type=positive_int, metavar="N", help="override search.max_trials (raise it to extend a search)"
    )
    epochs = parser.add_mutually_exclusive_group()
    epochs.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="epochs per trial (train.epochs); with hyperband or bohb the most a trial gets (search.max_epochs)",
    )
    epochs.add_argument(
        "--max-epochs", type=positive_int, metavar="N", help="override search.max_epochs (hyperband, bohb)"
    )
    parser.add_argument(
        "--executions", type=positive_int, metavar="N",
        help="override search.executions_per_trial: train each trial N times (seeds S, S+1, ...); the trial's "
        "objective is their mean, and --results and the report show its spread",
    )  # fmt: skip
    add_overrides(parser)
    parser.add_argument(
        "--prune",
        type=positive_int,
        nargs="?",
        const=PRUNE_AFTER,
        metavar="MIN_TRIALS",
        help=f"override search.prune: median stopping, which stops a trial whose objective at epoch k is "
        f"worse than the median of earlier trials at epoch k, once MIN_TRIALS (default {PRUNE_AFTER}) "
        "reached it (not with hyperband or bohb)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="delete an earlier search in the directory and start over"
    )
    parser.add_argument("--export-best", type=Path, metavar="FILE.toml", help="write the best trial as a preset")
    role = parser.add_mutually_exclusive_group()
    role.add_argument(
        "--chief", metavar="HOST:PORT", help="serve KerasTuner's oracle to workers (HOST: may be left out: 127.0.0.1)"
    )
    role.add_argument(
        "--worker", metavar="HOST:PORT", help="run trials handed out by the chief at HOST:PORT (needs --id)"
    )
    role.add_argument(
        "--local-workers", type=positive_int, metavar="K", help="a chief here plus K worker processes, one per GPU"
    )
    parser.add_argument("--id", type=positive_int, metavar="N", help="this worker's number")
    add_runs_dir(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    _check_options(args)
    if args.results:
        return show_results(args.results, args.export_best)
    role = _role(args)
    base, search = _open_search(args)  # validated before torch is imported

    from kerashp.cli.search_view import SearchView
    from kerashp.search.runner import run_local_search, run_search

    view = SearchView()
    if args.local_workers:
        records = run_local_search(base, search, args.local_workers, [view])
    else:
        records = run_search(base, search, [view], role)
    if args.export_best:
        _export(search.path, args.export_best)
    return 0 if any(r.status in (TrialStatus.COMPLETED, TrialStatus.PRUNED) for r in records) else 1


def _check_options(args) -> None:
    if not (args.preset or args.results or args.dir):
        raise UserError("kerashp tune: give --preset NAME, --dir DIR (to continue a search) or --results DIR")
    if args.export_best and args.export_best.suffix != ".toml":
        raise UserError(f"--export-best {args.export_best}: expected a .toml file name")
    if bool(args.worker) != bool(args.id):
        raise UserError("--worker HOST:PORT and --id N go together")
    if args.overwrite and args.worker:
        raise UserError("--overwrite: a worker joins the chief's search and never deletes it")


def _open_search(args):
    from kerashp.config import find_preset, load_preset
    from kerashp.search.directory import SearchDir
    from kerashp.search.space import bracketed, check_search, epochs_key, prune_refusal

    if args.preset:
        options = {
            "search.algorithm": args.algorithm,
            "search.max_trials": args.max_trials,
            "search.max_epochs": args.max_epochs,
            "search.prune": args.prune,
            "search.executions_per_trial": args.executions,
        }
        overrides = [*args.overrides, *(f"{key}={value}" for key, value in options.items() if value is not None)]
        base = load_preset(args.preset, overrides)
        if args.epochs:  # its key depends on the algorithm, which the preset or --set may choose
            base = load_preset(args.preset, [*overrides, f"{epochs_key(base['search']['algorithm'])}={args.epochs}"])
        if args.prune and bracketed(base["search"]["algorithm"]):
            raise UserError(f"--prune: {prune_refusal(base['search']['algorithm'], 'leave it out')}")
        check_search(base, source=str(find_preset(args.preset)))
        directory = args.dir or runs_dir(args) / f"{base.name}-{base['search']['algorithm']}"
        search = SearchDir.prepare(directory, base, overwrite=args.overwrite)
    else:
        if any(
            (
                args.overrides,
                args.algorithm,
                args.max_trials,
                args.epochs,
                args.max_epochs,
                args.prune,
                args.executions,
                args.overwrite,
            )  # fmt: skip
        ):
            raise UserError(
                "--dir without --preset continues the search as it was set up; "
                "to change it, pass --preset with the same name and your changes"
            )
        search = SearchDir.open(args.dir)
        base = search.read_preset()
        check_search(base, source=str(search.path / "search.toml"))
    return base, search


def _role(args):
    from kerashp.search.distributed import LOOPBACK, Role, parse_address

    if args.chief:
        return Role("chief", *parse_address(args.chief, "--chief", default_host=LOOPBACK))
    if args.worker:
        return Role("worker", *parse_address(args.worker, "--worker"), worker_id=args.id)
    return Role()


def show_results(directory: Path, export_best: Path | None) -> int:
    from rich.console import Console

    from kerashp.cli.search_view import importance_text, results_table
    from kerashp.search.results import SearchResults

    results = SearchResults.load(directory)
    if not results.records:
        print(f"{directory}: no trials yet")
        return 0
    console = Console(highlight=False)
    console.print(results_table(results.records, results.objective, results.space_keys, str(directory), console))
    if results.preset["search"]["executions_per_trial"] > 1:
        console.print(execution_spread(results))
    console.print(importance_text(results.importance()), end="")
    if export_best:
        _export(directory, export_best)
    return 0


def execution_spread(results):
    """Each trial's objective over its executions, best first: their mean, standard deviation and
    95% confidence interval (kerashp.report.significance)."""
    from rich.markup import escape
    from rich.table import Table

    from kerashp.report.significance import spread
    from kerashp.text import number

    table = Table(title=f"{escape(results.objective)} over each trial's executions", title_justify="left")
    for header in ("trial", "executions", "mean", "std", "95% CI"):
        table.add_column(header, justify="left" if header == "trial" else "right")
    for record in results.records:
        one = spread(results.execution_objectives(record))
        interval = "-" if one.low is None else f"{number(one.low)} to {number(one.high)}"
        table.add_row(record.trial_id, str(one.n), number(one.mean), number(one.std), interval)
    return table


def _export(directory: Path, file: Path) -> None:
    from kerashp.search.results import SearchResults

    top = SearchResults.load(directory).export_best(file)
    print(f"best trial {top.trial_id} written to {file}; train it with: kerashp train --preset {file}")
