"""LiveRun (state rebuilt from training events) and the listener that throttles what reaches the UI."""

from __future__ import annotations

from kerashp.events import BatchEnded, EpochEnded, EpochStarted, Progress, RunFailed, RunFinished, RunStarted
from kerashp.status import RunStatus
from tui.services.live import EventForwarder, LiveRun, duration, outcome


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_forwarder_drops_batches_faster_than_its_interval_but_never_the_last_or_an_epoch():
    clock, posted = Clock(), []
    forward = EventForwarder(posted.append, min_interval=0.1, clock=clock)
    for step in range(1, 51):  # 50 batch events within 49 ms
        forward(BatchEnded(1, step, 50, 1.0, 0.5))
        clock.now += 0.001
    forward(EpochEnded(1, 2, {"loss": 1.0}))
    clock.now += 0.2
    forward(Progress("reading train", 10, 100))
    forward(Progress("reading train", 20, 100))
    forward(Progress("reading train", 100, 100))
    kinds = [(type(e).__name__, getattr(e, "step", getattr(e, "done", None))) for e in posted]
    assert kinds == [("BatchEnded", 1), ("BatchEnded", 50), ("EpochEnded", None), ("Progress", 10), ("Progress", 100)]
    assert not forward.ended
    forward(RunFinished("completed", "runs/x", {}))
    assert forward.ended


def test_live_run_follows_a_run_and_estimates_time_left():
    clock = Clock()
    live = LiveRun("lenet5", 3, {"val_accuracy": 0.6}, clock=clock)
    live.apply(Progress("reading train", 5, 10))
    assert (live.status, live.activity, live.progress) == ("starting", "reading train", (5, 10))
    live.apply(RunStarted("runs/lenet5-1", "lenet5", 3, 0, 10, "cpu", 62006))
    assert (live.status, live.activity, live.parameters) == ("running", "", 62006)
    live.apply(EpochStarted(1, 3, 10))
    clock.now += 4.0
    live.apply(BatchEnded(1, 4, 10, 1.9, 0.3))
    assert live.epoch_eta() == 6.0  # 1 s a step, 6 steps left
    assert live.run_eta() == 6.0 + 2 * 10.0  # and two more epochs of 10 steps
    live.apply(EpochEnded(1, 3, {"epoch": 1, "loss": 1.8, "val_accuracy": 0.4, "epoch_time": 8.0}, best=True))
    assert live.rows == [{"epoch": 1, "loss": 1.8, "val_accuracy": 0.4, "epoch_time": 8.0}] and live.best_epoch == 1
    live.apply(EpochStarted(2, 3, 10))
    clock.now += 1.0
    live.apply(BatchEnded(2, 1, 10, 1.7, 0.4))
    assert live.run_eta() == 9.0 + 1 * 8.0  # later epochs take the measured epoch time


def test_time_paused_does_not_slow_the_estimate():
    clock = Clock()
    live = LiveRun("lenet5", 2, {}, clock=clock)
    live.apply(RunStarted("runs/x", "lenet5", 2, 0, 10, "cpu", 10))
    live.apply(EpochStarted(1, 2, 10))
    clock.now += 2.0
    live.apply(BatchEnded(1, 2, 10, 1.9, 0.3))
    live.toggle_pause()
    clock.now += 60.0
    assert live.epoch_eta() == 8.0  # while paused: 1 s a step still
    live.toggle_pause()
    clock.now += 2.0
    live.apply(BatchEnded(1, 4, 10, 1.8, 0.3))
    assert live.epoch_eta() == 6.0 and live.run_eta() == 6.0 + 10.0
    live.apply(EpochStarted(2, 2, 10))  # a new epoch forgets the last one's pause
    clock.now += 3.0
    live.apply(BatchEnded(2, 3, 10, 1.7, 0.4))
    assert live.epoch_eta() == 7.0


def test_pause_resume_and_stop_go_through_the_run_control():
    live = LiveRun("lenet5", 2, {})
    live.apply(RunStarted("runs/x", "lenet5", 2, 0, 5, "cpu", 10))
    live.toggle_pause()
    assert live.status == "paused" and live.control.paused
    live.toggle_pause()
    assert live.status == "running" and not live.control.paused
    live.toggle_pause()
    live.stop()
    assert live.status == "stopping" and live.control.stopped and not live.control.paused  # a paused run wakes to stop
    live.apply(RunFinished("stopped", "runs/x", {"epochs_done": 1}))
    assert live.ended and live.message == "stopped after epoch 1; resume with  kerashp train --resume runs/x"


def test_failures_and_divergence_read_as_messages():
    live = LiveRun("lenet5", 2, {})
    live.apply(RunFailed("runs/x", "DataError: folder:/nope: no such directory"))
    assert live.status == "failed" and live.message == "run failed: DataError: folder:/nope: no such directory"
    assert outcome(RunStatus.DIVERGED, {"diverged_at_epoch": 3}, "runs/x").startswith("diverged: loss became NaN/inf at epoch 3")
    assert outcome(RunStatus.COMPLETED, {"epochs_done": 2, "test": {"accuracy": 0.5}, "best_epoch": 2}, "runs/x") == (
        "completed 2 epochs; test accuracy 0.5000 (best epoch 2)"
    )
    assert [duration(s) for s in (None, 5, 65, 3725)] == ["--:--", "0:05", "1:05", "1:02:05"]
