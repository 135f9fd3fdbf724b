"""One finished (or running) run: its summary line, curves against the preset's figure, epoch table."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Header, Static

from kerashp.runs.folder import RunDir
from kerashp.text import number
from tui.widgets.curves import Curves
from tui.widgets.epoch_table import EpochTable
from tui.widgets.key_footer import KeyFooter


def run_reference(run: RunDir) -> dict:
    """The `[reference]` figures of the preset the run was trained with; none when its preset.toml
    is damaged (read as empty) or holds a `reference` that is not a table."""
    reference = run.read_preset_document().get("reference")
    return reference if isinstance(reference, dict) else {}


def run_headline(run: RunDir) -> str:
    summary = run.read_summary()
    test = (summary.get("test") or {}).get("accuracy")
    parts = [
        run.name,
        run.status(),
        f"{summary.get('epochs_done', 0)}/{summary.get('epochs', '?')} epochs",
        f"best epoch {summary.get('best_epoch', '-')}",
        f"test acc {number(test)}",
    ]
    if "wall_time" in summary:
        parts.append(f"{summary['wall_time']:.0f}s")
    if summary.get("error"):
        parts.append(summary["error"])
    return " · ".join(parts)


class RunDetailScreen(Screen):
    SUB_TITLE = "run"
    BINDINGS = [Binding("escape", "app.pop_screen", "back"), Binding("r", "reload", "reload")]

    def __init__(self, run: RunDir):
        super().__init__()
        self.run = run

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="run-headline", markup=False)
        yield Curves()
        yield EpochTable(id="epoch-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        rows = self.run.read_history()
        summary = self.run.read_summary()
        epochs = max(int(summary.get("epochs", 0) or 0), len(rows), 1)
        self.query_one("#run-headline", Static).update(run_headline(self.run))
        self.query_one(Curves).show_run(rows, epochs, run_reference(self.run))
        self.query_one(EpochTable).show(rows, summary.get("best_epoch"))
