"""`run_search`: one entry point for a local search, a chief, a worker, or a chief with local workers.

Running it again on the same search directory continues the search: KerasTuner reloads its
oracle (finished trials stay finished, the interrupted one is handed out again) and the
interrupted trial's run resumes from its last epoch checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kerashp.config import Preset
from kerashp.errors import RunFailedError
from kerashp.events import Event, Listener, emit
from kerashp.search.directory import SearchDir
from kerashp.search.distributed import (
    LOOPBACK,
    ChiefLink,
    Role,
    die_with_chief,
    free_port,
    serve,
    start_local_workers,
    wait_for_workers,
)
from kerashp.search.events import SearchFinished, SearchStarted, TrialEnded, TrialStarted
from kerashp.search.records import TrialRecord, best, ranked
from kerashp.search.tuner import PresetTuner, SearchAborted, build_oracle
from kerashp.status import TrialStatus

LOCAL = Role()  # a search in this process alone


def run_search(
    base: Preset,
    search: SearchDir,
    listeners: Sequence[Listener] = (),
    role: Role = LOCAL,
    workers_alive: Callable[[], bool] | None = None,
    worker_ids: set[str] | None = None,
) -> list[TrialRecord]:
    """Run (or continue, or serve, or work on) the search; return its trials, best first.
    Median stopping follows `search.prune`, which search.toml keeps, so workers and resumed
    searches prune as the search was set up. A chief serves only `worker_ids` when given."""
    settings = base["search"]
    if role.kind == "worker":
        die_with_chief()
    with role.applied():
        tuner = PresetTuner(build_oracle(base), search, base, listeners)
        tuner.report(
            SearchStarted(
                str(search.path),
                base.name,
                settings["algorithm"],
                settings["objective"],
                settings["direction"],
                tuner.planned_trials,
                sum(r.finished for r in search.records()),
                role.name,
                list(settings["space"]),
            )
        )
        try:
            if role.kind == "chief":
                tuner.save()
                watcher = RecordWatcher(search, tuner.planned_trials, settings["direction"], listeners)
                serve(tuner.oracle, role.host, role.port, watcher.poll, workers_alive, worker_ids)
            elif tuner.chief is not None:
                work(tuner, tuner.chief)
            else:
                tuner.search()
        except SearchAborted as exc:
            raise exc.__cause__ from None
    records = ranked(search.write_table(), settings["direction"])
    tuner.report(SearchFinished(str(search.path), [r.to_json() for r in records]))
    return records


def work(tuner: PresetTuner, chief: ChiefLink) -> None:
    """A worker's search: trials from the chief until it says stop, or until it stops answering."""
    import grpc  # here, not above the kerashp imports: kerashp.search.distributed sets GRPC_VERBOSITY, read at import

    chief.watch()
    try:
        tuner.search()
    except KeyboardInterrupt:
        if not chief.gone:
            raise
        raise RunFailedError(chief.gave_up()) from None
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise RunFailedError(chief.gave_up()) from None
        raise RunFailedError(f"the chief at {chief.address} refused a request: {exc.details()}") from None
    finally:
        chief.close()


def run_local_search(
    base: Preset, search: SearchDir, workers: int, listeners: Sequence[Listener] = ()
) -> list[TrialRecord]:
    """A chief in this process and `workers` worker processes on this machine, over loopback;
    the workers read the search's settings from its search.toml."""
    port = free_port(LOOPBACK)
    processes = start_local_workers(search.path, workers, LOOPBACK, port)
    try:
        records = run_search(
            base,
            search,
            listeners,
            Role("chief", LOOPBACK, port),
            workers_alive=lambda: any(p.poll() is None for p in processes),
            worker_ids={f"worker{n}" for n in range(1, workers + 1)},
        )
    finally:
        codes = wait_for_workers(processes)
    failed = [f"worker{i}" for i, code in enumerate(codes, start=1) if code != 0]
    if failed:
        raise RunFailedError(f"{', '.join(failed)} exited with an error; see {search.logs}")
    return records


class RecordWatcher:
    """The chief's view of its workers: trial records that appear or finish become events."""

    def __init__(self, search: SearchDir, planned_trials: int | None, direction: str, listeners: Sequence[Listener]):
        self.search, self.planned_trials, self.direction = search, planned_trials, direction
        self.listeners = list(listeners)
        self.seen = {r.trial_id: r.status for r in search.records()}

    def poll(self) -> None:
        records = self.search.records()
        for record in records:
            previous = self.seen.get(record.trial_id)
            if previous == record.status:
                continue
            if previous is None or (previous != TrialStatus.RUNNING and record.status == TrialStatus.RUNNING):
                self._emit(TrialStarted(record.to_json(), self.planned_trials))
            if record.finished:
                top = best(records, self.direction)
                self._emit(TrialEnded(record.to_json(), top.to_json() if top else None))
            self.seen[record.trial_id] = record.status

    def _emit(self, event: Event) -> None:
        emit(self.listeners, event)
