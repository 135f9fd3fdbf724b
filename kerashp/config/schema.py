"""The preset schema: every section, key, type, default and allowed range in one place.

Presets are data. This module declares what they may say; `loading` and `validation` load, merge
and check them against it; the builders (data, augment, models, optim, train, search) read the
resolved values. Nothing here imports torch or keras, so validation is instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kerashp.config.fields import (
    INT_LIMIT,
    Bool,
    Choice,
    DataSource,
    Field,
    Float,
    FractionOrCount,
    Int,
    Numbers,
    Scalar,
    Str,
    Strings,
)
from kerashp.config.model_table import MODEL_OPTIONS

PROBABILITY = Float(0.5, "probability of applying the transform", lo=0.0, hi=1.0)


@dataclass(frozen=True)
class CountOrAuto(Field):
    """A count (an integer >= 0), or "auto", whose meaning the key's doc gives."""

    def allowed(self) -> str:
        return '"auto" or an integer >= 0'

    def check(self, value: Any) -> int | str:
        if value == "auto":
            return value
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= INT_LIMIT:
            raise ValueError(f"expected {self.allowed()}")
        return value


def positive(default: float, doc: str = "") -> Float:
    """A number above zero."""
    return Float(default, doc, lo=0.0, lo_open=True)


TOP_LEVEL: dict[str, Field] = {
    "description": Str("", "what the preset reproduces, naming the source study"),
    "study": Str("", "short name of the source study"),
    "seed": Int(0, "one seed for splits, initialisation and augmentation", lo=0),
}

DATA: dict[str, Field] = {
    "source": DataSource("tfds:cifar10", "tfds:NAME or folder:PATH (a relative PATH is from the current directory)"),
    "validation": FractionOrCount(0.1, "validation split taken from the training data"),
    "split": Choice("random", "how the validation split is drawn", choices=("random", "stratified")),
    "split_seed": CountOrAuto(
        "auto", "seed of the validation split; auto: the preset's seed (a study's --seeds then vary the split too)"
    ),
    "normalize": Choice(
        "fixed",
        "fixed: data.mean/std; dataset: computed on the training split; imagenet; none",
        choices=("fixed", "dataset", "imagenet", "none"),
    ),
    "mean": Numbers([0.5, 0.5, 0.5], "per-channel mean (0..1 scale)", item=Float(0, lo=0.0, hi=1.0), lengths=(1, 3)),
    "std": Numbers([0.5, 0.5, 0.5], "per-channel std (0..1 scale)", item=positive(1), lengths=(1, 3)),
    "image_size": Numbers(
        [],
        "resize to [height, width]; empty keeps the native size (or the model's, e.g. 224 for alexnet)",
        item=Int(32, lo=1),
        lengths=(0, 2),
    ),
    "train_list": Str("", "folder sources: file listing training images, one path per line relative to the folder"),
    "test_list": Str("", "folder sources: file listing test images (like Caltech101's train.txt/test.txt)"),
    "cache": Choice(
        "auto",
        "memory: decode every image once and keep it; stream: decode per batch; "
        "auto: stream datasets over 4 GiB decoded",
        choices=("auto", "memory", "stream"),
    ),
    "exclude_classes": Strings([], "class names to drop from every split (e.g. Caltech101's background class)"),
}

# Transforms: name -> its own keys (besides `name` and `p`). Albumentations does the work (augment.py).
TRANSFORMS: dict[str, dict[str, Field]] = {
    "horizontal_flip": {},
    "vertical_flip": {},
    "pad_crop": {"padding": Int(4, "zero padding on each side before the random crop", lo=0)},
    "random_resized_crop": {
        "scale": Numbers(
            [0.08, 1.0], "area fraction range", item=Float(0, lo=0.0, hi=1.0), lengths=(2,), ascending=True
        ),
        "ratio": Numbers([0.75, 1.3333], "aspect ratio range", item=positive(1), lengths=(2,), ascending=True),
    },
    "affine": {
        "rotate": Float(0.0, "maximum rotation in degrees (either way)", lo=0.0, hi=180.0),
        "translate": Float(0.0, "maximum translation as a fraction of the size", lo=0.0, hi=1.0),
        "scale": Numbers([1.0, 1.0], "zoom range", item=positive(1), lengths=(2,), ascending=True),
    },
    "rotate": {"limit": Float(15.0, "maximum rotation in degrees (either way)", lo=0.0, hi=180.0)},
    "color_jitter": {
        "brightness": Float(0.0, "brightness factor spread", lo=0.0),
        "contrast": Float(0.0, "contrast factor spread", lo=0.0),
        "saturation": Float(0.0, "saturation factor spread", lo=0.0),
        "hue": Float(0.0, "hue shift spread", lo=0.0, hi=0.5),
    },
    "random_erasing": {
        "scale": Numbers(
            [0.02, 0.33], "erased area fraction range", item=Float(0, lo=0.0, hi=1.0), lengths=(2,), ascending=True
        ),
        "ratio": Numbers([0.3, 3.3], "erased aspect ratio range", item=positive(1), lengths=(2,), ascending=True),
    },
    "gaussian_blur": {
        "sigma": Numbers([0.0, 0.5], "sigma range in pixels", item=Float(0, lo=0.0), lengths=(2,), ascending=True),
    },
}

AUGMENT: dict[str, Field] = {
    "order": Choice(
        "sequence",
        "how `transforms` combine: all in order, all in random order, one of them, or some_of_n of them",
        choices=("sequence", "random", "one_of", "some_of"),
    ),
    "some_of_n": Int(1, "how many transforms `some_of` applies", lo=1),
    "mixup_alpha": Float(0.0, "Beta(alpha, alpha) mixup on training batches; 0 turns it off", lo=0.0),
    "cutmix_alpha": Float(0.0, "Beta(alpha, alpha) CutMix on training batches; 0 turns it off", lo=0.0),
}
TRANSFORM_LISTS = ("transforms", "after")  # `after` always runs in order, after `transforms`

OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
OPTIMIZER: dict[str, Field] = {
    "name": Choice("sgd", "optimizer", choices=OPTIMIZERS),
    "learning_rate": positive(0.01, "base learning rate (the schedule scales it)"),
    "momentum": Float(0.0, "SGD/RMSprop momentum (values above 1 diverge, as the LeNet-5 study showed)", lo=0.0),
    "nesterov": Bool(False, "Nesterov momentum for SGD"),
    "beta_1": Float(0.9, "Adam/AdamW first-moment decay", lo=0.0, hi=1.0, hi_open=True),
    "beta_2": Float(0.999, "Adam/AdamW second-moment decay", lo=0.0, hi=1.0, hi_open=True),
    "rho": Float(0.9, "RMSprop decay", lo=0.0, hi=1.0, hi_open=True),
    "epsilon": positive(1e-7, "numerical stability term"),
    "weight_decay": Float(0.0, "decoupled weight decay applied by the optimizer", lo=0.0),
    "l2": Float(0.0, "coupled L2 penalty added to the loss via kernel regularizers (the LeNet-5 study's REG)", lo=0.0),
    "clipnorm": Float(0.0, "clip each gradient to this norm; 0 is off", lo=0.0),
    "clipvalue": Float(0.0, "clip each gradient element to +-value; 0 is off", lo=0.0),
    "global_clipnorm": Float(0.0, "clip all gradients together to this norm; 0 is off", lo=0.0),
}

SCHEDULES = ("constant", "step", "exponential", "cosine", "one_cycle", "cyclic")
SCHEDULE: dict[str, Field] = {
    "name": Choice("constant", "learning-rate schedule, evaluated per step", choices=SCHEDULES),
    "step_epochs": Int(1, "step/exponential: epochs between decays", lo=1),
    "gamma": positive(0.1, "step/exponential: factor per decay"),
    "staircase": Bool(True, "exponential: decay in steps (true) or smoothly (false)"),
    "min_lr": Float(0.0, "cosine floor; cyclic lower bound (eta_min)", lo=0.0),
    "max_lr": positive(0.1, "one_cycle peak; cyclic upper bound (eta_max)"),
    "half_cycle_steps": Int(2000, "cyclic: steps from eta_min to eta_max (Smith's n_s)", lo=1),
    "pct_start": Float(0.3, "one_cycle: fraction of steps spent rising", lo=0.0, hi=1.0, lo_open=True, hi_open=True),
    "div_factor": Float(25.0, "one_cycle: starting lr = max_lr / div_factor", lo=1.0),
    "final_div_factor": Float(1e4, "one_cycle: final lr = starting lr / final_div_factor", lo=1.0),
    "warmup_epochs": Float(0.0, "linear warm-up from 0 in front of the schedule", lo=0.0),
}

TRAIN: dict[str, Field] = {
    "epochs": Int(10, "training epochs", lo=1),
    "batch_size": Int(128, "batch size", lo=1),
    "label_smoothing": Float(0.0, "label smoothing for the cross-entropy loss", lo=0.0, hi=1.0, hi_open=True),
    "workers": CountOrAuto(
        "auto",
        "worker processes making the training batches ahead of training; 0: in the training process; "
        "auto: the cores training leaves free, 0 where batches cost next to nothing (no augmentation or mixup)",
    ),
    "use_multiprocessing": Bool(False, "no effect: feed workers are always processes (kept so older runs load)"),
    "monitor": Choice("val_accuracy", "metric that picks the best checkpoint", choices=("val_accuracy", "val_loss")),
    "evaluate_test": Bool(True, "evaluate the best checkpoint on the test split at the end"),
    "memory_layout": Choice(
        "auto",
        "auto: time both, keep contiguous unless channels_last is 15% faster (decided once per model in a "
        "process; a resumed run keeps its first choice); contiguous: plain NCHW; channels_last: torch's "
        "channels_last (pin one for bit-for-bit repeatable runs)",
        choices=("auto", "contiguous", "channels_last"),
    ),
    "precision": Choice(
        "float32",
        "Keras dtype policy: mixed_bfloat16 (CPU or GPU) or mixed_float16 (GPU only, with loss scaling) "
        "compute in 16 bits and keep float32 weights",
        choices=("float32", "mixed_bfloat16", "mixed_float16"),
    ),
    "compile": Bool(False, "compile the training step with torch.compile (Keras jit_compile); eager if unavailable"),
}

SEARCH: dict[str, Field] = {
    "algorithm": Choice(
        "random", "KerasTuner oracle", choices=("random", "hyperband", "bayesian", "grid", "tpe", "bohb")
    ),
    "objective": Str("val_accuracy", "metric to optimise"),
    "direction": Choice("max", "whether the objective is maximised or minimised", choices=("max", "min")),
    "max_trials": Int(10, "trials for random/bayesian/grid/tpe/bohb", lo=1),
    "max_epochs": Int(10, "Hyperband/BOHB: most epochs a trial gets", lo=1),
    "factor": Int(3, "Hyperband/BOHB: reduction factor", lo=2),
    "startup_trials": Int(10, "tpe: random trials before the TPE model proposes (Optuna's default)", lo=1),
    "random_fraction": Float(
        1 / 3, "bohb: share of new configurations drawn at random rather than from the model", lo=0.0, hi=1.0
    ),
    "executions_per_trial": Int(1, "models trained per trial", lo=1),
    "prune": Int(
        0,
        "median stopping (random/bayesian/grid): stop a trial whose objective at epoch k is worse than the "
        "median of earlier trials at epoch k, once this many of them reached it; 0 = off",
        lo=0,
    ),
}

SPACE_TYPES = ("float", "int", "choice", "bool")
SPACE_ENTRY: dict[str, Field] = {
    "type": Choice("float", "kind of hyperparameter", choices=SPACE_TYPES),
    "min": Float(0.0, "lower bound (float/int)"),
    "max": Float(1.0, "upper bound (float/int)"),
    "step": Float(0.0, "step between values (float/int); 0 means continuous", lo=0.0),
    "log": Bool(False, "sample on a log scale (float/int)"),
}

SECTIONS: dict[str, dict[str, Field]] = {
    "data": DATA,
    "augment": AUGMENT,
    "optimizer": OPTIMIZER,
    "schedule": SCHEDULE,
    "train": TRAIN,
    "search": SEARCH,
}
REFERENCE_VALUE = Scalar(None, "a figure the source study reported")
MODEL_NAME = Choice("lenet5", "model builder", choices=tuple(MODEL_OPTIONS))
