"""kerashp.text: the one TOML value encoder and the one number formatter."""

from __future__ import annotations

import math
import tomllib

from hypothesis import given
from hypothesis import strategies as st

from kerashp.text import number, parse_number, shown_value, slug, toml_value

SCALARS = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
TOML_VALUES = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def same(a, b) -> bool:
    """Equality in which nan equals nan (TOML's nan reads back as a nan)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    return type(a) is type(b) and a == b


@given(TOML_VALUES)
def test_every_encoded_value_reads_back_through_tomllib_on_one_line(value):
    text = toml_value(value)
    assert "\n" not in text
    assert same(tomllib.loads(f"v = {text}")["v"], value)


@given(TOML_VALUES)
def test_a_shown_value_is_one_printable_line(value):
    assert shown_value(value).isprintable()


def test_values_read_as_toml_writes_them():
    assert toml_value('a"b') == '"a\\"b"'  # the old encoder wrote "a"b", which is not TOML
    assert toml_value({"optimizer.learning_rate": 0.1, "depth": [2, 3]}) == '{ "optimizer.learning_rate" = 0.1, depth = [2, 3] }'
    assert toml_value(True) == "true" and toml_value(float("inf")) == "inf" and toml_value({}) == "{}"
    assert shown_value({"name": "flip"}) == "{...}" and shown_value(None) == "None" and shown_value("x\u2028y") == '"x\\u2028y"'


def test_numbers_are_written_alike_everywhere():
    assert [number(value) for value in (None, 0.0, 0.25, 2.181234, 1e-5, 1.2109e15, 3, True)] == [
        "-", "0.0000", "0.2500", "2.1812", "1e-05", "1.211e+15", "3", "True",
    ]  # fmt: skip
    assert number(4_909_002, group_thousands=True) == "4,909,002" and number(9_999, group_thousands=True) == "9999"
    assert number(float("nan")) == "nan" and number(0.5, digits=2) == "0.50"


def test_numbers_read_back_from_text_are_finite_or_none():
    assert parse_number("0.25") == 0.25 and parse_number("nan") is None and parse_number("") is None


def test_a_slug_is_one_safe_folder_name():
    assert slug("learning rate / 0.1") == "learning_rate_0.1" and slug("///") == "section"
