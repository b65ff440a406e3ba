"""Streaming (``Generator.stream`` / ``astream``) and the model protocol on a real engine."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from typing import Any

import pydantic
import pytest

import typedgen
from typedgen.models import Completion, Model

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")


class Basket(pydantic.BaseModel):
    owner: str
    items: list[str]


def test_vllm_is_a_model(tiny_model: Any) -> None:
    assert isinstance(tiny_model, Model)


def test_generate_keeps_prompt_order_and_reports_each_finish(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[a-z]{1,12}")
    prompts = [f"p{i}" for i in range(6)]
    params = [generator.sampling_params(max_tokens=4 + 2 * i, seed=i) for i in range(6)]
    finished: list[int] = []
    outputs = tiny_model.generate(prompts, params, on_finished=finished.append)
    assert sorted(finished) == list(range(6))
    separate = [tiny_model.generate([p], [q])[0] for p, q in zip(prompts, params, strict=True)]
    assert outputs == separate  # seeded: each output belongs to its own prompt
    assert all(isinstance(c, Completion) for cs in outputs for c in cs)


def test_a_refused_request_does_not_lose_the_batch(tiny_model: Any) -> None:
    generator = typedgen.generate.regex(tiny_model, r"[a-z]{3}")
    params = generator.sampling_params(max_tokens=8, seed=1)
    too_long = "word " * 2000  # longer than max_model_len
    short, refused = tiny_model.generate(["hi", too_long], [params, params])
    assert re.fullmatch("[a-z]{3}", short[0].text)
    assert refused[0].finish_reason == "error"
    assert isinstance(refused[0].error, typedgen.ModelError)
    with pytest.raises(typedgen.ModelError, match="refused"):
        generator(too_long, max_tokens=8)


def test_stream_yields_deltas_partials_and_the_validated_value(tiny_model: Any) -> None:
    generator = typedgen.generate.json(tiny_model, Basket)
    chunks = list(generator.stream("A basket:", max_tokens=40, seed=3))
    final = chunks[-1]
    assert final.done and not any(c.done for c in chunks[:-1])
    assert isinstance(final.value, Basket)
    assert "".join(c.delta for c in chunks) == final.text
    assert final.value == generator("A basket:", max_tokens=40, seed=3)
    assert final.partial == json.loads(final.text)
    seen = [c for c in chunks if c.partial is not None]
    assert seen and all(isinstance(c.partial, dict) for c in seen)
    # partial instances appear once the required fields have begun, and only grow
    instances = [c.value for c in chunks[:-1] if c.value is not None]
    for earlier, later in itertools.pairwise([*instances, final.value]):
        assert later.owner.startswith(earlier.owner)


def test_closing_a_stream_early_frees_the_model(tiny_model: Any) -> None:
    generator = typedgen.generate.text(tiny_model)
    stream = generator.stream("Once upon a time", max_tokens=200, seed=1)
    next(stream)
    stream.close()  # aborts the request and releases the model's lock
    assert isinstance(generator("Hello", max_tokens=3), str)


def test_async_stream_and_acall(tiny_model: Any) -> None:
    generator = typedgen.generate.json(tiny_model, Basket)

    async def run() -> tuple[list[Any], Basket]:
        chunks = [c async for c in generator.astream("A basket:", max_tokens=40, seed=3)]
        value = await generator.acall("A basket:", max_tokens=40, seed=3)
        return chunks, value

    chunks, value = asyncio.run(run())
    assert chunks[-1].done and chunks[-1].value == value
