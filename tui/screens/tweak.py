"""Tweak: edit the hyperparameters that matter, checked as the CLI checks `--set`, then train or save.

Changed keys are marked; settings the chosen optimizer or schedule does not read are hidden.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from kerashp.errors import UserError
from kerashp.text import plural
from tui.dialogs.save_preset import SavePresetDialog
from tui.requests import TrainPreset
from tui.services.preset_files import save_variant
from tui.services.settings import Settings
from tui.services.tweak_fields import check_edits, differs, overrides_for, relevant, tweak_fields
from tui.widgets.field_row import CHANGED_MARK, FieldRow
from tui.widgets.key_footer import KeyFooter


class TweakScreen(Screen):
    SUB_TITLE = "tweak"
    AUTO_FOCUS = ".field-editor"  # focused as the screen starts, so keys typed at once land in the first field
    BINDINGS = [
        Binding("ctrl+r", "launch", "train"),
        Binding("ctrl+s", "save", "save as"),
        Binding("escape", "back", "back"),
    ]

    def __init__(self, preset_name: str, settings: Settings):
        super().__init__()
        self.preset_name = preset_name
        self.settings = settings
        self.problems: dict[str, str] = {}
        self.together = ""
        self.rows: list[FieldRow] = []

    def compose(self) -> ComposeResult:
        self.base = self.settings.load(self.preset_name)
        yield Header()
        yield Static(id="tweak-summary")
        with VerticalScroll(id="tweak-form"):
            section = None
            for spec in tweak_fields(self.base):
                if spec.section != section:
                    section = spec.section
                    yield Static(section, classes="tweak-section")
                yield FieldRow(spec, self.base.get_path(spec.key))
        yield Static(id="tweak-help", markup=False)
        yield KeyFooter()

    def on_mount(self) -> None:
        self.rows = list(self.query(FieldRow))
        self.revalidate()

    @on(FieldRow.Changed)
    def _edited(self) -> None:
        self.revalidate()

    @on(FieldRow.Focused)
    def _focused(self, event: FieldRow.Focused) -> None:
        """Spell out the focused key: its --set name, what it does and what it accepts."""
        spec = event.row.spec
        self.query_one("#tweak-help", Static).update(f"{spec.key}: {spec.field.doc}; allowed: {spec.field.allowed()}")

    def edits(self) -> dict[str, str]:
        """key -> text of every field whose value differs from the preset's."""
        return {row.spec.key: row.text for row in self.rows if differs(self.base, row.spec.key, row.text)}

    def revalidate(self) -> None:
        edits = self.edits()
        self.problems, self.together = check_edits(self.settings, self.preset_name, edits)
        choices = {row.spec.key: row.current for row in self.rows if row.current is not None}
        for row in self.rows:
            row.mark(row.spec.key in edits, self.problems.get(row.spec.key, ""))
            row.display = relevant(row.spec.key, choices) or row.spec.key in edits
        self._summarize(len(edits))

    def _summarize(self, changes: int) -> None:
        line = Text()
        line.append(f"Tweak {self.preset_name}", style="bold")
        line.append(f" · {plural(changes, 'change')} marked {CHANGED_MARK}" if changes else " · no changes yet")
        if self.problems:
            line.append(f" · ✗ {len(self.problems)} invalid", style="bold")
        elif self.together:
            line.append(f" · ✗ {self.together}", style="bold")
        summary = self.query_one("#tweak-summary", Static)
        summary.update(line)
        summary.set_class(bool(self.problems or self.together), "-invalid")

    def _valid(self) -> bool:
        if self.problems or self.together:
            self.notify(next(iter(self.problems.values()), self.together), title="fix this first", severity="error")
            return False
        return True

    # ------------------------------------------------------------------ actions
    def action_launch(self) -> None:
        if not self._valid():
            return
        preset = self.settings.load(self.preset_name, overrides_for(self.edits()))
        self.post_message(TrainPreset(preset, close=self))

    def action_save(self) -> None:
        if not self._valid():
            return
        if not self.edits():
            self.notify("nothing changed yet", severity="warning")
            return
        self.app.push_screen(SavePresetDialog(self.preset_name), self._save_as)

    def _save_as(self, name: str | None) -> None:
        if not name:
            return
        try:
            path = save_variant(self.preset_name, name, self.edits())
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"saved {path}; it is in the presets list as {name}", title="saved")
        self.preset_name, self.base = name, self.settings.load(name)
        self.revalidate()

    def action_back(self) -> None:
        self.app.pop_screen()
