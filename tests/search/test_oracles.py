"""The TPE and BOHB oracles, driven directly with synthetic objectives (no training): proposals stay
inside the space, honour conditions, repeat for a seed and survive a reload; TPE concentrates near a
known optimum after its random start; BOHB keeps Hyperband's schedule."""

from __future__ import annotations

import math
import textwrap

import pytest

from kerashp.config import load_preset
from kerashp.search.guard import _in_entry
from kerashp.search.space import active_values, check_search, trial_preset
from kerashp.search.tuner import build_oracle, planned_trials

# every kind of entry presets use: float linear/log/stepped/log-stepped, int linear/log, choices of
# strings and of lists, bool, and a conditional entry
SPACE = """
"optimizer.learning_rate" = { type = "float", min = 1e-4, max = 0.1, log = true }
"optimizer.name" = ["sgd", "adagrad"]
"optimizer.momentum" = { type = "float", min = 0.0, max = 0.9, when = { "optimizer.name" = "sgd" } }
"optimizer.l2" = { type = "float", min = 1e-5, max = 1e-1, log = true, step = 10 }
"augment.transforms.horizontal_flip.p" = { type = "float", min = 0.0, max = 0.5, step = 0.1 }
"train.batch_size" = { type = "int", min = 16, max = 256, log = true }
"model.dropout" = { type = "float", min = 0.0, max = 0.5 }
"model.hidden" = [[50, 30], [50, 30, 20], [64]]
"model.batch_norm" = { type = "bool" }
"""


def preset(tmp_path, algorithm: str, space: str = SPACE, **search):
    settings = "\n".join(f"{key} = {value}" for key, value in {"algorithm": f'"{algorithm}"', **search}.items())
    path = tmp_path / f"{algorithm}.toml"
    path.write_text(f'extends = "mlp_cifar10"\n[search]\n{settings}\n[search.space]\n{textwrap.dedent(space)}')
    loaded = load_preset(str(path))
    check_search(loaded)
    return loaded


def oracle_for(base, directory, name="oracle"):
    oracle = build_oracle(base)
    oracle._set_project_dir(str(directory), name)
    oracle.verbose = 0
    return oracle


def optimum_distance(values: dict) -> float:
    """How far a proposal is from the synthetic optimum: learning rate 0.01, flip 0.3, dropout 0.1, SGD."""
    return (
        abs(math.log10(values["optimizer.learning_rate"]) + 2)
        + abs(values["augment.transforms.horizontal_flip.p"] - 0.3)
        + abs(values["model.dropout"] - 0.1)
        + (values["optimizer.name"] != "sgd")
    )


def drive(oracle, trials: int, objective=lambda values: -optimum_distance(values)) -> list[dict]:
    """Ask for `trials` trials one after another, completing each with `objective`; the proposals."""
    proposals = []
    for _ in range(trials):
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        values = dict(trial.hyperparameters.values)
        proposals.append(values)
        oracle.update_trial(trial.trial_id, {"val_accuracy": objective(values)})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        oracle.save()  # as the tuner does after each trial (end_trial saves while the trial still counts as running)
    return proposals


@pytest.mark.parametrize("algorithm", ["tpe", "bohb"])
def test_proposals_respect_the_space_its_conditions_and_become_valid_presets(tmp_path, algorithm):
    # bohb: 27 one-epoch trials open its first bracket, so its model proposes from the 11th trial on
    base = preset(tmp_path, algorithm, max_trials=16, startup_trials=4, max_epochs=27, random_fraction=0.3)
    space = base["search"]["space"]
    oracle = oracle_for(base, tmp_path)
    proposals = drive(oracle, 16)
    assert len(proposals) == 16
    for values in proposals:
        assert ("optimizer.momentum" in values) == (values["optimizer.name"] == "sgd")
        for key, value in values.items():
            if key in space:
                assert _in_entry(space[key], value), (key, value)
        assert isinstance(values["train.batch_size"], int) and isinstance(values["model.batch_norm"], bool)
        assert math.log10(values["optimizer.l2"]) == pytest.approx(round(math.log10(values["optimizer.l2"])))
        assert round(values["augment.transforms.horizontal_flip.p"] * 10, 6).is_integer()
    sampled = [oracle.trials[t].hyperparameters for t in sorted(oracle.trials)]
    presets = [trial_preset(base, active_values(hp, space)) for hp in sampled]
    assert {tuple(p["model"]["hidden"]) for p in presets} <= {(50, 30), (50, 30, 20), (64,)}
    assert any(p["optimizer"]["name"] == "adagrad" for p in presets) and any(
        p["optimizer"]["name"] == "sgd" for p in presets
    )


@pytest.mark.parametrize("algorithm", ["tpe", "bohb"])
def test_the_same_seed_proposes_the_same_trials_and_another_seed_others(tmp_path, algorithm):
    settings = dict(max_trials=14, startup_trials=3, max_epochs=27, random_fraction=0.25)
    first = drive(oracle_for(preset(tmp_path, algorithm, **settings), tmp_path, "a"), 14)
    again = drive(oracle_for(preset(tmp_path, algorithm, **settings), tmp_path, "b"), 14)
    other = preset(tmp_path, algorithm, **settings)
    other["seed"] += 1
    assert first == again
    assert drive(oracle_for(other, tmp_path, "c"), 14) != first


@pytest.mark.parametrize("algorithm", ["tpe", "bohb"])
def test_a_reloaded_oracle_goes_on_as_the_unbroken_one(tmp_path, algorithm):
    """No Optuna state is saved: the study is rebuilt from KerasTuner's trials, so a resumed search
    or a restarted chief proposes what the unbroken search would have."""
    base = preset(tmp_path, algorithm, max_trials=14, startup_trials=3, max_epochs=27, random_fraction=0.25)
    unbroken = drive(oracle_for(base, tmp_path, "whole"), 14)
    broken = oracle_for(base, tmp_path, "broken")
    before = drive(broken, 8)
    reloaded = oracle_for(base, tmp_path, "broken")
    reloaded.reload()
    assert before + drive(reloaded, 6) == unbroken


def test_tpe_starts_at_random_then_concentrates_near_the_optimum(tmp_path):
    base = preset(tmp_path, "tpe", max_trials=40, startup_trials=10)
    proposals = drive(oracle_for(base, tmp_path), 40)
    startup = sorted(optimum_distance(values) for values in proposals[:10])
    modelled = sorted(optimum_distance(values) for values in proposals[-10:])
    assert modelled[5] < startup[5] / 2  # the median of the last 10 is far closer than the random start's
    # the start ignores the objective (random draws); after it, the proposals follow the objective
    reversed_objective = drive(oracle_for(base, tmp_path, "reversed"), 12, objective=optimum_distance)
    assert reversed_objective[:10] == proposals[:10] and reversed_objective[10:] != proposals[10:12]


def schedule(oracle) -> list[tuple]:
    """Each trial's bracket, round, epochs, first epoch and the trial it continues (-1: none)."""
    trials = (oracle.trials[t].hyperparameters.values for t in sorted(oracle.trials, key=int))
    keys = ("tuner/bracket", "tuner/round", "tuner/epochs", "tuner/initial_epoch")
    return [(*(values[key] for key in keys), int(values.get("tuner/trial_id", -1))) for values in trials]


def test_bohb_keeps_hyperbands_schedule_and_with_only_random_draws_is_hyperband(tmp_path):
    """Over one iteration: the same brackets, rounds, epochs and promotions as KerasTuner's
    Hyperband, for objectives that rank trials alike; with random_fraction = 1 the same values too."""
    space = "\n".join(SPACE.strip().splitlines()[:3])  # 3 entries: bracket 2's 9 one-epoch results feed the model
    runs = {}
    for algorithm, fraction in (("hyperband", 0.0), ("bohb", 0.0), ("bohb", 1.0)):
        base = preset(tmp_path, algorithm, space, max_epochs=9, factor=3, max_trials=23, random_fraction=fraction)
        oracle = oracle_for(base, tmp_path, f"{algorithm}{fraction}")
        assert planned_trials(oracle) == 23  # one iteration of 9+3+1, 5+2 and 3 trials
        order = iter(range(1000))
        proposals = drive(oracle, 23, objective=lambda values: (next(order) * 7919) % 23)
        runs[algorithm, fraction] = schedule(oracle), [{k: v for k, v in p.items() if "/" not in k} for p in proposals]
    assert len(runs["hyperband", 0.0][0]) == 23
    assert runs["bohb", 0.0][0] == runs["hyperband", 0.0][0] and runs["bohb", 0.0][1] != runs["hyperband", 0.0][1]
    assert runs["bohb", 1.0] == runs["hyperband", 0.0]


def test_bohb_models_the_largest_budget_with_d_plus_one_results(tmp_path):
    base = preset(tmp_path, "bohb", max_epochs=27, factor=3, max_trials=40, random_fraction=0.0)
    oracle = oracle_for(base, tmp_path)
    dimensions = len(oracle.hyperparameters.space)
    drive(oracle, dimensions)  # one-epoch trials of the first bracket
    assert oracle.model_results() == []
    drive(oracle, 1)
    assert len(oracle.model_results()) == dimensions + 1
    drive(oracle, 39 - dimensions)  # the bracket's 27 one-epoch trials, then 9 of 3 epochs, 3 of 9
    results = oracle.model_results()
    assert len(results) == 27 and all(set(told.values) <= set(base["search"]["space"]) for told in results)
