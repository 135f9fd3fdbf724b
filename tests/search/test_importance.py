"""Parameter importance (Optuna's fANOVA over a search's records) in `kerashp tune --results` and in
the search report, with its best-so-far figure; synthetic searches, no training."""

from __future__ import annotations

import math
import random
import textwrap

import pytest
from PIL import Image

from kerashp.cli import main as kerashp_main
from kerashp.config import load_preset
from kerashp.report import write_report
from kerashp.search.directory import SearchDir
from kerashp.search.importance import MIN_TRIALS, importance
from kerashp.search.records import TrialRecord
from kerashp.search.report_section import epochs_spent, search_section

SPACE = """
"optimizer.learning_rate" = { type = "float", min = 1e-4, max = 0.1, log = true }
"optimizer.name" = ["sgd", "adam"]
"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }
"train.batch_size" = [8, 16]
"model.batch_norm" = { type = "bool" }
"""


def search_with(tmp_path, trials: int, space: str = SPACE) -> SearchDir:
    """A search folder with `trials` completed records whose objective depends on the learning rate
    alone (best at 0.01), as `kerashp tune` writes them."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "s.toml"
    path.write_text(f'extends = "lenet5_aug"\n[search]\nalgorithm = "tpe"\n[search.space]\n{textwrap.dedent(space)}')
    base = load_preset(str(path))
    search = SearchDir.prepare(tmp_path / "search", base)
    rng = random.Random(0)
    for number in range(trials):
        lr = 10 ** rng.uniform(-4, -1)
        values = {"optimizer.learning_rate": lr, "optimizer.name": rng.choice(["sgd", "adam"])}
        if "train.batch_size" in space:
            values |= {"train.batch_size": rng.choice([8, 16]), "model.batch_norm": rng.random() < 0.5}
        if values["optimizer.name"] == "sgd" and "momentum" in space:
            values["optimizer.momentum"] = rng.uniform(0, 0.9)
        objective = 0.9 - 0.2 * abs(math.log10(lr) + 2)
        search.write_record(TrialRecord(str(number), "completed", values, epochs=number % 3 + 1, objective=objective))
    search.write_table()
    return search


def test_the_key_that_drives_the_objective_matters_most_and_conditional_keys_are_named(tmp_path):
    search = search_with(tmp_path, 16)
    base = search.read_preset()
    found = importance(base["search"]["space"], "max", search.records())
    assert list(found.shares)[0] == "optimizer.learning_rate" and found.shares["optimizer.learning_rate"] > 0.5
    assert sum(found.shares.values()) == pytest.approx(1.0)
    assert "optimizer.momentum" not in found.shares and "optimizer.momentum" in found.note
    assert importance(base["search"]["space"], "max", search.records()) == found  # the forest is seeded


def test_too_few_trials_or_a_single_key_say_so_in_one_line(tmp_path):
    few = search_with(tmp_path / "few", MIN_TRIALS - 1)
    found = importance(few.read_preset()["search"]["space"], "max", few.records())
    assert (
        not found.shares
        and found.note == f"parameter importance needs {MIN_TRIALS} completed trials; this search has 3"
    )
    single = search_with(tmp_path / "one", 8, space='"optimizer.learning_rate" = { min = 1e-4, max = 0.1, log = true }')
    found = importance(single.read_preset()["search"]["space"], "max", single.records())
    assert not found.shares and "fewer than two keys" in found.note and "\n" not in found.note


def test_results_print_the_importances(tmp_path, capsys):
    search = search_with(tmp_path, 12)
    assert kerashp_main(["tune", "--results", str(search.path)]) == 0
    out = capsys.readouterr().out
    assert "parameter importance (fANOVA" in out and "not rated (not set in every trial): optimizer.momentum" in out
    line = next(line for line in out.splitlines() if line.strip().startswith("optimizer.learning_rate "))
    assert "█" in line


def test_the_search_report_draws_importance_and_the_best_so_far(tmp_path):
    search = search_with(tmp_path, 8)
    out = tmp_path / "report"
    md = write_report(out, "search", [search_section(search.path)])
    assert {"importance.png", "best_so_far.png", "objective.png"} <= {p.name for p in out.iterdir()}
    assert "How much each hyperparameter mattered" in md.read_text()
    with Image.open(out / "importance.png") as image:
        assert image.width > 500


def test_epochs_spent_leave_out_what_a_hyperband_trial_continued():
    rows = [
        {"trial_id": "0", "epochs": "1", "parent": ""},
        {"trial_id": "1", "epochs": "3", "parent": "0"},
        {"trial_id": "2", "epochs": "", "parent": ""},  # failed before its first epoch
    ]
    assert epochs_spent(rows) == [1, 2, 0]
