"""The torch tensors behind Keras variables, read without Keras's per-read scope checks."""

from __future__ import annotations

from collections.abc import Iterable

import keras
import torch
from keras.src.backend.common.stateless_scope import in_stateless_scope
from keras.src.backend.common.variables import get_autocast_scope
from keras.src.backend.torch.core import get_device


def torch_values(variables: Iterable[keras.Variable]) -> list[torch.Tensor]:
    """What `variable.value` returns for each variable, outside Keras's scopes.

    `Variable.value` consults the stateless scope, the autocast scope and the device scope on
    every read (about 2 us; a LeNet-5 training step made 85 reads). A float32 training step runs
    outside all three, where `value` is the variable's own tensor, so that is read directly; inside
    any of them (a mixed-precision layer's call, a symbolic build on the meta device) each
    variable's `value` is read as usual. The lean train step, the torch loss and the fused batch
    norm read theirs here.
    """
    if in_stateless_scope() or get_autocast_scope() is not None or str(get_device()) == "meta":
        return [variable.value for variable in variables]
    return [variable._value for variable in variables]
