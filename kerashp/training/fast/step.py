"""Run a Functional model's layers without Keras's per-layer call bookkeeping.

On the torch backend every `layer(x)` goes through Keras's `Layer.__call__` (argument binding,
autocast scopes, training-flag propagation, output tracking): about half a millisecond per
layer per step, which for small models costs more than the arithmetic. A built float32
Functional model needs none of it during training, so its forward pass can call each layer's
`call` directly (or, for plain layers, its torch-functional equivalent from `kerashp.training.fast.lowering`), in
the graph's own order, from a plan of the graph resolved once (Keras re-sorts the graph and
re-maps every node's arguments at each call). Keras's `fit`, callbacks, metrics, optimizers and
`.keras` checkpoints are unchanged (`kerashp.training.fast.train_step` reaches the same
optimizer and metric arithmetic with less Python). Mixed-precision models keep Keras's path.
The direct pass is checked against the stock one on a probe batch and not used where they differ.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from kerashp.training.fast.loss import accelerate_loss
from kerashp.training.fast.lowering import lowered
from kerashp.training.fast.train_step import lean_train_step


def accelerate(model: keras.Model) -> bool:
    """Swap in the torch loss (kerashp.training.fast.loss), the lean train step
    (kerashp.training.fast.train_step) and the direct forward pass where each is safe; True when
    the forward pass was."""
    if keras.backend.backend() != "torch" or not isinstance(model, keras.Model):
        return False
    if any(layer.dtype_policy.name != "float32" for layer in (model, *model._flatten_layers(include_self=False))):
        return False  # mixed precision needs Keras's autocasting, its loss's casts and loss scaling
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

    call: Callable[..., Any]  # the layer's `call`, or its torch-functional equivalent (kerashp.training.fast.lowering)
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
    last_reader = {tensor: index for index, tensors in enumerate(reads) for tensor in tensors}
    steps = []
    for index, node in enumerate(nodes):
        operation = model._get_operation_for_node(node)
        single, constants = _single_tensor(node.arguments)
        done = {tensor for tensor in reads[index] if last_reader[tensor] == index and tensor not in kept}
        steps.append(
            _Step(
                lowered(operation) or operation.call,
                getattr(operation, "_call_has_training_arg", False),
                single,
                constants,
                node.arguments,
                tuple(id(x) for x in node.outputs),
                tuple(done),
            )
        )
    return steps


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
    shape = tuple(2 if d is None else d for d in model.input_shape)
    probe = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=shape).astype("float32"))
    try:
        expected = keras.ops.convert_to_numpy(model(probe, training=False))
        got = keras.ops.convert_to_numpy(direct(probe, training=False))
    except Exception:  # any layer that needs __call__ keeps the stock path
        return False
    return expected.shape == got.shape and np.allclose(expected, got, rtol=1e-5, atol=1e-6)
