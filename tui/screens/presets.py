"""Presets: a filterable list; the highlighted preset's details, its model summary and settings.

Loading a preset is instant (no Keras); summarising its model builds it, so that happens in the
summary helper process, after the highlight has rested a moment, and is cached per preset.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Header, Input, OptionList
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from kerashp.config import Preset, available_presets
from kerashp.errors import PresetError
from tui.requests import TrainPreset
from tui.screens.tweak import TweakScreen
from tui.services.model_summary import HELPER
from tui.services.settings import Settings
from tui.widgets.key_footer import KeyFooter
from tui.widgets.preset_details import PresetDetails

SUMMARY_DELAY = 0.3  # seconds the highlight rests before the model is built


def matches(preset_name: str, text: str, words: str) -> bool:
    """Every word of the filter appears in the name or in `text` (study, model, description)."""
    haystack = f"{preset_name} {text}".lower()
    return all(word in haystack for word in words.lower().split())


class PresetList(OptionList):
    """The preset names; enter opens the highlighted one in the editor."""

    BINDINGS = [Binding("enter", "select", "tweak")]


class PresetsScreen(Screen):
    SUB_TITLE = "presets"
    BINDINGS = [
        Binding("slash", "focus_filter", "filter"),
        Binding("t", "train", "train"),
        Binding("escape", "clear_filter", "clear"),
    ]

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings
        self.presets: dict[str, Preset | str] = {}  # name -> preset, or the error loading it
        self.summaries: dict[str, str] = {}
        self._summary_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Vertical(id="preset-picker"):
                yield Input(placeholder="filter (/)", id="preset-filter", compact=True)
                yield PresetList(id="preset-list")
            yield PresetDetails(id="preset-details")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.load_presets()
        self.query_one(OptionList).focus()

    def on_screen_resume(self) -> None:
        self.load_presets()

    # ------------------------------------------------------------------ the list
    def load_presets(self) -> None:
        self.presets = {}
        for name in available_presets():
            try:
                self.presets[name] = self.settings.load(name)
            except PresetError as exc:
                self.presets[name] = str(exc)
        self.fill_list()

    def fill_list(self) -> None:
        words = self.query_one("#preset-filter", Input).value
        options = self.query_one(OptionList)
        current = self.highlighted_name() or self.settings.preset
        shown = [name for name, preset in self.presets.items() if matches(name, _searchable(preset), words)]
        options.clear_options()
        options.add_options([Option(name, id=name) for name in shown])
        if shown:
            options.highlighted = shown.index(current) if current in shown else 0
        else:
            self.query_one(PresetDetails).show_error("no match", f"no preset matches {words!r}")

    def highlighted_name(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or options.option_count == 0:
            return None
        return options.get_option_at_index(options.highlighted).id

    @on(Input.Changed, "#preset-filter")
    def _filter_changed(self) -> None:
        self.fill_list()
        self.refresh_bindings()

    @on(Input.Submitted, "#preset-filter")
    def _filter_submitted(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id is not None:
            self.show_details(event.option.id)

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_tweak()

    # ------------------------------------------------------------------ details and model summary
    def show_details(self, name: str) -> None:
        details = self.query_one(PresetDetails)
        preset = self.presets[name]
        if isinstance(preset, str):
            details.show_error(name, preset)
            return
        details.show(preset, self.settings.overrides)
        if name in self.summaries:
            details.show_model(self.summaries[name])
            return
        if self._summary_timer is not None:
            self._summary_timer.stop()
        self._summary_timer = self.set_timer(SUMMARY_DELAY, lambda: self.summarize(name, preset))

    @work(thread=True, group="model-summary", exclusive=True, exit_on_error=False)
    def summarize(self, name: str, preset: Preset) -> None:
        worker = get_current_worker()
        summary = HELPER.describe(preset, wanted=lambda: not worker.is_cancelled)  # waits on the helper process
        if summary is not None:
            self.app.call_from_thread(self._summary_ready, name, summary)

    def _summary_ready(self, name: str, summary: str) -> None:
        self.summaries[name] = summary
        if self.highlighted_name() == name:
            self.query_one(PresetDetails).show_model(summary)

    # ------------------------------------------------------------------ actions
    def _chosen(self) -> Preset | None:
        name = self.highlighted_name()
        preset = self.presets.get(name) if name else None
        if isinstance(preset, str):
            self.notify(preset, severity="error")
            return None
        return preset

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":  # shown only when there is a filter to clear or leave
            field = self.query_one("#preset-filter", Input)
            return bool(field.value) or field.has_focus
        return True

    def action_focus_filter(self) -> None:
        self.query_one("#preset-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#preset-filter", Input).value = ""
        self.query_one(OptionList).focus()

    def action_tweak(self) -> None:
        preset = self._chosen()
        if preset is not None:
            self.app.push_screen(TweakScreen(preset.name, self.settings))

    def action_train(self) -> None:
        preset = self._chosen()
        if preset is not None:
            self.post_message(TrainPreset(preset))


def _searchable(preset: Preset | str) -> str:
    if isinstance(preset, str):
        return ""
    return f"{preset['study']} {preset['model']['name']} {preset['data']['source']} {preset['description']}"
