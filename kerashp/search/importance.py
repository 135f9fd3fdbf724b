"""Which hyperparameters mattered: Optuna's fANOVA evaluator (a scikit-learn random forest fitted to
the completed trials, its variance split by hyperparameter; Hutter et al. 2014) over the trials of a
search, in an in-memory study built from their records.

Importances sum to 1 over the keys rated. A key that only some trials set (a `when` condition) is
left out: fANOVA needs every rated key in every trial. Imports Optuna; import this where it is used.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import optuna

from kerashp.config.preset import SpaceEntry
from kerashp.search import optuna_space
from kerashp.search.optuna_space import Told
from kerashp.search.records import TrialRecord
from kerashp.search.space import encode_choice
from kerashp.status import TrialStatus

MIN_TRIALS = 4  # completed trials below which a forest over them says nothing
SEED = 0  # the forest's: the same trials give the same importances


@dataclass
class Importance:
    """Each rated key's share of the objective's variance, largest first; `note` says why there are
    none, or which keys were not rated."""

    shares: dict[str, float] = field(default_factory=dict)
    note: str = ""


def importance(space: dict[str, SpaceEntry], direction: str, records: list[TrialRecord]) -> Importance:
    completed = [r for r in records if r.status == TrialStatus.COMPLETED and r.objective is not None]
    if len(completed) < MIN_TRIALS:
        have = len(completed)
        return Importance(note=f"parameter importance needs {MIN_TRIALS} completed trials; this search has {have}")
    rated = [key for key in space if all(key in r.hyperparameters for r in completed)]
    if len(rated) < 2:
        return Importance(note="parameter importance: fewer than two keys are set in every trial, nothing to compare")
    told = [
        Told({key: encode_choice(space[key], record.hyperparameters[key]) for key in rated}, record.objective)
        for record in completed
    ]
    study = optuna_space.study_of({key: space[key] for key in rated}, direction, told)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=SEED)
    shares = optuna.importance.get_param_importances(study, evaluator=evaluator, params=rated)
    left_out = [key for key in space if key not in rated]
    note = f"not rated (not set in every trial): {', '.join(left_out)}" if left_out else ""
    return Importance({key: float(share) for key, share in sorted(shares.items(), key=lambda item: -item[1])}, note)
