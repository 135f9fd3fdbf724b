"""A `--jobs` study killed while its children train leaves them training on their own. Started
again, the study follows those variants to their end instead of recording them as `running`, and
a variant that has not finished is never a factor's winner."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.report.significance import decide
from kerashp.report.tables import MEAN_COLUMNS, variant_row
from kerashp.runs.folder import RunDir

TIMEOUT = 240


def variant(status: str, val_accuracy: float) -> dict:
    """A one-seed variant's table row, as a study's report builds it from its run's statistics."""
    stats = dict.fromkeys(MEAN_COLUMNS) | {"seed": 0, "parameters": 1, "run_dir": status}
    return variant_row([stats | {"variant": status, "status": status, "val_accuracy": val_accuracy}])


@pytest.mark.parametrize("status", ["running", "stopped", "interrupted", "killed", "damaged", "diverged", "failed"])
def test_a_run_that_did_not_complete_is_never_the_winner(status):
    rows = [variant(status, 0.9), variant("completed", 0.5)]
    assert decide([row["values"] for row in rows]).winner == 1
    assert decide([variant(status, 0.9)["values"]]).winner is None


def epochs_ended(events: Path) -> int:
    try:
        return events.read_text().count('"event": "EpochEnded"')
    except OSError:
        return 0


def alive(pid) -> bool:
    """Whether `pid` runs: a child whose study was killed is a zombie once it ends (nothing reaps it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.e2e
def test_a_study_resumed_while_its_orphaned_children_train_follows_them_to_the_end(tiny_folder, tmp_path, capsys, tally):
    studies, epochs = tmp_path / "studies", 10
    command = [
        sys.executable, "-m", "kerashp.cli", "study", "--preset", "lenet5", "--jobs", "2",
        "--vary", "optimizer.learning_rate=0.05,0.01", "--set", f"data.source=folder:{tiny_folder}",
        "--set", "train.batch_size=4", "--set", "data.validation=8", "--epochs", str(epochs),
        "--studies-dir", str(studies), "--name", "orphans",
    ]  # fmt: skip
    study = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: list[int] = []
    try:
        deadline = time.time() + TIMEOUT
        while len([p for p in studies.glob("orphans/runs/*/*/events.jsonl") if epochs_ended(p) >= 1]) < 2:
            assert study.poll() is None, study.stderr.read().decode()
            assert time.time() < deadline, "the study stalled"
            time.sleep(0.05)
        study.send_signal(signal.SIGKILL)  # the study only: its two `kerashp train` children go on
        study.wait(timeout=30)
        runs = [RunDir(p.parent) for p in studies.glob("orphans/runs/*/*/events.jsonl")]
        children = [run.read_summary().get("pid") for run in runs]
        assert any(alive(pid) for pid in children), "both children ended before the study was resumed"

        assert kerashp_main(["study", str(studies / "orphans")]) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert re.search(rf"learning_rate=0\.0[15] epoch +{epochs}/{epochs}", out), out  # it relayed their last epochs
    finally:
        for pid in children:  # the children this test's study started, if the test failed early
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    state = json.loads((studies / "orphans" / "study.json").read_text())
    variants = state["factors"][0]["variants"]
    assert [v["status"] for v in variants] == ["completed", "completed"]
    assert len(list(studies.glob("orphans/runs/*/*/preset.toml"))) == 2  # followed, not trained a second time
    for variant in variants:
        with open(studies / "orphans" / variant["run_dir"] / "history.csv") as handle:
            assert [r["epoch"] for r in csv.DictReader(handle)] == [str(e) for e in range(1, epochs + 1)]
    winner = variants[state["factors"][0]["winner"]]
    assert winner["status"] == "completed"
    with open(studies / "orphans" / "table.csv") as handle:
        assert {r["status"] for r in csv.DictReader(handle)} == {"completed"}
    tally("kill points survived (study)")
