"""The two KerasTuner oracles kerashp adds: TPE (Bergstra et al. 2011) and BOHB (Falkner et al. 2018),
both proposing through Optuna's `TPESampler` (kerashp.search.optuna_space).

They are ordinary KerasTuner oracles, so trials, resume, the gRPC chief and workers, and the search
folder work as for KerasTuner's own. Neither keeps any state of its own: each proposal rebuilds an
in-memory Optuna study from the oracle's trials (which KerasTuner saves and reloads), and seeds
the sampler from the search's seed and the trial's number. So a resumed or restarted chief proposes
exactly what an unbroken search would have.
"""

from __future__ import annotations

import numpy as np

from kerashp.backend import use_torch_backend
from kerashp.config.preset import SpaceEntry
from kerashp.search import optuna_space
from kerashp.search.optuna_space import Told

use_torch_backend()

import keras_tuner  # noqa: E402
from keras_tuner.src.engine import hyperparameters as hp_module  # noqa: E402
from keras_tuner.src.engine.trial import TrialStatus  # noqa: E402

BUDGET = "tuner/epochs"  # Hyperband's (and BOHB's) epochs for a trial
RANDOM_SHARE_STREAM = 1  # BOHB's coin draws from its own stream, apart from the sampler's (stream 0)


def _tpe_values(oracle: keras_tuner.Oracle, space: dict[str, SpaceEntry], told: list[Told], sampler) -> dict:
    """One proposal from `sampler` given `told`, for the oracle's active hyperparameters only (a
    conditional entry is asked for only when its condition holds, as KerasTuner's random draw does)."""
    study = optuna_space.study_of(space, oracle.objective.direction, told, sampler)
    trial = study.ask()
    where = optuna_space.distributions(space)
    chosen = hp_module.HyperParameters()
    for hp in oracle.hyperparameters.space:
        chosen.merge([hp])
        if chosen.is_active(hp):
            chosen.values[hp.name] = optuna_space.suggest(trial, hp.name, where[hp.name])
    return chosen.values


def _space_values(trial, space: dict[str, SpaceEntry]) -> dict:
    return {key: value for key, value in trial.hyperparameters.values.items() if key in space}


def _in_order(oracle: keras_tuner.Oracle) -> list:
    """The oracle's trials by number: Optuna weighs recent trials more, and a reloaded oracle holds
    its trials in the order it found their files."""
    return sorted(oracle.trials.values(), key=lambda trial: int(trial.trial_id))


class TPEOracle(keras_tuner.Oracle):
    """Tree-structured Parzen Estimator: `startup_trials` random trials, then each trial is the TPE
    proposal fitted to the completed trials (and to those still running, as bad guesses)."""

    def __init__(self, space: dict[str, SpaceEntry], startup_trials: int, **kwargs):
        super().__init__(**kwargs)
        self.space, self.startup_trials = space, startup_trials

    def populate_space(self, trial_id):
        told = [
            Told(_space_values(t, self.space), t.score if t.status == TrialStatus.COMPLETED else None)
            for t in _in_order(self)
            if t.status in (TrialStatus.COMPLETED, TrialStatus.RUNNING)
        ]
        sampler = optuna_space.tpe_sampler(self.seed, len(self.trials), self.startup_trials)
        values = _tpe_values(self, self.space, told, sampler)
        if self._duplicate(values):  # a small discrete space: a fresh random draw, or none left
            values = self._random_values()
        if values is None:
            return {"status": TrialStatus.IDLE if self.ongoing_trials else TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": values}


class BOHBOracle(keras_tuner.oracles.HyperbandOracle):
    """Hyperband's brackets and successive halving, unchanged (promotions copy their parent's values),
    with each new configuration drawn at random with probability `random_fraction`, else proposed by
    TPE fitted to the results on the largest budget (epochs) that has at least d + 1 of them, d being
    the number of hyperparameters; while no budget has, at random. Hyperband iterations repeat until
    `max_trials` trials have run."""

    def __init__(self, space: dict[str, SpaceEntry], random_fraction: float, max_trials: int, **kwargs):
        super().__init__(hyperband_iterations=None, **kwargs)  # None: iterate until max_trials
        self.space, self.random_fraction, self.max_trials = space, random_fraction, max_trials

    def _random_values(self):
        """Hyperband asks this for each new configuration: the one place BOHB differs from it."""
        number = len(self.trials)  # the trial being proposed (KerasTuner numbers trials by count)
        coin = np.random.default_rng([self.seed, number, RANDOM_SHARE_STREAM]).random()
        told = self.model_results()
        if coin < self.random_fraction or not told:
            return super()._random_values()
        sampler = optuna_space.tpe_sampler(self.seed, number, startup_trials=len(told))
        values = _tpe_values(self, self.space, told, sampler)
        return super()._random_values() if self._duplicate(values) else values

    def model_results(self) -> list[Told]:
        """The completed results on the largest budget that has at least d + 1 of them (none: [])."""
        by_budget: dict[int, list[Told]] = {}
        for trial in _in_order(self):
            if trial.status == TrialStatus.COMPLETED and trial.score is not None:
                budget = trial.hyperparameters.values.get(BUDGET, 0)
                by_budget.setdefault(budget, []).append(Told(_space_values(trial, self.space), trial.score))
        enough = [budget for budget, results in by_budget.items() if len(results) > len(self.hyperparameters.space)]
        return by_budget[max(enough)] if enough else []
