"""Processors that apply typedgen constraints inside inference engines.

:mod:`typedgen.processors.vllm` holds the vLLM V1 logits processor (it imports vLLM and torch);
this package itself imports neither, so a client can build request arguments cheaply::

    from typedgen.processors import PROCESSOR_FQCN, Constraint

    LLM(model, logits_processors=[PROCESSOR_FQCN])
    SamplingParams(extra_args=Constraint.regex(r"[0-9]+").to_extra_args())

``FINISH_WITHIN_BUDGET`` is the ``extra_args`` key of the option that keeps a request's output
complete within its ``max_tokens`` (default true; see ``docs/vllm.md``).
"""

from typedgen.processors._constraint import FINISH_WITHIN_BUDGET, Constraint

__all__ = ["FINISH_WITHIN_BUDGET", "PROCESSOR_FQCN", "Constraint"]

PROCESSOR_FQCN = "typedgen.processors.vllm:TypedgenLogitsProcessor"
"""The fully-qualified class name of the vLLM processor, importable in the engine process."""
