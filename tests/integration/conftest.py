"""Fixtures for tests on a real vLLM engine (marker ``vllm``).

Most tests share one in-process engine around a tiny random-weight Llama (hidden 64, two heads
of 32, two layers) built at test time with a real tokenizer: it starts in seconds, and random
weights try hard to break a constraint. A few tests use the embedded default model.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TINY_LLM_KWARGS: dict[str, Any] = {
    "dtype": "float32",
    "max_model_len": 1024,
    "max_num_seqs": 32,
    "enforce_eager": True,
    "seed": 0,
}


def build_tiny_llama(folder: Path, tokenizer_name: str) -> Path:
    """Save a tiny random-weight Llama with the real tokenizer ``tokenizer_name`` in ``folder``."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from typedgen.testing import load_tokenizer

    try:
        tokenizer = load_tokenizer(tokenizer_name)
    except FileNotFoundError as exc:
        pytest.skip(f"tokenizer {tokenizer_name} is not available here: {exc}")
    tokenizer.save_pretrained(str(folder))
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), "smollm2-49k")


@pytest.fixture(scope="session")
def sentencepiece_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-sp"), "sentencepiece-32k")


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> Iterator[Any]:
    """The shared engine: typedgen.models.vllm on the tiny Llama, with LoRA enabled."""
    import typedgen

    model = typedgen.models.vllm(
        tiny_model_dir, enable_lora=True, max_lora_rank=8, **TINY_LLM_KWARGS
    )
    yield model


@pytest.fixture(scope="session")
def default_model() -> Any:
    import typedgen

    try:
        return typedgen.models.default(max_model_len=2048, enforce_eager=True, seed=0)
    except typedgen.ModelNotInstalledError as exc:
        pytest.skip(str(exc))
