"""A typedgen model over vLLM's OpenAI-compatible HTTP server.

The server runs typedgen's logits processor (``vllm serve MODEL --logits-processors
typedgen.processors.vllm:TypedgenLogitsProcessor``): a request's constraint travels in the
``vllm_xargs`` of a ``/v1/completions`` request (flat strings, see
:class:`typedgen.processors.Constraint`), the masks are applied in the server, and the
generators validate each output again on the client. This module imports the ``openai`` package
only when a model is built.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from typedgen._errors import ModelError, ServerError, UsageError
from typedgen.models._base import Adapter, Completion, Delta, check_batch
from typedgen.models._loop import LoopThread
from typedgen.models._params import Params, RequestParams
from typedgen.processors import PROCESSOR_FQCN
from typedgen.processors._constraint import PREFIX

if TYPE_CHECKING:
    import openai as openai_package

__all__ = ["OpenAI", "openai"]

# the fields sent as they are (vLLM's completion request takes each of them): every field of
# RequestParams but the two that travel in a form of their own
_SENT = tuple(
    f.name for f in dataclasses.fields(RequestParams) if f.name not in ("logit_bias", "extra_args")
)
# fields of vLLM's SamplingParams this model cannot honour: refused unless left at their default
_REFUSED = (
    "logprobs",
    "prompt_logprobs",
    "prompt_logprob_token_ids",
    "prompt_logprob_start",
    "logprob_token_ids",
    "flat_logprobs",
    "detokenize",
    "watermarking",
    "structured_outputs",
    "thinking_token_budget",
    "repetition_detection",
    "routed_experts_prompt_start",
    "skip_reading_prefix_cache",
    "trace_decode_token_ids",
)
# the probe: a constraint that typedgen's processor refuses when the request is admitted (a
# server without it would generate unconstrained text instead)
_PROBE_PATTERN = "(typedgen-probe"
_STATUS_OF_ONE_REQUEST = frozenset({400, 413, 422})


def openai(
    base_url: str,
    model: str,
    *,
    api_key: str | None = None,
    max_concurrency: int = 32,
    **client_kwargs: Any,
) -> OpenAI:
    """A model on vLLM's OpenAI-compatible server at ``base_url`` (``"http://host:8000/v1"``)
    serving ``model`` (its ``--served-model-name``, by default the ``--model`` it was started
    with). The server must run typedgen's logits processor (``--logits-processors
    typedgen.processors.vllm:TypedgenLogitsProcessor``); the first generation checks that it
    does and raises :class:`~typedgen.ServerError` when not.

    ``api_key`` is the server's ``--api-key`` (default: ``OPENAI_API_KEY`` of the environment,
    else none). At most ``max_concurrency`` requests of this model are in flight at once
    (batches, ``map``, concurrent calls and streams together); the server batches those it
    holds. Other keywords go to ``openai.AsyncOpenAI`` (``timeout``, ``max_retries``,
    ``default_headers``, ``http_client``...).
    """
    return OpenAI(
        base_url, model, api_key=api_key, max_concurrency=max_concurrency, **client_kwargs
    )


class OpenAI:
    """A :class:`~typedgen.models.Model` on an OpenAI-compatible vLLM server that runs
    typedgen's logits processor.

    Every request is a ``/v1/completions`` request with the prompt as text, the sampling
    parameters as vLLM's completion request fields and the constraint in ``vllm_xargs``; the
    constraint is enforced in the server and each output checked again on the client by the
    generators. Chat prompts are rendered by the server's chat template (its ``/tokenize`` and
    ``/detokenize`` endpoints). ``lora`` of a call names an adapter the server serves
    (``--lora-modules NAME=PATH``).

    What is guaranteed:

    * **No unconstrained text.** Before its first request the model checks, once, that the
      server runs typedgen's processor (it sends a constraint that the processor refuses when
      the request is admitted); a server without it raises :class:`~typedgen.ServerError`
      for every call instead of generating.
    * **Bounded concurrency.** At most ``max_concurrency`` requests are in flight, whatever
      mix of threads, coroutines, batches and streams sends them; outputs come back in prompt
      order.
    * **One failed request does not fail a batch.** A request the server refuses (HTTP 400,
      413 or 422: a prompt longer than the model, bad parameters) gives a
      :class:`~typedgen.models.Completion` whose ``error`` is a :class:`~typedgen.ServerError`;
      a server that cannot be reached or fails (5xx) raises for the whole call.
    * **Cancelling stops the work.** A cancelled ``agenerate`` task, an interrupted
      ``generate`` or a stream closed early closes its HTTP requests, and vLLM aborts a request
      whose client went away.
    * Sampling parameters that cannot travel over HTTP (``logprobs``, ``structured_outputs``,
      ...) are refused with :class:`~typedgen.ModelError`; the others are sent explicitly, so
      the server's ``--generation-config`` defaults do not replace them.

    The HTTP client lives on an event loop in a thread of its own; :meth:`close` (or a
    ``with`` block) closes it.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 32,
        **client_kwargs: Any,
    ) -> None:
        if max_concurrency < 1:
            raise UsageError(f"max_concurrency must be at least 1, got {max_concurrency}")
        try:
            import openai as openai_package
        except ImportError as exc:
            raise ModelError(
                "typedgen.models.openai needs the openai package (pip install openai)"
            ) from exc
        self._openai = openai_package
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_concurrency = max_concurrency
        # the server's root, for its /tokenize and /detokenize endpoints
        self.root = self.base_url.removesuffix("/v1")
        key = api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._loop = LoopThread("typedgen-openai")
        self._client: openai_package.AsyncOpenAI = openai_package.AsyncOpenAI(
            base_url=self.base_url, api_key=key, **client_kwargs
        )
        self._bound = asyncio.Semaphore(max_concurrency)  # used on the loop only
        self._probe_lock = asyncio.Lock()
        self._checked: ServerError | bool = False  # True, or the error of a server without it

    def close(self) -> None:
        """Close the HTTP client and stop its event loop; the model is unusable afterwards."""
        if self._loop.running:
            self._loop.wait(self._client.close())
            self._loop.stop()

    def __enter__(self) -> OpenAI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"typedgen.models.OpenAI({self.base_url!r}, {self.model!r})"

    # -- the Model protocol --------------------------------------------------------------------

    def render_chat(self, messages: Sequence[Mapping[str, str]]) -> str | None:
        """The prompt text for chat ``messages`` through the server's chat template (with the
        assistant's turn opened), or ``None`` when the served model has no template."""
        return self._loop.wait(self._render_chat([dict(m) for m in messages]))

    def generate(
        self,
        prompts: Sequence[str],
        params: Sequence[Params],
        *,
        lora: Adapter | None = None,
        on_finished: Callable[[int], None] | None = None,
    ) -> list[list[Completion]]:
        """Send every prompt as a concurrent request (at most ``max_concurrency`` at once) and
        wait for them; see :meth:`typedgen.models.Model.generate`. An interrupt closes the
        requests still running."""
        check_batch(prompts, params)
        bodies = [self._body(prompt, p, lora) for prompt, p in zip(prompts, params, strict=True)]

        async def one(i: int) -> list[Completion]:
            completions = await self._complete(bodies[i])
            if on_finished is not None:
                on_finished(i)
            return completions

        async def every() -> list[list[Completion]]:
            await self._check()
            async with asyncio.TaskGroup() as group:  # a failure cancels the others
                tasks = [group.create_task(one(i)) for i in range(len(bodies))]
            return [task.result() for task in tasks]

        return self._loop.wait(every())

    async def agenerate(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> list[Completion]:
        """One prompt's completions; concurrent calls are concurrent requests, and cancelling
        the awaiting task closes the request."""
        body = self._body(prompt, params, lora)

        async def run() -> list[Completion]:
            await self._check()
            return await self._complete(body)

        return await self._loop.run(run())

    def stream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> Iterator[Delta]:
        """The text as the server streams it (server-sent events); closing the iterator early
        closes the request."""
        body = self._stream_body(prompt, params, lora)
        yield from self._loop.iterate(lambda: self._deltas(body))

    def astream(
        self, prompt: str, params: Params, *, lora: Adapter | None = None
    ) -> AsyncIterator[Delta]:
        """:meth:`stream` for a coroutine of any event loop."""
        body = self._stream_body(prompt, params, lora)
        return self._loop.aiterate(lambda: self._deltas(body))

    # -- requests ------------------------------------------------------------------------------

    def _body(self, prompt: str, params: Params, lora: Adapter | None) -> dict[str, Any]:
        """The ``/v1/completions`` request for one prompt (``ModelError`` for parameters that
        cannot be sent)."""
        refused = _refused(params)
        if refused:
            raise ModelError(
                f"typedgen.models.openai cannot send the sampling parameters {refused}"
            )
        body: dict[str, Any] = {name: getattr(params, name) for name in _SENT}
        if params.logit_bias:
            body["logit_bias"] = {str(token): bias for token, bias in params.logit_bias.items()}
        if params.extra_args:
            body["vllm_xargs"] = {k: _flat(k, v) for k, v in params.extra_args.items()}
        return {"model": self.model if lora is None else str(lora), "prompt": prompt, **body}

    def _stream_body(self, prompt: str, params: Params, lora: Adapter | None) -> dict[str, Any]:
        if params.n != 1:
            raise ModelError(f"streaming needs n == 1 (one output per prompt), got n={params.n}")
        return self._body(prompt, params, lora)

    async def _create(self, body: dict[str, Any], *, stream: bool) -> Any:
        """``POST /v1/completions``; a request the server refuses raises ``_RefusedError``, other
        failures :class:`ServerError`."""
        request = {k: v for k, v in body.items() if k not in ("model", "prompt")}
        try:
            return await self._client.completions.create(
                model=body["model"], prompt=body["prompt"], stream=stream, extra_body=request
            )
        except self._openai.APIStatusError as exc:
            error = ServerError(
                f"the server refused the request: {_message(exc)}", status=exc.status_code
            )
            if exc.status_code in _STATUS_OF_ONE_REQUEST:
                raise _RefusedError(error) from exc
            raise error from exc
        except self._openai.APIError as exc:
            raise ServerError(f"the server at {self.base_url} failed: {exc}") from exc

    async def _complete(self, body: dict[str, Any]) -> list[Completion]:
        async with self._bound:
            try:
                reply = await self._create(body, stream=False)
            except _RefusedError as refused:
                return [Completion("", "error", error=refused.error)]
        choices = sorted(reply.choices, key=lambda choice: choice.index)
        return [Completion(c.text, c.finish_reason, _stop_reason(c)) for c in choices]

    async def _deltas(self, body: dict[str, Any]) -> AsyncIterator[Delta]:
        await self._check()
        async with self._bound:
            try:
                stream = await self._create(body, stream=True)
            except _RefusedError as refused:
                yield Delta("", "error", error=refused.error)
                return
            try:
                async for chunk in stream:
                    for choice in chunk.choices:
                        if choice.finish_reason is not None:
                            yield Delta(choice.text, choice.finish_reason, _stop_reason(choice))
                            return
                        yield Delta(choice.text)
            except self._openai.APIError as exc:
                raise ServerError(f"the stream from {self.base_url} failed: {exc}") from exc
            finally:
                await stream.close()
        raise ServerError(f"the stream from {self.base_url} ended without a finish reason")

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        """``POST`` to an endpoint of the server's root; JSON in and out."""
        try:
            return await self._client.post(self.root + path, cast_to=object, body=body)
        except self._openai.APIStatusError as exc:
            raise ServerError(
                f"the server refused {path}: {_message(exc)}", status=exc.status_code
            ) from exc
        except self._openai.APIError as exc:
            raise ServerError(f"the server at {self.root} failed: {exc}") from exc

    async def _render_chat(self, messages: list[dict[str, str]]) -> str | None:
        request = {"model": self.model, "messages": messages, "add_generation_prompt": True}
        try:
            tokens = await self._post("/tokenize", request)
        except ServerError as exc:
            if exc.status == 400 and "chat template" in str(exc):
                return None
            raise
        reply = await self._post("/detokenize", {"model": self.model, "tokens": tokens["tokens"]})
        return str(reply["prompt"])

    async def _check(self) -> None:
        """Make sure, once per model, that the server runs typedgen's processor."""
        if self._checked is True:
            return
        async with self._probe_lock:
            if self._checked is False:
                self._checked = await self._probe()
        if isinstance(self._checked, ServerError):
            raise self._checked

    async def _probe(self) -> ServerError | bool:
        """True when the server refuses a malformed constraint as typedgen's processor does
        (at admission, before generating); the error to raise when it generates instead."""
        body = {
            "model": self.model,
            "prompt": "typedgen",
            "max_tokens": 1,
            "vllm_xargs": {PREFIX + "regex": _PROBE_PATTERN},
        }
        try:
            await self._create(body, stream=False)
        except _RefusedError as refused:
            if _PROBE_PATTERN in str(refused.error):
                return True
            raise refused.error from None  # refused for another reason (an unknown model, ...)
        return ServerError(
            f"the server at {self.base_url} does not run typedgen's logits processor, so "
            "constraints would be ignored; start it with "
            f"`vllm serve {self.model} --logits-processors {PROCESSOR_FQCN}`"
        )


class _RefusedError(Exception):
    """The server refused one request (its error is the request's, not the whole call's)."""

    def __init__(self, error: ServerError) -> None:
        super().__init__(str(error))
        self.error = error


def _refused(params: Params) -> list[str]:
    """The fields of ``params`` set away from their defaults that cannot travel: none for
    :class:`RequestParams` (every field of it does), some of vLLM's ``SamplingParams``."""
    if isinstance(params, RequestParams):
        return []
    from vllm import SamplingParams

    defaults = SamplingParams()
    return [f for f in _REFUSED if getattr(params, f) != getattr(defaults, f)]


def _flat(key: str, value: object) -> str | int | float:
    """An ``extra_args`` value as ``vllm_xargs`` takes it: flat, booleans as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return value
    raise ModelError(
        f"extra_args[{key!r}] must be a string or a number to travel in vllm_xargs, "
        f"got {type(value).__name__}"
    )


def _stop_reason(choice: Any) -> int | str | None:
    """vLLM's ``stop_reason`` of a choice (a field the OpenAI API does not have)."""
    reason = getattr(choice, "stop_reason", None)
    return reason if isinstance(reason, int | str) else None


def _message(exc: openai_package.APIStatusError) -> str:
    """The server's error message of a refused request."""
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        message = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(message, str):
            return message
    return str(exc)
