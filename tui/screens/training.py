"""Training: the live dashboard of the run in progress (or the last one).

Batch events move the progress line; epoch events add a point to each chart and a row to the
table. Everything is drawn from the app's `LiveRun`, so leaving and coming back loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.widgets import Header, Static

from kerashp.events import EpochEnded, Event, RunFailed, RunFinished, RunStarted
from tui.requests import StopRun, TogglePause
from tui.services.live import LiveRun
from tui.widgets.curves import Curves
from tui.widgets.epoch_table import EpochTable
from tui.widgets.key_footer import KeyFooter
from tui.widgets.run_progress import RunProgress, RunStatusLine

NO_RUN = "No run yet. Pick a preset (1), then press t to train it, or enter to tweak it first."


def no_epochs(live: LiveRun) -> str:
    """What the charts say before the run's first epoch: that they wait for it, or, once the run
    has ended without one, how it ended."""
    if not live.ended:
        return ""
    return f"run {live.status} before its first epoch"


class TrainingScreen(Screen):
    SUB_TITLE = "training"
    BINDINGS = [
        Binding("s", "stop", "stop"),
        Binding("space", "pause", "pause", key_display="␣"),
    ]

    def __init__(self, run_events: Signal[Event | None], live: Callable[[], LiveRun | None]) -> None:
        """`run_events`: the app's signal of the live run's events; `live`: the live run now (None before one)."""
        super().__init__()
        self.run_events = run_events
        self._live = live

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(NO_RUN, id="no-run")
        yield Static(id="run-info", markup=False)
        yield RunProgress(id="run-progress")
        yield RunStatusLine(id="run-status")
        yield Curves()
        yield EpochTable(id="epoch-table")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.run_events.subscribe(self, self.show_event)
        self.redraw()

    @property
    def live(self) -> LiveRun | None:
        return self._live()

    # ------------------------------------------------------------------ drawing
    def show_event(self, event: Event | None) -> None:
        live = self.live
        if live is None or event is None or isinstance(event, (RunStarted, RunFinished, RunFailed)):
            self.redraw()
            return
        self._progress(live)
        if isinstance(event, EpochEnded):
            self._epochs(live)

    def redraw(self) -> None:
        live = self.live
        self.set_class(live is None, "-no-run")
        if live is None:
            return
        info = Path(live.run_dir).name or f"{live.preset} · new run"
        if live.device:
            info += f" · {live.device}"
        if live.parameters is not None:
            info += f" · {live.parameters:,} parameters"
        self.query_one("#run-info", Static).update(info)
        self._progress(live)
        self._epochs(live)
        self.refresh_bindings()

    def _progress(self, live: LiveRun) -> None:
        self.query_one(RunProgress).show(live)
        self.query_one(RunStatusLine).show(live)

    def _epochs(self, live: LiveRun) -> None:
        self.query_one(Curves).show_run(live.rows, live.epochs, live.reference, no_epochs(live))
        self.query_one(EpochTable).show(live.rows, live.best_epoch)

    # ------------------------------------------------------------------ keys
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Stop and pause exist only while a run is live: hidden before one and after it ends."""
        if action in ("stop", "pause"):
            return self.live is not None and not self.live.ended
        return True

    def action_stop(self) -> None:
        self.post_message(StopRun())

    def action_pause(self) -> None:
        self.post_message(TogglePause())
