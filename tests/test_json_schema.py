"""json_schema_to_regex: each keyword honoured exactly, or refused with its pointer and keyword.

Soundness is checked with Hypothesis: texts drawn from the regex are JSON that ``jsonschema``
accepts (formats checked).  Completeness with hand-picked valid and invalid instances.
"""

from __future__ import annotations

import itertools
import json
import re
from decimal import Decimal
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import typedgen
from typedgen import SchemaError, Whitespace, json_schema_to_regex
from typedgen._schema.numbers import decimal_range, integer_range
from typedgen._schema.patterns import contents_disjoint
from typedgen._schema.regex_text import regex_size
from typedgen._schema.values import DEFAULT_MAX_DEPTH, PREFERRED_REGEX_SIZE


def matches(schema: Any, text: str, **options: Any) -> bool:
    return re.fullmatch(json_schema_to_regex(schema, **options), text) is not None


def check(schema: Any, valid: list[Any], invalid: list[Any]) -> None:
    regex = re.compile(json_schema_to_regex(schema))
    for value in valid:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        assert regex.fullmatch(text), f"valid {text} not matched"
    for value in invalid:
        text = value if isinstance(value, str) and value.startswith("RAW:") else None
        text = text[4:] if text else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        assert not regex.fullmatch(text), f"invalid {text} matched"


def refused(schema: Any, keyword: str | None, pointer: str = "") -> SchemaError:
    with pytest.raises(SchemaError) as info:
        json_schema_to_regex(schema)
    assert info.value.keyword == keyword, info.value
    if pointer:
        assert info.value.pointer == pointer, info.value
    return info.value


# --- public API -----------------------------------------------------------------------------


def test_public_names() -> None:
    assert typedgen.json_schema_to_regex is json_schema_to_regex
    assert typedgen.Whitespace is Whitespace
    assert typedgen.schema_of(int) == {"type": "integer"}


def test_schema_as_json_text() -> None:
    assert matches('{"type": "boolean"}', "true")
    with pytest.raises(SchemaError):
        json_schema_to_regex("{not json")


# --- scalars ----------------------------------------------------------------------------------


def test_types_and_type_lists() -> None:
    check({"type": "null"}, [None], [0, "null"])
    check({"type": ["string", "null"]}, ["a", None], [1, True])
    check({"type": "integer"}, [0, -7, 10**30], [1.5, "RAW:01", "RAW:+1", "RAW:1e3"])
    check(
        {"type": "number"},
        [0, -1.5, 2.5e-7, 1e100, 10**150, 12345678901234567890.5],
        ["RAW:1.", "RAW:.5", "RAW:NaN", "RAW:Infinity", "RAW:1e999", "RAW:1e200"],
    )
    # a fraction or an exponent after more than 20 integer digits could round to infinity
    assert not matches({"type": "number"}, "1" * 21 + ".5")
    assert not matches({}, "1" * 400 + ".5")
    assert matches({}, "1" * 400)
    assert matches({"type": "number", "multipleOf": 0.01}, "1" * 30)
    check({"type": "boolean"}, [True, False], [0, "true"])


def test_integral_enum_values_as_n_0_only_where_numbers_are_allowed() -> None:
    # drafts 3 and 4 do not count 1.0 as an integer: never written for an integer-only enum
    check({"type": "integer", "enum": [0, 1]}, [0, 1], ["RAW:1.0", 2])
    check({"enum": [0, 1]}, [0, 1], [2])
    assert matches({"enum": [0, 1]}, "1.0")
    assert matches({"type": "number", "enum": [1]}, "1.0")


def test_nullable_openapi() -> None:
    check({"type": "integer", "nullable": True}, [1, None], ["x"])


def test_integer_range_is_exact() -> None:
    regex = re.compile(json_schema_to_regex({"type": "integer", "minimum": 18, "maximum": 130}))
    for value in range(-200, 1200):
        assert bool(regex.fullmatch(str(value))) == (18 <= value <= 130)


@settings(max_examples=200, deadline=None)
@given(
    low=st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    high=st.one_of(st.none(), st.integers(-(10**6), 10**6)),
    value=st.integers(-2 * 10**6, 2 * 10**6),
)
def test_integer_ranges(low: int | None, high: int | None, value: int) -> None:
    regex = integer_range(low, high)
    inside = (low is None or value >= low) and (high is None or value <= high)
    assert bool(regex and re.fullmatch(regex, str(value))) == inside


@settings(max_examples=200, deadline=None)
@given(
    low=st.one_of(st.none(), st.decimals(-1000, 1000, places=3)),
    high=st.one_of(st.none(), st.decimals(-1000, 1000, places=3)),
    low_open=st.booleans(),
    high_open=st.booleans(),
    value=st.decimals(-2000, 2000, places=4),
)
def test_decimal_ranges(
    low: Decimal | None, high: Decimal | None, low_open: bool, high_open: bool, value: Decimal
) -> None:
    regex = decimal_range(low, low_open, high, high_open)
    text = format(value, "f")
    if text.startswith("-") and value == 0:
        text = text[1:]
    above = low is None or (value > low if low_open else value >= low)
    below = high is None or (value < high if high_open else value <= high)
    assert bool(regex and re.fullmatch(regex, text)) == (above and below)


def test_number_bounds_exclusive_and_draft4() -> None:
    check(
        {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
        [0.5, 1, 1.0, 0.001],
        [0, -0.5, 1.01, "RAW:-0"],
    )
    check({"type": "number", "minimum": 0, "exclusiveMinimum": True}, [0.1], [0])
    check({"type": "integer", "maximum": 10, "exclusiveMaximum": True}, [9], [10])


def test_multiple_of() -> None:
    check({"type": "integer", "multipleOf": 5}, [0, 5, -15, 1000], [3, 12])
    check({"type": "number", "multipleOf": 0.01, "minimum": 0}, [0, 1.5, 2.25], [1.234])
    check({"type": "integer", "multipleOf": 7, "minimum": 0, "maximum": 50}, [0, 49], [50])
    refused({"type": "number", "multipleOf": 0.3}, "multipleOf", "")
    refused({"type": "integer", "multipleOf": 3}, "multipleOf")


def test_strings() -> None:
    check({"type": "string", "minLength": 2, "maxLength": 3}, ["ab", "abc", "é日本"], ["a", "abcd"])
    check(
        {"type": "string"},
        ["", 'q"uote\\', "tab\tnew\nline", "\u0001"],
        ['RAW:"\t"', 'RAW:"\\x"', 'RAW:"\\ud800"'],
    )


def test_pattern() -> None:
    check({"type": "string", "pattern": "^[a-z]+-[0-9]{2}$"}, ["ab-12"], ["ab-1", "AB-12"])
    check({"type": "string", "pattern": "ab"}, ["xxabyy", "ab"], ["a b"])
    check({"type": "string", "pattern": "^[a-z]*$", "maxLength": 3}, ["", "abc"], ["abcd"])
    refused({"type": "string", "pattern": "(a)\\1"}, "pattern")
    # an unanchored pattern with length bounds: its match placed at the start (a narrowing),
    # an unanchored edge repeat X{m,n} cut to X{m} (exact: the free text absorbs the rest)
    hex12 = {"type": "string", "pattern": "[0-9a-f]+", "minLength": 12, "maxLength": 12}
    check(hex12, ["507f1f77bcf8", "5zzzzzzzzzzz"], ["zzzzzzzzzzzz", "507f1f77bcf", "507f1f77bcf80"])
    check({"type": "string", "pattern": "a", "maxLength": 3}, ["a", "abc"], ["abcd", ""])
    check({"type": "string", "pattern": "ab$", "minLength": 3}, ["xab", "abab"], ["ab", "abx"])
    check({"type": "string", "pattern": "[0-9]*", "maxLength": 2}, ["", "ab"], ["abc"])
    refused({"type": "string", "pattern": "a[0-9]*b", "maxLength": 3}, "pattern")
    # a pattern searched in every string constrains nothing, length bounds stay
    check({"type": "string", "pattern": "([0-9a-z]+)?", "maxLength": 3}, ["", "A-b"], ["abcd"])
    # a minLength that every match reaches already bounds nothing
    check({"type": "string", "pattern": "\\.(html|htm)$", "minLength": 1}, ["a.htm", ".html"], [])


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("date", "2024-02-29", "2023-02-29"),
        ("time", "23:59:59.5+02:00", "24:00:00Z"),
        ("date-time", "2020-01-01T00:00:00Z", "2020-01-01 00:00:00"),
        ("duration", "P1Y2M3DT4H5M6S", "P1Y2D"),
        ("email", "a.b@example.com", "a@b"),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "123e4567e89b12d3a456426614174000"),
        ("uri", "https://example.com/a?b=c#d", "example.com"),
        ("ipv4", "192.168.0.1", "256.1.1.1"),
        ("ipv6", "2001:db8::1", "2001:db8:::1"),
        ("hostname", "a-b.example.org", "-ab.org"),
    ],
)
def test_formats(name: str, good: str, bad: str) -> None:
    check({"type": "string", "format": name}, [good], [bad])


def test_unknown_format_is_an_annotation_and_spec_formats_are_refused() -> None:
    assert matches({"type": "string", "format": "int64"}, '"x"')
    refused({"type": "string", "format": "uri-template"}, "format")


def test_enum_and_const_any_json_value() -> None:
    check(
        {"enum": [1, "a", None, [1, {"b": True}], {"c": []}]},
        [1, 1.0, "a", None, [1, {"b": True}], {"c": []}],
        [2, "b", [1]],
    )
    check({"const": {"x": [1, 2]}}, [{"x": [1, 2]}], [{"x": [2, 1]}])
    check({"type": "string", "enum": ["a", 1, "bb"], "maxLength": 1}, ["a"], [1, "bb"])


# --- objects ----------------------------------------------------------------------------------


def test_many_optional_members_any_subset_in_order() -> None:
    names = [f"p{i}" for i in range(7)]
    schema = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in names},
        "additionalProperties": False,
    }
    regex = re.compile(json_schema_to_regex(schema))
    for mask in range(1 << len(names)):
        present = [n for i, n in enumerate(names) if mask >> i & 1]
        text = "{" + ",".join(f'"{n}":{i}' for i, n in enumerate(present)) + "}"
        assert regex.fullmatch(text), text
    assert not regex.fullmatch('{"p1":1,"p0":0}')
    assert not regex.fullmatch('{"p0":0,"p0":0}')


@pytest.mark.parametrize("heavy", [0, 2, 4])
def test_optional_members_of_unequal_sizes_any_subset_in_order(heavy: int) -> None:
    # the selection regex copies the smaller of (selection so far, next member): both ways
    heavy_schema = {"type": "object", "properties": {"q": {"enum": ["x" * 40, "y" * 40]}}}
    names = [f"p{i}" for i in range(5)]
    schema = {
        "type": "object",
        "properties": {
            n: heavy_schema if i == heavy else {"type": "integer"} for i, n in enumerate(names)
        },
        "additionalProperties": False,
    }
    regex = re.compile(json_schema_to_regex(schema))
    values = {n: {"q": "y" * 40} if i == heavy else i for i, n in enumerate(names)}
    for mask in range(1 << len(names)):
        present = [n for i, n in enumerate(names) if mask >> i & 1]
        text = json.dumps({n: values[n] for n in present}, separators=(",", ":"))
        assert regex.fullmatch(text), text
        if len(present) > 1:
            swapped = [present[1], present[0], *present[2:]]
            text = json.dumps({n: values[n] for n in swapped}, separators=(",", ":"))
            assert not regex.fullmatch(text), text


def test_undeclared_keys_never_equal_a_declared_name() -> None:
    # ASCII names: leaving the names' trie on a non-ASCII character is factored out
    names = ["kind", "key", "k", "spec"]
    schema = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in names},
        "additionalProperties": {"type": "string"},
    }
    regex = re.compile(json_schema_to_regex(schema))
    alphabet = ["k", "i", "e", "y", "s", "é", "日", " "]
    for length in range(4):
        for key in map("".join, itertools.product(alphabet, repeat=length)):
            text = json.dumps({key: "v"}, ensure_ascii=False, separators=(",", ":"))
            assert bool(regex.fullmatch(text)) == (key not in names), text
    check(schema, [{"kind": 1, "kinds": "x", "ké": "x", "日本": "y"}], [{"kind": "x"}])
    non_ascii = {**schema, "properties": {"é": {"type": "integer"}}}
    check(non_ascii, [{"é": 1, "e": "x", "éé": "y"}], [{"é": "x"}])


def test_objects_in_schema_order_optional_present_or_absent() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
        "additionalProperties": False,
    }
    check(
        schema,
        [{}, {"a": 1}, {"b": "x"}, {"c": True}, {"a": 1, "c": False}, {"a": 1, "b": "", "c": True}],
        [{"b": "x", "a": 1}, {"d": 1}, {"a": "1"}],
    )
    assert not matches(schema, "{,}")
    assert not matches(schema, '{"a":1,}')
    with_required = {**schema, "required": ["b"]}
    check(with_required, [{"b": "x"}, {"a": 1, "b": "x", "c": True}], [{}, {"a": 1}])


def test_additional_properties() -> None:
    open_schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    check(
        open_schema,
        [{"a": 1, "b": [1, "x"]}, {"zz": None}, {"a": 1, "a2": 1, "b": 2}],
        [{"a": "x"}],
    )
    assert not matches(open_schema, '{"a":1,"a":"x"}')  # a declared name is never "additional"
    typed = {"type": "object", "additionalProperties": {"type": "integer"}}
    check(typed, [{}, {"x": 1, "y": 2}], [{"x": "1"}])
    check(
        {
            "type": "object",
            "properties": {"a": {}},
            "required": ["a"],
            "additionalProperties": False,
        },
        [{"a": [1]}],
        [{"a": 1, "b": 2}],
    )


def test_pattern_properties_and_property_names() -> None:
    check(
        {
            "type": "object",
            "patternProperties": {"^x-": {"type": "integer"}},
            "additionalProperties": False,
        },
        [{"x-a": 1}],
        [{"y": 1}, {"x-a": "1"}],
    )
    check(
        {
            "type": "object",
            "propertyNames": {"maxLength": 2},
            "additionalProperties": {"type": "integer"},
        },
        [{"ab": 1}],
        [{"abc": 1}],
    )


def test_pattern_properties_that_match_declared_names() -> None:
    # a declared member satisfies its own schema and every pattern it matches
    everything = {
        "type": "object",
        "properties": {"basic": {"type": "string", "maxLength": 3}},
        "patternProperties": {".*": {"type": "string"}},
    }
    check(
        everything,
        [{}, {"basic": "abc"}, {"x": "y"}, {"basic": "a", "basics": "long text", "": ""}],
        [{"basic": "abcd"}, {"x": 1}, {"basic": 1}],
    )
    assert not matches(everything, '{"basic":"a","basic":"b"}')
    word_keys = {
        "type": "object",
        "properties": {"referent": {"not": {}}, "type": {"type": "integer"}},
        "patternProperties": {"^([a-zA-Z0-9_])*$": {"type": "integer"}},
        "additionalProperties": False,
    }
    check(
        word_keys,
        [{}, {"type": 1}, {"a_1": 1, "": 2, "types": 3, "referen": 4}],
        [{"referent": 1}, {"type": "x"}, {"a-b": 1}, {"é": 1}, {"a_1": "x"}],
    )
    regex = re.compile(json_schema_to_regex(word_keys))
    for length in range(4):
        for key in map("".join, itertools.product(["r", "e", "-", "t", "y"], repeat=length)):
            text = json.dumps({key: 1}, separators=(",", ":"))
            assert bool(regex.fullmatch(text)) == ("-" not in key), text
    plus = {**word_keys, "patternProperties": {"^[a-z]+$": {"type": "integer"}}}
    check(plus, [{"ab": 1}], [{"": 1}, {"referent": 1}, {"A": 1}])
    refused(
        {
            "type": "object",
            "properties": {"ab": {}},
            "patternProperties": {"^a": {"type": "integer"}},
        },
        "patternProperties",
    )


def test_keys_outside_one_class_pattern_take_additional_properties() -> None:
    schema = {
        "type": "object",
        "patternProperties": {"^[a-z_]+$": {"type": "integer"}},
        "additionalProperties": {"type": "string"},
    }
    check(
        schema,
        [{"ab": 1, "Ab": "s"}, {"x-1": "s", "a_b": 2}, {"": "e"}, {"a b": "s"}],
        [{"ab": "s"}, {"Ab": 1}, {"": 1}, 'RAW:{"ab\\n":"s"}'],
    )
    # any additional value, and a declared name matching the pattern
    schema = {
        "type": "object",
        "properties": {"id": {"minimum": 0}},
        "patternProperties": {"^\\w*$": {"type": "integer"}},
    }
    check(schema, [{"id": 1, "k-1": [True]}, {"k": 1, "K.2": None}], [{"k": "s"}, {"id": -1}])
    # a declared name outside the pattern: such keys are not produced (a narrowing)
    schema = {
        "type": "object",
        "properties": {"Id": {"type": "string"}},
        "patternProperties": {"^[a-z]+$": {"type": "integer"}},
    }
    check(schema, [{"Id": "x", "k": 1}], [{"Id": 1}, {"k": "s"}])
    assert not matches(schema, '{"X":1}')


def test_several_pattern_properties_with_disjoint_literal_prefixes() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "patternProperties": {
            "^BIOS$": {"type": "integer"},
            "(^x-)": {"type": "string"},
            "^\\.": {"type": "boolean"},
        },
        "additionalProperties": False,
    }
    check(
        schema,
        [{}, {"name": "a", "BIOS": 1}, {"x-a": "s", ".z": True}, {"x-": "q", ".": False}],
        [{"BIOS": "a"}, {"BIOSX": 1}, {".z": 1}, {"y": 1}, {"x-a": 1}],
    )
    refused({"patternProperties": {"^a": {}, "^ab": {}}}, "patternProperties")
    refused({"patternProperties": {"a": {}, "^b": {}}}, "patternProperties")
    # told apart by first characters or literal endings
    schema = {
        "type": "object",
        "patternProperties": {
            "^(cdn|Cdn)$": {"type": "integer"},
            "^webOptimizer$": {"type": "string"},
            "^weboptimizer$": {"type": "boolean"},
            "\\.json$": {"type": "null"},
        },
        "additionalProperties": False,
    }
    check(
        schema,
        [{"Cdn": 1, "webOptimizer": "s", "weboptimizer": True, "a.json": None}],
        [{"cdn": "1"}, {"weboptimizer": "s"}, {"CDN": 1}, {"a.json": 1}],
    )


def test_pattern_properties_of_a_few_literal_names_some_declared() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "required": ["R"],
        "patternProperties": {"^(a|b|R)$": {"minimum": 0}, "^\\.": {"type": "string"}},
        "additionalProperties": False,
    }
    check(
        schema,
        [{"R": 1}, {"a": 2, "R": 1, "b": 3}, {"R": 1, ".x": "s"}],
        [{"a": -1, "R": 1}, {"R": -1}, {"R": 1, "b": -1}, {"R": 1, "c": 1}, {"a": 1}],
    )


def test_property_names_with_a_pattern_that_every_name_matches() -> None:
    schema = {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Z_]+$"},
        "patternProperties": {".*": {"type": ["string", "number"]}},
    }
    check(schema, [{}, {"A_B": "x", "C": 1}], [{"a": "x"}, {"A": True}, {"": 1}])
    refused({"propertyNames": {"maxLength": 2}, "patternProperties": {"^a": {}}}, "propertyNames")


def test_pattern_properties_conjoined_with_additional_properties() -> None:
    # a name matching one side's pattern also meets the other side's additionalProperties
    schema = {
        "allOf": [
            {"type": "object", "patternProperties": {"^x": {"type": "integer"}}},
            {"additionalProperties": {"minimum": 5}},
        ]
    }
    check(schema, [{}, {"x1": 7}], [{"x1": 3}, {"x1": "a"}])
    refused(
        {
            "allOf": [
                {"patternProperties": {"^x": {}}, "additionalProperties": False},
                {"patternProperties": {"^y": {}}},
            ]
        },
        "patternProperties",
    )


def test_min_max_properties() -> None:
    check(
        {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 2},
        [{}, {"a": 1, "b": 2}],
        [{"a": 1, "b": 2, "c": 3}],
    )
    # minProperties 1 with no required member: at least one optional or additional member
    one = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {}}, "minProperties": 1}
    check(one, [{"a": 1}, {"b": None}, {"a": 1, "b": 2}, {"zz": 0}, {"a": 1, "zz": 0}], [{}])
    closed = {**one, "additionalProperties": False}
    check(closed, [{"a": 1}, {"b": [1]}], [{}, {"zz": 0}])
    assert matches({**closed, "required": ["a"]}, '{"a":1}')
    never = {"type": "object", "properties": {"a": False}, "additionalProperties": False}
    refused({**never, "minProperties": 1}, None)
    refused({"type": "object", "properties": {"a": {}}, "minProperties": 2}, "minProperties")


# --- arrays -----------------------------------------------------------------------------------


def test_arrays() -> None:
    check(
        {"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3},
        [[1], [1, 2, 3]],
        [[], [1, 2, 3, 4], ["a"]],
    )
    check(
        {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "items": False},
        [[], [1], [1, "a"]],
        [[1, "a", 2], ["a"]],
    )
    check(
        {"type": "array", "items": [{"type": "integer"}], "additionalItems": {"type": "string"}},
        [[1, "a", "b"]],
        [[1, 2]],
    )
    check({"type": "array", "prefixItems": [{"const": 1}], "minItems": 2}, [[1, 2]], [[1]])


def test_unique_items() -> None:
    check(
        {"type": "array", "items": {"enum": ["a", "b", "c"]}, "uniqueItems": True},
        [[], ["a"], ["c", "a"], ["b", "c", "a"]],
        [["a", "a"]],
    )
    refused({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "uniqueItems")


# --- combinators and references ---------------------------------------------------------------


def test_all_of_is_merged_never_concatenated() -> None:
    schema = {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 5}]}
    check(schema, [0, 5], [6, -1, "RAW:05"])
    objects = {
        "allOf": [
            {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
            {"properties": {"b": {"type": "string"}}},
        ],
        "additionalProperties": False,
    }
    check(objects, [], [{"a": 1}])  # additionalProperties: false forbids a and b
    check(
        {
            "allOf": [
                {"properties": {"a": {"type": "integer"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]},
            ]
        },
        [{"a": 1, "b": "x"}],
        [{"a": 1}, {"b": "x"}],
    )


def test_any_of_one_of_not_if() -> None:
    check({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]}, [1, "a"], ["ab"])
    check({"oneOf": [{"type": "integer"}, {"type": "string"}]}, [1, "a"], [None])
    check(
        {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]},
        [-1, 11],
        [0, 5, 10],
    )
    check(
        {
            "type": "object",
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "additionalProperties": False,
        },
        [{"a": 1}, {"b": 2}],
        [{"a": 1, "b": 2}, {}],
    )
    check({"type": "integer", "not": {"enum": [1, 2]}}, [0, 3, -5], [1, 2])
    check({"type": "string", "not": {"const": "x"}}, ["y", "xx", ""], ["x"])
    # the complement of a pattern that repeats one class over the whole string; others refused
    check({"type": "string", "not": {"pattern": "^[a-z]{2,3}$"}}, ["a", "abcd", "a1", ""], ["ab"])
    refused({"not": {"pattern": "^ab+$"}}, "pattern", "/not")
    check({"type": "string", "not": {"pattern": "^[^a-c]+$"}}, ["", "xa", "b"], ["xy", "x"])
    check(
        {
            "if": {"properties": {"k": {"const": "n"}}},
            "then": {"properties": {"v": {"type": "integer"}}},
            "else": {"properties": {"v": {"type": "string"}}},
            "type": "object",
            "properties": {"k": {"type": "string"}, "v": True},
            "required": ["k", "v"],
            "additionalProperties": False,
        },
        [{"k": "n", "v": 1}, {"k": "s", "v": "x"}],
        [{"k": "n", "v": "x"}, {"k": "s", "v": 1}],
    )
    error = refused(
        {"oneOf": [{"type": "string", "pattern": "a"}, {"type": "string", "pattern": "b"}]},
        "oneOf",
        "",
    )
    assert "both match" in error.reason


def test_refs_and_recursion() -> None:
    schema = {
        "$defs": {"pos": {"type": "integer", "minimum": 1}},
        "type": "array",
        "items": {"$ref": "#/$defs/pos"},
    }
    check(schema, [[1, 2]], [[0]])
    tree = {
        "type": "object",
        "properties": {"kids": {"type": "array", "items": {"$ref": "#"}}},
        "required": ["kids"],
        "additionalProperties": False,
    }
    regex = re.compile(json_schema_to_regex(tree, max_depth=2))
    assert regex.fullmatch('{"kids":[{"kids":[]}]}')
    assert regex.fullmatch('{"kids":[{"kids":[{"kids":[]}]}]}')
    assert not regex.fullmatch('{"kids":[{"kids":[{"kids":[{"kids":[{"kids":[]}]}]}]}]}')
    endless = {"type": "object", "properties": {"next": {"$ref": "#"}}, "required": ["next"]}
    error = refused(endless, "$ref")
    assert "recursive" in error.reason
    refused({"$ref": "http://example.com/s.json"}, "$ref", "")
    refused({"$ref": "#/$defs/missing"}, "$ref")


@pytest.mark.parametrize(
    "schema",
    [
        {"not": {"minimum": 5}},
        {"not": {"maxItems": 1}},
        {"not": {"minLength": 2}},
        {"not": {"required": ["a"]}},
        {"not": {"properties": {"a": {"type": "string"}}}},
        {"if": {"minLength": 3}, "then": {"type": "string"}, "else": {"type": "integer"}},
        {"oneOf": [{"minimum": 3}, {"type": "string"}]},
        {"not": {"type": "string", "maxLength": 1}},
        {"not": {"pattern": "^[a-c]+$"}},
        {"not": {"pattern": "^[x-z]{2,3}$"}},
        {"type": "string", "not": {"pattern": "^[\\s.,*\\-]*$"}},
    ],
)
def test_negated_keywords_hold_for_values_of_other_types(schema: dict[str, Any]) -> None:
    # a keyword of one type holds for every value of the other types: its negation never does
    regex = re.compile(json_schema_to_regex(schema, max_depth=1))
    validator = jsonschema.Draft202012Validator(schema)
    texts = ["null", "true", "5", "2", "1.5", '"x"', '"abcd"', "[]", "[1]", "[1,2]", "{}"]
    texts += ['{"a":1}', '{"a":"s"}', '""', '"a"', '"ab"', '"bca"', '"xy"', '" .-"', '"a b"']
    texts += ['"ab\\n"', '"xyzw"']
    for text in texts:
        assert bool(regex.fullmatch(text)) == validator.is_valid(json.loads(text)), text


@pytest.mark.parametrize(
    "schema",
    [
        # "events" an array of names, or one name: objects without "events" match both
        {
            "type": "object",
            "oneOf": [
                {"properties": {"events": {"type": "array", "items": {"enum": ["a", "b"]}}}},
                {"properties": {"events": {"enum": ["a", "b"]}}},
            ],
        },
        # objects told apart by a required member; other values match every branch
        {
            "oneOf": [
                {
                    "properties": {"kind": {"enum": ["x"]}, "v": {"type": "integer"}},
                    "required": ["kind"],
                    "additionalProperties": False,
                },
                {
                    "properties": {"kind": {"enum": ["y"]}, "w": {"type": "string"}},
                    "required": ["kind"],
                    "additionalProperties": False,
                },
            ]
        },
    ],
)
def test_one_of_negation_may_leave_out_what_lies_outside_the_branch(
    schema: dict[str, Any],
) -> None:
    regex = re.compile(json_schema_to_regex(schema, max_depth=1))
    validator = jsonschema.Draft202012Validator(schema)
    texts = ["5", '"a"', "{}", '{"events":["a"]}', '{"events":"a"}', '{"events":["c"]}']
    texts += ['{"events":"c"}', '{"events":5}', '{"kind":"x"}', '{"kind":"x","v":1}']
    texts += ['{"kind":"y","w":"s"}', '{"kind":"y","v":1}', '{"kind":"z"}', "[]"]
    for text in texts:
        assert bool(regex.fullmatch(text)) == validator.is_valid(json.loads(text)), text


@pytest.mark.parametrize(
    "schema",
    [
        {"oneOf": [{"pattern": "\\.js$"}, {"pattern": "\\.(html|htm)$"}]},
        {"type": "string", "oneOf": [{"pattern": "^[^:]+$"}, {"pattern": "^[^:]+:[^:]+:[0-9]+$"}]},
        {
            "oneOf": [
                {"pattern": "^[a-z0-9_-]{0,4}$"},
                {"type": "string", "pattern": "\\{\\{.*\\}\\}"},
            ]
        },
        {"type": "string", "oneOf": [{"pattern": "^[0-9]"}, {"pattern": "^\\$[A-Z]+"}]},
        # an enum whose values no pattern of the other branch matches, or that it excludes
        {"oneOf": [{"type": "string", "pattern": "\\{\\{.*\\}\\}"}, {"enum": ["ab", "$1"]}]},
        {"oneOf": [{"enum": ["ab", "a:b"]}, {"type": "string", "not": {"enum": ["ab", "a:b"]}}]},
    ],
)
def test_one_of_string_patterns_told_apart(schema: dict[str, Any]) -> None:
    regex = re.compile(json_schema_to_regex(schema, max_depth=1))
    validator = jsonschema.Draft202012Validator(schema)
    texts = ['"a.js"', '"a.htm"', '"a.html"', '"a.txt"', '"ab"', '"a:b:1"', '"a:b"', '"{{x}}"']
    texts += ['"a{{x}}"', '"1x"', '"$AB"', '"$1"', "5", "[]", "null", '"a\\n"', '""']
    for text in texts:
        valid = validator.is_valid(json.loads(text))
        # a final newline that Python's $ lets follow a match is not produced (a narrowing)
        assert bool(regex.fullmatch(text)) == valid or (valid and "\\n" in text), text


def test_contents_disjoint() -> None:
    assert contents_disjoint("\\.js$", "\\.css$")
    assert contents_disjoint("^[^:]+$", "^[^:]+:[0-9]+$")
    assert contents_disjoint("^a", "^[b-z]")
    assert contents_disjoint("^[a-z]*$", "\\{")
    # unsure, or overlapping: never claimed disjoint
    for left, right in [
        ("\\.js$", "s$"),
        ("^a", "^a?b"),
        ("^a", "b"),
        ("^\\d+$", "x"),  # \d is Unicode in Python's re: not judged
        ("^[a-z]*$", "^x"),
        ("ab$", "b\n$"),
        ("^a|^b", "^b"),
        ("(?=a)", "^b"),
    ]:
        assert not contents_disjoint(left, right), (left, right)


def test_one_of_negation_that_would_lose_values_is_refused() -> None:
    error = refused({"oneOf": [{"pattern": "^a"}, {"type": "string", "maxLength": 3}]}, "oneOf")
    assert "negation of 'pattern'" in error.reason


def test_ref_overrides_its_siblings_in_drafts_3_to_7() -> None:
    base = {"type": "object", "properties": {"x": {"type": "integer"}}}
    sibling = {"$ref": "#/definitions/base", "properties": {"y": {"type": "string"}}}
    schema = {"definitions": {"base": base}, "properties": {"p": sibling}, "required": ["p"]}
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    # drafts 3-7: "properties" beside "$ref" is ignored, "y" is any additional member
    check(draft7, [{"p": {"x": 1, "y": 2}}, {"p": {"x": 1}}], [{"p": {"x": "1"}}, {"p": 1}])
    # 2019-09 and later (and no $schema): the siblings apply too
    check(schema, [{"p": {"y": "2", "x": 1}}], [{"p": {"y": 2, "x": 1}}])
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", **schema}
    check({**draft4, "properties": {"p": {"not": sibling}}}, [{"p": {"x": "1"}}], [{"p": {}}])
    for text in (json_schema_to_regex(draft7), json_schema_to_regex(draft4)):
        for value in ({"p": {"x": 1, "y": 2}}, {"p": {"y": [True]}}):
            jsonschema.Draft7Validator(draft7).validate(value)
            assert re.fullmatch(text, json.dumps(value, separators=(",", ":")))


def test_any_number_spellings() -> None:
    valid = ["0", "-0", "12", "1" * 40, "0.5", "-1.25e-7", "1E+199", "9" * 20 + ".5", "3e-999"]
    invalid = ["01", "1.", ".5", "1e", "1e200", "9" * 21 + ".5", "9" * 21 + "e1", "+1", "1e+-1"]
    for text in valid:
        assert matches({"type": "number"}, text), text
    for text in invalid:
        assert not matches({"type": "number"}, text), text


def test_a_subschema_used_again_inside_itself_without_a_cycle_is_no_recursion() -> None:
    config = {"type": "object", "properties": {"a": {"type": "integer"}}}
    schema = {
        "definitions": {"config": config},
        "allOf": [
            {"$ref": "#/definitions/config"},
            {"properties": {"inner": {"$ref": "#/definitions/config"}}},
        ],
    }
    regex = json_schema_to_regex(schema, max_depth=0)
    assert re.fullmatch(regex, '{"a":1,"inner":{"a":2}}')
    assert not re.fullmatch(regex, '{"a":1,"inner":{"a":"2"}}')
    # a cycle is still unrolled max_depth levels
    tree = {"type": "object", "properties": {"kid": {"$ref": "#"}}, "additionalProperties": False}
    regex = json_schema_to_regex(tree, max_depth=1)
    assert re.fullmatch(regex, '{"kid":{"kid":{}}}')
    assert not re.fullmatch(regex, '{"kid":{"kid":{"kid":{}}}}')


def test_free_form_values_unrolled_as_deep_as_the_size_allows() -> None:
    # small schema: "any value" nested DEFAULT_MAX_DEPTH (3) levels, not deeper
    assert DEFAULT_MAX_DEPTH == 3
    check({"type": "object"}, [{"a": {"b": [{"c": 1}]}}, {"a": [[1], []]}], [])
    assert not matches({"type": "object"}, '{"a":{"b":[{"c":[1]}]}}')
    assert not matches({"type": "object"}, '{"a":{"b":[{"c":1}]}}', max_depth=1)
    # a large one is unrolled fewer levels, down to scalars, instead of being refused
    many = {"type": "object", "properties": {f"p{i}": {} for i in range(40)}}
    regex = json_schema_to_regex(many)
    assert regex_size(regex) <= PREFERRED_REGEX_SIZE
    assert re.fullmatch(regex, '{"p0":[1],"p39":"x"}')


def test_regex_size_counts_unrolled_repeats() -> None:
    assert regex_size("abcd") == 2
    assert regex_size("[0-9]{0,7}") == 5 + 2 * 7
    assert regex_size("(?:ab){3}") == 4 + 30 * 3
    assert regex_size("(?:ab){2,}") == 5 + 30 * 3
    # long repeats are one copy in the automaton: long strings are cheap
    assert regex_size("[0-9]{0,19}") == 5
    long_strings = {"properties": {f"p{i}": {"maxLength": 9999} for i in range(40)}}
    assert re.fullmatch(json_schema_to_regex(long_strings), '{"p3":"' + "é" * 9999 + '"}')
    with pytest.raises(SchemaError) as info:
        json_schema_to_regex({"enum": [f"{i:04}" + "x" * 1000 for i in range(2400)]})
    assert "automaton states" in info.value.reason


def test_errors_carry_pointer_and_keyword() -> None:
    error = refused(
        {
            "type": "object",
            "properties": {"a/b": {"type": "array", "contains": {"type": "integer"}}},
        },
        "contains",
        "/properties/a~1b",
    )
    assert "(at /properties/a~1b/contains)" in str(error)
    assert isinstance(error, ValueError)
    refused({"type": "array", "maxContains": 1}, "maxContains")
    with pytest.raises(SchemaError, match="no JSON value"):
        json_schema_to_regex({"type": "integer", "minimum": 5, "maximum": 1})


def test_annotations_ignored() -> None:
    assert json_schema_to_regex(
        {
            "type": "integer",
            "title": "t",
            "description": "d",
            "default": 3,
            "examples": [1],
            "$comment": "c",
        }
    ) == json_schema_to_regex({"type": "integer"})


# --- whitespace -------------------------------------------------------------------------------


def test_whitespace_policy() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"type": "integer"}}},
        "required": ["a"],
        "additionalProperties": False,
    }
    assert matches(schema, '{"a":[1,2]}')
    assert not matches(schema, '{ "a": [1, 2] }')
    pretty = json.dumps({"a": [1, 2]}, indent=2)
    assert matches(schema, pretty, whitespace=Whitespace.flexible(8))
    assert not matches(schema, '{"a":[1,' + " " * 20 + "2]}", whitespace=Whitespace.flexible(8))
    assert Whitespace() == Whitespace.compact()
    with pytest.raises(ValueError):
        Whitespace(-1)


# --- soundness with Hypothesis ----------------------------------------------------------------

SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 5},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "email": {"type": "string", "format": "email"},
        },
        "required": ["name"],
        "additionalProperties": False,
    },
    {
        "type": "array",
        "items": {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": -2.5, "maximum": 3.75},
                {"type": "null"},
            ]
        },
        "maxItems": 4,
    },
    {"type": "object", "properties": {"k": {"enum": ["a", "b"]}}, "required": ["k"]},
    {"type": "string", "pattern": "^[A-Z][a-z]{1,3}( [A-Z][a-z]*)?$"},
    {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "span": {"type": "string", "format": "duration"},
            "ip": {"type": "string", "format": "ipv6"},
        },
        "additionalProperties": False,
    },
    {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "integer", "maximum": 10}]},
    {"type": "object", "not": {"required": ["x"]}, "additionalProperties": {"type": "boolean"}},
    {
        "type": "object",
        "patternProperties": {"^[a-z_]+$": {"type": "integer"}},
        "additionalProperties": {"type": "string"},
    },
    {"anyOf": [{"not": {"minimum": 2}}, {"if": {"maxLength": 1}, "then": {"type": "string"}}]},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=[str(i) for i in range(len(SCHEMAS))])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_drawn_instances_validate(schema: dict[str, Any], data: st.DataObject) -> None:
    # "any value" unrolled one level (deeper levels repeat the same construction, and
    # Hypothesis draws from a regex four times longer per level much more slowly)
    text = data.draw(st.from_regex(json_schema_to_regex(schema, max_depth=1), fullmatch=True))
    value = json.loads(text)
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(value)
