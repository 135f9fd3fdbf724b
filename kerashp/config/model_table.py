"""Which models exist: each one's builder, the options it takes and the input size it is made for (light: no
keras import, so validation reads it in milliseconds).

Each builder in `kerashp/models/` reads exactly the options declared here for its name. Defaults
reproduce the study a model comes from, where there is one.

ResNet configurations (`resnet`, 3x3 kernels; parameters for 32x32x3 input and 10 classes, trainable
as PyTorch counts them / all, the Keras `count_params()` that adds batch norm's moving statistics):
- ResNet-18 (the defaults): stages = [64, 128, 256, 512], blocks = 2: 11,173,962 / 11,183,562.
- 5M-parameter study, 4 stages: stages = [64, 192, 192, 256], blocks = 2, skip_pool = true:
  4,901,962 (the study's figure exactly) / 4,909,002.
- 5M-parameter study, 5 stages: stages = [64, 128, 144, 192, 256], blocks = 2, skip_pool = true:
  4,960,874 (study: 4,960,234, +0.013%) / 4,968,714.
- ResNet-20 (He et al. 2016, CIFAR): stages = [16, 32, 64], blocks = 3: 272,474 / 274,042
  (the paper's 0.27M; its zero-padding skips are 1x1 convolutions here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kerashp.config.fields import Bool, Choice, Field, Float, Int, Numbers

ACTIVATIONS = ("relu", "elu", "tanh", "sigmoid", "gelu", "selu")
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "random_normal")


@dataclass(frozen=True)
class IntChoice(Int):
    """An integer from a fixed set, such as a VGG depth."""

    choices: tuple[int, ...] = ()

    def allowed(self) -> str:
        return "one of " + ", ".join(map(str, self.choices))

    def check(self, value: Any) -> int:
        value = super().check(value)
        if value not in self.choices:
            raise ValueError(f"unknown value; allowed: {', '.join(map(str, self.choices))}")
        return value


@dataclass(frozen=True)
class PerStage(Numbers):
    """One `item` for every stage, or a list with one per stage (the builder matches it to the stages)."""

    def allowed(self) -> str:
        return f"{self.item.allowed()}, or {super().allowed()}"

    def check(self, value: Any) -> Any:  # one item, or a list of them: wider than Numbers' list
        if isinstance(value, list):
            return super().check(value)
        try:
            return self.item.check(value)
        except ValueError:
            raise ValueError(f"expected {self.allowed()}") from None


def _activation(default: str = "relu") -> Choice:
    return Choice(default, "activation of hidden layers", choices=ACTIVATIONS)


def _initializer(default: str = "glorot_uniform") -> Choice:
    return Choice(default, "kernel initializer", choices=INITIALIZERS)


def _dropout(default: float, where: str) -> Float:
    return Float(default, f"dropout rate {where}", lo=0.0, hi=1.0, hi_open=True)


def _widths(default: list[int], doc: str) -> Numbers:
    return Numbers(default, doc, item=Int(1, lo=1))


def _transfer(**extra: Field) -> dict[str, Field]:
    return {
        "weights": Choice(
            "imagenet",
            "imagenet: pretrained (downloaded once to ~/.keras/models); none: from scratch",
            choices=("imagenet", "none"),
        ),
        "freeze": Choice(
            "base",
            "none: train everything; base: freeze the convolutional base; "
            "dense: also freeze the pretrained dense layers, so only the new head trains",
            choices=("none", "base", "dense"),
        ),
        **extra,
        "head": _widths([256], "widths of the new hidden Dense layers before the logits"),
        "dropout": _dropout(0.2, "after each new hidden Dense layer"),
    }


@dataclass(frozen=True)
class ModelEntry:
    """One model: where its builder lives, the `[model]` options it reads, the input side it is made for."""

    module: str  # in kerashp.models
    builder: str  # its function `(options, input_shape, num_classes) -> keras.Model`
    options: dict[str, Field]
    native_input_size: int | None = None  # built for ImageNet-sized input: the data pipeline resizes to this side


MODELS: dict[str, ModelEntry] = {
    "lenet5": ModelEntry(
        "lenet",
        "build",
        {
            "batch_norm": Bool(False, "batch normalization after each convolution and hidden dense layer"),
            "activation": _activation(),
            "dropout": _dropout(0.0, "before each hidden dense layer"),
            "initializer": _initializer(),
        },
    ),
    # Defaults: the LeNet-5 study's modified VGG-19.
    "vgg": ModelEntry(
        "vgg",
        "build",
        {
            "depth": IntChoice(19, "VGG-11, 13, 16 or 19 (weight layers)", choices=(11, 13, 16, 19)),
            "activation": _activation("elu"),
            "batch_norm": Bool(False, "batch normalization after each convolution and hidden dense layer"),
            "dense": _widths([4096, 1024, 128], "widths of the hidden Dense layers after the 1x1x512 feature map"),
            "dropout": _dropout(0.5, "after each hidden dense layer"),
            "initializer": _initializer("glorot_normal"),
        },
    ),
    "mobilenet": ModelEntry(
        "mobilenet",
        "build",
        {
            "alpha": Float(1.0, "width multiplier: every layer's channels times alpha", lo=0.0, lo_open=True),
            "activation": _activation(),
            "dropout": _dropout(0.0, "before the logits"),
            "initializer": _initializer(),
        },
    ),
    "resnet": ModelEntry(
        "resnet",
        "build",
        {
            "stages": _widths([64, 128, 256, 512], "channels of each stage; each stage after the first halves the map"),
            "blocks": PerStage(
                2, "basic blocks per stage: one count for all stages or one per stage", item=Int(2, lo=1)
            ),
            "kernel_size": Int(3, "kernel size of the block convolutions", lo=1),
            "skip_pool": Bool(
                False, "max-pool (stride 1) before each 1x1 skip convolution, as in the 5M-parameter study"
            ),
            "activation": _activation(),
            "initializer": _initializer("he_normal"),
        },
    ),
    "mlp": ModelEntry(
        "mlp",
        "build",
        {
            "hidden": _widths([50, 30, 20, 20], "widths of the hidden layers on the flattened image"),
            "batch_norm": Bool(False, "batch normalization after each hidden layer"),
            "activation": _activation(),
            "dropout": _dropout(0.0, "after each hidden layer"),
            "initializer": _initializer(),
        },
    ),
    "alexnet": ModelEntry(
        "alexnet",
        "build",
        {
            "batch_norm": Bool(False, "batch normalization after each convolution and hidden dense layer"),
            "activation": _activation(),
            "dense": _widths([4096, 4096], "widths of the hidden Dense layers after the 6x6x256 feature map"),
            "dropout": _dropout(0.5, "after each hidden dense layer"),
            "initializer": _initializer(),
        },
        native_input_size=224,
    ),
    "vgg16": ModelEntry(
        "transfer",
        "vgg16",
        _transfer(keep_dense=Bool(False, "keep VGG16's own fc1-fc2 (4096-4096) layers below the new head")),
        native_input_size=224,
    ),
    "resnet50": ModelEntry("transfer", "resnet50", _transfer(), native_input_size=224),
    "mobilenet_v2": ModelEntry("transfer", "mobilenet_v2", _transfer(), native_input_size=224),
}

# What validation, the TUI's tweak form and the tests read: each model's options.
MODEL_OPTIONS: dict[str, dict[str, Field]] = {name: entry.options for name, entry in MODELS.items()}


def native_input_size(name: str) -> int | None:
    """The square input side `name` is designed for, or None when it takes images at their own size."""
    return MODELS[name].native_input_size
