"""Keys that arrive in a burst (a loaded machine, a script typing) land where they were typed, in order."""

from __future__ import annotations

import pytest
from tui_helpers import burst, drive

from tui.app import KerashpApp
from tui.screens.tweak import TweakScreen
from tui.services.settings import Settings
from tui.widgets.field_row import FieldRow


def rows(screen: TweakScreen) -> dict[str, FieldRow]:
    return {row.spec.key: row for row in screen.query(FieldRow)}


@pytest.mark.parametrize(
    "keys, learning_rate, momentum",
    [
        (("ctrl+a", "ctrl+k", *"0.05"), "0.05", "0.9"),  # the characters used to overtake ctrl+k: an empty field
        (("end", "backspace", "5"), "0.05", "0.9"),
        (("end", "backspace", "5", "tab", "ctrl+a", "ctrl+k", "8"), "0.05", "8"),  # after tab, in the next field
    ],
)
def test_a_burst_of_keys_edits_the_tweak_fields_as_typed(keys, learning_rate, momentum):
    app = KerashpApp(Settings(preset="lenet5"))

    async def scenario(pilot):
        await pilot.press("enter")
        fields = rows(app.screen)
        fields["optimizer.learning_rate"].editor.focus()
        await pilot.pause()
        burst(app, *keys)
        await pilot.pause(0.5)
        await pilot.pause()
        return {key: (row.text, row.has_class("-invalid")) for key, row in fields.items()}

    shown = drive(app, scenario)
    assert shown["optimizer.learning_rate"] == (learning_rate, False)
    assert shown["optimizer.momentum"] == (momentum, False)

