"""The training loss kerashp compiles (cross-entropy on logits plus L2 penalties), computed in torch.

Keras computes it through its loss wrappers (`CompileLoss`, `LossFunctionWrapper`, reductions
over `keras.ops`) and collects the L2 penalties by walking every layer at every step; on LeNet-5
that Python was about 5% of a training step. The same sums are a handful of torch calls on the
same tensors. Only the exact configuration kerashp compiles is replaced (one
`CategoricalCrossentropy` from logits with the default reduction, L2 regularizers on weights and
nothing else adding losses); any other keeps Keras's `compute_loss`.
"""

from __future__ import annotations

import keras
import torch
import torch.nn.functional as F

from kerashp.models.variables import torch_values


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
    model.compute_loss = TorchLoss(float(config.get("label_smoothing") or 0.0), l2)
    return True


class TorchLoss:
    """The model's `compute_loss`: mean cross-entropy plus l2 * sum(w ** 2) per penalised variable.

    Called as Keras calls `compute_loss`, the penalties are part of the differentiated loss. The
    lean step (`kerashp.training.fast.train_step`) differentiates `data_loss` alone and then adds
    the penalties' gradients and values itself, with no autograd graph to record and replay for
    them: the same arithmetic, so the same bits for a variable the forward pass reads once (a
    shared kernel's several gradient parts may be summed in another order). As Keras does, only
    trainable variables are penalised.
    """

    def __init__(self, label_smoothing: float, l2: list[tuple[float, keras.Variable]]):
        self.label_smoothing, self.l2 = label_smoothing, l2

    def __call__(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if sample_weight is not None:
            raise ValueError("kerashp's torch loss does not weight samples")
        return self.add_penalties(self.data_loss(y, y_pred))

    def data_loss(self, y, y_pred):
        """The batch's mean cross-entropy of softmax(y_pred) against (smoothed) one-hot or soft `y`."""
        y_pred = y_pred.float()  # Keras's loss computes in float32 whatever the logits' dtype (a no-op for kerashp's)
        if not torch.is_tensor(y):  # `train_on_batch` may hand over NumPy labels
            y = keras.ops.convert_to_tensor(y, dtype=y_pred.dtype)
        if self.label_smoothing:
            y = y * (1.0 - self.label_smoothing) + self.label_smoothing / y.shape[-1]
        return -(y * F.log_softmax(y_pred, dim=-1)).sum(dim=-1).mean()

    def add_penalties(self, loss):
        """`loss` plus each L2 penalty (differentiable: Keras's step differentiates the sum)."""
        return self._plus_penalties(loss, *self._penalised())

    def penalise(self, loss, scale: torch.Tensor | None = None):
        """The lean step's part, once `data_loss` is differentiated: add each penalty's gradient to
        its variable's `.grad` and return `loss` plus the penalties, reading the variables once.
        `scale` is what the backward pass started from, if not 1 (float16's loss scale)."""
        factors, values = self._penalised()
        if values:
            self._add_penalty_gradients(factors, values, scale)
        return self._plus_penalties(loss, factors, values)

    def _plus_penalties(self, loss, factors: list[float], values: list[torch.Tensor]):
        """`loss` plus each penalty, as Keras adds them: each penalty l2 * sum(w * w), then one
        sum over the stack [loss, penalty, ...] (`Trainer.compute_loss`), in as few calls as keep
        those bits (multi-tensor products; a reduction order of Keras's own on any device)."""
        if not values:
            return loss
        sums = [torch.sum(square) for square in torch._foreach_mul(values, values)]  # square(w) is w * w
        penalties = torch._foreach_mul(sums, factors)
        return torch.sum(torch.stack([loss, *penalties]))

    @staticmethod
    def _add_penalty_gradients(factors: list[float], values: list[torch.Tensor], scale: torch.Tensor | None) -> None:
        """Add each penalty's gradient to its variable's `.grad`: autograd's (2 * w) * (scale * l2),
        as the products 2 * l2 * w and then * scale round to the same float (2 and a loss scale are
        powers of two), then one addition."""
        penalties = torch._foreach_mul(values, [2.0 * factor for factor in factors])
        if scale is not None:
            torch._foreach_mul_(penalties, scale)
        summed = [(value.grad, penalty) for value, penalty in zip(values, penalties) if value.grad is not None]
        if summed:
            torch._foreach_add_(*map(list, zip(*summed)))
        for value, penalty in zip(values, penalties):
            if value.grad is None:  # a variable the data loss does not reach
                value.grad = penalty

    def _penalised(self) -> tuple[list[float], list[torch.Tensor]]:
        """The factors and torch values of the penalised variables that are trainable now."""
        pairs = [(factor, variable) for factor, variable in self.l2 if variable.trainable]
        return [factor for factor, _ in pairs], torch_values(variable for _, variable in pairs)
