"""`PresetDetails`: what a preset is: description, source study, reported figures, model, settings."""

from __future__ import annotations

import re

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from kerashp.config import Preset
from kerashp.text import printable, toml_key, toml_value

DESCRIBED_ELSEWHERE = ("name", "description", "study", "reference")
FACT_LABEL_WIDTH = 9
BREAK_AFTER = re.compile(r"[^/=:,.]*[/=:,.]|[^/=:,.]+$")  # pieces of a value ending where a line may break


def _figure(key: str, value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and key == "parameters":
        return f"{key} {value:,}"
    return f"{key} {value}"


def reference_text(reference: dict) -> Text:
    if not reference:
        return Text("no reported figures", style="italic")
    return Text(" · ".join(_figure(k, v) for k, v in reference.items()))


def inline(value: object) -> str:
    """TOML on one printable line (inline tables and arrays), so each key stays on its own line."""
    return printable(toml_value(value))


def settings_text(preset: Preset) -> Text:
    """The resolved preset as TOML, one line per key, table headers in bold."""
    text = Text()
    for key, value in preset.items():
        if key in DESCRIBED_ELSEWHERE:
            continue
        if isinstance(value, dict):
            text.append(f"\n[{key}]\n", style="bold")
            for name, item in value.items():
                text.append(f"{printable(toml_key(name))} = {inline(item)}\n")
        else:
            text.append(f"{printable(toml_key(key))} = {inline(value)}\n")
    return text


def wrapped(value: str, width: int) -> list[str]:
    """`value` in lines of at most `width`, broken after `/ = : , .` (so a path splits between its
    folders, not inside a name); a piece longer than a line is cut where it must."""
    lines = [""]
    for piece in BREAK_AFTER.findall(value):
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
        while width > 0 and len(lines[-1]) > width:
            lines[-1:] = [lines[-1][:width], lines[-1][width:]]
    return lines


def overrides_text(overrides: tuple[str, ...], width: int) -> Text:
    """One override a line, each wrapped to `width` (0: not yet laid out, left to fold)."""
    lines = [line for override in overrides for line in (wrapped(override, width) if width > 0 else [override])]
    return Text("\n".join(lines))


def _facts(rows: list[tuple[str, Text]]) -> Table:
    """Label / value lines whose values wrap under themselves, not under the labels."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", width=FACT_LABEL_WIDTH, no_wrap=True)
    table.add_column(ratio=1, overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    return table


class PresetDetails(VerticalScroll):
    """Filled by `show` (a loaded preset) or `show_error`; `show_model` adds the model summary later."""

    _shown: tuple[Preset, tuple[str, ...]] | None = None  # what `show` was given, redrawn on resize

    def compose(self) -> ComposeResult:
        yield Static(id="preset-headline")
        yield Static(id="preset-model")
        yield Static(id="preset-settings")

    def show(self, preset: Preset, overrides: tuple[str, ...]) -> None:
        self._shown = (preset, overrides)
        self._headline(preset, overrides)
        self.show_model(f"{preset['model']['name']}: summarising the model…")
        self.query_one("#preset-settings", Static).update(
            Group(Text("\nresolved settings", style="dim"), settings_text(preset))
        )
        self.scroll_home(animate=False)

    def _headline(self, preset: Preset, overrides: tuple[str, ...]) -> None:
        facts = [("study", Text(preset["study"] or "-")), ("reported", reference_text(preset["reference"]))]
        if overrides:
            width = self.scrollable_content_region.width - FACT_LABEL_WIDTH - 1
            facts.append(("overrides", overrides_text(overrides, width)))
        headline = Group(
            Text(preset.name, style="bold"),
            Text(preset["description"] or "no description"),
            Text(""),
            _facts(facts),
        )
        self.query_one("#preset-headline", Static).update(headline)

    def on_resize(self) -> None:
        if self._shown is not None and self._shown[1]:  # overrides are wrapped to the width
            self._headline(*self._shown)

    def show_model(self, summary: str) -> None:
        self.query_one("#preset-model", Static).update(_facts([("model", Text(summary))]))

    def show_error(self, name: str, error: str) -> None:
        self._shown = None
        self.query_one("#preset-headline", Static).update(Text(f"{name}\n\n{error}", style="bold"))
        self.query_one("#preset-model", Static).update("")
        self.query_one("#preset-settings", Static).update("")
