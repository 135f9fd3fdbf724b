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
    StudyPlan,
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
    assert written["memory_layout"] in ("contiguous", "channels_last")  # the first run's, every later run's
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
    trained = load_preset(str(first.path / second_factor[1].run_dir / "preset.toml"))
    assert trained["model"]["batch_norm"] is True and trained["train"]["memory_layout"] == written["memory_layout"]

    first_rows = {row["variant"]: row for row in csv.DictReader(open(first.path / "factor-1-optimizer.learning_rate" / "table.csv"))}
    assert winner.label == max(first_rows, key=lambda label: float(first_rows[label]["val_accuracy"]))
    finished = [e for e in events if isinstance(e, FactorFinished)]
    assert [e.factor for e in finished] == ["optimizer.learning_rate", "model.batch_norm"]
    assert [e.label for e in events if isinstance(e, VariantFinished)] == ["plain", "batch norm"]
    history = list(csv.DictReader(open(first.path / stopped_run / "history.csv")))
    assert [row["epoch"] for row in history] == ["1", "2"]
    text = result.report.read_text()
    assert "## Factor 1, varying optimizer.learning_rate" in text and "## Factor 2, varying model.batch_norm" in text
    assert f"Every variant carries the leader of factor 1 (its highest mean final validation accuracy, a significant winner or not): **{winner.label}**" in text
    assert "**Leading configuration (not a significant win)**" in text  # one seed per variant: no test
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


def final_row(label: str, status: str = "completed", runs: int = 1) -> dict:
    spread = {"val_accuracy_std": 0.0123, "val_accuracy_ci_low": 0.4075, "val_accuracy_ci_high": 0.4685} if runs > 1 else \
        {"val_accuracy_std": None, "val_accuracy_ci_low": None, "val_accuracy_ci_high": None}
    return {"variant": label, "status": status, "runs": runs, "train_loss": 0.5199, "train_accuracy": 0.8422,
            "val_loss": 2.0458, "val_accuracy": 0.438, "best_val_accuracy": 0.44, "best_val_epoch": 10,
            "test_accuracy": 0.476, **spread}  # fmt: skip


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
    verdict = "No significant difference: **learning_rate=0.5** (mean 0.4380 over 3 seeds) vs ...; p = 0.41"
    rows = [final_row("learning_rate=0.5", runs=3), final_row("learning_rate=0.05", runs=3)]
    text = render(factor_table(FactorFinished("optimizer.learning_rate", rows, None, verdict)))
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text and "winner" not in text
    assert "0.438±0.012" in text and "0.407 to 0.469" in text and "mean over 3 seeds" in text
    assert "No significant difference: learning_rate=0.5 (mean 0.4380" in text  # the verdict, without markdown


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


def test_seeds_come_from_the_command_line_or_the_study_file_and_are_checked(tmp_path):
    plan = plan_from_args("lenet5", ["train.batch_size=32,64"], FAST, seeds=3)
    assert plan.seeds == 3 and plan.seeds_for(7) == [7, 1007, 2007] and plan.total == 6
    assert plan_from_args("lenet5", ["train.batch_size=32,64"]).seeds_for(7) == [7]
    study_file = tmp_path / "seeded.toml"
    study_file.write_text('preset = "lenet5"\nseeds = [3, 1, 4]\n[[factor]]\nkey = "train.batch_size"\nvalues = [8, 16]\n')
    assert plan_from_file(str(study_file)).seeds_for(0) == [3, 1, 4]
    assert plan_from_file(str(study_file), seeds=2).seeds_for(5) == [5, 1005]  # --seeds wins
    for bad in ("0", "[1, 1]", "[-1]", "[]", '"3"', "2.5"):
        study_file.write_text(f'preset = "lenet5"\nseeds = {bad}\n[[factor]]\nkey = "train.batch_size"\nvalues = [8]\n')
        with pytest.raises(UserError, match=r"seeded.toml: seeds = .*: expected a number of seeds"):
            plan_from_file(str(study_file))
    with pytest.raises(UserError, match="`seed` cannot be a factor too"):
        validate_plan(StudyPlan("s", "lenet5", [Factor.parse("seed=1,2")], seeds=[5, 6]))


def seeded_study(tmp_path: Path, seeds=2) -> Study:
    """A study folder of two variants with `seeds` seeds each; nothing trained."""
    study = Study.create_or_resume(tmp_path, plan_from_args("lenet5", ["train.batch_size=32,64"], FAST, seeds=seeds))
    study.variants_of(0)
    return study


def test_each_seed_of_a_variant_is_one_run_folder_recorded_in_study_json(tmp_path):
    study = seeded_study(tmp_path)
    first = study.factors[0]["variants"][0]
    assert [(r.seed, r.folder) for r in first.repeats] == [(0, "runs/1.1-batch_size=32/seed-0"), (1000, "runs/1.1-batch_size=32/seed-1000")]
    assert first.repeats[1].overrides == [*first.overrides, "seed=1000"] and first.repeats[1].label == "batch_size=32, seed 1000"
    reopened = Study.open(study.path)
    assert [[r.seed for r in v.repeats] for v in reopened.factors[0]["variants"]] == [[0, 1000], [0, 1000]]
    assert reopened.memory_layout is None and reopened.layout_overrides(first.repeats[0]) == first.repeats[0].overrides
    reopened.memory_layout = "channels_last"  # chosen by the study's first run: every later run keeps it
    assert reopened.layout_overrides(first.repeats[0])[-1] == "train.memory_layout=channels_last"
    pinned = StudyPlan("p", "lenet5", [Factor.parse("train.memory_layout=contiguous,channels_last")], FAST)
    pinned_study = Study.create_or_resume(tmp_path, pinned)
    pinned_study.memory_layout = "channels_last"
    variant = pinned_study.variants_of(0)[0]  # one seed: the variant is its run
    assert variant.runs == [variant] and pinned_study.layout_overrides(variant) == variant.overrides  # the preset's own


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["factors"][0]["variants"][0]["runs"].pop(), r"variants\[0\].runs = 1: expected 2 runs, one per seed"),
        (lambda d: d["factors"][0]["variants"][0]["runs"][1].update(seed=5), r"runs\[1\].seed = 5: expected 1000"),
        (lambda d: d["factors"][0]["variants"][0]["runs"][1].update(seed="x"), r"runs\[1\].seed = \"x\": expected a seed"),
        (lambda d: d["factors"][0]["variants"][0]["runs"][0].update(folder="runs/elsewhere"), r"runs\[0\].folder = .*expected runs/1.1-batch_size=32/seed-0"),
        (lambda d: d["factors"][0]["variants"][0]["runs"][0].update(run_dir="runs/1.1-batch_size=32/seed-0/../../x"), "expected a run folder in"),
        (lambda d: d.update(memory_layout="sideways"), "memory_layout = \"sideways\": expected contiguous or channels_last or null"),
        (lambda d: d["plan"].update(seeds=0), "plan.seeds = 0: expected a number of seeds"),
    ],
)
def test_a_tampered_seed_record_is_refused_naming_the_key(tmp_path, edit, message):
    study = seeded_study(tmp_path)
    document = json.loads((study.path / "study.json").read_text())
    edit(document)
    (study.path / "study.json").write_text(json.dumps(document))
    with pytest.raises(UserError, match=message):
        Study.open(study.path)


def test_a_study_folder_from_before_seeds_reads_as_one_seed(tmp_path):
    study = seeded_study(tmp_path, seeds=1)
    document = json.loads((study.path / "study.json").read_text())
    assert "runs" not in document["factors"][0]["variants"][0]  # one seed: the variant is its run, as before
    del document["memory_layout"], document["plan"]["seeds"]
    (study.path / "study.json").write_text(json.dumps(document))
    old = Study.open(study.path)
    assert old.plan.seeds == 1 and old.memory_layout is None
    variant = old.factors[0]["variants"][1]
    assert variant.runs == [variant] and variant.folder == "runs/1.2-batch_size=64" and variant.overrides[-1] == "train.batch_size=64"
    document["factors"][0]["variants"][1]["runs"] = []
    (study.path / "study.json").write_text(json.dumps(document))
    with pytest.raises(UserError, match=r"variants\[1\] = \[\"runs\"\]: unknown key\(s\); allowed: label, preset, folder, run_dir"):
        Study.open(study.path)
