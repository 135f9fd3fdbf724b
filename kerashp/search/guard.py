"""What a chief and a worker accept from each other over gRPC, which is unauthenticated: anyone who
reaches the port can send any request, and a worker trusts whatever answers at its chief's address.

The chief serves `GuardedServicer`, which checks each request before KerasTuner's oracle sees it:
workers' ids, trial ids that are running, metrics that are the search's, no new hyperparameters.
KerasTuner's `synchronized` lock is not released when an oracle method raises, so one request it
chokes on (`EndTrial` for an unknown trial) would leave the chief waiting forever; such requests are
refused with INVALID_ARGUMENT, and should one still get through, the lock is given back.

A worker checks every trial it is handed (`trial_problem`) before it writes anything: the trial id,
each hyperparameter's name and value against the preset's space, and for Hyperband (and BOHB) the trial it
continues, which must be a trial folder of this search. Refusals are logged on stderr.
"""

from __future__ import annotations

import math
import re
import sys
import threading
import tomllib
from numbers import Real
from typing import Any

from kerashp.config import Preset
from kerashp.config.preset import SearchSection, SpaceEntry
from kerashp.search.directory import SearchDir
from kerashp.search.records import is_trial_id
from kerashp.search.space import METRICS, bracketed, decode_choice, encode_choice
from kerashp.text import printable

WORKER_ID = re.compile(r"worker[1-9][0-9]{0,5}")
HYPERBAND_VALUES = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round")
PARENT = "tuner/trial_id"
# KerasTuner's trial statuses (its vocabulary, not kerashp's) a worker may end a trial with; its others are the oracle's
KERAS_TUNER_ENDED = ("COMPLETED", "FAILED", "INVALID")
MOST_BEST_TRIALS = 1000


def log_refusal(who: str, what: str, problem: str) -> None:
    print(f"kerashp: warning: {who} refused {what}: {problem}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- worker


def trial_problem(trial_id: Any, values: dict, base: Preset, search: SearchDir) -> str | None:
    """What is wrong with a trial a chief handed out, or None when the worker may run it."""
    if not is_trial_id(trial_id):
        return f"trial id {printable(str(trial_id))[:40]!r}: expected digits"
    search_settings = base["search"]
    space, hyperband = search_settings["space"], bracketed(search_settings["algorithm"])
    for key, value in values.items():
        if hyperband and key in (*HYPERBAND_VALUES, PARENT):
            continue
        if key not in space:
            return f"{printable(str(key))[:80]!r} is not in the search space of this search"
        if not _in_entry(space[key], value):
            return f"{printable(key)} = {printable(str(value))[:40]!r} is outside its search.space entry"
    return _hyperband_problem(trial_id, values, search_settings, search) if hyperband else None


def _in_entry(entry: SpaceEntry, value: Any) -> bool:
    kind = entry["type"]
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "choice":
        try:  # a list choice as this search encodes it, though an older search wrote it on several lines
            value = encode_choice(entry, decode_choice(entry, value))
        except (tomllib.TOMLDecodeError, RecursionError):  # not TOML, or nested past Python's stack
            return False
        choices = (encode_choice(entry, choice) for choice in entry["values"])
        return any(isinstance(value, bool) == isinstance(choice, bool) and value == choice for choice in choices)
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
        return False
    low, high = entry["min"], entry["max"]
    slack = 1e-9 * max(abs(low), abs(high))  # KerasTuner's log sampling may land a rounding error past an end
    number = float(value)
    return low - slack <= number <= high + slack and (kind == "float" or number.is_integer())


def _hyperband_problem(trial_id: str, values: dict, settings: SearchSection, search: SearchDir) -> str | None:
    most = settings["max_epochs"]
    for key in HYPERBAND_VALUES:
        value = values.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= most:
            return f"{key} = {printable(str(value))[:40]!r}: expected a whole number from 0 to {most}"
    parent = values.get(PARENT)
    if parent is None:
        return None
    if not is_trial_id(parent) or parent == trial_id:
        return f"{PARENT} = {printable(str(parent))[:40]!r}: expected the id of another trial of this search"
    if not (search.trial_dir(parent) / "record.json").is_file():
        return f"{PARENT} = {parent!r}: no such trial in {search.path}"
    return None


# ---------------------------------------------------------------------------------------- chief


def guarded_servicer(oracle, worker_ids: set[str] | None = None):
    """KerasTuner's OracleServicer for `oracle`, behind the checks above; `worker_ids`, when given,
    are the only workers served (a chief with local workers knows them all)."""
    # on first use: a worker checks trials (above) without loading grpc and KerasTuner's server
    import grpc
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import hyperparameters as hp_module
    from keras_tuner.src.engine import trial as trial_module

    class GuardedServicer(OracleServicer):
        def _answer(self, method: str, request, context, problem):
            """Refuse the request when `problem` (a function of it) finds one, else pass it on."""
            try:
                found = problem(request)
            except Exception as exc:  # a message KerasTuner cannot even read back
                found = f"malformed request ({type(exc).__name__})"
            if found:
                log_refusal("the chief", f"{method} from {context.peer()}", found)
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, found)
            try:
                return getattr(super(), method)(request, context)
            finally:
                release_oracle_lock(self.oracle)

        def GetSpace(self, request, context):
            return self._answer("GetSpace", request, context, lambda r: None)

        def UpdateSpace(self, request, context):
            return self._answer("UpdateSpace", request, context, self._new_entries)

        def CreateTrial(self, request, context):
            return self._answer("CreateTrial", request, context, lambda r: self._worker_problem(r.tuner_id))

        def UpdateTrial(self, request, context):
            return self._answer("UpdateTrial", request, context, lambda r: self._update_problem(r.trial_id, r.metrics))

        def EndTrial(self, request, context):
            return self._answer("EndTrial", request, context, self._end_problem)

        def GetTrial(self, request, context):
            return self._answer("GetTrial", request, context, self._unknown_trial)

        def GetBestTrials(self, request, context):
            return self._answer("GetBestTrials", request, context, _count_problem)

        def _unknown_trial(self, request) -> str | None:
            return None if request.trial_id in self.oracle.trials else f"no trial {printable(request.trial_id)[:40]!r}"

        def _new_entries(self, request) -> str | None:
            known = {hp.name for hp in self.oracle.hyperparameters.space}
            names = [hp.name for hp in hp_module.HyperParameters.from_proto(request.hyperparameters).space]
            new = [printable(name)[:80] for name in names if name not in known]
            return f"new hyperparameters {new}: a search's space is fixed by its preset" if new else None

        def _worker_problem(self, tuner_id: str) -> str | None:
            if WORKER_ID.fullmatch(tuner_id) and (worker_ids is None or tuner_id in worker_ids):
                return None
            return f"tuner id {printable(tuner_id)[:40]!r}: not a worker of this search"

        def _running(self, trial_id: str):
            return next((t for t in self.oracle.ongoing_trials.values() if t.trial_id == trial_id), None)

        def _update_problem(self, trial_id: str, metrics) -> str | None:
            if self._running(trial_id) is None:
                return f"trial {printable(trial_id)[:40]!r} is not running"
            objective = self.oracle.objective.name
            if objective not in metrics:
                return f"metrics without the objective {objective}"
            bad = next(
                (name for name, value in metrics.items() if name not in METRICS or not math.isfinite(value)), None
            )
            return None if bad is None else f"metric {printable(bad)[:40]!r} = {metrics[bad]}: not a finite {METRICS}"

        def _end_problem(self, request) -> str | None:
            sent = trial_module.Trial.from_proto(request.trial)
            recorded = self._running(sent.trial_id)
            if recorded is None:
                return f"trial {printable(str(sent.trial_id))[:40]!r} is not running"
            if sent.status not in KERAS_TUNER_ENDED:
                return f"status {printable(str(sent.status))[:20]!r}: expected one of {', '.join(KERAS_TUNER_ENDED)}"
            if sent.status == "COMPLETED" and not recorded.metrics.exists(self.oracle.objective.name):
                return f"trial {sent.trial_id} completed without reporting {self.oracle.objective.name}"
            if set(sent.hyperparameters.values) - set(recorded.hyperparameters.values):
                return f"trial {sent.trial_id} came back with hyperparameters it was not given"
            # the values are the chief's own: a worker reports how a trial ended, not what it was
            request.trial.hyperparameters.CopyFrom(recorded.hyperparameters.to_proto())
            return None

    return GuardedServicer(oracle)


def _count_problem(request) -> str | None:
    return None if 0 < request.num_trials <= MOST_BEST_TRIALS else f"num_trials = {request.num_trials}"


def release_oracle_lock(oracle) -> None:
    """Give back KerasTuner's lock on `oracle` if a method of it raised while this thread held it
    (its `synchronized` releases only on return), so `exit_chief` and later requests do not hang."""
    from keras_tuner.src.engine import oracle as oracle_module  # on first use, as guarded_servicer

    if oracle_module.THREADS[oracle] == threading.current_thread().name:
        oracle_module.THREADS[oracle] = None
        oracle_module.LOCKS[oracle].release()
