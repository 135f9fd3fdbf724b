"""The TUI's "Start a search" dialog sets epochs per trial as `kerashp tune --epochs` does
(kerashp.search.space.epochs_key): train.epochs, or for Hyperband search.max_epochs - the key that
decides how long its trials train. No search is started."""

from __future__ import annotations

from textual.widgets import Input, Select
from tui_helpers import drive

from tui.app import KerashpApp
from tui.dialogs.search import NewSearchDialog
from tui.services.settings import Settings
from tui.theme import DARK


def test_epochs_per_trial_is_hyperbands_most_epochs(tiny_settings):
    app = KerashpApp(Settings(tiny_settings.runs_dir, tiny_settings.overrides, "lenet5"), theme=DARK)

    async def scenario(pilot):
        await pilot.press("4", "n")
        dialog = app.screen
        assert isinstance(dialog, NewSearchDialog)
        dialog.query_one("#search-preset", Select).value = "lenet5_search"
        await pilot.pause()
        epochs = dialog.query_one("#search-epochs", Input)
        shown = [epochs.value]  # random: train.epochs (2 in these settings)
        dialog.query_one("#search-algorithm", Select).value = "hyperband"
        await pilot.pause()
        shown.append(epochs.value)  # left as the preset had it: follows to search.max_epochs
        epochs.value = "4"
        await pilot.pause()
        hyperband = dialog._check()  # the preset ctrl+r would start the search with
        dialog.query_one("#search-algorithm", Select).value = "random"
        await pilot.pause()
        random = dialog._check()  # a value the user typed stays
        return shown, hyperband, random

    shown, hyperband, random = drive(app, scenario, size=(120, 40))
    assert shown == ["2", "9"]
    assert hyperband["search"]["max_epochs"] == 4 and hyperband["train"]["epochs"] == 2
    assert random["train"]["epochs"] == 4 and random["search"]["max_epochs"] == 9
