"""Keras's `CallbackList` for `fit`, minus the per-batch dispatch no callback listens to.

When no callback overrides a batch-end hook, Keras calls the hooks "async safe" and still hands
every step's logs to a thread pool, whose thread converts them to floats for hooks that do
nothing: a pool submission per step, a second thread contending for the GIL and, on a GPU, a
thread waiting for every step to finish. kerashp's recorder takes its samples at a batch's
beginning (`EpochRecorder.on_train_batch_begin`), so nothing needs that work. Where any callback
does override a batch-end hook (a progress bar, a user's callback), Keras's dispatch is kept.
"""

from __future__ import annotations

import keras
from keras.src.utils.python_utils import is_default

KINDS = ("train", "test", "predict")


class QuietCallbackList(keras.callbacks.CallbackList):
    """`fit`'s callbacks (pass it as `callbacks=`, with the params `fit` would set), dispatching a
    batch's end only to callbacks that have a hook for it."""

    def __init__(self, callbacks=None, **kwargs):
        super().__init__(callbacks, **kwargs)
        self._heard = {kind: any(_hears_batch_end(callback, kind) for callback in self.callbacks) for kind in KINDS}

    def on_train_batch_end(self, batch, logs=None):
        if self._heard["train"]:
            super().on_train_batch_end(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if self._heard["test"]:
            super().on_test_batch_end(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        if self._heard["predict"]:
            super().on_predict_batch_end(batch, logs)


def _hears_batch_end(callback: keras.callbacks.Callback, kind: str) -> bool:
    """Whether `callback` overrides `on_{kind}_batch_end` (or, for training, the legacy
    `on_batch_end` Keras's default `on_train_batch_end` calls)."""
    hooks = [getattr(callback, f"on_{kind}_batch_end")]
    if kind == "train":
        hooks.append(callback.on_batch_end)
    return not all(map(is_default, hooks))
