"""typedgen.generate on a real vLLM engine (tiny random-weight Llama, real tokenizer).

Every constrained test samples at temperature 1.0 with n = 4: random weights try hard to
break a constraint, so each output checks the masks. Targets are bounded (lengths, ranges) so
that a complete output always fits in max_tokens.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import re
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal

import pydantic
import pytest
from typing_extensions import TypedDict

import typedgen

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
SamplingParams = vllm.SamplingParams

PROMPTS = ["The answer is", "Once upon a time"]


def sampled(max_tokens: int = 120, **kwargs: Any) -> Any:
    return SamplingParams(n=4, temperature=1.0, max_tokens=max_tokens, seed=7, **kwargs)


def flat(results: list[list[Any]]) -> list[Any]:
    assert len(results) == len(PROMPTS)
    for per_prompt in results:
        assert len(per_prompt) == 4
    return [r for per_prompt in results for r in per_prompt]


def test_text_shapes(tiny_model: Any) -> None:
    generator = typedgen.generate.text(tiny_model)
    one = generator("Hello", max_tokens=5)
    assert isinstance(one, str)
    many = generator(PROMPTS, max_tokens=5)
    assert isinstance(many, list) and len(many) == 2
    assert all(isinstance(t, str) for t in many)
    with_n = generator(PROMPTS, sampling_params=sampled(max_tokens=5))
    assert all(isinstance(t, str) for t in flat(with_n))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "pattern",
    [
        r"[0-9]{3}-[a-z]{2,5}",
        r"(yes|no|maybe)!",
        r"\([A-Z][a-z]{0,6}( [A-Z][a-z]{0,6}){0,2}\)",
        r"[^\n\x00-\x1f]{1,12}\.",
        r"(é|ü|日本|🙂){1,4}",
    ],
)
def test_regex_outputs_match(tiny_model: Any, pattern: str) -> None:
    results = typedgen.generate.regex(tiny_model, pattern)(PROMPTS, sampling_params=sampled())
    for text in flat(results):  # type: ignore[arg-type]
        assert re.fullmatch(pattern, text), text


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"
    DARK_BLUE = "dark blue"


def test_choice_strings_and_enum(tiny_model: Any) -> None:
    options = ["a.b", "(x)", "plain", "a|b"]
    results = typedgen.generate.choice(tiny_model, options)(PROMPTS, sampling_params=sampled())
    assert set(flat(results)) <= set(options)  # type: ignore[arg-type]
    colors = typedgen.generate.choice(tiny_model, Color)(PROMPTS, sampling_params=sampled())
    assert all(isinstance(c, Color) for c in flat(colors))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "python_type", [int, float, bool, Decimal, dt.date, dt.time, dt.datetime, uuid.UUID]
)
def test_format(tiny_model: Any, python_type: type[Any]) -> None:
    generator = typedgen.generate.format(tiny_model, python_type)
    params = SamplingParams(n=4, temperature=1.0, max_tokens=60, seed=3)
    try:
        values = generator(PROMPTS, sampling_params=params)
    except typedgen.TruncatedGenerationError as exc:  # int/float digits may run long
        assert python_type in (int, float, Decimal), exc
        return
    for value in flat(values):  # type: ignore[arg-type]
        assert isinstance(value, python_type)


def test_format_refuses_other_types(tiny_model: Any) -> None:
    with pytest.raises(typedgen.UsageError):
        typedgen.generate.format(tiny_model, list)


class Person(pydantic.BaseModel):
    name: Annotated[str, pydantic.StringConstraints(max_length=8)]
    age: Annotated[int, pydantic.Field(ge=0, le=130)]
    role: Literal["admin", "user"]
    tags: Annotated[list[Literal["a", "b", "c"]], pydantic.Field(max_length=3)]


@dataclasses.dataclass
class Point:
    x: Annotated[int, pydantic.Field(ge=-99, le=99)]
    y: Annotated[int, pydantic.Field(ge=-99, le=99)]
    visible: bool


class Flags(TypedDict):
    on: bool
    level: Literal[1, 2, 3]


@pytest.mark.parametrize(
    ("target", "expected"),
    [(Person, Person), (Point, Point), (Flags, dict), (list[Literal[1, 2]], list)],
)
def test_json_types(tiny_model: Any, target: Any, expected: type[Any]) -> None:
    generator = typedgen.generate.json(tiny_model, target)
    results = generator(PROMPTS, sampling_params=sampled(max_tokens=150))
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(target)
    for value in flat(results):  # type: ignore[arg-type]
        assert isinstance(value, expected)
        adapter.validate_python(value, strict=False)


SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "minimum": 0, "maximum": 999},
        "kind": {"enum": ["x", "y"]},
        "note": {"type": "string", "maxLength": 6},
    },
    "required": ["id", "kind"],
    "additionalProperties": False,
}


@pytest.mark.parametrize("as_text", [False, True])
def test_json_schema(tiny_model: Any, as_text: bool) -> None:
    import json

    import jsonschema

    schema: Any = json.dumps(SCHEMA) if as_text else SCHEMA
    results = typedgen.generate.json(tiny_model, schema)(PROMPTS, sampling_params=sampled())
    for value in flat(results):  # type: ignore[arg-type]
        jsonschema.validate(value, SCHEMA)


def test_json_flexible_whitespace(tiny_model: Any) -> None:
    generator = typedgen.generate.json(
        tiny_model, Point, whitespace=typedgen.Whitespace.flexible(2)
    )
    for value in flat(generator(PROMPTS, sampling_params=sampled(max_tokens=150))):  # type: ignore[arg-type]
        assert isinstance(value, Point)


def test_max_tokens_cut_raises_with_text(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[a-z]{40}")
    with pytest.raises(typedgen.TruncatedGenerationError) as info:
        generator("Hi", max_tokens=2, seed=1)
    assert info.value.finish_reason == "length"
    assert info.value.text and re.fullmatch(r"[a-z]{1,39}", info.value.text)


def test_stop_string_cut_raises_with_text(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"a[bc]{3}d")
    with pytest.raises(typedgen.TruncatedGenerationError) as info:
        generator("Hi", max_tokens=20, stop_at=["a"], seed=1)
    assert info.value.finish_reason == "stop"
    assert info.value.text == ""


def test_seed_reproducible(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[a-z]{8}")
    assert generator(PROMPTS, seed=5, max_tokens=20) == generator(PROMPTS, seed=5, max_tokens=20)


def test_sampling_params_supersede_other_arguments(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[a-z]{10}")
    params = SamplingParams(temperature=1.0, max_tokens=30, seed=2)
    text = generator("Hi", max_tokens=1, sampling_params=params)
    assert re.fullmatch(r"[a-z]{10}", text)


def test_caller_extra_args_are_kept(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[0-9]")
    params = generator.sampling_params(sampling_params=SamplingParams(extra_args={"mine": "1"}))
    assert params.extra_args == {
        "mine": "1",
        "typedgen_regex": "[0-9]",
        "typedgen_finish_within_budget": True,
    }


def test_bad_constraints_are_refused_before_generation(tiny_model: Any) -> None:
    with pytest.raises(typedgen.RegexError):
        typedgen.generate.regex(tiny_model, "(ab")
    with pytest.raises(typedgen.SchemaError):
        typedgen.generate.json(tiny_model, {"type": "array", "contains": {"type": "integer"}})
    with pytest.raises(typedgen.SchemaError):
        typedgen.generate.json(tiny_model, "{not json")
