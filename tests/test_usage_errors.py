"""API misuse raises :class:`typedgen.UsageError` (a ``TypeError``), not ``SchemaError``, which
stays for types and schemas that cannot be honoured."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import typedgen
from typedgen.generate._api import _alternation
from typedgen.processors import Constraint


@pytest.mark.parametrize(
    "args",
    [
        {"typedgen_regexp": "a"},
        {"typedgen_regex": "a", "typedgen_json_schema": "{}"},
        {"typedgen_regex": 3},
        {"typedgen_regex": "a", "typedgen_whitespace": "2"},
        {"typedgen_json_schema": "{}", "typedgen_whitespace": "wide"},
        {"typedgen_whitespace": "2"},
        {"typedgen_grammar": "start: 'a'", "typedgen_regex": "a"},
        {"typedgen_grammar_syntax": "lark", "typedgen_regex": "a"},
        {"typedgen_grammar": "start: 'a'", "typedgen_grammar_syntax": "ebnf"},
        {"typedgen_regex": "a", "typedgen_finish_within_budget": "maybe"},
    ],
)
def test_malformed_extra_args_are_usage_errors(args: dict[str, object]) -> None:
    with pytest.raises(typedgen.UsageError) as info:
        Constraint.from_extra_args(args)
    assert isinstance(info.value, TypeError)
    assert not isinstance(info.value, typedgen.SchemaError)


def test_a_grammar_has_no_regex() -> None:
    with pytest.raises(typedgen.UsageError, match="no regex"):
        Constraint.grammar("start: 'a'").pattern()


def test_a_typed_function_needs_a_docstring_and_a_return_annotation() -> None:
    with pytest.raises(typedgen.UsageError, match="docstring"):

        @typedgen.fn
        def no_doc(text: str) -> int: ...

    with pytest.raises(typedgen.UsageError, match="return annotation"):

        @typedgen.fn
        def no_return(text: str):  # type: ignore[no-untyped-def]
            """Doc."""

    with pytest.raises(typedgen.SchemaError):  # a type with no exact constraint: a schema error

        @typedgen.fn
        def callback(text: str) -> Callable[[], int]:
            """A return type with no JSON Schema is refused when decorating."""


def test_fn_refuses_what_is_neither_a_function_nor_a_model() -> None:
    with pytest.raises(typedgen.UsageError, match=r"typedgen.fn\(model\)"):
        typedgen.fn(42)  # type: ignore[call-overload]


@pytest.mark.parametrize(("choices", "match"), [([1, 2], "must be strings"), ([], "at least")])
def test_choices_must_be_strings(choices: list[object], match: str) -> None:
    with pytest.raises(typedgen.UsageError, match=match):
        _alternation(choices)  # type: ignore[arg-type]
