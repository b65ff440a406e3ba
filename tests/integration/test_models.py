"""typedgen.models on vLLM: building, wrapping, LoRA adapters, the multi-process engine."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import typedgen

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
SamplingParams = vllm.SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=8)
# read when the tests are collected, before any fixture builds an engine
RUNNER_AT_START = os.environ.get("VLLM_USE_V2_MODEL_RUNNER")


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

    def run(adapter: Path | None) -> tuple[str, Any]:
        model = tiny_model.load_lora(adapter)
        return typedgen.generate.text(model)("Hello there", sampling_params=GREEDY), model.lora

    base, none = run(None)
    with_first, first_lora = run(first)
    with_second, second_lora = run(second)
    assert none is None and tiny_model.lora is None
    assert len({base, with_first, with_second}) == 3
    assert first_lora.lora_int_id != second_lora.lora_int_id
    again, lora = run(first)
    assert again == with_first and lora.lora_int_id == first_lora.lora_int_id
    # the same folder with new files is a new adapter, with a new id
    shutil.rmtree(first)
    shutil.copytree(second, first)
    os.utime(first / "adapter_model.safetensors")
    changed, lora = run(first)
    assert changed == with_second
    assert lora.lora_int_id not in (first_lora.lora_int_id, second_lora.lora_int_id)
    # constrained generation with an adapter
    text = typedgen.generate.regex(tiny_model.load_lora(second), "[a-z]{5}")("Hi", max_tokens=20)
    assert len(text) == 5


def test_load_lora_leaves_the_model_and_its_generators_alone(
    tiny_model: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """load_lora returns an adapted model on the same engine; the model it was called on,
    and every generator built on it, keep the base model (a call's lora= still applies)."""
    adapter = make_adapter(tiny_model_dir, tmp_path / "adapter", seed=3)
    story = typedgen.generate.text(tiny_model)
    base = story("Once upon a time", sampling_params=GREEDY)
    adapted = tiny_model.load_lora(adapter)
    assert adapted is not tiny_model and adapted.llm is tiny_model.llm
    tuned = typedgen.generate.text(adapted)("Once upon a time", sampling_params=GREEDY)
    assert tuned != base
    assert tiny_model.lora is None
    assert story("Once upon a time", sampling_params=GREEDY) == base
    assert story("Once upon a time", sampling_params=GREEDY, lora=adapter) == tuned
    assert adapted.load_lora(None).lora is None and adapted.lora is not None


def test_models_on_one_engine_take_turns(tiny_model: Any) -> None:
    """Two models wrapping one vllm.LLM (and a typed function on one of them) called from
    threads at once: each call gets all its outputs. A lock per wrapper let two threads step
    the engine together, each dropping the other's outputs."""
    again = typedgen.models.VLLM(tiny_model.llm)
    digits = typedgen.generate.regex(again, "[0-9]{6}")

    @typedgen.fn(model=tiny_model, max_tokens=12)
    def flag(text: str) -> bool:
        """Is it positive?"""

    calls: dict[str, Callable[[], list[Any]]] = {
        "words": lambda: typedgen.generate.regex(tiny_model, "[a-z]{6}")(
            ["a"] * 6, max_tokens=12, seed=0
        ),
        "numbers": lambda: digits(["1"] * 6, max_tokens=12, seed=0),
        "flags": lambda: flag.map(["good"] * 4, progress=False),
    }
    results: dict[str, list[Any]] = {}
    threads = [
        threading.Thread(target=lambda k=k, c=c: results.update({k: c()}), daemon=True)
        for k, c in calls.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert sorted(results) == sorted(calls), "a call never got its outputs"
    words, numbers, flags = results["words"], results["numbers"], results["flags"]
    assert len(words) == 6 and all(w.isalpha() and len(w) == 6 for w in words)
    assert len(numbers) == 6 and all(n.isdigit() and len(n) == 6 for n in numbers)
    assert len(flags) == 4 and all(isinstance(f, bool) for f in flags)


def test_building_an_engine_leaves_the_environment_alone(tiny_model: Any) -> None:
    """The V1 model runner is chosen for the build only (vLLM reads it from the
    environment); the process's environment is what it was before."""
    assert os.environ.get("VLLM_USE_V2_MODEL_RUNNER") == RUNNER_AT_START
    assert typedgen.generate.regex(tiny_model, "[0-9]{3}")("x", max_tokens=8).isdigit()


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
