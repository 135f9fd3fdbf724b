"""Search: start a KerasTuner search from a preset, watch its trials, or open an earlier search.

The screen shows one search directory: a row per trial (status, objective, its hyperparameters),
the best trial so far, the running trial's batch progress, and the highlighted trial's curves.
While the search runs the directory is re-read every second (the running trial's progress from its
events log, as the training dashboard shows a run's); the cursor jumps to each trial as it starts.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from kerashp.config import Preset
from kerashp.errors import UserError
from kerashp.runs.folder import RunDir, list_runs
from kerashp.search.labels import describe_values, short_names
from kerashp.search.records import TrialRecord
from kerashp.search.results import SearchResults
from kerashp.status import TrialStatus
from kerashp.text import number
from tui.dialogs.search import NewSearch, NewSearchDialog, OpenSearchDialog
from tui.requests import StartSearch
from tui.services.run_follower import RunFollower
from tui.services.search_process import SearchProcess, SearchProcessStatus
from tui.services.settings import Settings
from tui.widgets.curves import Curves
from tui.widgets.key_footer import KeyFooter
from tui.widgets.run_progress import RunProgress

NO_SEARCH = (
    "No search open. n starts a search from a preset with a [search.space] section; "
    "o opens an earlier search from the runs directory."
)
REFRESH_S = 1.0
BEST = "★"


def trial_runs(results: SearchResults, trial_id: str) -> list[RunDir]:
    """The trial's runs, oldest first (its folder holds one run per execution)."""
    return sorted(list_runs(results.search.trial_dir(trial_id)), key=lambda run: run.name)


def trial_history(results: SearchResults, record: TrialRecord) -> list[dict]:
    """The epochs of the trial's first run."""
    runs = trial_runs(results, record.trial_id)
    return runs[0].read_history() if runs else []


def planned_trials(preset: Preset, started: int) -> str:
    """How many trials the search will run, for `N of ...`: Hyperband decides as it goes (BOHB stops at
    max_trials, as random, bayesian and tpe do); grid may run out early."""
    search = preset["search"]
    if search["algorithm"] == "hyperband":
        return ""
    planned = max(int(search["max_trials"]), started)
    return f" of at most {planned}" if search["algorithm"] == "grid" else f" of {planned}"


class TrialsTable(DataTable):
    BINDINGS = [Binding("enter", "select_cursor", "curves")]


class SearchScreen(Screen):
    SUB_TITLE = "search"
    BINDINGS = [
        Binding("n", "new", "new"),
        Binding("o", "open", "open"),
        Binding("s", "stop", "stop"),
        Binding("r", "reload", "reload"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.search: SearchProcess | None = None  # the search started here (the app runs it)
        self.directory: Path | None = None
        self.results: SearchResults | None = None
        self.running_trial: str | None = None
        self._was_running = False
        self._columns: list[str] = []
        self.follower: RunFollower | None = None  # the running trial's run, from its events log

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(NO_SEARCH, id="no-search")
        yield Static(id="search-info", markup=False)
        yield Static(id="search-best", markup=False)
        yield RunProgress(id="trial-progress")
        yield TrialsTable(id="trials-table", cursor_type="row", zebra_stripes=True)
        yield Curves()
        yield KeyFooter()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_S, self._tick)
        self.action_reload()

    @property
    def process(self) -> SearchProcess | None:
        """The search process writing the directory shown, if it was started here."""
        search = self.search
        return search if search is not None and search.directory == self.directory else None

    def show(self, directory: Path | None) -> None:
        if directory is None:
            return
        self.directory, self.running_trial, self.follower = directory, None, None
        self.action_reload()

    def _tick(self) -> None:
        process = self.process
        running = process is not None and process.running
        if running or self._was_running:
            self.action_reload()
        if self._was_running and process is not None and not running:
            severity: SeverityLevel = "error" if process.status == SearchProcessStatus.FAILED else "information"
            self.notify(process.error or f"search {process.status}", title=process.directory.name, severity=severity)
        self._was_running = running

    # ------------------------------------------------------------------ drawing
    def action_reload(self) -> None:
        directory = self.directory
        self.set_class(directory is None, "-no-search")
        if directory is None:
            return
        try:
            self.results = SearchResults.load(directory)
        except (UserError, OSError, ValueError):
            self.results = None
        self._info(directory, self.results)
        if self.results is not None:
            self._trials(self.results)
            self._curves(self.results)
        self._trial_progress()

    def _info(self, directory: Path, results: SearchResults | None) -> None:
        info, process = Text(), self.process
        if results is None:
            info.append(f"{directory.name}: starting…" if process and process.running else f"{directory}: not readable")
        else:
            preset, records = results.preset, results.records
            search = preset["search"]
            done = sum(record.finished for record in records)
            info.append(
                f"{preset.name} · {search['algorithm']} · {search['direction']}imise {search['objective']}",
                style="bold",
            )
            info.append(f" · {done}{planned_trials(preset, len(records))} trials finished")
            if process is not None:
                info.append(f" · {process.status}")
        if process is not None and process.error:
            info.append(f" · {process.error}")
        self.query_one("#search-info", Static).update(info)
        top = results.best if results else None
        best = "no completed trial yet"
        if results is not None and top is not None:
            best = (
                f"best so far: trial {top.trial_id} · {results.objective} {number(top.objective)} "
                f"at epoch {top.best_epoch} · {describe_values(top.hyperparameters)}"
            )
        self.query_one("#search-best", Static).update(best)

    def _trials(self, results: SearchResults) -> None:
        table = self.query_one(TrialsTable)
        names = short_names(results.space_keys)
        columns = ["", "trial", "status", results.objective, "best ep", "epochs", "time", *names.values()]
        cursor = self._cursor_trial()
        if columns != self._columns:
            table.clear(columns=True)
            table.add_columns(*columns)
            self._columns = columns
        else:
            table.clear()
        top = results.best
        records = sorted(results.records, key=lambda record: record.number)
        for record in records:
            table.add_row(
                BEST if top is not None and record.trial_id == top.trial_id else "",
                record.trial_id,
                record.status,
                number(record.objective),
                number(record.best_epoch),
                str(record.epochs),
                f"{record.time_s:.0f}s",
                *(number(record.hyperparameters.get(key)) for key in names),
                key=record.trial_id,
            )
        running = next((record.trial_id for record in records if record.status == TrialStatus.RUNNING), None)
        if running is not None and running != self.running_trial:
            cursor = running  # follow each trial as it starts
        self.running_trial = running
        if cursor is not None and cursor in {record.trial_id for record in records}:
            table.move_cursor(row=table.get_row_index(cursor), animate=False)

    def _trial_progress(self) -> None:
        """The running trial's batch progress and ETA, read from its run's events log."""
        progress = self.query_one("#trial-progress", RunProgress)
        results, running = self.results, self.running_trial
        if results is None or running is None:
            self.follower = None
        else:
            runs = trial_runs(results, running)
            newest = runs[-1].path if runs else None
            if newest is not None and (self.follower is None or self.follower.run_dir != newest):
                epochs = int(results.preset["train"]["epochs"])
                self.follower = RunFollower(newest, f"trial {running}", epochs)
            if self.follower is not None:
                self.follower.poll()
        progress.display = self.follower is not None
        if self.follower is not None:
            progress.show(self.follower.live)

    def _cursor_trial(self) -> str | None:
        table = self.query_one(TrialsTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def _curves(self, results: SearchResults) -> None:
        trial = self._cursor_trial()
        record = next((r for r in results.records if r.trial_id == trial), None)
        rows = trial_history(results, record) if record else []
        epochs = max(int(results.preset["train"]["epochs"]), len(rows), 1)
        self.query_one(Curves).show_run(rows, epochs, results.preset["reference"])

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        if self.results is not None:
            self._curves(self.results)

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.process is not None and self.process.running or None
        return True

    def action_new(self) -> None:
        if self.search is not None and self.search.running:
            self.notify(f"a search is running in {self.search.directory}: stop it first (s)", severity="warning")
            return
        self.app.push_screen(NewSearchDialog(self.settings), self._start)

    def _start(self, chosen: NewSearch | None) -> None:
        if chosen is None:
            return
        self.search = SearchProcess.for_preset(self.settings, chosen.preset, chosen.overrides)
        self.post_message(StartSearch(self.search))
        self._was_running = True
        self.show(self.search.directory)

    def action_open(self) -> None:
        self.app.push_screen(OpenSearchDialog(self.settings.runs_dir), self.show)

    def action_stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.notify("stopping the search: the running trial resumes when you start it again", severity="warning")
