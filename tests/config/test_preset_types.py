"""The preset's TypedDicts name exactly the keys the schema declares, so a type checker's view of
`preset["section"]["key"]` cannot drift from what validation fills in."""

from __future__ import annotations

import typing

import pytest

from kerashp.config import load_preset, schema
from kerashp.config import preset as types
from kerashp.config.model_table import MODELS

SECTIONS = {
    "data": (types.DataSection, schema.DATA),
    "augment": (types.AugmentSection, {**schema.AUGMENT, **dict.fromkeys(schema.TRANSFORM_LISTS)}),
    "optimizer": (types.OptimizerSection, schema.OPTIMIZER),
    "schedule": (types.ScheduleSection, schema.SCHEDULE),
    "train": (types.TrainSection, schema.TRAIN),
    "search": (types.SearchSection, {**schema.SEARCH, "space": None}),
}


def test_every_schema_section_has_its_typed_dict():
    assert set(SECTIONS) == set(schema.SECTIONS)


@pytest.mark.parametrize("section", SECTIONS)
def test_a_sections_typed_dict_has_the_schemas_keys(section):
    typed, fields = SECTIONS[section]
    assert set(typing.get_type_hints(typed)) == set(fields)
    assert typed.__required_keys__ == set(fields)  # validation fills in every key


def test_the_model_section_has_every_models_options():
    options = {key for entry in MODELS.values() for key in entry.options}
    assert set(typing.get_type_hints(types.ModelSection)) == {"name", *options}
    assert types.ModelSection.__required_keys__ == {"name"}


def test_a_space_entry_has_the_schemas_keys():
    assert set(typing.get_type_hints(types.SpaceEntry)) == {*schema.SPACE_ENTRY, "values", "when"}


def test_sections_read_by_subscript_only():
    preset = load_preset("lenet5_search")
    assert preset["optimizer"]["learning_rate"] == preset.get_path("optimizer.learning_rate")
    assert preset.name == "lenet5_search"
    with pytest.raises(AttributeError):
        preset.optimizer  # noqa: B018  (no attribute access: one way to read a preset)
