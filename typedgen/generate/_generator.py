"""The generator object that every ``typedgen.generate.*`` function returns."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from typedgen._errors import GenerationError, GuideError, TruncatedGenerationError
from typedgen._fsm import Guide
from typedgen.processors._constraint import (
    FINISH_WITHIN_BUDGET,
    Constraint,
    ConstraintCompiler,
    byte_vocabulary,
)

if TYPE_CHECKING:
    from vllm import SamplingParams
    from vllm.outputs import CompletionOutput

    from typedgen.models import VLLM

__all__ = ["Generator"]

T = TypeVar("T")


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
        model: VLLM,
        constraint: Constraint | None,
        parse: Callable[[str], T],
        *,
        finish_within_budget: bool = True,
    ) -> None:
        self.model = model
        self.constraint = constraint
        self.finish_within_budget = finish_within_budget
        self._parse = parse
        # Compiled over single bytes: refuses a bad constraint now, with a typed error, and
        # later tells whether an output is complete.
        self._byte_guide: Guide | None = None
        if constraint is not None:
            checker = ConstraintCompiler(byte_vocabulary(), cache_size=0)
            self._byte_guide = checker.compile(constraint)

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
        sampling_params: SamplingParams,
    ) -> T | list[T]: ...
    @overload
    def __call__(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = ...,
        stop_at: str | Sequence[str] | None = ...,
        seed: int | None = ...,
        sampling_params: SamplingParams,
    ) -> list[T] | list[list[T]]: ...
    def __call__(
        self,
        prompts: str | Sequence[str],
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: SamplingParams | None = None,
    ) -> Any:
        single = isinstance(prompts, str)
        batch = [prompts] if isinstance(prompts, str) else list(prompts)
        params = self.sampling_params(
            max_tokens=max_tokens, stop_at=stop_at, seed=seed, sampling_params=sampling_params
        )
        outputs = self.model.generate(batch, [params] * len(batch))
        results: list[Any] = []
        for output in outputs:
            values = [self.result(completion) for completion in output.outputs]
            results.append(values if params.n > 1 else values[0])
        return results[0] if single else results

    def sampling_params(
        self,
        *,
        max_tokens: int | None = None,
        stop_at: str | Sequence[str] | None = None,
        seed: int | None = None,
        sampling_params: SamplingParams | None = None,
    ) -> SamplingParams:
        """The ``SamplingParams`` a call sends: the given ones (or ones built from
        ``max_tokens``, ``stop_at``, ``seed``) with the constraint in ``extra_args``."""
        from vllm import SamplingParams

        if sampling_params is not None:
            params = sampling_params.clone()
        else:
            stop = [stop_at] if isinstance(stop_at, str) else list(stop_at or [])
            params = SamplingParams(max_tokens=max_tokens, stop=stop or None, seed=seed)
        if self.constraint is not None:
            params.extra_args = {
                **(params.extra_args or {}),
                **self.constraint.to_extra_args(),
                FINISH_WITHIN_BUDGET: self.finish_within_budget,
            }
        return params

    def result(self, completion: CompletionOutput) -> T:
        """Turn one completion into a ``T``; raises :class:`~typedgen.GenerationError` (with
        the raw text) when it is incomplete or rejected."""
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


def _accepts(guide: Guide, text: str) -> bool:
    """Whether ``text`` is a complete string of the constraint (``guide`` is over bytes)."""
    try:
        return guide.is_final(guide.advance_bytes(guide.initial_state, text.encode()))
    except GuideError:
        return False
