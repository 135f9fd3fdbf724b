"""Rich rendering of a search for the CLI: a header, a line per trial with its hyperparameters,
the live epochs of the trial running here (through ConsoleView), the best so far after each trial,
and the final table, best first."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from kerashp import events as ev
from kerashp.cli.console import EPOCH_LEGEND, ConsoleView
from kerashp.search import events as sev
from kerashp.search.labels import short_names, shown, value_pairs
from kerashp.search.records import TrialRecord
from kerashp.status import TrialStatus
from kerashp.text import number, plural

if TYPE_CHECKING:
    from kerashp.search.importance import Importance  # imports Optuna, which only --results needs

LIVE = ("Progress", "EpochStarted", "BatchEnded", "EpochEnded", "Evaluated", "RunFailed")  # handed to ConsoleView
COLOURS: dict[str, str] = {
    TrialStatus.COMPLETED: "green",
    TrialStatus.PRUNED: "yellow",
    TrialStatus.FAILED: "red",
    TrialStatus.RUNNING: "cyan",
}


def results_table(
    records: list[TrialRecord], objective: str, keys: list[str], title: str = "", console: Console | None = None
) -> Group:
    """Trials best first: status, objective, epochs (and the best), time, then one column per searched key.

    Values are never broken. Where the table would be wider than `console`, headers break at their
    spaces, `_` and `.` (left to itself rich breaks them anywhere: `batch_siz` / `e`); where it still
    is, the searched keys that do not fit go on to further tables, each led by the trial column."""
    names = short_names(keys)
    table = _results_table(records, objective, keys, names, title, split_headers=False)
    if console is None or natural_width(console, table) <= console.width:
        return Group(table)
    parts: list[Table] = []
    rest = list(keys)
    while True:
        fitted = _fitting_keys(console, records, objective, rest, names, first=not parts)
        first = not parts
        part_title = title if first else ""
        parts.append(_results_table(records, objective, fitted, names, part_title, split_headers=True, first=first))
        rest = rest[len(fitted) :]
        if not rest:
            return Group(*parts)


IMPORTANCE_BAR = 30  # characters of the largest share's bar


def importance_text(found: Importance) -> Text:
    """Each key's share of the objective's variance as a number and a bar, largest first, then the note."""
    text = Text()
    if found.shares:
        text.append("parameter importance (fANOVA: share of the objective's variance):\n", style="bold")
        width = max(len(key) for key in found.shares)
        for key, share in found.shares.items():
            text.append(f"  {key:<{width}}  {share:4.2f}  ")
            text.append("█" * round(share * IMPORTANCE_BAR) + "\n", style="cyan")
    if found.note:
        text.append(found.note + "\n", style="dim" if found.shares else "")
    return text


def _fitting_keys(
    console: Console, records: list[TrialRecord], objective: str, keys: list[str], names: dict[str, str], first: bool
) -> list[str]:
    """The longest run of `keys` whose table fits `console` (at least one key, so it always moves on)."""
    count = 1
    while count < len(keys):
        table = _results_table(records, objective, keys[: count + 1], names, "", split_headers=True, first=first)
        if natural_width(console, table) > console.width:
            break
        count += 1
    return keys[:count]


def natural_width(console: Console, table: Table) -> int:
    """The table's width with nothing wrapped (`console.measure` caps it at the console's width)."""
    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def split_header(name: str) -> str:
    """`name` on lines no longer than its longest part between separators: `horizontal_` / `flip.p`."""
    parts = re.findall(r"[^._ ]+[._ ]?", name)
    longest = max(len(part) for part in parts)
    lines = [""]
    for part in parts:
        if lines[-1] and len(lines[-1]) + len(part) > longest:
            lines.append("")
        lines[-1] += part
    return "\n".join(line.rstrip() for line in lines)


def _results_table(
    records: list[TrialRecord],
    objective: str,
    keys: list[str],
    names: dict[str, str],
    title: str,
    split_headers: bool,
    first: bool = True,
) -> Table:
    """The trials with `keys` as columns headed by `names`: after the bookkeeping columns (`first`),
    or after only the trial column (a continuation)."""
    table = Table(title=title or None, title_justify="left")
    columns = ["trial", "status", objective, "epochs (best)", "time"] if first else ["trial"]
    workers = sorted({r.worker for r in records if r.worker})
    if first and (len(workers) > 1 or (workers and workers[0] != "tuner0")):
        columns.append("worker")
    header = split_header if split_headers else str
    for column in columns:
        table.add_column(
            header(column), justify="left" if column in ("trial", "status", "worker") else "right", no_wrap=True
        )
    for key in keys:
        table.add_column(header(names[key]), justify="right", no_wrap=True)
    for record in records:
        colour = COLOURS.get(record.status, "white")
        row = [record.trial_id]
        if first:
            epochs = f"{record.epochs} ({number(record.best_epoch)})"
            row += [f"[{colour}]{record.status}[/]", number(record.objective), epochs, f"{record.time_s:.1f}s"]
        if "worker" in columns:
            row.append(record.worker)
        table.add_row(*row, *(shown(record.hyperparameters.get(key)) for key in keys))
    return table


def wrapped(pairs: list[str], width: int, indent: str = "  ") -> str:
    """`key=value  key=value ...` on indented lines no wider than `width`, breaking only between pairs."""
    lines: list[str] = []
    for pair in pairs:
        if lines and len(lines[-1]) + 2 + len(pair) <= width:
            lines[-1] += "  " + pair
        else:
            lines.append(indent + pair)
    return "\n".join(lines)


class SearchView:
    """A listener for search and training events."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self.live = ConsoleView(self.console, resume_hint=False)  # a trial resumes with its search, not alone
        self.objective, self.role = "objective", "local"
        self.keys: list[str] = []

    def __call__(self, event: ev.Event) -> None:
        name = type(event).__name__
        if name in LIVE:
            self.live(event)
            return
        handler = getattr(self, f"on_{name}", None)
        if handler:
            handler(event)

    def on_SearchStarted(self, event: sev.SearchStarted) -> None:
        self.objective, self.keys, self.role = event.objective, event.hyperparameters, event.role
        planned = f"{event.planned_trials} trials" if event.planned_trials else "trials"
        self.console.print(
            f"[bold]{event.preset}[/]: {event.algorithm} search, {planned}, {event.direction}imise {event.objective}"
            f" ({event.role})\n  search: {event.search_dir}\n  {EPOCH_LEGEND}",
            soft_wrap=True,
        )
        if event.finished_trials:
            self.console.print(f"  resuming: {event.finished_trials} trials already finished")
        if event.role.startswith("worker"):
            self.console.print(f"  {event.role}: waiting for trials from the chief")

    def on_TrialStarted(self, event: sev.TrialStarted) -> None:
        """`trial 3 (4 of 23), bracket 1 round 1, worker1`, then what it continues, then its values,
        wrapped between values to the console's width."""
        record = TrialRecord.from_json(event.record)
        where = [f"trial {record.trial_id} ({record.number} of {event.planned_trials or '?'})"]
        if record.bracket is not None:
            where.append(f"bracket {record.bracket} round {record.round}")
        if record.worker and record.worker != "tuner0":
            where.append(record.worker)
        lines = [f"\n[bold]{', '.join(where)}[/]"]
        if record.parent is not None:
            lines.append(f"  continues trial {record.parent} after epoch {event.initial_epoch}")
        lines.append(wrapped(value_pairs(record.hyperparameters, self.keys), self.console.width))
        self.console.print("\n".join(lines), soft_wrap=True)

    def on_RunStarted(self, event: ev.RunStarted) -> None:
        if event.initial_epoch:
            self.console.print(f"  run resumes after epoch {event.initial_epoch}: {event.run_dir}")

    def on_RunFinished(self, event: ev.RunFinished) -> None:
        self.live.close_bar()  # a pruned run stops inside an epoch whose bar is still open

    def on_TrialEnded(self, event: sev.TrialEnded) -> None:
        record = TrialRecord.from_json(event.record)
        colour = COLOURS.get(record.status, "white")
        result = ""
        if record.objective is not None:
            result = f": {self.objective} {number(record.objective)} (epoch {number(record.best_epoch)})"
        epochs = plural(record.epochs, "epoch")
        line = f"trial {record.trial_id} [{colour}]{record.status}[/] after {epochs}, {record.time_s:.1f}s{result}"
        self.console.print(line)
        if record.reason:  # an error's message, wrapped between words
            self.console.print(Padding(Text(record.reason), (0, 0, 0, 2), expand=False))
        if event.best:
            top = TrialRecord.from_json(event.best)
            self.console.print(f"  best so far: trial {top.trial_id}, {self.objective} {number(top.objective)}")

    def on_SearchFinished(self, event: sev.SearchFinished) -> None:
        if self.role.startswith("worker"):  # other workers may still be finishing: the chief has the full table
            self.console.print(f"{self.role}: no trials left; the chief prints the results")
            return
        records = [TrialRecord.from_json(r) for r in event.records]
        self.console.print()
        title = f"trials, best first  {event.search_dir}"
        self.console.print(results_table(records, self.objective, self.keys, title, self.console))
