"""`kerashp-tui`: the application, its screens as modes, the background work, and the command line.

One run trains at a time, in a child process calling `kerashp.training.run.train` (tui.services.training_process);
a thread worker hands its events to the UI thread, where the app applies each to `self.live` and
publishes it on `run_events`, which the dashboard and the runs list subscribe to. A search runs as `kerashp tune`
in a subprocess (`self.search`). Screens are handed what they show when they are made, and ask for
a run or a search with the messages of `tui.requests`. Quitting stops both first (a run saves its
last finished epoch, a search its interrupted trial), so `q` always leaves work that can be resumed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import BUILTIN_THEMES
from textual.worker import Worker

from kerashp.config import available_presets, load_preset, parse_override
from kerashp.data import check_preset_data
from kerashp.errors import UserError
from kerashp.events import Event, RunFailed, RunFinished
from kerashp.runs.listing import RUNS_DIR_ENV, default_runs_dir
from kerashp.status import RunStatus
from tui.requests import StartSearch, StopRun, TogglePause, TrainPreset
from tui.screens.presets import PresetsScreen
from tui.screens.runs import RunsScreen
from tui.screens.search import SearchScreen
from tui.screens.training import TrainingScreen
from tui.services.live import LiveRun, RunEvent
from tui.services.preset_files import put_user_presets_on_path
from tui.services.search_process import SearchProcess
from tui.services.settings import Settings
from tui.services.training_process import TrainingProcess
from tui.theme import opposite, query_background, terminal_theme

SCREENS = Binding.Group("screens", compact=True)
SEVERITY: dict[str, SeverityLevel] = {
    RunStatus.COMPLETED: "information",
    RunStatus.STOPPED: "warning",
    RunStatus.INTERRUPTED: "warning",
}

EXAMPLES = """examples:
  kerashp-tui
  kerashp-tui --set data.source=folder:../shared/data/cifar10-mini --set train.epochs=2
  kerashp-tui --preset lenet5_aug --set optimizer.learning_rate=0.05
  kerashp-tui --runs-dir experiments/runs --theme textual-light

keys: 1-4 switch screens (presets, training, runs, search), ? lists every key, ctrl+p opens
the command palette, q quits (stopping a running run or search first; both resume later).
"""


class KerashpApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "kerashp"
    BINDINGS = [
        Binding("1", "switch_mode('presets')", "presets", group=SCREENS),
        Binding("2", "switch_mode('training')", "training", group=SCREENS),
        Binding("3", "switch_mode('runs')", "runs", group=SCREENS),
        Binding("4", "switch_mode('search')", "search", group=SCREENS),
        Binding("question_mark", "toggle_keys", "keys"),
        Binding("ctrl+t", "toggle_theme", "theme"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+p", "command_palette", "palette", priority=True, tooltip="Open the command palette"),
    ]

    def __init__(self, settings: Settings | None = None, theme: str | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.live: LiveRun | None = None
        # every training event, and None when the live run changed otherwise (started, paused, stopping)
        self.run_events: Signal[Event | None] = Signal(self, "run-events")
        self._training: Worker | None = None
        self.search: SearchProcess | None = None
        self._search: Worker | None = None
        self._quitting = False
        self._initial_theme = theme or terminal_theme()
        self.add_mode("presets", lambda: PresetsScreen(self.settings))
        self.add_mode("training", lambda: TrainingScreen(self.run_events, lambda: self.live))
        self.add_mode("runs", lambda: RunsScreen(self.settings.runs_dir, self.run_events))
        self.add_mode("search", lambda: SearchScreen(self.settings))

    def on_mount(self) -> None:
        self.theme = self._initial_theme
        self.switch_mode("presets")

    # ------------------------------------------------------------------ training
    def busy(self) -> bool:
        """Whether a run is live (one trains at a time); says so to the user when it is."""
        if self.live is None or self.live.ended:
            return False
        self.notify(f"{self.live.preset} is still training: stop it first (2, then s)", severity="warning")
        return True

    @on(TrainPreset)
    def _train(self, request: TrainPreset) -> None:
        """Train the preset in a child process and show the dashboard; refused while another run is live."""
        if self.busy():
            return
        if request.close is self.screen:
            self.pop_screen()
        process = TrainingProcess(request.preset, self.settings.runs_dir)
        self.live = LiveRun.for_preset(request.preset, control=process)
        self._training = self._follow(process)
        self.run_events.publish(None)
        self.switch_mode("training")

    @on(StopRun)
    def stop_run(self) -> None:
        """Stop the live run after its current batch; it ends as `stopped` at its last finished epoch."""
        if self.live is not None:
            self.live.stop()
            self.run_events.publish(None)

    @on(TogglePause)
    def toggle_pause(self) -> None:
        if self.live is not None:
            self.live.toggle_pause()
            self.run_events.publish(None)

    @work(thread=True, group="training", exit_on_error=False)
    def _follow(self, process: TrainingProcess) -> None:
        """Hand each event of the run to the UI thread (this thread only waits on the pipe)."""
        for event in process.events():
            self.post_message(RunEvent(event))

    def on_run_event(self, message: RunEvent) -> None:
        if self.live is None:
            return
        self.live.apply(message.event)
        self.run_events.publish(message.event)
        if isinstance(message.event, (RunFinished, RunFailed)):
            self.notify(self.live.message, title=self.live.preset, severity=SEVERITY.get(self.live.status, "error"))

    # ------------------------------------------------------------------ searching
    @on(StartSearch)
    def _start_search(self, request: StartSearch) -> None:
        """Run `kerashp tune` in the background (the search screen starts one at a time)."""
        self.search = request.process
        self._search = self._run_search(request.process)

    @work(group="search", exit_on_error=False)
    async def _run_search(self, process: SearchProcess) -> None:
        await process.run()

    # ------------------------------------------------------------------ quitting
    def _busy_workers(self) -> list[Worker]:
        return [w for w in (self._training, self._search) if w is not None and not w.is_finished]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if self._quitting and not self._busy_workers():
            self.exit()

    async def action_quit(self) -> None:
        """Quit; a running run or search is stopped first (both resume later) and the app exits once they have saved."""
        if not self._busy_workers():
            self.exit()
            return
        self._quitting = True
        self.stop_run()
        if self.search is not None:
            self.search.stop()
        self.notify("stopping what is running at its next safe point, then quitting…", severity="warning")

    def abandon_work(self) -> None:
        """After the app has gone, whatever way it went: no run or search may outlive it unseen."""
        if self.live is not None and isinstance(self.live.control, TrainingProcess):
            self.live.control.kill()
        if self.search is not None:
            self.search.stop()

    # ------------------------------------------------------------------ keys, theme, palette
    def action_toggle_keys(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    def action_toggle_theme(self) -> None:
        self.theme = opposite(self.theme)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Light/dark", "Switch between the light and dark theme (ctrl+t)", self.action_toggle_theme)
        for key, mode in (("1", "presets"), ("2", "training"), ("3", "runs"), ("4", "search")):
            yield SystemCommand(
                f"Go to {mode}", f"Show the {mode} screen ({key})", lambda mode=mode: self.switch_mode(mode)
            )
        if self.live is not None and not self.live.ended:
            yield SystemCommand("Stop run", "Stop the running run at its last finished epoch (s)", self.stop_run)
            yield SystemCommand("Pause/resume run", "Pause or resume the running run (space)", self.toggle_pause)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerashp-tui",
        description="Terminal UI for kerashp: browse and tweak presets, train with live charts, compare runs, search.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--runs-dir", type=Path, default=None, help=f"where runs are kept (default: ${RUNS_DIR_ENV} or ./runs)"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a preset key, e.g. --set optimizer.learning_rate=0.05 (repeatable; TOML values)",
    )  # fmt: skip
    parser.add_argument("--preset", default="", metavar="NAME", help="the preset to highlight at start")
    parser.add_argument("--theme", help="a Textual theme name (default: follow the terminal's dark/light background)")
    return parser


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse bad input before the screen is taken: an unknown preset or theme, overrides the schema
    rejects, or a folder source that cannot load.

    The overrides are checked against the preset shown first (the one named, else the list's first),
    so a typo stops the app here rather than turning every preset in the list into an error.
    """
    for expression in args.overrides:
        parse_override(expression)
    if args.theme and args.theme not in BUILTIN_THEMES:
        raise UserError(f"--theme {args.theme}: unknown theme; allowed: {', '.join(BUILTIN_THEMES)}")
    presets = available_presets()
    if args.preset and args.preset not in presets:
        raise UserError(f"--preset {args.preset}: unknown preset; available: {', '.join(presets)}")
    if args.overrides and presets:
        check_preset_data(load_preset(args.preset or next(iter(presets)), args.overrides))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    put_user_presets_on_path()
    try:
        check_arguments(args)
    except UserError as exc:
        print(f"kerashp-tui: error: {exc}", file=sys.stderr)
        return 2
    theme = args.theme or terminal_theme(background=query_background())
    app = KerashpApp(Settings(args.runs_dir or default_runs_dir(), tuple(args.overrides), args.preset), theme=theme)
    try:
        app.run()
    finally:
        app.abandon_work()
    return app.return_code or 0


if __name__ == "__main__":
    sys.exit(main())
