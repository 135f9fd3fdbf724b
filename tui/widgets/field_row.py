"""`FieldRow`: one editable preset key: change mark, name, editor, help, and the CLI's message when invalid.

The row tells its screen what happened to it with its own messages (`FieldRow.Changed` for an edit,
`FieldRow.Focused` when its editor takes focus), so the screen never has to work out which row an
editor belongs to; the screen answers by calling `mark`.
"""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Select, Static

from kerashp.text import toml_value
from tui.services.tweak_fields import TweakField

CHANGED_MARK = "●"


def _prompt(value: object) -> str:
    return toml_value(value) if isinstance(value, bool) else str(value)


class FieldInput(Input):
    """An Input that takes keys in the order they were typed, however fast they come.

    Textual inserts a typed character as soon as the field gets it, but runs a key's binding
    (ctrl+k, backspace, tab, ctrl+r) only after the key has bubbled up to the app; and every key
    of a burst is sent to the field focused when the app read it. So on a busy machine
    `ctrl+k 0.05` left the field empty (the characters overtook ctrl+k) and keys typed after tab
    landed in the field tab left. Here a binding runs when its key arrives, and a key arriving
    after focus moved on goes back to the app, which sends it where focus is now.
    """

    async def _on_key(self, event: events.Key) -> None:
        if self.app.focused is not self:
            event.stop()
            event.prevent_default()
            self.app.post_message(events.Key(event.key, event.character))
            return
        if event.is_printable:
            return  # Input inserts it
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled and not active.binding.priority:
            event.stop()
            event.prevent_default()
            await self.app.run_action(active.binding.action, active.node)


class FieldRow(Vertical):
    class Changed(Message):
        """The row's text was edited (once per new text: an editor reporting its first value is no edit)."""

        def __init__(self, row: FieldRow) -> None:
            super().__init__()
            self.row = row  # its key and new text: row.spec.key, row.text

        @property
        def control(self) -> FieldRow:
            return self.row

    class Focused(Message):
        """The row's editor took focus."""

        def __init__(self, row: FieldRow) -> None:
            super().__init__()
            self.row = row

        @property
        def control(self) -> FieldRow:
            return self.row

    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow > .field-line { height: 1; }
    FieldRow .field-label { width: 32; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    FieldRow.-changed .field-label { color: $warning; text-style: bold; }
    FieldRow .field-editor { width: 20; }
    FieldRow.-wide .field-editor { width: 1fr; }
    FieldRow.-wide .field-doc { display: none; }
    FieldRow .field-doc { width: 1fr; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; padding-left: 1; }
    FieldRow > .field-message { display: none; color: $error; padding-left: 2; }
    FieldRow.-invalid > .field-message { display: block; }
    FieldRow.-invalid .field-editor { background: $error 20%; }
    """

    def __init__(self, spec: TweakField, value: object):
        super().__init__(classes="-wide" if spec.wide else None)
        self.spec = spec
        self.value = value
        self._marked = (False, "")
        self._seen_text = spec.text(value)
        self.editor = self._editor()

    def _editor(self) -> Input | Select[Any]:
        if self.spec.choices is not None:
            options = [(_prompt(choice), choice) for choice in self.spec.choices]
            return Select(options, value=self.value, allow_blank=False, compact=True, classes="field-editor")
        return FieldInput(self.spec.text(self.value), compact=True, classes="field-editor", select_on_focus=False)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(f"  {self.spec.label}", classes="field-label")
            yield self.editor
            yield Label(self.spec.field.doc, classes="field-doc")
        yield Static("", classes="field-message", markup=False)

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self, event: Input.Changed | Select.Changed) -> None:
        event.stop()  # the row speaks for its editor
        if self._take_edit():
            self.post_message(self.Changed(self))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.post_message(self.Focused(self))

    def _take_edit(self) -> bool:
        """Whether the text changed since last asked (mounting an editor reports its first value too)."""
        text = self.text
        if text == self._seen_text:
            return False
        self._seen_text = text
        return True

    @property
    def text(self) -> str:
        """The edited value as `--set` text."""
        editor = self.editor
        return editor.value if isinstance(editor, Input) else toml_value(editor.value)

    @property
    def current(self) -> object:
        """The picked value (choices only); decides which other fields matter."""
        editor = self.editor
        return editor.value if isinstance(editor, Select) else None

    def mark(self, changed: bool, problem: str) -> None:
        """Show whether the value differs from the preset's, and the CLI's message when it is invalid."""
        if (changed, problem) == self._marked:
            return
        self._marked = (changed, problem)
        self.set_class(changed, "-changed")
        self.set_class(bool(problem), "-invalid")
        self.query_one(".field-label", Label).update(f"{CHANGED_MARK if changed else ' '} {self.spec.label}")
        self.query_one(".field-message", Static).update(f"✗ {problem}" if problem else "")
