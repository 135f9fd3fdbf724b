"""Runs: every run under the runs directory with its status and key metrics; open, select, compare."""

from __future__ import annotations

import re
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import DataTable, Header, Static

from kerashp.events import Event, RunFinished, RunStarted
from kerashp.runs.folder import RunDir, list_runs
from kerashp.runs.listing import run_row
from kerashp.text import plural
from tui.screens.compare import CompareScreen
from tui.screens.run_detail import RunDetailScreen
from tui.widgets.key_footer import KeyFooter

COLUMNS = ("✓", "run", "status", "epochs", "best", "last", "test", "wall")
SELECTED = "✓"
STAMP = re.compile(r"-\d{4}(\d{2})(\d{2})-(\d{2})(\d{2})\d{2}(-\d+)?$")  # RunDir.create's -YYYYmmdd-HHMMSS[-N]


def short_name(name: str) -> str:
    """`lenet5-20250101-090000` as `lenet5 01-01 09:00`, so the table fits 80 columns (the full name
    is the row's tooltip)."""
    stamp = STAMP.search(name)
    if stamp is None:
        return name
    month, day, hour, minute, suffix = stamp.groups()
    return f"{name[: stamp.start()]} {month}-{day} {hour}:{minute}{suffix or ''}"


class RunsTable(DataTable):
    """The runs; enter opens the one under the cursor."""

    BINDINGS = [Binding("enter", "select_cursor", "open")]


class RunsScreen(Screen):
    SUB_TITLE = "runs"
    BINDINGS = [
        Binding("space", "select", "select", key_display="␣"),
        Binding("c", "compare", "compare"),
        Binding("r", "reload", "reload"),
    ]

    def __init__(self, runs_dir: Path, run_events: Signal[Event | None]) -> None:
        """`run_events`: the app's signal of the live run's events (a run that starts or ends is reloaded)."""
        super().__init__()
        self.runs_dir = runs_dir
        self.run_events = run_events
        self.runs: dict[str, RunDir] = {}
        self.selected: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="runs-title", markup=False)
        yield RunsTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one(RunsTable).add_columns(*COLUMNS)
        self.run_events.subscribe(self, self._run_event)
        self.action_reload()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def _run_event(self, event: Event | None) -> None:
        if isinstance(event, (RunStarted, RunFinished)):
            self.action_reload()

    def action_reload(self) -> None:
        table = self.query_one(RunsTable)
        directory = self.runs_dir
        cursor = self._cursor_key()
        self.runs = {run.name: run for run in reversed(list_runs(directory))}  # newest first
        self.selected &= set(self.runs)
        table.clear()
        for name, run in self.runs.items():
            _, *figures = run_row(run)
            table.add_row(SELECTED if name in self.selected else "", short_name(name), *figures, key=name)
        if cursor in self.runs:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)
        count = plural(len(self.runs), "run") if self.runs else "no runs yet"
        self.query_one("#runs-title", Static).update(
            f"{count} in {directory} · accuracy: best and last on validation, test"
        )

    def _cursor_key(self) -> str | None:
        table = self.query_one(RunsTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    @on(DataTable.RowHighlighted)
    def _row_highlighted(self) -> None:
        self.query_one(RunsTable).tooltip = self._cursor_key()

    @on(DataTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        name = self._cursor_key()
        if name is not None:
            self.app.push_screen(RunDetailScreen(self.runs[name]))

    def action_select(self) -> None:
        name = self._cursor_key()
        if name is None:
            return
        self.selected ^= {name}
        table = self.query_one(RunsTable)
        table.update_cell(name, table.ordered_columns[0].key, SELECTED if name in self.selected else "")

    def action_compare(self) -> None:
        chosen = [run for name, run in self.runs.items() if name in self.selected]
        if len(chosen) < 2:
            self.notify("select two or more runs with space, then press c", severity="warning")
            return
        self.app.push_screen(CompareScreen(chosen))
