"""A recursive pydantic model on a real vLLM engine (tiny random-weight Llama, real tokenizer):
types → schema → grammar guide (no depth cut) → validated instance, through ``generate.json``
and a typed function, sampling at temperature 1.0 with n = 4."""

from __future__ import annotations

from typing import Any

import jsonschema
import pydantic
import pytest

import typedgen
from typedgen._compiler import json_schema_path

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")

PROMPTS = ["A tree:", "Once upon a time"]


class Node(pydantic.BaseModel):
    value: int
    children: list[Node]


SCHEMA = typedgen.schema_of(Node)


def _depth(node: Node) -> int:
    return 1 + max((_depth(child) for child in node.children), default=0)


def test_generate_json_of_a_recursive_model(tiny_model: Any) -> None:
    assert json_schema_path(SCHEMA)[0] == "grammar"
    params = vllm.SamplingParams(n=4, temperature=1.0, max_tokens=120, seed=5)
    results = typedgen.generate.json(tiny_model, Node)(PROMPTS, sampling_params=params)
    assert len(results) == len(PROMPTS)
    nodes = [node for per_prompt in results for node in per_prompt]  # type: ignore[union-attr]
    assert len(nodes) == 8
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for node in nodes:
        assert isinstance(node, Node)
        validator.validate(node.model_dump(mode="json"))
    assert max(_depth(node) for node in nodes) > 1  # the random weights do nest


def test_typed_function_returning_a_recursive_model(tiny_model: Any) -> None:
    params = vllm.SamplingParams(n=1, temperature=1.0, max_tokens=80, seed=2)

    @typedgen.fn(model=tiny_model, sampling_params=params)
    def outline(text: str) -> Node:
        """Outline the text as a tree of numbered sections."""

    node = outline("1 Intro 1.1 Scope 2 Method")
    assert isinstance(node, Node)
    jsonschema.Draft202012Validator(SCHEMA).validate(node.model_dump(mode="json"))
