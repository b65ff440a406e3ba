"""Helpers for testing code built on typedgen: oracles for guides, real tokenizers available
offline, and a real vLLM server on loopback (:class:`VLLMServer`)."""

from typedgen.testing._oracles import (
    accepts_string,
    accepts_tokens,
    bitmask_to_bool,
    bool_to_bitmask,
    shortest_completion,
)
from typedgen.testing._server import SERVER_ARGS, VLLMServer
from typedgen.testing._strategies import accepted_bytes, regex_patterns
from typedgen.testing._tokenizers import load_tokenizer

__all__ = [
    "SERVER_ARGS",
    "VLLMServer",
    "accepted_bytes",
    "accepts_string",
    "accepts_tokens",
    "bitmask_to_bool",
    "bool_to_bitmask",
    "load_tokenizer",
    "regex_patterns",
    "shortest_completion",
]
