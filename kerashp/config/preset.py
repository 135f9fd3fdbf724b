"""The resolved preset: every key with its default filled in, read one way, `preset["data"]["source"]`.

Each section has a TypedDict, so a type checker knows `preset["train"]["epochs"]` is an int; the keys
follow `kerashp.config.schema` (and `model_table` for `[model]`), and a test keeps them in step.
"""

# no `from __future__ import annotations`: Python 3.11 reads Required/NotRequired only from evaluated annotations
from typing import Any, Literal, NotRequired, Required, TypedDict, overload

from kerashp.config.keys import walk

OVERRIDES = "__overrides__"  # where apply_override records which keys came from --set
ORIGINS = "__origins__"  # where _load_chain records which file of an `extends` chain gave each key


class DataSection(TypedDict):
    source: str
    validation: float | int  # a fraction of the training split, or a count of images
    split: str
    split_seed: int | str  # "auto": the preset's seed
    normalize: str
    mean: list[float]
    std: list[float]
    image_size: list[int]  # [] or [height, width]
    train_list: str
    test_list: str
    cache: str
    exclude_classes: list[str]


Transform = dict[str, Any]  # {"name": ..., "p": ..., and the transform's own keys}


class AugmentSection(TypedDict):
    order: str
    some_of_n: int
    mixup_alpha: float
    cutmix_alpha: float
    transforms: list[Transform]
    after: list[Transform]


class OptimizerSection(TypedDict):
    name: str
    learning_rate: float
    momentum: float
    nesterov: bool
    beta_1: float
    beta_2: float
    rho: float
    epsilon: float
    weight_decay: float
    l2: float
    clipnorm: float
    clipvalue: float
    global_clipnorm: float


class ScheduleSection(TypedDict):
    name: str
    step_epochs: int
    gamma: float
    staircase: bool
    min_lr: float
    max_lr: float
    half_cycle_steps: int
    pct_start: float
    div_factor: float
    final_div_factor: float
    warmup_epochs: float


class TrainSection(TypedDict):
    epochs: int
    batch_size: int
    label_smoothing: float
    workers: int | str  # a count, or "auto"
    use_multiprocessing: bool
    monitor: str
    evaluate_test: bool
    memory_layout: str
    precision: str
    compile: bool


class SpaceEntry(TypedDict):
    """One hyperparameter of `[search.space]`, by the dotted preset key it sets."""

    type: str
    min: float
    max: float
    step: float
    log: bool
    values: NotRequired[list[Any]]  # a choice's
    when: dict[str, Any]  # dotted preset key -> the value it must have for this entry to apply


class SearchSection(TypedDict):
    algorithm: str
    objective: str
    direction: str
    max_trials: int
    max_epochs: int
    factor: int
    startup_trials: int
    random_fraction: float
    executions_per_trial: int
    prune: int
    space: dict[str, SpaceEntry]


class ModelSection(TypedDict, total=False):
    """`name`, and the options of that model (each model takes some of these; see `model_table.MODELS`)."""

    name: Required[str]
    activation: str
    alpha: float
    batch_norm: bool
    blocks: int | list[int]
    dense: list[int]
    depth: int
    dropout: float
    freeze: str
    head: list[int]
    hidden: list[int]
    initializer: str
    keep_dense: bool
    kernel_size: int
    skip_pool: bool
    stages: list[int]
    weights: str


Reference = dict[str, Any]  # the figures a study reported (numbers or strings), by its own names


class Preset(dict[str, Any]):
    """A resolved preset: a dict whose sections a type checker knows."""

    @overload
    def __getitem__(self, key: Literal["data"]) -> DataSection: ...
    @overload
    def __getitem__(self, key: Literal["augment"]) -> AugmentSection: ...
    @overload
    def __getitem__(self, key: Literal["optimizer"]) -> OptimizerSection: ...
    @overload
    def __getitem__(self, key: Literal["schedule"]) -> ScheduleSection: ...
    @overload
    def __getitem__(self, key: Literal["train"]) -> TrainSection: ...
    @overload
    def __getitem__(self, key: Literal["search"]) -> SearchSection: ...
    @overload
    def __getitem__(self, key: Literal["model"]) -> ModelSection: ...
    @overload
    def __getitem__(self, key: Literal["reference"]) -> Reference: ...
    @overload
    def __getitem__(self, key: Literal["name", "description", "study"]) -> str: ...
    @overload
    def __getitem__(self, key: Literal["seed"]) -> int: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: str) -> Any:
        return super().__getitem__(key)

    @property
    def name(self) -> str:
        return self.get("name", "")

    def get_path(self, dotted: str) -> Any:
        return walk(self, dotted.split("."))
