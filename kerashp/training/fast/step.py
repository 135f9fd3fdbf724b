"""Run a Functional model's layers without Keras's per-layer call bookkeeping.

On the torch backend every `layer(x)` goes through Keras's `Layer.__call__` (argument binding,
autocast scopes, training-flag propagation, output tracking): about half a millisecond per
layer per step, which for small models costs more than the arithmetic. A built Functional
model needs none of it during training, so its forward pass can call each layer's
`call` directly (or, for plain layers, its torch-functional equivalent from `kerashp.training.fast.lowering`), in
the graph's own order, from a plan of the graph resolved once (Keras re-sorts the graph and
re-maps every node's arguments at each call). Keras's `fit`, callbacks, metrics, optimizers and
`.keras` checkpoints are unchanged (`kerashp.training.fast.train_step` reaches the same
optimizer and metric arithmetic with less Python). A mixed-precision model keeps the two casts
`Layer.__call__` makes for it (`_in_precision`). The direct pass is checked against the stock one
on a probe batch and not used where they differ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import torch
from keras.src.backend.common.global_state import set_global_attribute
from keras.src.backend.common.variables import AutocastScope, get_autocast_scope
from keras.src.backend.torch.core import to_torch_dtype

from kerashp.training.fast.loss import accelerate_loss
from kerashp.training.fast.lowering import lowered
from kerashp.training.fast.train_step import lean_train_step


def accelerate(model: keras.Model) -> bool:
    """Swap in the torch loss (kerashp.training.fast.loss), the lean train step
    (kerashp.training.fast.train_step) and the direct forward pass where each is safe; True when
    the forward pass was."""
    if keras.backend.backend() != "torch" or not isinstance(model, keras.Model):
        return False
    if accelerate_loss(model):
        lean_train_step(model)
    if not hasattr(model, "_nodes_by_depth") or len(model.inputs or ()) != 1:
        return False  # only Functional models have a graph to walk
    direct = functools.partial(_direct_call, model, _plan(model))
    if not _agrees(model, direct):
        return False
    model.call = direct  # Layer.__call__ looks `call` up on the instance
    return True


@dataclass(frozen=True)
class _Step:
    """One node of the graph, resolved once: what to call, on which tensors, making which."""

    call: Callable[..., Any]  # the layer's `call` or its torch-functional equivalent (fast.lowering), in its precision
    takes_training: bool
    single_input: int | None  # id of the node's one positional tensor, when its other arguments are constants
    constants: dict  # those constant keyword arguments (e.g. a recorded training=False)
    arguments: Any  # the node's keras SymbolicArguments, for every other call signature
    outputs: tuple[int, ...]  # ids of the tensors it makes
    last_uses: tuple[int, ...]  # ids of the tensors no later step reads: let go once this one has run


def _plan(model: keras.Model) -> list[_Step]:
    """The graph's nodes in the order Keras runs them (deepest first).

    Each step also names the tensors it is the last to read. Keras's own graph run keeps every
    intermediate tensor until the pass ends (a ResNet's batch-norm outputs, say, which no backward
    pass needs); letting them go once read leaves only what autograd saves. On the CPU those extra
    megabytes were fresh pages faulted in again on every step, a few percent of ResNet-20's time.
    """
    nodes = [
        node
        for depth in sorted(model._nodes_by_depth, reverse=True)
        for node in model._nodes_by_depth[depth]
        if node.operation and not node.is_input
    ]
    reads = [
        [
            id(x)
            for x in keras.tree.flatten((node.arguments.args, node.arguments.kwargs))
            if isinstance(x, keras.KerasTensor)
        ]
        for node in nodes
    ]
    kept = {id(x) for x in model.outputs}
    mixed = _is_mixed(model)
    last_reader = {tensor: index for index, tensors in enumerate(reads) for tensor in tensors}
    steps = []
    for index, node in enumerate(nodes):
        operation = model._get_operation_for_node(node)
        single, constants = _single_tensor(node.arguments)
        done = {tensor for tensor in reads[index] if last_reader[tensor] == index and tensor not in kept}
        call = lowered(operation) or operation.call
        steps.append(
            _Step(
                _in_precision(call, operation) if mixed else call,
                getattr(operation, "_call_has_training_arg", False),
                single,
                constants,
                node.arguments,
                tuple(id(x) for x in node.outputs),
                tuple(done),
            )
        )
    return steps


def _is_mixed(model: keras.Model) -> bool:
    """Whether any of the model's layers computes in another dtype than its variables'."""
    return any(
        layer.dtype_policy.compute_dtype != layer.dtype_policy.variable_dtype
        for layer in model._flatten_layers(include_self=True)
    )


def _in_precision(call: Callable[..., Any], layer) -> Callable[..., Any]:
    """`call` with the casts `Layer.__call__` makes under a mixed model's policy.

    Floating inputs are converted to the layer's input dtype, and the variables the call reads are
    cast to its compute dtype (Keras's autocast scope, which `Variable.value` consults): bfloat16
    convolutions on float32 weights, and float32 again in the output layer. Layers that compute in
    float32 internally (batch norm) do so as they would under Keras. The scope is the one
    `Layer.__call__` would open inside the model's own (`Model.__call__` opens the model's compute
    dtype), so the direct pass computes the same whether the model or the lean step calls it.
    """
    converts = layer.autocast and getattr(layer, "_convert_input_args", True)
    dtype = to_torch_dtype(layer.input_dtype)
    compute = layer.compute_dtype if layer.autocast and keras.backend.is_float_dtype(layer.compute_dtype) else None
    scope = AutocastScope(compute)

    def convert(x):  # DTypePolicy.convert_input for the tensors a direct pass holds
        return x.to(dtype) if torch.is_tensor(x) and x.is_floating_point() and x.dtype != dtype else x

    def call_in_precision(*args, **kwargs):
        if converts and len(args) == 1 and torch.is_tensor(args[0]) and all(map(_is_plain, kwargs.values())):
            args = (convert(args[0]),)  # the common shape, without the tree walk (14 us a layer)
        elif converts:
            args, kwargs = keras.tree.map_structure(convert, (args, kwargs))
        outer = get_autocast_scope()
        set_global_attribute("autocast_scope", scope)  # AutocastScope.__enter__, without state on the shared scope
        try:
            return call(*args, **kwargs)
        finally:
            set_global_attribute("autocast_scope", outer)

    return call_in_precision


def _is_plain(value) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _single_tensor(arguments) -> tuple[int | None, dict]:
    """(id of the one positional tensor, constant keyword arguments) for the common call shape."""
    args, kwargs = arguments.args, arguments.kwargs
    if len(args) != 1 or not isinstance(args[0], keras.KerasTensor) or any(map(_holds_tensor, kwargs.values())):
        return None, {}
    return id(args[0]), dict(kwargs)


def _holds_tensor(value) -> bool:
    return any(isinstance(leaf, keras.KerasTensor) for leaf in keras.tree.flatten(value))


def _direct_call(model: keras.Model, steps: list[_Step], inputs, training=None, mask=None):
    if not keras.ops.is_tensor(inputs):  # `train_on_batch` and `predict` may hand over NumPy arrays
        inputs = keras.ops.convert_to_tensor(inputs, dtype=model.inputs[0].dtype)
    values = {id(model.inputs[0]): inputs}
    for step in steps:
        if step.single_input is not None:
            args, kwargs = (values[step.single_input],), step.constants
        else:
            args, kwargs = step.arguments.fill_in(values)
        # the node may have recorded training=False (Dropout's default): the caller's flag wins
        if training is not None and step.takes_training:
            kwargs = {**kwargs, "training": training}
        outputs = step.call(*args, **kwargs)
        for tensor in step.last_uses:
            del values[tensor]
        if len(step.outputs) == 1:
            values[step.outputs[0]] = outputs
        else:
            values.update(zip(step.outputs, keras.tree.flatten(outputs)))
    results = [values[id(x)] for x in model.outputs]
    return results[0] if len(results) == 1 else results


def _agrees(model: keras.Model, direct) -> bool:
    """Whether the direct pass computes what Keras's does on a probe batch.

    This guards against a wrong stand-in (a transposed kernel, a missed option), which is off
    by far more than rounding. In 16 bits a fused bias or another kernel may round differently
    from Keras's, so a mixed model is compared at that precision's resolution.
    """
    shape = tuple(2 if d is None else d for d in model.input_shape)
    probe = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=shape).astype("float32"))
    try:
        expected = keras.ops.convert_to_numpy(model(probe, training=False))
        got = keras.ops.convert_to_numpy(direct(probe, training=False))
    except Exception:  # any layer that needs __call__ keeps the stock path
        return False
    if expected.shape != got.shape:
        return False
    if _is_mixed(model):
        return np.allclose(expected, got, rtol=2e-2, atol=2e-2 * float(np.abs(expected).max()))
    return np.allclose(expected, got, rtol=1e-5, atol=1e-6)
