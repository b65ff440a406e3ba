"""compile_regex / compile_json_schema and the Compiler's bounded cache."""

from __future__ import annotations

import json
from functools import cache

import pytest

from typedgen import (
    RegexError,
    SchemaError,
    StateLimitError,
    Vocabulary,
    Whitespace,
    compile_json_schema,
    compile_regex,
)
from typedgen._compiler import Compiler
from typedgen.testing import accepts_string


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


def test_compiler_caches_a_bounded_number_of_guides() -> None:
    compiler = Compiler(byte_vocabulary(), cache_size=2)
    a = compiler.regex("a+")
    assert compiler.regex("a+") is a
    b = compiler.json_schema({"type": "integer"})
    assert compiler.json_schema('{"type": "integer"}') is b  # the canonical text of the dict
    assert compiler.json_schema({"type": "integer"}) is b
    assert compiler.cache_info() == (2, 2)
    compiler.regex("b")
    assert compiler.json_schema({"type": "integer"}) is b
    assert compiler.regex("a+") is not a  # evicted (least recently used)
    spaced = compiler.json_schema({"type": "integer"}, whitespace=Whitespace(1))
    assert spaced is not b
    compiler.clear()
    assert compiler.cache_info() == (0, 2)


def test_property_order_is_part_of_the_cache_key() -> None:
    compiler = Compiler(byte_vocabulary())
    properties = {"a": {"type": "boolean"}, "b": {"type": "boolean"}}
    ab = {"type": "object", "properties": properties, "required": ["a", "b"]}
    ba = {**ab, "properties": dict(reversed(properties.items()))}
    assert accepts_string(compiler.json_schema(ab), '{"a":true,"b":false}')
    assert accepts_string(compiler.json_schema(ba), '{"b":false,"a":true}')
    assert not accepts_string(compiler.json_schema(ba), '{"a":true,"b":false}')


def test_a_compiler_without_cache() -> None:
    compiler = Compiler(byte_vocabulary(), cache_size=0)
    assert compiler.regex("a") is not compiler.regex("a")
    with pytest.raises(ValueError, match="cache_size"):
        Compiler(byte_vocabulary(), cache_size=-1)
