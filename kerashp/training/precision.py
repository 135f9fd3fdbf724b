"""`train.precision` through Keras dtype policies: float32, or mixed precision, which computes in
bfloat16 or float16 while keeping float32 weights (Keras's mixed precision guide).

A model is built under its policy (each layer takes the global policy when it is made, and a
`.keras` checkpoint records it per layer, so a resumed run computes as it began). Its output layer
computes in float32, as Keras recommends, so the softmax and the loss are float32 whatever loss
implementation reads the logits. float16 has a narrow range: its loss is scaled
(`LossScaleOptimizer`) so small gradients do not flush to zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import keras

FLOAT32 = "float32"
FLOAT16 = "mixed_float16"


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Layers made inside take `precision`; the global policy is restored after (it is process-wide,
    and a search trains many models in one process)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_in_precision(build: Callable[[], keras.Model], precision: str) -> keras.Model:
    """`build()` under `precision`, its output layers in float32."""
    with dtype_policy(precision):
        model = build()
    if precision != FLOAT32:
        for output in model.outputs:
            output._keras_history.operation.dtype_policy = FLOAT32  # Keras has no public accessor for the producer
    return model


def loss_scaled(optimizer: keras.optimizers.Optimizer, precision: str) -> keras.optimizers.Optimizer:
    """The optimizer `precision` trains with: float16 scales its loss dynamically."""
    return keras.optimizers.LossScaleOptimizer(optimizer) if precision == FLOAT16 else optimizer


def model_precision(model: keras.Model) -> str:
    """The mixed policy a model's layers compute in, or float32 (its input and output layers are
    float32 under any policy)."""
    policies = {layer.dtype_policy.name for layer in model._flatten_layers(include_self=False)}
    mixed = sorted(policies - {FLOAT32})
    return mixed[0] if mixed else FLOAT32
