"""`kerashp study`: vary one hyperparameter (or several, one after another) and compare the runs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from kerashp.cli.options import add_overrides, positive_int, subcommand
from kerashp.errors import UserError
from kerashp.status import StudyStatus, VariantStatus

if TYPE_CHECKING:
    from rich.console import Console

    from kerashp.events import Event

EXAMPLES = """  kerashp study --preset lenet5 --epochs 30 \\
      --vary optimizer.learning_rate=0.5,0.05,0.01
  kerashp study --preset lenet5 --vary optimizer.learning_rate=0.5,0.05,0.01 \\
      --set data.source=folder:../shared/data/cifar10-mini --epochs 3 \\
      --name lr-mini
  kerashp study --preset lenet5 --jobs 2 \\
      --vary train.batch_size=32,128 --vary optimizer.l2=0,1e-4
  kerashp study --preset lenet5 --vary train.batch_size=32,128 --seeds 3
                                         # mean, spread and a significance test
  kerashp study lenet5_factors           # a study file from presets/studies/
  kerashp study my_study.toml --epochs 5
  kerashp study studies/lr-mini          # resume: finished variants are skipped
"""
STUDIES_DIR_ENV = "KERASHP_STUDIES_DIR"
VARIANT_COLOURS: dict[str, str] = {  # any other ending is red
    VariantStatus.COMPLETED: "green",
    VariantStatus.STOPPED: "yellow",
    VariantStatus.INTERRUPTED: "yellow",
    VariantStatus.DIVERGED: "yellow",
}


def register(subcommands) -> None:
    parser = subcommand(
        subcommands,
        "study",
        "train one variant per value of a hyperparameter and compare the runs",
        EXAMPLES,
    )
    parser.add_argument(
        "source", nargs="?", metavar="FILE|NAME|STUDY_DIR",
        help="a study file (.toml, or a name from presets/studies/), or a study folder to resume",
    )  # fmt: skip
    parser.add_argument("--preset", metavar="NAME|FILE", help="the preset every variant starts from")
    parser.add_argument(
        "--vary", action="append", default=[], metavar="KEY=V1,V2,...",
        help="a preset key and its values (TOML, like --set); repeat to study factors one after another, "
        "each keeping the winner of the one before",
    )  # fmt: skip
    add_overrides(parser)
    parser.add_argument("--epochs", type=positive_int, help="override train.epochs for every variant")
    parser.add_argument(
        "--seeds", type=positive_int, metavar="N",
        help="train every variant with N seeds (the preset's seed S, then S+1000, S+2000, ...) and compare their "
        "means; a winner needs a significant difference (Welch's t-test, 5%%)",
    )  # fmt: skip
    parser.add_argument("--name", help="study folder name (default: preset and varied keys, or the study file's name)")
    parser.add_argument(
        "--jobs", type=positive_int, default=1, help="variants trained at once, in separate processes (one GPU each)"
    )
    parser.add_argument(
        "--studies-dir",
        type=Path,
        default=None,
        help=f"where studies are kept (default: ${STUDIES_DIR_ENV} or ./studies)",
    )
    parser.set_defaults(handler=run)


def run(args) -> int:
    from kerashp.study.study import Study, plan_from_args, plan_from_file, validate_plan

    studies_dir = args.studies_dir or Path(os.environ.get(STUDIES_DIR_ENV, "studies"))
    if args.source and Path(args.source).is_dir():
        if args.preset or args.vary or args.overrides or args.epochs or args.name or args.seeds:
            raise UserError(
                f"{args.source}: a study folder resumes with its own plan; "
                "--preset, --vary, --set, --epochs, --seeds and --name do not apply"
            )
        study = Study.open(args.source)
    else:
        if args.source:
            if args.preset or args.vary:
                raise UserError("give either a study file or --preset with --vary, not both")
            plan = plan_from_file(args.source, args.overrides, args.epochs, args.name, args.seeds)
        elif args.preset and args.vary:
            plan = plan_from_args(args.preset, args.vary, args.overrides, args.epochs, args.name, args.seeds)
        else:
            raise UserError("nothing to study: give --preset NAME with --vary KEY=V1,V2,..., or a study file")
        validate_plan(plan)  # every variant, before importing torch
        check_plan_data(plan)  # a bad data folder is refused before a study folder exists
        study = Study.create_or_resume(studies_dir, plan)
    result = study.run([StudyView()], jobs=args.jobs)
    return result.exit_code


def check_plan_data(plan) -> None:
    """Refuse a folder source that cannot load, of every variant (a factor may vary the data or the
    preset), in a second rather than after torch has loaded."""
    from kerashp.config import load_preset
    from kerashp.data import check_preset_data
    from kerashp.study.study import PRESET_FACTOR

    for factor in plan.factors:
        for index, value in enumerate(factor.values):
            if factor.key == PRESET_FACTOR:
                check_preset_data(load_preset(value, plan.overrides))
            else:
                check_preset_data(load_preset(plan.preset, [*plan.overrides, factor.override(index)]))


def escape(text: str) -> str:
    """`text` (a label, factor or path from a study file) shown as written in rich markup: a label
    `x[/]` is not a closing tag. Imported here, so `kerashp --help` does not load rich."""
    from rich.markup import escape as rich_escape

    return rich_escape(str(text))


class StudyView:
    """Renders study events; a variant's own training events go to the usual ConsoleView."""

    def __init__(self, console: Console | None = None):
        from rich.console import Console

        from kerashp.cli.console import ConsoleView

        self.console = console or Console(highlight=False)
        self.run_view = ConsoleView(self.console, resume_hint=False)  # a variant resumes with its study, not alone
        self.legend_shown = False

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{type(event).__name__}", None)
        if handler:
            handler(event)
        else:
            self.run_view(event)

    def on_VariantStarted(self, event) -> None:
        title = f"[bold]variant {event.number}/{event.total}[/]  {escape(event.factor)}: {escape(event.label)}"
        self.console.rule(title, align="left")

    def on_VariantSkipped(self, event) -> None:
        head = f"variant {event.number}/{event.total}  {escape(event.label)}: already {event.status}"
        self.console.print(f"{head}\n  run: {escape(event.run_dir)}", soft_wrap=True)

    def on_VariantFollowed(self, event) -> None:
        """A variant an earlier, killed run of this study left training: its epochs follow as VariantEpoch."""
        where = f"in process {event.pid}" if event.pid else "in another process"
        self.console.print(
            f"variant {event.number}/{event.total} {escape(event.label)}: still training {where} "
            "(left by an earlier run of this study); following it"
        )  # wrapped at the console's width, unlike the path below
        self.console.print(f"  run: {escape(event.run_dir)}", soft_wrap=True)

    def on_VariantEpoch(self, event) -> None:
        """A line per epoch of variants training in other processes (--jobs), named by its label."""
        from kerashp.cli.console import EPOCH_LEGEND, epoch_metrics

        if not self.legend_shown:
            self.console.print(EPOCH_LEGEND)
            self.legend_shown = True
        line = f"[bold]{escape(event.label)}[/] epoch {event.epoch:>3}/{event.epochs}  {epoch_metrics(event.metrics)}"
        self.console.print(line, soft_wrap=True)

    def on_VariantFinished(self, event) -> None:
        colour = VARIANT_COLOURS.get(event.status, "red")
        detail = f"\n  {escape(event.detail)}" if event.detail else ""  # a log's path and last line: never cut
        head = f"variant {event.number}/{event.total}  {escape(event.label)}: [{colour}]{event.status}[/]"
        self.console.print(f"{head}{detail}", soft_wrap=True)

    def on_FactorFinished(self, event) -> None:
        self.console.print(factor_table(event))

    def on_StudyFinished(self, event) -> None:
        if event.report:
            beside = "report.html, the figures, table.md and table.csv"
            self.console.print(f"report: {escape(event.report)}\n  beside it: {beside}", soft_wrap=True)
        if event.status in (StudyStatus.STOPPED, StudyStatus.INTERRUPTED):
            resume = f"kerashp study {escape(event.path)}"
            self.console.print(f"[yellow]{event.status}[/]: resume with  {resume}", soft_wrap=True)


def factor_table(event):
    """The factor's final-epoch table, narrow enough for 80 columns: variants show only the varied
    value when every label is `key=value` (the key heads the column), a variant that did not
    complete says so beside its name, headers take two lines, and only the variant column wraps.
    With several seeds each figure is their mean, to three decimals: the validation accuracy gains
    its standard deviation and 95% confidence interval, and the best epoch's column (in the report)
    makes room for them. The verdict is the caption."""
    from rich.table import Table

    from kerashp.text import number

    prefix = event.factor.split(".")[-1] + "="
    bare = all(row["variant"].startswith(prefix) for row in event.rows)
    seeds = max((row.get("runs", 1) for row in event.rows), default=1)  # a row without a count is one run
    repeated = seeds > 1
    caption = "test: the best checkpoint (by train.monitor)"
    if repeated:
        caption = f"mean over {seeds} seeds, val acc ± its std; {caption}"
    if event.verdict:
        caption += "\n" + plain_verdict(event.verdict)
    table = Table(title=f"Final epoch, varying {escape(event.factor)}", title_justify="left",
                  caption=escape(caption), caption_justify="left")  # fmt: skip
    table.add_column(escape(prefix[:-1]) if bare else "variant", overflow="fold", min_width=8)  # wraps, never cut
    headers = ("val acc\n95% CI",) if repeated else ("best val\nacc (epoch)",)
    for header in ("train\nloss", "train\nacc", "val\nloss", "val\nacc", *headers, "test\nacc"):
        table.add_column(header, justify="right", no_wrap=True)
    for index, row in enumerate(event.rows):
        name = escape(row["variant"][len(prefix) :] if bare else row["variant"])
        if row["status"] != VariantStatus.COMPLETED:
            name += f" [yellow]{escape(row['status'])}[/]"
        if index == event.winner:
            name += " [green]winner[/]"
        digits = 3 if repeated else 4
        cells = [number(row[key], digits) for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")]
        if repeated:
            low, high, std = row["val_accuracy_ci_low"], row["val_accuracy_ci_high"], row["val_accuracy_std"]
            cells[-1] += f"±{number(std, digits)}" if std is not None else ""
            cells.append("-" if low is None else f"{number(low, digits)} to {number(high, digits)}")
        else:
            cells.append(f"{number(row['best_val_accuracy'])} ({number(row['best_val_epoch'])})")
        table.add_row(name, *cells, number(row["test_accuracy"], digits))
    return table


def plain_verdict(markdown: str) -> str:
    """The report's verdict sentence for a terminal: without markdown's bold, code and escapes."""
    return re.sub(r"\\(.)", r"\1", markdown.replace("**", "").replace("`", ""))
