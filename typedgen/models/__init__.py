"""Models: what typedgen runs on.

:class:`Model` is the protocol that generators and typed functions use (chat rendering, batch,
single, streaming, synchronous and asynchronous; its docstring says what an implementation
guarantees); :class:`VLLM` (``vllm.LLM``) and :class:`AsyncVLLM` (vLLM's ``AsyncLLM``)
implement it, built by :func:`vllm`; :class:`OpenAI`, built by :func:`openai`, implements it
over vLLM's OpenAI-compatible server; :func:`default` is the embedded default model.

This package imports vLLM only when an engine is built, and the ``openai`` package only when
an :class:`OpenAI` model is: generators build :class:`RequestParams` (vLLM's
``SamplingParams`` are taken too), so a client of a remote server needs neither vLLM nor torch.
"""

from __future__ import annotations

from typing import Any, Literal, overload

from typedgen.models._base import Adapter, Completion, Delta, Model
from typedgen.models._default import cache_dir, default_model_path
from typedgen.models._openai import OpenAI, openai
from typedgen.models._params import RequestParams
from typedgen.models._vllm import VLLM, AsyncVLLM, vllm

__all__ = [
    "VLLM",
    "Adapter",
    "AsyncVLLM",
    "Completion",
    "Delta",
    "Model",
    "OpenAI",
    "RequestParams",
    "cache_dir",
    "default",
    "default_model_path",
    "openai",
    "vllm",
]


@overload
def default(*, engine: Literal["sync"] = ..., **llm_kwargs: Any) -> VLLM: ...
@overload
def default(*, engine: Literal["async"], **llm_kwargs: Any) -> AsyncVLLM: ...
def default(*, engine: Literal["sync", "async"] = "sync", **llm_kwargs: Any) -> VLLM | AsyncVLLM:
    """The embedded default model (SmolLM2-135M-Instruct) on vLLM.

    The first call converts the model once into typedgen's cache folder (see
    :func:`default_model_path`); ``engine`` and the keywords are those of :func:`vllm`. ``dtype``
    defaults to ``"float32"``: the weights are stored in float32, and vLLM's usual bfloat16 is
    emulated, several times slower, on CPUs without native bfloat16 (measured here: 3x).
    """
    llm_kwargs.setdefault("dtype", "float32")
    return vllm(default_model_path(), engine=engine, **llm_kwargs)
