"""Reports for runs and searches, from run directories written through the RunDir API.

Training is covered end to end in tests/e2e/test_cli_study.py; here the histories are set so
that the winner, the bold values and the reference differences are known in advance.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from PIL import Image

from kerashp.cli.report_command import report
from kerashp.config import load_preset
from kerashp.errors import UserError
from kerashp.runs.folder import RunDir


def make_run(runs_dir: Path, preset_name: str, overrides: list[str], val_accuracy: list[float], status="completed",
             lr: float = 0.01, test_accuracy: float = 0.5) -> Path:  # fmt: skip
    """A run directory as train() leaves it: resolved preset, history, summary."""
    preset = load_preset(preset_name, overrides)
    run = RunDir.create(runs_dir, preset_name)
    run.write_preset(preset)
    run.write_history([
        {"epoch": epoch, "loss": 2.0 / epoch, "accuracy": 0.3 + 0.1 * epoch, "val_loss": 2.5 - value,
         "val_accuracy": value, "lr": lr * 0.9 ** epoch, "epoch_time": 1.0}
        for epoch, value in enumerate(val_accuracy, start=1)
    ])  # fmt: skip
    run.write_summary({"status": status, "preset": preset_name, "parameters": 62_006,
                       "test": {"loss": 1.5, "accuracy": test_accuracy}})  # fmt: skip
    return run.path


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_runs_report_tabulates_final_epochs_and_marks_the_winner(tmp_path):
    runs = tmp_path / "runs"
    paths = [
        make_run(runs, "lenet5", ["optimizer.learning_rate=0.1"], [0.4, 0.5], lr=0.1),
        make_run(runs, "lenet5", ["optimizer.learning_rate=0.01"], [0.3, 0.6, 0.55], lr=0.01),
        make_run(runs, "lenet5", ["optimizer.learning_rate=1.0"], [0.7, 0.9], status="diverged", lr=1.0),
    ]
    md = report(paths, tmp_path / "out")
    out = md.parent
    assert {p.name for p in out.iterdir()} >= {"loss.png", "accuracy.png", "lr.png", "table.md", "table.csv", "report.md", "report.html"}
    for name in ("loss.png", "accuracy.png", "lr.png"):
        with Image.open(out / name) as image:
            assert image.width > 800 and image.height > 400
    rows = read_csv(out / "table.csv")
    assert [row["variant"] for row in rows] == ["learning_rate=0.1", "learning_rate=0.01", "learning_rate=1"]
    for row, path in zip(rows, paths):
        last = RunDir(path).read_history()[-1]
        assert float(row["val_accuracy"]) == last["val_accuracy"] and float(row["train_loss"]) == last["loss"]
        assert int(row["epochs"]) == last["epoch"]
    # the diverged run has the highest accuracy but cannot lead; 0.55 at the final epoch leads 0.5, but
    # one number per variant allows no test, so nothing is called a winner
    assert [row["winner"] for row in rows] == ["0", "0", "0"] and [row["runs"] for row in rows] == ["1", "1", "1"]
    assert rows[1]["best_val_accuracy"] == "0.6" and rows[1]["best_val_epoch"] == "2" and rows[1]["p_value"] == ""
    text = md.read_text()
    assert "**(winner)**" not in text and "**0.5500**" in text
    assert (
        "No winner: **learning_rate=0.01** (0.5500) vs the runner-up **learning_rate=0.1** (0.5000), "
        "but with one seed per variant no test is possible" in text
    )
    page = (out / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == 3 and "<table>" in page


def test_no_lr_figure_when_every_run_had_the_same_learning_rates(tmp_path):
    runs = tmp_path / "runs"
    paths = [make_run(runs, "lenet5", [f"train.batch_size={size}"], [0.3, 0.4]) for size in (32, 64)]
    out = report(paths, tmp_path / "out").parent
    assert not (out / "lr.png").exists() and (out / "loss.png").exists()
    assert [row["variant"] for row in read_csv(out / "table.csv")] == ["batch_size=32", "batch_size=64"]
    assert (out / "report.md").read_text().startswith("# 2 runs of lenet5\n")


def test_lr_figure_compares_shared_epochs_and_a_stale_one_is_removed(tmp_path):
    runs = tmp_path / "runs"
    out = tmp_path / "out"
    schedules = [make_run(runs, "lenet5", [f"optimizer.learning_rate={lr}"], [0.3, 0.4], lr=lr) for lr in (0.1, 0.01)]
    report(schedules, out)
    assert (out / "lr.png").exists()
    # the same schedule, one run stopped sooner (diverged): its history is shorter, not different
    lengths = [make_run(runs, "lenet5", [f"train.batch_size={size}"], values) for size, values in ((32, [0.3, 0.4, 0.5]), (64, [0.3]))]
    text = report(lengths, out).read_text()
    assert not (out / "lr.png").exists() and "lr.png" not in text and (out / "accuracy.png").exists()


def test_a_path_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(UserError, match="nosuch: no such file or folder"):
        report([tmp_path / "nosuch"])


def test_the_table_caption_says_test_figures_come_from_the_best_checkpoint(tmp_path):
    path = make_run(tmp_path / "runs", "lenet5", [], [0.5, 0.6])
    text = report([path], tmp_path / "out").read_text()
    assert text.startswith(f"# Run {path.name}\n") and "measured with the best checkpoint (by `train.monitor`)" in text


def test_compare_reference_puts_reported_figures_next_to_measured_ones(tmp_path):
    path = make_run(tmp_path / "runs", "lenet5_aug", [], [0.5, 0.6])  # reports val 0.677, train 0.645
    text = report([path], tmp_path / "out", compare_reference=True).read_text()
    assert "| val_accuracy | 0.6770 | 0.6000 | -0.0770 |" in text
    assert "| train_accuracy | 0.6450 | 0.5000 | -0.1450 |" in text
    assert "| epochs | 30 | 2 | -28 |" in text


def write_search(search: Path, trials: list[tuple[str, str, str, str, str, Path | None]]) -> None:
    """trials.csv as a search writes it: trial_id, status, objective, hyperparameters, run_dir."""
    search.mkdir(parents=True, exist_ok=True)
    with open(search / "trials.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["trial_id", "status", "objective", "optimizer.learning_rate", "optimizer.name", "run_dir"])
        for trial_id, status, objective, lr, name, run in trials:
            writer.writerow([trial_id, status, objective, lr, name, run.relative_to(search).as_posix() if run else ""])


def test_search_report_adds_objective_and_parallel_coordinates(tmp_path):
    search = tmp_path / "search"
    trial_runs = search / "trials"
    write_search(search, [
        ("0", "completed", "0.41", "0.001", "sgd", make_run(trial_runs, "lenet5", ["optimizer.learning_rate=0.001"], [0.3, 0.41])),
        ("1", "completed", "0.62", "0.05", "adam", make_run(trial_runs, "lenet5", ["optimizer.learning_rate=0.05"], [0.5, 0.62])),
        ("2", "failed", "", "0.5", "sgd", None),
        ("3", "completed", "0.55", "0.01", "sgd", None),  # its run directory was removed
    ])  # fmt: skip
    md = report([search])
    assert md == search / "report" / "report.md"
    out = md.parent
    assert {"objective.png", "parallel.png", "loss.png", "accuracy.png", "table.csv"} <= {p.name for p in out.iterdir()}
    assert [row["variant"] for row in read_csv(out / "table.csv")] == ["trial 1", "trial 0"]  # best first
    text = md.read_text()
    assert "Best trial: **1** with val_accuracy 0.6200" in text and "4 trials, 3 with an objective" in text
    trials_table = text.split("Trials, best first.")[1].splitlines()[4:]
    assert [line.split("|")[1].strip() for line in trials_table if line] == ["1", "3", "0", "2"]
    with Image.open(out / "parallel.png") as image:
        assert image.width > 500


def test_a_kerashp_tune_directory_reads_search_toml_and_trial_folders(tmp_path):
    """The layout `kerashp tune` writes: runs under trials/<id>/, bookkeeping columns, [search] in search.toml."""
    search = tmp_path / "tune"
    (search / "trials").mkdir(parents=True)
    (search / "search.toml").write_text('[search]\nobjective = "val_loss"\ndirection = "min"\n')
    losses = {"0": [2.0, 1.9], "1": [1.8, 1.2], "2": [2.1, 1.5]}
    for trial_id, values in losses.items():
        make_run(search / "trials" / trial_id, "lenet5", [], [2.5 - v for v in values])  # val_loss = 2.5 - val_accuracy
    (search / "trials.csv").write_text(
        "trial_id,status,optimizer.learning_rate,optimizer.momentum,epochs,objective,best_epoch,time_s,worker,reason\n"
        "0,completed,0.001,0.9,2,1.9,2,4.6,tuner0,\n"
        "1,completed,0.05,,2,1.2,2,2.7,tuner0,\n"
        "2,pruned,0.01,0.5,2,1.5,2,1.2,tuner0,below the median\n"
    )
    md = report([search])
    out = md.parent
    assert {"objective.png", "parallel.png", "loss.png", "accuracy.png"} <= {p.name for p in out.iterdir()}
    assert [row["variant"] for row in read_csv(out / "table.csv")] == ["trial 1", "trial 2", "trial 0"]  # lowest loss first
    text = md.read_text()
    assert "(val_loss, lower is better)" in text and "Best trial: **1** with val_loss 1.2000" in text
    assert "| trial | status | val_loss | optimizer.learning_rate | optimizer.momentum |" in text  # no bookkeeping columns


def test_search_without_the_expected_columns_is_refused(tmp_path):
    (tmp_path / "trials.csv").write_text("trial,score\n1,0.5\n")
    with pytest.raises(UserError, match="missing column"):
        report([tmp_path])


def test_a_folder_that_is_nothing_reportable_is_refused(tmp_path):
    with pytest.raises(UserError, match="not a run, runs folder, study or search"):
        report([tmp_path])


@pytest.mark.parametrize(
    "values, log",
    [([30.0, 1.5, 4.5], True), ([1.5, 2.0, 4.5], False), ([2.3, 0.2], True), ([0.0, 1.5, 4.5, float("nan")], False)],
)
def test_a_loss_axis_turns_log_past_an_order_of_magnitude(values, log):
    from kerashp.report.figures import wants_log_axis

    assert wants_log_axis(values) is log


def test_a_study_whose_one_variant_has_loss_30_draws_loss_on_a_log_axis(tmp_path, monkeypatch):
    from kerashp.report import figures

    scales = {}

    def keep_scale(plt, fig, path):
        scales[path.name] = fig.axes[0].get_yscale()
        plt.close(fig)
        return path

    monkeypatch.setattr(figures, "_save", keep_scale)
    calm = [{"epoch": e, "loss": 4.5 - e, "val_loss": 4.0 - e} for e in (1, 2, 3)]  # 1.0 .. 3.5
    wild = [{"epoch": e, "loss": 30.0, "val_loss": 29.0} for e in (1, 2, 3)]
    figures.curves_figure(tmp_path / "loss.png", [("calm", calm), ("wild", wild)], "loss", "Loss")
    figures.curves_figure(tmp_path / "calm.png", [("calm", calm)], "loss", "Loss")
    figures.objective_figure(tmp_path / "objective.png", [("0", 30.0), ("1", 1.5)], "val_loss", False, "Objective")
    assert scales == {"loss.png": "log", "calm.png": "linear", "objective.png": "log"}


def seeded_runs(runs: Path, overrides: list[str], finals: list[float]) -> list[Path]:
    """A variant's runs, one per seed, each ending at one of `finals`."""
    return [make_run(runs, "lenet5", [*overrides, f"seed={1000 * k}"], [0.2, final]) for k, final in enumerate(finals)]


def test_runs_differing_only_in_their_seed_are_one_variant_with_mean_spread_and_a_test(tmp_path):
    runs = tmp_path / "runs"
    low = seeded_runs(runs, ["optimizer.learning_rate=0.1"], [0.40, 0.42, 0.41])
    high = seeded_runs(runs, ["optimizer.learning_rate=0.01"], [0.60, 0.63, 0.61])
    md = report([*low, *high], tmp_path / "out")
    rows = read_csv(md.parent / "table.csv")
    assert [(row["variant"], row["runs"], row["seeds"]) for row in rows] == [
        ("learning_rate=0.1", "3", "[0, 1000, 2000]"), ("learning_rate=0.01", "3", "[0, 1000, 2000]")
    ]
    assert float(rows[1]["val_accuracy"]) == pytest.approx(0.61333, abs=1e-4)
    assert float(rows[1]["val_accuracy_std"]) == pytest.approx(0.015275, abs=1e-5)  # sample std (ddof 1)
    # t-interval: mean +- t(0.975, 2) * std / sqrt(3), t = 4.3027
    assert float(rows[1]["val_accuracy_ci_low"]) == pytest.approx(0.61333 - 4.3027 * 0.015275 / 3**0.5, abs=1e-4)
    assert [row["winner"] for row in rows] == ["0", "1"] and float(rows[1]["p_value"]) < 0.05
    text = md.read_text()
    assert "| learning_rate=0.01 **(winner)** | 3 |" in text and "Welch's t-test, p = " in text
    assert "Winner by validation accuracy: **learning_rate=0.01** (mean 0.6133 over 3 seeds, 95% CI" in text
    assert "shaded: the 95% confidence interval of the mean" in text
    with Image.open(md.parent / "accuracy.png") as image:
        assert image.width > 800


def test_overlapping_seeds_are_no_significant_difference_and_ties_never_win(tmp_path):
    runs = tmp_path / "runs"
    close = [*seeded_runs(runs, ["train.batch_size=32"], [0.40, 0.50, 0.45]),
             *seeded_runs(runs, ["train.batch_size=64"], [0.41, 0.49, 0.46])]  # fmt: skip
    text = report(close, tmp_path / "close").read_text()
    assert "No significant difference: **batch_size=64**" in text and "(highest mean, not significant)" in text
    assert "**(winner)**" not in text and "p = 0.9" in text
    tied = [make_run(runs, "lenet5", [f"train.batch_size={size}"], [0.1, 0.2]) for size in (16, 128)]
    text = report(tied, tmp_path / "tied").read_text()
    assert "No winner: **batch_size=16** and **batch_size=128** tie at 0.2000; a tie is never a win." in text
    assert [row["winner"] for row in read_csv(tmp_path / "tied" / "table.csv")] == ["0", "0"]


def test_a_search_with_several_executions_shows_each_trials_mean_and_spread(tmp_path, capsys):
    """`kerashp tune --executions 2` leaves two runs per trial: --results and the report give the
    objective's spread over them, and the report's curves and table group them by trial."""
    from kerashp.cli import main as kerashp_main
    from kerashp.search.directory import SearchDir
    from kerashp.search.records import TrialRecord

    search = SearchDir.prepare(tmp_path / "search", load_preset("lenet5_search", ["search.executions_per_trial=2"]))
    finals = {"0": [0.40, 0.44], "1": [0.60, 0.62]}
    for trial_id, values in finals.items():
        runs = [make_run(search.path / "trials" / trial_id, "lenet5", [f"seed={k}"], [0.2, value]) for k, value in enumerate(values)]
        search.write_record(TrialRecord(trial_id, "completed", {"optimizer.learning_rate": 0.01}, epochs=2,
                                        objective=sum(values) / 2, best_epoch=2,
                                        runs=[run.relative_to(search.path).as_posix() for run in runs]))  # fmt: skip
    search.write_table()
    assert kerashp_main(["tune", "--results", str(search.path)]) == 0
    out = capsys.readouterr().out
    assert "val_accuracy over each trial's executions" in out and "0.6100" in out and "0.0141" in out  # std of .60, .62
    text = report([search.path]).read_text()
    assert "The objective is the mean over each trial's executions." in text
    assert "| 1 | completed | 0.6100 | 2 | 0.0141 | " in text
    assert [(row["variant"], row["runs"]) for row in read_csv(search.path / "report" / "table.csv")] == [("trial 1", "2"), ("trial 0", "2")]
    assert "shaded: the 95% confidence interval of the mean" in text
