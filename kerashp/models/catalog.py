"""Which models exist and which options each takes (light: no keras import, used by validation).

Each builder in `kerashp/models/` reads exactly the options declared here for its name.
"""

from __future__ import annotations

from kerashp.fields import Bool, Choice, Field, Float

ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "gelu", "selu")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "random_normal")

MODEL_OPTIONS: dict[str, dict[str, Field]] = {
    "lenet5": {
        "batch_norm": Bool(False, "batch normalization after each convolution and hidden dense layer"),
        "activation": Choice("relu", "activation of hidden layers", choices=ACTIVATIONS),
        "dropout": Float(0.0, "dropout rate before each hidden dense layer", lo=0.0, hi=1.0, hi_open=True),
        "initializer": Choice("glorot_uniform", "kernel initializer", choices=INITIALIZERS),
    },
}
