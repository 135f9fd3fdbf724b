"""The "save as a new preset" dialog: asks for a name, says at once why a name will not do."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from tui.services.preset_files import check_name, user_preset_dir


class SavePresetDialog(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def compose(self) -> ComposeResult:
        with Vertical(id="save-dialog", classes="dialog"):
            yield Label("Save as a new preset", classes="dialog-title")
            yield Static(
                f'extends "{self.base}" with the changed keys; written to {user_preset_dir()}/NAME.toml', markup=False
            )
            yield Input(placeholder="name, e.g. lenet5_lr05", id="save-name")
            yield Static("", id="save-problem", markup=False)
            yield Label("enter saves · escape cancels", classes="dialog-hint")

    @on(Input.Changed, "#save-name")
    def _changed(self, event: Input.Changed) -> None:
        self.query_one("#save-problem", Static).update(check_name(event.value) if event.value else "")

    @on(Input.Submitted, "#save-name")
    def _submitted(self, event: Input.Submitted) -> None:
        problem = check_name(event.value)
        if problem:
            self.query_one("#save-problem", Static).update(problem)
        else:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
