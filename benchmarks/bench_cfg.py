"""Context-free grammars → token masks: typedgen against llguidance (Lark) and xgrammar (GBNF /
EBNF), in one run.

Grammars: typedgen's shipped Lark grammars (``json``, ``arithmetic``, ``sql_select``) and four
llama.cpp-style example grammars written here in both syntaxes (``json``, ``arithmetic``,
``c-like``, ``list``). Lark texts go to typedgen and llguidance, GBNF texts to typedgen and
xgrammar (whose EBNF is GBNF). For every tokenizer (the 32k SentencePiece and the 131k tekken
vocabularies) and grammar, each engine compiles the grammar and fills the first mask (**TTFM**),
then walks a valid text token by token, filling the mask before each token (**mask time**,
first visits included). Engines get the same token bytes and the same token ids (the
tokenizer-level preparation of ``bench_fsm.py``, done once per tokenizer, outside the timings).

Run: ``.venv/bin/python benchmarks/bench_cfg.py [--tokenizers sentencepiece-32k tekken-131k]
[--repeat 3]``. Prints Markdown tables (ratios are the peer's figure over typedgen's).
"""

from __future__ import annotations

import argparse
import gc
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from bench_fsm import LLGuidance, Result, XGrammar, fmt_time, instance_ids, pct

import typedgen
from typedgen import Vocabulary
from typedgen._compiler import compile_grammar
from typedgen.testing import load_tokenizer

JSON_GBNF = r"""
root   ::= value
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
ws     ::= [ \t\n]*
"""

ARITHMETIC_GBNF = r"""
root  ::= expr
expr  ::= term (ws [-+] ws term)*
term  ::= factor (ws [*/] ws factor)*
factor ::= number | "-" factor | "(" ws expr ws ")"
number ::= [0-9]+ ("." [0-9]+)?
ws    ::= [ ]*
"""
ARITHMETIC_LARK = r"""
?start: expr
?expr: term (WS? ADD WS? term)*
?term: factor (WS? MUL WS? factor)*
?factor: NUMBER | "-" factor | "(" WS? expr WS? ")"
NUMBER: /[0-9]+(\.[0-9]+)?/
ADD: "+" | "-"
MUL: "*" | "/"
WS: / +/
"""

C_GBNF = r"""
root      ::= (declaration)*
declaration ::= type " " ident "(" params? ")" " "? block "\n"
type      ::= "int" | "float" | "void" | "char"
params    ::= type " " ident ("," " "? type " " ident)*
block     ::= "{" "\n" (stmt)* "}"
stmt      ::= "  " ( type " " ident " = " expr ";" | ident " = " expr ";"
              | "return " expr ";" | "if (" expr ") " block | "while (" expr ") " block ) "\n"
expr      ::= operand (" " [-+*/<>] " " operand)*
operand   ::= ident | [0-9]+ | ident "(" (expr ("," " "? expr)*)? ")" | "(" expr ")"
ident     ::= [a-z_] [a-z0-9_]*
"""
C_LARK = r"""
start: declaration*
declaration: type " " IDENT "(" [params] ")" [" "] block "\n"
type: "int" | "float" | "void" | "char"
params: type " " IDENT ("," [" "] type " " IDENT)*
block: "{" "\n" stmt* "}"
stmt: "  " (type " " IDENT " = " expr ";" | IDENT " = " expr ";" | "return " expr ";"
    | "if (" expr ") " block | "while (" expr ") " block) "\n"
expr: operand (" " OP " " operand)*
operand: IDENT | INT | IDENT "(" [expr ("," [" "] expr)*] ")" | "(" expr ")"
OP: /[-+*\/<>]/
INT: /[0-9]+/
IDENT: /[a-z_][a-z0-9_]*/
"""

LIST_GBNF = r"""
root ::= item+
item ::= "- " [^\r\n\x0b\x0c\x85\u2028\u2029]+ "\n"
"""
LIST_LARK = r"""
start: item+
item: "- " /[^\r\n\x0b\x0c\x85\u2028\u2029]+/ "\n"
"""

C_TEXT = (
    "int add(int a, int b) {\n  return a + b;\n}\n"
    "void main() {\n  int x = add(1, 2);\n  while (x < 10) {\n  x = x * 2;\n}\n}\n"
)
JSON_TEXT = '{"name": "Ada", "tags": ["math", "poetry"], "born": 1815, "nested": {"ok": true}}'


@dataclass
class Case:
    name: str
    syntax: str
    grammar: str
    text: str


def cases() -> list[Case]:
    return [
        Case("json (shipped)", "lark", typedgen.grammars.json, JSON_TEXT),
        Case("arithmetic (shipped)", "lark", typedgen.grammars.arithmetic, "(1 + 2.5) * -3 / 4"),
        Case(
            "sql_select (shipped)",
            "lark",
            typedgen.grammars.sql_select,
            "SELECT name, count(*) AS n FROM users u WHERE age > 30 GROUP BY name LIMIT 5",
        ),
        Case("json", "gbnf", JSON_GBNF, JSON_TEXT),
        Case("arithmetic", "lark", ARITHMETIC_LARK, "(1 + 2.5) * -3 / 4"),
        Case("arithmetic", "gbnf", ARITHMETIC_GBNF, "(1 + 2.5) * -3 / 4"),
        Case("c-like", "lark", C_LARK, C_TEXT),
        Case("c-like", "gbnf", C_GBNF, C_TEXT),
        Case("list", "lark", LIST_LARK, "- apples\n- pears and plums\n- 12 eggs\n"),
        Case("list", "gbnf", LIST_GBNF, "- apples\n- pears and plums\n- 12 eggs\n"),
    ]


class Typedgen:
    name = "typedgen"

    def prepare(self, vocab: Vocabulary, tokenizer: Any) -> None:
        self.vocab = vocab
        vocab.trie  # noqa: B018 (built once per vocabulary)
        self.out = np.zeros((1, (vocab.size + 31) // 32), dtype=np.int32)

    def run(self, case: Case, ids: list[int]) -> Result:
        result = Result()
        t0 = time.perf_counter()
        guide = compile_grammar(case.grammar, self.vocab, syntax=case.syntax)  # type: ignore[arg-type]
        state = guide.initial_state
        guide.fill_bitmask(state, self.out)
        result.ttfm = time.perf_counter() - t0
        for token in ids:
            t0 = time.perf_counter()
            guide.fill_bitmask(state, self.out)
            result.masks.append(time.perf_counter() - t0)
            state = guide.advance(state, token)
        if not guide.is_final(state):
            result.error = "text not accepted"
        return result


class LLGuidanceLark(LLGuidance):
    def grammar(self, case: Any) -> Any:
        return self.llg.LLMatcher.grammar_from_lark(case.grammar)


class XGrammarEbnf(XGrammar):
    def compile(self, case: Any) -> Any:
        return self.compiler.compile_grammar(case.grammar)


def best_of(engine: Any, case: Case, ids: list[int], repeat: int) -> Result:
    best: Result | None = None
    for _ in range(repeat):
        gc.collect()
        try:
            result = engine.run(case, ids)
        except Exception as exc:  # an engine refusing a grammar
            return Result(error=f"{type(exc).__name__}: {str(exc)[:80]}")
        if result.error:
            return result
        if best is None or result.ttfm < best.ttfm:
            best = result
    assert best is not None
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizers", nargs="+", default=["sentencepiece-32k", "tekken-131k"])
    parser.add_argument("--repeat", type=int, default=3, help="fresh runs per grammar (best kept)")
    args = parser.parse_args()
    all_cases = cases()
    for tok_name in args.tokenizers:
        tokenizer = load_tokenizer(tok_name)
        vocab = Vocabulary.from_tokenizer(tokenizer)
        print(f"\n## {tok_name} (vocabulary size {vocab.size})\n")
        engines: dict[str, Any] = {"lark": LLGuidanceLark(), "gbnf": XGrammarEbnf()}
        ours = Typedgen()
        for engine in (ours, *engines.values()):
            engine.prepare(vocab, tokenizer)
        print("| grammar | syntax | tokens | engine | TTFM | mask p50 | mask p99 | mask max |")
        print("|---|---|---|---|---|---|---|---|")
        totals: dict[str, list[float]] = {}
        for case in all_cases:
            ids = instance_ids(tokenizer, vocab, case.text)
            peer = engines[case.syntax]
            for engine in (ours, peer):
                result = best_of(engine, case, ids, args.repeat)
                label = engine.name if engine is ours else f"{engine.name} ({case.syntax})"
                if result.error:
                    print(f"| {case.name} | {case.syntax} | {len(ids)} | {label} | "
                          f"failed: {result.error} | | | |")  # fmt: skip
                    continue
                totals.setdefault(label, []).extend(result.masks)
                print(
                    f"| {case.name} | {case.syntax} | {len(ids)} | {label} | "
                    f"{fmt_time(result.ttfm)} | {fmt_time(pct(result.masks, 0.5))} | "
                    f"{fmt_time(pct(result.masks, 0.99))} | {fmt_time(max(result.masks))} |"
                )
        print("\n| engine | masks | p50 | p99 |\n|---|---|---|---|")
        for label, masks in totals.items():
            print(
                f"| {label} | {len(masks)} | {fmt_time(pct(masks, 0.5))} | "
                f"{fmt_time(pct(masks, 0.99))} |"
            )


if __name__ == "__main__":
    main()
