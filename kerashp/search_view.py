"""Rich rendering of a search for the CLI: a header, a line per trial with its hyperparameters,
the live epochs of the trial running here (through ConsoleView), the best so far after each trial,
and the final table, best first."""

from __future__ import annotations

import re

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from kerashp import events as ev
from kerashp.console import ConsoleView, fmt
from kerashp.search import events as sev
from kerashp.search.records import TrialRecord

LIVE = ("Progress", "EpochStarted", "BatchEnded", "EpochEnded", "Evaluated", "RunFailed")  # handed to ConsoleView
MIN_NAME = 5  # `horizontal_flip.p`, not `p`; `optimizer.name`, not `name` (model and schedule have one too)
COLOURS = {"completed": "green", "pruned": "yellow", "failed": "red", "running": "cyan"}


def shown(value) -> str:
    """A hyperparameter as trials.csv and presets write it (`true`, not Python's `True`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return fmt(value)


def describe_values(values: dict, keys: list[str] = ()) -> str:
    """`key=value` pairs, those in `keys` (the space's declared order) first."""
    ordered = [key for key in keys if key in values] + [key for key in values if key not in keys]
    return "  ".join(f"{key}={shown(values[key])}" for key in ordered)


def short_names(keys: list[str]) -> dict[str, str]:
    """Each key's shortest dotted suffix that no other key ends with (`optimizer.learning_rate` ->
    `learning_rate`), so the table stays narrow."""
    names = {}
    for key in keys:
        parts = key.split(".")
        for size in range(1, len(parts) + 1):
            name = ".".join(parts[-size:])
            ambiguous = any(other != key and (other == name or other.endswith("." + name)) for other in keys)
            if not ambiguous and len(name) >= MIN_NAME:
                break
        names[key] = name
    return names


def results_table(
    records: list[TrialRecord], objective: str, keys: list[str], title: str = "", console: Console | None = None
) -> Table:
    """Trials best first: status, objective, epochs, time, then one column per searched key.

    Where it would be wider than `console`, headers break at their spaces, `_` and `.` (left to
    itself rich breaks them anywhere: `batch_siz` / `e`)."""
    table = _results_table(records, objective, keys, title, split_headers=False)
    if console is not None and natural_width(console, table) > console.width:
        table = _results_table(records, objective, keys, title, split_headers=True)
    return table


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


def _results_table(records: list[TrialRecord], objective: str, keys: list[str], title: str, split_headers: bool) -> Table:
    table = Table(title=title or None, title_justify="left")
    columns = ["trial", "status", objective, "best epoch", "epochs", "time"]
    workers = sorted({r.worker for r in records if r.worker})
    if len(workers) > 1 or (workers and workers[0] != "tuner0"):
        columns.append("worker")
    header = split_header if split_headers else str
    for column in columns:
        table.add_column(header(column), justify="left" if column in ("trial", "status", "worker") else "right", no_wrap=True)
    for column in short_names(keys).values():
        table.add_column(header(column), justify="right", overflow="fold")
    for record in records:
        colour = COLOURS.get(record.status, "white")
        row = [record.trial_id, f"[{colour}]{record.status}[/]", fmt(record.objective), fmt(record.best_epoch),
               str(record.epochs), f"{record.time_s:.1f}s"]
        if "worker" in columns:
            row.append(record.worker)
        table.add_row(*row, *(shown(record.hyperparameters.get(key)) for key in keys))
    return table


class SearchView:
    """A listener for search and training events."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(highlight=False)
        self.live = ConsoleView(self.console, resume_hint=False)  # a trial resumes with its search, not alone
        self.objective, self.keys, self.role = "objective", [], "local"

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
            f" ({event.role})\n  search: {event.search_dir}"
        )
        if event.finished_trials:
            self.console.print(f"  resuming: {event.finished_trials} trials already finished")
        if event.role.startswith("worker"):
            self.console.print(f"  {event.role}: waiting for trials from the chief")

    def on_TrialStarted(self, event: sev.TrialStarted) -> None:
        record = TrialRecord.from_json(event.record)
        where = [f"trial {record.trial_id} ({record.number} of {event.planned_trials or '?'})"]
        if record.bracket is not None:
            where.append(f"bracket {record.bracket} round {record.round}")
        if record.parent is not None:
            where.append(f"continues trial {record.parent} after epoch {event.initial_epoch}")
        if record.worker and record.worker != "tuner0":
            where.append(record.worker)
        self.console.print(f"\n[bold]{', '.join(where)}[/]  {describe_values(record.hyperparameters, self.keys)}", soft_wrap=True)

    def on_RunStarted(self, event: ev.RunStarted) -> None:
        if event.initial_epoch:
            self.console.print(f"  run resumes after epoch {event.initial_epoch}: {event.run_dir}")

    def on_RunFinished(self, event: ev.RunFinished) -> None:
        self.live.close_bar()  # a pruned run stops inside an epoch whose bar is still open

    def on_TrialEnded(self, event: sev.TrialEnded) -> None:
        record = TrialRecord.from_json(event.record)
        colour = COLOURS.get(record.status, "white")
        result = f"{self.objective} {fmt(record.objective)} (best epoch {fmt(record.best_epoch)})" if record.objective is not None else ""
        epochs = f"{record.epochs} epoch{'' if record.epochs == 1 else 's'}"
        line = f"trial {record.trial_id} [{colour}]{record.status}[/] after {epochs}, {record.time_s:.1f}s  {result}"
        if record.reason:
            line += f"\n  {record.reason}"
        if event.best:
            top = TrialRecord.from_json(event.best)
            line += f"\n  best so far: trial {top.trial_id}, {self.objective} {fmt(top.objective)}"
        self.console.print(line, soft_wrap=True)

    def on_SearchFinished(self, event: sev.SearchFinished) -> None:
        if self.role.startswith("worker"):  # other workers may still be finishing: the chief has the full table
            self.console.print(f"{self.role}: no trials left; the chief prints the results")
            return
        records = [TrialRecord.from_json(r) for r in event.records]
        self.console.print()
        title = f"trials, best first  {event.search_dir}"
        self.console.print(results_table(records, self.objective, self.keys, title, self.console))
