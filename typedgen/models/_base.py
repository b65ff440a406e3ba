"""The model protocol: what generators and typed functions need from an engine.

Generators (:mod:`typedgen.generate`) and typed functions (:func:`typedgen.fn`) run on any
object that implements :class:`Model`; typedgen ships :class:`~typedgen.models.VLLM` (an
in-process ``vllm.LLM``) and :class:`~typedgen.models.AsyncVLLM` (vLLM's ``AsyncLLM``), and
other backends (an OpenAI-compatible HTTP server running typedgen's logits processor, ...)
implement the same five members.

What a model must guarantee:

* **The constraint is enforced where tokens are sampled.** A request's constraint travels in
  ``params.extra_args`` (flat strings and booleans, see
  :meth:`typedgen.processors.Constraint.to_extra_args`); the model hands those to an engine that
  runs typedgen's logits processor, so every sampled token keeps the output a prefix of a string
  the constraint accepts. A model that cannot enforce it (an engine or server without the
  processor) raises :class:`~typedgen.ModelError` instead of returning unconstrained text.
  Generators check each output again on the client and validate it into the target type.
* **Outputs come back in prompt order**, with ``params.n`` completions per prompt, whatever order
  the engine finishes them in.
* **A failed request does not lose the others**: when the engine refuses or fails one request of
  a batch (a prompt longer than the model's context, ...), its entry is one :class:`Completion`
  whose ``error`` says why (``finish_reason`` ``"error"``), and the other requests complete.
  Errors that concern the whole call (the engine died, bad parameters shared by every request)
  raise.
* **Cancelling stops the work**: when an ``agenerate`` task is cancelled, or a stream is closed
  before its end (``break`` out of the loop, ``aclose()``), the request is aborted in the engine.
* **Thread safety**: the synchronous methods may be called from several threads; a model that
  cannot serve them at once serialises them itself (a lock per model, not per caller).

The parameters are typedgen's
:class:`~typedgen.models.RequestParams`, which the generators build, or vLLM's own
``SamplingParams`` given by a user (``max_tokens``, ``temperature``, ``top_p``, ``seed``,
``stop``, ``n``, ``extra_args``, ...: the same field names); a model takes both. A backend that
is not vLLM reads the fields it supports and refuses the others with ``ModelError``.
``lora`` names a LoRA adapter for one call: a folder for the vLLM engines, an adapter name the
server serves for an HTTP backend; ``None`` uses the model's own default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable

from typedgen._errors import ModelError
from typedgen.models._params import Params

__all__ = ["Adapter", "Completion", "Delta", "Model", "check_batch"]

Adapter = str | os.PathLike[str]
"""A LoRA adapter for one call: a folder (vLLM engines) or a served adapter's name (HTTP)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Completion:
    """One finished output of a request.

    ``text`` is all the generated text (never cut short by typedgen). ``finish_reason`` is the
    engine's: ``"stop"`` (end of sequence or a stop string), ``"length"`` (``max_tokens`` or the
    model length), ``"abort"``, or ``"error"`` when ``error`` is set. ``stop_reason`` is the stop
    string or stop token id that ended it, ``None`` at the end of sequence or at the limit.
    ``error`` is the reason the engine refused or failed this one request (other requests of the
    batch are not affected).
    """

    text: str
    finish_reason: str | None
    stop_reason: int | str | None = None
    error: Exception | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed output: ``text`` is what was generated since the previous delta
    (possibly empty). The last delta of a stream has ``finish_reason`` set (and ``stop_reason``
    and ``error`` as in :class:`Completion`); the others have ``None``."""

    text: str
    finish_reason: str | None = None
    stop_reason: int | str | None = None
    error: Exception | None = None


@runtime_checkable
class Model(Protocol):
    """What typedgen runs on: chat rendering, batch and single generation, streaming, each both
    synchronous and asynchronous. See the module docstring for the guarantees."""

    def render_chat(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        """The prompt text for chat ``messages`` (``{"role": ..., "content": ...}``) through the
        model's chat template with the assistant's turn opened, or ``None`` when the model has
        no template (typed functions then send the user's text as a plain prompt)."""
        ...

    def generate(
        self,
        prompts: Sequence[str],
        params: Sequence[Params],
        *,
        lora: Adapter | None = None,
        on_finished: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        """Run ``prompts`` (each with the parameters at the same index) together, as one engine
        batch where the engine allows, and return each prompt's ``n`` completions in prompt
        order. ``on_finished(i)`` is called (from any thread) as soon as prompt ``i`` is done,
        in completion order: it drives progress bars."""
        ...

    async def agenerate(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> list[Completion]:
        """One prompt's ``n`` completions, awaited. Concurrent calls may share an engine batch
        (an asynchronous engine runs them together; a synchronous one runs them in turn, off
        the event loop). Cancelling the task aborts the request."""
        ...

    def stream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> Iterator[Delta]:
        """The text of one prompt as it is generated (``params.n`` must be 1): deltas, the
        last with its ``finish_reason``. Closing the iterator early aborts the request."""
        ...

    def astream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> AsyncIterator[Delta]:
        """:meth:`stream` as an asynchronous iterator (``async for``)."""
        ...


def check_batch(prompts: Sequence[str], params: Sequence[Params]) -> None:
    """Raise :class:`~typedgen.ModelError` unless every prompt has its sampling parameters."""
    if len(prompts) != len(params):
        raise ModelError(f"{len(prompts)} prompts but {len(params)} sampling parameters")
