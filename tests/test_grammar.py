"""The grammar engine (``typedgen.compile_grammar``), with lark's Earley parser as the oracle.

(a) random walks over the masks of the shipped grammars and of generated grammars end in text
    that lark accepts, and the walk's prefixes stay live (every state can finish);
(b) membership agrees with lark on valid texts, on their one-character mutations, and on random
    strings over a generated grammar's alphabet;
(c) GBNF and Lark versions of the same grammar accept the same texts;
(d) distances are shortest completions, and budget-restricted walks always finish in budget;
(e) what cannot be honoured exactly is refused with GrammarError naming the rule and line,
    and the limits raise GrammarLimitError naming their option;
(f) the statistical no-bias test: sampling with the masks draws each token sequence as often
    as sampling from the exact allowed sets (found by brute force with lark) predicts.
"""

from __future__ import annotations

import itertools
import math
import random
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import typedgen
from typedgen import GrammarError, GrammarLimitError, Guide, GuideError, Vocabulary
from typedgen._compiler import compile_grammar
from typedgen.testing import (
    bitmask_to_bool,
    load_tokenizer,
    shortest_completion,
)
from typedgen.torch import allocate_token_bitmask

lark = pytest.importorskip("lark")

QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHIPPED = ["json", "arithmetic", "sql_select"]


@cache
def oracle(grammar: str, start: str = "start") -> Any:
    return lark.Lark(grammar, parser="earley", lexer="dynamic_complete", start=start)


def lark_accepts(grammar: str, text: str) -> bool:
    try:
        oracle(grammar).parse(text)
    except lark.exceptions.LarkError:
        return False
    return True


@cache
def byte_guide(grammar: str) -> Guide:
    return compile_grammar(grammar, Vocabulary.of_bytes())


def accepts(guide: Guide, text: str) -> bool:
    try:
        state = guide.advance_bytes(guide.initial_state, text.encode())
    except GuideError:
        return False
    return guide.is_final(state)


@cache
def short_tokens(vocabulary: Vocabulary) -> np.ndarray:
    """Per token id: True for tokens of one or two bytes."""
    lengths = [len(vocabulary.trie.token_bytes(t) or b"") for t in range(len(vocabulary.trie))]
    short = np.zeros(vocabulary.size, dtype=bool)
    short[: len(lengths)] = [0 < n <= 2 for n in lengths]
    return short


def walk(guide: Guide, rng: random.Random, vocabulary: Vocabulary, steps: int) -> bytes | None:
    """A random walk over the masks (short tokens favoured, so that structure shows up):
    the text of a walk that ended with EOS, None when it ran out of steps."""
    out = bytearray()
    state = guide.initial_state
    bitmask = allocate_token_bitmask(1, vocabulary.size)
    eos = np.zeros(vocabulary.size, dtype=bool)
    eos[list(vocabulary.eos_token_ids)] = True
    for _ in range(steps):
        guide.fill_bitmask(state, bitmask)
        allowed = bitmask_to_bool(bitmask[0], vocabulary.size)
        assert allowed.any(), "a live state allows some token"
        if (allowed & eos).any() and rng.random() < 0.15:
            return bytes(out)
        short = np.flatnonzero(allowed & ~eos & short_tokens(vocabulary))
        choices = short if len(short) and rng.random() < 0.8 else np.flatnonzero(allowed)
        token = int(choices[rng.randrange(len(choices))])
        if eos[token]:
            return bytes(out)
        out += vocabulary.trie.token_bytes(token) or b""
        state = guide.advance(state, token)
    return None


# --------------------------------------------------------------------------------------------
# (a) random walks on the shipped grammars


@pytest.mark.parametrize("name", SHIPPED)
def test_a_walks_on_shipped_grammars_are_accepted_by_lark(name: str) -> None:
    grammar = getattr(typedgen.grammars, name)
    guide = byte_guide(grammar)
    rng = random.Random(name)
    finished = 0
    for _ in range(40):
        text = walk(guide, rng, Vocabulary.of_bytes(), 120)
        if text is not None:
            finished += 1
            assert lark_accepts(grammar, text.decode()), text
    assert finished >= 10


@pytest.mark.parametrize("tokenizer", ["gpt2-50k"])
def test_a_walks_with_real_tokenizers(tokenizer: str) -> None:
    try:
        vocabulary = Vocabulary.from_tokenizer(load_tokenizer(tokenizer))
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    rng = random.Random(tokenizer)
    for name in SHIPPED:
        grammar = getattr(typedgen.grammars, name)
        guide = compile_grammar(grammar, vocabulary)
        for _ in range(4):
            text = walk(guide, rng, vocabulary, 40)
            if text is not None:
                assert lark_accepts(grammar, text.decode()), (name, text)


# --------------------------------------------------------------------------------------------
# (b) agreement with lark on chosen texts and their mutations

VALID = {
    "json": ['{"a": [1, 2.5e3, true, null], "b": {"c": "d\\n"}}', " [ ] ", '"\\u00e9"', "-0"],
    "arithmetic": ["1+2*3", "-(4 / 2.5) - -1", "((7))", "1 * 2 * 3 - 4"],
    "sql_select": [
        "SELECT a, b FROM t WHERE x = 1 AND y < 2",
        "select distinct count(*) as n from users u left join orders o on u.id = o.uid "
        "group by u.id having count(*) > 2 order by n desc limit 10;",
        "SELECT * FROM t WHERE name LIKE 'a%' OR NOT x IS NULL",
        "SELECT x FROM t WHERE y BETWEEN 1 AND 3 AND z NOT IN (1, 2)",
    ],
}
INVALID = {
    "json": ["{", "[1,]", "01", '{"a" 1}', "tru", '"\n"'],
    "arithmetic": ["1+", "()", "1 2", "*3"],
    "sql_select": [
        "SELECT FROM t",
        "SELECT a",
        "SELECT a FROM t WHERE x",
        "SELECT a FROM t LIMIT 1.5",
    ],
}


@pytest.mark.parametrize("name", SHIPPED)
def test_b_membership_agrees_with_lark(name: str) -> None:
    grammar = getattr(typedgen.grammars, name)
    guide = byte_guide(grammar)
    rng = random.Random(0)
    for text in VALID[name]:
        assert lark_accepts(grammar, text) and accepts(guide, text), text
    for text in INVALID[name]:
        assert not lark_accepts(grammar, text) and not accepts(guide, text), text
    alphabet = sorted(set("".join(VALID[name])))
    for text in VALID[name]:
        for _ in range(25):
            i = rng.randrange(len(text) + 1)
            c = rng.choice(alphabet)
            mutated = rng.choice([text[:i] + c + text[i:], text[:i] + text[i + 1 :]])
            assert accepts(guide, mutated) == lark_accepts(grammar, mutated), mutated


# generated grammars: rules over three terminals, with recursion, repeats and options
TERMINALS = ['"a"', '"b"', "/c+/", '"(" ', '")"']


def expressions(rules: list[str]) -> st.SearchStrategy[str]:
    leaves = st.sampled_from(TERMINALS + rules)
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(" ".join),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " | ".join(xs) + ")"),
            st.tuples(inner, st.sampled_from(["*", "+", "?"])).map(lambda x: f"({x[0]}){x[1]}"),
            inner.map(lambda x: f"[{x}]"),
        ),
        max_leaves=6,
    )


@st.composite
def grammars(draw: st.DrawFn) -> str:
    names = ["start", "x", "y"]
    lines = []
    for name in names:
        alternatives = draw(st.lists(expressions(names), min_size=1, max_size=3))
        if draw(st.booleans()):  # direct left recursion, as lark makes of repeats
            alternatives.append(f"{name} {draw(st.sampled_from(TERMINALS))}")
        lines.append(f"{name}: " + " | ".join(alternatives))
    return "\n".join(lines) + '\n%ignore " "\n'


@QUICK
@given(grammar=grammars(), data=st.data())
def test_b_generated_grammars_agree_with_lark(grammar: str, data: st.DataObject) -> None:
    try:
        oracle(grammar)
    except lark.exceptions.LarkError:
        assume(False)
    try:
        guide = byte_guide(grammar)
    except GrammarError as exc:
        assert "left recursion" in str(exc) or "matches no string" in str(exc), exc
        assume(False)
        raise
    rng = random.Random(data.draw(st.integers(0, 2**16)))
    for _ in range(5):  # walks: sound
        text = walk(guide, rng, Vocabulary.of_bytes(), 40)
        if text is not None:
            assert lark_accepts(grammar, text.decode()), text
    strings = st.text(alphabet="abc() ", max_size=8)
    for text in data.draw(st.lists(strings, min_size=10, max_size=10)):  # membership: exact
        assert accepts(guide, text) == lark_accepts(grammar, text), text


# --------------------------------------------------------------------------------------------
# (c) GBNF

JSON_GBNF = r"""
# JSON, llama.cpp style
root   ::= ws value ws
value  ::= object | array | string | number | ("true" | "false" | "null")
object ::=
  "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\""
number ::= "-"? ("0" | [1-9] [0-9]*) ("." [0-9]+)? ([eE] [-+]? [0-9]+)?
ws     ::= [ \t\n\r]*
"""


def test_c_gbnf_json_agrees_with_the_lark_json() -> None:
    gbnf = byte_guide(JSON_GBNF)
    lark_json = byte_guide(typedgen.grammars.json)
    rng = random.Random(3)
    for guide, other in [(gbnf, lark_json), (lark_json, gbnf)]:
        for _ in range(30):
            text = walk(guide, rng, Vocabulary.of_bytes(), 80)
            if text is not None:
                assert accepts(other, text.decode()), text
    for text in VALID["json"]:
        assert accepts(gbnf, text)
    for text in INVALID["json"]:
        assert not accepts(gbnf, text)


def test_c_gbnf_syntax() -> None:
    guide = byte_guide('root ::= "a"{2,3} [x-z]+ ("!" | end)?\nend ::= "." | "?" # comment\n')
    for text, ok in [
        ("aax", True),
        ("aaayz!", True),
        ("aax?", True),
        ("ax", False),
        ("aaaax", False),
        ("aa", False),
        ("aax!.", False),
    ]:
        assert accepts(guide, text) == ok, text
    assert accepts(byte_guide('root ::= [^a] "\\x41" "\\n"'), "bA\n")


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('root ::= "a"\nroot ::= "b"', 2, "defined twice"),
        ("root ::= x\n\nx ::= y", 3, "undefined rule y"),
        ('root ::= "a" (\n', 1, "unclosed"),
        ('root ::= "a"\n  "b" @', 2, "syntax error"),
        ("root ::= [z-a]", 1, "reversed"),
    ],
)
def test_c_gbnf_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(GrammarError, match=message) as info:
        compile_grammar(text, Vocabulary.of_bytes())
    assert info.value.line == line


# --------------------------------------------------------------------------------------------
# (d) distances and budgets


@pytest.mark.parametrize("name", SHIPPED)
def test_d_distance_is_the_shortest_completion(name: str) -> None:
    guide = byte_guide(getattr(typedgen.grammars, name))
    for text in VALID[name]:
        encoded = text.encode()
        for cut in range(0, len(encoded), max(1, len(encoded) // 6)):
            state = guide.advance_bytes(guide.initial_state, encoded[:cut])
            assert guide.distance_to_final(state) == shortest_completion(guide, state), cut


def test_d_max_distance() -> None:
    assert byte_guide(typedgen.grammars.json).max_distance >= 2**29  # recursive: unbounded
    flat = byte_guide('start: "ab" ("c" | "de") "f"')
    assert flat.max_distance == 4  # the initial state
    assert flat.distance_to_final(flat.initial_state) == 4


@pytest.mark.parametrize("name", SHIPPED)
def test_d_budget_walks_finish_within_budget(name: str) -> None:
    guide = byte_guide(getattr(typedgen.grammars, name))
    vocabulary = Vocabulary.of_bytes()
    rng = random.Random(name)
    out = allocate_token_bitmask(1, vocabulary.size)
    for _ in range(12):
        state = guide.initial_state
        budget = guide.distance_to_final(state) + 1 + rng.randrange(12)
        while True:
            assert budget >= 1
            assert guide.fill_bitmask_within(state, budget, out)
            allowed = np.flatnonzero(bitmask_to_bool(out[0], vocabulary.size))
            token = int(rng.choice(allowed))
            state = guide.advance(state, token)
            budget -= 1
            if state == Guide.finished_state:
                break


# --------------------------------------------------------------------------------------------
# (e) refusals and limits


@pytest.mark.parametrize(
    ("grammar", "rule", "line", "message"),
    [
        ("start: A\nA: /a(?=b)/", "A", 2, "lookahead"),
        ("start: A\n%declare A", "start", 1, "declare"),
        ('start: a\na: b "x" | "y"\nb: a "z"', "a", 2, "left recursion through a -> b -> a"),
        ('start: x start "a" | "b"\nx: "c"?', "start", 1, "left recursion"),
        ("start: A\nA: /abc/i", "A", 2, "flags"),
        ('start: "a" start', "start", 1, "matches no string"),
    ],
)
def test_e_refusals_name_the_rule_and_line(
    grammar: str, rule: str, line: int, message: str
) -> None:
    with pytest.raises(GrammarError, match=message) as info:
        compile_grammar(grammar, Vocabulary.of_bytes())
    assert (info.value.rule, info.value.line) == (rule, line)


def test_e_lark_syntax_error_has_its_line() -> None:
    with pytest.raises(GrammarError) as info:
        compile_grammar('start: "a"\nb: "x" (', Vocabulary.of_bytes())
    assert info.value.line == 2


def test_e_case_insensitive_strings_and_escaped_string() -> None:
    guide = byte_guide('start: "select"i ESCAPED_STRING\n%import common.ESCAPED_STRING')
    for text in ['SeLeCt"a\\"b"', 'select""']:
        assert accepts(guide, text)
    for text in ['select"a"b"', 'select"\n"', "selec"]:
        assert not accepts(guide, text)


def test_e_limits() -> None:
    deep = "[" * 30
    guide = compile_grammar(typedgen.grammars.json, Vocabulary.of_bytes(), max_stack_depth=12)
    with pytest.raises(GrammarLimitError) as info:
        guide.advance_bytes(guide.initial_state, deep.encode())
    assert info.value.option == "max_stack_depth"
    guide = compile_grammar(typedgen.grammars.json, Vocabulary.of_bytes(), max_states=20)
    with pytest.raises(GrammarLimitError) as info:
        guide.advance_bytes(guide.initial_state, b'{"a": [1, 2, {"b": null}]}')
    assert info.value.option == "max_states"
    with pytest.raises(GrammarLimitError) as info:
        compile_grammar(typedgen.grammars.sql_select, Vocabulary.of_bytes(), timeout=0)
    assert info.value.option == "timeout"
    ambiguous = 'start: x*\nx: "a" | "a" "a" | y\ny: "a"+'
    guide = compile_grammar(ambiguous, Vocabulary.of_bytes(), max_threads=3)
    with pytest.raises(GrammarLimitError) as info:
        guide.advance_bytes(guide.initial_state, b"aaaa")
    assert info.value.option == "max_threads"


# --------------------------------------------------------------------------------------------
# (f) no bias

FINITE = 'start: x x\nx: "a" | "b" y\ny: "a"? "c"'
PIECES = [b"a", b"b", b"c", b"ab", b"ba", b"bc", b"ca", b"abc"]


def test_f_sampling_with_masks_is_unbiased() -> None:
    vocabulary = Vocabulary([*PIECES, None], eos_token_ids=[len(PIECES)])
    eos = len(PIECES)
    language = {  # brute force with lark: every string over a, b, c up to 6 characters
        s
        for n in range(7)
        for s in ("".join(p) for p in itertools.product("abc", repeat=n))
        if lark_accepts(FINITE, s)
    }
    prefixes = {s[:i] for s in language for i in range(len(s) + 1)}
    logits = np.random.default_rng(0).standard_normal(len(PIECES) + 1)

    def reference_allowed(text: str) -> list[int]:
        allowed = [t for t, p in enumerate(PIECES) if text + p.decode() in prefixes]
        return allowed + ([eos] if text in language else [])

    expected: dict[str, float] = {}

    def expand(text: str, probability: float) -> None:
        allowed = reference_allowed(text)
        weights = np.exp(logits[allowed])
        for token, w in zip(allowed, weights / weights.sum(), strict=True):
            if token == eos:
                expected[text] = expected.get(text, 0.0) + probability * w
            else:
                expand(text + PIECES[token].decode(), probability * w)

    expand("", 1.0)
    guide = compile_grammar(FINITE, vocabulary)
    rng = np.random.default_rng(1)
    out = allocate_token_bitmask(1, vocabulary.size)
    samples = 20_000
    counts: dict[str, int] = {}
    for _ in range(samples):
        state, text = guide.initial_state, ""
        while True:
            guide.fill_bitmask(state, out)
            masked = np.where(bitmask_to_bool(out[0], vocabulary.size), logits, -np.inf)
            p = np.exp(masked - masked.max())
            token = int(rng.choice(len(p), p=p / p.sum()))
            if token == eos:
                break
            text += PIECES[token].decode()
            state = guide.advance(state, token)
        counts[text] = counts.get(text, 0) + 1
    assert set(counts) <= set(expected)
    chi2 = sum(
        (counts.get(text, 0) - samples * p) ** 2 / (samples * p) for text, p in expected.items()
    )
    df = len(expected) - 1
    z = 3.7  # about p = 1e-4: Wilson-Hilferty's approximation of the chi-square quantile
    critical = df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3
    assert chi2 < critical, (chi2, critical)


def test_e_constraint_keys_round_trip() -> None:
    from typedgen.processors._constraint import Constraint

    constraint = Constraint.grammar(typedgen.grammars.arithmetic, syntax="lark")
    args = constraint.to_extra_args()
    assert args == {
        "typedgen_grammar": typedgen.grammars.arithmetic,
        "typedgen_grammar_syntax": "lark",
    }
    assert Constraint.from_extra_args(args) == constraint
    assert Constraint.from_extra_args({"typedgen_grammar": "root ::= [a]"}) == Constraint.grammar(
        "root ::= [a]"
    )
    guide = constraint.compile(typedgen.Compiler(Vocabulary.of_bytes()))
    assert accepts(guide, "1+2")
    for bad in [
        {"typedgen_grammar": "start: 'a'", "typedgen_regex": "a"},
        {"typedgen_grammar_syntax": "lark", "typedgen_regex": "a"},
        {"typedgen_grammar": "start: 'a'", "typedgen_grammar_syntax": "ebnf"},
    ]:
        with pytest.raises(typedgen.UsageError):
            Constraint.from_extra_args(bad)
