"""SIGKILL a run at many points, then `kerashp train --resume RUN`: the run always finishes with
one history row per epoch, a clean run directory, loadable checkpoints and its test figures.

Kill points come from two sources: random ones (an event of the run's own event stream picked
at random, plus a random delay, so kills land inside epochs, in validation, around checkpoint
writes and in the test evaluation), and injected ones that stop the process at the exact
moments a random kill rarely hits (half-way through writing a checkpoint, between the history
and the commit record, between the commit and the best-checkpoint copy, inside the test
evaluation)."""

from __future__ import annotations

import csv
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main

pytestmark = pytest.mark.e2e

EPOCHS = 3
RANDOM_KILLS = 8
SEED = 20261125


def train_args(tiny_folder: Path, runs: Path) -> list[str]:
    # batch 4 and 8 validation images: 10 steps an epoch, so a run gives plenty of places to die in
    return [
        "train", "--preset", "lenet5", "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=4",
        "--set", "data.validation=8", "--set", "train.memory_layout=contiguous",  # one float path for every run
        "--epochs", str(EPOCHS), "--runs-dir", str(runs),
    ]


def before_commit(epoch: int) -> str:
    """A kill once `epoch`'s checkpoint and history row are written, before its commit record."""
    return f"""
real = runs.RunDir.write_state
def write_state(self, state):
    if state["epochs_done"] == {epoch}:
        die()
    real(self, state)
runs.RunDir.write_state = write_state
"""


INJECTED = {
    # a checkpoint half on disk: its temp file is truncated and the process dies before the rename
    "mid-checkpoint": """
real = recorder.atomic_save
def save(model, path):
    if path.name == "epoch-0002.keras":
        temp = path.with_name(f".{path.stem}.tmp.keras")
        model.save(temp)
        with open(temp, "r+b") as handle:
            handle.truncate(temp.stat().st_size // 2)
        die()
    real(model, path)
recorder.atomic_save = save
""",
    "before-commit": before_commit(2),
    # epoch 1 committed as the best so far, but best.keras not yet copied from it
    "before-best-copy": """
real = recorder.atomic_copy
def copy(source, target):
    if source.name == "epoch-0001.keras":
        die()
    real(source, target)
recorder.atomic_copy = copy
""",
    # the last epoch committed, the previous epoch's checkpoint not yet deleted
    "before-old-checkpoint-deleted": """
real = runs.RunDir.keep_only_checkpoint
def keep_only_checkpoint(self, epoch):
    if epoch == 3:
        die()
    real(self, epoch)
runs.RunDir.keep_only_checkpoint = keep_only_checkpoint
""",
    "in-test-evaluation": """
real = train._evaluate
def evaluate(model, feed, emit):
    emit(train.Progress("evaluating on test", 0, len(feed)))
    die()
train._evaluate = evaluate
""",
}

# kills inside the first epoch's commit, before any state.json exists
FIRST_COMMIT = {
    # the first checkpoint written, nothing else of the epoch
    "first-checkpoint-only": """
real = runs.RunDir.write_history
def write_history(self, rows):
    if len(rows) == 1:
        die()
    real(self, rows)
runs.RunDir.write_history = write_history
""",
    "before-first-commit": before_commit(1),
}

WRAPPER = """
import os, signal, sys
import kerashp.runs.folder as runs
import kerashp.training.run as train
import kerashp.training.recorder as recorder
def die():
    os.kill(os.getpid(), signal.SIGKILL)
{patch}
from kerashp.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_dir(runs: Path) -> Path | None:
    found = [p for p in runs.iterdir() if p.is_dir()] if runs.exists() else []
    return found[0] if found else None


def event_count(run: Path | None) -> int:
    try:
        return (run / "events.jsonl").read_bytes().count(b"\n")
    except (OSError, TypeError):
        return 0


def kill_after_event(args: list[str], runs: Path, event: int, delay: float) -> Path:
    """Start a run, SIGKILL it `delay` s after its `event`-th event; return its directory."""
    process = subprocess.Popen([sys.executable, "-m", "kerashp.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while event_count(run_dir(runs)) < event:
        assert process.poll() is None, f"the run ended before event {event}: {process.stderr.read().decode()}"
        assert time.time() < deadline, "the run stalled"
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return run_dir(runs)


def kill_by_injection(args: list[str], tmp_path: Path, runs: Path, point: str) -> Path:
    script = tmp_path / f"die_{point}.py"
    script.write_text(WRAPPER.format(patch={**INJECTED, **FIRST_COMMIT}[point]))
    result = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=240)
    assert result.returncode == -signal.SIGKILL, f"{point}: the process was not killed: {result.stderr}"
    return run_dir(runs)


def phase_at_kill(run: Path) -> str:
    """Where the run was when it died, from the last event it wrote."""
    lines = (run / "events.jsonl").read_text().splitlines() if (run / "events.jsonl").exists() else []
    last = {}
    for line in reversed(lines):
        try:
            last = json.loads(line)
            break
        except ValueError:
            continue
    event = last.get("event", "")
    if event == "Progress":
        return "test evaluation" if "test" in last.get("what", "") and "evaluat" in last.get("what", "") else "loading data"
    return {"EpochEnded": "at an epoch end", "RunStarted": "starting"}.get(event, "inside an epoch")


def metrics(run: Path) -> list[dict]:
    """history.csv without the timing column."""
    with open(run / "history.csv") as handle:
        return [{k: v for k, v in row.items() if k != "epoch_time"} for row in csv.DictReader(handle)]


def assert_resumes_whole(run: Path, capsys) -> None:
    """`kerashp train --resume` finishes the run; nothing is missing, repeated or half-written."""
    status = json.loads((run / "summary.json").read_text())["status"]
    assert status == "running"  # a killed run never looks finished (`kerashp runs` shows it as killed)
    assert kerashp_main(["train", "--resume", str(run)]) == 0, capsys.readouterr()
    with open(run / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == list(range(1, EPOCHS + 1))
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_done"] == EPOCHS and "accuracy" in summary["test"]
    assert json.loads((run / "state.json").read_text())["epochs_done"] == EPOCHS
    for line in (run / "events.jsonl").read_text().splitlines():
        json.loads(line)  # every line whole
    leftovers = [p.name for folder in (run, run / "checkpoints") for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == []
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.keras", f"epoch-{EPOCHS:04d}.keras"]
    from kerashp.training.checkpoints import load_checkpoint

    best = load_checkpoint(run / "checkpoints" / "best.keras")
    assert best.count_params() == summary["parameters"]


def test_a_run_killed_at_random_points_always_resumes_whole(tiny_folder, tmp_path, capsys, tally):
    reference = tmp_path / "reference"
    assert kerashp_main(train_args(tiny_folder, reference)) == 0
    events = event_count(run_dir(reference))
    picker = random.Random(SEED)
    for number in range(RANDOM_KILLS):
        runs = tmp_path / f"kill{number}"
        event, delay = picker.randrange(1, events - 1), picker.uniform(0, 0.15)
        run = kill_after_event(train_args(tiny_folder, runs), runs, event, delay)
        if json.loads((run / "summary.json").read_text())["status"] == "completed":
            continue  # the delay outlasted the run: not a kill point
        phase = phase_at_kill(run)
        assert_resumes_whole(run, capsys)
        assert metrics(run) == metrics(run_dir(reference)), "a resumed run continues as the unbroken one did"
        tally(f"kill points survived (random, {phase})")


@pytest.mark.parametrize("point", list(INJECTED))
def test_a_run_killed_at_a_chosen_point_resumes_whole(point, tiny_folder, tmp_path, capsys, tally):
    runs = tmp_path / "runs"
    run = kill_by_injection(train_args(tiny_folder, runs), tmp_path, runs, point)
    state = json.loads((run / "state.json").read_text())
    assert state["epochs_done"] == {"mid-checkpoint": 1, "before-commit": 1}.get(point, state["epochs_done"])
    with open(run / "history.csv") as handle:
        trained = sum(float(row["epoch_time"]) for row in list(csv.DictReader(handle))[: state["epochs_done"]])
    assert state["wall_time"] >= trained  # the killed session's time is kept, committed epoch by epoch
    assert_resumes_whole(run, capsys)
    assert json.loads((run / "summary.json").read_text())["wall_time"] > state["wall_time"]
    tally("kill points survived (injected)")


@pytest.mark.parametrize("point", list(FIRST_COMMIT))
def test_a_run_killed_inside_its_first_commit_resumes_from_the_start(point, tiny_folder, tmp_path, capsys, tally):
    runs = tmp_path / "runs"
    run = kill_by_injection(train_args(tiny_folder, runs), tmp_path, runs, point)
    assert not (run / "state.json").exists() and (run / "checkpoints" / "epoch-0001.keras").exists()
    assert_resumes_whole(run, capsys)  # the uncommitted first epoch is trained again
    tally("kill points survived (injected)")
