"""The search screen: start a real 2-trial KerasTuner search (`kerashp tune` in a subprocess) from a
preset, watch its trials appear, then open the finished search again from the runs directory."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input
from tui_helpers import drive, shown, wait_for

from tui.app import KerashpApp
from tui.screens.search import SearchScreen
from tui.services.settings import Settings
from tui.theme import DARK
from tui.widgets.chart import LineChart

pytestmark = pytest.mark.e2e


def test_start_a_two_trial_search_and_see_both_rows(tiny_settings):
    settings = Settings(tiny_settings.runs_dir, tiny_settings.overrides, "lenet5")
    app = KerashpApp(settings, theme=DARK)

    async def scenario(pilot):
        await pilot.press("4", "n")
        dialog = app.screen
        dialog.query_one("#search-trials", Input).value = "2"
        dialog.query_one("#search-epochs", Input).value = "1"
        await pilot.press("ctrl+r")
        screen = app.screen
        assert isinstance(screen, SearchScreen)
        table = screen.query_one(DataTable)

        def both_completed() -> bool:  # the screen re-reads the search once more after it ends
            return table.row_count == 2 and all(table.get_row_at(i)[2] == "completed" for i in range(2))

        await wait_for(pilot, lambda: not app.search.running, what="the search to finish")
        await wait_for(pilot, both_completed, timeout=5, what="both trials completed")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        best = shown(screen.query_one("#search-best"))
        points = screen.query_one("#accuracy-chart", LineChart).point_count
        await pilot.press("o", "enter")  # open it again from the runs directory
        return app.search.status, app.search.error, rows, best, points, screen.directory

    status, error, rows, best, points, directory = drive(app, scenario, size=(120, 40))
    assert status == "finished", error
    assert [row[1] for row in rows] == ["0", "1"]
    assert sum(row[0] == "★" for row in rows) == 1
    assert best.startswith("best so far: trial ") and "optimizer.learning_rate=" in best
    assert points == 1  # the highlighted trial's one epoch
    assert directory == tiny_settings.runs_dir / "lenet5_search-random"
    assert (directory / "trials.csv").read_text().count("\n") == 3
