"""Check a preset document against the schema and fill its defaults; every problem is one
`PresetError` naming the file (or `--set`), the key and the value."""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterable
from typing import Any

from kerashp.config import schema
from kerashp.config.fields import Field, is_number
from kerashp.config.keys import quoted_part, split_key, walk
from kerashp.config.model_table import MODEL_OPTIONS
from kerashp.config.preset import ORIGINS, OVERRIDES, Preset
from kerashp.errors import PresetError
from kerashp.text import printable


class _Checker:
    """Checks one document against the schema, blaming overrides when they supplied the value."""

    def __init__(self, source: str, overrides: dict[str, Any], origins: dict[str, str]):
        self.source = source
        self.overrides = overrides
        self.origins = origins

    def fail(self, key: str, problem: str, value: Any = None, has_value: bool = True) -> PresetError:
        source = "--set" if self.from_override(key) else self.origin(key)
        return PresetError(source, printable(key), problem, value, has_value=has_value)

    def origin(self, key: str) -> str:
        """The file of the `extends` chain that gave `key` (a list entry's key: the file that gave the
        list; a table's key, such as an unknown section: the file that gave its keys)."""
        for given, path in self.origins.items():
            if key == given or key.startswith(given + "."):
                return path
        for given, path in self.origins.items():
            if given.startswith(key + "."):
                return path
        return self.source

    def from_override(self, key: str) -> bool:
        """Whether `key` was set by --set, or lies inside a table one set, or names a table one made
        (`--set optim.lr=1` is to blame for an unknown section `optim`, not the preset file).
        Search-space keys are compared without their quotes: `search.space."x"` is `search.space.x`."""
        key = key.replace('"', "")
        given_keys = [str(given).replace('"', "") for given in self.overrides]
        return any(key == given or key.startswith(given + ".") or given.startswith(key + ".") for given in given_keys)

    def table(self, where: str, document: Any, fields: dict[str, Field], extra: Iterable[str] = ()) -> dict:
        if not isinstance(document, dict):
            raise self.fail(where, "expected a table", document)
        allowed = (*fields, *extra)
        for key in document:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean {close[0]}? " if close else ""
                raise self.fail(_join(where, key), f"unknown key; {hint}allowed: {', '.join(allowed)}", has_value=False)
        return {
            key: self.value(_join(where, key), document.get(key, field.default), field) for key, field in fields.items()
        }

    def value(self, key: str, value: Any, field: Field) -> Any:
        try:
            return field.check(copy.deepcopy(value))
        except ValueError as exc:
            raise self.fail(key, str(exc), value) from None


def _join(where: str, key: str) -> str:
    """`where.key`; an empty key (TOML allows `"" = 1`) shows as `""` rather than as nothing."""
    key = key or '""'
    return f"{where}.{key}" if where else key


def validate(document: dict, source: str = "preset") -> Preset:
    """Check every key, fill defaults, and return the resolved preset."""
    document = dict(document)
    overrides = document.pop(OVERRIDES, {})
    origins = document.pop(ORIGINS, {})
    document.pop("name", None)
    checker = _Checker(source, overrides, origins)
    sections = ("model", "reference", *schema.SECTIONS)
    for key in document:
        if key not in schema.TOP_LEVEL and key not in sections:
            allowed = ", ".join((*schema.TOP_LEVEL, "extends", *sections))
            raise checker.fail(_join("", key), f"unknown section or key; allowed: {allowed}", has_value=False)
    resolved = Preset(checker.table("", {k: v for k, v in document.items() if k not in sections}, schema.TOP_LEVEL))

    for section, fields in schema.SECTIONS.items():
        body = document.get(section, {})
        if section == "augment":
            resolved[section] = _check_augment(checker, body)
        elif section == "search":
            resolved[section] = _check_search(checker, body)
        else:
            resolved[section] = checker.table(section, body, fields)
    resolved["model"] = _check_model(checker, document.get("model", {}))
    _check_consistency(checker, resolved)
    resolved["reference"] = _check_reference(checker, document.get("reference", {}), resolved)
    return resolved


def _check_model(checker: _Checker, body: Any) -> dict:
    if not isinstance(body, dict):
        raise checker.fail("model", "expected a table", body)
    name = checker.value("model.name", body.get("name", schema.MODEL_NAME.default), schema.MODEL_NAME)
    options = checker.table("model", {k: v for k, v in body.items() if k != "name"}, MODEL_OPTIONS[name])
    return {"name": name, **options}


def _check_transforms(checker: _Checker, where: str, items: Any) -> list[dict]:
    if not isinstance(items, list):
        raise checker.fail(where, "expected a list of transform tables", items)
    checked = []
    for index, item in enumerate(items):
        here = f"{where}.{index}"
        if not isinstance(item, dict) or "name" not in item:
            raise checker.fail(here, 'expected a table like { name = "horizontal_flip", p = 0.5 }', item)
        name = item["name"]
        if not isinstance(name, str) or name not in schema.TRANSFORMS:  # a list or table cannot be looked up
            raise checker.fail(f"{here}.name", f"unknown transform; allowed: {', '.join(schema.TRANSFORMS)}", name)
        fields = {"p": schema.PROBABILITY, **schema.TRANSFORMS[name]}
        body = {k: v for k, v in item.items() if k != "name"}
        checked.append({"name": name, **checker.table(f"{where}.{name}", body, fields)})
    return checked


def _check_augment(checker: _Checker, body: Any) -> dict:
    if not isinstance(body, dict):
        raise checker.fail("augment", "expected a table", body)
    plain = {k: v for k, v in body.items() if k not in schema.TRANSFORM_LISTS}
    resolved = checker.table("augment", plain, schema.AUGMENT, extra=schema.TRANSFORM_LISTS)
    for key in schema.TRANSFORM_LISTS:
        resolved[key] = _check_transforms(checker, f"augment.{key}", body.get(key, []))
    return resolved


def _check_search(checker: _Checker, body: Any) -> dict:
    if not isinstance(body, dict):
        raise checker.fail("search", "expected a table", body)
    plain = {k: v for k, v in body.items() if k != "space"}
    resolved = checker.table("search", plain, schema.SEARCH, extra=("space",))
    space = body.get("space", {})
    if not isinstance(space, dict):
        raise checker.fail("search.space", "expected a table of preset keys", space)
    resolved["space"] = {key: _check_space_entry(checker, key, entry) for key, entry in space.items()}
    if resolved["algorithm"] == "grid":
        for key, entry in resolved["space"].items():
            if entry["type"] == "float" and not entry["step"]:  # KerasTuner would silently try 10 samples
                problem = "a grid search needs a step for a float range (add step = ..., or list the values)"
                raise checker.fail(f'search.space."{key}"', problem, has_value=False)
    return resolved


def _check_space_entry(checker: _Checker, key: str, entry: Any) -> dict:
    where = f'search.space."{key}"'
    if isinstance(entry, list):  # shorthand: a list of choices
        entry = {"type": "choice", "values": entry}
    if not isinstance(entry, dict):
        raise checker.fail(
            where,
            'expected a table like { type = "float", min = 1e-4, max = 0.1, log = true } or a list of choices',
            entry,
        )
    plain = {k: v for k, v in entry.items() if k not in ("values", "when")}
    checked = checker.table(where, plain, schema.SPACE_ENTRY, extra=("values", "when"))
    kind = checked["type"]
    if kind == "choice":
        values = entry.get("values")
        if not isinstance(values, list) or not values:
            raise checker.fail(f"{where}.values", "a choice needs a non-empty list of values", values)
        checked["values"] = values
    elif kind in ("float", "int"):
        if "min" not in entry or "max" not in entry:
            raise checker.fail(where, f"a {kind} range needs min and max", has_value=False)
        if checked["min"] >= checked["max"]:
            raise checker.fail(
                where, f"empty range: min ({checked['min']:g}) must be below max ({checked['max']:g})", has_value=False
            )
        if checked["log"] and checked["min"] <= 0:
            raise checker.fail(f"{where}.min", "a log range must stay above zero", checked["min"])
    when = entry.get("when", {})
    if not isinstance(when, dict):
        raise checker.fail(f"{where}.when", 'expected a table like { "optimizer.name" = "sgd" }', when)
    checked["when"] = when
    return checked


def _check_reference(checker: _Checker, body: Any, preset: Preset) -> dict:
    """The figures reported for this preset as resolved: `[reference]` itself, or the figures of the last
    `[[reference.variants]]` entry whose `when` keys all hold (a study's other settings, one --set away)."""
    if not isinstance(body, dict):
        raise checker.fail("reference", "expected a table of reported figures", body)
    figures = _reported_figures(checker, "reference", {k: v for k, v in body.items() if k != "variants"})
    variants = body.get("variants", [])
    if not isinstance(variants, list):
        raise checker.fail("reference.variants", f"expected a list of tables like {VARIANT_EXAMPLE}", variants)
    for index, variant in enumerate(variants):
        where = f"reference.variants.{index}"
        when = variant.get("when") if isinstance(variant, dict) else None
        if not isinstance(when, dict) or not when:
            raise checker.fail(where, f"expected a table with a non-empty `when`, like {VARIANT_EXAMPLE}", variant)
        variant_figures = _reported_figures(checker, where, {k: v for k, v in variant.items() if k != "when"})
        if all(
            [_holds(checker, preset, f"{where}.when", key, value) for key, value in when.items()]
        ):  # every key checked
            figures = variant_figures
    return figures


VARIANT_EXAMPLE = '{ when = { "optimizer.learning_rate" = 0.5 }, val_accuracy = 0.374 }'


def _reported_figures(checker: _Checker, where: str, body: dict) -> dict:
    return {key: checker.value(_join(where, key), value, schema.REFERENCE_VALUE) for key, value in body.items()}


def _holds(checker: _Checker, preset: Preset, where: str, key: str, value: Any) -> bool:
    """Whether the resolved preset has `value` at dotted `key` (numbers compared to float precision)."""
    try:
        actual = walk(preset, split_key(key))
    except (KeyError, IndexError, TypeError):
        raise checker.fail(_join(where, quoted_part(key)), "not a key of this preset", has_value=False) from None
    if is_number(actual) and is_number(value):
        return math.isclose(actual, value, rel_tol=1e-9)
    return actual == value


def _check_consistency(checker: _Checker, preset: Preset) -> None:
    """Rules that involve more than one key."""
    data = preset["data"]
    if len(data["mean"]) != len(data["std"]):
        raise checker.fail("data.std", f"needs as many values as data.mean ({len(data['mean'])})", data["std"])
    if preset["model"].get("weights") == "imagenet" and data["normalize"] != "imagenet":
        raise checker.fail(
            "data.normalize",
            f'model.weights = "imagenet" needs "imagenet" (kerashp converts ImageNet-normalised input to what '
            f'the pretrained {preset["model"]["name"]} expects), or set model.weights = "none"',
            data["normalize"],
        )
    for key in preset["search"]["space"]:
        try:
            walk(preset, key.split("."))
        except (KeyError, IndexError, TypeError):
            raise checker.fail(f'search.space."{key}"', "not a key of this preset", has_value=False) from None
