"""Following a run another process trains through its events.jsonl, and the search screen's wording."""

from __future__ import annotations

from kerashp.config import load_preset
from kerashp.events import BatchEnded, EpochEnded, EpochStarted, RunStarted
from kerashp.runs.folder import RunDir
from kerashp.search.labels import short_names
from tui.screens.search import planned_trials
from tui.services import run_follower
from tui.services.run_follower import RunFollower, decode
from tui.widgets.run_progress import progress_parts


def logged(run: RunDir, event, when: float) -> None:
    run.append_event(event.to_json() | {"time": when})


def test_follower_catches_up_with_the_log_and_times_the_epoch_from_its_events(tmp_path, monkeypatch):
    monkeypatch.setattr(run_follower, "CLOCK", lambda: 1010.0)
    run = RunDir(tmp_path)
    follower = RunFollower(tmp_path, "trial 2", 4)
    assert not follower.poll() and progress_parts(follower.live)[0] == "starting"  # nothing logged yet
    logged(run, RunStarted(str(tmp_path), "demo", 4, 0, 50, "cpu", 100), 990.0)
    logged(run, EpochStarted(1, 4, 50), 1000.0)
    logged(run, BatchEnded(1, 20, 50, 1.5, 0.4), 1010.0)
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write('{"event": "BatchEnded", "epo')  # a line still being written
    assert follower.poll()
    live = follower.live
    assert (live.epoch, live.step, live.steps) == (1, 20, 50)
    assert live.epoch_eta() == 15.0  # 10 s for 20 batches since the epoch started (by its own clock)
    what, fraction, detail = progress_parts(live)
    assert what == "epoch 1/4" and fraction == 0.4 and detail.startswith("20/50 · eta 0:15")
    with open(tmp_path / "events.jsonl", "a") as handle:
        handle.write('ch": 1, "step": 30, "steps": 50, "loss": 1.4, "accuracy": 0.5, "time": 1010.0}\n')
    logged(run, EpochEnded(1, 4, {"loss": 1.3, "epoch_time": 25.0}), 1025.0)
    assert follower.poll() and live.step == 30 and live.rows == [{"epoch": 1, "loss": 1.3, "epoch_time": 25.0}]
    assert not follower.poll()  # nothing new


def test_lines_that_are_not_events_are_skipped():
    assert decode({"event": "TrialStarted", "time": 1.0}) is None
    assert decode({"event": "BatchEnded", "step": 1}) is None  # fields missing
    event, when = decode(EpochStarted(2, 3, 10).to_json() | {"time": 5.0})
    assert event == EpochStarted(2, 3, 10) and when == 5.0


def test_trial_counts_and_column_headers():
    preset = load_preset("lenet5_search")
    assert planned_trials(preset, 1) == f" of {preset['search']['max_trials']}"
    assert planned_trials(preset, 99) == " of 99"
    preset["search"]["algorithm"] = "hyperband"
    assert planned_trials(preset, 3) == ""
    keys = ["optimizer.name", "optimizer.learning_rate", "train.batch_size"]
    assert short_names(keys) == {
        "optimizer.name": "optimizer.name",  # model, optimizer and schedule all have a name
        "optimizer.learning_rate": "learning_rate",
        "train.batch_size": "batch_size",
    }
