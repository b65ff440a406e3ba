"""The event loop thread that models.openai and models.vllm(engine="async") run on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from typedgen.models._loop import LoopThread


def test_it_runs_from_the_start_and_serves_threads_and_loops() -> None:
    loop = LoopThread("test-loop")
    assert loop.running

    async def double(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    async def items() -> AsyncIterator[int]:
        for i in range(3):
            yield i

    assert loop.wait(double(2)) == 4
    assert asyncio.run(loop.run(double(3))) == 6
    assert list(loop.iterate(items)) == [0, 1, 2]
    loop.stop()


def test_stop_cancels_what_still_runs_then_stops() -> None:
    loop = LoopThread("test-loop")
    ended: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            ended.append("cancelled")

    future = loop.submit(forever())
    loop.wait(asyncio.sleep(0))  # forever() has started
    loop.stop()
    assert ended == ["cancelled"]
    assert future.cancelled()
    for _ in range(500):  # the loop stops after the callbacks already scheduled
        if not loop.running:
            break
        time.sleep(0.01)
    assert not loop.running
    loop.stop()  # again: a no-op


def test_an_error_of_the_iteration_reaches_the_caller() -> None:
    loop = LoopThread("test-loop")

    async def failing() -> AsyncIterator[int]:
        yield 1
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        list(loop.iterate(failing))
    loop.stop()
