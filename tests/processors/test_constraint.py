"""Constraints as flat extra_args strings, and their checking without a tokenizer."""

from __future__ import annotations

import pytest

import typedgen
from typedgen.processors import Constraint
from typedgen.processors._constraint import (
    FINISH_WITHIN_BUDGET,
    byte_compiler,
    finish_within_budget,
)
from typedgen.testing import accepts_string


@pytest.mark.parametrize(
    "constraint",
    [
        Constraint.regex("[a-z]+"),
        Constraint.json_schema({"type": "integer"}),
        Constraint.json_schema({"type": "array"}, whitespace=typedgen.Whitespace.flexible(4)),
    ],
)
def test_round_trip_through_flat_strings(constraint: Constraint) -> None:
    args = constraint.to_extra_args()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in args.items())
    assert Constraint.from_extra_args({**args, "someone_else": [1]}) == constraint


def test_schema_key_order_is_kept() -> None:
    """The order of ``properties`` is the order the generated object writes its keys."""
    schema = {"properties": {"b": {}, "a": {}}}
    assert Constraint.json_schema(schema).schema() == schema
    assert list(Constraint.json_schema(schema).schema()["properties"]) == ["b", "a"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("False", False)],
)
def test_finish_within_budget_option(value: object, expected: bool) -> None:
    args = {**Constraint.regex("a+").to_extra_args(), FINISH_WITHIN_BUDGET: value}
    assert Constraint.from_extra_args(args) == Constraint.regex("a+")
    assert finish_within_budget(args) is expected
    assert finish_within_budget(Constraint.regex("a+").to_extra_args()) is True
    assert finish_within_budget(None) is True


@pytest.mark.parametrize("value", ["yes", 2, None, 1.0, [True]])
def test_malformed_finish_within_budget_is_refused(value: object) -> None:
    args = {**Constraint.regex("a+").to_extra_args(), FINISH_WITHIN_BUDGET: value}
    with pytest.raises(typedgen.UsageError, match=FINISH_WITHIN_BUDGET):
        Constraint.from_extra_args(args)


def test_no_constraint() -> None:
    assert Constraint.from_extra_args(None) is None
    assert Constraint.from_extra_args({"other": "x"}) is None


def test_byte_guides_check_constraints_and_texts() -> None:
    compiler = typedgen.Compiler(typedgen.Vocabulary.of_bytes())
    guide = Constraint.json_schema({"type": "boolean"}).compile(compiler)
    assert Constraint.json_schema({"type": "boolean"}).compile(compiler) is guide
    assert accepts_string(guide, "true") and not accepts_string(guide, "tru")
    accents = Constraint.regex("(é|日本)+").compile(compiler)
    assert accepts_string(accents, "日本é") and not accepts_string(accents, "e")
    spaced = Constraint.json_schema({"type": "array"}, whitespace=typedgen.Whitespace(2))
    assert accepts_string(spaced.compile(compiler), "[ ]")
    with pytest.raises(typedgen.RegexError):
        Constraint.regex("a{3,1}").compile(compiler)
    with pytest.raises(typedgen.SchemaError):
        Constraint.json_schema("{not json").compile(compiler)


def test_the_byte_compiler_is_one_per_process() -> None:
    assert byte_compiler() is byte_compiler()
    assert byte_compiler().vocabulary.size == 257


def test_recursive_schemas_are_compiled_without_depth_cut() -> None:
    schema = {"type": "array", "items": {"$ref": "#"}, "maxItems": 2}
    guide = Constraint.json_schema(schema).compile(byte_compiler())
    assert accepts_string(guide, "[" * 20 + "]" * 20)
    assert accepts_string(guide, "[[],[[],[]]]") and not accepts_string(guide, "[[],[],[]]")
