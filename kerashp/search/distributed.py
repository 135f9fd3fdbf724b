"""Distributed searches: KerasTuner's gRPC oracle on a chief, workers that ask it for trials.

KerasTuner picks its role from three environment variables (KERASTUNER_TUNER_ID,
KERASTUNER_ORACLE_IP, KERASTUNER_ORACLE_PORT); `Role.applied()` sets them from `--chief` /
`--worker`. The chief serves KerasTuner's own `OracleServicer`, with a loop that notices the end of
the search within a fraction of a second (KerasTuner's sleeps 20 s) and that can watch local
workers. A worker started before its chief retries the connection every second (gRPC's default
backoff grows to two minutes, long enough for a fast worker to take every trial), and a finished
chief keeps answering "no trials left" a little longer, so a worker that asks late exits instead of
waiting an hour for a chief that has gone. The gRPC channel is plain and unauthenticated: bind the
chief to 127.0.0.1 (the default) or to a private network you trust; both ends check what they
receive (kerashp.search.guard).

grpc and KerasTuner are imported where they are used: the CLI reads `--chief` and `--worker`
through this module before anything trains.

A worker gives up on a chief that has gone: local workers die with the process that started them
(a parent-death signal on Linux, a watch on the parent's pid elsewhere), and every worker stops,
with one line, once its chief has not answered for CHIEF_GONE_S (CHIEF_WAIT_S for a chief that has
never answered yet, which may simply start later). It stops its trial as Ctrl-C would; should the
trial not stop within GIVE_UP_GRACE_S, the worker exits anyway, as after a kill, which every run
folder survives.
"""

from __future__ import annotations

import _thread
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kerashp.backend import visible_gpus
from kerashp.errors import RunFailedError, UserError
from kerashp.search.guard import guarded_servicer

# gRPC's C core logs to stderr on its own (`E1125 ... add_port.cc:83] Failed to add port` before
# kerashp's one-line error for a bad --chief); it reads this once, when grpc is first imported.
os.environ.setdefault("GRPC_VERBOSITY", "NONE")

LOOPBACK = "127.0.0.1"
POLL_S = 0.25
WORKER_EXIT_S = 120  # how long a finished search waits for local workers to exit
LINGER_S = 5  # how long a finished chief still answers workers it has not heard from
RECONNECT_MS = 1000  # a waiting worker's longest pause between attempts to reach the chief
CHIEF_WAIT_S = 600  # how long a worker waits for a chief that has not answered yet (it may start later)
CHIEF_GONE_S = 60  # how long a worker goes on without an answer from a chief that has answered before
PING_S = 5  # how often a worker checks that its chief still answers
GIVE_UP_GRACE_S = 10  # how long a worker that gave up may take to stop its trial before it exits anyway
CHIEF_PID_ENV = "KERASHP_CHIEF_PID"  # set for local workers: the process whose death ends them
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Role:
    kind: str = "local"  # local | chief | worker
    host: str = ""
    port: int = 0
    worker_id: int = 0

    @property
    def tuner_id(self) -> str:
        return {"chief": "chief", "worker": f"worker{self.worker_id}"}.get(self.kind, "tuner0")

    @property
    def name(self) -> str:
        return self.kind if self.kind != "worker" else self.tuner_id

    def variables(self) -> dict[str, str]:
        """KerasTuner's variables for this role (none for a local search)."""
        if self.kind == "local":
            return {}
        return {
            "KERASTUNER_TUNER_ID": self.tuner_id,
            "KERASTUNER_ORACLE_IP": self.host,
            "KERASTUNER_ORACLE_PORT": str(self.port),
        }

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Set this role's variables for KerasTuner, and restore the environment afterwards."""
        saved = {name: os.environ.get(name) for name in self.variables()}
        os.environ.update(self.variables())
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def parse_address(text: str, option: str, default_host: str | None = None) -> tuple[str, int]:
    """`HOST:PORT`, or a bare `PORT` where a default host applies."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host = default_host or ""
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        form = "[HOST:]PORT" if default_host else "HOST:PORT"
        raise UserError(f"{option} {text}: expected {form}, e.g. {option} {default_host or LOOPBACK}:8000")
    return host, int(port)


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def quiet_condition_protos() -> None:
    """Silence the `print` in KerasTuner's conditions module.

    KerasTuner 1.4.8 left a debugging `print(self.values[0])` in `Parent.to_proto` (keras_tuner/src/
    engine/conditions.py), which runs whenever a trial with a conditional hyperparameter crosses
    gRPC, so chief and workers printed stray lines such as `sgd`. The module has no other print;
    shadowing the name there leaves every other thread's output alone (redirecting stdout would not).
    """
    from keras_tuner.src.engine import conditions  # on first use (see the module's docstring)

    conditions.print = _print_nothing


def _print_nothing(*args, **kwargs) -> None:
    """KerasTuner's leftover debugging output goes nowhere."""


def serve(
    oracle,
    host: str,
    port: int,
    on_poll: Callable[[], None],
    workers_alive: Callable[[], bool] | None = None,
    worker_ids: set[str] | None = None,
) -> None:
    """Serve `oracle` to workers (only `worker_ids`, when given) until every trial is done and
    every worker has been told to stop."""
    import grpc  # on first use (see the module's docstring)
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    quiet_condition_protos()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = guarded_servicer(oracle, worker_ids)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise UserError(f"--chief {host}:{port}: cannot listen there (port in use, or not an address of this host)")
    server.start()

    def done() -> bool:
        return servicer.stop_triggered and exit_chief(oracle)

    try:
        while not done():
            on_poll()
            if workers_alive is not None and not workers_alive() and not done():
                raise RunFailedError(
                    "every worker exited before the search finished; see the logs/ folder of the search"
                )
            time.sleep(POLL_S)
        on_poll()
        linger(workers_alive)
    finally:
        server.stop(grace=1)


def linger(workers_alive: Callable[[], bool] | None) -> None:
    """Keep serving after the search: until local workers have exited, or LINGER_S for remote ones."""
    deadline = time.monotonic() + (WORKER_EXIT_S if workers_alive is not None else LINGER_S)
    while time.monotonic() < deadline and (workers_alive is None or workers_alive()):
        time.sleep(POLL_S)


def reconnect_quickly(client) -> ChiefLink:
    """Give a worker's KerasTuner `OracleClient` a channel that retries the chief every RECONNECT_MS,
    with each call bounded as ChiefLink bounds it; return the link."""
    import grpc  # on first use (see the module's docstring)
    from keras_tuner.src import protos

    quiet_condition_protos()
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    options = [("grpc.initial_reconnect_backoff_ms", RECONNECT_MS), ("grpc.max_reconnect_backoff_ms", RECONNECT_MS)]
    channel = grpc.insecure_channel(address, options=options)
    client.stub = ChiefLink(protos.get_service_grpc().OracleStub(channel), address)
    return client.stub


class ChiefLink:
    """A worker's stub for its chief. KerasTuner gives each call an hour; here a call waits at most
    CHIEF_WAIT_S until the chief first answers and CHIEF_GONE_S after, and `watch` notices a chief
    that stops answering while a trial trains."""

    def __init__(self, stub, address: str):
        self.stub, self.address = stub, address
        self.answered_at: float | None = None
        self.gone = self.closed = False

    def limit(self) -> float:
        return CHIEF_WAIT_S if self.answered_at is None else CHIEF_GONE_S

    def __getattr__(self, method: str):
        call = getattr(self.stub, method)

        def bounded(request, timeout: float | None = None, **options):
            response = call(request, timeout=min(timeout or self.limit(), self.limit()), **options)
            self.answered_at = time.monotonic()
            return response

        return bounded

    def watch(self) -> None:
        """Ping the chief every PING_S from a daemon thread; after CHIEF_GONE_S without an answer,
        mark it gone and interrupt the main thread, which stops the trial it trains."""
        threading.Thread(target=self._watch, name="kerashp-chief-watch", daemon=True).start()

    def _watch(self) -> None:
        from keras_tuner.src import protos  # on first use (see the module's docstring)

        while not (self.gone or self.closed):
            time.sleep(PING_S)
            if self.answered_at is None or self.closed:
                continue  # the first call waits for the chief itself
            try:
                self.GetSpace(protos.get_service().GetSpaceRequest(), timeout=PING_S, wait_for_ready=True)
            except Exception:  # grpc.RpcError: no answer this time
                if time.monotonic() - self.answered_at >= CHIEF_GONE_S and not self.closed:
                    self.gone = True
                    _thread.interrupt_main()
        if self.gone:
            self._exit_unless_stopped()

    def _exit_unless_stopped(self) -> None:
        """The interrupt may land where it is swallowed (inside a library's own handler), and a
        worker must not train on for a chief that has gone: after GIVE_UP_GRACE_S, exit as a kill would."""
        time.sleep(GIVE_UP_GRACE_S)
        if not self.closed:
            print(f"kerashp: error: {self.gave_up()}", file=sys.stderr, flush=True)
            os._exit(1)

    def close(self) -> None:
        """Stop watching: the search is over for this worker."""
        self.closed = True

    def gave_up(self) -> str:
        waited = CHIEF_GONE_S if self.answered_at else CHIEF_WAIT_S
        return (
            f"the chief at {self.address} has not answered for {waited} s; this worker stops "
            "(start it again to rejoin the search)"
        )


def die_with_chief() -> None:
    """In a local worker (CHIEF_PID_ENV set), end this process when the chief that started it ends,
    however it ends (SIGKILL included): Linux's parent-death signal, else a thread that watches the
    parent's pid. A chief already gone by now ends it at once."""
    chief = os.environ.get(CHIEF_PID_ENV, "")
    if not chief.isdigit():
        return
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    else:
        threading.Thread(target=_watch_parent, args=(int(chief),), daemon=True).start()
    if os.getppid() != int(chief):
        os.kill(os.getpid(), signal.SIGTERM)


def _watch_parent(chief: int) -> None:
    while os.getppid() == chief:
        time.sleep(1)
    os.kill(os.getpid(), signal.SIGTERM)


def worker_devices(count: int) -> list[str | None]:
    """CUDA_VISIBLE_DEVICES for each of `count` local workers, round robin over the GPUs this
    process sees; None (inherit) with fewer than two GPUs."""
    gpus = visible_gpus()
    if len(gpus) < 2:
        return [None] * count
    return [gpus[k % len(gpus)] for k in range(count)]


def start_local_workers(search_dir: Path, count: int, host: str, port: int) -> list[subprocess.Popen]:
    """`count` worker processes on this machine, one per GPU when there are several; each one's
    output goes to <search>/logs/worker<N>.log."""
    logs = search_dir / "logs"
    logs.mkdir(exist_ok=True)
    workers = []
    for worker_id, device in enumerate(worker_devices(count), start=1):
        env = dict(os.environ, **{CHIEF_PID_ENV: str(os.getpid())})
        if device is not None:
            env["CUDA_VISIBLE_DEVICES"] = device
        command = [
            sys.executable,
            "-m",
            "kerashp.cli",
            "tune",
            "--dir",
            str(search_dir),
            "--worker",
            f"{host}:{port}",
            "--id",
            str(worker_id),
        ]
        with open(logs / f"worker{worker_id}.log", "w", encoding="utf-8") as log:
            workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env))
    return workers


def wait_for_workers(workers: list[subprocess.Popen]) -> list[int]:
    """Exit codes of the local workers; one that outlives the search by WORKER_EXIT_S is ended."""
    codes = []
    for worker in workers:
        try:
            codes.append(worker.wait(timeout=WORKER_EXIT_S))
        except subprocess.TimeoutExpired:
            worker.terminate()
            codes.append(worker.wait(timeout=30))
    return codes
