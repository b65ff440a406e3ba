"""compile_regex / compile_json_schema and the Compiler's cache, bounded by bytes."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from typedgen import (
    RegexError,
    SchemaError,
    StateLimitError,
    UsageError,
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
