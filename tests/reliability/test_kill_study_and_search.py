"""SIGKILL a study and a search part-way, start them again: every variant and trial ends
completed exactly once, and the interrupted one continues its own run instead of starting over."""

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

SEED = 7
TIMEOUT = 240


def kill_when(command: list[str], ready) -> None:
    """Run `command` and SIGKILL it as soon as `ready()` holds."""
    process = subprocess.Popen([sys.executable, "-m", "kerashp.cli", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + TIMEOUT
    while not ready():
        assert process.poll() is None, f"it ended before the kill point: {process.stderr.read().decode()}"
        assert time.time() < deadline, "it stalled"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def epochs_ended(events: Path) -> int:
    try:
        return events.read_text().count('"event": "EpochEnded"')
    except OSError:
        return 0


def epoch_column(run: Path) -> list[str]:
    with open(run / "history.csv") as handle:
        return [row["epoch"] for row in csv.DictReader(handle)]


def test_a_study_killed_inside_a_variant_resumes_without_losing_or_repeating_one(tiny_folder, tmp_path, capsys, tally):
    studies, epochs = tmp_path / "studies", 3
    command = [
        "study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.05,0.02,0.01",
        "--set", f"data.source=folder:{tiny_folder}", "--set", "train.batch_size=4", "--set", "data.validation=8",
        "--epochs", str(epochs), "--studies-dir", str(studies), "--name", "lr",
    ]  # fmt: skip
    variant, epoch = random.Random(SEED).choice([(1, 1), (2, 1), (2, 2), (3, 1)])

    def inside_the_chosen_epoch() -> bool:
        runs = sorted(studies.glob("lr/**/events.jsonl"), key=lambda p: p.stat().st_mtime)
        return len(runs) >= variant and epochs_ended(runs[variant - 1]) >= epoch

    kill_when(command, inside_the_chosen_epoch)
    assert kerashp_main(["study", str(studies / "lr")]) == 0, capsys.readouterr()
    state = json.loads((studies / "lr" / "study.json").read_text())
    variants = state["factors"][0]["variants"]
    assert [v["status"] for v in variants] == ["completed"] * 3
    run_dirs = [studies / "lr" / v["run_dir"] for v in variants]
    assert len(set(run_dirs)) == 3 and len(list(studies.glob("lr/**/preset.toml"))) == 3  # no variant trained twice
    assert all(epoch_column(run) == [str(e) for e in range(1, epochs + 1)] for run in run_dirs)
    tally("kill points survived (study)")


def test_a_search_killed_at_random_points_finishes_every_trial_once(tiny_folder, tmp_path, capsys, tally):
    preset, where, max_trials = tmp_path / "search.toml", tmp_path / "search", 3
    preset.write_text(
        f'extends = "lenet5"\n[data]\nsource = "folder:{tiny_folder}"\nvalidation = 8\n[train]\nbatch_size = 4\nepochs = 2\n'
        f'[search]\nalgorithm = "random"\nmax_trials = {max_trials}\n[search.space]\n'
        '"optimizer.learning_rate" = { type = "float", min = 1e-3, max = 0.05, log = true }\n'
    )
    command = ["tune", "--preset", str(preset), "--dir", str(where)]
    picker = random.Random(SEED)
    for _ in range(2):  # two kills, each after a random number of finished epochs across all trials
        target = sum(epochs_ended(p) for p in where.glob("trials/*/*/events.jsonl")) + picker.randint(1, 2)
        kill_when(command, lambda: sum(epochs_ended(p) for p in where.glob("trials/*/*/events.jsonl")) >= target)
        tally("kill points survived (search)")
    assert kerashp_main(["tune", "--dir", str(where)]) == 0, capsys.readouterr()
    with open(where / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["trial_id"] for r in rows) == [str(n) for n in range(max_trials)]
    assert {r["status"] for r in rows} == {"completed"}
    for trial in (where / "trials").iterdir():
        (run,) = [p for p in trial.iterdir() if p.is_dir()]  # the interrupted trial continued its own run
        assert epoch_column(run) == ["1", "2"]
