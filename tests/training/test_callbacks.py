"""`QuietCallbackList`: no per-step thread-pool task when no callback hears a batch's end, and
Keras's dispatch, unchanged, when one does."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerashp.training.fast.callbacks import QuietCallbackList


class EpochsOnly(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.begun: list[int] = []

    def on_train_batch_begin(self, batch, logs=None):
        self.begun.append(batch)


class BatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ended: list[tuple[int, float]] = []

    def on_train_batch_end(self, batch, logs=None):
        self.ended.append((batch, logs["loss"]))


class LegacyBatchEnds(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.ended: list[int] = []

    def on_batch_end(self, batch, logs=None):  # Keras's default on_train_batch_end calls it
        self.ended.append(batch)


def _fit(callback, monkeypatch, kind=QuietCallbackList) -> tuple[keras.callbacks.History, list]:
    dispatched: list = []
    dispatch = keras.callbacks.CallbackList._async_dispatch
    monkeypatch.setattr(
        keras.callbacks.CallbackList, "_async_dispatch", lambda self, fn, *a: (dispatched.append(fn), dispatch(self, fn, *a))
    )
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")
    callbacks = kind([callback], add_history=True, model=model, verbose=0, epochs=2, steps=4)
    history = model.fit(x, y, batch_size=2, epochs=2, validation_data=(x, y), callbacks=callbacks, verbose=0)
    return history, dispatched


def test_no_listener_no_dispatch_and_fit_is_otherwise_keras(monkeypatch):
    _, stock = _fit(EpochsOnly(), monkeypatch, kind=keras.callbacks.CallbackList)
    assert len(stock) == 2 * 4 + 2 * 4  # Keras's list: a pool task per training and per validation batch
    callback = EpochsOnly()
    history, dispatched = _fit(callback, monkeypatch)
    assert dispatched == []
    assert callback.begun == [0, 1, 2, 3] * 2 and callback.params["steps"] == 4
    assert set(history.history) == {"loss", "val_loss"} and len(history.history["loss"]) == 2


@pytest.mark.parametrize("listener", [BatchEnds, LegacyBatchEnds])
def test_a_callback_with_a_batch_end_hook_hears_every_batch(listener, monkeypatch):
    callback = listener()
    _, dispatched = _fit(callback, monkeypatch)
    assert [e[0] if isinstance(e, tuple) else e for e in callback.ended] == [0, 1, 2, 3] * 2
    assert dispatched == []  # Keras calls a listening list's hooks in the training thread
