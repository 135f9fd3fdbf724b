"""Dialogs of the search screen: start a search from a preset, open an earlier one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from kerashp.config import Preset, available_presets
from kerashp.config.fields import Choice
from kerashp.config.schema import SEARCH
from kerashp.errors import PresetError
from kerashp.search.space import check_search, epochs_key, epochs_per_trial
from tui.services.search_process import search_directory, searches
from tui.services.settings import Settings


def searchable_presets(settings: Settings) -> dict[str, Preset]:
    """Presets with a `[search.space]`, loaded with the app's overrides."""
    found = {}
    for name in available_presets():
        try:
            preset = settings.load(name)
        except PresetError:
            continue
        if preset["search"]["space"]:
            found[name] = preset
    return found


def algorithms() -> tuple[str, ...]:
    """What `search.algorithm` accepts, as the schema says."""
    field = SEARCH["algorithm"]
    return field.choices if isinstance(field, Choice) else ()


def row(label: str, editor: Widget) -> Horizontal:
    return Horizontal(Label(label, classes="dialog-label"), editor, classes="dialog-row")


class NewSearch(NamedTuple):
    """The search to start: the preset as checked, and the dialog's own overrides on top of the app's."""

    preset: Preset
    overrides: list[str]


class NewSearchDialog(ModalScreen[NewSearch | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("ctrl+r", "start", "start")]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.presets: dict[str, Preset] = {}

    def compose(self) -> ComposeResult:
        self.presets = searchable_presets(self.settings)
        first = next(iter(self.presets.values()), None)
        with Vertical(id="search-dialog", classes="dialog"):
            yield Label("Start a search", classes="dialog-title")
            if first is None:
                yield Static("No preset has a [search.space] section; add one (see lenet5_search).")
                return
            names = [(name, name) for name in self.presets]
            choices = [(choice, choice) for choice in algorithms()]
            yield row("preset", Select(names, value=first.name, allow_blank=False, id="search-preset", compact=True))
            algorithm = first["search"]["algorithm"]
            yield row(
                "algorithm", Select(choices, value=algorithm, allow_blank=False, id="search-algorithm", compact=True)
            )
            yield row("trials", Input(str(first["search"]["max_trials"]), id="search-trials", compact=True))
            yield row("epochs per trial", Input(str(epochs_per_trial(first)), id="search-epochs", compact=True))
            yield Static("", id="search-problem", markup=False)
            yield Static("", id="search-where", markup=False)
            yield Label("ctrl+r or enter starts · escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        if self.presets:
            self._check()

    def _chosen(self, selector: str) -> Any:
        """The value picked in a Select (never blank: each is made with allow_blank=False)."""
        return self.query_one(selector, Select).selection

    def _overrides(self) -> list[str]:
        algorithm = self._chosen("#search-algorithm")
        trials = self.query_one("#search-trials", Input).value
        epochs = self.query_one("#search-epochs", Input).value
        # Hyperband and BOHB give their trials different epochs: there this is the most a trial gets
        return [f'search.algorithm="{algorithm}"', f"search.max_trials={trials}", f"{epochs_key(algorithm)}={epochs}"]

    def _check(self) -> Preset | None:
        """The preset as the search would run it, or None with the CLI's message shown."""
        name = self._chosen("#search-preset")
        problem, where, preset = "", "", None
        try:
            preset = self.settings.load(name, self._overrides())
            check_search(preset)
            directory = search_directory(self.settings, preset)
            where = f"search directory: {directory}" + (" (continues the search there)" if directory.exists() else "")
        except PresetError as exc:
            problem, preset = str(exc), None
        self.query_one("#search-problem", Static).update(problem)
        self.query_one("#search-where", Static).update(where)
        return preset

    @on(Select.Changed, "#search-preset")
    def _preset_changed(self, event: Select.Changed) -> None:
        preset = self.presets[self._chosen("#search-preset")]
        self.query_one("#search-algorithm", Select).value = preset["search"]["algorithm"]
        self.query_one("#search-trials", Input).value = str(preset["search"]["max_trials"])
        self.query_one("#search-epochs", Input).value = str(epochs_per_trial(preset))

    @on(Select.Changed, "#search-algorithm")
    def _algorithm_changed(self, event: Select.Changed) -> None:
        """Epochs left as the preset has them follow the algorithm's key (Hyperband's and BOHB's is their most)."""
        preset = self.presets[self._chosen("#search-preset")]
        epochs = self.query_one("#search-epochs", Input)
        if epochs.value in (str(preset["train"]["epochs"]), str(preset["search"]["max_epochs"])):
            epochs.value = str(epochs_per_trial(preset, self._chosen("#search-algorithm")))

    @on(Select.Changed)
    @on(Input.Changed)
    def _changed(self) -> None:
        self._check()

    @on(Input.Submitted)
    def action_start(self) -> None:
        if not self.presets:
            return
        preset = self._check()
        if preset is not None:
            self.dismiss(NewSearch(preset, self._overrides()))

    def action_cancel(self) -> None:
        self.dismiss(None)


class OpenSearchDialog(ModalScreen[Path | None]):
    """Returns the chosen search directory or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, runs_dir: Path) -> None:
        super().__init__()
        self.runs_dir = runs_dir

    def compose(self) -> ComposeResult:
        found = searches(self.runs_dir)
        with Vertical(id="open-dialog", classes="dialog"):
            yield Label(f"Open a search in {self.runs_dir}", classes="dialog-title")
            if found:
                yield OptionList(*(Option(path.name, id=str(path)) for path in found), id="search-list")
            else:
                yield Static("No searches there yet: n starts one.")
            yield Label("enter opens · escape cancels", classes="dialog-hint")

    @on(OptionList.OptionSelected)
    def _opened(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Path(event.option.id or ""))

    def action_cancel(self) -> None:
        self.dismiss(None)
