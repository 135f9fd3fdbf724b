"""The chief's gRPC service as workers see it: a worker that asks after the search has finished
is told to stop instead of waiting for a chief that has gone. Also: local workers' GPUs, and
KerasTuner's stray print silenced."""

from __future__ import annotations

import threading

import pytest

from kerashp import backend
from kerashp.backend import use_torch_backend
from kerashp.errors import UserError
from kerashp.search.distributed import (
    LOOPBACK,
    Role,
    free_port,
    parse_address,
    quiet_condition_protos,
    reconnect_quickly,
    serve,
    worker_devices,
)

use_torch_backend()

import keras_tuner  # noqa: E402
from keras_tuner.src.distribute.oracle_client import OracleClient  # noqa: E402
from keras_tuner.src.engine.trial import TrialStatus  # noqa: E402


def one_trial_oracle(tmp_path):
    space = keras_tuner.HyperParameters()
    space.Float("lr", 0.01, 0.1)
    oracle = keras_tuner.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1, hyperparameters=space)
    oracle._set_project_dir(str(tmp_path), "oracle")
    return oracle


def worker_client(port: int, worker_id: int) -> OracleClient:
    with Role("worker", LOOPBACK, port, worker_id).applied():
        client = OracleClient(None)
        reconnect_quickly(client)
    return client


def test_a_worker_that_asks_after_the_last_trial_is_told_to_stop(tmp_path):
    oracle, port = one_trial_oracle(tmp_path), free_port()
    chief = threading.Thread(target=serve, args=(oracle, LOOPBACK, port, lambda: None), daemon=True)
    chief.start()
    first = worker_client(port, 1)
    trial = first.create_trial("worker1")
    assert trial.status == TrialStatus.RUNNING
    first.update_trial(trial.trial_id, {"val_accuracy": 0.5}, step=1)
    trial.status = TrialStatus.COMPLETED
    first.end_trial(trial)
    assert first.create_trial("worker1").status == TrialStatus.STOPPED  # the search is over

    late = worker_client(port, 2)  # it never had a trial, so the chief no longer counts on it
    assert late.create_trial("worker2").status == TrialStatus.STOPPED
    chief.join(timeout=30)
    assert not chief.is_alive()


def test_a_chief_refuses_an_address_it_cannot_listen_on(tmp_path):
    with pytest.raises(UserError, match="cannot listen there"):
        serve(one_trial_oracle(tmp_path), "192.0.2.1", free_port(), lambda: None)


@pytest.mark.parametrize("text", ["host", "host:port", ":80", "127.0.0.1:70000"])
def test_worker_addresses_need_a_host_and_a_port(text):
    with pytest.raises(UserError, match="expected HOST:PORT"):
        parse_address(text, "--worker")


@pytest.mark.parametrize(
    "gpus, visible, expected",
    [
        (0, None, [None, None, None]),
        (1, "3", [None, None, None]),  # one GPU: every worker shares what the parent sees
        (2, None, ["0", "1", "0"]),
        (2, "2,5", ["2", "5", "2"]),  # the parent's own list, not physical GPUs 0 and 1
        (3, "GPU-a, GPU-b,GPU-c", ["GPU-a", "GPU-b", "GPU-c"]),
        (2, "4,6,bad,7", ["4", "6", "4"]),  # CUDA stops at the first invalid entry; torch counted 2
    ],
)
def test_local_workers_take_the_visible_gpus_round_robin(monkeypatch, gpus, visible, expected):
    monkeypatch.setattr(backend, "gpu_count", lambda: gpus)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert worker_devices(3) == expected


def test_conditional_values_cross_grpc_without_printing(capsys):
    """KerasTuner 1.4.8's `Parent.to_proto` prints its first value (a leftover debug print)."""
    from keras_tuner.src.engine.conditions import Parent

    quiet_condition_protos()
    quiet_condition_protos()  # harmless however often a search sets up
    proto = Parent("optimizer.name", ["sgd"]).to_proto()
    assert proto.parent.name == "optimizer.name" and capsys.readouterr().out == ""
    print("the rest of the process still prints")
    assert capsys.readouterr().out == "the rest of the process still prints\n"


def test_study_jobs_and_local_workers_share_one_reading_of_the_visible_gpus(monkeypatch):
    from kerashp.search import distributed
    from kerashp.study import runners as study_runners

    assert study_runners.visible_gpus is distributed.visible_gpus is backend.visible_gpus
    monkeypatch.setattr(backend, "gpu_count", lambda: 0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")  # set, yet torch sees no GPU: nothing to hand out
    assert backend.visible_gpus() == []
