"""The asynchronous model (``models.vllm(..., engine="async")``, vLLM's ``AsyncLLM``, whose
engine core always runs in its own process): concurrent calls share the engine's batch,
cancelling aborts, and the synchronous methods work from any thread."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest

import typedgen

pytestmark = [pytest.mark.vllm, pytest.mark.slow]

vllm = pytest.importorskip("vllm")


class Pet(pydantic.BaseModel):
    name: str
    legs: int


@pytest.fixture(scope="module")
def async_model(tiny_model_dir: Path) -> Iterator[Any]:
    model = typedgen.models.vllm(
        tiny_model_dir,
        engine="async",
        dtype="float32",
        max_model_len=1024,
        enforce_eager=True,
        seed=0,
    )
    try:
        yield model
    finally:
        model.close()


def unfinished(model: Any) -> int:
    return int(model.engine.output_processor.get_num_unfinished_requests())


def test_concurrent_streams_run_together(async_model: Any) -> None:
    """Eight streams started at once all produce their first delta before any has finished:
    the engine runs them in one batch, not one after the other."""
    generator = typedgen.generate.regex(async_model, r"[a-z]{20,30}")
    events: list[tuple[int, bool]] = []

    async def one(i: int) -> str:
        async for chunk in generator.astream(f"p{i}", max_tokens=40, seed=i):
            events.append((i, chunk.done))
        assert chunk.done and isinstance(chunk.value, str)
        return chunk.value

    async def every() -> list[str]:
        return list(await asyncio.gather(*(one(i) for i in range(8))))

    texts = asyncio.run(every())
    assert all(re.fullmatch(r"[a-z]{20,30}", t) for t in texts)
    first_done = next(k for k, (_, done) in enumerate(events) if done)
    assert {i for i, _ in events[:first_done]} == set(range(8))


def test_cancelling_a_task_aborts_its_request(async_model: Any) -> None:
    generator = typedgen.generate.text(async_model)

    async def run() -> None:
        task = asyncio.ensure_future(generator.acall("Once upon a time", max_tokens=900))
        await asyncio.sleep(0.5)
        assert unfinished(async_model) == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(100):
            if unfinished(async_model) == 0:
                return
            await asyncio.sleep(0.05)

    asyncio.run(run())
    assert unfinished(async_model) == 0


def test_typed_functions_and_sync_calls_on_the_async_engine(async_model: Any) -> None:
    @typedgen.fn(model=async_model, max_tokens=30)
    async def pet(text: str) -> Pet:
        """Describe the pet."""

    async def both() -> list[Pet]:
        return list(await asyncio.gather(pet("a cat"), pet("a dog")))

    assert all(isinstance(p, Pet) for p in asyncio.run(both()))  # a first event loop
    assert isinstance(asyncio.run(pet("a bird")), Pet)  # and another one
    generator = typedgen.generate.json(async_model, Pet)
    pets = generator(["a", "b", "c"], max_tokens=30, seed=1)  # the synchronous batch
    assert all(isinstance(p, Pet) for p in pets)
    chunks = list(generator.stream("d", max_tokens=30, seed=1))
    assert chunks[-1].done and isinstance(chunks[-1].value, Pet)
