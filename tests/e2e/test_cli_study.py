"""Drive `kerashp study` and `kerashp report` in subprocesses on tiny generated data."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

FAST = ["--set", "train.batch_size=8", "--set", "data.validation=8"]


def kerashp(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="160", **(env or {}))
    return subprocess.run([sys.executable, "-m", "kerashp.cli", *args], capture_output=True, text=True, timeout=timeout, env=env)


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_three_variant_study_writes_figures_tables_and_report(tiny_folder, tmp_path):
    studies = tmp_path / "studies"
    command = [
        "study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.5,0.05,0.01",
        "--set", f"data.source=folder:{tiny_folder}", *FAST, "--epochs", "2", "--studies-dir", str(studies), "--name", "lr",
    ]  # fmt: skip
    result = kerashp(*command)
    assert result.returncode == 0, result.stderr + result.stdout
    for number, label in enumerate(("learning_rate=0.5", "learning_rate=0.05", "learning_rate=0.01"), start=1):
        assert f"variant {number}/3  optimizer.learning_rate: {label}" in result.stdout
    assert result.stdout.count("epoch   2/2") == 3 and "winner" in result.stdout

    study = studies / "lr"
    assert {"loss.png", "accuracy.png", "lr.png", "table.md", "table.csv", "report.md", "report.html", "study.json"} <= {
        p.name for p in study.iterdir()
    }
    for name in ("loss.png", "accuracy.png", "lr.png"):
        with Image.open(study / name) as image:
            assert image.format == "PNG" and image.width > 800
    state = json.loads((study / "study.json").read_text())
    variants = state["factors"][0]["variants"]
    assert [v["status"] for v in variants] == ["completed"] * 3

    table = rows(study / "table.csv")
    assert [row["variant"] for row in table] == [v["label"] for v in variants]
    for row, variant in zip(table, variants):
        last = rows(study / variant["run_dir"] / "history.csv")[-1]
        assert Path(row["run_dir"]).resolve() == (study / variant["run_dir"]).resolve()
        for column, history_column in (("train_loss", "loss"), ("train_accuracy", "accuracy"), ("val_loss", "val_loss"), ("val_accuracy", "val_accuracy")):
            assert float(row[column]) == float(last[history_column])
        assert row["epochs"] == last["epoch"] == "2"
        summary = json.loads((study / variant["run_dir"] / "summary.json").read_text())
        assert float(row["test_accuracy"]) == summary["test"]["accuracy"]
    (winner,) = [row for row in table if row["winner"] == "1"]
    assert float(winner["val_accuracy"]) == max(float(row["val_accuracy"]) for row in table)
    assert state["factors"][0]["winner"] == table.index(winner)
    report = (study / "report.md").read_text()
    assert f"Winner by validation accuracy: **{winner['variant']}**" in report
    assert "![Figure 1](loss.png)" in report and "![Figure 3](lr.png)" in report and "**Table 1.**" in report
    assert f"| {winner['variant']} **(winner)** |" in (study / "table.md").read_text()
    assert (study / "report.html").read_text().count('src="data:image/png;base64,') == 3

    again = kerashp(*command)  # the same study again: every variant is already done
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already completed") == 3 and "epoch   1/2" not in again.stdout
    assert len(list((study / "runs").glob("*/*/preset.toml"))) == 3

    first_two = [str(study / v["run_dir"]) for v in variants[:2]]
    compared = kerashp("report", *first_two, "--out", str(tmp_path / "two"), "--compare-reference")
    assert compared.returncode == 0, compared.stderr
    text = (tmp_path / "two" / "report.md").read_text()
    assert "learning_rate=0.5" in text and "learning_rate=0.05" in text and "state no reference figures" in text


def test_jobs_2_trains_variants_in_parallel_processes(tiny_folder, tmp_path):
    studies = tmp_path / "studies"
    result = kerashp(
        "study", "--preset", "lenet5", "--vary", "train.batch_size=8,16", "--set", f"data.source=folder:{tiny_folder}",
        "--set", "data.validation=8", "--epochs", "1", "--jobs", "2", "--studies-dir", str(studies),
        env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "batch_size=8 epoch   1/1" in result.stdout and "batch_size=16 epoch   1/1" in result.stdout
    study = studies / "lenet5-batch_size"
    logs = sorted(study.glob("runs/*/train.log"))
    assert len(logs) == 2 and all("completed" in log.read_text() for log in logs)
    state = json.loads((study / "study.json").read_text())
    assert [v["status"] for v in state["factors"][0]["variants"]] == ["completed", "completed"]
    assert len(rows(study / "table.csv")) == 2


def test_a_bad_value_stops_the_study_before_anything_trains(tmp_path):
    result = kerashp(
        "study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.1,-1", "--studies-dir", str(tmp_path / "studies")
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--vary: optimizer.learning_rate = -1" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "studies").exists()
