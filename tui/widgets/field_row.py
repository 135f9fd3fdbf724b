"""`FieldRow`: one editable preset key: change mark, name, editor, help, and the CLI's message when invalid."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, Select, Static

from tui.tweak_fields import TweakField, as_text

CHANGED_MARK = "●"


def _prompt(value: object) -> str:
    return as_text(value) if isinstance(value, bool) else str(value)


class FieldRow(Vertical):
    DEFAULT_CSS = """
    FieldRow { height: auto; }
    FieldRow > .field-line { height: 1; }
    FieldRow .field-label { width: 32; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; }
    FieldRow.-changed .field-label { color: $warning; text-style: bold; }
    FieldRow .field-editor { width: 20; }
    FieldRow .field-doc { width: 1fr; color: $text-muted; text-wrap: nowrap; text-overflow: ellipsis; padding-left: 1; }
    FieldRow > .field-message { display: none; color: $error; padding-left: 2; }
    FieldRow.-invalid > .field-message { display: block; }
    FieldRow.-invalid .field-editor { background: $error 20%; }
    """

    def __init__(self, spec: TweakField, value: object):
        super().__init__()
        self.spec = spec
        self.value = value
        self._marked = (False, "")
        self._seen_text = as_text(value)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-line"):
            yield Label(f"  {self.spec.label}", classes="field-label")
            if self.spec.choices is not None:
                options = [(_prompt(choice), choice) for choice in self.spec.choices]
                yield Select(options, value=self.value, allow_blank=False, compact=True, classes="field-editor")
            else:
                yield Input(as_text(self.value), compact=True, classes="field-editor", select_on_focus=False)
            yield Label(self.spec.field.doc, classes="field-doc")
        yield Static("", classes="field-message", markup=False)

    def on_mount(self) -> None:
        self.editor: Input | Select = self.query_one(".field-editor")

    def take_edit(self) -> bool:
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
        return editor.value if isinstance(editor, Input) else as_text(editor.value)

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
