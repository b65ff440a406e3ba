"""Finishing within a token budget: ``Guide.distance_to_final`` and ``fill_bitmask_within``.

(a) the distance of a state is the length in bytes of the shortest string that completes a
    match from it (checked against a breadth-first search over single bytes);
(b) random walks that take one token of the budget-restricted mask per step, starting with a
    budget of ``distance_to_final(initial) + 1`` tokens or a little more, always end with EOS
    in a final state within the budget, on real tokenizers, for regexes and JSON schemas with
    unbounded lists and strings;
(c) the restricted mask is a subset of the plain mask, equal to it when the budget is large,
    and a budget that cannot fit any completion writes the plain mask and says so;
(d) the batched ``fill_bitmasks_within`` (GIL released, rows shared between threads) writes
    what ``fill_bitmask_within`` writes row by row, first visits included.
"""

from __future__ import annotations

import json
import random
import re
import sys
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Guide, GuideError, Vocabulary
from typedgen._compiler import compile_json_schema, compile_regex
from typedgen._fsm import fill_bitmasks_within
from typedgen.testing import (
    bitmask_to_bool,
    load_tokenizer,
    regex_patterns,
    shortest_completion,
)
from typedgen.torch import allocate_token_bitmask

PIECES = ["a", "bc", "def", "日", "😀", "[xy]", "\\d", "[^a]", "."]


REGEXES = regex_patterns(PIECES, max_leaves=6)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@QUICK
@given(pattern=REGEXES, data=st.data())
def test_a_distance_is_the_shortest_completion_in_bytes(pattern: str, data: st.DataObject) -> None:
    guide = compile_regex(pattern, Vocabulary.of_bytes())
    text = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    encoded = text.encode()
    cut = data.draw(st.integers(0, len(encoded)))
    state = guide.advance_bytes(guide.initial_state, encoded[:cut])
    assert guide.distance_to_final(state) == shortest_completion(guide, state)
    assert guide.distance_to_final(state) <= guide.max_distance
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, encoded)) == 0


def test_distance_examples() -> None:
    guide = compile_regex(r"ab(cd)*|x{5}", Vocabulary.of_bytes())
    assert guide.distance_to_final(guide.initial_state) == 2
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"x")) == 4
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"abc")) == 1
    assert guide.distance_to_final(Guide.finished_state) == 0
    assert guide.max_distance == 5
    with pytest.raises(GuideError):
        guide.distance_to_final(10_000)


def test_distances_through_long_counted_repeats() -> None:
    # repeats of 8 copies or more are one copy in the NFA: distances count the copies still due
    guide = compile_regex(r"(?:ab|c){20,30}d(?:e|fgh){0,50}", Vocabulary.of_bytes())
    assert guide.distance_to_final(guide.initial_state) == 21
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"ab" * 5)) == 16
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"aba")) == 20
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"c" * 25)) == 1
    assert guide.distance_to_final(guide.advance_bytes(guide.initial_state, b"c" * 20 + b"df")) == 2
    assert guide.max_distance == 21  # at the start, or after "a": "b", 19 more copies, "d"


# --- random walks on real tokenizers ----------------------------------------------------------

ITEM = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "qty": {"type": "integer"}},
    "required": ["name", "qty"],
    "additionalProperties": False,
}
SCHEMAS: list[dict[str, Any]] = [
    {"type": "array", "items": {"type": "string"}},
    {
        "type": "object",
        "properties": {"items": {"type": "array", "items": ITEM}, "total": {"type": "number"}},
        "required": ["items", "total"],
        "additionalProperties": False,
    },
    {
        "type": "object",
        "properties": {
            "who": {"type": "string", "minLength": 3},
            "tags": {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "minItems": 1},
        },
        "required": ["who", "tags"],
        "additionalProperties": False,
    },
]
PATTERNS = [
    r"\[(\d+(, \d+)*)?\]",
    r"[a-z]+@[a-z]+\.(com|org)",
    r"(日本|😀|abc){3,}!",
    r'"([^"\\]|\\.)*"',
]


@cache
def vocabulary(name: str) -> Vocabulary:
    return Vocabulary.from_tokenizer(load_tokenizer(name))


def budget_walk(guide: Guide, vocab: Vocabulary, budget: int, rng: random.Random) -> bytes:
    """Take one token of the budget-restricted mask per step (EOS only once in a while, so the
    walk runs against its budget); the bytes produced when EOS was taken."""
    bitmask = allocate_token_bitmask(1, vocab.size)
    state, out = guide.initial_state, b""
    while True:
        assert budget >= 1, f"ran out of budget after {out!r}"
        assert guide.fill_bitmask_within(state, budget, bitmask), (state, budget, out)
        allowed = np.flatnonzero(bitmask_to_bool(bitmask[0], vocab.size)).tolist()
        plain = set(guide.allowed_token_ids(state))
        assert allowed and set(allowed) <= plain
        eos = [t for t in allowed if t in vocab.eos_token_ids]
        token = eos[0] if eos and (len(eos) == len(allowed) or rng.random() < 0.05) else None
        if token is None:
            token = rng.choice([t for t in allowed if t not in vocab.eos_token_ids])
        state = guide.advance(state, token)
        budget -= 1
        if token in vocab.eos_token_ids:
            assert guide.is_final(state)
            return out
        out += vocab.token_bytes[token] or b""


@pytest.mark.parametrize("tokenizer", ["gpt2-50k", "sentencepiece-32k"])
@pytest.mark.parametrize("index", range(len(SCHEMAS)))
def test_b_walks_over_json_schemas_finish_within_the_budget(tokenizer: str, index: int) -> None:
    vocab = vocabulary(tokenizer)
    schema = SCHEMAS[index]
    guide = compile_json_schema(schema, vocab)
    shortest = guide.distance_to_final(guide.initial_state)
    rng = random.Random(index)
    for extra in (0, 1, 3, 8, 20):
        for _ in range(2):
            text = budget_walk(guide, vocab, shortest + 1 + extra, rng)
            json.loads(text)  # complete JSON (the guide's language is checked elsewhere)


@pytest.mark.parametrize("tokenizer", ["gpt2-50k", "sentencepiece-32k"])
@pytest.mark.parametrize("pattern", PATTERNS)
def test_b_walks_over_regexes_finish_within_the_budget(tokenizer: str, pattern: str) -> None:
    vocab = vocabulary(tokenizer)
    guide = compile_regex(pattern, vocab)
    shortest = guide.distance_to_final(guide.initial_state)
    rng = random.Random(pattern)
    for extra in (0, 2, 5, 12):
        for _ in range(3):
            text = budget_walk(guide, vocab, shortest + 1 + extra, rng)
            assert re.fullmatch(pattern, text.decode()), text


def test_c_the_restricted_mask_within_and_beyond_the_budget() -> None:
    vocab = vocabulary("gpt2-50k")
    guide = compile_json_schema(SCHEMAS[1], vocab)
    bitmask = allocate_token_bitmask(2, vocab.size)
    state = guide.advance_bytes(guide.initial_state, b'{"items":[{"name":"ab')
    guide.fill_bitmask(state, bitmask, 0)
    # a budget that never binds leaves the plain mask
    assert guide.fill_bitmask_within(state, guide.max_distance + 2, bitmask, 1)
    assert (bitmask[0] == bitmask[1]).all()
    # a tight budget: no token may open anything new, only close what is open
    distance = guide.distance_to_final(state)  # '","qty":0}],"total":0}'
    assert distance == len('","qty":0}],"total":0}')
    assert guide.fill_bitmask_within(state, distance + 1, bitmask, 1)
    tight = np.flatnonzero(bitmask_to_bool(bitmask[1], vocab.size)).tolist()
    for token in tight:
        after = guide.advance(state, token)
        assert guide.distance_to_final(after) <= distance - 1
    assert vocab.token_bytes.index(b'"') in tight
    assert vocab.token_bytes.index(b"a") not in tight
    # a budget too small for any completion: the plain mask, and False
    bitmask[1] = 0
    assert not guide.fill_bitmask_within(state, 2, bitmask, 1)
    assert (bitmask[0] == bitmask[1]).all()


@pytest.mark.parametrize("tokenizer", ["gpt2-50k", "sentencepiece-32k"])
def test_c_the_restricted_mask_is_exact(tokenizer: str) -> None:
    """Every token of the plain mask whose next state is close enough, and no other."""
    vocab = vocabulary(tokenizer)
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string", "minLength": 2}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    guide = compile_json_schema(schema, vocab)
    bitmask = allocate_token_bitmask(1, vocab.size)
    prefixes = ['{"a":"', '{"a":"x\u00e9', '{"a":"\\n', '{"a":"","b":"', '{"a":"","b":"q']
    for prefix in [p.encode() for p in prefixes] + ['{"a":"日'.encode()[:-1]]:
        state = guide.advance_bytes(guide.initial_state, prefix)
        for budget in range(1, guide.max_distance + 3):
            fits = guide.fill_bitmask_within(state, budget, bitmask)
            restricted = set(np.flatnonzero(bitmask_to_bool(bitmask[0], vocab.size)).tolist())
            plain = guide.allowed_token_ids(state)
            if not fits:
                assert guide.distance_to_final(state) > budget - 1
                assert restricted == set(plain)
                continue
            expected = {
                t
                for t in plain
                if t not in vocab.eos_token_ids
                and guide.distance_to_final(guide.advance(state, t)) <= budget - 2
            }
            assert restricted == expected, (prefix, budget)


def test_c_only_eos_when_final_with_one_token_left() -> None:
    vocab = vocabulary("gpt2-50k")
    guide = compile_regex(r"[0-9]+", vocab)
    state = guide.advance_bytes(guide.initial_state, b"12")
    bitmask = allocate_token_bitmask(1, vocab.size)
    assert guide.fill_bitmask_within(state, 1, bitmask)
    allowed = np.flatnonzero(bitmask_to_bool(bitmask[0], vocab.size)).tolist()
    assert set(allowed) == set(vocab.eos_token_ids)
    assert guide.fill_bitmask_within(Guide.finished_state, 1, bitmask)


@pytest.mark.parametrize("threads", [1, 4])
def test_d_the_batched_fill_writes_what_the_per_row_fill_writes(threads: int) -> None:
    vocab = vocabulary("sentencepiece-32k")
    rng = random.Random(threads)
    rows: list[tuple[Guide, int, Guide, int, int]] = []  # batched, its state, reference, ...
    for constraint in [*SCHEMAS, *PATTERNS]:
        compile = compile_json_schema if isinstance(constraint, dict) else compile_regex
        batched, reference = compile(constraint, vocab), compile(constraint, vocab)
        rows.append((batched, Guide.finished_state, reference, Guide.finished_state, 1))
        for _ in range(6):  # states on walks, budgets tight or not, first visits for both
            text = budget_walk(reference, vocab, reference.max_distance + 20, rng)
            prefix = text[: rng.randrange(len(text) + 1)]
            try:
                state = reference.advance_bytes(reference.initial_state, prefix)
            except GuideError:  # a cut inside a character the guide keeps whole
                continue
            budget = rng.choice([1, 2, 3, 5, 9, 30, reference.max_distance + 2, sys.maxsize])
            rows.append(
                (
                    batched,
                    batched.advance_bytes(batched.initial_state, prefix),
                    reference,
                    state,
                    budget,
                )
            )
    width = rows[0][0].bitmask_width
    out = np.full((len(rows) + 2, width), -1, dtype=np.int32)
    targets = list(range(2, len(rows) + 2))
    guides, states = [r[0] for r in rows], [r[1] for r in rows]
    budgets = [r[4] for r in rows]
    assert fill_bitmasks_within(guides, states, budgets, out, targets, threads=threads) == []
    expected = np.zeros((1, width), dtype=np.int32)
    for k, (_, _, reference, state, budget) in enumerate(rows):
        reference.fill_bitmask_within(state, budget, expected)
        assert np.array_equal(out[targets[k]], expected[0]), (state, budget)
    assert (out[:2] == -1).all()
    with pytest.raises(ValueError, match="budgets"):
        fill_bitmasks_within(guides[:1], states[:1], [], out)
    with pytest.raises(GuideError):
        fill_bitmasks_within(guides[:1], [10**9], [5], out)
