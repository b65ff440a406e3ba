"""The reference tables of the documentation agree with the code, so that they cannot drift.

- ``docs/json-schema.md``, section "Keywords": every keyword of the JSON Schema drafts has a row;
  a row marked refused raises ``SchemaError`` naming the keyword, a row marked ignored changes
  nothing, and every other (honoured) keyword constrains: a sample instance is accepted and one
  that only this keyword excludes is refused.
- ``docs/types.md``, section "Every supported annotation": each annotation's schema is what
  ``typedgen.schema_of`` returns (titles left out), its example text is allowed by the
  constraint and validates as the type, and a refused one raises at the pointer given.
- ``docs/vllm.md``: the ``SamplingParams`` table lists every field of the installed vLLM with
  its default, and every ``vllm.LLM`` parameter of its table is an engine argument.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

import typedgen
from typedgen.testing import accepts_string

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

_CODE = re.compile(r"`([^`]+)`")
_KEYWORD = re.compile(r"^\$?[A-Za-z]+\*?$")


def markdown_table(page: Path, heading: str) -> list[list[str]]:
    """The rows (cells as raw Markdown) of the first table under ``## heading`` in ``page``."""
    lines = page.read_text(encoding="utf-8").split("\n")
    start = lines.index(f"## {heading}")
    rows: list[list[str]] = []
    for line in lines[start + 1 :]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(cell) <= set("-: ") for cell in cells):
                rows.append(cells)
        elif rows:
            break
    return rows[1:]  # without the header


# ----- JSON Schema keywords

# The keywords of drafts 4 to 2020-12 that constrain instances or name schemas, and OpenAPI's
# nullable / discriminator; every one must have a row.
DRAFT_KEYWORDS = frozenset(
    re.findall(
        r"\S+",
        """type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum
        maxLength minLength pattern format items prefixItems additionalItems unevaluatedItems
        contains minContains maxContains maxItems minItems uniqueItems properties
        patternProperties additionalProperties unevaluatedProperties propertyNames
        maxProperties minProperties required dependentRequired dependentSchemas dependencies
        allOf anyOf oneOf not if then else $ref $dynamicRef $recursiveRef $defs definitions
        $anchor title description default examples $comment deprecated readOnly writeOnly
        contentEncoding contentMediaType contentSchema nullable discriminator""",
    )
)
_CONTENT = ("contentEncoding", "contentMediaType", "contentSchema")

_OBJECT_AB = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}
_DEFS = {"$defs": {"n": {"type": "integer"}}}

# keyword -> (schema, an instance it accepts, an instance that this keyword alone excludes)
HONOURED: dict[str, tuple[dict[str, Any], str, str]] = {
    "type": ({"type": "integer"}, "1", '"a"'),
    "nullable": ({"type": "integer", "nullable": True}, "null", '"a"'),
    "enum": ({"enum": [1, "a"]}, '"a"', "2"),
    "const": ({"const": 3}, "3", "4"),
    "minimum": ({"type": "integer", "minimum": 5}, "5", "4"),
    "maximum": ({"type": "integer", "maximum": 5}, "5", "6"),
    "exclusiveMinimum": ({"type": "integer", "exclusiveMinimum": 5}, "6", "5"),
    "exclusiveMaximum": ({"type": "integer", "exclusiveMaximum": 5}, "4", "5"),
    "multipleOf": ({"type": "integer", "multipleOf": 5}, "10", "11"),
    "minLength": ({"type": "string", "minLength": 2}, '"ab"', '"a"'),
    "maxLength": ({"type": "string", "maxLength": 2}, '"ab"', '"abc"'),
    "pattern": ({"type": "string", "pattern": "^a+$"}, '"aa"', '"b"'),
    "format": ({"type": "string", "format": "date"}, '"2024-05-01"', '"May"'),
    "properties": (
        {"type": "object", "properties": {"a": {"type": "integer"}}},
        '{"a":1}',
        '{"a":"x"}',
    ),
    "required": ({**_OBJECT_AB, "required": ["a"]}, '{"a":1}', '{"b":1}'),
    "additionalProperties": (
        {"type": "object", "additionalProperties": {"type": "integer"}},
        '{"x":1}',
        '{"x":"y"}',
    ),
    "patternProperties": (
        {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}},
        '{"x-a":1}',
        '{"x-a":"b"}',
    ),
    "propertyNames": (
        {"type": "object", "propertyNames": {"maxLength": 2}},
        '{"ab":1}',
        '{"abc":1}',
    ),
    "minProperties": ({"type": "object", "minProperties": 1}, '{"a":1}', "{}"),
    "maxProperties": (
        {"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 1},
        '{"a":1}',
        '{"a":1,"b":2}',
    ),
    "items": ({"type": "array", "items": {"type": "integer"}}, "[1]", '["a"]'),
    "prefixItems": ({"type": "array", "prefixItems": [{"type": "integer"}]}, "[1]", '["a"]'),
    "minItems": ({"type": "array", "minItems": 1}, "[1]", "[]"),
    "maxItems": ({"type": "array", "maxItems": 1}, "[1]", "[1,2]"),
    "additionalItems": (
        {"type": "array", "items": [{"type": "integer"}], "additionalItems": False},
        "[1]",
        "[1,2]",
    ),
    "uniqueItems": (
        {"type": "array", "items": {"enum": [1, 2]}, "uniqueItems": True},
        "[1,2]",
        "[1,1]",
    ),
    "allOf": ({"allOf": [{"type": "integer"}, {"minimum": 2}]}, "2", "1"),
    "anyOf": ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, "1", "null"),
    "oneOf": ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, '"a"', "null"),
    "not": ({"type": "integer", "not": {"const": 1}}, "2", "1"),
    "if": ({"type": "integer", "if": {"minimum": 10}, "then": {"maximum": 20}}, "15", "21"),
    "then": ({"type": "integer", "if": {"minimum": 10}, "then": {"maximum": 20}}, "3", "21"),
    "else": ({"type": "integer", "if": {"minimum": 10}, "else": {"maximum": 5}}, "10", "7"),
    "$ref": ({**_DEFS, "$ref": "#/$defs/n"}, "1", '"x"'),
    "$defs": ({**_DEFS, "$ref": "#/$defs/n"}, "1", '"x"'),
    "definitions": (
        {"definitions": {"n": {"type": "integer"}}, "$ref": "#/definitions/n"},
        "1",
        "[]",
    ),
    "$anchor": ({"$defs": {"n": {"$anchor": "num", "type": "integer"}}, "$ref": "#num"}, "1", "[]"),
    "$id": (
        {"$id": "https://example.com/s", **_DEFS, "$ref": "https://example.com/s#/$defs/n"},
        "1",
        '"x"',
    ),
    "unevaluatedProperties": (
        {"type": "object", "properties": {"a": {}}, "unevaluatedProperties": False},
        '{"a":1}',
        '{"b":1}',
    ),
    "unevaluatedItems": (
        {"type": "array", "prefixItems": [{"type": "integer"}], "unevaluatedItems": False},
        "[1]",
        "[1,2]",
    ),
    "dependentRequired": (
        {**_OBJECT_AB, "dependentRequired": {"a": ["b"]}},
        '{"a":1,"b":2}',
        '{"a":1}',
    ),
    "dependentSchemas": (
        {**_OBJECT_AB, "dependentSchemas": {"a": {"required": ["b"]}}},
        '{"a":1,"b":2}',
        '{"a":1}',
    ),
    "dependencies": ({**_OBJECT_AB, "dependencies": {"a": ["b"]}}, '{"a":1,"b":2}', '{"a":1}'),
}

# keyword -> a schema that uses it where the table says it is refused
REFUSED: dict[str, dict[str, Any]] = {
    "contains": {"type": "array", "contains": {"type": "integer"}},
    "minContains": {"type": "array", "minContains": 2},
    "maxContains": {"type": "array", "maxContains": 2},
    "$dynamicRef": {"$dynamicRef": "#meta"},
    "$recursiveRef": {"$recursiveRef": "#"},
    "$ref": {"$ref": "https://example.com/other.json"},
}

# keyword -> a value to put beside {"type": "integer"} where the table says it is ignored
IGNORED: dict[str, Any] = {
    "title": "t",
    "description": "d",
    "default": 1,
    "examples": [1],
    "$comment": "c",
    "deprecated": True,
    "readOnly": True,
    "writeOnly": True,
    "contentEncoding": "base64",
    "contentMediaType": "application/json",
    "contentSchema": {"type": "string"},
    "discriminator": {"propertyName": "kind"},
}


def _keyword_rows() -> list[tuple[str, list[str]]]:
    """(status, keywords) of each row of the keyword table; the status is the first word of
    the second cell when it is refused / ignored, else honoured."""
    rows = []
    for cells in markdown_table(DOCS / "json-schema.md", "Keywords"):
        keywords: list[str] = []
        for token in _CODE.findall(cells[0]):
            if token == "content*":
                keywords.extend(_CONTENT)
            elif _KEYWORD.match(token):
                keywords.append(token)
        word = re.match(r"\w+", cells[1])
        status = word[0] if word and word[0] in ("refused", "ignored") else "honoured"
        rows.append((status, keywords))
    return rows


def _documented(status: str) -> list[str]:
    return sorted({kw for row_status, kws in _keyword_rows() if row_status == status for kw in kws})


@pytest.fixture(scope="module")
def byte_vocabulary() -> typedgen.Vocabulary:
    return typedgen.Vocabulary([bytes([i]) for i in range(256)] + [None], eos_token_ids=[256])


def test_every_draft_keyword_has_a_row() -> None:
    documented = {kw for _, kws in _keyword_rows() for kw in kws}
    assert sorted(DRAFT_KEYWORDS - documented) == []


def test_every_refused_keyword_of_the_compiler_is_documented_as_refused() -> None:
    from typedgen._schema.keywords import REFUSED

    assert sorted(REFUSED - set(_documented("refused"))) == []


@pytest.mark.parametrize("keyword", _documented("honoured"))
def test_honoured_keyword_constrains(keyword: str, byte_vocabulary: typedgen.Vocabulary) -> None:
    assert keyword in HONOURED, f"add a sample for the honoured keyword {keyword!r}"
    schema, valid, invalid = HONOURED[keyword]
    guide = typedgen.compile_json_schema(schema, byte_vocabulary)
    assert accepts_string(guide, valid), (json.dumps(schema), valid)
    assert not accepts_string(guide, invalid), (json.dumps(schema), invalid)


@pytest.mark.parametrize("keyword", _documented("refused"))
def test_refused_keyword_raises_naming_it(
    keyword: str, byte_vocabulary: typedgen.Vocabulary
) -> None:
    assert keyword in REFUSED, f"add a sample for the refused keyword {keyword!r}"
    with pytest.raises(typedgen.SchemaError) as error:
        typedgen.compile_json_schema(REFUSED[keyword], byte_vocabulary)
    assert error.value.keyword == keyword


@pytest.mark.parametrize("keyword", _documented("ignored"))
def test_ignored_keyword_changes_nothing(
    keyword: str, byte_vocabulary: typedgen.Vocabulary
) -> None:
    assert keyword in IGNORED, f"add a sample for the ignored keyword {keyword!r}"
    plain = typedgen.compile_json_schema({"type": "integer"}, byte_vocabulary)
    annotated = typedgen.compile_json_schema(
        {"type": "integer", keyword: IGNORED[keyword]}, byte_vocabulary
    )
    for text in ("0", "-12", "1.5", '"a"', "null", "[]"):
        assert accepts_string(annotated, text) == accepts_string(plain, text), text


# ----- Types


def _strip_titles(schema: Any, *, names: bool = False) -> Any:
    """``schema`` without its ``title`` keywords (``names``: a mapping of names to schemas)."""
    if isinstance(schema, dict):
        return {
            key: _strip_titles(value, names=not names and key in ("properties", "$defs"))
            for key, value in schema.items()
            if names or key != "title"
        }
    if isinstance(schema, list):
        return [_strip_titles(value) for value in schema]
    return schema


def _types_rows() -> list[tuple[str, str, str]]:
    rows = []
    for cells in markdown_table(DOCS / "types.md", "Every supported annotation"):
        annotation, schema, example = (cell.replace("\\|", "|") for cell in cells)
        rows.append((_CODE.findall(annotation)[0], _CODE.findall(schema)[0], example))
    return rows


@pytest.fixture(scope="module")
def types_namespace() -> Iterator[dict[str, Any]]:
    """The namespace of the first python block of docs/types.md (the table's classes)."""
    text = (DOCS / "types.md").read_text(encoding="utf-8")
    block = re.search(r"^```python\n(.*?)^```$", text, re.MULTILINE | re.DOTALL)
    assert block is not None
    module = types.ModuleType("docs_types")
    sys.modules[module.__name__] = module  # dataclasses and pydantic look classes up there
    try:
        exec(compile(block[1], "docs/types.md", "exec"), module.__dict__)
        yield module.__dict__
    finally:
        del sys.modules[module.__name__]


@pytest.mark.parametrize(("annotation", "schema", "example"), _types_rows())
def test_types_table_row(
    annotation: str,
    schema: str,
    example: str,
    types_namespace: dict[str, Any],
    byte_vocabulary: typedgen.Vocabulary,
) -> None:
    target = eval(annotation, types_namespace)
    actual = typedgen.schema_of(target)
    assert _strip_titles(actual) == json.loads(schema)
    if example.startswith("refused"):
        pointer = _CODE.findall(example)[1]
        with pytest.raises(typedgen.SchemaError, match=f"at {re.escape(pointer)}"):
            typedgen.compile_json_schema(actual, byte_vocabulary)
    else:
        text = _CODE.findall(example)[0]
        guide = typedgen.compile_json_schema(actual, byte_vocabulary)
        assert accepts_string(guide, text), text
        pydantic.TypeAdapter(target).validate_json(text)


# ----- vLLM parameters (docs/vllm.md)


def _first_column(heading: str) -> list[str]:
    return [_CODE.findall(cells[0])[0] for cells in markdown_table(DOCS / "vllm.md", heading)]


@pytest.mark.vllm
def test_sampling_params_table_lists_every_field() -> None:
    vllm = pytest.importorskip("vllm")
    fields = [name for name in vllm.SamplingParams.__struct_fields__ if not name.startswith("_")]
    documented = _first_column("Sampling parameters")
    assert sorted(documented) == sorted(fields)
    msgspec = pytest.importorskip("msgspec")
    defaults = {f.name: f.default for f in msgspec.structs.fields(vllm.SamplingParams)}
    for cells in markdown_table(DOCS / "vllm.md", "Sampling parameters"):
        name, default = _CODE.findall(cells[0])[0], _CODE.findall(cells[1])[0]
        value = defaults[name]
        shown = value.name if hasattr(value, "name") else repr(value)
        assert default.split(" ")[0] == shown, name


@pytest.mark.vllm
def test_llm_parameters_table_names_engine_arguments() -> None:
    pytest.importorskip("vllm")
    import dataclasses

    from vllm.engine.arg_utils import EngineArgs

    arguments = {field.name for field in dataclasses.fields(EngineArgs)}
    documented = _first_column("The main `vllm.LLM` parameters")
    assert documented and sorted(set(documented) - arguments) == []
