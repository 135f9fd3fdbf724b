"""The real app, driven by keys: tweak a preset, train it on tiny data, watch, stop, find the run."""

from __future__ import annotations

import json

from textual.widgets import DataTable
from tui_helpers import drive, wait_for

from kerashp.events import EpochEnded
from tui.app import KerashpApp
from tui.screens.runs import RunsScreen
from tui.screens.training import TrainingScreen
from tui.screens.tweak import TweakScreen
from tui.services.settings import Settings
from tui.widgets.chart import LineChart
from tui.widgets.field_row import FieldRow
from tui.widgets.run_progress import RunStatusLine, status_text

CHARTS = ("loss-chart", "accuracy-chart", "lr-chart")


def field(screen: TweakScreen, key: str) -> FieldRow:
    return next(row for row in screen.query(FieldRow) if row.spec.key == key)


def test_tweak_train_watch_and_find_the_run(tiny_settings):
    app = KerashpApp(tiny_settings)
    points_after_each_epoch = []

    async def scenario(pilot):
        await pilot.press("2")  # the dashboard exists before the run: note what each epoch shows
        dashboard = app.screen
        assert isinstance(dashboard, TrainingScreen)

        def note(event):
            if isinstance(event, EpochEnded):
                counts = [dashboard.query_one(f"#{c}", LineChart).point_count for c in CHARTS]
                points_after_each_epoch.append((event.epoch, counts))

        app.run_events.subscribe(dashboard, note)  # runs right after the dashboard has drawn the event
        await pilot.press("1", "slash", *"lenet5_aug", "enter", "enter")
        tweak = app.screen
        assert isinstance(tweak, TweakScreen)
        learning_rate = field(tweak, "optimizer.learning_rate")
        learning_rate.editor.focus()
        await pilot.press("ctrl+a", "ctrl+k", *"0.05")
        assert learning_rate.has_class("-changed")
        await pilot.press("ctrl+r")
        assert app.screen is dashboard
        await wait_for(pilot, lambda: app.live.ended, what="the run to finish")
        assert app.live.status == "completed", app.live.message
        assert len(dashboard.query_one("#epoch-table", DataTable).rows) == 2
        await pilot.press("3")
        assert isinstance(app.screen, RunsScreen)
        table = app.screen.query_one(DataTable)
        return {name: table.get_row(name) for name in app.screen.runs}, app.screen.runs

    rows, runs = drive(app, scenario, size=(100, 30))
    # every chart has a point per epoch drawn (under load a tiny run's next epoch may be drawn too)
    assert [epoch for epoch, _ in points_after_each_epoch] == [1, 2]
    assert all(len(set(counts)) == 1 and counts[0] >= epoch for epoch, counts in points_after_each_epoch)
    assert points_after_each_epoch[-1][1] == [2, 2, 2]
    ((name, row),) = rows.items()
    assert name.startswith("lenet5_aug-") and row[2] == "completed" and row[3] == "2/2"
    run = runs[name].path
    assert "learning_rate = 0.05" in (run / "preset.toml").read_text()
    assert json.loads((run / "summary.json").read_text())["epochs_done"] == 2


def test_pause_then_stop_ends_the_run_cleanly_at_its_last_finished_epoch(tiny_settings):
    # batch size 1 (40 steps an epoch) and 20 epochs, so the run is still going when paused
    app = KerashpApp(Settings(tiny_settings.runs_dir, (*tiny_settings.overrides, "train.batch_size=1", "train.epochs=20"), "lenet5"))

    async def scenario(pilot):
        await pilot.press("t")
        await wait_for(pilot, lambda: app.live.rows, what="epoch 1")
        await pilot.press("space")
        assert app.live.status == "paused" and app.live.control.paused
        assert app.screen.query_one(RunStatusLine).text.plain == "⏸ paused — space resumes, s stops"
        await pilot.press("s")
        await wait_for(pilot, lambda: app.live.ended, what="the run to stop")
        await pilot.press("3")
        return app.screen.query_one(DataTable).get_row_at(0)

    row = drive(app, scenario)
    assert app.live.status == "stopped" and len(app.live.rows) == 1
    assert app.live.run_dir and app.live.message.endswith(f"resume with  kerashp train --resume {app.live.run_dir}")
    assert row[2] == "stopped" and row[3] == "1/20"


def finish(settings: Settings) -> tuple[str, str]:
    """Train the highlighted preset to its end; (status, the dashboard's status line). Once it has
    ended, stop and pause are gone from the keys and the charts no longer wait for an epoch."""
    app = KerashpApp(settings)

    async def scenario(pilot):
        await pilot.press("t")
        def shown() -> str:
            return app.screen.query_one(RunStatusLine).text.plain

        def ended_on_screen() -> bool:  # the status line is redrawn after the run's last event
            return app.live.ended and shown() == status_text(app.live).plain

        await wait_for(pilot, ended_on_screen, what="the run's end on screen")
        assert not {"s", "space"} & set(app.screen.active_bindings)
        if not app.live.rows:
            assert app.screen.query_one("#loss-chart", LineChart).empty == f"run {app.live.status} before its first epoch"
        return app.live.status, shown()

    return drive(app, scenario)


def test_divergence_and_errors_end_as_messages_not_crashes(tiny_settings, tmp_path):
    exploding = ("optimizer.momentum=10.0", "optimizer.learning_rate=1.0", "model.batch_norm=false", "train.epochs=3")
    status, line = finish(Settings(tiny_settings.runs_dir, (*tiny_settings.overrides, *exploding), "lenet5"))
    assert status == "diverged" and line.startswith("diverged: loss became NaN/inf at epoch")
    status, line = finish(Settings(tmp_path / "runs", ("data.source=folder:/does/not/exist",), "lenet5"))
    assert status == "failed" and line == "run failed: DataError: folder:/does/not/exist: no such directory"
