"""Models: vLLM engines with typedgen's logits processor, and the embedded default model.

This package imports vLLM only when an engine is built.
"""

from __future__ import annotations

from typing import Any

from typedgen.models._default import cache_dir, default_model_path
from typedgen.models._vllm import VLLM, vllm

__all__ = ["VLLM", "cache_dir", "default", "default_model_path", "vllm"]


def default(**llm_kwargs: Any) -> VLLM:
    """The embedded default model (SmolLM2-135M-Instruct) on vLLM.

    The first call converts the model once into typedgen's cache folder (see
    :func:`default_model_path`); keywords go to ``vllm.LLM`` as in :func:`vllm`. ``dtype``
    defaults to ``"float32"``: the weights are stored in float32, and vLLM's usual bfloat16 is
    emulated, several times slower, on CPUs without native bfloat16 (measured here: 3x).
    """
    llm_kwargs.setdefault("dtype", "float32")
    return vllm(default_model_path(), **llm_kwargs)
