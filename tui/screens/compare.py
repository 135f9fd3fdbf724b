"""Several runs side by side: validation curves overlaid, final-epoch statistics in columns."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from kerashp.runs.folder import RunDir
from kerashp.text import number
from tui.widgets.chart import look
from tui.widgets.curves import Curves
from tui.widgets.epoch_table import cell
from tui.widgets.key_footer import KeyFooter

FINAL_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "epoch_time")


def final_statistics(run: RunDir) -> dict[str, str]:
    """The run's final epoch and outcome, as the table's column for it."""
    summary = run.read_summary()
    final = summary.get("final") or (run.read_history() or [{}])[-1]
    best = summary.get("best") or {}
    test = summary.get("test") or {}
    column = {"status": run.status(), "epochs": str(summary.get("epochs_done", final.get("epoch", 0)))}
    column |= {key: cell(key, final.get(key)) for key in FINAL_METRICS}
    column |= {f"best {key}": number(value) for key, value in best.items()}
    column["best epoch"] = str(summary.get("best_epoch", "-"))
    column |= {f"test {key}": number(value) for key, value in test.items()}
    column["wall"] = f"{summary['wall_time']:.0f}s" if "wall_time" in summary else "-"
    return column


class CompareScreen(Screen):
    SUB_TITLE = "compare runs"
    BINDINGS = [Binding("escape", "app.pop_screen", "back")]

    def __init__(self, runs: list[RunDir]):
        super().__init__()
        self.runs = runs

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            f"comparing {len(self.runs)} runs: final-epoch statistics, validation curves overlaid", id="compare-title"
        )
        yield Curves()
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(Curves).show_runs([run.read_history() for run in self.runs])
        table = self.query_one(DataTable)
        columns = [final_statistics(run) for run in self.runs]
        table.add_column("final epoch", key="metric")
        for index, run in enumerate(self.runs):
            table.add_column(f"{look(index).marker} {index + 1} {run.name}", key=run.name)
        keys = list(dict.fromkeys(key for column in columns for key in column))
        for key in keys:
            table.add_row(key, *(column.get(key, "-") for column in columns))
