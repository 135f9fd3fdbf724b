"""Searches: the space (checks, KerasTuner declaration, values back to presets), median stopping,
trial records and trials.csv, the search directory, best-trial export, and small real searches."""

from __future__ import annotations

import csv
import io
import math
import textwrap
from pathlib import Path

import pytest

from kerashp.config import load_preset
from kerashp.control import RunControl
from kerashp.errors import PresetError, UserError
from kerashp.events import EpochEnded
from kerashp.search.directory import SearchDir
from kerashp.search.labels import short_names
from kerashp.search.pruning import MedianStopping
from kerashp.search.records import TrialRecord, best, ranked, trials_csv
from kerashp.search.results import SearchResults
from kerashp.search.space import (
    check_search,
    declaration_order,
    epochs_key,
    epochs_per_trial,
    override_expression,
    trial_preset,
)

SPACE = """
"optimizer.learning_rate" = { type = "float", min = 1e-4, max = 0.1, log = true }
"optimizer.name" = ["sgd", "adam"]
"optimizer.momentum" = { type = "float", min = 0.0, max = 0.99, when = { "optimizer.name" = "sgd" } }
"train.batch_size" = [8, 16]
"augment.transforms.horizontal_flip.p" = { type = "float", min = 0.0, max = 0.5, step = 0.1 }
"model.batch_norm" = { type = "bool" }
"""


def write_preset(directory: Path, space: str = SPACE, search: str = "", extends: str = "lenet5_aug", name: str = "s", body: str = "") -> Path:
    path = directory / f"{name}.toml"
    path.write_text(f'extends = "{extends}"\n{body}\n[search]\n{search}\n[search.space]\n{textwrap.dedent(space)}')
    return path


def preset_with(tmp_path: Path, space: str = SPACE, **kwargs):
    return load_preset(str(write_preset(tmp_path, space, **kwargs)))


# ---------------------------------------------------------------------------------------- the space


def test_the_example_preset_and_a_full_space_pass_the_checks(tmp_path):
    check_search(load_preset("lenet5_search"))
    check_search(preset_with(tmp_path))


@pytest.mark.parametrize(
    "space, search, expected",
    [
        ("", "", "nothing to search"),
        ('"optimizer.l2" = [0.0, 1e-3]', 'objective = "test_accuracy"', "search.objective"),
        ('"train.epochs" = [1, 2]', 'algorithm = "hyperband"', "hyperband sets each trial's epochs"),
        ('"train.epochs" = [1, 2]', 'algorithm = "bohb"', "bohb sets each trial's epochs"),
        ('"optimizer.l2" = [0.0, 1e-3]', 'algorithm = "bohb"\nprune = 3', "bohb stops trials early through its brackets"),
        ('"train.batch_size" = { type = "int", min = 1.5, max = 4 }', "", "whole-number min and max"),
        ('"optimizer.name" = ["sgd", 1]', "", "one type"),
        ('"optimizer.name" = [{ name = "sgd" }]', "", "numbers, strings, booleans or lists"),
        ('"optimizer.beta_1" = { min = 0.5, max = 1.0 }', "", 'optimizer.beta_1 = 1.0: out of range'),
        ('"optimizer.name" = ["sgd", "lion"]', "", 'optimizer.name = "lion": unknown value'),
        ('"optimizer.momentum" = { min = 0.0, max = 0.9, when = { "optimizer.nam" = "sgd" } }', "", "unknown key; did you mean name?"),
        ('"optimizer.momentum" = { min = 0.0, max = 0.9, when = { "optimizer.name" = "sgdd" } }', "", 'optimizer.name = "sgdd"'),
        ('"optimizer.learning_rate" = { min = 0.01, max = 0.1 }\n'
         '"optimizer.momentum" = { min = 0.0, max = 0.9, when = { "optimizer.learning_rate" = 0.01 } }', "", "only name a choice or bool"),
        ('"optimizer.name" = ["adam"]\n"optimizer.momentum" = { min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }', "", "never takes"),
        ('"optimizer.name" = { type = "choice", values = ["sgd"], when = { "optimizer.nesterov" = true } }\n'
         '"optimizer.nesterov" = { type = "bool", when = { "optimizer.name" = "sgd" } }', "", "cycle"),
    ],
)
def test_a_space_that_cannot_run_fails_before_training_with_one_line(tmp_path, space, search, expected):
    preset = preset_with(tmp_path, space, search=search)
    with pytest.raises(PresetError) as caught:
        check_search(preset)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_validation_objective_needs_a_validation_split(tmp_path):
    with pytest.raises(PresetError, match="needs a validation split"):
        check_search(preset_with(tmp_path, body="[data]\nvalidation = 0"))


def test_epochs_per_trial_is_train_epochs_or_hyperbands_most(tmp_path):
    """One mapping for `kerashp tune --epochs` and the TUI's search dialog: Hyperband hands each trial
    its own epochs (tuner/epochs), up to search.max_epochs; the others train train.epochs."""
    preset = preset_with(tmp_path, body="[train]\nepochs = 7", search="max_epochs = 5")
    assert [epochs_key(a) for a in ("random", "bayesian", "grid", "tpe", "hyperband", "bohb")] == [
        "train.epochs", "train.epochs", "train.epochs", "train.epochs", "search.max_epochs", "search.max_epochs"]
    assert epochs_per_trial(preset) == 7 and epochs_per_trial(preset, "hyperband") == 5


def test_parents_are_declared_before_their_conditional_children(tmp_path):
    space = preset_with(tmp_path, '"optimizer.momentum" = { min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }\n'
                                  '"optimizer.name" = ["sgd", "adam"]')["search"]["space"]
    assert declaration_order(space) == ["optimizer.name", "optimizer.momentum"]


@pytest.mark.parametrize(
    "key, value, expected",
    [("optimizer.name", "sgd", 'optimizer.name="sgd"'), ("model.batch_norm", False, "model.batch_norm=false"),
     ("optimizer.learning_rate", 0.001, "optimizer.learning_rate=0.001"), ("train.batch_size", 32, "train.batch_size=32")],
)
def test_values_become_toml_overrides(key, value, expected):
    assert override_expression(key, value) == expected


def test_a_trial_preset_applies_values_by_list_entry_name_and_drops_the_search(tmp_path):
    base = preset_with(tmp_path)
    trial = trial_preset(base, {"augment.transforms.horizontal_flip.p": 0.3, "optimizer.name": "adam", "train.batch_size": 16})
    flip = next(t for t in trial["augment"]["transforms"] if t["name"] == "horizontal_flip")
    assert flip["p"] == 0.3 and trial["optimizer"]["name"] == "adam" and trial["train"]["batch_size"] == 16
    assert trial["search"]["space"] == {} and trial.name == base.name
    assert next(t for t in base["augment"]["transforms"] if t["name"] == "horizontal_flip")["p"] == 0.15  # base untouched


def test_keras_tuner_space_has_conditions_and_decides_fixed_ones_now(tmp_path):
    from kerashp.search.space import active_values, hyperparameters

    space = SPACE + '"optimizer.nesterov" = { type = "bool", when = { "schedule.name" = "cosine" } }\n'
    hp = hyperparameters(preset_with(tmp_path, space))  # lenet5_aug's schedule is "step": nesterov is never searched
    assert [p.name for p in hp.space] == [
        "optimizer.learning_rate", "optimizer.name", "optimizer.momentum", "train.batch_size",
        "augment.transforms.horizontal_flip.p", "model.batch_norm",
    ]
    space = preset_with(tmp_path, space)["search"]["space"]
    hp.values["optimizer.name"] = "adam"
    assert "optimizer.momentum" not in active_values(hp, space)
    hp.values["optimizer.name"] = "sgd"
    assert "optimizer.momentum" in active_values(hp, space)


MLP = '[model]\nname = "mlp"'


def test_list_choices_search_mlp_depth_through_keras_tuner(tmp_path):
    """The MLP study searched depth 3..9: a choice of hidden-layer lists (KerasTuner holds them as text)."""
    from kerashp.search.space import active_values, hyperparameters

    preset = preset_with(tmp_path, '"model.hidden" = [[32, 32, 32], [32, 32, 32, 32, 32, 32, 32, 32, 32]]\n'
                                   '"optimizer.l2" = { min = 1e-5, max = 1e-2, log = true }', body=MLP)
    check_search(preset)
    hp = hyperparameters(preset)
    hp.values["model.hidden"] = "[32, 32, 32, 32, 32, 32, 32, 32, 32]"
    values = active_values(hp, preset["search"]["space"])
    assert values["model.hidden"] == [32] * 9
    assert trial_preset(preset, values)["model"]["hidden"] == [32] * 9
    with pytest.raises(PresetError, match="model.hidden"):
        check_search(preset_with(tmp_path, '"model.hidden" = [[32], ["wide"]]', body=MLP))


@pytest.mark.parametrize(
    "sent, accepted",
    [
        ("[32, 32, 32]", True),
        ("[\n    32,\n    32,\n    32,\n]", True),  # as searches started before one-line TOML values hold it
        ("[32, 32]", False),
        ("[32.0, 32.0, 32.0]", False),
        ("[32, 32, 32", False),
        ("[" * 5000, False),
        (32, False),
    ],
)
def test_a_worker_takes_a_list_choice_as_any_kerashp_wrote_it(tmp_path, sent, accepted):
    from kerashp.search.guard import trial_problem

    preset = preset_with(tmp_path, '"model.hidden" = [[32, 32, 32], [64]]', body=MLP)
    search = SearchDir.prepare(tmp_path / "search", preset)
    problem = trial_problem("0", {"model.hidden": sent}, preset, search)
    assert (problem is None) == accepted, problem


def test_bayesian_oracle_proposes_valid_presets_from_a_conditional_space(tmp_path):
    """Drive KerasTuner's Gaussian-process oracle past its random start: every proposal must be a
    preset that validates, with momentum only for SGD."""
    import keras_tuner

    from kerashp.search.space import active_values, hyperparameters

    base = preset_with(tmp_path)
    oracle = keras_tuner.oracles.BayesianOptimizationOracle(
        objective=keras_tuner.Objective("val_accuracy", "max"), max_trials=6, hyperparameters=hyperparameters(base),
        num_initial_points=2, seed=1,
    )
    oracle._set_project_dir(str(tmp_path), "oracle")
    oracle.verbose = 0
    for number in range(6):
        trial = oracle.create_trial("tuner0")
        values = active_values(trial.hyperparameters, base["search"]["space"])
        preset = trial_preset(base, values)
        assert ("optimizer.momentum" in values) == (values["optimizer.name"] == "sgd")
        assert 1e-4 <= preset["optimizer"]["learning_rate"] <= 0.1
        oracle.update_trial(trial.trial_id, {"val_accuracy": math.sin(number)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_a_grid_counts_its_combinations_through_conditions(tmp_path):
    from kerashp.search.space import grid_size, hyperparameters

    space = ('"optimizer.name" = ["sgd", "adam"]\n'
             '"optimizer.momentum" = { min = 0.0, max = 0.9, step = 0.3, when = { "optimizer.name" = "sgd" } }\n'
             '"model.batch_norm" = { type = "bool" }')
    hp = hyperparameters(preset_with(tmp_path, space))
    assert grid_size(hp, limit=100) == (4 + 1) * 2  # sgd with 4 momenta, adam without; each with and without batch norm
    assert grid_size(hp, limit=3) == 3


def test_values_that_crossed_grpc_keep_the_spaces_declared_order(tmp_path):
    """KerasTuner's proto lists hyperparameters by type (floats, ints, choices, booleans); a
    distributed trial still shows and records them in the preset's order."""
    import keras_tuner

    from kerashp.search.space import active_values, hyperparameters

    preset = preset_with(tmp_path)
    hp = hyperparameters(preset)
    hp.values.update({"optimizer.name": "sgd", "model.batch_norm": True})
    received = keras_tuner.HyperParameters.from_proto(hp.to_proto())
    assert [p.name for p in received.space] != list(preset["search"]["space"])  # what the bug looked like
    assert list(active_values(received, preset["search"]["space"])) == list(preset["search"]["space"])


# ---------------------------------------------------------------------------------------- pruning


def epoch(number: int, value: float, epochs: int = 5) -> EpochEnded:
    return EpochEnded(number, epochs, {"val_accuracy": value})


def test_median_stopping_stops_a_trial_below_the_median_at_that_epoch():
    control = RunControl()
    stopper = MedianStopping("val_accuracy", "max", [[0.3, 0.5], [0.4, 0.6], [0.5, 0.7, 0.8]], control)
    stopper(epoch(1, 0.45))  # median 0.4: above it
    assert not control.stopped
    stopper(epoch(2, 0.55))  # median of 0.5, 0.6, 0.7 is 0.6: below it
    assert control.stopped and "epoch 2" in stopper.reason and "median 0.6" in stopper.reason


def test_median_stopping_waits_for_enough_trials_and_spares_the_last_epoch():
    control = RunControl()
    few = MedianStopping("val_accuracy", "max", [[0.9], [0.9]], control)
    few(epoch(1, 0.1))
    last = MedianStopping("val_accuracy", "max", [[0.9] * 5] * 3, control)
    last(epoch(5, 0.1))
    assert not control.stopped


def test_median_stopping_minimises_losses():
    control = RunControl()
    MedianStopping("val_loss", "min", [[1.0]], control, min_trials=1)(EpochEnded(1, 3, {"val_loss": 2.0}))
    assert control.stopped


def test_pruning_is_a_preset_setting_that_prune_overrides_and_the_search_keeps(tmp_path):
    """`--prune N` becomes search.prune in search.toml, which `kerashp tune --dir` (a resumed search,
    a worker) reads back; it cannot be changed there, and hyperband refuses it."""
    from kerashp.cli import build_parser
    from kerashp.cli.tune_command import _open_search

    preset, where = str(write_preset(tmp_path, search="prune = 5")), str(tmp_path / "search")
    parse = build_parser().parse_args
    assert _open_search(parse(["tune", "--preset", preset, "--dir", where]))[0]["search"]["prune"] == 5
    assert _open_search(parse(["tune", "--preset", preset, "--dir", where, "--prune", "2"]))[0]["search"]["prune"] == 2
    assert "prune = 2" in (tmp_path / "search" / "search.toml").read_text()
    assert _open_search(parse(["tune", "--dir", where]))[0]["search"]["prune"] == 2
    with pytest.raises(UserError, match="--dir without --preset"):
        _open_search(parse(["tune", "--dir", where, "--prune"]))
    with pytest.raises(UserError, match="--prune: hyperband"):
        _open_search(parse(["tune", "--preset", preset, "--dir", where, "--algorithm", "hyperband", "--prune"]))
    with pytest.raises(PresetError, match="search.prune = 5: hyperband stops trials early"):
        _open_search(parse(["tune", "--preset", preset, "--dir", str(tmp_path / "hb"), "--algorithm", "hyperband"]))


# ---------------------------------------------------------------------------------------- records


def record(trial_id: str, status: str, objective: float | None, **values) -> TrialRecord:
    return TrialRecord(trial_id, status, values, objective=objective, epochs=2, best_epoch=1 if objective else None)


def test_ranking_puts_the_best_first_and_only_completed_trials_can_be_best():
    records = [record("0", "completed", 0.5), record("1", "pruned", 0.9), record("2", "failed", None), record("3", "completed", 0.7)]
    assert [r.trial_id for r in ranked(records, "max")] == ["1", "3", "0", "2"]
    assert best(records, "max").trial_id == "3" and best(records, "min").trial_id == "0"
    assert best([record("0", "failed", None)], "max") is None


def test_trials_csv_has_one_row_per_trial_with_empty_cells_for_unused_values():
    records = [
        record("1", "completed", 0.25, **{"optimizer.name": "adam"}),
        record("0", "completed", 0.5, **{"optimizer.name": "sgd", "optimizer.momentum": 0.9}),
    ]
    rows = list(csv.DictReader(io.StringIO(trials_csv(records, ["optimizer.name", "optimizer.momentum"]))))
    assert [r["trial_id"] for r in rows] == ["0", "1"]
    assert rows[1]["optimizer.momentum"] == "" and rows[0]["optimizer.momentum"] == "0.9"
    assert rows[0]["objective"] == "0.5" and "bracket" not in rows[0]
    assert TrialRecord.from_json(records[0].to_json()) == records[0]


def test_short_column_names_stay_unambiguous():
    names = short_names(["optimizer.learning_rate", "augment.transforms.horizontal_flip.p", "optimizer.l2", "model.depth", "optimizer.name"])
    assert list(names.values()) == ["learning_rate", "horizontal_flip.p", "optimizer.l2", "depth", "optimizer.name"]


def test_the_results_table_shows_booleans_as_toml_and_breaks_headers_only_between_words():
    from rich.console import Console

    from kerashp.cli.search_view import results_table

    keys = ["optimizer.learning_rate", "optimizer.name", "optimizer.momentum", "augment.transforms.horizontal_flip.p",
            "augment.mixup_alpha", "train.batch_size", "model.batch_norm"]
    values = dict(zip(keys, [0.0123, "sgd", 0.5, 0.3, 0.2, 16, True]))
    records = [TrialRecord("0", "completed", values, worker="worker1", epochs=3, objective=0.5, best_epoch=2, time_s=1.0)]
    for width in (180, 140):
        console = Console(width=width, record=True)
        console.print(results_table(records, "val_accuracy", keys, "trials", console))
        text = console.export_text()
        header = [[cell.strip() for cell in line.split("┃")[1:-1]] for line in text.splitlines() if line.startswith("┃")]
        words = {"".join(column) for column in zip(*header)}  # each column's header lines joined back
        assert {"learning_rate", "horizontal_flip.p", "batch_size", "batch_norm", "val_accuracy"} <= words, text
        assert max(len(line) for line in text.splitlines()) <= width
        assert "true" in text and "True" not in text


def test_a_trial_line_lists_values_in_the_spaces_order_with_toml_booleans():
    from rich.console import Console

    from kerashp.cli.search_view import SearchView
    from kerashp.search.events import SearchStarted, TrialStarted

    console = Console(width=200, record=True)
    view = SearchView(console)
    view(SearchStarted("s", "p", "random", "val_accuracy", "max", 3, 0, "chief", ["optimizer.name", "model.batch_norm"]))
    view(TrialStarted(TrialRecord("0", "running", {"model.batch_norm": False, "optimizer.name": "adam"}).to_json(), 3))
    assert "optimizer.name=adam  model.batch_norm=false" in console.export_text()


# ---------------------------------------------------------------------------------------- directory


def test_a_search_directory_reopens_for_the_same_search_and_refuses_another(tmp_path):
    base = preset_with(tmp_path)
    where = tmp_path / "search"
    SearchDir.prepare(where, base)
    SearchDir.prepare(where, preset_with(tmp_path, search="max_trials = 50"))  # extending is allowed
    assert SearchDir.open(where).read_preset()["search"]["max_trials"] == 50
    with pytest.raises(UserError, match="different optimizer.learning_rate"):
        SearchDir.prepare(where, preset_with(tmp_path, body="[optimizer]\nlearning_rate = 0.5"))
    SearchDir.prepare(where, preset_with(tmp_path, body="[optimizer]\nlearning_rate = 0.5"), overwrite=True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not a kerashp search directory"):
        SearchDir.prepare(tmp_path / "other", base, overwrite=True)
    assert (tmp_path / "other" / "notes.txt").exists()


def test_pruning_may_change_on_an_existing_search_but_cannot_hide_another_change(tmp_path):
    where = tmp_path / "search"
    SearchDir.prepare(where, preset_with(tmp_path))
    SearchDir.prepare(where, preset_with(tmp_path, search="prune = 3"))
    assert SearchDir.open(where).read_preset()["search"]["prune"] == 3
    with pytest.raises(UserError, match="different train.epochs"):  # compared after search.max_trials
        SearchDir.prepare(where, preset_with(tmp_path, search="max_trials = 50", body="[train]\nepochs = 1234"))


def test_the_best_trial_exports_as_a_preset_that_loads(tmp_path):
    base = preset_with(tmp_path)
    search = SearchDir.prepare(tmp_path / "search", base)
    values = {"optimizer.learning_rate": 0.02, "optimizer.name": "sgd", "optimizer.momentum": 0.8, "train.batch_size": 16}
    search.write_record(record("0", "completed", 0.4, **{**values, "optimizer.learning_rate": 0.001}))
    search.write_record(record("1", "completed", 0.6, **values))
    search.write_record(record("2", "pruned", 0.9, **values))
    search.write_table()
    results = SearchResults.load(search.path)
    assert [r.trial_id for r in results.records] == ["2", "1", "0"]
    file = tmp_path / "best.toml"
    assert results.export_best(file).trial_id == "1"
    exported = load_preset(str(file))
    assert exported["optimizer"]["learning_rate"] == 0.02 and exported["optimizer"]["momentum"] == 0.8
    assert exported["search"]["space"] == {} and exported["augment"] == base["augment"]
    assert "best trial 1" in exported["description"]



def test_a_search_started_from_a_relative_folder_exports_a_preset_that_runs_from_anywhere(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    relative = preset_with(tmp_path, body='[data]\nsource = "folder:data"')
    search = SearchDir.prepare(tmp_path / "search", relative)
    SearchDir.prepare(tmp_path / "search", relative)  # the same search, though search.toml holds the absolute path
    assert search.read_preset()["data"]["source"] == f"folder:{tmp_path / 'data'}"
    search.write_record(record("0", "completed", 0.4, **{"optimizer.learning_rate": 0.02, "optimizer.name": "sgd",
                                                         "optimizer.momentum": 0.8, "train.batch_size": 16}))
    file = tmp_path / "best.toml"
    SearchResults.load(search.path).export_best(file)
    monkeypatch.chdir(tmp_path / "data")
    assert load_preset(str(file))["data"]["source"] == f"folder:{tmp_path / 'data'}"


# ---------------------------------------------------------------------------------------- real searches


def tiny_search(tmp_path: Path, tiny_folder: Path, space: str, search: str, body: str = "", epochs: int = 2) -> tuple:
    path = write_preset(
        tmp_path, space, search=search, extends="lenet5",
        body=f'[data]\nsource = "folder:{tiny_folder}"\nvalidation = 8\n[train]\nbatch_size = 8\nepochs = {epochs}\n{body}',
    )
    preset = load_preset(str(path))
    check_search(preset)
    return preset, SearchDir.prepare(tmp_path / "search", preset)


def test_a_diverging_trial_fails_a_worse_one_is_pruned_and_the_search_completes(tmp_path, tiny_folder):
    """Grid order is fixed: trial 0 is good; trial 1 adds a huge L2 term to its loss, so its
    val_loss is far above trial 0's and median stopping (after 1 trial) prunes it at epoch 1; trials
    2 and 3 use learning rate 1e3 and diverge. The pruning setting is read back from search.toml,
    as a worker or a resumed search (`kerashp tune --dir`) reads it."""
    from kerashp.search.runner import run_search

    _, search = tiny_search(
        tmp_path, tiny_folder, '"optimizer.learning_rate" = [0.01, 1000.0]\n"optimizer.l2" = [0.0, 10.0]',
        'algorithm = "grid"\nobjective = "val_loss"\ndirection = "min"\nmax_trials = 9\nprune = 1', "[model]\nbatch_norm = false",
    )
    seen = []
    records = run_search(search.read_preset(), search, [seen.append])
    by_id = {r.trial_id: r for r in records}
    assert [by_id[i].status for i in "0123"] == ["completed", "pruned", "failed", "failed"]
    assert by_id["1"].epochs == 1 and "pruned after epoch 1" in by_id["1"].reason
    assert "diverged" in by_id["2"].reason and by_id["2"].objective is None
    assert records[0].trial_id == "0" and by_id["0"].epochs == 2 and by_id["0"].best_epoch in (1, 2)
    rows = list(csv.DictReader(open(search.path / "trials.csv")))
    assert [r["status"] for r in rows] == ["completed", "pruned", "failed", "failed"]
    kinds = [type(e).__name__ for e in seen]
    assert kinds.count("TrialStarted") == 4 and kinds.count("TrialEnded") == 4 and kinds[-1] == "SearchFinished"
    assert seen[0].planned_trials == 4  # the grid's 4 combinations, not max_trials = 9
    assert "EpochEnded" in kinds


def test_each_execution_is_its_own_run_with_its_own_seed(tmp_path, tiny_folder):
    from kerashp.runs.folder import RunDir
    from kerashp.search.runner import run_search

    preset, search = tiny_search(
        tmp_path, tiny_folder, '"optimizer.learning_rate" = [0.01]', "max_trials = 1\nexecutions_per_trial = 2", epochs=1,
    )
    (trial,) = run_search(preset, search)
    assert trial.status == "completed" and len(trial.runs) == 2
    seeds = [RunDir(search.path / run).read_preset_document()["seed"] for run in trial.runs]
    assert seeds == [0, 1] and trial.objective is not None


def test_a_hyperband_parents_run_is_copied_only_while_no_process_writes_it(tmp_path):
    """A child trial copies its parent's run under the parent's lock: a run another process trains is
    refused, not copied half-written; a free one is copied whole and left free."""
    import fcntl
    import os

    from kerashp.errors import RunError
    from kerashp.runs.folder import RunDir
    from kerashp.search.executions import _copy_run

    parent = RunDir.create(tmp_path / "trials" / "0", "s")
    parent.preset_file.write_text("seed = 0\n")
    parent.write_summary({"status": "running", "pid": os.getpid()})
    trainer = os.open(parent.path, os.O_RDONLY | os.O_DIRECTORY)  # as RunDir.lock() in another process
    fcntl.flock(trainer, fcntl.LOCK_EX)
    child = tmp_path / "trials" / "1"
    try:
        with pytest.raises(RunError, match="still being trained"):
            _copy_run(parent, child)
    finally:
        os.close(trainer)
    assert list(child.iterdir()) == []  # nothing copied, not even a temp folder
    copy = _copy_run(parent, child)
    assert copy.path == child / parent.name and copy.preset_file.read_text() == "seed = 0\n"
    assert not parent.held() and not copy.held()


def test_a_trials_time_keeps_what_a_killed_session_trained(tmp_path):
    """Item 7 of issue 14 for a search: state.json's wall time (committed each epoch) counts when it is
    the newer, and a Hyperband parent's time is taken off either way."""
    from kerashp.runs.folder import RunDir
    from kerashp.search.executions import _outcome

    def run(name: str, summary: dict, state: dict) -> RunDir:
        made = RunDir.create(tmp_path / name, "s")
        made.write_summary(summary)
        made.write_state({"epochs_done": 2, **state})
        made.write_history([{"epoch": 1, "val_accuracy": 0.3}, {"epoch": 2, "val_accuracy": 0.4}])
        return made

    parent = run("parent", {"status": "completed", "wall_time": 3.0}, {"wall_time": 3.0})
    # killed in a later session: summary.json still holds the wall time of the session before
    killed = run("killed", {"status": "running", "wall_time": 4.0}, {"wall_time": 12.5})
    assert _outcome(killed, "val_accuracy", None).time_s == 12.5
    assert _outcome(killed, "val_accuracy", parent).time_s == 9.5
    ended = run("ended", {"status": "completed", "wall_time": 20.0}, {"wall_time": 18.0})
    assert _outcome(ended, "val_accuracy", parent).time_s == 17.0
