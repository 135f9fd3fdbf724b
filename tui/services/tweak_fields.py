"""Which preset keys the Tweak editor offers, and how edits are checked: as `--set` overrides.

The fields come from the preset schema (`kerashp.config.schema`, the model catalog), so a new key there
shows up here. Checking an edit means applying it as an override and calling `load_preset`, the
same path `kerashp train --set KEY=VALUE` takes, so the editor reports the CLI's own messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from kerashp.config import Preset, parse_override, schema
from kerashp.config.fields import Choice, Field
from kerashp.config.model_table import MODEL_OPTIONS
from kerashp.data import check_preset_data
from kerashp.errors import PresetError, UserError
from kerashp.text import toml_value
from tui.services.settings import Settings

TRAIN_KEYS = ("epochs", "batch_size", "label_smoothing")
AUGMENT_KEYS = ("mixup_alpha", "cutmix_alpha")

# settings that only one optimizer or schedule reads: (the key that decides, the values that use it)
ONLY_FOR: dict[str, tuple[str, tuple[str, ...]]] = {
    "optimizer.momentum": ("optimizer.name", ("sgd", "rmsprop")),
    "optimizer.nesterov": ("optimizer.name", ("sgd",)),
    "optimizer.beta_1": ("optimizer.name", ("adam", "adamw")),
    "optimizer.beta_2": ("optimizer.name", ("adam", "adamw")),
    "optimizer.rho": ("optimizer.name", ("rmsprop",)),
    "optimizer.epsilon": ("optimizer.name", ("adam", "adamw", "adagrad", "rmsprop")),
    "schedule.step_epochs": ("schedule.name", ("step", "exponential")),
    "schedule.gamma": ("schedule.name", ("step", "exponential")),
    "schedule.staircase": ("schedule.name", ("exponential",)),
    "schedule.min_lr": ("schedule.name", ("cosine", "cyclic")),
    "schedule.max_lr": ("schedule.name", ("one_cycle", "cyclic")),
    "schedule.half_cycle_steps": ("schedule.name", ("cyclic",)),
    "schedule.pct_start": ("schedule.name", ("one_cycle",)),
    "schedule.div_factor": ("schedule.name", ("one_cycle",)),
    "schedule.final_div_factor": ("schedule.name", ("one_cycle",)),
}


@dataclass(frozen=True)
class TweakField:
    section: str  # heading in the editor
    key: str  # the --set address, e.g. optimizer.learning_rate or augment.transforms.0.p
    label: str  # what the editor shows, e.g. learning_rate or transforms.pad_crop.p
    field: Field

    @property
    def wide(self) -> bool:
        """A value too long for the usual editor (a data path)."""
        return self.key == "data.source"

    def text(self, value: object) -> str:
        """`value` as the editor shows it: the TOML text typed after `--set KEY=`, which parses back to
        the same value, but a data source bare, as typed after `--set data.source=`."""
        return value if self.wide and isinstance(value, str) else toml_value(value)

    @property
    def choices(self) -> tuple[object, ...] | None:
        """Values to pick from (a choice or a boolean), or None for free text."""
        if isinstance(self.field, Choice):
            return self.field.choices
        return (True, False) if isinstance(self.field.default, bool) else None


def tweak_fields(preset: Preset) -> list[TweakField]:
    """The data source, then the hyperparameters that matter for `preset`, in editor order."""
    fields = [TweakField("Data", "data.source", "source", schema.DATA["source"])]
    fields += [TweakField("Optimizer", f"optimizer.{k}", k, f) for k, f in schema.OPTIMIZER.items()]
    fields += [TweakField("Schedule", f"schedule.{k}", k, f) for k, f in schema.SCHEDULE.items()]
    fields += [TweakField("Training", f"train.{k}", k, schema.TRAIN[k]) for k in TRAIN_KEYS]
    fields.append(TweakField("Training", "seed", "seed", schema.TOP_LEVEL["seed"]))
    fields += [TweakField("Augmentation", f"augment.{k}", k, schema.AUGMENT[k]) for k in AUGMENT_KEYS]
    for list_name in schema.TRANSFORM_LISTS:
        for index, transform in enumerate(preset.get_path(f"augment.{list_name}")):
            label = f"{list_name}.{transform['name']}.p"
            fields.append(TweakField("Augmentation", f"augment.{list_name}.{index}.p", label, schema.PROBABILITY))
    model = preset["model"]["name"]
    fields += [TweakField(f"Model ({model})", f"model.{k}", k, f) for k, f in MODEL_OPTIONS[model].items()]
    return fields


def relevant(key: str, current: dict[str, object]) -> bool:
    """Whether `key` matters given the current optimizer and schedule (`current`: key -> value)."""
    decider = ONLY_FOR.get(key)
    return decider is None or current.get(decider[0]) in decider[1]


def override(key: str, text: str) -> str:
    return f"{key}={text}"


def differs(preset: Preset, key: str, text: str) -> bool:
    """Whether `text` means something other than the preset's value (0.010 does not differ from 0.01)."""
    try:
        _, value = parse_override(override(key, text))
    except PresetError:
        return True
    return value != preset.get_path(key)


def check_edits(settings: Settings, preset_name: str, edits: dict[str, str]) -> tuple[dict[str, str], str]:
    """Problems with the edits: (key -> CLI message for that edit alone, message for them together).

    An edit is checked as `--set` is, and a data source also as `kerashp train` checks it before
    training (the folder exists and has train/ and test/), so a bad path is refused here, not minutes later.
    """
    problems = {}
    for key, text in edits.items():
        if not text.strip():
            problems[key] = f"{key}: a value is required"
            continue
        try:
            preset = settings.load(preset_name, [override(key, text)])
            if key == "data.source":
                check_preset_data(preset)
        except UserError as exc:
            problems[key] = str(exc)
    together = ""
    if not problems and edits:
        try:
            settings.load(preset_name, overrides_for(edits))
        except PresetError as exc:
            together = str(exc)
    return problems, together


def overrides_for(edits: dict[str, str]) -> list[str]:
    return [override(key, text) for key, text in edits.items()]
