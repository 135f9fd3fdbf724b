"""`kerashp report`: figures and final-epoch tables for runs, a study or a search."""

from __future__ import annotations

from pathlib import Path

from kerashp.cli.options import subcommand

EXAMPLES = """  # redraw a study's report in its folder
  kerashp report studies/lenet5-learning_rate
  kerashp report runs/lenet5-20261125-101500 runs/lenet5_aug-20261125-103000 \\
      --out reports/aug
  # every run in ./runs, with the figures their presets' sources reported
  kerashp report runs --compare-reference
  # a search: its trials, objective and parallel coordinates
  kerashp report searches/lenet5-lr
"""


def register(subcommands) -> None:
    parser = subcommand(subcommands, "report", "draw loss/accuracy figures and final-epoch tables for runs, studies or searches", EXAMPLES)
    parser.add_argument("paths", nargs="+", type=Path, metavar="RUN|RUNS_DIR|STUDY|SEARCH")
    parser.add_argument("--out", type=Path, help="report folder (default: the study's own folder, a search's report/, else reports/NAME)")
    parser.add_argument(
        "--compare-reference", action="store_true",
        help="show the figures each preset's source study reported ([reference]) next to the measured ones",
    )  # fmt: skip
    parser.set_defaults(handler=run)


def run(args) -> int:
    from kerashp.report import report

    path = report(args.paths, args.out, args.compare_reference)
    print(f"report: {path}")
    print(f"        {path.with_suffix('.html')} (figures inline)")
    return 0
