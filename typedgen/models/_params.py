"""Sampling parameters without vLLM: what generators build, what every model takes.

Generators and typed functions build :class:`RequestParams` (this module imports nothing
heavy), so a client of a remote server (:class:`~typedgen.models.OpenAI`) runs without ``vllm``
installed. Users may pass either a :class:`RequestParams` or vLLM's own ``SamplingParams``
wherever typedgen takes ``sampling_params=``; the in-process vLLM models turn a
:class:`RequestParams` into ``SamplingParams`` field by field (:func:`to_vllm`), the HTTP model
reads the same fields from either.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from vllm import SamplingParams

__all__ = ["Params", "RequestParams", "to_vllm"]


@dataclasses.dataclass(slots=True)
class RequestParams:
    """The sampling parameters of one request: the fields of vLLM's ``SamplingParams`` that
    every typedgen model honours, with the same names, meanings and defaults (vLLM 0.32).

    ``max_tokens=None`` generates up to the model's length. ``stop`` may be one string;
    ``None`` in ``stop``, ``stop_token_ids`` or ``bad_words`` is the empty list, as in vLLM.
    ``extra_args`` carries the request's constraint (set by the generators, see
    :meth:`typedgen.processors.Constraint.to_extra_args`).
    """

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None
    stop: str | list[str] | None = None
    stop_token_ids: list[int] | None = None
    ignore_eos: bool = False
    max_tokens: int | None = 16
    min_tokens: int = 0
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    allowed_token_ids: list[int] | None = None
    bad_words: list[str] | None = None
    stream_interval: int | None = None
    logit_bias: dict[int, float] | None = None
    extra_args: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        self.stop_token_ids = list(self.stop_token_ids or [])
        self.bad_words = list(self.bad_words or [])

    def clone(self) -> RequestParams:
        """A copy whose lists and dicts are copies too (changing it leaves ``self`` as it is)."""
        return RequestParams(
            **{f.name: _copy(getattr(self, f.name)) for f in dataclasses.fields(self)}
        )


Params: TypeAlias = "RequestParams | SamplingParams"
"""What a model takes: typedgen's :class:`RequestParams` or vLLM's ``SamplingParams``."""


def to_vllm(params: Params) -> SamplingParams:
    """vLLM's ``SamplingParams`` for ``params`` (returned as it is when it is one already)."""
    from vllm import SamplingParams

    if isinstance(params, SamplingParams):
        return params
    return SamplingParams(**{f.name: getattr(params, f.name) for f in dataclasses.fields(params)})


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
