"""kerashp's one bridge to Optuna: a `[search.space]` as Optuna distributions, and an in-memory
study holding trials kerashp already has (KerasTuner's, or the records of a search), so that Optuna's
TPE sampler can propose and its fANOVA evaluator can rate the hyperparameters.

Values travel as KerasTuner holds them: a list choice (`model.hidden`) is its TOML text. Nothing is
pickled: a study is rebuilt from the trials each time it is needed, so it can never disagree with
them after a resume. Importing this module imports Optuna (about a second); import it where it is used.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from kerashp.config.preset import SpaceEntry
from kerashp.search.space import encode_choice

optuna.logging.set_verbosity(optuna.logging.WARNING)  # Optuna logs every trial told to a study at INFO


class Told(NamedTuple):
    """A trial as Optuna is told it: its active values, and its objective (None: still running)."""

    values: dict[str, Any]
    objective: float | None


def distribution(entry: SpaceEntry) -> BaseDistribution:
    """The Optuna distribution over what KerasTuner samples for `entry`."""
    kind = entry["type"]
    if kind == "bool":
        return CategoricalDistribution((False, True))
    if kind == "choice":
        return CategoricalDistribution(tuple(encode_choice(entry, value) for value in entry["values"]))
    low, high, step, log = entry["min"], entry["max"], entry["step"], entry["log"]
    if step and log:  # KerasTuner's log steps are factors (min, min*step, ...); Optuna has no such grid
        count = int(math.log(high / low, step) + 1e-8) + 1
        grid = [low * step**index for index in range(count)]
        return CategoricalDistribution(tuple(int(v) for v in grid) if kind == "int" else tuple(grid))
    with warnings.catch_warnings():  # Optuna trims a max that is not a whole number of steps, as KerasTuner does
        warnings.simplefilter("ignore", UserWarning)
        if kind == "int":
            return IntDistribution(int(low), int(high), step=int(step) or 1, log=log)
        return FloatDistribution(low, high, step=step or None, log=log)


def distributions(space: dict[str, SpaceEntry]) -> dict[str, BaseDistribution]:
    return {key: distribution(entry) for key, entry in space.items()}


def suggest(trial: optuna.Trial, name: str, where: BaseDistribution) -> Any:
    """Ask `trial` for a value of `name` from `where` (a trial of a define-by-run study)."""
    if isinstance(where, CategoricalDistribution):
        return trial.suggest_categorical(name, where.choices)
    if isinstance(where, IntDistribution):
        return trial.suggest_int(name, where.low, where.high, step=where.step, log=where.log)
    assert isinstance(where, FloatDistribution)
    return trial.suggest_float(name, where.low, where.high, step=where.step, log=where.log)


def study_of(space: dict[str, SpaceEntry], direction: str, told: Iterable[Told], sampler=None) -> optuna.Study:
    """An in-memory study that knows `told`. Values are checked against the space, as anything read
    back is: a value outside its entry is left out of its trial (a rounding error past a range's end
    is moved back onto it), and a trial Optuna still refuses is left out."""
    where = distributions(space)
    study = optuna.create_study(direction="maximize" if direction == "max" else "minimize", sampler=sampler)
    for trial in told:
        # in the space's order, whatever order the values came in: Optuna's draws follow the order it meets them
        params = {key: _inside(where[key], trial.values[key]) for key in where if key in trial.values}
        params = {key: value for key, value in params.items() if value is not None}
        finished = trial.objective is not None
        try:
            frozen = optuna.trial.create_trial(
                state=TrialState.COMPLETE if finished else TrialState.RUNNING,
                value=trial.objective if finished else None,
                params=params,
                distributions={key: where[key] for key in params},
            )
        except ValueError:  # a value off a stepped range's grid, a non-finite objective
            continue
        study.add_trial(frozen)
    return study


def _inside(where: BaseDistribution, value: Any) -> Any:
    """`value` as a member of `where`, or None when it is not one."""
    if isinstance(where, CategoricalDistribution):
        same = (c for c in where.choices if isinstance(c, bool) == isinstance(value, bool) and c == value)
        return next(same, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    assert isinstance(where, (IntDistribution, FloatDistribution))
    slack = 1e-9 * max(abs(where.low), abs(where.high))  # as the worker's check (guard.py) allows
    if not where.low - slack <= value <= where.high + slack:
        return None
    return min(max(value, where.low), where.high)


def tpe_sampler(seed: int, trial_number: int, startup_trials: int):
    """Optuna's multivariate TPE, seeded by the search's seed and the trial being proposed, so that
    a proposal depends only on the trials told (not on how often the process was restarted).
    `group` lets it model a conditional entry on the trials where it was active."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=int(np.random.SeedSequence([seed, trial_number]).generate_state(1)[0]),
            n_startup_trials=startup_trials,
            group=True,
            constant_liar=True,  # trials still running elsewhere count as bad guesses, so workers spread out
        )
