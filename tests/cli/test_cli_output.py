"""What the CLI prints fits an 80-column terminal and keeps every value whole; into a file or a
pipe it is plain lines (no progress bar, no blank lines, no control sequences)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from kerashp import events as ev
from kerashp.cli.console import ConsoleView
from kerashp.cli.search_view import SearchView, results_table
from kerashp.search.events import SearchStarted, TrialEnded, TrialStarted
from kerashp.search.records import TrialRecord
from kerashp.text import number as fmt

WIDTH = 80
KEYS = ["optimizer.learning_rate", "optimizer.name", "optimizer.momentum", "augment.transforms.horizontal_flip.p",
        "augment.mixup_alpha", "train.batch_size", "model.batch_norm", "optimizer.l2"]  # fmt: skip


def narrow() -> Console:
    return Console(width=WIDTH, record=True, highlight=False)


def lines_of(console: Console) -> list[str]:
    return console.export_text().splitlines()


def assert_fits(lines: list[str]) -> None:
    too_wide = [line for line in lines if len(line.rstrip()) > WIDTH]
    assert not too_wide, "\n".join(too_wide)


def test_big_and_tiny_numbers_are_readable():
    assert fmt(1211291104444416.0) == "1.211e+15" and fmt(2.5e-5) == "2.5e-05"
    assert fmt(2.1245) == "2.1245" and fmt(30.0) == "30.0000" and fmt(0.0) == "0.0000" and fmt(None) == "-"
    assert fmt(float("nan")) == "nan" and fmt(float("inf")) == "inf" and fmt(-2e5) == "-2e+05"


def trial_records(count: int = 3) -> list[TrialRecord]:
    values = dict(zip(KEYS, [0.0147, "sgd", 0.95, 0.3, 0.2, 128, True, 1.5e-5]))
    return [TrialRecord(str(10 + i), "completed", values, worker=f"worker{i}", epochs=30, objective=0.5 + i / 100,
                        best_epoch=12, time_s=123.4) for i in range(count)]  # fmt: skip


def test_the_trials_table_fits_80_columns_and_splits_rather_than_breaking_values():
    console = narrow()
    console.print(results_table(trial_records(), "val_accuracy", KEYS, "trials, best first", console))
    lines = lines_of(console)
    assert_fits(lines)
    text = "\n".join(lines)
    values = ("0.0147", "sgd", "0.9500", "0.3000", "0.2000", "128", "true", "1.5e-05", "worker2", "30 (12)", "123.4s")
    for value in values:
        assert re.search(rf"│ +{re.escape(value)} +│", text), f"{value} is not whole in a cell:\n{text}"
    headers = [cell.strip() for line in lines if line.startswith("┃") for cell in line.split("┃")[1:-1]]
    assert "learning_" in headers and "horizontal_" in headers and "flip.p" in headers  # broken between words only
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert rows == ["10", "11", "12"] * (len(rows) // 3) and len(rows) > 3  # every part keeps the trials' order


def test_a_table_that_fits_stays_one_table():
    console = Console(width=200, record=True)
    console.print(results_table(trial_records(), "val_accuracy", KEYS, "trials", console))
    assert sum(line.startswith("┏") for line in lines_of(console)) == 1


def test_trial_lines_fit_80_columns_and_break_only_between_values():
    console = narrow()
    view = SearchView(console)
    view(SearchStarted("runs/s", "lenet5_search", "hyperband", "val_accuracy", "max", 23, 0, "chief", KEYS))
    record = trial_records(1)[0]
    started = TrialRecord(record.trial_id, "running", record.hyperparameters, worker="worker1", bracket=2, round=1,
                          parent="0004")
    view(TrialStarted(started.to_json(), 23, initial_epoch=3))
    reason = "pruned after epoch 3: val_accuracy 0.2100 < median 0.3400 of 5 earlier trials " * 2
    ended = TrialRecord("0013", "pruned", record.hyperparameters, epochs=100, objective=0.4567, best_epoch=100,
                        time_s=1234.5, reason=reason)
    view(TrialEnded(ended.to_json(), record.to_json()))
    lines = lines_of(console)
    assert_fits(lines)
    text = "\n".join(lines)
    assert "trial 10 (11 of 23), bracket 2 round 1, worker1" in text and "continues trial 0004 after epoch 3" in text
    shown = ["0.0147", "sgd", "0.9500", "0.3000", "0.2000", "128", "true", "1.5e-05"]
    pairs = [f"{key}={value}" for key, value in zip(KEYS, shown)]
    assert all(re.search(rf"(^|  ){re.escape(pair)}(  |$)", text, re.M) for pair in pairs), text
    assert "trial 0013 pruned after 100 epochs, 1234.5s: val_accuracy 0.4567 (epoch 100)" in text
    assert "best so far: trial 10, val_accuracy 0.5000" in text


def metrics(loss: float = 12.3456) -> dict:
    return {"loss": loss, "accuracy": 0.2476, "val_loss": 24.3541, "val_accuracy": 0.1760, "lr": 1.23e-5,
            "epoch_time": 123.4}


def test_the_widest_epoch_line_and_the_run_header_fit_80_columns():
    console = narrow()
    view = ConsoleView(console)
    view(ev.RunStarted("runs/lenet5-20261203-191912", "mobilenet_cifar100_constant", 100, 99, 390,
                       "cuda:0 (NVIDIA H200)", 3_217_348))
    view(ev.EpochEnded(100, 100, metrics(), best=True))
    lines = lines_of(console)
    assert_fits(lines)
    assert "epoch 100/100  loss 12.3456/24.3541  acc 0.2476/0.1760  lr 1.23e-05  123s *best" in lines
    assert "resuming after epoch 99" in "\n".join(lines) and "training/validation" in "\n".join(lines)


def test_divergence_is_told_in_readable_numbers_within_80_columns():
    console = narrow()
    huge = 1211291104444416.0
    summary = {"diverged_at_epoch": 3, "last_finite": {"epoch": 3, "batch": 117, "loss": huge, "accuracy": 0.1},
               "final": {"loss": huge, "accuracy": 0.1, "val_loss": 3.2e9, "val_accuracy": 0.1}, "wall_time": 12.0}
    ConsoleView(console)(ev.RunFinished("diverged", "runs/lenet5-20261203-191912", summary))
    lines = lines_of(console)
    assert_fits(lines)
    text = "\n".join(lines)
    assert "loss 1.211e+15" in text and "1211291104444416" not in text and "loss became NaN/inf in epoch 3" in text


def test_a_studys_report_line_fits_80_columns():
    from kerashp.cli.study_command import StudyView
    from kerashp.study.events import StudyFinished, VariantEpoch, VariantFinished

    console = narrow()
    view = StudyView(console)
    view(VariantEpoch(1, "learning_rate=0.05", 10, 30, metrics(2.1)))
    log = "studies/lr/runs/x/train.log: out of memory"
    view(VariantFinished(2, 3, "learning_rate=0.5", "failed", "studies/lr/runs/x", log))
    view(StudyFinished("studies/lenet5-learning_rate", "completed", "studies/lenet5-learning_rate/report.md"))
    lines = lines_of(console)
    assert_fits(lines)
    assert "report: studies/lenet5-learning_rate/report.md" in lines
    assert any(line.startswith("learning_rate=0.05 epoch  10/30  loss 2.1000/24.3541") for line in lines)


def test_presets_list_fits_80_columns_with_each_reported_figure_on_its_row(monkeypatch, capsys):
    from kerashp.cli import main

    monkeypatch.setenv("COLUMNS", str(WIDTH))
    assert main(["presets", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert_fits(lines)
    alexnet = next(line for line in lines if line.startswith(" alexnet_caltech101 "))
    assert alexnet.rstrip().endswith("test/val 0.4227/0.4229")


def test_into_a_file_there_is_no_bar_no_blank_line_and_no_control_sequence():
    out = io.StringIO()
    view = ConsoleView(Console(file=out, width=WIDTH))  # not a terminal, as with `> train.log`
    view(ev.Progress("reading images", 0, 10))
    view(ev.Progress("reading images", 10, 10))
    view(ev.RunStarted("runs/r", "lenet5", 2, 0, 3, "cpu", 62_684))
    for epoch in (1, 2):
        view(ev.EpochStarted(epoch, 2, 3))
        for step in (1, 2, 3):
            view(ev.BatchEnded(epoch, step, 3, 2.0, 0.3))
        view(ev.EpochEnded(epoch, 2, metrics(2.0), best=epoch == 1))
    view(ev.RunFinished("completed", "runs/r", {"final": metrics(2.0), "wall_time": 3.0}))
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text and "reading images" not in text
    lines = text.splitlines()
    assert all(line.strip() for line in lines), text
    assert [line.split()[1] for line in lines if line.startswith("epoch")] == ["1/2", "2/2"]


@pytest.mark.parametrize("algorithm, key", [("random", "train.epochs"), ("hyperband", "search.max_epochs")])
def test_tune_epochs_sets_each_trials_epochs_or_hyperbands_most(tmp_path, algorithm, key):
    from kerashp.cli import build_parser
    from kerashp.cli.tune_command import _open_search

    args = build_parser().parse_args(["tune", "--preset", "lenet5_search", "--algorithm", algorithm, "--epochs", "7",
                                      "--dir", str(tmp_path / "search")])  # fmt: skip
    base, _ = _open_search(args)
    section, name = key.split(".")
    assert base[section][name] == 7


def test_a_studys_labels_factors_and_paths_are_shown_as_written_not_read_as_markup():
    from kerashp.cli.study_command import StudyView
    from kerashp.study.events import (
        FactorFinished,
        StudyFinished,
        VariantEpoch,
        VariantFinished,
        VariantFollowed,
        VariantSkipped,  # fmt: skip
        VariantStarted,
    )

    label, run = "x[/]", "studies/[bold]s/runs/1.1-x/r"
    row = {"variant": label, "status": "failed", "train_loss": 2.0, "train_accuracy": 0.3, "val_loss": 2.1,
           "val_accuracy": 0.3, "best_val_accuracy": 0.3, "best_val_epoch": 1, "test_accuracy": 0.3}  # fmt: skip
    console = narrow()
    view = StudyView(console)
    events = [VariantStarted(1, 2, "optimizer.learning_rate", label), VariantSkipped(1, 2, label, "completed", run),
              VariantFollowed(2, 2, label, run, 4321), VariantEpoch(2, label, 1, 3, metrics(2.1)),
              VariantFinished(2, 2, label, "failed", run, f"{run}/train.log: [red] bad"),
              FactorFinished("optimizer.learning_rate", [row], None), StudyFinished("[s]", "stopped", "[s]/report.md")]
    for event in events:
        view(event)
    lines = lines_of(console)
    assert_fits(lines)
    text = "\n".join(lines)
    assert text.count("x[/]") == 6 and f"run: {run}" in text and f"{run}/train.log: [red] bad" in text
    assert "report: [s]/report.md" in text and "resume with  kerashp study [s]" in text


def test_a_followed_variant_names_its_process_within_80_columns():
    from kerashp.cli.study_command import StudyView
    from kerashp.study.events import VariantFollowed

    console = narrow()
    StudyView(console)(VariantFollowed(3, 4, "learning_rate=0.05", "studies/lr/runs/1.3-learning_rate=0.05/r", 4321))
    lines = lines_of(console)
    assert_fits(lines)
    text = " ".join(line.strip() for line in lines)
    assert text.startswith("variant 3/4 learning_rate=0.05: still training in process 4321 (left by an earlier run "
                           "of this study); following it run: studies/lr/runs/1.3-learning_rate=0.05/r")  # fmt: skip


def test_a_run_header_shows_bracketed_names_as_written_and_counts_in_words():
    console = narrow()
    ConsoleView(console)(ev.RunStarted("runs/x[/]-20261203-191912", "my[bold]preset", 1, 0, 1, "cpu", 10))
    text = "\n".join(lines_of(console))
    assert "my[bold]preset" in text and "runs/x[/]-20261203-191912" in text
    assert "1 epoch of 1 step" in text
