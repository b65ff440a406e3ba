"""generate.cfg on a real vLLM engine (tiny random-weight Llama, real tokenizer), sampling at
temperature 1.0 with n = 4: every output is derived by the grammar (lark's Earley parser is the
oracle), for the shipped Lark grammars and a GBNF grammar, in one batch."""

from __future__ import annotations

from typing import Any

import pytest

import typedgen

pytestmark = pytest.mark.vllm

vllm = pytest.importorskip("vllm")
lark = pytest.importorskip("lark")

PROMPTS = ["The answer is", "Once upon a time"]

LIST_GBNF = r"""
root ::= "[" item ("," " "? item){0,3} "]"
item ::= [a-z]{1,6} | [0-9]{1,3}
"""


def parses(grammar: str, text: str) -> bool:
    try:
        lark.Lark(grammar, parser="earley", lexer="dynamic_complete").parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


@pytest.mark.parametrize("name", ["json", "arithmetic", "sql_select"])
def test_cfg_outputs_are_derived_by_the_grammar(tiny_model: Any, name: str) -> None:
    grammar = getattr(typedgen.grammars, name)
    params = vllm.SamplingParams(n=4, temperature=1.0, max_tokens=60, seed=11)
    results = typedgen.generate.cfg(tiny_model, grammar)(PROMPTS, sampling_params=params)
    outputs = [text for per_prompt in results for text in per_prompt]  # type: ignore[union-attr]
    assert len(outputs) == 8
    for text in outputs:
        assert parses(grammar, text), text


def test_cfg_gbnf(tiny_model: Any) -> None:
    params = vllm.SamplingParams(n=4, temperature=1.0, max_tokens=40, seed=3)
    results = typedgen.generate.cfg(tiny_model, LIST_GBNF)(PROMPTS, sampling_params=params)
    guide = typedgen.compile_grammar(LIST_GBNF, typedgen.Vocabulary.of_bytes())
    for per_prompt in results:
        assert len(per_prompt) == 4  # type: ignore[arg-type]
        for text in per_prompt:  # type: ignore[union-attr]
            assert typedgen.testing.accepts_string(guide, text), text


def test_cfg_refuses_a_bad_grammar(tiny_model: Any) -> None:
    with pytest.raises(typedgen.GrammarError):
        typedgen.generate.cfg(tiny_model, "start: A\nA: /a(?=b)/")
