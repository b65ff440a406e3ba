"""An event loop in a thread of its own, shared by any number of callers.

:class:`~typedgen.models.OpenAI` keeps its HTTP client on one such loop, so that it serves
coroutines of any event loop, and threads, at once: the synchronous methods submit their work
and wait; the coroutines await it from their own loop. Cancelling a caller (an interrupted
wait, a cancelled task, an iterator closed early) cancels the work on the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

_END = object()


class LoopThread:
    """An asyncio event loop running forever in a daemon thread named ``name``."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.loop.call_soon(started.set)
        threading.Thread(target=self.loop.run_forever, name=name, daemon=True).start()
        started.wait()  # so that ``running`` holds from here on

    @property
    def running(self) -> bool:
        return self.loop.is_running()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the loop; cancelling the future cancels it there."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result in the calling thread; an
        interrupt (``KeyboardInterrupt``) cancels it."""
        future = self.submit(coroutine)
        try:
            return future.result()
        finally:
            future.cancel()  # a no-op once done

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop, awaited from another event loop; cancelling the
        awaiting task cancels it."""
        return await asyncio.wrap_future(self.submit(coroutine))

    def iterate(self, make: Callable[[], AsyncIterator[T]]) -> Iterator[T]:
        """The items of the asynchronous iterator ``make()`` (iterated on the loop), for a
        synchronous caller; closing this iterator early cancels the iteration on the loop."""
        items: queue.Queue[Any] = queue.Queue()
        future = self.submit(_pump(make, items.put))
        try:
            while (item := items.get()) is not _END:
                if isinstance(item, _Raised):
                    raise item.error
                yield item
        finally:
            future.cancel()

    async def aiterate(self, make: Callable[[], AsyncIterator[T]]) -> AsyncIterator[T]:
        """The items of ``make()`` (iterated on the loop), for a coroutine of another event
        loop; closing this iterator early, or cancelling its consumer, cancels the iteration."""
        caller = asyncio.get_running_loop()
        items: asyncio.Queue[Any] = asyncio.Queue()

        def put(item: object) -> None:
            caller.call_soon_threadsafe(items.put_nowait, item)

        future = self.submit(_pump(make, put))
        try:
            while (item := await items.get()) is not _END:
                if isinstance(item, _Raised):
                    raise item.error
                yield item
        finally:
            future.cancel()

    def stop(self) -> None:
        """Cancel the tasks still running on the loop, wait for them to end, and stop the
        loop; a no-op once stopped. Not to be called from the loop's own thread."""
        if not self.running:
            return
        self.wait(_cancel_others())
        self.loop.call_soon_threadsafe(self.loop.stop)


async def _cancel_others() -> None:
    """Cancel every task of the running loop but this one, and wait until they have ended."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)


class _Raised:
    """An exception of the iteration, handed to the consumer's thread or loop."""

    def __init__(self, error: Exception) -> None:
        self.error = error


async def _pump(make: Callable[[], AsyncIterator[T]], put: Callable[[object], None]) -> None:
    try:
        async for item in make():
            put(item)
    except Exception as exc:
        put(_Raised(exc))
    put(_END)
