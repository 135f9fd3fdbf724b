"""`run_search`: one entry point for a local search, a chief, a worker, or a chief with local workers.

Running it again on the same search directory continues the search: KerasTuner reloads its
oracle (finished trials stay finished, the interrupted one is handed out again) and the
interrupted trial's run resumes from its last epoch checkpoint.
"""

from __future__ import annotations

from kerashp.config import Preset
from kerashp.errors import RunFailedError
from kerashp.events import Event
from kerashp.search.directory import SearchDir
from kerashp.search.distributed import (
    LOOPBACK,
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


def run_search(
    base: Preset,
    search: SearchDir,
    listeners=(),
    role: Role = Role(),
    workers_alive=None,
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
                work(tuner)
            else:
                tuner.search()
        except SearchAborted as exc:
            raise exc.__cause__ from None
    records = ranked(search.write_table(), settings["direction"])
    tuner.report(SearchFinished(str(search.path), [r.to_json() for r in records]))
    return records


def work(tuner: PresetTuner) -> None:
    """A worker's search: trials from the chief until it says stop, or until it stops answering."""
    import grpc

    tuner.chief.watch()
    try:
        tuner.search()
    except KeyboardInterrupt:
        if not tuner.chief.gone:
            raise
        raise RunFailedError(tuner.chief.gave_up()) from None
    except grpc.RpcError as exc:
        if exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            raise RunFailedError(tuner.chief.gave_up()) from None
        raise RunFailedError(f"the chief at {tuner.chief.address} refused a request: {exc.details()}") from None
    finally:
        tuner.chief.close()


def run_local_search(base: Preset, search: SearchDir, workers: int, listeners=()) -> list[TrialRecord]:
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

    def __init__(self, search: SearchDir, planned_trials: int | None, direction: str, listeners):
        self.search, self.planned_trials, self.direction, self.listeners = (
            search,
            planned_trials,
            direction,
            list(listeners),
        )
        self.seen = {r.trial_id: r.status for r in search.records()}

    def poll(self) -> None:
        records = self.search.records()
        for record in records:
            previous = self.seen.get(record.trial_id)
            if previous == record.status:
                continue
            if previous is None or (previous != "running" and record.status == "running"):
                self._emit(TrialStarted(record.to_json(), self.planned_trials))
            if record.finished:
                top = best(records, self.direction)
                self._emit(TrialEnded(record.to_json(), top.to_json() if top else None))
            self.seen[record.trial_id] = record.status

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)
