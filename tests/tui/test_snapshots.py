"""SVG snapshots of the main screens at 80x24 and 160x48 (pytest-textual-snapshot).

Everything on screen is fixed: a preset of this folder, run and search directories written with
the engine's file API and fixed numbers, a live run fed fixed events with a fixed clock, relative
paths, the dark theme (and the light one for two screens). Regenerate after a deliberate change with
`pytest tests/tui/test_snapshots.py --snapshot-update` and look at the SVGs before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input
from tui_helpers import history, wait_for, write_run

from kerashp.config import load_preset
from kerashp.events import BatchEnded, EpochEnded, EpochStarted, RunStarted
from kerashp.search.directory import SearchDir
from kerashp.search.records import TrialRecord
from tui.app import KerashpApp
from tui.screens.tweak import TweakScreen
from tui.services import run_follower
from tui.services.live import LiveRun
from tui.services.settings import Settings
from tui.theme import DARK, LIGHT

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((160, 48), id="160x48")]
PRESETS = Path(__file__).parent / "presets"
NAME = "snapshot_demo"


@pytest.fixture
def workspace(tmp_path, monkeypatch) -> Settings:
    """A working directory holding fixed runs and a fixed search, and the fixture preset on the path."""
    monkeypatch.setenv("KERASHP_PRESET_PATH", str(PRESETS))
    monkeypatch.chdir(tmp_path)
    preset = load_preset(NAME)
    runs = Path("runs")
    write_run(runs, f"{NAME}-20250101-090000", preset, history(10), epochs=10)
    write_run(runs, f"{NAME}-20250102-090000", preset, history(6, scale=1.15), epochs=10)
    write_run(runs, f"{NAME}-20250103-090000", preset, history(3, scale=1.3), status="stopped", epochs=10)
    search = SearchDir.prepare(runs / f"{NAME}-random", preset)
    trials = [(0.012, 128, 1.0, "completed"), (0.0031, 64, 1.2, "completed"), (0.07, 64, 1.1, "running")]
    for trial, (rate, batch, scale, status) in enumerate(trials):
        rows = history(4 if status == "completed" else 2, scale)
        record = TrialRecord(str(trial), status, {"optimizer.learning_rate": rate, "train.batch_size": batch}, worker="tuner0")
        if status == "completed":
            record.epochs, record.time_s = 4, 50.0
            record.curve = [row["val_accuracy"] for row in rows]
            record.objective, record.best_epoch = max(record.curve), record.curve.index(max(record.curve)) + 1
        search.write_record(record)
        run = write_run(search.trial_dir(str(trial)), f"{NAME}-2025010{trial + 4}-090000", preset, rows, epochs=4)
        if status == "running":
            log_events(run, rows)
    monkeypatch.setattr(run_follower, "CLOCK", lambda: 1000.0 + 2 * 12.5 + 8.0)
    return Settings(runs, preset=NAME)


def log_events(run, rows: list[dict]) -> None:
    """The running trial's events log: its epochs so far, then 20 of 50 batches of the next, 8 s in."""
    def log(event, when: float) -> None:
        run.append_event(event.to_json() | {"time": when})

    log(RunStarted(str(run.path), NAME, 4, 0, 50, "cpu (2 threads)", 62684), 990.0)
    for row in rows:
        log(EpochStarted(row["epoch"], 4, 50), 1000.0 + 12.5 * (row["epoch"] - 1))
        log(EpochEnded(row["epoch"], 4, row), 1000.0 + 12.5 * row["epoch"])
    log(EpochStarted(len(rows) + 1, 4, 50), 1000.0 + 12.5 * len(rows))
    log(BatchEnded(len(rows) + 1, 20, 50, 0.9123, 0.6789), 1000.0 + 12.5 * len(rows) + 8.0)


def app_for(settings: Settings, theme: str = DARK) -> KerashpApp:
    return KerashpApp(settings, theme=theme)


async def settle(pilot) -> None:
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False  # a blinking cursor would make the picture depend on timing
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES)
def test_presets(snap_compare, workspace, size):
    async def run_before(pilot):
        await pilot.press("slash", *"snapshot", "enter")
        await wait_for(pilot, lambda: NAME in pilot.app.screen.summaries, what="the model summary")
        await settle(pilot)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_tweak_with_a_change_and_an_invalid_value(snap_compare, workspace, size):
    async def run_before(pilot):
        await pilot.press("enter")
        rows = {row.spec.key: row for row in pilot.app.screen.query("FieldRow")}
        rows["optimizer.learning_rate"].editor.value = "-1"
        rows["optimizer.momentum"].editor.value = "0.95"
        rows["optimizer.name"].editor.focus()
        await settle(pilot)
        assert isinstance(pilot.app.screen, TweakScreen)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


def live_run() -> LiveRun:
    """Four epochs done, the fifth 20 of 50 batches in after 5 s (its clock reads 0 until then)."""
    readings = iter([0.0] * 5)  # one per EpochStarted
    live = LiveRun(NAME, 10, {"val_accuracy": 0.62, "test_accuracy": 0.6}, clock=lambda: next(readings, 5.0))
    live.apply(RunStarted(f"runs/{NAME}-20250104-090000", NAME, 10, 0, 50, "cpu (2 threads)", 62684))
    for row in history(10)[:4]:
        live.apply(EpochStarted(row["epoch"], 10, 50))
        live.apply(EpochEnded(row["epoch"], 10, row, best=row["epoch"] == 4))
    live.apply(EpochStarted(5, 10, 50))
    live.apply(BatchEnded(5, 20, 50, 0.9123, 0.6789))
    return live


@pytest.mark.parametrize("size", SIZES)
def test_training_dashboard(snap_compare, workspace, size):
    async def run_before(pilot):
        pilot.app.live = live_run()
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_runs(snap_compare, workspace, size):
    async def run_before(pilot):
        await pilot.press("3", "down", "space")
        await settle(pilot)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_compare_runs(snap_compare, workspace, size):
    async def run_before(pilot):
        await pilot.press("3", "space", "down", "space", "c")
        await settle(pilot)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_search(snap_compare, workspace, size):
    async def run_before(pilot):
        await pilot.press("4")
        pilot.app.screen.show(Path("runs") / f"{NAME}-random")
        await settle(pilot)

    assert snap_compare(app_for(workspace), terminal_size=size, run_before=run_before)


def test_presets_light(snap_compare, workspace):
    async def run_before(pilot):
        await wait_for(pilot, lambda: NAME in pilot.app.screen.summaries, what="the model summary")
        await settle(pilot)

    assert snap_compare(app_for(workspace, LIGHT), terminal_size=(80, 24), run_before=run_before)


def test_training_dashboard_light(snap_compare, workspace):
    async def run_before(pilot):
        pilot.app.live = live_run()
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(app_for(workspace, LIGHT), terminal_size=(80, 24), run_before=run_before)
