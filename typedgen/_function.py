"""Typed functions: a docstring and a return annotation become a constrained generation.

::

    @typedgen.fn
    def extract(text: str) -> Invoice:
        \"\"\"Extract the invoice fields from the text.\"\"\"

    invoice = extract("Invoice 1043 from ACME, due 2024-05-01, total 1200.50 EUR")

A call renders a prompt from the docstring and the arguments (through the model's chat
template when it has one), generates JSON under the constraint of the return annotation and
returns the validated instance. The decorated function keeps its signature for type checkers;
decorating an ``async def`` gives a coroutine function. ``map`` runs many inputs as one engine
batch, ``stream`` yields the generation as it goes (see ``docs/typed-functions.md``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import typing
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Any, Generic, Literal, ParamSpec, TypeVar, overload

from typedgen import generate
from typedgen._errors import GenerationError, TypedgenError, UsageError
from typedgen._prompt import PromptForm, Task, default_prompt
from typedgen._schema import Whitespace
from typedgen._types import target_of
from typedgen.models import Completion, Model, RequestParams, default
from typedgen.models._params import Params
from typedgen.processors import Constraint
from typedgen.processors._constraint import byte_compiler

__all__ = ["AsyncTypedFunction", "Failure", "TypedFunction", "fn"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_TOKENS = 512
DEFAULT_WHITESPACE = Whitespace.flexible(1)
"""A typed function's answer may hold one whitespace character around each ``{ } [ ] : ,``:
small models write JSON as ``json.dumps`` does (``{"age": 42}``) and get values wrong when a
space after ``:`` is refused (``benchmarks/bench_extraction.py``, default model, max_tokens
128: 47.5 % of the fields right with compact JSON, 70.3 % with the space)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Failure:
    """A record of a batch (:meth:`TypedFunction.map`) whose generation failed, in the place
    of its result: ``index`` and ``input`` say which record, ``error`` why (a
    :class:`~typedgen.GenerationError` for an output that is incomplete or that the type
    rejects, with the raw text; a :class:`~typedgen.ModelError` for a request the engine
    refused). ``text`` and ``finish_reason`` are the error's (``""`` and ``None`` when nothing
    was generated)."""

    index: int
    input: Any
    error: TypedgenError

    @property
    def text(self) -> str:
        """The raw generated text."""
        return self.error.text if isinstance(self.error, GenerationError) else ""

    @property
    def finish_reason(self) -> str | None:
        """The engine's finish reason (``"length"``, ``"stop"``, ``"error"``...)."""
        if isinstance(self.error, GenerationError):
            return self.error.finish_reason
        return "error"


OnError = Literal["return", "raise"]


class _Body(Generic[R]):
    """What sync and async typed functions share: the prompt, the generator, the model."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        model: Model | None,
        max_tokens: int,
        sampling_params: Params | None,
        whitespace: Whitespace | None,
        finish_within_budget: bool,
        prompt: PromptForm,
    ) -> None:
        doc = inspect.getdoc(func)
        if not doc:
            raise UsageError(f"typed function {func.__qualname__} needs a docstring (its task)")
        hints = typing.get_type_hints(func, include_extras=True)
        if "return" not in hints:
            raise UsageError(f"typed function {func.__qualname__} needs a return annotation")
        self.name = func.__qualname__
        self.instruction = doc
        self.return_type: Any = hints["return"]
        # Refuse a return type that has no exact constraint now, not at the first call (the
        # guide over bytes is cached: the generator of the first call finds it compiled).
        whitespace = DEFAULT_WHITESPACE if whitespace is None else whitespace
        constraint = Constraint.json_schema(
            target_of(self.return_type).schema, whitespace=whitespace
        )
        constraint.compile(byte_compiler())
        self.signature = inspect.signature(func)
        self._model = model
        self._max_tokens = max_tokens
        self._sampling_params = sampling_params
        self._whitespace = whitespace
        self._finish_within_budget = finish_within_budget
        self._form = prompt
        self._generator: generate.Generator[R] | None = None

    @property
    def model(self) -> Model:
        """The model (the default model, built at the first call, unless one was given)."""
        if self._model is None:
            self._model = default()
        return self._model

    def prompt(self, *args: Any, **kwargs: Any) -> str:
        """The prompt for a call with these arguments."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        task = Task(
            self.instruction, bound.arguments, self.return_type, target_of(self.return_type).schema
        )
        messages = self._form(task)
        rendered = self.model.render_chat(messages)
        if rendered is None:
            return "\n\n".join(m["content"] for m in messages) + "\n"
        return rendered

    def prompt_of(self, item: Any) -> str:
        """The prompt for one input of :meth:`TypedFunction.map`: the argument itself when the
        function takes one parameter, else a tuple of positional or a mapping of keyword
        arguments."""
        if len(self.signature.parameters) == 1:
            return self.prompt(item)
        if isinstance(item, tuple):
            return self.prompt(*item)
        if isinstance(item, Mapping):
            return self.prompt(**item)
        raise UsageError(
            f"{self.name} takes {len(self.signature.parameters)} parameters: give each input of "
            f"map as a tuple of arguments or a mapping of keyword arguments, got {item!r}"
        )

    @property
    def generator(self) -> generate.Generator[R]:
        if self._generator is None:
            self._generator = generate.json(
                self.model,
                self.return_type,
                whitespace=self._whitespace,
                finish_within_budget=self._finish_within_budget,
            )
        return self._generator

    def params(self) -> Params:
        """The sampling parameters of every call: ``sampling_params``, else greedy with
        ``max_tokens``, with the constraint added."""
        if self._sampling_params is not None:
            return self.generator.sampling_params(sampling_params=self._sampling_params)
        greedy = RequestParams(temperature=0.0, max_tokens=self._max_tokens)
        return self.generator.sampling_params(sampling_params=greedy)

    def run(self, *args: Any, **kwargs: Any) -> R:
        params = self.params()
        (completions,) = self.model.generate([self.prompt(*args, **kwargs)], [params])
        return self.generator.results(completions, params.n)  # type: ignore[no-any-return]

    async def arun(self, *args: Any, **kwargs: Any) -> R:
        params = self.params()
        completions = await self.model.agenerate(self.prompt(*args, **kwargs), params)
        return self.generator.results(completions, params.n)  # type: ignore[no-any-return]

    def record(
        self, index: int, item: Any, completions: Sequence[Completion], n: int, on_error: OnError
    ) -> R | Failure:
        """One record's result, or its :class:`Failure` (raised with ``on_error="raise"``)."""
        try:
            return self.generator.results(completions, n)  # type: ignore[no-any-return]
        except TypedgenError as error:
            if on_error == "raise":
                raise
            return Failure(index, item, error)

    def batch(
        self, inputs: Iterable[Any], batch_size: int | None
    ) -> tuple[list[Any], list[str], Params]:
        """The inputs of a ``map``, their prompts, and the parameters they share."""
        if batch_size is not None and batch_size < 1:
            raise ValueError(
                f"batch_size must be at least 1 (or None: one batch), got {batch_size}"
            )
        items = list(inputs)
        return items, [self.prompt_of(item) for item in items], self.params()

    def progress(self, total: int, enabled: bool) -> Any:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.name, unit="record", disable=not enabled)

    def map(
        self, inputs: Iterable[Any], batch_size: int | None, progress: bool, on_error: OnError
    ) -> list[R | Failure]:
        items, prompts, params = self.batch(inputs, batch_size)
        step = batch_size or max(len(items), 1)
        results: list[R | Failure] = []
        with self.progress(len(items), progress) as bar:
            for start in range(0, len(items), step):
                batch = prompts[start : start + step]
                outputs = self.model.generate(
                    batch, [params] * len(batch), on_finished=lambda _: bar.update()
                )
                for k, completions in enumerate(outputs, start):
                    results.append(self.record(k, items[k], completions, params.n, on_error))
        return results

    async def amap(
        self, inputs: Iterable[Any], batch_size: int | None, progress: bool, on_error: OnError
    ) -> list[R | Failure]:
        items, prompts, params = self.batch(inputs, batch_size)
        bound = asyncio.Semaphore(batch_size or max(len(items), 1))
        with self.progress(len(items), progress) as bar:

            async def one(k: int) -> R | Failure:
                async with bound:
                    completions = await self.model.agenerate(prompts[k], params)
                bar.update()
                return self.record(k, items[k], completions, params.n, on_error)

            return list(await asyncio.gather(*(one(k) for k in range(len(items)))))


class TypedFunction(Generic[P, R]):
    """A function whose body is a constrained generation; call it like the original."""

    def __init__(self, func: Callable[P, R], body: _Body[R]) -> None:
        self.body = body
        functools.update_wrapper(self, func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.body.run(*args, **kwargs)

    def prompt(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The prompt a call with these arguments sends."""
        return self.body.prompt(*args, **kwargs)

    def map(
        self,
        inputs: Iterable[Any],
        *,
        batch_size: int | None = None,
        progress: bool = True,
        on_error: OnError = "return",
    ) -> list[R | Failure]:
        """Run the function on every input, as one engine batch (or batches of
        ``batch_size``), and return the results in input order.

        Each input is the argument of a one-parameter function, else a tuple of positional or
        a mapping of keyword arguments. The outputs are the ones separate calls give (same
        prompts, same parameters). A record whose generation fails gives a :class:`Failure`
        (raw text and error) in its place and the others are kept; ``on_error="raise"`` raises
        the first failure's error instead (once its batch is done). ``progress`` shows a tqdm
        bar of records done and records per second (on stderr).
        """
        return self.body.map(inputs, batch_size, progress, on_error)

    def stream(self, *args: P.args, **kwargs: P.kwargs) -> Iterator[generate.Chunk[R]]:
        """The call's generation as it goes: :class:`~typedgen.generate.Chunk` objects with
        text deltas and partial instances, the last one (``done``) with the validated result
        (see :meth:`typedgen.generate.Generator.stream`)."""
        body = self.body
        return body.generator.stream(body.prompt(*args, **kwargs), sampling_params=body.params())


class AsyncTypedFunction(Generic[P, R]):
    """The ``async def`` form of :class:`TypedFunction`: calls return awaitables, and
    concurrent calls on an asynchronous model (``models.vllm(..., engine="async")``) run in one
    engine batch; cancelling a call aborts its request."""

    def __init__(self, func: Callable[P, Awaitable[R]], body: _Body[R]) -> None:
        self.body = body
        functools.update_wrapper(self, func)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.body.arun(*args, **kwargs)

    def prompt(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The prompt a call with these arguments sends."""
        return self.body.prompt(*args, **kwargs)

    async def map(
        self,
        inputs: Iterable[Any],
        *,
        batch_size: int | None = None,
        progress: bool = True,
        on_error: OnError = "return",
    ) -> list[R | Failure]:
        """:meth:`TypedFunction.map`, awaited: every input is a concurrent request (at most
        ``batch_size`` at once), results in input order."""
        return await self.body.amap(inputs, batch_size, progress, on_error)

    def stream(self, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[generate.Chunk[R]]:
        """:meth:`TypedFunction.stream` as an asynchronous iterator (``async for``)."""
        body = self.body
        return body.generator.astream(body.prompt(*args, **kwargs), sampling_params=body.params())


class _Decorator:
    def __init__(self, **options: Any) -> None:
        self.options = options

    @overload
    def __call__(  # type: ignore[overload-overlap]  # an async def is matched first
        self, func: Callable[P, Coroutine[Any, Any, R]]
    ) -> AsyncTypedFunction[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, R]) -> TypedFunction[P, R]: ...
    def __call__(self, func: Callable[P, Any]) -> Any:
        body: _Body[Any] = _Body(func, **self.options)
        if inspect.iscoroutinefunction(func):
            return AsyncTypedFunction(func, body)
        return TypedFunction(func, body)


@overload
def fn(  # type: ignore[overload-overlap]  # an async def is matched first
    func: Callable[P, Coroutine[Any, Any, R]], /
) -> AsyncTypedFunction[P, R]: ...
@overload
def fn(func: Callable[P, R], /) -> TypedFunction[P, R]: ...
@overload
def fn(
    model: Model,
    /,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sampling_params: Params | None = None,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
    prompt: PromptForm = default_prompt,
) -> _Decorator: ...
@overload
def fn(
    *,
    model: Model | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sampling_params: Params | None = None,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
    prompt: PromptForm = default_prompt,
) -> _Decorator: ...
def fn(
    func: Callable[P, Any] | Model | None = None,
    /,
    *,
    model: Model | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sampling_params: Params | None = None,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
    prompt: PromptForm = default_prompt,
) -> Any:
    """Make a typed function from a function with a docstring and a return annotation.

    Use bare (``@typedgen.fn``, on the default model) or with options
    (``@typedgen.fn(model=m, max_tokens=256)``); the model may also come first, positionally
    (``@typedgen.fn(m)``). Generation is greedy with ``max_tokens`` unless ``sampling_params``
    is given. Raises :class:`~typedgen.UsageError` at decoration time when the docstring or
    the return annotation is missing, or when what is decorated is neither a function nor a
    model, and :class:`~typedgen.SchemaError` when the return type cannot be turned into an
    exact constraint.

    With ``finish_within_budget`` (the default) a call returns a valid instance whenever
    ``max_tokens`` fits the shortest JSON of the return type: an answer that would run past
    ``max_tokens`` (an endless list or string) is closed in its last tokens instead (see
    :class:`typedgen.generate.Generator`). False lets it be cut, raising
    :class:`~typedgen.TruncatedGenerationError` with the raw text.

    ``prompt`` makes a call's chat messages from a :class:`~typedgen.Task` (the docstring, the
    arguments, the return type and its schema); the default, :func:`typedgen.default_prompt`,
    is the instruction, the arguments and the answer's JSON Schema without titles
    (:func:`typedgen.fields_prompt` describes the fields in words instead).
    :meth:`TypedFunction.prompt` shows the rendered text. ``whitespace`` (default
    ``Whitespace.flexible(1)``: one character around each ``{ } [ ] : ,``) is the whitespace
    the answer may hold.
    """
    if isinstance(func, Model):
        if model is not None:
            raise UsageError("typedgen.fn got a model both positionally and as model=")
        model, func = func, None
    elif func is not None and not callable(func):
        raise UsageError(
            "typedgen.fn decorates a function (@typedgen.fn) or takes a model "
            f"(@typedgen.fn(model)), got {func!r}"
        )
    decorator = _Decorator(
        model=model,
        max_tokens=max_tokens,
        sampling_params=sampling_params,
        whitespace=whitespace,
        finish_within_budget=finish_within_budget,
        prompt=prompt,
    )
    return decorator if func is None else decorator(func)
