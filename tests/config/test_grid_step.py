"""A grid search tries every value of each entry, so a float range must say its step: without one,
KerasTuner's grid would silently try 10 samples."""

from __future__ import annotations

import pytest

from kerashp.config import load_preset
from kerashp.errors import PresetError


def test_a_grid_refuses_a_float_range_without_a_step():
    with pytest.raises(PresetError, match=r'search.space."optimizer.learning_rate": a grid search needs a step'):
        load_preset("lenet5_search", ["search.algorithm=grid"])


def test_a_grid_takes_a_float_range_with_a_step_and_other_algorithms_take_it_without():
    stepped = '"optimizer.learning_rate" = { type = "float", min = 0.01, max = 0.05, step = 0.01 }'
    grid = load_preset("lenet5", ["search.algorithm=grid", f"search.space={{ {stepped} }}"])
    assert grid["search"]["space"]["optimizer.learning_rate"]["step"] == 0.01
    assert load_preset("lenet5_search", ["search.algorithm=random"])["search"]["algorithm"] == "random"
