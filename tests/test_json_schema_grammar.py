"""json_schema_to_grammar: recursive schemas with no depth cut, shared rules, the same keywords
as the regex path.

The oracle is lark's Earley parser (``lexer="dynamic_complete"``) on the grammar written with
``terminals="characters"``; soundness is checked with Hypothesis, on texts drawn from the
grammar (regex terminals), with ``jsonschema``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import lark
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import typedgen
from typedgen import (
    SchemaError,
    Vocabulary,
    Whitespace,
    json_schema_to_grammar,
    json_schema_to_regex,
)
from typedgen.testing import accepts_string

SUITE = Path(__file__).parent / "data" / "json-schema-test-suite"


class Node(BaseModel):
    name: str
    children: list[Node]


NODE = typedgen.schema_of(Node)
TREE = {
    "$defs": {
        "tree": {
            "type": "object",
            "properties": {
                "value": {"type": "integer", "minimum": 0, "maximum": 100},
                "kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}, "maxItems": 3},
            },
            "required": ["value"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/tree",
}
LINKED = {
    "type": "object",
    "properties": {"head": {"type": "string", "pattern": "^[a-z/]+$"}, "tail": {"$ref": "#"}},
    "required": ["head"],
    "additionalProperties": False,
}
EXPRESSION = {
    "$defs": {
        "expr": {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "enum": ["x", "y"]},
                {
                    "type": "array",
                    "prefixItems": [{"enum": ["+", "*", "-"]}],
                    "items": {"$ref": "#/$defs/expr"},
                    "minItems": 3,
                },
            ]
        }
    },
    "$ref": "#/$defs/expr",
}


def _dumps(value: Any, **options: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, **options)


COMPACT = Whitespace()


@cache
def _parser(schema_text: str, whitespace: Whitespace = COMPACT) -> lark.Lark:
    grammar = json_schema_to_grammar(schema_text, whitespace=whitespace, terminals="characters")
    return lark.Lark(grammar, parser="earley", lexer="dynamic_complete")


def accepts(schema: Any, text: str, whitespace: Whitespace = COMPACT) -> bool:
    try:
        _parser(json.dumps(schema), whitespace).parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"name": "leaf", "children": []}
    for level in range(depth):
        node = {"name": f"n{level}", "children": [node, {"name": "x", "children": []}]}
    return node


def test_recursive_model_has_no_depth_cut() -> None:
    deep = _dumps(_nested(8))
    assert accepts(NODE, deep)
    assert accepts(NODE, '{"name":"a","children":[]}')
    assert not accepts(NODE, '{"name":"a"}')
    assert not accepts(NODE, '{"name":"a","children":[{"name":"b"}]}')
    assert not accepts(NODE, '{"name":"a","children":[],"extra":1}')
    # the regex path cuts the recursion at max_depth
    assert re.fullmatch(json_schema_to_regex(NODE), deep) is None


def test_recursive_schemas() -> None:
    assert accepts(TREE, '{"value":1,"kids":[{"value":2,"kids":[{"value":3}]},{"value":100}]}')
    assert not accepts(TREE, '{"value":101}')
    assert not accepts(TREE, '{"value":1,"kids":[{"value":1},{"value":1},{"value":1},{"value":1}]}')
    assert accepts(LINKED, '{"head":"a/b","tail":{"head":"c","tail":{"head":"d"}}}')
    assert not accepts(LINKED, '{"head":"A"}')
    assert accepts(EXPRESSION, '["+",1,["*","x",2.5],["-","y",3]]')
    assert not accepts(EXPRESSION, '["+",1]')
    assert not accepts(EXPRESSION, '["/",1,2]')


def test_any_value_nests_without_bound() -> None:
    deep = "[" * 12 + '{"a":null}' + "]" * 12
    assert accepts({}, deep)
    assert accepts(
        {"type": "object", "properties": {"a": {"type": "integer"}}}, '{"b":' + deep + "}"
    )
    assert not accepts({"type": "object", "properties": {"a": {"type": "integer"}}}, '{"a":[]}')
    assert not accepts({}, "[1,]")


def test_shared_ref_is_one_rule() -> None:
    item = {
        "type": "object",
        "properties": {f"field{i}": {"type": "string", "maxLength": 20} for i in range(12)},
        "additionalProperties": False,
    }
    schema = {
        "$defs": {"item": item},
        "type": "object",
        "properties": {f"p{i}": {"$ref": "#/$defs/item"} for i in range(20)},
        "additionalProperties": False,
    }
    grammar = json_schema_to_grammar(schema)
    single = len(json_schema_to_regex(item))
    assert len(grammar) < 3 * single  # written once, referenced 20 times
    assert len(json_schema_to_regex(schema)) > 20 * single
    assert accepts(schema, _dumps({"p3": {"field1": "x"}, "p19": {}}))
    assert not accepts(schema, _dumps({"p3": {"field1": "x" * 21}}))


def test_whitespace_policy() -> None:
    text = '{ "name": "a",\n "children": [ {"name":"b" , "children":[]} ] }'
    assert accepts(NODE, text, Whitespace.flexible(2))
    assert not accepts(NODE, text)
    assert not accepts(NODE, '{   "name":"a","children":[]}', Whitespace.flexible(2))


def test_unproductive_recursion() -> None:
    endless = {
        "$defs": {
            "a": {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/a"}},
                "required": ["a"],
            }
        },
        "$ref": "#/$defs/a",
    }
    with pytest.raises(SchemaError, match="no finite JSON value"):
        json_schema_to_grammar(endless)
    # an alternative that recurses without end is left out, the others stay
    either = {"anyOf": [endless, {"type": "string", "maxLength": 2}], "$defs": endless["$defs"]}
    grammar = json_schema_to_grammar(either)
    assert "r0" not in grammar
    assert accepts(either, '"ab"')
    assert not accepts(either, '{"a":{}}')


def test_refusals_keep_their_pointer() -> None:
    cycle = {
        "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}},
        "$ref": "#/$defs/a",
    }
    with pytest.raises(SchemaError) as error:
        json_schema_to_grammar(cycle)
    assert error.value.keyword == "$ref"
    with pytest.raises(SchemaError) as error:
        json_schema_to_grammar({"type": "array", "contains": {"$ref": "#"}})
    assert error.value.keyword == "contains"
    with pytest.raises(ValueError, match="terminals"):
        json_schema_to_grammar({}, terminals="bytes")  # type: ignore[arg-type]


def test_no_terminal_matches_the_empty_text() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "array", "items": {"$ref": "#"}}, "b": {"type": "string"}},
    }
    for terminals in ("regex", "characters"):
        grammar = json_schema_to_grammar(
            schema, whitespace=Whitespace.flexible(3), terminals=terminals
        )
        parser = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
        for terminal in parser.terminals:
            assert re.fullmatch(terminal.pattern.to_regexp(), "") is None, terminal


SUITE_FILES = [
    "ref.json",
    "anchor.json",
    "items.json",
    "prefixItems.json",
    "properties.json",
    "additionalProperties.json",
    "allOf.json",
    "anyOf.json",
    "oneOf.json",
    "not.json",
    "if-then-else.json",
    "enum.json",
    "required.json",
    "infinite-loop-detection.json",
]


@pytest.mark.parametrize("name", SUITE_FILES)
def test_same_verdicts_as_the_regex_path(name: str) -> None:
    """On the JSON-Schema-Test-Suite: the grammar accepts what the regex matches (and, its
    instances being shallow, nothing else), and every instance it accepts is valid."""
    compared = 0
    for group in json.loads((SUITE / name).read_text(encoding="utf-8")):
        try:
            regex = re.compile(json_schema_to_regex(group["schema"]))
        except SchemaError:
            continue
        for test in group["tests"]:
            text = _dumps(test["data"])
            grammar_says = accepts(group["schema"], text)
            assert grammar_says == bool(regex.fullmatch(text)), (group["description"], text)
            assert not grammar_says or test["valid"], (group["description"], text)
            compared += 1
    assert compared > 0


@cache
def _bnf(grammar: str) -> tuple[dict[str, list[list[str]]], dict[str, str], dict[str, int]]:
    """The rules (BNF alternatives), terminal regexes and least derivation heights."""
    parser = lark.Lark(grammar, parser="earley", lexer="dynamic_complete")
    rules: dict[str, list[list[str]]] = defaultdict(list)
    for rule in parser.rules:
        rules[rule.origin.name].append([symbol.name for symbol in rule.expansion])
    terminals = {t.name: t.pattern.to_regexp() for t in parser.terminals}
    height = dict.fromkeys(terminals, 0)
    changed = True
    while changed:
        changed = False
        for name, options in rules.items():
            for option in options:
                if all(s in height for s in option):
                    h = 1 + max((height[s] for s in option), default=0)
                    if h < height.get(name, 1 << 30):
                        height[name] = h
                        changed = True
    return rules, terminals, height


def _draw(data: st.DataObject, grammar: str, symbol: str = "start", depth: int = 0) -> str:
    rules, terminals, height = _bnf(grammar)
    if symbol in terminals:
        return data.draw(st.from_regex(terminals[symbol], fullmatch=True))
    options = rules[symbol]
    if depth > 24:  # end soon: the alternative that ends soonest
        options = [min(options, key=lambda o: max((height[s] for s in o), default=0))]
    option = data.draw(st.sampled_from(options))
    return "".join(_draw(data, grammar, s, depth + 1) for s in option)


@pytest.mark.parametrize("schema", [NODE, TREE, LINKED, EXPRESSION, {"type": "array"}])
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_drawn_texts_validate(schema: dict[str, Any], data: st.DataObject) -> None:
    text = _draw(data, json_schema_to_grammar(schema, whitespace=Whitespace.flexible(1)))
    jsonschema.Draft202012Validator(schema).validate(json.loads(text))


@pytest.mark.parametrize("schema", [NODE, TREE, EXPRESSION, {}])
def test_the_grammar_engine_takes_the_grammar(schema: dict[str, Any]) -> None:
    """The default (regex terminals) grammar through ``compile_grammar`` agrees with lark."""
    guide = typedgen.compile_grammar(json_schema_to_grammar(schema), Vocabulary.of_bytes())
    texts = [
        _dumps(_nested(5)),
        '{"name":"a"}',
        '{"value":1,"kids":[{"value":2,"kids":[{"value":3}]}]}',
        '{"value":101}',
        '["+",1,["*","x",2.5]]',
        '["+",1]',
        "[" * 10 + "]" * 10,
        "[1,]",
    ]
    for text in texts:
        assert accepts_string(guide, text) == accepts(schema, text), text


@cache
def _routed_guide(schema_text: str) -> typedgen.Guide:
    """compile_json_schema's guide of a recursive schema (the grammar path), over bytes."""
    return typedgen.compile_json_schema(schema_text, Vocabulary.of_bytes())


@pytest.mark.parametrize("schema", [NODE, TREE, LINKED, EXPRESSION])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_walks_of_the_routed_guide_validate(
    schema: dict[str, Any], data: st.DataObject
) -> None:
    from typedgen.testing import accepted_bytes

    guide = _routed_guide(json.dumps(schema))
    text = data.draw(accepted_bytes(guide, free_steps=80))
    jsonschema.Draft202012Validator(schema).validate(json.loads(text))
