"""A search's gRPC channel is unauthenticated, so both ends are tested against a hostile other end on
127.0.0.1: a client that sends a real chief malformed and crafted requests, and a chief that hands a
real worker crafted trials. Nothing outside the search directory may be read or written, and the
chief must still exit on schedule. Also: names and records read back from a search directory, and
workers whose chief is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import pytest

from kerashp.cli import main as kerashp_main
from kerashp.config import load_preset
from kerashp.search.directory import SearchDir
from kerashp.search.distributed import LOOPBACK, Role, free_port

pytestmark = pytest.mark.e2e

VICTIM_ID = "../../victim"  # from <search>/trials/: the folder next to the search


def write_search_preset(where: Path, tiny_folder: Path, search: str = "", epochs: int = 1) -> Path:
    preset = where / "hostile.toml"
    preset.write_text(
        f'extends = "lenet5"\n[data]\nsource = "folder:{tiny_folder}"\nvalidation = 8\n'
        f"[train]\nbatch_size = 8\nepochs = {epochs}\n"
        f'[search]\nalgorithm = "random"\nmax_trials = 2\n{search}\n[search.space]\n'
        '"optimizer.learning_rate" = { type = "float", min = 1e-3, max = 0.05, log = true }\n'
    )
    return preset


def write_victim(where: Path) -> Path:
    """A folder outside the search that looks like a trial folder holding a run to continue from."""
    run = where / "victim" / "run"
    run.mkdir(parents=True)
    (run / "preset.toml").write_text('extends = "lenet5"\n')
    (run / "secret.txt").write_text("not for the search\n")
    return run


def files_outside(root: Path, search: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in root.rglob("*") if search not in p.parents and p != search}


def tune(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "kerashp.cli", "tune", *arguments]


def wait_for(condition, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        assert process is None or process.poll() is None, process.communicate()
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ---------------------------------------------------------------------------------------- a hostile client


def hostile_requests(port: int) -> list[tuple[str, str]]:
    """Crafted and malformed requests to the chief at `port`; each one's gRPC status code."""
    import grpc
    from keras_tuner import HyperParameters
    from keras_tuner.src import protos
    from keras_tuner.src.engine.trial import Trial

    service = protos.get_service()
    channel = grpc.insecure_channel(f"{LOOPBACK}:{port}")
    stub = protos.get_service_grpc().OracleStub(channel)
    steering = HyperParameters()
    steering.Fixed("tuner/trial_id", VICTIM_ID)
    unknown = Trial(HyperParameters(), trial_id="999", status="COMPLETED")
    requests = {
        "UpdateSpace tuner/trial_id": (
            stub.UpdateSpace, service.UpdateSpaceRequest(hyperparameters=steering.to_proto()),
        ),
        "EndTrial unknown trial": (stub.EndTrial, service.EndTrialRequest(trial=unknown.to_proto())),
        "UpdateTrial unknown trial": (
            stub.UpdateTrial, service.UpdateTrialRequest(trial_id="999", metrics={"val_accuracy": 1.0}),
        ),
        "CreateTrial odd tuner id": (stub.CreateTrial, service.CreateTrialRequest(tuner_id="../../x")),
        "GetTrial unknown trial": (stub.GetTrial, service.GetTrialRequest(trial_id="../../victim")),
        "GetBestTrials -1": (stub.GetBestTrials, service.GetBestTrialsRequest(num_trials=-1)),
        "EndTrial garbage": (channel.unary_unary("/keras_tuner.Oracle/EndTrial"), b"\x0a\xff\xff\xff\x0fjunk"),
    }
    codes = []
    for what, (call, request) in requests.items():
        try:
            call(request, wait_for_ready=True, timeout=120)
            codes.append((what, "OK"))
        except grpc.RpcError as exc:
            codes.append((what, exc.code().name))
    channel.close()
    return codes


def test_a_chief_refuses_hostile_requests_touches_nothing_outside_and_exits_on_schedule(tiny_folder, tmp_path):
    """Before: the EndTrial made KerasTuner's lock stay held, so the chief never exited; the
    UpdateSpace made the worker copy ../../victim into trials/ and train it."""
    preset, search, victim = write_search_preset(tmp_path, tiny_folder), tmp_path / "search", write_victim(tmp_path)
    before = files_outside(tmp_path, search)
    port = free_port()
    command = tune("--preset", str(preset), "--max-trials", "1", "--dir", str(search), "--chief", str(port))
    chief = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        codes = hostile_requests(port)
        worker = subprocess.run(tune("--dir", str(search), "--worker", f"{LOOPBACK}:{port}", "--id", "1"),
                                capture_output=True, text=True, timeout=300)
        _, errors = chief.communicate(timeout=60)  # on schedule: the last trial ended, the worker was told to stop
    finally:
        chief.kill()
    assert [code for _, code in codes] == ["INVALID_ARGUMENT"] * 6 + ["INTERNAL"], codes  # gRPC cannot parse the last
    assert worker.returncode == 0 and chief.returncode == 0, (worker.stderr, errors)
    assert errors.count("kerashp: warning: the chief refused") == 6, errors
    assert files_outside(tmp_path, search) == before
    assert sorted(p.name for p in victim.parent.rglob("*")) == ["preset.toml", "run", "secret.txt"]
    assert not list(search.rglob("secret.txt"))
    records = SearchDir(search).records()
    assert [r.status for r in records] == ["completed"]
    assert all(r.parent is None and list(r.hyperparameters) == ["optimizer.learning_rate"] for r in records)


# ---------------------------------------------------------------------------------------- a hostile chief


def test_a_worker_refuses_trials_that_lead_outside_its_search(tiny_folder, tmp_path, capfd):
    """A chief (not kerashp's: KerasTuner's own servicer, which checks nothing) hands out a trial
    that continues ../../victim. Before: the worker copied the victim folder into trials/0/."""
    import grpc
    import keras_tuner
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    from kerashp.search.runner import run_search

    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)))
    search = SearchDir.prepare(tmp_path / "search", preset)
    write_victim(tmp_path)
    space = keras_tuner.HyperParameters()
    space.Float("optimizer.learning_rate", 1e-3, 0.05)
    space.Fixed("tuner/trial_id", VICTIM_ID)
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1, hyperparameters=space)
    oracle._set_project_dir(str(tmp_path / "hostile-chief"), "oracle")
    server, port = grpc.server(futures.ThreadPoolExecutor(max_workers=1)), free_port()
    protos.get_service_grpc().add_OracleServicer_to_server(OracleServicer(oracle), server)
    server.add_insecure_port(f"{LOOPBACK}:{port}")
    server.start()
    before = files_outside(tmp_path, search.path)
    try:
        records = run_search(preset, search, role=Role("worker", LOOPBACK, port, 1))
    finally:
        server.stop(grace=None)
    assert records == [] and not any(search.trials.iterdir())  # nothing written for the refused trial
    assert not list(search.path.rglob("secret.txt"))
    refusal = "kerashp: warning: worker1 refused a trial: 'tuner/trial_id' is not in the search space of this search"
    assert refusal in capfd.readouterr().err
    assert {k: v for k, v in files_outside(tmp_path, search.path).items() if "hostile-chief" not in k} == before
    assert oracle.trials["0"].status == "FAILED"  # reported back as failed, so the search goes on


@pytest.mark.parametrize(
    "trial_id, values, problem",
    [
        ("../../victim", {}, "trial id '../../victim': expected digits"),
        ("0", {"tuner/trial_id": VICTIM_ID}, "'tuner/trial_id' is not in the search space"),
        ("0", {"optimizer.name": "sgd"}, "'optimizer.name' is not in the search space"),
        ("0", {"optimizer.learning_rate": 5.0}, "optimizer.learning_rate = '5.0' is outside its search.space entry"),
        ("0", {"optimizer.learning_rate": "0.01"}, "is outside its search.space entry"),
    ],
)
def test_a_worker_checks_every_trial_it_is_handed(tiny_folder, tmp_path, trial_id, values, problem):
    from kerashp.search.guard import trial_problem

    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)))
    search = SearchDir.prepare(tmp_path / "search", preset)
    assert problem in trial_problem(trial_id, values, preset, search)
    assert trial_problem("00", {"optimizer.learning_rate": 0.01}, preset, search) is None


@pytest.mark.parametrize(
    "parent, problem",
    [
        (VICTIM_ID, "expected the id of another trial of this search"),
        ("3", "no such trial"),
        ("1", "expected the id of another trial"),  # itself
        (None, None),
    ],
)
def test_a_hyperband_trial_continues_only_a_trial_of_its_own_search(tiny_folder, tmp_path, parent, problem):
    from kerashp.search.guard import trial_problem

    hyperband = ['search.algorithm="hyperband"', "search.max_epochs=3"]
    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)), hyperband)
    search = SearchDir.prepare(tmp_path / "search", preset)
    (search.trials / "0").mkdir()
    (search.trials / "0" / "record.json").write_text("{}")
    values = {"optimizer.learning_rate": 0.01, "tuner/epochs": 3, "tuner/initial_epoch": 1}
    values |= {"tuner/bracket": 1, "tuner/round": 1}
    if parent is not None:
        values["tuner/trial_id"] = parent
    found = trial_problem("1", values, preset, search)
    assert found is None if problem is None else problem in found
    assert "tuner/epochs = '9'" in trial_problem("1", {**values, "tuner/epochs": 9}, preset, search)


# ---------------------------------------------------------------------------------------- what a search reads back


def test_a_search_name_that_leads_out_of_the_search_is_refused(tiny_folder, tmp_path, capsys):
    """Before: trial runs were made at <search>/trials/0/../../../x-<time>, outside the search."""
    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)))
    search = SearchDir.prepare(tmp_path / "nest" / "search", preset)
    text = search.preset_file.read_text().replace("name = \"hostile\"", 'name = "../../../x"')
    search.preset_file.write_text(text)
    assert kerashp_main(["tune", "--dir", str(search.path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"kerashp: error: {search.preset_file}: name = \"../../../x\": expected a plain name")
    assert error.count("\n") == 1 and not list(tmp_path.rglob("x-*")) and not list(search.trials.iterdir())


@pytest.mark.parametrize(
    "record, problem",
    [
        ("[1, 2]", "holds a JSON list, not an object"),
        ('{"trial_id": "0", "status": "won", "hyperparameters": {}}', 'status = "won": expected one of'),
        ('{"trial_id": "0", "status": "completed", "hyperparameters": {}, "objective": "high"}', "objective"),
        ('{"trial_id": "0", "status": "completed", "hyperparameters": {}, "runs": ["../../victim"]}', "runs"),
        ('{"trial_id": "1", "status": "completed", "hyperparameters": {}}', "the name of its folder"),
        ('{"trial_id": "0", "status": "completed"', "not valid JSON"),
    ],
)
def test_a_damaged_trial_record_is_one_line_naming_it(tiny_folder, tmp_path, capsys, record, problem):
    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)))
    search = SearchDir.prepare(tmp_path / "search", preset)
    (search.trials / "0").mkdir()
    (search.trials / "0" / "record.json").write_text(record)
    assert kerashp_main(["tune", "--results", str(search.path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"kerashp: error: {search.trials / '0' / 'record.json'}: ") and problem in error
    assert error.count("\n") == 1


def test_a_search_toml_that_is_not_toml_is_one_line_naming_it(tiny_folder, tmp_path, capsys):
    preset = load_preset(str(write_search_preset(tmp_path, tiny_folder)))
    search = SearchDir.prepare(tmp_path / "search", preset)
    search.preset_file.write_bytes(b"name = \xff\n")
    assert kerashp_main(["tune", "--dir", str(search.path)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"kerashp: error: {search.preset_file}: TOML syntax error") and error.count("\n") == 1


# ---------------------------------------------------------------------------------------- a chief that dies


def worker_pid(search: Path) -> int:
    (summary,) = search.glob("trials/*/*/summary.json")
    return json.loads(summary.read_text())["pid"]


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_local_workers_die_with_their_chief(tiny_folder, tmp_path, how):
    """Before: the worker trained on, orphaned, for as long as its trials took."""
    preset, search = write_search_preset(tmp_path, tiny_folder, epochs=500), tmp_path / "search"
    chief = subprocess.Popen(tune("--preset", str(preset), "--dir", str(search), "--local-workers", "1"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: list(search.glob("trials/*/*/summary.json")), 180, chief)
        pid = worker_pid(search)
        chief.send_signal(how)
        chief.wait(timeout=30)
        wait_for(lambda: not alive(pid), 10)
    finally:
        chief.kill()


def test_a_remote_worker_gives_up_when_its_chief_is_gone(tiny_folder, tmp_path):
    """CHIEF_GONE_S is cut to 3 s here (60 s by default). Before: the worker waited up to an hour."""
    preset, search, port = write_search_preset(tmp_path, tiny_folder, epochs=500), tmp_path / "search", free_port()
    chief = subprocess.Popen(tune("--preset", str(preset), "--dir", str(search), "--chief", str(port)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    impatient = ("import sys; from kerashp.search import distributed as d; "
                 "d.CHIEF_GONE_S, d.PING_S, d.GIVE_UP_GRACE_S = 3, 1, 5; "
                 "from kerashp.cli import main; sys.exit(main(sys.argv[1:]))")
    wait_for(lambda: (search / "search.toml").is_file(), 60, chief)  # a worker joins a search the chief has set up
    arguments = ["tune", "--dir", str(search), "--worker", f"{LOOPBACK}:{port}", "--id", "1"]
    command = [sys.executable, "-c", impatient, *arguments]
    worker = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: list(search.glob("trials/*/*/summary.json")), 180, worker)
        chief.kill()
        chief.wait(timeout=30)
        killed = time.monotonic()
        _, errors = worker.communicate(timeout=30)
        waited = time.monotonic() - killed
    finally:
        chief.kill()
        worker.kill()
    assert worker.returncode == 1 and waited < 20, (waited, errors)
    assert errors.strip().splitlines()[-1] == (
        f"kerashp: error: the chief at {LOOPBACK}:{port} has not answered for 3 s; this worker stops "
        "(start it again to rejoin the search)"
    )
    assert os.environ.get("KERASHP_CHIEF_PID") is None
