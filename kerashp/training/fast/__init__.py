"""Making Keras's training step on the torch backend cheaper, result for result: `step` runs a
model's layers without Keras's per-call bookkeeping, `lowering` gives plain layers their torch
equivalents, `loss` computes the compiled loss in torch, `layout` picks the faster memory layout."""
