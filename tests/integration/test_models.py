"""typedgen.models on vLLM: building, wrapping, LoRA adapters, the multi-process engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import typedgen

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
SamplingParams = vllm.SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=8)


def make_adapter(model_dir: Path, out: Path, seed: int) -> Path:
    """A LoRA adapter with random (non-zero) weights for the tiny model, saved with peft."""
    torch = pytest.importorskip("torch")
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(str(model_dir))
    config = peft.LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    peft.get_peft_model(base, config).save_pretrained(str(out))
    return out


def test_lora_switching_never_serves_a_stale_adapter(
    tiny_model: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    first = make_adapter(tiny_model_dir, tmp_path / "first", seed=1)
    second = make_adapter(tiny_model_dir, tmp_path / "second", seed=2)
    generator = typedgen.generate.text(tiny_model)

    def run(adapter: Path | None) -> str:
        tiny_model.load_lora(adapter)
        return generator("Hello there", sampling_params=GREEDY)

    try:
        base = run(None)
        with_first = run(first)
        first_id = tiny_model.lora.lora_int_id
        with_second = run(second)
        second_id = tiny_model.lora.lora_int_id
        assert len({base, with_first, with_second}) == 3
        assert first_id != second_id
        assert run(first) == with_first and tiny_model.lora.lora_int_id == first_id
        assert run(None) == base and tiny_model.lora is None
        # the same folder with new files is a new adapter, with a new id
        shutil.rmtree(first)
        shutil.copytree(second, first)
        os.utime(first / "adapter_model.safetensors")
        assert run(first) == with_second
        assert tiny_model.lora.lora_int_id not in (first_id, second_id)
        # constrained generation with an adapter
        tiny_model.load_lora(second)
        text = typedgen.generate.regex(tiny_model, "[a-z]{5}")("Hi", max_tokens=20, seed=1)
        assert len(text) == 5
    finally:
        tiny_model.load_lora(None)


def test_lora_needs_enable_lora_and_a_folder(tiny_model: Any, tmp_path: Path) -> None:
    with pytest.raises(typedgen.ModelError, match="no LoRA adapter folder"):
        tiny_model.load_lora(tmp_path / "missing")


def test_wrapping_an_existing_llm(tiny_model: Any) -> None:
    again = typedgen.models.VLLM(tiny_model.llm)
    assert typedgen.generate.regex(again, "[0-9]{2}")("x", max_tokens=10, seed=0).isdigit()


def _run_script(script: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow
def test_wrapping_an_llm_without_our_processor_is_refused(tiny_model_dir: Path) -> None:
    out = _run_script(
        f"""
        import vllm, typedgen
        llm = vllm.LLM({str(tiny_model_dir)!r}, dtype="float32", max_model_len=256,
                       enforce_eager=True)
        try:
            typedgen.models.VLLM(llm)
        except typedgen.ModelError as exc:
            print("REFUSED", exc)
        """,
        {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"},
    )
    assert "REFUSED" in out and "logits_processors" in out


@pytest.mark.slow
def test_multiprocess_engine(sentencepiece_model_dir: Path) -> None:
    """The default engine mode (engine core in a spawned process), on a SentencePiece
    tokenizer: the processor is imported there by name, and validation still refuses bad
    constraints with typedgen's errors."""
    folder = sentencepiece_model_dir
    out = _run_script(
        f"""
        import re, typedgen
        from vllm import SamplingParams
        model = typedgen.models.vllm(
            {str(folder)!r}, dtype="float32", max_model_len=512, enforce_eager=True)
        params = SamplingParams(n=4, temperature=1.0, max_tokens=60, seed=1)
        texts = typedgen.generate.regex(model, r"[A-Z][a-z]{{1,6}}( [0-9]{{2}})?")(
            ["a", "b"], sampling_params=params)
        assert all(re.fullmatch(r"[A-Z][a-z]{{1,6}}( [0-9]{{2}})?", t) for ts in texts for t in ts)
        points = typedgen.generate.json(model, {{"type": "array", "items": {{"enum": [1, 2]}},
                                                "maxItems": 3}})("c", sampling_params=params)
        assert all(set(p) <= {{1, 2}} and len(p) <= 3 for p in points), points
        try:
            model.llm.generate(["x"], SamplingParams(extra_args={{"typedgen_regex": "(("}}))
        except Exception as exc:
            print("REFUSED", type(exc.__cause__).__name__)
        print("OK")
        """,
        {"VLLM_ENABLE_V1_MULTIPROCESSING": "1"},
    )
    assert "REFUSED RegexError" in out and "OK" in out
