"""Study plans (--vary, study files), validation before training, and a real two-factor study
that is stopped in the middle and resumed."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import tomli_w
from rich.console import Console

from kerashp.cli.report_command import report
from kerashp.config import available_presets, load_preset, parse_override
from kerashp.control import RunControl
from kerashp.errors import PresetError, UserError
from kerashp.events import EpochEnded, RunStarted
from kerashp.study.study import (
    Factor,
    FactorFinished,
    Study,
    VariantFinished,
    VariantSkipped,
    VariantStarted,
    find_study,
    plan_from_args,
    plan_from_file,
    validate_plan,
)

FAST = ["train.batch_size=8", "data.validation=8"]


def test_vary_values_are_toml_like_set_values():
    factor = Factor.parse("optimizer.learning_rate=0.5,0.05,0.01")
    assert factor.values == ["0.5", "0.05", "0.01"]
    assert factor.labels == ["learning_rate=0.5", "learning_rate=0.05", "learning_rate=0.01"]
    assert [parse_override(factor.override(i))[1] for i in range(3)] == [0.5, 0.05, 0.01]
    lists = Factor.parse('augment.transforms=[],[{name = "horizontal_flip", p = 0.5}, {name = "pad_crop"}]')
    assert lists.values == ["[]", '[{name = "horizontal_flip", p = 0.5}, {name = "pad_crop"}]']
    assert Factor.parse("optimizer.name=sgd,adam").labels == ["name=sgd", "name=adam"]
    assert Factor.parse("preset=lenet5,lenet5_aug").values == ["lenet5", "lenet5_aug"]


@pytest.mark.parametrize(
    "expression, message",
    [
        ("optimizer.learning_rate", "expected KEY=V1,V2"),
        ("optimizer.learning_rate=0.1,,0.2", "expected KEY=V1,V2"),
        ("optimizer.learning_rate=0.1,0.1", "values repeat"),
    ],
)
def test_malformed_vary_is_a_user_error(expression, message):
    with pytest.raises(UserError, match=message):
        Factor.parse(expression)


def test_every_variant_is_validated_before_anything_trains(tmp_path):
    plan = plan_from_args("lenet5", ["optimizer.learning_rate=0.1,-1"], FAST, epochs=2)
    with pytest.raises(PresetError) as caught:
        validate_plan(plan)
    assert str(caught.value).startswith("--vary: optimizer.learning_rate = -1")
    with pytest.raises(PresetError, match="unknown key"):
        validate_plan(plan_from_args("lenet5", ["optimizer.learning_rat=0.1"]))


def test_study_file_values_become_overrides_that_read_back_the_same(tmp_path):
    values = [0.05, 1e-05, 3, True, "sgd", "café", [32, 32], [{"name": "pad_crop", "padding": 4}], {"a": "b"}, {}]
    study_file = tmp_path / "values.toml"
    study_file.write_text(tomli_w.dumps({"preset": "lenet5", "factor": [{"key": "k", "values": values}]}))
    (factor,) = plan_from_file(str(study_file)).factors
    assert [parse_override(factor.override(index))[1] for index in range(len(values))] == values
    assert factor.values[5:] == ['"café"', "[32, 32]", '[{ name = "pad_crop", padding = 4 }]', '{ a = "b" }', "{}"]


def test_the_bundled_study_file_loads_validates_and_is_not_a_preset():
    plan = plan_from_file("lenet5_factors", ["data.validation=0.2"], epochs=3)
    assert plan.name == "lenet5_factors" and plan.preset == "lenet5"
    assert [f.key for f in plan.factors] == ["train.batch_size", "preset", "optimizer.l2", "optimizer.learning_rate"]
    assert plan.factors[1].values == ["lenet5", "lenet5_aug"] and plan.factors[1].labels == ["no augmentation", "augmentation"]
    assert plan.overrides == ["train.epochs=30", "data.validation=0.2", "train.epochs=3"]  # the command line wins
    validate_plan(plan)
    assert "lenet5_factors" not in available_presets() and find_study("lenet5_factors").parent.name == "studies"


def test_study_file_mistakes_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('preset = "lenet5"\nfactors = []\n')
    with pytest.raises(UserError, match=r"bad.toml: factors: unknown key; allowed: .*factor"):
        plan_from_file(str(bad))
    bad.write_text('preset = "lenet5"\n[[factor]]\nkey = "train.batch_size"\nvalues = [8, 16]\nlabels = ["small"]\n')
    with pytest.raises(UserError, match="1 labels for 2 values"):
        plan_from_file(str(bad))


def test_two_factor_study_carries_the_winner_forward_and_resumes_after_a_stop(tiny_folder, tmp_path):
    study_file = tmp_path / "two.toml"
    study_file.write_text(
        'preset = "lenet5"\nepochs = 2\n'
        f'set = ["data.source=folder:{tiny_folder}", "train.batch_size=8", "data.validation=8"]\n'
        '[[factor]]\nkey = "optimizer.learning_rate"\nvalues = [0.05, 0.005]\n'
        '[[factor]]\nkey = "model.batch_norm"\nvalues = [false, true]\nlabels = ["plain", "batch norm"]\n'
    )
    plan = plan_from_file(str(study_file))
    validate_plan(plan)
    control, seen = RunControl(), []

    def stop_in_the_third_variant(event):
        seen.append(event)
        started = [e for e in seen if isinstance(e, VariantStarted)]
        if isinstance(event, EpochEnded) and len(started) == 3 and event.epoch == 1:
            control.stop()

    first = Study.create_or_resume(tmp_path / "studies", plan).run([stop_in_the_third_variant], control=control)
    assert first.status == "stopped" and first.exit_code == 0
    study = Study.open(first.path)
    assert [v.status for f in study.factors for v in f["variants"]] == ["completed", "completed", "stopped", "pending"]
    written = json.loads((first.path / "study.json").read_text())
    assert [v["status"] for f in written["factors"] for v in f["variants"]] == ["completed", "completed", "stopped", "pending"]
    stopped_run = study.factors[1]["variants"][0].run_dir

    events = []
    result = Study.create_or_resume(tmp_path / "studies", plan).run([events.append])
    assert result.status == "completed" and result.report == first.path / "report.md"
    assert [e.number for e in events if isinstance(e, VariantSkipped)] == [1, 2]
    assert [e.number for e in events if isinstance(e, VariantStarted)] == [3, 4]
    resumed = [e for e in events if isinstance(e, RunStarted)]
    assert resumed[0].initial_epoch == 1 and resumed[0].run_dir.endswith(stopped_run)

    study = Study.open(first.path)
    first_factor, second_factor = (f["variants"] for f in study.factors)
    winner = first_factor[study.factors[0]["winner"]]
    assert all(v.overrides[:-1] == winner.overrides for v in second_factor)  # the winner is carried forward
    assert [v.overrides[-1] for v in second_factor] == ["model.batch_norm=false", "model.batch_norm=true"]
    assert all(v.status == "completed" and v.run_dir for v in first_factor + second_factor)
    assert load_preset(str(first.path / second_factor[1].run_dir / "preset.toml"))["model"]["batch_norm"] is True

    first_rows = {row["variant"]: row for row in csv.DictReader(open(first.path / "factor-1-optimizer.learning_rate" / "table.csv"))}
    assert winner.label == max(first_rows, key=lambda label: float(first_rows[label]["val_accuracy"]))
    finished = [e for e in events if isinstance(e, FactorFinished)]
    assert [e.factor for e in finished] == ["optimizer.learning_rate", "model.batch_norm"]
    assert [e.label for e in events if isinstance(e, VariantFinished)] == ["plain", "batch norm"]
    history = list(csv.DictReader(open(first.path / stopped_run / "history.csv")))
    assert [row["epoch"] for row in history] == ["1", "2"]
    text = result.report.read_text()
    assert "## Factor 1, varying optimizer.learning_rate" in text and "## Factor 2, varying model.batch_norm" in text
    assert f"Every variant carries the winner of factor 1: **{winner.label}**" in text and "**Best configuration**" in text
    for folder in ("factor-1-optimizer.learning_rate", "factor-2-model.batch_norm"):
        assert {"loss.png", "accuracy.png", "table.md", "table.csv"} <= {p.name for p in (first.path / folder).iterdir()}

    assert report([first.path]) == result.report  # `kerashp report STUDY` redraws it in place
    combined = report([first.path / second_factor[0].run_dir, first.path], tmp_path / "combined").read_text()
    assert combined.startswith(f"# Report: run {Path(second_factor[0].run_dir).name}, Study two") and "## Factor 2, varying model.batch_norm" in combined
    assert (tmp_path / "combined" / "two-factor-2-model.batch_norm" / "table.csv").is_file()


def test_a_study_name_with_another_plan_is_refused(tmp_path):
    Study.create_or_resume(tmp_path, plan_from_args("lenet5", ["optimizer.learning_rate=0.1,0.01"], name="lr"))
    with pytest.raises(UserError, match="another plan"):
        Study.create_or_resume(tmp_path, plan_from_args("lenet5", ["optimizer.learning_rate=0.2,0.01"], name="lr"))


@pytest.mark.parametrize(
    "vary, message",
    [
        ("optimizer.nosuch=1,2", "--vary: optimizer.nosuch = 1: unknown key"),  # the value given, not None
        ("nosuch.key=1,2", "--vary: nosuch.key = 1: nosuch: unknown section or key"),  # not blamed on --set
        ('optimizer={name = "x"},{}', '--vary: optimizer.name = "x": unknown value'),
    ],
)
def test_a_bad_varied_key_is_blamed_on_vary_with_the_value_given(vary, message):
    with pytest.raises(PresetError) as caught:
        validate_plan(plan_from_args("lenet5", [vary], FAST))
    assert str(caught.value).startswith(message)


def test_a_bad_shared_override_is_still_blamed_on_set():
    with pytest.raises(PresetError) as caught:
        validate_plan(plan_from_args("lenet5", ["optimizer.learning_rate=0.1,0.2"], [*FAST, "optimizer.nosuch=3"]))
    assert str(caught.value).startswith("--set: optimizer.nosuch")


def final_row(label: str, status: str = "completed") -> dict:
    return {"variant": label, "status": status, "train_loss": 0.5199, "train_accuracy": 0.8422, "val_loss": 2.0458,
            "val_accuracy": 0.438, "best_val_accuracy": 0.44, "best_val_epoch": 10, "test_accuracy": 0.476}  # fmt: skip


def recording_console(width: int) -> Console:
    return Console(width=width, record=True, file=open(os.devnull, "w"))


def render(renderable, width: int = 80) -> str:
    console = recording_console(width)
    console.print(renderable)
    return console.export_text()


def test_the_end_of_factor_table_fits_80_columns_without_cutting_variants():
    from kerashp.cli.study_command import factor_table

    text = render(factor_table(FactorFinished("optimizer.learning_rate", [final_row("learning_rate=0.5"), final_row("learning_rate=0.05")], 1)))
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    assert "learning_rate" in text.splitlines()[0] and "│ 0.05 winner " in text and "status" not in text  # the value alone
    long = "flip+crop+colour-jitter-strong-and-more"
    text = render(factor_table(FactorFinished("augment.transforms", [final_row("none"), final_row(long, "diverged")], 0)))
    assert "…" not in text and "0.4380" in text and "diverged" in text
    assert long in "".join(line.split("│")[1].strip() for line in text.splitlines() if line.count("│") > 2)  # wrapped, whole


def test_a_stopped_variant_prints_only_the_studys_resume_hint():
    from kerashp.cli.study_command import StudyView
    from kerashp.events import RunFinished
    from kerashp.study.study import StudyFinished

    view = StudyView()
    view.console = view.run_view.console = recording_console(60)
    run = "studies/a-long-study-name/runs/1.2-learning_rate=0.05/lenet5-20261125-033426"
    view(RunFinished("interrupted", run, {"final": {}, "wall_time": 1.0}))
    view(StudyFinished("studies/a-long-study-name", "interrupted", ""))
    text = view.console.export_text()
    assert "kerashp train --resume" not in text and "resume with  kerashp study studies/a-long-study-name" in text
    assert run in text  # the run path on one line, whole, though longer than the console
