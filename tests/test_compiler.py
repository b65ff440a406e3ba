"""compile_regex / compile_json_schema (its choice of the regex or the grammar path) and the
Compiler's cache, bounded by bytes."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from typedgen import (
    GrammarLimitError,
    RegexError,
    SchemaError,
    StateLimitError,
    UsageError,
    Vocabulary,
    Whitespace,
    compile_json_schema,
    compile_regex,
    json_schema_to_grammar,
    json_schema_to_regex,
    schema_of,
)
from typedgen._compiler import Compiler, json_schema_path
from typedgen._schema.values import exact_regex, ref_cycle
from typedgen.testing import accepts_string


class Node(BaseModel):
    value: int
    children: list[Node]


NODE = schema_of(Node)
DEEP_NODE = '{"value":1,"children":[' * 8 + '{"value":-2,"children":[]}' + "]}" * 8


@cache
def byte_vocabulary() -> Vocabulary:
    """Every single byte, plus a few words; id 256 is EOS."""
    words = [b'{"', b'":', b"true", b"false", b"null", b"name"]
    return Vocabulary([bytes([b]) for b in range(256)] + [None, *words], eos_token_ids=[256])


def test_compile_regex() -> None:
    guide = compile_regex("(yes|no)!", byte_vocabulary())
    assert accepts_string(guide, "yes!")
    assert not accepts_string(guide, "yes")
    assert guide.vocab_size == 263


def test_compile_regex_errors() -> None:
    with pytest.raises(RegexError, match="lookahead"):
        compile_regex("a(?=b)", byte_vocabulary())
    with pytest.raises(StateLimitError):
        compile_regex("(?:ab|cd)" * 300, byte_vocabulary(), max_nodes=1000)


def test_compile_json_schema() -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 5}, "ok": {"type": "boolean"}},
        "required": ["name", "ok"],
        "additionalProperties": False,
    }
    guide = compile_json_schema(schema, byte_vocabulary())
    assert accepts_string(guide, '{"name":"abc","ok":true}')
    assert not accepts_string(guide, '{"name":"abcdef","ok":true}')
    assert not accepts_string(guide, '{ "name":"abc","ok":true}')
    spaced = compile_json_schema(json.dumps(schema), byte_vocabulary(), whitespace=Whitespace(2))
    assert accepts_string(spaced, '{ "name": "abc",\n"ok": true }')
    with pytest.raises(SchemaError):
        compile_json_schema({"type": "nonsense"}, byte_vocabulary())


def test_compiler_caches_guides_by_key() -> None:
    compiler = Compiler(byte_vocabulary())
    a = compiler.regex("a+")
    assert compiler.regex("a+") is a
    b = compiler.json_schema({"type": "integer"})
    assert compiler.json_schema('{"type": "integer"}') is b  # the JSON text of the dict
    assert compiler.json_schema({"type": "integer"}) is b
    spaced = compiler.json_schema({"type": "integer"}, whitespace=Whitespace(1))
    assert spaced is not b
    g = compiler.grammar('start: "x"+')
    assert compiler.grammar('start: "x"+') is g
    lark = compiler.grammar('start: "x"+', syntax="lark")
    assert lark is not g
    info = compiler.cache_info()
    assert (info.guides, info.hits, info.misses) == (5, 4, 5)
    assert info.bytes == sum(guide.memory for guide in (a, b, spaced, g, lark))
    compiler.clear()
    assert compiler.cache_info()[:2] == (0, 0)
    assert compiler.regex("a+") is not a


def test_the_cache_is_bounded_by_bytes_least_recently_used_first() -> None:
    patterns = [f"{c}[a-z]{{1,8}}@[a-z]{{1,8}}\\.com" for c in "abcdef"]
    bound = 3 * compile_regex(patterns[0], byte_vocabulary()).memory + 100  # about three
    compiler = Compiler(byte_vocabulary(), max_bytes=bound)
    first = compiler.regex(patterns[0])
    for pattern in patterns[1:]:
        compiler.regex(pattern)
        assert compiler.regex(patterns[0]) is first  # in use: never the least recently used
        info = compiler.cache_info()
        assert info.bytes <= bound and info.max_bytes == bound
    info = compiler.cache_info()
    assert 2 <= info.guides < len(patterns)
    compiler.regex(patterns[1])  # the least recently used: evicted, so compiled again
    assert compiler.cache_info().misses == info.misses + 1
    compiler.regex(patterns[-1])  # the most recently added: kept
    assert compiler.cache_info().misses == info.misses + 1


def test_masks_computed_later_count_at_the_next_addition() -> None:
    compiler = Compiler(byte_vocabulary())
    guide = compiler.regex("[a-z]{1,8}@[a-z]{1,8}")
    before = compiler.cache_info().bytes
    assert before == guide.memory
    state = guide.initial_state
    out = np.zeros((1, guide.bitmask_width), dtype=np.int32)
    for byte in b"abc@de":
        guide.fill_bitmask(state, out)
        state = guide.advance(state, byte)
    other = compiler.regex("x")
    assert compiler.cache_info().bytes == guide.memory + other.memory > before + other.memory


def test_a_guide_larger_than_the_bound_is_returned_but_not_kept() -> None:
    compiler = Compiler(byte_vocabulary(), max_bytes=64)
    guide = compiler.regex("[a-z]{1,8}@[a-z]{1,8}")
    assert guide.memory > 64
    assert compiler.cache_info()[:2] == (0, 0)
    assert compiler.regex("[a-z]{1,8}@[a-z]{1,8}") is not guide


def test_property_order_is_part_of_the_cache_key() -> None:
    compiler = Compiler(byte_vocabulary())
    properties = {"a": {"type": "boolean"}, "b": {"type": "boolean"}}
    ab = {"type": "object", "properties": properties, "required": ["a", "b"]}
    ba = {**ab, "properties": dict(reversed(properties.items()))}
    assert accepts_string(compiler.json_schema(ab), '{"a":true,"b":false}')
    assert accepts_string(compiler.json_schema(ba), '{"b":false,"a":true}')
    assert not accepts_string(compiler.json_schema(ba), '{"a":true,"b":false}')


def test_a_compiler_without_cache() -> None:
    compiler = Compiler(byte_vocabulary(), max_bytes=0)
    assert compiler.regex("a") is not compiler.regex("a")
    assert compiler.cache_info().misses == 2
    with pytest.raises(UsageError, match="max_bytes"):
        Compiler(byte_vocabulary(), max_bytes=-1)


def test_recursive_schemas_compile_to_a_grammar_without_depth_cut() -> None:
    assert json_schema_path(NODE) == ("grammar", json_schema_to_grammar(NODE))
    assert re.fullmatch(json_schema_to_regex(NODE), DEEP_NODE) is None  # the regex cuts it
    guide = compile_json_schema(NODE, byte_vocabulary())
    assert accepts_string(guide, DEEP_NODE)
    assert not accepts_string(guide, '{"value":1}')
    assert not accepts_string(guide, '{"value":1,"children":[{"value":2}]}')
    spaced = Compiler(byte_vocabulary()).json_schema(NODE, whitespace=Whitespace(1))
    assert accepts_string(spaced, '{ "value": 1, "children": [ {"value":2,"children":[]} ] }')
    assert not accepts_string(spaced, '{  "value":1,"children":[]}')


def test_schemas_with_an_exact_regex_stay_on_the_regex_path() -> None:
    closed = {"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}
    closed["additionalProperties"] = False
    for schema in ({"type": "integer"}, {"$ref": "#/$defs/a"}, closed):
        schema.setdefault("$defs", {"a": {"type": "array", "items": {"$ref": "#/$defs/b"}}})
        schema["$defs"]["b"] = {"type": "string"}
        assert json_schema_path(schema) == ("regex", json_schema_to_regex(schema))
        assert exact_regex(schema) == json_schema_to_regex(schema)
    # a recursive definition that the schema never reaches is no recursion of the schema
    unused = {"$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}, "type": "integer"}
    assert ref_cycle(unused) is None and json_schema_path(unused)[0] == "regex"
    assert ref_cycle({"properties": {"next": {"$ref": "#"}}}) == ""
    assert ref_cycle(NODE) == "/$defs/Node"


def test_any_value_takes_the_grammar_path_without_depth_cut() -> None:
    """A value nested without bound ("any value": ``{}``, open ``items`` or
    ``additionalProperties``) has no exact regex: the grammar path nests it as deep as the
    output goes, where json_schema_to_regex unrolls it 3 levels."""
    deep = '{"k":' + "[" * 6 + '{"x":null}' + "]" * 6 + "}"
    cases = [
        ({}, deep),
        ({"type": "object"}, deep),
        ({"items": {"type": "array"}}, "[" * 8 + "1" + "]" * 8),
        ({"not": {"type": "null"}}, f"[{deep}]"),
    ]
    for schema, text in cases:
        assert exact_regex(schema) is None
        assert json_schema_path(schema) == ("grammar", json_schema_to_grammar(schema))
        assert re.fullmatch(json_schema_to_regex(schema), text) is None
        assert accepts_string(compile_json_schema(schema, byte_vocabulary()), text)
    guide = compile_json_schema({"type": "object"}, byte_vocabulary())
    assert not accepts_string(guide, '{"k":[}') and not accepts_string(guide, "[]")
    cut = compile_json_schema({"type": "object"}, byte_vocabulary(), path="regex")
    assert not accepts_string(cut, deep) and accepts_string(cut, '{"k":[[1]]}')
    forced = compile_json_schema({"type": "integer"}, byte_vocabulary(), path="grammar")
    assert accepts_string(forced, "-12") and not accepts_string(forced, "1.5")
    with pytest.raises(UsageError, match="path"):
        compile_json_schema({}, byte_vocabulary(), path="lark")  # type: ignore[arg-type]


def test_the_compile_deadline_covers_the_schema_walk() -> None:
    """``timeout`` bounds the schema walk as well as the grammar engine's build: a schema
    whose walk alone outlasts it raises GrammarLimitError naming the option and the place."""
    schema = _layered(4)
    with pytest.raises(GrammarLimitError, match="JSON Schema takes too long") as error:
        compile_json_schema(schema, byte_vocabulary(), timeout=0.0)
    assert error.value.option == "timeout" and error.value.limit == 0.0
    assert "(at /" in str(error.value)
    assert accepts_string(compile_json_schema(schema, byte_vocabulary(), timeout=60), "{}")


def _layered(levels: int) -> dict[str, Any]:
    """Objects of 4 members nested ``levels`` deep, each a $ref to the level below: 4**levels
    copies of the innermost object in a regex, one rule per level in a grammar."""
    strings = {f"f{i}": {"type": "string", "maxLength": 20} for i in range(8)}
    closed = {"type": "object", "additionalProperties": False}
    defs: dict[str, Any] = {"l0": {**closed, "properties": strings}}
    for level in range(1, levels + 1):
        members = {f"p{i}": {"$ref": f"#/$defs/l{level - 1}"} for i in range(4)}
        defs[f"l{level}"] = {**closed, "properties": members}
    return {"$defs": defs, "$ref": f"#/$defs/l{levels}"}


def test_a_schema_too_large_for_a_regex_compiles_to_a_grammar() -> None:
    schema = _layered(5)
    assert ref_cycle(schema) is None
    with pytest.raises(SchemaError, match="automaton states"):
        json_schema_to_regex(schema)
    path, grammar = json_schema_path(schema)
    assert path == "grammar" and len(grammar) < 5000
    guide = compile_json_schema(schema, byte_vocabulary())

    def text(inner: Any) -> str:
        value = {"p3": {"p0": {"p1": {"p2": {"p3": inner}}}}}
        return json.dumps(value, separators=(",", ":"))

    assert accepts_string(guide, text({"f0": "x", "f7": "y" * 20}))
    assert not accepts_string(guide, text({"f0": 1}))
    assert not accepts_string(guide, text({"f7": "y" * 21}))


def test_refusals_are_the_same_on_the_grammar_path() -> None:
    with pytest.raises(SchemaError) as error:
        compile_json_schema({"items": {"$ref": "#"}, "contains": {}}, byte_vocabulary())
    assert error.value.keyword == "contains"
    endless = {"properties": {"a": {"$ref": "#"}}, "required": ["a"], "type": "object"}
    with pytest.raises(SchemaError, match="no finite JSON value"):
        compile_json_schema(endless, byte_vocabulary())
