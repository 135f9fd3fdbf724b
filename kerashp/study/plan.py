"""A study's plan: the preset, its overrides, the factors (a key and its values) and the seeds each
variant is trained with, from --vary or a study file, and the check that loads every variant's
preset before anything trains."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kerashp.config import load_preset, parse_override, preset_dirs, read_toml
from kerashp.config.names import check_folder_name
from kerashp.errors import PresetError, UserError
from kerashp.text import printable, slug, toml_value

PRESET_FACTOR = "preset"  # a factor over whole presets, e.g. lenet5 (no augmentation) vs lenet5_aug
STUDY_KEYS = ("description", "preset", "set", "epochs", "seeds", "factor")
SEED_STRIDE = 1000  # `seeds = N`: the preset's seed S, then S + 1000, S + 2000, ...
FACTOR_KEYS = ("key", "values", "labels")


Fields = dict[str, tuple[Callable[[Any], bool], str]]  # key -> (its check, the problem when it fails)


def is_text(value: Any) -> bool:
    return isinstance(value, str)


def is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def is_seeds(value: Any) -> bool:
    """A count of seeds (1 or more), or a list of distinct seeds (whole numbers, 0 or more)."""
    if type(value) is int:
        return value >= 1
    return (
        isinstance(value, list)
        and value != []
        and all(type(seed) is int and seed >= 0 for seed in value)
        and len(set(value)) == len(value)
    )


SEEDS_PROBLEM = "expected a number of seeds (1 or more) or a list of distinct seeds (whole numbers, 0 or more)"


PLAN_FIELDS: Fields = {  # study.json's plan
    "name": (is_text, "expected a string"),
    "preset": (lambda value: isinstance(value, str) and value != "", "expected a preset name or .toml path"),
    "factors": (lambda value: isinstance(value, list) and value != [], "expected a list of one or more factors"),
    "overrides": (is_texts, "expected a list of strings"),
    "description": (is_text, "expected a string"),
    "seeds": (is_seeds, SEEDS_PROBLEM),
}
FACTOR_FIELDS: Fields = {
    "key": (lambda value: isinstance(value, str) and value != "", "expected a preset key"),
    "values": (is_texts, "expected a list of strings"),
    "labels": (is_texts, "expected a list of strings"),
}


@dataclass
class Factor:
    """A preset key and the values a study gives it, as TOML texts (what follows `key=` in --set)."""

    key: str
    values: list[str]
    labels: list[str]

    @classmethod
    def from_texts(cls, key: str, values: list[str], labels: list[str] | None, source: str) -> Factor:
        """A factor whose values and labels are each distinct, as many labels as values; errors name
        `source` on one line (keys, values and labels may hold line breaks)."""
        where = f"{source}: {printable(key)}"
        if not values:
            raise UserError(f"{where}: give at least one value")
        if key == PRESET_FACTOR:  # preset names, not TOML values
            values = [str(parse_override(f"{key}={text}")[1]) for text in values]
        if len(set(values)) != len(values):
            raise UserError(f"{where} = {', '.join(printable(values))}: values repeat")
        if labels is not None and len(set(labels)) != len(labels):
            raise UserError(f"{where}: labels repeat ({', '.join(printable(labels))})")
        if labels is None:
            labels = [_label(key, text) for text in values]
        elif len(labels) != len(values):
            raise UserError(f"{where}: {len(labels)} labels for {len(values)} values")
        return cls(key, values, labels)

    @classmethod
    def parse(cls, expression: str) -> Factor:
        """`--vary KEY=V1,V2,...`; values are TOML like --set's, and may be lists (`[1, 2],[3]`)."""
        key, sep, text = expression.partition("=")
        values = _split_values(text)
        if not sep or not key.strip() or not all(values):
            raise UserError(f"--vary {expression}: expected KEY=V1,V2,..., e.g. optimizer.learning_rate=0.5,0.05,0.01")
        return cls.from_texts(key.strip(), values, None, "--vary")

    def override(self, index: int) -> str:
        return f"{self.key}={self.values[index]}"


@dataclass
class StudyPlan:
    name: str
    preset: str
    factors: list[Factor]
    overrides: list[str] = field(default_factory=list)
    description: str = ""
    seeds: int | list[int] = 1  # how many seeds each variant gets (derived, see seeds_for), or which

    def to_json(self) -> dict:
        return asdict(self)

    def seeds_for(self, preset_seed: int) -> list[int]:
        """The seeds a variant whose preset says `seed = preset_seed` is trained with: the plan's
        list, or the preset's seed followed by one every SEED_STRIDE."""
        if isinstance(self.seeds, list):
            return list(self.seeds)
        return [preset_seed + SEED_STRIDE * repeat for repeat in range(self.seeds)]

    @property
    def seed_count(self) -> int:
        return len(self.seeds) if isinstance(self.seeds, list) else self.seeds

    @classmethod
    def from_json(cls, data: Any, source: str) -> StudyPlan:
        """The plan study.json recorded, checked as a new plan is: study.json is read back from disk,
        so anything in it may have been edited. A plan from before seeds has one."""
        if isinstance(data, dict) and "seeds" not in data:
            data = {**data, "seeds": 1}
        check_fields(data, PLAN_FIELDS, source, "plan")
        factors = []
        for index, factor in enumerate(data["factors"]):
            check_fields(factor, FACTOR_FIELDS, source, f"plan.factors[{index}]")
            factors.append(Factor.from_texts(factor["key"], factor["values"], factor["labels"], source))
        name = check_folder_name(data["name"], source, "plan.name")
        return cls(name, data["preset"], factors, data["overrides"], data["description"], data["seeds"])

    @property
    def total(self) -> int:
        """The runs of the whole study: every variant with every seed."""
        return sum(len(factor.values) for factor in self.factors) * self.seed_count


def plan_from_args(
    preset: str, vary: list[str], overrides=(), epochs: int | None = None, name: str = "", seeds: int | None = None
) -> StudyPlan:
    """The plan of `kerashp study --preset P --vary K=V1,V2 [--vary ...] [--seeds N]`."""
    factors = [Factor.parse(expression) for expression in vary]
    default = slug("-".join([Path(preset).stem, *(factor.key.split(".")[-1] for factor in factors)]))
    name = _folder_name(name, default, "kerashp study")
    return StudyPlan(name, preset, factors, [*overrides, *_epochs(epochs)], seeds=seeds or 1)


def plan_from_file(
    name_or_path: str, overrides=(), epochs: int | None = None, name: str = "", seeds: int | None = None
) -> StudyPlan:
    """The plan a study file declares (see presets/studies/), with command-line additions (`seeds`,
    from --seeds, replaces the file's)."""
    path = find_study(name_or_path)
    source = str(path)
    name = _folder_name(name, path.stem, source)
    document = read_toml(path)
    for key in document:
        if key not in STUDY_KEYS:
            raise UserError(f"{source}: {key}: unknown key; allowed: {', '.join(STUDY_KEYS)}")
    preset = document.get("preset")
    if not isinstance(preset, str):
        raise UserError(f"{source}: preset: expected a preset name or .toml path")
    if preset.endswith(".toml") and (path.parent / preset).is_file():
        preset = str(path.parent / preset)
    settings = document.get("set", [])
    if not isinstance(settings, list) or not all(isinstance(item, str) for item in settings):
        raise UserError(f'{source}: set: expected a list of "KEY=VALUE" strings')
    tables = document.get("factor")
    if not isinstance(tables, list) or not tables or not all(isinstance(table, dict) for table in tables):
        raise UserError(f"{source}: factor: expected one or more [[factor]] tables with key and values")
    factors = [_factor_from_table(table, source) for table in tables]
    description, file_epochs = document.get("description", ""), document.get("epochs")
    expect(is_text(description), source, "description", description, "expected a string")
    file_seeds = document.get("seeds", 1)
    expect(is_seeds(file_seeds), source, "seeds", file_seeds, SEEDS_PROBLEM)
    ok = file_epochs is None or (type(file_epochs) is int and file_epochs >= 1)
    expect(ok, source, "epochs", file_epochs, "expected a whole number of epochs, 1 or more")
    overrides = [*settings, *_epochs(file_epochs), *overrides, *_epochs(epochs)]
    return StudyPlan(name, preset, factors, overrides, description, seeds or file_seeds)


def _folder_name(given: str, default: str, source: str) -> str:
    """The study's name, `--name` or else `default`: it becomes a folder under --studies-dir, so it
    gets the check a preset's name gets before it names run folders."""
    if given:
        return check_folder_name(given, "kerashp study", "--name")
    return check_folder_name(default, source, "name")


def _factor_from_table(table: dict, source: str) -> Factor:
    for key in table:
        if key not in FACTOR_KEYS:
            raise UserError(f"{source}: factor.{key}: unknown key; allowed: {', '.join(FACTOR_KEYS)}")
    key, values, labels = table.get("key"), table.get("values"), table.get("labels")
    if not isinstance(key, str) or not isinstance(values, list):
        raise UserError(f'{source}: factor: each [[factor]] needs key = "a.preset.key" and values = [...]')
    if labels is not None and not (isinstance(labels, list) and all(isinstance(label, str) for label in labels)):
        raise UserError(f"{source}: factor {key}: labels: expected a list of strings")
    return Factor.from_texts(key, [_override_text(value, source) for value in values], labels, source)


def _override_text(value: Any, source: str) -> str:
    """A study file's value as TOML text, so it can follow `key=` in an override."""
    try:
        return toml_value(value)
    except TypeError:
        raise UserError(
            f"{source}: {value!r}: unsupported value (use numbers, booleans, strings, lists or tables)"
        ) from None


def find_study(name_or_path: str) -> Path:
    """A study file by path, or by name among the `studies/` folders of the preset directories."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    found = {p.stem: p for directory in reversed(preset_dirs()) for p in sorted((directory / "studies").glob("*.toml"))}
    if name_or_path in found:
        return found[name_or_path]
    raise UserError(
        f"{name_or_path}: no such study file or study folder; bundled studies: {', '.join(sorted(found)) or 'none'}"
    )


def validate_plan(plan: StudyPlan) -> None:
    """Load every variant's preset before anything trains, so a bad value costs no training."""
    if isinstance(plan.seeds, list) and any(factor.key == "seed" for factor in plan.factors):
        raise UserError("seeds: a list of seeds sets every variant's seed, so `seed` cannot be a factor too")
    for factor in plan.factors:
        for index, value in enumerate(factor.values):
            preset = value if factor.key == PRESET_FACTOR else plan.preset
            extra = [] if factor.key == PRESET_FACTOR else [factor.override(index)]
            try:
                load_preset(preset, [*plan.overrides, *extra])
            except PresetError as exc:
                error = _vary_error(factor, index, exc) if extra else None
                if error is None:
                    raise
                raise error from None


def _vary_error(factor: Factor, index: int, exc: PresetError) -> PresetError | None:
    """A varied value's error blamed on --vary (it reaches the preset as an override, so the error
    names --set), showing the value given: an unknown key's error carries none. None when the
    error is not about the varied key."""
    given = parse_override(factor.override(index))[1]
    if exc.key == factor.key:
        return PresetError("--vary", factor.key, exc.problem, given)
    if factor.key.startswith(f"{exc.key}."):  # an unknown section
        return PresetError("--vary", factor.key, f"{exc.key}: {exc.problem}", given)
    if exc.key.startswith(f"{factor.key}."):  # a key inside a varied table
        return PresetError("--vary", exc.key, exc.problem, exc.value)
    return None


def check_fields(data: Any, fields: Fields, source: str, where: str) -> dict:
    """`data` if it is an object holding exactly `fields`, each passing its check; else one UserError
    naming the file `source`, the key (`where.key`) and its value."""
    expect(isinstance(data, dict), source, where, data, "expected an object")
    unknown = sorted(set(data) - set(fields))
    expect(not unknown, source, where, unknown, f"unknown key(s); allowed: {', '.join(fields)}")
    for key, (check, problem) in fields.items():
        expect(key in data and check(data[key]), source, f"{where}.{key}".lstrip("."), data.get(key), problem)
    return data


def expect(ok: bool, source: str, key: str, value: Any, problem: str) -> None:
    """Refuse a value read from `source` with one line naming the file, the key and the value."""
    if not ok:
        raise UserError(f"{source}: {key} = {printable(json.dumps(value, default=str))[:60]}: {problem}")


def _epochs(epochs: Any) -> list[str]:
    return [] if epochs is None else [f"train.epochs={epochs}"]


def _split_values(text: str) -> list[str]:
    """Split at the commas outside brackets, braces and quotes."""
    values, current, depth, quote = [], "", 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            values.append(current.strip())
            current = ""
            continue
        current += char
    return [*values, current.strip()]


def _label(key: str, text: str) -> str:
    """`learning_rate=0.05` for optimizer.learning_rate=0.05; a preset factor's value alone."""
    if key == PRESET_FACTOR:
        return text
    value = parse_override(f"{key}={text}")[1]
    return f"{key.split('.')[-1]}={value if isinstance(value, str) else text}"
