"""typedgen models on vLLM: engines built with typedgen's logits processor registered.

:class:`VLLM` drives an in-process ``vllm.LLM`` (one caller at a time, a lock per engine,
shared by every model that wraps it);
:class:`AsyncVLLM` drives vLLM's ``AsyncLLM``, whose engine runs every concurrent request in one
batch. Both implement :class:`typedgen.models.Model`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib
import itertools
import os
import threading
import weakref
from collections.abc import (
    AsyncIterator,
    Callable,
    Container,
    Iterator,
    Mapping,
    Sequence,
)
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self, TypeVar, overload

from typedgen._errors import ModelError, UsageError
from typedgen.models._base import Adapter, Completion, Delta, check_batch
from typedgen.models._loop import LoopThread
from typedgen.models._params import Params, to_vllm
from typedgen.processors import PROCESSOR_FQCN

if TYPE_CHECKING:
    from vllm import LLM, RequestOutput, SamplingParams
    from vllm.config import VllmConfig
    from vllm.lora.request import LoRARequest
    from vllm.v1.engine.async_llm import AsyncLLM

__all__ = ["VLLM", "AsyncVLLM", "vllm"]

T = TypeVar("T")


@overload
def vllm(
    model: str | os.PathLike[str], *, engine: Literal["sync"] = ..., **llm_kwargs: Any
) -> VLLM: ...
@overload
def vllm(
    model: str | os.PathLike[str], *, engine: Literal["async"], **llm_kwargs: Any
) -> AsyncVLLM: ...
def vllm(
    model: str | os.PathLike[str],
    *,
    engine: Literal["sync", "async"] = "sync",
    **llm_kwargs: Any,
) -> VLLM | AsyncVLLM:
    """Build a vLLM engine for ``model`` with typedgen's logits processor registered.

    ``engine="sync"`` (the default) builds a ``vllm.LLM`` (:class:`VLLM`): batches run in the
    calling thread, and calls from several threads take turns. ``engine="async"`` builds vLLM's
    ``AsyncLLM`` (:class:`AsyncVLLM`): concurrent calls (``await``, threads, ``map``) run
    together in the engine's batch, and cancelling a task aborts its request. The async engine
    always runs its core in a separate process.

    Every keyword goes to vLLM unchanged (``dtype``, ``tokenizer_mode``, ``trust_remote_code``,
    ``tensor_parallel_size``, ``quantization``, ``revision``, ``max_model_len``,
    ``gpu_memory_utilization``, ``enable_lora``, ...); processors given in
    ``logits_processors`` are kept, and ours is added after them unless one of them is ours (or
    a subclass of it).

    vLLM's model runner V2 (the CUDA default in vLLM 0.32) takes another processor interface,
    so the engine is built with the V1 runner, which runs typedgen's processor, unless
    ``VLLM_USE_V2_MODEL_RUNNER`` is set (see :func:`_v1_model_runner`); the process
    environment is left as it was.
    """
    processors = list(llm_kwargs.pop("logits_processors", None) or [])
    if not any(_is_ours(p) for p in processors):
        processors.append(PROCESSOR_FQCN)
    if engine not in ("sync", "async"):
        raise UsageError(f"engine must be 'sync' or 'async', got {engine!r}")
    with _v1_model_runner():
        if engine == "async":
            return AsyncVLLM.build(str(model), logits_processors=processors, **llm_kwargs)
        from vllm import LLM

        return VLLM(LLM(str(model), logits_processors=processors, **llm_kwargs))


_RUNNER = "VLLM_USE_V2_MODEL_RUNNER"
_ENVIRON_LOCK = threading.Lock()


@contextlib.contextmanager
def _v1_model_runner() -> Iterator[None]:
    """``VLLM_USE_V2_MODEL_RUNNER=0`` while an engine is built, then the environment as it was
    (a value the caller set is kept and used). Builds take turns, so two never race on the
    variable; for the length of a build, other threads of the process see it too.

    vLLM 0.32 takes the runner choice from the environment only: ``VllmConfig`` reads it
    through ``vllm.envs`` in a property, and no engine argument sets it. Everything that
    depends on it is decided while the engine is built: the engine core started in a process
    of its own inherits the environment then, and one in this process makes vLLM keep the
    environment variables it has read from then on (``vllm.envs.enable_envs_cache``).
    """
    with _ENVIRON_LOCK:
        if _RUNNER in os.environ:
            yield
            return
        os.environ[_RUNNER] = "0"
        try:
            yield
        finally:
            os.environ.pop(_RUNNER, None)


class _Shared:
    """What every typedgen model on one vLLM engine shares, however many wrap it
    (``VLLM(llm)`` twice, the models :meth:`_Engine.load_lora` returns): the lock that makes
    calls into a ``vllm.LLM`` take turns, the request ids, and the LoRA ids. Each distinct
    adapter (folder, and the modification time of its files) gets its own id, so switching
    adapters, or loading a folder whose files changed, never serves a stale one."""

    def __init__(self, config: VllmConfig) -> None:
        self.lock = threading.Lock()
        self.request_ids = itertools.count()
        self._lora_enabled = config.lora_config is not None
        self._lora_ids: dict[tuple[str, int], int] = {}
        self._lora_lock = threading.Lock()  # not the engine's: a call may hold that one long

    def adapter(self, path: Adapter) -> LoRARequest:
        """The ``LoRARequest`` for the adapter in folder ``path``."""
        from vllm.lora.request import LoRARequest

        if not self._lora_enabled:
            raise ModelError("LoRA adapters need an engine built with enable_lora=True")
        folder = Path(path).resolve()
        if not folder.is_dir():
            raise ModelError(f"no LoRA adapter folder at {str(folder)!r}")
        stamp = max((f.stat().st_mtime_ns for f in folder.iterdir() if f.is_file()), default=0)
        with self._lora_lock:
            lora_id = self._lora_ids.setdefault((str(folder), stamp), len(self._lora_ids) + 1)
        return LoRARequest(f"typedgen-{lora_id}", lora_id, str(folder))


_SHARED: weakref.WeakKeyDictionary[Any, _Shared] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def _shared(engine: Any, config: VllmConfig) -> _Shared:
    """The state shared by the models on ``engine`` (a ``vllm.LLM`` or ``AsyncLLM``), kept as
    long as the engine lives."""
    with _SHARED_LOCK:
        shared = _SHARED.get(engine)
        if shared is None:
            shared = _SHARED[engine] = _Shared(config)
        return shared


class _Engine:
    """What both vLLM models share: the check that the processor is registered, chat
    rendering, LoRA adapters and the conversion of vLLM's outputs."""

    def __init__(self, engine: Any, config: VllmConfig, tokenizer: Any) -> None:
        registered = config.model_config.logits_processors or []
        if not any(_is_ours(p) for p in registered):
            raise ModelError(
                "this vLLM engine was built without typedgen's logits processor, so constraints "
                "would be ignored; build it with typedgen.models.vllm(model, ...) or with "
                f"logits_processors=[{PROCESSOR_FQCN!r}]"
            )
        self._tokenizer = tokenizer
        self._shared = _shared(engine, config)
        self._lora: LoRARequest | None = None

    @property
    def tokenizer(self) -> Any:
        """The engine's tokenizer."""
        return self._tokenizer

    @property
    def lora(self) -> LoRARequest | None:
        """The LoRA adapter that this model's calls use when they name none."""
        return self._lora

    def load_lora(self, path: Adapter | None) -> Self:
        """A model on the same engine whose calls use the LoRA adapter in folder ``path``
        when they name none (``None``: the base model); ``lora=`` of a call still overrides
        it. This model is not changed, so generators and typed functions built on it keep
        what they had. The engine must have been built with ``enable_lora=True``.

        The returned model shares the engine, its lock and its adapter ids with this one
        (closing one closes the engine of both). Outlines' ``load_lora`` switched the model
        it was called on; here, use the model it returns (``model = model.load_lora(path)``).
        """
        adapted = copy.copy(self)
        adapted._lora = None if path is None else self._shared.adapter(path)
        return adapted

    def _adapter(self, path: Adapter | None) -> LoRARequest | None:
        """The ``LoRARequest`` of a call's ``lora=`` (``None``: this model's own)."""
        return self._lora if path is None else self._shared.adapter(path)

    def render_chat(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        """The prompt text for chat ``messages`` through the tokenizer's chat template
        (with the assistant's turn opened), or ``None`` when the tokenizer has no template."""
        tokenizer = self._tokenizer
        if not getattr(tokenizer, "chat_template", None):
            return None
        rendered = tokenizer.apply_chat_template(
            [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
        )
        return str(rendered)

    def _request_id(self) -> str:
        return f"typedgen-{next(self._shared.request_ids)}"


def _with_kind(params: Params, kind: str) -> SamplingParams:
    """vLLM's parameters for ``params`` (a copy) with the engine's output ``kind``."""
    from vllm.sampling_params import RequestOutputKind

    copy = to_vllm(params.clone())
    copy.output_kind = RequestOutputKind[kind]
    return copy


def _completions(output: RequestOutput) -> list[Completion]:
    return [Completion(c.text, c.finish_reason, c.stop_reason) for c in output.outputs]


def _delta(output: RequestOutput) -> Delta:
    (c,) = output.outputs
    return Delta(c.text, c.finish_reason, c.stop_reason) if output.finished else Delta(c.text)


def _step(engine: Any, requests: Container[str]) -> Iterator[RequestOutput]:
    """The outputs of one step of a ``vllm.LLM``'s engine for ``requests``."""
    for output in engine.step():
        if output.request_id in requests:
            yield output


def _refusals() -> tuple[type[Exception], ...]:
    """The exceptions with which vLLM refuses one request (too long, bad parameters)."""
    from vllm.exceptions import VLLMClientError

    return (ValueError, VLLMClientError)


def _refused(exc: Exception) -> Completion:
    error = ModelError(f"vLLM refused the request: {exc}")
    error.__cause__ = exc
    return Completion("", "error", error=error)


def _single(params: Params) -> None:
    if params.n != 1:
        raise ModelError(f"streaming needs n == 1 (one output per prompt), got n={params.n}")


class VLLM(_Engine):
    """An in-process ``vllm.LLM`` with typedgen's logits processor: a :class:`Model`.

    Wraps an existing ``vllm.LLM``, which must have been built with typedgen's logits processor
    (``LLM(..., logits_processors=[typedgen.processors.PROCESSOR_FQCN])``, or use
    :func:`typedgen.models.vllm`); otherwise :class:`~typedgen.ModelError` says how to build it.

    The engine serves one call at a time: calls from several threads (and the asynchronous
    methods, which run in worker threads) take turns on a lock of the engine, shared by every
    model that wraps the same ``vllm.LLM``, and a stream holds it until it ends or is closed.
    Typed functions and generators call the model, so they take turns too. Batches
    (``generate`` with many prompts) are where the engine's throughput is; for concurrent
    callers use :class:`AsyncVLLM`.
    """

    def __init__(self, llm: LLM) -> None:
        super().__init__(llm, llm.llm_engine.vllm_config, llm.get_tokenizer())
        self.llm = llm

    def generate(
        self,
        prompts: Sequence[str],
        params: Sequence[Params],
        *,
        lora: Adapter | None = None,
        on_finished: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        """Run ``prompts`` as one vLLM batch; see :meth:`typedgen.models.Model.generate`."""
        check_batch(prompts, params)
        adapter = self._adapter(lora)
        engine = self.llm.llm_engine
        results: list[list[Completion]] = [[] for _ in prompts]
        with self._shared.lock:
            pending: dict[str, int] = {}
            try:
                for i, (prompt, p) in enumerate(zip(prompts, params, strict=True)):
                    request_id = self._request_id()
                    try:
                        engine.add_request(
                            request_id, prompt, _with_kind(p, "FINAL_ONLY"), lora_request=adapter
                        )
                    except _refusals() as exc:  # this request only: too long, bad parameters
                        results[i] = [_refused(exc)]
                        if on_finished is not None:
                            on_finished(i)
                        continue
                    pending[request_id] = i
                while pending:
                    for output in _step(engine, pending):
                        if output.finished:
                            i = pending.pop(output.request_id)
                            results[i] = _completions(output)
                            if on_finished is not None:
                                on_finished(i)
            finally:
                if pending:  # interrupted (KeyboardInterrupt, an error in on_finished)
                    engine.abort_request(list(pending))
        return results

    def stream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> Iterator[Delta]:
        """The output of one prompt as it is generated; see
        :meth:`typedgen.models.Model.stream`. The engine's lock is held until the stream ends or
        is closed."""
        _single(params)
        adapter = self._adapter(lora)
        engine = self.llm.llm_engine
        with self._shared.lock:
            request_id = self._request_id()
            try:
                engine.add_request(
                    request_id, prompt, _with_kind(params, "DELTA"), lora_request=adapter
                )
            except _refusals() as exc:
                refused = _refused(exc)
                yield Delta("", refused.finish_reason, error=refused.error)
                return
            finished = False
            try:
                while not finished:
                    for output in _step(engine, {request_id}):
                        finished = output.finished
                        yield _delta(output)
            finally:
                if not finished:  # closed early: end the request
                    engine.abort_request([request_id])

    async def agenerate(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> list[Completion]:
        """One prompt in a worker thread (calls take turns on the engine's lock)."""
        (completions,) = await asyncio.to_thread(self.generate, [prompt], [params], lora=lora)
        return completions

    def astream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> AsyncIterator[Delta]:
        """:meth:`stream` driven from a worker thread."""
        return _iterate_in_thread(lambda: self.stream(prompt, params, lora=lora))


class AsyncVLLM(_Engine):
    """vLLM's ``AsyncLLM`` with typedgen's logits processor: a :class:`Model` whose engine
    runs every concurrent request in one batch.

    The engine lives on an event loop of its own, in a daemon thread that this object starts, so
    it serves any number of callers at once: coroutines of any event loop (``agenerate``,
    ``astream``; ``asyncio.run`` may be called many times), threads, and the synchronous
    methods, which submit their requests to that loop and wait. Cancelling a task that awaits
    ``agenerate``, or closing a stream early, aborts the request in the engine.

    Build it with :func:`typedgen.models.vllm` ``(model, engine="async")``; :meth:`close`
    (or a ``with`` block) shuts the engine down.
    """

    def __init__(self, engine: AsyncLLM, loop: LoopThread) -> None:
        super().__init__(engine, engine.vllm_config, engine.get_tokenizer())
        self.engine = engine
        self._loop = loop

    @classmethod
    def build(cls, model: str, **engine_kwargs: Any) -> AsyncVLLM:
        """Start the event loop thread and build ``AsyncLLM(AsyncEngineArgs(model, ...))`` on
        it (vLLM's periodic statistics logging is off unless ``disable_log_stats=False``)."""
        from vllm.engine.arg_utils import AsyncEngineArgs

        engine_kwargs.setdefault("disable_log_stats", True)
        args = AsyncEngineArgs(model=model, **engine_kwargs)
        loop = LoopThread("typedgen-async-vllm")
        try:
            # no local variable holds the engine: vLLM keeps the traceback of an import that
            # failed while it was first imported (an optional audio decoder), and with it the
            # frames that imported it, this one included, so a local here would keep the
            # engine alive after close() until the interpreter's exit, when its __del__ fails
            return cls(loop.wait(_start(args)), loop)
        except BaseException:
            loop.stop()
            raise

    def close(self) -> None:
        """Shut the engine down (its core process and vLLM's output handler end here, not at
        the interpreter's exit) and stop the event loop, after cancelling what still runs
        there; the model is unusable afterwards. Closing again does nothing."""
        if not self._loop.running:
            return

        async def shutdown() -> None:  # on the loop, where the engine's sockets and tasks are
            self.engine.shutdown()

        self._loop.wait(shutdown())
        self._loop.stop()
        # drop the engine now, so that vLLM's AsyncLLM.__del__ (which shuts down again) runs
        # while vLLM's modules are whole, not while the interpreter tears them down at exit
        del self.engine

    def __enter__(self) -> AsyncVLLM:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _deltas(
        self, prompt: str, params: Params, adapter: LoRARequest | None
    ) -> AsyncIterator[Delta]:
        """The request's deltas, on the engine's loop; a refused request gives one delta
        holding the error (``AsyncLLM.generate`` aborts the request when this is cancelled or
        closed early)."""
        stream = self.engine.generate(
            prompt, _with_kind(params, "DELTA"), self._request_id(), lora_request=adapter
        )
        try:
            async for output in stream:
                yield _delta(output)
        except _refusals() as exc:  # this request only: too long, bad parameters
            refused = _refused(exc)
            yield Delta("", refused.finish_reason, error=refused.error)
        finally:
            await stream.aclose()

    async def _final(
        self, prompt: str, params: Params, adapter: LoRARequest | None
    ) -> list[Completion]:
        """One request's completions, on the engine's loop."""
        final: RequestOutput | None = None
        try:
            async for output in self.engine.generate(
                prompt, _with_kind(params, "FINAL_ONLY"), self._request_id(), lora_request=adapter
            ):
                final = output
        except _refusals() as exc:  # this request only: too long, bad parameters
            return [_refused(exc)]
        if final is None:
            raise ModelError("vLLM ended a request without output")
        return _completions(final)

    async def agenerate(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> list[Completion]:
        """One prompt's completions; concurrent calls share the engine's batch, and cancelling
        the awaiting task aborts the request."""
        return await self._loop.run(self._final(prompt, params, self._adapter(lora)))

    def generate(
        self,
        prompts: Sequence[str],
        params: Sequence[Params],
        *,
        lora: Adapter | None = None,
        on_finished: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        """All ``prompts`` at once in the engine's batch; waits for them (an interrupt aborts
        those still running)."""
        check_batch(prompts, params)
        adapter = self._adapter(lora)

        async def one(i: int) -> list[Completion]:
            completions = await self._final(prompts[i], params[i], adapter)
            if on_finished is not None:
                on_finished(i)
            return completions

        async def every() -> list[list[Completion]]:
            return list(await asyncio.gather(*(one(i) for i in range(len(prompts)))))

        return self._loop.wait(every())

    def stream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> Iterator[Delta]:
        """The output as it is generated, for a synchronous caller (closing it early aborts
        the request)."""
        _single(params)
        adapter = self._adapter(lora)
        yield from self._loop.iterate(lambda: self._deltas(prompt, params, adapter))

    def astream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> AsyncIterator[Delta]:
        """The output as it is generated, for a coroutine of any event loop (closing it early,
        or cancelling its consumer, aborts the request)."""
        _single(params)
        return self._loop.aiterate(lambda: self._deltas(prompt, params, self._adapter(lora)))


async def _start(args: Any) -> AsyncLLM:
    """vLLM's ``AsyncLLM`` for engine arguments ``args``, built on the loop that will run it."""
    from vllm.v1.engine.async_llm import AsyncLLM

    return AsyncLLM.from_engine_args(args)


def _iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """An asynchronous iterator over ``make()``, which runs in a worker thread; closing it
    early closes the synchronous iterator (in its thread) after its current item."""

    async def iterate() -> AsyncIterator[T]:
        caller = asyncio.get_running_loop()
        items: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue()
        stop = threading.Event()

        def drain() -> None:
            iterator = make()
            try:
                for item in iterator:
                    caller.call_soon_threadsafe(items.put_nowait, (True, item))
                    if stop.is_set():
                        break
            except Exception as exc:  # handed to the caller's loop
                caller.call_soon_threadsafe(items.put_nowait, (False, exc))
                return
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
            caller.call_soon_threadsafe(items.put_nowait, (False, None))

        worker = asyncio.ensure_future(asyncio.to_thread(drain))
        try:
            while True:
                ok, item = await items.get()
                if not ok:
                    if item is not None:
                        raise item
                    break
                yield item
        finally:
            stop.set()
            await asyncio.shield(worker)

    return iterate()


def _is_ours(processor: object) -> bool:
    """Whether a registered processor (a class, or its ``module:qualname``) is typedgen's
    processor or a subclass of it."""
    from typedgen.processors.vllm import TypedgenLogitsProcessor

    if isinstance(processor, str):
        module_name, _, qualname = processor.partition(":")
        try:
            found: object = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):  # vLLM itself failed on such a name already
            return False
        processor = found
    return isinstance(processor, type) and issubclass(processor, TypedgenLogitsProcessor)
