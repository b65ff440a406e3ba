"""Typed functions: a docstring and a return annotation become a constrained generation.

::

    @typedgen.fn
    def extract(text: str) -> Invoice:
        \"\"\"Extract the invoice fields from the text.\"\"\"

    invoice = extract("Invoice 1043 from ACME, due 2024-05-01, total 1200.50 EUR")

A call renders a prompt from the docstring and the arguments (through the model's chat
template when it has one), generates JSON under the constraint of the return annotation and
returns the validated instance. The decorated function keeps its signature for type checkers;
decorating an ``async def`` gives a coroutine function (generation runs in a worker thread).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import threading
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from typedgen import generate
from typedgen._errors import SchemaError
from typedgen._json_schema import Whitespace
from typedgen._types import target_of
from typedgen.models import VLLM, default
from typedgen.processors import Constraint

if TYPE_CHECKING:
    from vllm import SamplingParams

__all__ = ["AsyncTypedFunction", "TypedFunction", "fn"]

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_MAX_TOKENS = 512


_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_DATA = frozenset({"enum", "const", "default", "examples"})  # JSON values, not schemas


def _without_titles(schema: Any) -> Any:
    """``schema`` without its ``title`` annotations, for the prompt: small models copy titles
    into their answers (``"title": "Invoice"``). Property names called ``title`` are kept."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: (
            {name: _without_titles(sub) for name, sub in value.items()}
            if key in _SCHEMA_MAPS and isinstance(value, dict)
            else value
            if key in _DATA
            else _without_titles(value)
        )
        for key, value in schema.items()
        if key != "title"
    }


class _Body(Generic[R]):
    """What sync and async typed functions share: the prompt, the generator, the model."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        model: VLLM | None,
        max_tokens: int,
        sampling_params: SamplingParams | None,
        whitespace: Whitespace | None,
        finish_within_budget: bool,
    ) -> None:
        doc = inspect.getdoc(func)
        if not doc:
            raise SchemaError(f"typed function {func.__qualname__} needs a docstring (its task)")
        hints = typing.get_type_hints(func, include_extras=True)
        if "return" not in hints:
            raise SchemaError(f"typed function {func.__qualname__} needs a return annotation")
        self.instruction = doc
        self.return_type: Any = hints["return"]
        # Refuse a return type that has no exact constraint now, not at the first call.
        Constraint.json_schema(target_of(self.return_type).schema, whitespace=whitespace).pattern()
        self.signature = inspect.signature(func)
        self._model = model
        self._max_tokens = max_tokens
        self._sampling_params = sampling_params
        self._whitespace = whitespace
        self._finish_within_budget = finish_within_budget
        self._generator: generate.Generator[R] | None = None
        self._lock = threading.Lock()  # vllm.LLM serves one caller at a time

    @property
    def model(self) -> VLLM:
        """The model (the default model, built at the first call, unless one was given)."""
        if self._model is None:
            self._model = default()
        return self._model

    def prompt(self, *args: Any, **kwargs: Any) -> str:
        """The prompt for a call with these arguments."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        lines = [self.instruction, ""]
        for name, value in bound.arguments.items():
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
            lines.append(f"{name}: {shown}")
        schema = json.dumps(_without_titles(target_of(self.return_type).schema))
        lines += ["", f"Answer with JSON that follows this JSON Schema: {schema}"]
        user = "\n".join(lines)
        rendered = self.model.render_chat([{"role": "user", "content": user}])
        return user + "\n" if rendered is None else rendered

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

    def run(self, *args: Any, **kwargs: Any) -> R:
        with self._lock:
            prompt = self.prompt(*args, **kwargs)
            if self._sampling_params is not None:
                return self.generator(prompt, sampling_params=self._sampling_params)  # type: ignore[return-value]
            from vllm import SamplingParams

            params = SamplingParams(temperature=0.0, max_tokens=self._max_tokens)
            return self.generator(prompt, sampling_params=params)  # type: ignore[return-value]


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


class AsyncTypedFunction(Generic[P, R]):
    """The ``async def`` form of :class:`TypedFunction`: calls return awaitables."""

    def __init__(self, func: Callable[P, Awaitable[R]], body: _Body[R]) -> None:
        self.body = body
        functools.update_wrapper(self, func)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(self.body.run, *args, **kwargs)

    def prompt(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The prompt a call with these arguments sends."""
        return self.body.prompt(*args, **kwargs)


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
    *,
    model: VLLM | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sampling_params: SamplingParams | None = None,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
) -> _Decorator: ...
def fn(
    func: Callable[P, Any] | None = None,
    /,
    *,
    model: VLLM | None = None,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    sampling_params: SamplingParams | None = None,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
) -> Any:
    """Make a typed function from a function with a docstring and a return annotation.

    Use bare (``@typedgen.fn``, on the default model) or with options
    (``@typedgen.fn(model=m, max_tokens=256)``). Generation is greedy with ``max_tokens``
    unless ``sampling_params`` is given. Raises :class:`~typedgen.SchemaError` at decoration
    time when the docstring or the return annotation is missing, or when the return type
    cannot be turned into an exact constraint.

    With ``finish_within_budget`` (the default) a call returns a valid instance whenever
    ``max_tokens`` fits the shortest JSON of the return type: an answer that would run past
    ``max_tokens`` (an endless list or string) is closed in its last tokens instead (see
    :class:`typedgen.generate.Generator`). False lets it be cut, raising
    :class:`~typedgen.TruncatedGenerationError` with the raw text.
    """
    decorator = _Decorator(
        model=model,
        max_tokens=max_tokens,
        sampling_params=sampling_params,
        whitespace=whitespace,
        finish_within_budget=finish_within_budget,
    )
    return decorator if func is None else decorator(func)
