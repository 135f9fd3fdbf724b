"""`EpochRecorder`'s batch events: taken between batches without converting Keras's per-batch logs
(which would make a GPU wait after every step), and reported in order, every step of the epoch
sampled, the last one included, before the epoch ends."""

from __future__ import annotations

import pytest

from kerashp.backend import use_torch_backend

use_torch_backend()

from kerashp.config import load_preset  # noqa: E402
from kerashp.events import BatchEnded, EpochEnded  # noqa: E402
from kerashp.training import recorder  # noqa: E402
from kerashp.training.run import train  # noqa: E402


class NotYetArrived(recorder.ReadLater):
    """A sample whose copy to the host is still on its way (a GPU running behind), until read."""

    def ready(self) -> bool:
        return False


@pytest.mark.parametrize("arrived", [True, False], ids=["samples arrive at once", "samples arrive late"])
def test_batch_events_arrive_in_order_every_sampled_step_then_the_epoch(tiny_folder, tmp_path, monkeypatch, arrived):
    monkeypatch.setattr(recorder, "BATCH_EVENTS_PER_EPOCH", 2)  # 5 steps an epoch: every second step, and the last
    if not arrived:  # held back between batches, then all reported, in order, before the epoch's end
        monkeypatch.setattr(recorder, "ReadLater", NotYetArrived)
    events = []
    preset = load_preset("lenet5", [f"data.source=folder:{tiny_folder}", "train.batch_size=8", "data.validation=8"])
    result = train(preset, tmp_path, [events.append], epochs=2)
    seen = [
        (e.epoch, e.step if isinstance(e, BatchEnded) else "end")
        for e in events
        if isinstance(e, (BatchEnded, EpochEnded))
    ]
    assert seen == [(1, 2), (1, 4), (1, 5), (1, "end"), (2, 2), (2, 4), (2, 5), (2, "end")]
    last = [e for e in events if isinstance(e, BatchEnded)][-1]
    final = result.run.read_history()[-1]
    assert (last.loss, last.accuracy) == pytest.approx((final["loss"], final["accuracy"]))


def test_the_sampled_running_values_are_keras_metric_results():
    import keras
    import numpy as np

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    model.compile(optimizer="sgd", loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    rng = np.random.default_rng(0)
    model.train_on_batch(rng.normal(size=(8, 4)), np.eye(3)[rng.integers(0, 3, 8)])
    model.train_on_batch(rng.normal(size=(8, 4)), np.eye(3)[rng.integers(0, 3, 8)])
    expected = model.get_metrics_result()
    sampler = recorder.EpochRecorder.__new__(recorder.EpochRecorder)  # only the sampling, no run folder
    sampler.set_model(model)
    sampler.means = recorder._loss_and_accuracy_means(model)
    assert sampler.means is not None
    got = [float(v) for v in sampler._running_loss_and_accuracy()]
    assert got == [float(expected["loss"]), float(expected["accuracy"])]
