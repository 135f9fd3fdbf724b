"""Layers kerashp's builders use where Keras's own are slow on the torch backend."""

from __future__ import annotations

import keras
from keras import layers

from kerashp.models.variables import torch_values


def channel_axis() -> int:
    return 1 if keras.config.image_data_format() == "channels_first" else -1


@keras.saving.register_keras_serializable(package="kerashp")
class BatchNormalization(layers.BatchNormalization):
    """Keras batch norm whose training pass runs torch's fused kernel.

    Keras composes batch norm from primitive ops (mean, square, subtract, ...), so autograd
    records and replays a dozen kernels where torch runs one forward and one backward kernel;
    on LeNet-5 that made the backward pass twice as slow as PyTorch's. The fused kernel updates
    the moving statistics as PyTorch does (moving variance from the unbiased batch variance);
    inference and every other backend use Keras's own code.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or keras.backend.backend() != "torch":
            return super().call(inputs, training=training, mask=mask)
        import torch.nn.functional as F

        axis = self.axis if self.axis >= 0 else inputs.ndim + self.axis
        if inputs.numel() <= inputs.shape[axis]:  # one value per channel: torch refuses, Keras copes
            return super().call(inputs, training=training, mask=mask)
        x = inputs if axis == 1 else inputs.movedim(axis, 1)
        mean, variance, gamma, beta = _tensors(self.moving_mean, self.moving_variance, self.gamma, self.beta)
        y = F.batch_norm(
            x,
            mean,
            variance,
            gamma,
            beta,
            training=True,
            momentum=1.0 - self.momentum,
            eps=self.epsilon,
        )
        return y if axis == 1 else y.movedim(1, axis)


def _tensors(*variables):
    """Each variable's tensor (`torch_values`), None for one the layer lacks (gamma without `scale`)."""
    values = iter(torch_values([variable for variable in variables if variable is not None]))
    return [None if variable is None else next(values) for variable in variables]


def batch_normalization() -> BatchNormalization:
    """Batch norm over the channel axis of the current image data format."""
    return BatchNormalization(axis=channel_axis())
