"""Load presets: find by name or path, follow `extends`, apply `--set` overrides, validate.

The result is a `Preset`: a plain nested dict holding every key with its default filled in (the
resolved preset, saved in each run directory so any run can be repeated) plus attribute access
for the code that reads it. Every problem is a one-line `PresetError` naming file, key and value.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import tomllib
from pathlib import Path
from typing import Any, Iterable

import tomli_w

from kerashp import schema
from kerashp.errors import PresetError
from kerashp.fields import Field, is_number
from kerashp.models.catalog import MODEL_OPTIONS

PRESET_PATH_ENV = "KERASHP_PRESET_PATH"
OVERRIDES = "__overrides__"  # where apply_override records which keys came from --set
ORIGINS = "__origins__"  # where _load_chain records which file of an `extends` chain gave each key


def printable(value: Any) -> Any:
    """`value` with newlines and other unprintable characters in its strings written as escapes
    (`\\n`, `\\x1b`), so an error that quotes a key or value stays one line: TOML lets quoted
    keys and strings hold them, and so does a shell argument."""
    if isinstance(value, str):
        return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    return value


class Preset(dict):
    """A resolved preset: a dict, with `preset.optimizer.learning_rate` style access for reading."""

    def __getattr__(self, name: str) -> Any:
        try:
            value = self[name]
        except KeyError:
            raise AttributeError(name) from None
        return Preset(value) if isinstance(value, dict) else value

    @property
    def name(self) -> str:
        return self.get("name", "")

    def get_path(self, dotted: str) -> Any:
        return _walk(self, dotted.split("."))


# ---------------------------------------------------------------------------------------- finding


def preset_dirs() -> list[Path]:
    """Where presets are looked up: $KERASHP_PRESET_PATH entries, then the bundled presets."""
    dirs = [Path(p) for p in os.environ.get(PRESET_PATH_ENV, "").split(os.pathsep) if p]
    package = Path(__file__).resolve().parent
    for bundled in (package / "presets", package.parent / "presets"):  # wheel, then source checkout
        if bundled.is_dir():
            dirs.append(bundled)
            break
    return dirs


def available_presets() -> dict[str, Path]:
    """Preset name -> file, earlier directories shadowing later ones."""
    found: dict[str, Path] = {}
    for directory in reversed(preset_dirs()):
        for path in sorted(directory.glob("*.toml")):
            found[path.stem] = path
    return dict(sorted(found.items()))


def find_preset(name_or_path: str, extending: Path | None = None) -> Path:
    """A preset given by path (anything with a slash or a .toml suffix) or by name. For the `extends`
    of the file `extending`, its own folder is searched first and the file itself is skipped, so
    sibling presets find each other and `my/lenet5.toml` can extend the bundled `lenet5`."""
    folder = extending.parent if extending is not None else None
    if _looks_like_path(name_or_path):
        candidates = [Path(name_or_path)]
        if folder is not None:
            candidates.insert(0, folder / name_or_path)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise PresetError(printable(name_or_path), "", "no such preset file", has_value=False)
    itself = extending.resolve() if extending is not None else None
    folders = ([folder] if folder is not None else []) + preset_dirs()
    found = [candidate for candidate in (directory / f"{name_or_path}.toml" for directory in folders) if candidate.is_file()]
    others = [candidate for candidate in found if candidate.resolve() != itself]
    if others or found:  # only itself: `extends` names the file it is in, a cycle the loader reports
        return (others or found)[0]
    presets = available_presets()
    close = difflib.get_close_matches(name_or_path, presets, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else f"available: {', '.join(presets)}"
    raise PresetError("preset", printable(name_or_path), f"unknown preset; {hint}", has_value=False)


def _looks_like_path(name_or_path: str) -> bool:
    return name_or_path.endswith(".toml") or os.sep in name_or_path or "/" in name_or_path


# ---------------------------------------------------------------------------------------- writing


def portable(document: dict) -> dict:
    """A copy of a preset (or of the part of one a file writes) whose paths work from any directory:
    a relative `folder:PATH` source and an `extends` given by path are made absolute from the current
    directory, which is where they were read from. For every preset written to be run again."""
    document = copy.deepcopy(document)
    data = document.get("data")
    source = data.get("source") if isinstance(data, dict) else None
    if isinstance(source, str) and source.startswith("folder:"):
        data["source"] = "folder:" + str(Path(source.removeprefix("folder:")).expanduser().resolve())
    parent = document.get("extends")
    if isinstance(parent, str) and _looks_like_path(parent):
        document["extends"] = str(Path(parent).expanduser().resolve())
    return document


def preset_toml(document: dict, header: str = "") -> str:
    """The text of a preset file kerashp writes to be run again (`kerashp train --preset FILE`):
    `header` (comment lines), then the document as TOML with its paths made portable."""
    return header + tomli_w.dumps(portable(document))


# ---------------------------------------------------------------------------------------- loading


def read_toml(path: Path) -> dict:
    """The TOML document at `path`; text that is not UTF-8, or holds an integer too long for
    Python to read (over 4300 digits), is a syntax error like any other, not a traceback."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PresetError(str(path), "", f"TOML syntax error: {printable(str(exc))}", has_value=False) from None
    except UnicodeDecodeError as exc:
        problem = f"TOML syntax error: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        raise PresetError(str(path), "", problem, has_value=False) from None
    except ValueError as exc:
        raise PresetError(str(path), "", f"TOML syntax error: {_first_clause(exc)}", has_value=False) from None
    except OSError as exc:
        raise PresetError(str(path), "", f"cannot read: {exc.strerror}", has_value=False) from None


def _load_chain(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The document at `path` merged over its `extends` ancestors (child keys win)."""
    resolved = path.resolve()
    if resolved in seen:
        cycle = " -> ".join(p.stem for p in (*seen, resolved))
        raise PresetError(str(path), "extends", f"cycle: {cycle}", has_value=False)
    document = read_toml(path)
    for private in (OVERRIDES, ORIGINS):
        if private in document:
            raise PresetError(str(path), private, "unknown section or key (a name kerashp keeps for itself)", has_value=False)
    parent_name = document.pop("extends", None)
    if parent_name is None:
        return document
    origins = {key: str(path) for key in _leaf_keys(document)}
    if not isinstance(parent_name, str):
        raise PresetError(str(path), "extends", "expected a preset name or path", printable(parent_name))
    try:
        parent_path = find_preset(parent_name, extending=path)
    except PresetError as exc:
        raise PresetError(str(path), "extends", f"{exc.problem}", printable(parent_name)) from None
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
        name = f"{prefix}{_quoted(str(key))}"
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


# ---------------------------------------------------------------------------------------- overrides


def parse_override(expression: str) -> tuple[str, Any]:
    """`key=value` with a TOML value (`0.05`, `true`, `[1, 2]`, `"x"`); bare words are strings."""
    key, sep, text = expression.partition("=")
    key, text = key.strip(), text.strip()
    if not sep or not key or not text:
        raise PresetError("--set", printable(expression), "expected KEY=VALUE, e.g. optimizer.learning_rate=0.05", has_value=False)
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text  # a bare word or path, e.g. data.source=folder:../images
    except ValueError as exc:  # an integer too long for Python to read
        raise PresetError("--set", printable(key), f"cannot read the value: {_first_clause(exc)}", has_value=False) from None
    return key, value


def _first_clause(exc: Exception) -> str:
    """Python's message without its advice to programmers ("...; use sys.set_int_max_str_digits()")."""
    return printable(str(exc).split(";")[0])


def apply_override(document: dict, expression: str) -> None:
    key, value = parse_override(expression)
    if key == "extends":
        raise PresetError("--set", key, "cannot be overridden; write a preset that extends the one you want", printable(value))
    if key == "model.name":
        _reset_model_if_renamed(document, value)
    parts = split_key(key)
    try:
        parent = _walk(document, parts[:-1], create=True)
        before = _key_names(document, parts)  # the entry a list key names may be the one replaced
        last = parts[-1]
        if isinstance(parent, list):  # a list entry, by position or name, must exist already
            parent[_list_index(parent, last)] = value
        else:
            parent[last] = value
    except (KeyError, IndexError, TypeError):
        raise PresetError("--set", printable(key), "no such key in this preset", printable(value)) from None
    after = _key_names(document, split_key(before[1]))  # by position: a replaced entry's name is gone
    # remember which keys came from --set, by every name validation may report them under
    for name in {*before, *after}:
        document.setdefault(OVERRIDES, {})[name] = value


def split_key(key: str) -> list[str]:
    """A dotted key's parts, TOML-style: `search.space."optimizer.learning_rate".max` has four."""
    try:
        node, parts = tomllib.loads(f"{key} = 0"), []
        while isinstance(node, dict) and len(node) == 1:
            part, node = next(iter(node.items()))
            parts.append(part)
        return parts
    except tomllib.TOMLDecodeError:
        return key.split(".")


def _quoted(part: str) -> str:
    """A key part as validation spells it: with a dot inside, in quotes."""
    return f'"{part}"' if "." in part else part


def _key_names(document: dict, parts: list[str]) -> tuple[str, ...]:
    """`augment.transforms.0.p` as validation may spell it: by the entry's name
    (`augment.transforms.vertical_flip.p`) or, for an entry that is not a table, by position."""
    by_name, by_index, node = [], [], document
    for part in parts:
        if isinstance(node, list):
            index = _list_index(node, part)
            node = node[index]
            by_name.append(node.get("name", part) if isinstance(node, dict) else part)
            by_index.append(str(index))
        else:
            node = node.get(part) if isinstance(node, dict) else None
            by_name.append(_quoted(part))
            by_index.append(_quoted(part))
    return ".".join(map(str, by_name)), ".".join(by_index)


def _list_index(items: list, part: str) -> int:
    """Address list entries by position (`transforms.0`) or by their name (`transforms.vertical_flip`)."""
    if part.isdecimal():  # not isdigit: "²" is a digit that int() cannot read
        index = int(part)
        if index >= len(items):
            raise IndexError(part)
        return index
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == part:
            return index
    raise KeyError(part)


def _walk(node: Any, parts: list[str], create: bool = False) -> Any:
    for part in parts:
        if isinstance(node, list):
            node = node[_list_index(node, part)]
        elif isinstance(node, dict):
            if part not in node:
                if not create:
                    raise KeyError(part)
                node[part] = {}
            node = node[part]
        else:
            raise TypeError(part)
    return node


# ---------------------------------------------------------------------------------------- validating


class _Checker:
    """Checks one document against the schema, blaming overrides when they supplied the value."""

    def __init__(self, source: str, overrides: dict[str, Any], origins: dict[str, str]):
        self.source = source
        self.overrides = overrides
        self.origins = origins

    def fail(self, key: str, problem: str, value: Any = None, has_value: bool = True) -> PresetError:
        source = "--set" if self.from_override(key) else self.origin(key)
        return PresetError(source, printable(key), problem, printable(value), has_value=has_value)

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
        return {key: self.value(_join(where, key), document.get(key, field.default), field) for key, field in fields.items()}

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
    resolved = checker.table("", {k: v for k, v in document.items() if k not in sections}, schema.TOP_LEVEL)

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
    return Preset(resolved)


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
    return resolved


def _check_space_entry(checker: _Checker, key: str, entry: Any) -> dict:
    where = f'search.space."{key}"'
    if isinstance(entry, list):  # shorthand: a list of choices
        entry = {"type": "choice", "values": entry}
    if not isinstance(entry, dict):
        raise checker.fail(where, "expected a table like { type = \"float\", min = 1e-4, max = 0.1, log = true } or a list of choices", entry)
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
            raise checker.fail(where, f"empty range: min ({checked['min']:g}) must be below max ({checked['max']:g})", has_value=False)
        if checked["log"] and checked["min"] <= 0:
            raise checker.fail(f"{where}.min", "a log range must stay above zero", checked["min"])
    when = entry.get("when", {})
    if not isinstance(when, dict):
        raise checker.fail(f"{where}.when", 'expected a table like { "optimizer.name" = "sgd" }', when)
    checked["when"] = when
    return checked


def _check_reference(checker: _Checker, body: Any, preset: dict) -> dict:
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
        if all([_holds(checker, preset, f"{where}.when", key, value) for key, value in when.items()]):  # every key checked
            figures = variant_figures
    return figures


VARIANT_EXAMPLE = '{ when = { "optimizer.learning_rate" = 0.5 }, val_accuracy = 0.374 }'


def _reported_figures(checker: _Checker, where: str, body: dict) -> dict:
    return {key: checker.value(_join(where, key), value, schema.REFERENCE_VALUE) for key, value in body.items()}


def _holds(checker: _Checker, preset: dict, where: str, key: str, value: Any) -> bool:
    """Whether the resolved preset has `value` at dotted `key` (numbers compared to float precision)."""
    try:
        actual = _walk(preset, split_key(key))
    except (KeyError, IndexError, TypeError):
        raise checker.fail(_join(where, _quoted(key)), "not a key of this preset", has_value=False) from None
    if is_number(actual) and is_number(value):
        return math.isclose(actual, value, rel_tol=1e-9)
    return actual == value



def _check_consistency(checker: _Checker, preset: dict) -> None:
    """Rules that involve more than one key."""
    data = preset["data"]
    if len(data["mean"]) != len(data["std"]):
        raise checker.fail("data.std", f"needs as many values as data.mean ({len(data['mean'])})", data["std"])
    if preset["model"].get("weights") == "imagenet" and data["normalize"] != "imagenet":
        raise checker.fail(
            "data.normalize",
            f'model.weights = "imagenet" needs "imagenet" (kerashp converts ImageNet-normalised input to what '
            f"the pretrained {preset['model']['name']} expects), or set model.weights = \"none\"",
            data["normalize"],
        )
    for key in preset["search"]["space"]:
        try:
            _walk(preset, key.split("."))
        except (KeyError, IndexError, TypeError):
            raise checker.fail(f'search.space."{key}"', "not a key of this preset", has_value=False) from None
