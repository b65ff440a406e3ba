"""typedgen models on vLLM: an engine built with typedgen's logits processor registered."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typedgen._errors import ModelError
from typedgen.processors import PROCESSOR_FQCN

if TYPE_CHECKING:
    from vllm import LLM, RequestOutput, SamplingParams
    from vllm.lora.request import LoRARequest

__all__ = ["VLLM", "vllm"]


def vllm(model: str | os.PathLike[str], **llm_kwargs: Any) -> VLLM:
    """Build a ``vllm.LLM`` for ``model`` with typedgen's logits processor registered.

    Every keyword goes to ``vllm.LLM`` unchanged (``dtype``, ``tokenizer_mode``,
    ``trust_remote_code``, ``tensor_parallel_size``, ``quantization``, ``revision``,
    ``max_model_len``, ``gpu_memory_utilization``, ``enable_lora``, ...); processors given in
    ``logits_processors`` are kept, and ours is added after them unless one of them is ours
    (or a subclass of it).

    vLLM's model runner V2 (the CUDA default in vLLM 0.32) takes another processor interface;
    unless ``VLLM_USE_V2_MODEL_RUNNER`` is already set, this sets it to ``0`` in the process
    environment so the engine uses the V1 runner, which runs typedgen's processor.
    """
    from vllm import LLM

    processors = list(llm_kwargs.pop("logits_processors", None) or [])
    if not any(_is_ours(p) for p in processors):
        processors.append(PROCESSOR_FQCN)
    os.environ.setdefault("VLLM_USE_V2_MODEL_RUNNER", "0")
    return VLLM(LLM(str(model), logits_processors=processors, **llm_kwargs))


class VLLM:
    """A vLLM engine that typedgen generators can run on.

    Wraps an existing ``vllm.LLM``, which must have been built with typedgen's logits processor
    (``LLM(..., logits_processors=[typedgen.processors.PROCESSOR_FQCN])``, or use
    :func:`typedgen.models.vllm`); otherwise :class:`~typedgen.ModelError` says how to build it.
    """

    def __init__(self, llm: LLM) -> None:
        registered = llm.llm_engine.model_config.logits_processors or []
        if not any(_is_ours(p) for p in registered):
            raise ModelError(
                "this vllm.LLM was built without typedgen's logits processor, so constraints "
                "would be ignored; build it with typedgen.models.vllm(model, ...) or "
                f"vllm.LLM(model, logits_processors=[{PROCESSOR_FQCN!r}])"
            )
        self.llm = llm
        self._lora: LoRARequest | None = None
        self._lora_ids: dict[tuple[str, int], int] = {}

    @property
    def tokenizer(self) -> Any:
        """The engine's tokenizer."""
        return self.llm.get_tokenizer()

    @property
    def lora(self) -> LoRARequest | None:
        """The LoRA adapter that generations use, if any."""
        return self._lora

    def load_lora(self, path: str | os.PathLike[str] | None) -> None:
        """Use the LoRA adapter in folder ``path`` for later generations; ``None`` stops using one.

        Each distinct adapter (folder, and the modification time of its files) gets its own id,
        so switching adapters, or loading a folder whose files changed, never serves a stale one.
        The engine must have been built with ``enable_lora=True``.
        """
        if path is None:
            self._lora = None
            return
        from vllm.lora.request import LoRARequest

        if self.llm.llm_engine.vllm_config.lora_config is None:
            raise ModelError("LoRA adapters need an engine built with enable_lora=True")
        folder = Path(path).resolve()
        if not folder.is_dir():
            raise ModelError(f"no LoRA adapter folder at {str(folder)!r}")
        stamp = max((f.stat().st_mtime_ns for f in folder.iterdir() if f.is_file()), default=0)
        key = (str(folder), stamp)
        lora_id = self._lora_ids.setdefault(key, len(self._lora_ids) + 1)
        self._lora = LoRARequest(f"typedgen-{lora_id}", lora_id, str(folder))

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str | None:
        """The prompt text for chat ``messages`` through the tokenizer's chat template
        (with the assistant's turn opened), or ``None`` when the tokenizer has no template."""
        tokenizer = self.tokenizer
        if not getattr(tokenizer, "chat_template", None):
            return None
        rendered = tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return str(rendered)

    def generate(
        self, prompts: Sequence[str], params: Sequence[SamplingParams]
    ) -> list[RequestOutput]:
        """Run ``prompts`` as one vLLM batch (with the loaded LoRA adapter, if any)."""
        outputs: list[RequestOutput] = self.llm.generate(
            list(prompts), list(params), use_tqdm=False, lora_request=self._lora
        )
        return outputs


def _is_ours(processor: object) -> bool:
    """Whether a registered processor (a class, or its ``module:qualname``) is typedgen's
    processor or a subclass of it."""
    from typedgen.processors.vllm import TypedgenLogitsProcessor

    if isinstance(processor, str):
        module_name, _, qualname = processor.partition(":")
        try:
            found: object = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):  # vLLM itself failed on such a name already
            return False
        processor = found
    return isinstance(processor, type) and issubclass(processor, TypedgenLogitsProcessor)
