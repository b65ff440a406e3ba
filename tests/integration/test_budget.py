"""Finishing within the token budget on a real vLLM engine (tiny random-weight Llama).

Random weights at temperature 1.0 never close an unbounded list or string by themselves within
a few tokens: with the option on (the default) every output must still be complete, ended by
EOS; with it off the same requests are cut by ``max_tokens``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import pydantic
import pytest

import typedgen
from typedgen.processors import FINISH_WITHIN_BUDGET, Constraint

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
SamplingParams = vllm.SamplingParams

PROMPTS = ["The list:", "Items"]


class Item(pydantic.BaseModel):
    name: str
    tags: list[str]


class Basket(pydantic.BaseModel):
    items: list[Item]
    note: str


def sampled(max_tokens: int, seed: int = 11) -> Any:
    return SamplingParams(n=4, temperature=1.0, max_tokens=max_tokens, seed=seed)


def shortest(target: Any) -> int:
    """Bytes in the shortest JSON text of ``target``."""
    guide = typedgen.compile_json_schema(typedgen.schema_of(target), typedgen.Vocabulary.of_bytes())
    return guide.distance_to_final(guide.initial_state)


@pytest.mark.parametrize("extra", [1, 3, 20])
def test_unbounded_lists_finish_within_max_tokens(tiny_model: Any, extra: int) -> None:
    max_tokens = shortest(Basket) + extra  # '{"items":[],"note":""}' and EOS fit from 1 on
    generator = typedgen.generate.json(tiny_model, Basket)
    outputs = tiny_model.llm.generate(
        PROMPTS,
        [generator.sampling_params(sampling_params=sampled(max_tokens))] * 2,
        use_tqdm=False,
    )
    for output in outputs:
        assert len(output.outputs) == 4
        for completion in output.outputs:
            assert completion.finish_reason == "stop", completion.text
            assert len(completion.token_ids) <= max_tokens
            Basket.model_validate_json(completion.text)
    # and through the generator: validated instances
    for per_prompt in generator(PROMPTS, sampling_params=sampled(max_tokens, seed=12)):
        assert all(isinstance(basket, Basket) for basket in per_prompt)


def test_regex_and_typed_function_finish_within_max_tokens(tiny_model: Any) -> None:
    pattern = r"\[(\d+(, \d+)*)?\]"
    texts = typedgen.generate.regex(tiny_model, pattern)(PROMPTS, sampling_params=sampled(3))
    assert all(re.fullmatch(pattern, t) for per_prompt in texts for t in per_prompt)

    @typedgen.fn(model=tiny_model, sampling_params=sampled(4))
    def names(text: str) -> list[Annotated[str, pydantic.StringConstraints(min_length=3)]]:
        """List the names."""

    values: Any = names("Ann and Bob")
    assert len(values) == 4 and all(isinstance(v, list) for v in values)


def test_off_the_output_is_cut(tiny_model: Any) -> None:
    generator = typedgen.generate.json(tiny_model, Basket, finish_within_budget=False)
    assert generator.sampling_params(max_tokens=8).extra_args[FINISH_WITHIN_BUDGET] is False
    with pytest.raises(typedgen.TruncatedGenerationError) as info:
        generator(PROMPTS, sampling_params=sampled(shortest(Basket) + 3))
    assert info.value.finish_reason == "length" and info.value.text.startswith('{"items":[')

    @typedgen.fn(model=tiny_model, max_tokens=4, finish_within_budget=False)
    def names(text: str) -> list[str]:
        """List the names."""

    with pytest.raises(typedgen.TruncatedGenerationError):
        names("Ann and Bob")


def test_a_budget_below_the_shortest_completion_is_still_cut(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"\[[a-z]{30}\]")
    with pytest.raises(typedgen.TruncatedGenerationError) as info:
        generator("Hi", max_tokens=3, seed=1)
    assert info.value.finish_reason == "length" and info.value.text.startswith("[")


def test_raw_extra_args_as_over_http(tiny_model: Any) -> None:
    """The flat option, as ``vllm_xargs`` carries it: absent means on, "false" turns it off."""
    schema = {"type": "array", "items": {"type": "string"}}
    extra = Constraint.json_schema(schema).to_extra_args()
    on, off = tiny_model.llm.generate(
        ["a", "b"],
        [
            SamplingParams(temperature=1.0, max_tokens=10, seed=3, n=4, extra_args=extra),
            SamplingParams(
                temperature=1.0,
                max_tokens=10,
                seed=3,
                n=4,
                extra_args={**extra, FINISH_WITHIN_BUDGET: "false"},
            ),
        ],
        use_tqdm=False,
    )
    for completion in on.outputs:
        assert completion.finish_reason == "stop"
        assert isinstance(json.loads(completion.text), list)
    assert any(completion.finish_reason == "length" for completion in off.outputs)


def test_a_malformed_option_is_refused_at_validation(tiny_model: Any) -> None:
    from vllm.exceptions import VLLMValidationError

    extra = {**Constraint.regex("[0-9]+").to_extra_args(), FINISH_WITHIN_BUDGET: "maybe"}
    with pytest.raises(VLLMValidationError, match=FINISH_WITHIN_BUDGET) as info:
        tiny_model.llm.generate(
            ["x"], [SamplingParams(max_tokens=4, extra_args=extra)], use_tqdm=False
        )
    assert isinstance(info.value.__cause__, typedgen.UsageError)
