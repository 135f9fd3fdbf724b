"""The KerasTuner glue: oracles built from `[search]`, and a `keras_tuner.Tuner` whose trials are
kerashp runs of the search's preset.

`run_trial` turns the trial's values into overrides on the base preset, runs each execution as an
ordinary run in the trial's folder (kerashp.search.executions), records the trial, and returns the
objective to the oracle. A diverged or crashed trial is reported as `FailedTrialError`, which
KerasTuner records without retrying, and the search goes on. Between trials the Keras session is
cleared and garbage collected, so memory stays flat over long searches.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import io
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from kerashp.backend import use_torch_backend
from kerashp.config import Preset
from kerashp.control import RunControl
from kerashp.errors import PresetError, UserError
from kerashp.events import Event, Listener, emit
from kerashp.runs.folder import atomic_write
from kerashp.search.directory import PROJECT, SearchDir
from kerashp.search.distributed import reconnect_quickly
from kerashp.search.events import TrialEnded, TrialStarted
from kerashp.search.executions import Execution, run_execution
from kerashp.search.guard import log_refusal, trial_problem
from kerashp.search.oracles import BOHBOracle, TPEOracle
from kerashp.search.pruning import MedianStopping
from kerashp.search.records import TrialRecord, best
from kerashp.search.space import active_values, grid_size, hyperparameters, trial_preset
from kerashp.status import TrialStatus

use_torch_backend()

import keras  # noqa: E402
import keras_tuner  # noqa: E402
from keras_tuner.src import config as keras_tuner_config  # noqa: E402
from keras_tuner.src import utils as keras_tuner_utils  # noqa: E402

keras_tuner_config.DEBUG = False  # each failure's reason is in trials.csv; KerasTuner would also print a traceback


def save_json_atomically(path, obj) -> str:
    """KerasTuner's `utils.save_json`, through a temp file and a rename: its own version writes
    oracle.json and trial.json in place, so a kill mid-write could leave a search unresumable."""
    text = json.dumps(obj)
    atomic_write(Path(path), text)
    return text


keras_tuner_utils.save_json = save_json_atomically  # KerasTuner looks it up on the module at each save


IDLE_WAIT_S = 1.0


class SearchAborted(keras_tuner.errors.FatalError):
    """A problem every trial would hit (a dataset that is not there); its cause is the UserError."""


def build_oracle(preset: Preset) -> keras_tuner.Oracle:
    search = preset["search"]
    common = dict(
        objective=keras_tuner.Objective(search["objective"], search["direction"]),
        hyperparameters=hyperparameters(preset),
        seed=preset["seed"] + 1,  # KerasTuner draws a random seed when given 0
        max_retries_per_trial=0,
        max_consecutive_failed_trials=sys.maxsize,  # failed trials are recorded; the search goes on
    )
    space, brackets = search["space"], dict(max_epochs=search["max_epochs"], factor=search["factor"])
    if search["algorithm"] == "hyperband":
        return keras_tuner.oracles.HyperbandOracle(**brackets, **common)
    if search["algorithm"] == "bohb":
        return BOHBOracle(space, search["random_fraction"], search["max_trials"], **brackets, **common)
    if search["algorithm"] == "tpe":
        return TPEOracle(space, search["startup_trials"], max_trials=search["max_trials"], **common)
    oracle = {
        "random": keras_tuner.oracles.RandomSearchOracle,
        "bayesian": keras_tuner.oracles.BayesianOptimizationOracle,
        "grid": keras_tuner.oracles.GridSearchOracle,
    }[search["algorithm"]]
    return oracle(max_trials=search["max_trials"], **common)


def planned_trials(oracle: keras_tuner.Oracle) -> int | None:
    """max_trials (for a grid, no more than its combinations), or for Hyperband, which has none, the
    trials of one iteration over all its brackets."""
    if isinstance(oracle, keras_tuner.oracles.GridSearchOracle):
        return grid_size(oracle.hyperparameters, oracle.max_trials)
    if oracle.max_trials is None and isinstance(oracle, keras_tuner.oracles.HyperbandOracle):
        return hyperband_iteration(oracle)
    return oracle.max_trials


def hyperband_iteration(oracle: keras_tuner.oracles.HyperbandOracle) -> int:
    """The trials of one Hyperband iteration over all its brackets."""
    brackets = oracle._get_num_brackets()
    return sum(oracle._get_size(bracket, rnd) for bracket in range(brackets) for rnd in range(bracket + 1))


class PresetTuner(keras_tuner.Tuner):
    """Runs each trial as kerashp runs of `base` with the trial's values applied."""

    def __init__(
        self,
        oracle: keras_tuner.Oracle,
        search: SearchDir,
        base: Preset,
        listeners: Sequence[Listener] = (),
    ):
        self.search_dir, self.base, self.listeners = search, base, list(listeners)
        self.prune_min_trials = base["search"]["prune"]  # 0: no median stopping
        self.planned_trials = planned_trials(oracle)
        oracle.verbose = 0  # kerashp reports progress through events instead of KerasTuner's prints
        with contextlib.redirect_stdout(io.StringIO()):  # "Reloading Tuner from ..."
            super().__init__(
                oracle,
                directory=str(search.path),
                project_name=PROJECT,
                executions_per_trial=base["search"]["executions_per_trial"],
            )
        self.chief = None
        if self._is_worker():
            self.chief = reconnect_quickly(self.oracle)
        elif not self.oracle.trials and (search.path / PROJECT / "oracle.json").is_file():
            self.oracle.reload()  # saved under another tuner id: a local search continued as a chief, or back
        self._asked_in_vain = False

    @property
    def objective(self) -> str:
        return self.base["search"]["objective"]

    @property
    def direction(self) -> str:
        return self.base["search"]["direction"]

    def on_search_begin(self):
        self.save()  # so a kill during the very first trial still resumes this search

    def pre_create_trial(self):
        if self._asked_in_vain:  # the oracle said IDLE (waiting on other workers' trials): do not spin
            time.sleep(IDLE_WAIT_S)
        self._asked_in_vain = True

    def on_trial_begin(self, trial):
        self._asked_in_vain = False

    def report(self, event: Event) -> None:
        self.search_dir.append_event(event.to_json())
        emit(self.listeners, event)

    def run_trial(self, trial, *fit_args, **fit_kwargs):
        values = trial.hyperparameters.values
        problem = trial_problem(trial.trial_id, values, self.base, self.search_dir)
        if problem:  # from a chief that is not ours, or not itself: nothing of it is written or run
            log_refusal(self.tuner_id, "a trial", problem)
            raise keras_tuner.errors.FailedTrialError(f"refused: {problem}")
        record = TrialRecord(
            trial.trial_id,
            TrialStatus.RUNNING,
            active_values(trial.hyperparameters, self.base["search"]["space"]),
            worker=self.tuner_id,
            bracket=values.get("tuner/bracket"),
            round=values.get("tuner/round"),
            parent=values.get("tuner/trial_id"),
        )
        self.search_dir.write_record(record)
        self.search_dir.write_table()
        self.report(TrialStarted(record.to_json(), self.planned_trials, int(values.get("tuner/initial_epoch", 0))))
        executions, error = [], ""
        try:
            preset = trial_preset(self.base, record.hyperparameters, source=f"trial {trial.trial_id}")
            preset["train"]["evaluate_test"] = False  # trials are picked on validation; test the exported best
            executions = self._run_executions(
                record, preset, int(values.get("tuner/epochs") or preset["train"]["epochs"])
            )
        except PresetError as exc:
            error = f"invalid combination: {exc}"
        except UserError as exc:
            raise SearchAborted(str(exc)) from exc
        except Exception as exc:  # a crash inside training fails this trial, not the search
            error = f"{type(exc).__name__}: {exc}"
        finally:
            keras.backend.clear_session()
            gc.collect()
        record = finish_record(record, executions, self.direction, self.search_dir, error)
        self.search_dir.write_record(record)
        records = self.search_dir.write_table()
        top = best(records, self.direction)
        self.report(TrialEnded(record.to_json(), top.to_json() if top else None))
        if record.status == TrialStatus.FAILED:
            raise keras_tuner.errors.FailedTrialError(record.reason)
        return {self.objective: record.objective}

    def _run_executions(self, record: TrialRecord, preset: Preset, epochs: int) -> list[Execution]:
        parent_dir = self.search_dir.trial_dir(record.parent) if record.parent else None
        earlier = [
            r.curve
            for r in self.search_dir.records()
            if r.status == TrialStatus.COMPLETED and r.trial_id != record.trial_id
        ]
        executions = []
        for index in range(self.executions_per_trial):
            control, listeners = RunControl(), list(self.listeners)
            pruner = None
            if self.prune_min_trials:
                pruner = MedianStopping(self.objective, self.direction, earlier, control, self.prune_min_trials)
                listeners.append(pruner)
            execution_preset = copy.deepcopy(preset)
            execution_preset["seed"] += index  # executions differ in initialisation, as in KerasTuner
            execution = run_execution(
                self.search_dir.trial_dir(record.trial_id),
                index,
                execution_preset,
                epochs,
                self.objective,
                listeners,
                control,
                parent_dir,
            )
            if pruner is not None and pruner.reason:
                execution.reason = pruner.reason
            executions.append(execution)
            if execution.status != TrialStatus.COMPLETED:
                break
        return executions


def finish_record(
    record: TrialRecord, executions: list[Execution], direction: str, search: SearchDir, error: str
) -> TrialRecord:
    """The trial's outcome from its executions: status, mean best objective, curve, time."""
    statuses = [e.status for e in executions]
    curves = [e.curve for e in executions if e.curve]
    if not error and not curves and TrialStatus.FAILED not in statuses:
        error = "its run recorded no value of the objective"
    if error or TrialStatus.FAILED in statuses:
        status = TrialStatus.FAILED
    else:
        status = TrialStatus.PRUNED if TrialStatus.PRUNED in statuses else TrialStatus.COMPLETED
    reasons = [e.reason for e in executions if e.reason]
    reason = error or (reasons[0] if reasons else "pruned" if status == TrialStatus.PRUNED else "")
    pick = max if direction == "max" else min
    record.status, record.reason = status, reason
    record.time_s = round(sum(e.time_s for e in executions), 2)
    record.runs = [str(e.run.path.relative_to(search.path)) for e in executions]
    record.epochs = max((len(e.curve) for e in executions), default=0)
    record.curve = [statistics.fmean(values) for values in zip(*curves)]
    if status != TrialStatus.FAILED:
        record.objective = statistics.fmean(pick(curve) for curve in curves)
        best_curve = pick(curves, key=pick)
        record.best_epoch = best_curve.index(pick(best_curve)) + 1
    return record
