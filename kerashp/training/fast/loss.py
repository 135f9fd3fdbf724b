"""The training loss kerashp compiles (cross-entropy on logits plus L2 penalties), computed in torch.

Keras computes it through its loss wrappers (`CompileLoss`, `LossFunctionWrapper`, reductions
over `keras.ops`) and collects the L2 penalties by walking every layer at every step; on LeNet-5
that Python was about 5% of a training step. The same sums are a handful of torch calls on the
same tensors. Only the exact configuration kerashp compiles is replaced (one
`CategoricalCrossentropy` from logits with the default reduction, L2 regularizers on weights and
nothing else adding losses); any other keeps Keras's `compute_loss`.
"""

from __future__ import annotations

import functools

import keras


def accelerate_loss(model: keras.Model) -> bool:
    """Swap in the torch loss where the compiled one is kerashp's; True when it was."""
    loss = getattr(model, "loss", None)
    if keras.backend.backend() != "torch" or not isinstance(loss, keras.losses.CategoricalCrossentropy):
        return False
    config = loss.get_config()
    if (
        not config.get("from_logits")
        or config.get("reduction") != "sum_over_batch_size"
        or config.get("axis", -1) != -1
    ):
        return False
    layers = list(model._flatten_layers(include_self=False))
    if any(getattr(layer, "activity_regularizer", None) is not None for layer in layers):
        return False
    penalties = [(v.regularizer, v) for v in model.trainable_variables if v.regularizer is not None]
    if not all(isinstance(regularizer, keras.regularizers.L2) for regularizer, _ in penalties):
        return False
    l2 = [(float(regularizer.l2), variable) for regularizer, variable in penalties]
    model.compute_loss = functools.partial(_compute_loss, float(config.get("label_smoothing") or 0.0), l2)
    return True


def _compute_loss(label_smoothing: float, l2, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    import torch
    import torch.nn.functional as F

    if sample_weight is not None:
        raise ValueError("kerashp's torch loss does not weight samples")
    if not torch.is_tensor(y):  # `train_on_batch` may hand over NumPy labels
        y = keras.ops.convert_to_tensor(y, dtype=y_pred.dtype)
    if label_smoothing:
        y = y * (1.0 - label_smoothing) + label_smoothing / y.shape[-1]
    loss = -(y * F.log_softmax(y_pred, dim=-1)).sum(dim=-1).mean()
    for factor, variable in l2:
        loss = loss + factor * torch.sum(torch.square(variable.value))
    return loss
