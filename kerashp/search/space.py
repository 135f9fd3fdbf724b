"""The search space: check `[search.space]` against the preset, declare it to KerasTuner, and turn
a trial's values back into a preset.

A trial is the base preset with one `--set key=value` override per active hyperparameter, so every
value goes through the same validation as a command-line override. Checking the space applies each
entry's edge values (range ends, every choice) the same way, so a bad space fails before any
training starts, with the usual one-line error.
"""

from __future__ import annotations

import copy
import tomllib
from contextlib import ExitStack
from typing import Any

from kerashp.config import Preset, apply_override, validate
from kerashp.config.preset import SpaceEntry
from kerashp.errors import PresetError
from kerashp.text import printable, shown_value, toml_value

METRICS = ("val_accuracy", "val_loss", "accuracy", "loss")  # what history.csv records per epoch
CHOICE_TYPES = (bool, int, float, str, list)  # lists (e.g. MLP widths) go to KerasTuner as their TOML text
BRACKETED = ("hyperband", "bohb")  # algorithms whose trials get their epochs from Hyperband's brackets


def entry_name(key: str) -> str:
    return f'search.space."{printable(key)}"'


def override_expression(key: str, value: Any) -> str:
    """`key=<value as TOML>`, the form `apply_override` parses."""
    return f"{key}={toml_value(value)}"


def trial_preset(base: Preset, values: dict[str, Any], source: str = "search") -> Preset:
    """The base preset with `values` applied as overrides, validated; its `[search]` is dropped,
    so a trial's run directory holds a plain preset that `kerashp train` can run."""
    document = {key: copy.deepcopy(value) for key, value in base.items() if key not in ("search", "name")}
    for key, value in values.items():
        apply_override(document, override_expression(key, value))
    preset = validate(document, source=source)
    preset["name"] = base.name
    return preset


def bracketed(algorithm: str) -> bool:
    """Whether the algorithm gives each trial its epochs itself, through Hyperband's brackets
    (hyperband, bohb): up to search.max_epochs, never train.epochs."""
    return algorithm in BRACKETED


def epochs_key(algorithm: str) -> str:
    """The key that "epochs per trial" sets (`kerashp tune --epochs`, the TUI's search dialog): each
    trial's train.epochs, or for Hyperband and BOHB, which give their trials different epochs
    themselves, search.max_epochs, the most any trial gets (train.epochs would change nothing)."""
    return "search.max_epochs" if bracketed(algorithm) else "train.epochs"


def epochs_per_trial(preset: Preset, algorithm: str | None = None) -> int:
    """The preset's value of `epochs_key` for `algorithm` (else its own): what "epochs per trial"
    shows before it is changed."""
    section, key = epochs_key(algorithm or preset["search"]["algorithm"]).split(".")
    return preset[section][key]


# ---------------------------------------------------------------------------------------- checking


def check_search(preset: Preset, source: str | None = None) -> None:
    """Raise `PresetError` for a search the schema accepts but that cannot run; errors name
    `source` (the preset's file, say), else the preset's name."""
    search, source = preset["search"], source or preset.name or "preset"
    space = search["space"]
    if not space:
        raise PresetError(
            source,
            "search.space",
            'nothing to search: add entries such as "optimizer.learning_rate" = '
            '{ type = "float", min = 1e-4, max = 0.1, log = true }',
            has_value=False,
        )
    if search["objective"] not in METRICS:
        raise PresetError(
            source, "search.objective", f"unknown metric; allowed: {', '.join(METRICS)}", search["objective"]
        )
    if search["objective"].startswith("val_") and not preset["data"]["validation"]:
        raise PresetError(
            source, "search.objective", "needs a validation split (data.validation > 0)", search["objective"]
        )
    algorithm = search["algorithm"]
    if bracketed(algorithm) and search["prune"]:
        raise PresetError(source, "search.prune", prune_refusal(algorithm, "set 0"), search["prune"])
    if bracketed(algorithm) and "train.epochs" in space:
        raise PresetError(
            source,
            entry_name("train.epochs"),
            f"{algorithm} sets each trial's epochs itself (search.max_epochs, search.factor); remove this entry",
            has_value=False,
        )
    for key, entry in space.items():
        _check_entry_type(source, key, entry)
        for value in edge_values(entry):
            _check_value(preset, source, entry_name(key), key, value)
        for parent, wanted in entry["when"].items():
            _check_condition(preset, source, key, parent, _as_list(wanted))
    declaration_order(space, source)


def prune_refusal(algorithm: str, instead: str) -> str:
    """Why a bracketed search takes no median stopping, and what to do `instead`."""
    return (
        f"{algorithm} stops trials early through its brackets; "
        f"{instead}, or use median stopping with random, bayesian, grid or tpe"
    )


def _check_entry_type(source: str, key: str, entry: SpaceEntry) -> None:
    kind = entry["type"]
    if kind == "int" and not (float(entry["min"]).is_integer() and float(entry["max"]).is_integer()):
        raise PresetError(source, entry_name(key), "an int range needs whole-number min and max", has_value=False)
    if kind == "choice":
        values = entry["values"]
        if not all(type(value) in CHOICE_TYPES for value in values):
            raise PresetError(
                source,
                f"{entry_name(key)}.values",
                "choices must be numbers, strings, booleans or lists",
                printable(values),
            )
        if len({type(value) for value in values}) > 1:
            raise PresetError(source, f"{entry_name(key)}.values", "choices must all have one type", printable(values))


def _check_value(preset: Preset, source: str, where: str, key: str, value: Any) -> None:
    try:
        trial_preset(preset, {key: value})
    except PresetError as exc:
        shown = f"{printable(key)} = {shown_value(value)}"
        raise PresetError(source, where, f"{shown}: {exc.problem}", has_value=False) from None


def _check_condition(preset: Preset, source: str, key: str, parent: str, wanted: list) -> None:
    where, space = f"{entry_name(key)}.when", preset["search"]["space"]
    for value in wanted:
        _check_value(preset, source, where, parent, value)
    if parent not in space:
        return
    if space[parent]["type"] not in ("choice", "bool"):
        raise PresetError(
            source,
            where,
            f"{printable(parent)} is a {space[parent]['type']} range; a condition can only name a choice or bool entry",
            has_value=False,
        )
    if not any(value in edge_values(space[parent]) for value in wanted):
        raise PresetError(
            source,
            where,
            f"{printable(parent)} never takes {shown_value(wanted)} in this space, "
            "so this entry would never be searched",
            has_value=False,
        )


def edge_values(entry: SpaceEntry) -> list:
    """The values that bound what an entry can produce: both range ends, or every choice."""
    kind = entry["type"]
    if kind == "float":
        return [entry["min"], entry["max"]]
    if kind == "int":
        return [int(entry["min"]), int(entry["max"])]
    return [False, True] if kind == "bool" else list(entry["values"])


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def declaration_order(space: dict[str, SpaceEntry], source: str = "preset") -> list[str]:
    """Entry keys with every searched `when` parent before its children (KerasTuner needs the
    parent declared first); a cycle is an error."""
    ordered: list[str] = []
    pending = list(space)
    while pending:  # take the first entry whose parents are declared, so the preset's order is kept where it can be
        ready = next((key for key in pending if all(p not in space or p in ordered for p in space[key]["when"])), None)
        if ready is None:
            raise PresetError(source, entry_name(pending[0]), "its `when` conditions form a cycle", has_value=False)
        ordered.append(ready)
        pending.remove(ready)
    return ordered


# ---------------------------------------------------------------------------------------- KerasTuner


def hyperparameters(preset: Preset):
    """The space as `keras_tuner.HyperParameters`, conditions as conditional scopes.

    A `when` on a searched key becomes a KerasTuner condition; a `when` on a fixed preset key is
    decided now: the entry is searched only if the preset's value matches.
    """
    import keras_tuner  # on first use: it takes seconds to import, and checking a space needs none of it

    space = preset["search"]["space"]
    hp = keras_tuner.HyperParameters()
    for key in declaration_order(space):
        entry = space[key]
        fixed = {p: _as_list(v) for p, v in entry["when"].items() if p not in space}
        if any(preset.get_path(parent) not in wanted for parent, wanted in fixed.items()):
            continue
        with ExitStack() as scopes:
            for parent, wanted in entry["when"].items():
                if parent in space:
                    values = [encode_choice(space[parent], v) for v in _as_list(wanted)]
                    scopes.enter_context(hp.conditional_scope(parent, values))
            _declare(hp, key, entry)
    return hp


def _declare(hp, key: str, entry: SpaceEntry) -> None:
    kind, sampling = entry["type"], "log" if entry["log"] else "linear"
    if kind == "float":
        hp.Float(key, entry["min"], entry["max"], step=entry["step"] or None, sampling=sampling)
    elif kind == "int":
        hp.Int(key, int(entry["min"]), int(entry["max"]), step=int(entry["step"]) or None, sampling=sampling)
    elif kind == "choice":
        hp.Choice(key, [encode_choice(entry, value) for value in entry["values"]])
    else:
        hp.Boolean(key)


def _holds_lists(entry: SpaceEntry) -> bool:
    return entry["type"] == "choice" and isinstance(entry["values"][0], list)


def encode_choice(entry: SpaceEntry, value: Any) -> Any:
    """KerasTuner choices are scalars: a list travels as its TOML text."""
    return toml_value(value) if _holds_lists(entry) else value


def decode_choice(entry: SpaceEntry, value: Any) -> Any:
    """The value `encode_choice` encoded. A list's TOML text may span lines: searches started
    before kerashp wrote every TOML value on one line hold their list choices so."""
    return tomllib.loads(f"v = {value}")["v"] if _holds_lists(entry) else value


def grid_size(hp, limit: int) -> int:
    """How many combinations a grid search over `hp` can try, at most `limit`: an entry
    adds its values only where its conditions hold (KerasTuner's own values per entry, so a float
    without a step counts its 10 samples as the grid oracle does)."""

    def count(index: int, chosen: dict) -> int:
        if index == len(hp.space):
            return 1
        param = hp.space[index]
        if not all(condition.is_active(chosen) for condition in param.conditions):
            return count(index + 1, chosen)
        total = 0
        for value in param.values:
            total += count(index + 1, {**chosen, param.name: value})
            if total >= limit:
                break
        return total

    return min(count(0, {}), limit)


def active_values(hp, space: dict[str, SpaceEntry]) -> dict[str, Any]:
    """A trial's active preset values as plain Python (KerasTuner may hand out numpy scalars, and
    holds list choices as text), in the space's declared order (a trial that crossed gRPC lists
    them by type); Hyperband's bookkeeping values (`tuner/...`) are left out."""
    params = {param.name: param for param in hp.space}
    values = {}
    for key in space:
        param = params.get(key)
        if param is not None and key in hp.values and hp.is_active(param):
            value = hp.values[key]
            value = value.item() if hasattr(value, "item") else value
            values[key] = decode_choice(space[key], value)
    return values
