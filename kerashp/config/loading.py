"""Load presets: find by name or path, follow `extends`, apply `--set` overrides, validate.

The result is a `Preset` (`kerashp.config.preset`). Every problem is a one-line `PresetError` naming
file, key and value.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kerashp.config.files import find_preset, first_clause, read_toml
from kerashp.config.keys import key_names, list_index, quoted_part, split_key, walk
from kerashp.config.preset import ORIGINS, OVERRIDES, Preset
from kerashp.config.validation import validate
from kerashp.errors import PresetError
from kerashp.text import printable


def _load_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The document at `path` merged over its `extends` ancestors (child keys win)."""
    resolved = path.resolve()
    if resolved in seen:
        cycle = " -> ".join(p.stem for p in (*seen, resolved))
        raise PresetError(str(path), "extends", f"cycle: {cycle}", has_value=False)
    document = read_toml(path)
    for private in (OVERRIDES, ORIGINS):
        if private in document:
            raise PresetError(
                str(path), private, "unknown section or key (a name kerashp keeps for itself)", has_value=False
            )
    parent_name = document.pop("extends", None)
    if parent_name is None:
        return document
    origins = {key: str(path) for key in _leaf_keys(document)}
    if not isinstance(parent_name, str):
        raise PresetError(str(path), "extends", "expected a preset name or path", parent_name)
    try:
        parent_path = find_preset(parent_name, extending=path)
    except PresetError as exc:
        raise PresetError(str(path), "extends", f"{exc.problem}", parent_name) from None
    parent = _load_chain(parent_path, (*seen, resolved))
    if "reference" in document:  # reported figures belong to one setup: a child's replace its parent's
        parent.pop("reference", None)
    model = document.get("model")  # not a table is reported by validation, not tripped over here
    _reset_model_if_renamed(parent, model.get("name") if isinstance(model, dict) else None)
    parent_origins = parent.pop(ORIGINS, None) or {key: str(parent_path) for key in _leaf_keys(parent)}
    return {**deep_merge(parent, document), ORIGINS: {**parent_origins, **origins}}


def _leaf_keys(document: dict, prefix: str = "") -> list[str]:
    """Dotted names of every value that is not a table, spelled as validation reports them."""
    keys = []
    for key, value in document.items():
        name = f"{prefix}{quoted_part(str(key))}"
        keys.extend(_leaf_keys(value, name + ".") if isinstance(value, dict) and value else [name])
    return keys


def _reset_model_if_renamed(document: dict, new_name: Any) -> None:
    """Switching to another model starts from that model's defaults: the options of the old one
    (say lenet5's batch_norm when a child picks resnet) mean nothing to the new builder."""
    model = document.get("model")
    if isinstance(model, dict) and new_name is not None and model.get("name") != new_name:
        document["model"] = {}


def deep_merge(base: dict, override: dict) -> dict:
    """Tables merge key by key; everything else (lists included) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def load_preset(name_or_path: str, overrides: Iterable[str] = ()) -> Preset:
    """Find, merge, override and validate a preset; raise `PresetError` on the first problem."""
    path = find_preset(name_or_path)
    document = _load_chain(path)
    for expression in overrides:
        apply_override(document, expression)
    preset = validate(document, source=str(path))
    preset["name"] = path.stem
    return preset


def parse_override(expression: str) -> tuple[str, Any]:
    """`key=value` with a TOML value (`0.05`, `true`, `[1, 2]`, `"x"`); bare words are strings."""
    key, sep, text = expression.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key or not text:
        raise PresetError(
            "--set", printable(expression), "expected KEY=VALUE, e.g. optimizer.learning_rate=0.05", has_value=False
        )
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word or path, e.g. data.source=folder:../images
    except ValueError as exc:  # an integer too long for Python to read
        raise PresetError(
            "--set", printable(key), f"cannot read the value: {first_clause(exc)}", has_value=False
        ) from None
    return key, value


def apply_override(document: dict, expression: str) -> None:
    key, value = parse_override(expression)
    if key == "extends":
        raise PresetError(
            "--set", key, "cannot be overridden; write a preset that extends the one you want", printable(value)
        )
    if key == "model.name":
        _reset_model_if_renamed(document, value)
    parts = split_key(key)
    try:
        parent = walk(document, parts[:-1], create=True)
        before = key_names(document, parts)  # the entry a list key names may be the one replaced
        last = parts[-1]
        if isinstance(parent, list):  # a list entry, by position or name, must exist already
            parent[list_index(parent, last)] = value
        else:
            parent[last] = value
    except (KeyError, IndexError, TypeError):
        raise PresetError("--set", printable(key), "no such key in this preset", value) from None
    after = key_names(document, split_key(before[1]))  # by position: a replaced entry's name is gone
    # remember which keys came from --set, by every name validation may report them under
    for name in {*before, *after}:
        document.setdefault(OVERRIDES, {})[name] = value
