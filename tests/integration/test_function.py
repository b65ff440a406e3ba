"""Typed functions (``typedgen.fn``) on a real engine."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Annotated, Any, Literal

import pydantic
import pytest

import typedgen

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")


@dataclasses.dataclass
class Reading:
    sensor: Literal["temp", "humidity"]
    value: Annotated[int, pydantic.Field(ge=0, le=100)]


def test_typed_function_returns_valid_instances(tiny_model: Any) -> None:
    params = vllm.SamplingParams(n=1, temperature=1.0, max_tokens=40, seed=3)

    @typedgen.fn(model=tiny_model, sampling_params=params)
    def read(line: str, unit: str = "C") -> Reading:
        """Read the sensor value from the log line."""

    reading = read("t=23C", unit="F")
    assert isinstance(reading, Reading)
    prompt = read.prompt("t=23C", unit="F")
    assert "Read the sensor value from the log line." in prompt
    assert "line: t=23C" in prompt and "unit: F" in prompt
    assert read.__name__ == "read" and read.__doc__ == "Read the sensor value from the log line."


def test_the_model_may_be_given_positionally(tiny_model: Any) -> None:
    @typedgen.fn(tiny_model, max_tokens=10)
    def count(text: str) -> int:
        """How many words are there?"""

    assert count.body.model is tiny_model
    assert isinstance(count("one two"), int)
    with pytest.raises(typedgen.UsageError, match="both"):
        typedgen.fn(tiny_model, model=tiny_model)  # type: ignore[call-overload]


def test_a_typed_function_sends_the_prompt_of_its_form(tiny_model: Any) -> None:
    def shout(task: typedgen.Task) -> list[dict[str, str]]:
        return [{"role": "user", "content": f"{task.instruction.upper()} {task.arguments}"}]

    @typedgen.fn(model=tiny_model, max_tokens=40, prompt=shout)
    def read(line: str) -> Reading:
        """Read the sensor value from the log line."""

    prompt = read.prompt("t=23C")
    assert "READ THE SENSOR VALUE FROM THE LOG LINE. {'line': 't=23C'}" in prompt
    assert "JSON" not in prompt
    assert isinstance(read("t=23C"), Reading)


def test_async_typed_function(tiny_model: Any) -> None:
    @typedgen.fn(model=tiny_model, max_tokens=40)
    async def flag(text: str) -> bool:
        """Is the text positive?"""

    async def both() -> list[bool]:
        return list(await asyncio.gather(flag("good"), flag("bad")))

    assert all(isinstance(v, bool) for v in asyncio.run(both()))


def test_truncated_typed_function_keeps_the_text(tiny_model: Any) -> None:
    @typedgen.fn(model=tiny_model, max_tokens=2, finish_within_budget=False)
    def names(text: str) -> list[Annotated[str, pydantic.StringConstraints(min_length=30)]]:
        """List the names."""

    with pytest.raises(typedgen.TruncatedGenerationError) as info:
        names("Ann and Bob")
    assert info.value.finish_reason == "length" and info.value.text.lstrip().startswith("[")


@dataclasses.dataclass
class Pet:
    name: str
    legs: int


TEXTS = ["a cat named Tom", "a spider", "a dog called Rex", "a bird", "a fish", "a snake"]


def test_map_gives_what_separate_calls_give_in_input_order(tiny_model: Any) -> None:
    @typedgen.fn(model=tiny_model, max_tokens=30)
    def pet(text: str) -> Pet:
        """Describe the pet."""

    separate = [pet(t) for t in TEXTS]
    assert pet.map(TEXTS, progress=False) == separate
    assert pet.map(TEXTS, batch_size=4, progress=False) == separate
    assert asyncio.run(_amap(pet, TEXTS)) == separate


async def _amap(function: Any, texts: list[str]) -> list[Any]:
    @typedgen.fn(model=function.body.model, max_tokens=30)
    async def pet(text: str) -> Pet:
        """Describe the pet."""

    return list(await pet.map(texts, batch_size=2, progress=False))


def test_map_keeps_failed_records_with_their_text_and_error(tiny_model: Any) -> None:
    @typedgen.fn(model=tiny_model, max_tokens=6, finish_within_budget=False)
    def names(
        text: str, count: int = 2
    ) -> list[Annotated[str, pydantic.StringConstraints(min_length=9)]]:
        """List the names."""

    too_long = "word " * 2000  # longer than the model's context
    results = names.map([("Ann", 0), {"text": too_long}, ("Bob", 3)], progress=False)
    assert [type(r) for r in results] == [typedgen.Failure] * 3
    cut, refused, _ = results
    assert isinstance(cut.error, typedgen.TruncatedGenerationError)
    assert cut.index == 0 and cut.input == ("Ann", 0)
    assert cut.text.lstrip().startswith("[") and cut.finish_reason == "length"
    assert isinstance(refused.error, typedgen.ModelError) and refused.text == ""
    with pytest.raises(typedgen.TruncatedGenerationError):
        names.map([("Ann", 0)], progress=False, on_error="raise")
    with pytest.raises(TypeError, match="tuple of arguments"):
        names.map(["Ann"], progress=False)


def test_stream_of_a_typed_function(tiny_model: Any) -> None:
    @typedgen.fn(model=tiny_model, max_tokens=30)
    def pet(text: str) -> Pet:
        """Describe the pet."""

    chunks = list(pet.stream("a cat"))
    assert chunks[-1].done and chunks[-1].value == pet("a cat")


def _engine_compilations(model: Any) -> int:
    """Compilations so far in the engine's processor (its compiler's cache misses)."""

    def misses(worker: Any) -> int:
        from typedgen.processors.vllm import TypedgenLogitsProcessor

        runner = getattr(worker, "worker", worker).model_runner
        for processor in runner.input_batch.logitsprocs.all:
            if isinstance(processor, TypedgenLogitsProcessor) and processor.compiler is not None:
                return processor.compiler.cache_info().misses
        return 0

    return sum(model.llm.collective_rpc(misses))


@dataclasses.dataclass
class Parcel:
    grams: int


def test_a_constraint_is_compiled_once_per_vocabulary(tiny_model: Any) -> None:
    """Decorating, building generators, admitting requests (validate_params) and the engine
    share two compilations: one over bytes, one over the engine's vocabulary."""
    from typedgen.processors._constraint import byte_compiler

    bytes_before = byte_compiler().cache_info().misses
    engine_before = _engine_compilations(tiny_model)

    @typedgen.fn(model=tiny_model, max_tokens=30)
    def parcel(text: str) -> Parcel:
        """The parcel's weight."""

    spaced = typedgen.Whitespace.flexible(1)  # typed functions' default whitespace
    generator = typedgen.generate.json(tiny_model, Parcel, whitespace=spaced)
    for _ in range(2):
        assert isinstance(parcel("a parcel of 3 kg"), Parcel)
        assert isinstance(generator("a parcel: ", max_tokens=30), Parcel)
        typedgen.generate.json(tiny_model, Parcel, whitespace=spaced)
    assert byte_compiler().cache_info().misses == bytes_before + 1
    assert _engine_compilations(tiny_model) == engine_before + 1
