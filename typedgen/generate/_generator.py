"""The generator object that every ``typedgen.generate.*`` function returns."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar, overload

from typedgen._errors import GenerationError, GuideError, TruncatedGenerationError
from typedgen._fsm import Guide
from typedgen.models._base import Adapter, Completion, Delta, Model
from typedgen.models._params import Params, RequestParams
from typedgen.processors._constraint import FINISH_WITHIN_BUDGET, Constraint, byte_compiler

__all__ = ["Chunk", "Generator"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk(Generic[T]):
    """One step of a streamed generation (:meth:`Generator.stream`).

    ``delta`` is the text generated since the previous chunk and ``text`` all of it so far.
    For JSON generators, ``partial`` is the JSON value of ``text`` read as a prefix (the last
    string cut where the text ends, a number at the very end left out until it is complete),
    and ``value`` the most recent partial instance: the target validated from a ``partial`` in
    pydantic's partial mode (the last item of a list may be left out until complete; an object
    only validates once its required fields have begun), ``None`` until one validates. Every
    ``text`` is a prefix of a valid output: the constraint is enforced as it is generated.
    The last chunk has ``done`` true and ``value`` the fully validated result (what a call
    returns); for other generators ``partial`` is ``None`` and ``value`` is set only there.
    """

    delta: str
    text: str
    partial: Any
    value: T | None
    done: bool


class Generator(Generic[T]):
    """Generates under one constraint on one model and turns each output into a ``T``.

    Call it with a prompt (returns one result) or a list of prompts (returns a list, run as one
    vLLM batch). With ``sampling_params`` of ``n > 1`` each prompt yields a list of ``n``
    results. ``sampling_params`` supersedes ``max_tokens``, ``stop_at`` and ``seed``: when it is
    given, those three are not used. Its ``extra_args`` are kept, with the constraint added.

    With ``finish_within_budget`` (the default), a constrained generation is steered to
    complete within its token budget (``max_tokens``, and the model length): once the tokens
    left come close to the shortest completion, only tokens after which the constraint can
    still be completed in the tokens left are allowed, so the output ends complete, with EOS,
    instead of being cut. This holds whenever the budget fits the shortest completion of the
    constraint written one byte per token plus EOS, on vocabularies that have a token for every
    byte (byte-level BPE and byte-fallback SentencePiece vocabularies do). A runaway list or
    string is then closed in the last tokens instead of being cut, so the output is valid,
    though its last value may be shorter than the model would have made it.

    A constrained output that is still not complete (the budget could not fit the shortest
    completion, ``finish_within_budget=False``, or a stop string cut it) raises
    :class:`~typedgen.TruncatedGenerationError`; one that the target type rejects raises
    :class:`~typedgen.GenerationError`. Both carry the raw text and the finish reason.
    """

    def __init__(
        self,
        model: Model,
        constraint: Constraint | None,
        parse: Callable[[str], T],
        *,
        finish_within_budget: bool = True,
        partial: Callable[[Any], T] | None = None,
    ) -> None:
        self.model = model
        self.constraint = constraint
        self.finish_within_budget = finish_within_budget
        self._parse = parse
        self._partial = partial
        # Compiled over single bytes (once per process, by byte_compiler): refuses a bad
        # constraint now, with a typed error, and later tells whether an output is complete.
        self._byte_guide: Guide | None = None
        if constraint is not None:
            self._byte_guide = constraint.compile(byte_compiler())

    @overload
    def __call__(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self,
        prompts: str,
        *,
        max_tokens: int | None = ...,
        stop_at: str | Sequence[str] | None = ...,
        seed: int | None = ...,
        sampling_params: None = ...,
    ) -> T: ...
    @overload
    def __call__(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = ...,
        stop_at: str | Sequence[str] | None = ...,
        seed: int | None = ...,
        sampling_params: None = ...,
    ) -> list[T]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]  # a str is also a Sequence[str]
        self,
        prompts: str,
        *,
        max_tokens: int | None = ...,
        stop_at: str | Sequence[str] | None = ...,
        seed: int | None = ...,
        sampling_params: Params,
    ) -> T | list[T]: ...
    @overload
    def __call__(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = ...,
        stop_at: str | Sequence[str] | None = ...,
        seed: int | None = ...,
        sampling_params: Params,
    ) -> list[T] | list[list[T]]: ...
    def __call__(
        self,
        prompts: str | Sequence[str],
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: Params | None = None,
        lora: Adapter | None = None,
    ) -> Any:
        single = isinstance(prompts, str)
        batch = [prompts] if isinstance(prompts, str) else list(prompts)
        params = self.sampling_params(
            max_tokens=max_tokens, stop_at=stop_at, seed=seed, sampling_params=sampling_params
        )
        outputs = self.model.generate(batch, [params] * len(batch), lora=lora)
        results = [self.results(completions, params.n) for completions in outputs]
        return results[0] if single else results

    async def acall(
        self,
        prompt: str,
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: Params | None = None,
        lora: Adapter | None = None,
    ) -> Any:
        """The result for one prompt, awaited (a list of ``n`` results with ``n > 1``).
        Concurrent calls on an asynchronous model share the engine's batch; cancelling the task
        aborts the request."""
        params = self.sampling_params(
            max_tokens=max_tokens, stop_at=stop_at, seed=seed, sampling_params=sampling_params
        )
        return self.results(await self.model.agenerate(prompt, params, lora=lora), params.n)

    def stream(
        self,
        prompt: str,
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: Params | None = None,
        lora: Adapter | None = None,
    ) -> Iterator[Chunk[T]]:
        """The generation of one prompt as it goes: a :class:`Chunk` per piece of text, the
        last one (``done``) with the validated result. Breaking out of the loop aborts the
        request. Raises as a call does when the finished output is incomplete or rejected."""
        params = self.sampling_params(
            max_tokens=max_tokens, stop_at=stop_at, seed=seed, sampling_params=sampling_params
        )
        reader = _Reader(self)
        for delta in self.model.stream(prompt, params, lora=lora):
            yield reader.read(delta)

    async def astream(
        self,
        prompt: str,
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: Params | None = None,
        lora: Adapter | None = None,
    ) -> AsyncIterator[Chunk[T]]:
        """:meth:`stream` as an asynchronous iterator (``async for``)."""
        params = self.sampling_params(
            max_tokens=max_tokens, stop_at=stop_at, seed=seed, sampling_params=sampling_params
        )
        reader = _Reader(self)
        deltas = self.model.astream(prompt, params, lora=lora)
        try:
            async for delta in deltas:
                yield reader.read(delta)
        finally:
            close = getattr(deltas, "aclose", None)
            if close is not None:
                await close()

    def results(self, completions: Sequence[Completion], n: int) -> Any:
        """The result of one prompt's completions (a list of them for ``n > 1``); raises as
        :meth:`result` does."""
        values = [self.result(completion) for completion in completions]
        return values if n > 1 else values[0]

    def partial(self, text: str) -> tuple[Any, T | None]:
        """(the JSON value of the prefix ``text``, the target validated from it in partial
        mode or ``None`` when it does not validate yet); ``(None, None)`` for a generator
        whose output is not JSON. A number at the very end is left out (it may still grow)."""
        if self._partial is None:
            return None, None
        import jiter

        prefix = _without_trailing_number(text)
        if not prefix.strip():
            return None, None
        try:
            value = jiter.from_json(prefix.encode(), partial_mode="trailing-strings")
        except ValueError:
            return None, None
        try:
            return value, self._partial(value)
        except ValueError:  # pydantic's ValidationError: not valid so far
            return value, None

    def sampling_params(
        self,
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: Params | None = None,
    ) -> Params:
        """The parameters a call sends: a copy of the given ones (or
        :class:`~typedgen.models.RequestParams` built from ``max_tokens``, ``stop_at``,
        ``seed``) with the constraint in ``extra_args``."""
        params: Params
        if sampling_params is not None:
            params = sampling_params.clone()
        else:
            stop = [stop_at] if isinstance(stop_at, str) else list(stop_at or [])
            params = RequestParams(max_tokens=max_tokens, stop=stop or None, seed=seed)
        if self.constraint is not None:
            params.extra_args = {
                **(params.extra_args or {}),
                **self.constraint.to_extra_args(),
                FINISH_WITHIN_BUDGET: self.finish_within_budget,
            }
        return params

    def result(self, completion: Completion) -> T:
        """Turn one completion into a ``T``; raises :class:`~typedgen.GenerationError` (with
        the raw text) when it is incomplete or rejected, and the completion's ``error`` (a
        :class:`~typedgen.ModelError`) when the engine refused the request."""
        if completion.error is not None:
            raise completion.error
        text = completion.text
        reason = completion.finish_reason
        if self._byte_guide is not None and not _accepts(self._byte_guide, text):
            cut = reason == "length" or completion.stop_reason is not None
            error = TruncatedGenerationError if cut else GenerationError
            raise error(
                "the generation ended before the constraint was complete",
                text=text,
                finish_reason=reason,
            )
        try:
            return self._parse(text)
        except ValueError as exc:
            raise GenerationError(
                f"the target type rejected the generated text: {exc}",
                text=text,
                finish_reason=reason,
            ) from exc


class _Reader(Generic[T]):
    """Turns a stream's deltas into chunks for one generation."""

    def __init__(self, generator: Generator[T]) -> None:
        self._generator = generator
        self._text: list[str] = []
        self._value: T | None = None

    def read(self, delta: Delta) -> Chunk[T]:
        self._text.append(delta.text)
        text = "".join(self._text)
        if delta.finish_reason is not None:
            completion = Completion(text, delta.finish_reason, delta.stop_reason, delta.error)
            value = self._generator.result(completion)
            partial, _ = self._generator.partial(text)
            return Chunk(delta.text, text, partial, value, True)
        partial, instance = self._generator.partial(text) if delta.text else (None, None)
        if instance is not None:
            self._value = instance
        return Chunk(delta.text, text, partial, self._value, False)


_NUMBER_END = frozenset("0123456789+-.eE")


def _without_trailing_number(text: str) -> str:
    """``text`` without a number at its very end (one that follows ``:``, ``,``, ``[`` or
    whitespace, or the whole text): it may still grow, so it is not shown yet."""
    end = len(text)
    start = end
    while start > 0 and text[start - 1] in _NUMBER_END:
        start -= 1
    if start == end or (start > 0 and text[start - 1] not in ":,[ \n\t\r"):
        return text
    return text[:start]


def _accepts(guide: Guide, text: str) -> bool:
    """Whether ``text`` is a complete string of the constraint (``guide`` is over bytes)."""
    try:
        return guide.is_final(guide.advance_bytes(guide.initial_state, text.encode()))
    except GuideError:
        return False
