"""typedgen: type annotations in, valid-by-construction LLM output out.

The public API is re-exported here from private modules. Names are resolved lazily, so
``import typedgen`` is fast and never imports vLLM or torch; those are imported only by
:mod:`typedgen.models`, :mod:`typedgen.generate`, :mod:`typedgen.processors.vllm` and the opt-in
:mod:`typedgen.torch` when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from typedgen._errors import (
    GenerationError,
    GrammarError,
    GrammarLimitError,
    GuideError,
    ModelError,
    ModelNotInstalledError,
    NotSupportedError,
    RegexError,
    SchemaError,
    ServerError,
    StateLimitError,
    TruncatedGenerationError,
    TypedgenError,
    UsageError,
    VocabularyError,
)

if TYPE_CHECKING:
    from typedgen import generate, grammars, models, testing
    from typedgen._compiler import Compiler, compile_grammar, compile_json_schema, compile_regex
    from typedgen._fsm import Guide
    from typedgen._function import Failure, fn
    from typedgen._matcher import Matcher
    from typedgen._prompt import Task, default_prompt, describe, fields_prompt
    from typedgen._schema import Whitespace, json_schema_to_grammar, json_schema_to_regex
    from typedgen._types import schema_of
    from typedgen._vocab import Vocabulary

__version__ = "0.1.0"

__all__ = [
    "Compiler",
    "Failure",
    "GenerationError",
    "GrammarError",
    "GrammarLimitError",
    "Guide",
    "GuideError",
    "Matcher",
    "ModelError",
    "ModelNotInstalledError",
    "NotSupportedError",
    "RegexError",
    "SchemaError",
    "ServerError",
    "StateLimitError",
    "Task",
    "TruncatedGenerationError",
    "TypedgenError",
    "UsageError",
    "Vocabulary",
    "VocabularyError",
    "Whitespace",
    "__version__",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
    "default_prompt",
    "describe",
    "fields_prompt",
    "fn",
    "generate",
    "grammars",
    "json_schema_to_grammar",
    "json_schema_to_regex",
    "models",
    "schema_of",
    "testing",
]

# public name -> private module that defines it
_LAZY: dict[str, str] = {
    "Compiler": "typedgen._compiler",
    "Failure": "typedgen._function",
    "Guide": "typedgen._fsm",
    "Matcher": "typedgen._matcher",
    "Task": "typedgen._prompt",
    "Vocabulary": "typedgen._vocab",
    "Whitespace": "typedgen._schema",
    "compile_grammar": "typedgen._compiler",
    "compile_json_schema": "typedgen._compiler",
    "compile_regex": "typedgen._compiler",
    "default_prompt": "typedgen._prompt",
    "describe": "typedgen._prompt",
    "fields_prompt": "typedgen._prompt",
    "fn": "typedgen._function",
    "json_schema_to_grammar": "typedgen._schema",
    "json_schema_to_regex": "typedgen._schema",
    "schema_of": "typedgen._types",
}
_SUBMODULES = frozenset({"generate", "grammars", "models", "testing"})


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"typedgen.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'typedgen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
