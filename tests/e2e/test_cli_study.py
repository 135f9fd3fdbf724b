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
    assert result.stdout.count("epoch   2/2") == 3 and "No winner: " in result.stdout  # one seed: no test

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
        assert [Path(run).resolve() for run in json.loads(row["run_dirs"])] == [(study / variant["run_dir"]).resolve()]
        for column, history_column in (("train_loss", "loss"), ("train_accuracy", "accuracy"), ("val_loss", "val_loss"), ("val_accuracy", "val_accuracy")):
            assert float(row[column]) == float(last[history_column])
        assert row["epochs"] == last["epoch"] == "2"
        summary = json.loads((study / variant["run_dir"] / "summary.json").read_text())
        assert float(row["test_accuracy"]) == summary["test"]["accuracy"]
    assert [row["winner"] for row in table] == ["0"] * 3  # one seed per variant: no winner is called
    leader = max(table, key=lambda row: float(row["val_accuracy"]))  # the earliest on ties, as the study picks
    assert state["factors"][0]["winner"] == table.index(leader)  # the variant a next factor would carry
    report = (study / "report.md").read_text()
    assert f"No winner: **{leader['variant']}**" in report  # behind it: no test with one seed, or a tie
    assert "![Figure 1](loss.png)" in report and "![Figure 3](lr.png)" in report and "**Table 1.**" in report
    assert "**(winner)**" not in (study / "table.md").read_text()
    assert (study / "report.html").read_text().count('src="data:image/png;base64,') == 3

    again = kerashp(*command)  # the same study again: every variant is already done
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already completed") == 3 and "epoch   1/2" not in again.stdout
    assert len(list((study / "runs").glob("*/*/preset.toml"))) == 3

    first_two = [str(study / v["run_dir"]) for v in variants[:2]]
    compared = kerashp("report", *first_two, "--out", str(tmp_path / "two"), "--compare-reference")
    assert compared.returncode == 0, compared.stderr
    text = (tmp_path / "two" / "report.md").read_text()
    assert "learning_rate=0.5" in text and "learning_rate=0.05" in text
    assert "| val_accuracy | 0.6404 |" in text  # lenet5's reference: the LeNet-5 study without augmentation


def histories(study: Path) -> dict[str, list[dict]]:
    """Every run's history.csv by its folder in the study (variant and seed), without epoch times."""
    return {
        path.parent.parent.relative_to(study).as_posix(): [{k: v for k, v in row.items() if k != "epoch_time"} for row in rows(path)]
        for path in sorted(study.glob("runs/**/history.csv"))
    }


def test_seeds_give_mean_spread_and_a_test_and_jobs_2_gives_the_sequential_numbers(tiny_folder, tmp_path):
    """Two variants that train alike (they differ only in whether the test set is evaluated), three
    seeds each: the table has mean, std, CI and a p-value and calls no winner; the same study with
    --jobs 2 (two seeds, to keep the test short: they are the same first two) trains in parallel
    processes and every history is identical, bit for bit."""
    studies = tmp_path / "studies"
    command = [
        "study", "--preset", "lenet5", "--vary", "train.evaluate_test=true,false",
        "--set", f"data.source=folder:{tiny_folder}", *FAST, "--epochs", "1", "--studies-dir", str(studies),
    ]  # fmt: skip
    sequential = kerashp(*command, "--seeds", "3", "--name", "sequential", env={"CUDA_VISIBLE_DEVICES": ""})
    assert sequential.returncode == 0, sequential.stderr + sequential.stdout
    assert "variant 6/6  train.evaluate_test: evaluate_test=false, seed 2000" in sequential.stdout
    study = studies / "sequential"
    state = json.loads((study / "study.json").read_text())
    runs = [run for variant in state["factors"][0]["variants"] for run in variant["runs"]]
    assert [run["seed"] for run in runs] == [0, 1000, 2000] * 2 and {run["status"] for run in runs} == {"completed"}
    layout = state["memory_layout"]
    table = rows(study / "table.csv")
    assert [(row["variant"], row["runs"], row["winner"]) for row in table] == [("evaluate_test=true", "3", "0"), ("evaluate_test=false", "3", "0")]
    assert table[0]["val_accuracy"] == table[1]["val_accuracy"] and float(table[0]["p_value"]) == 1.0
    assert all(row[key] for row in table for key in ("val_accuracy_std", "val_accuracy_ci_low", "val_accuracy_ci_high"))
    report = (study / "report.md").read_text()
    assert "No significant difference: **evaluate_test=true**" in report and "Welch's t-test, p = 1 (not below 0.05)" in report
    assert "| variant | runs | train loss | train acc | val loss | val acc | val acc std | val acc 95% CI |" in report
    assert "shaded: the 95% confidence interval of the mean" in report
    assert "No significant difference: evaluate_test=true" in sequential.stdout  # the verdict under the table

    # the layout the sequential study's first run chose is pinned, so the test compares everything else:
    # seeds, thread counts, feed workers and the study's own choice of layout for the later runs
    parallel = kerashp(*command, "--seeds", "2", "--name", "parallel", "--jobs", "2",
                       "--set", f"train.memory_layout={layout}", env={"CUDA_VISIBLE_DEVICES": ""}, timeout=600)  # fmt: skip
    assert parallel.returncode == 0, parallel.stderr + parallel.stdout
    assert "evaluate_test=false, seed 1000 epoch   1/1" in parallel.stdout
    assert len(list((studies / "parallel").glob("runs/*/seed-*/train.log"))) == 4
    together = histories(studies / "parallel")
    alone = {run: history for run, history in histories(study).items() if not run.endswith("seed-2000")}
    assert len(together) == 4 and together == alone


def test_a_bad_value_stops_the_study_before_anything_trains(tmp_path):
    result = kerashp(
        "study", "--preset", "lenet5", "--vary", "optimizer.learning_rate=0.1,-1", "--studies-dir", str(tmp_path / "studies")
    )
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "--vary: optimizer.learning_rate = -1" in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "studies").exists()
