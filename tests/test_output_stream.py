"""``emit_json_array`` and ``pretty_json`` write exactly what ``json.dumps(indent=2)`` writes."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from plitool.cli.common import pretty_json

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8) | st.integers() | st.booleans() | st.none(), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(values)
def test_pretty_json_is_json_dumps_indent_2(value: object) -> None:
    assert pretty_json(value) == json.dumps(value, ensure_ascii=False, indent=2)


def test_pretty_json_nested_in_an_array_and_unicode() -> None:
    value = [{"名称": "张三\n\"x\"", "tags": [], "d": {}, "n": [1, 2.5, None]}]
    assert "[\n  " + pretty_json(value[0], "  ") + "\n]" == json.dumps(value, ensure_ascii=False, indent=2)
