"""Masks shared between guides of one vocabulary (``MaskRows``): the same masks as guides with
stores of their own, rows freed with their last guide in any order, and the bytes of shared
masks counted once over the guides (``Guide.memory_usage``, the Compiler's cache)."""

from __future__ import annotations

import random
import threading
from functools import cache

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Compiler, Guide, Vocabulary
from typedgen._fsm import DEFAULT_MAX_STATES, ROW_HEADER, RegexAutomaton, fill_bitmasks
from typedgen._regex import regex_to_nfa
from typedgen.testing import load_tokenizer, regex_patterns

ATOMS = ["a", "b", "é", " ", "1", '"', "[ab]", "[^a]", "[a-z]", "\\d", "."]
REGEXES = regex_patterns(ATOMS, max_leaves=6)
QUICK = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATTERNS = [
    r'\{"id": (0|[1-9]\d{0,5}), "name": "[^"\\\x00-\x1f]{0,12}"\}',
    r'\{"name": "[^"\\\x00-\x1f]{0,12}", "id": (0|[1-9]\d{0,5})\}',
    r'"[^"\\\x00-\x1f]{0,20}"',
    r"-?(0|[1-9]\d*)(\.\d+)?",
    r"[a-z]{1,8}@[a-z]{1,8}\.com",
]


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary.from_tokenizer(load_tokenizer("sentencepiece-32k"))


def fresh_vocabulary() -> Vocabulary:
    """A vocabulary of its own trie, so of its own store of masks: none held by other tests."""
    return Vocabulary.from_tokenizer(load_tokenizer("sentencepiece-32k"))


def guide_of(pattern: str, vocab: Vocabulary | None = None, *, share_rows: bool = True) -> Guide:
    vocab = vocab or vocabulary()
    return Guide(
        RegexAutomaton(regex_to_nfa(pattern), pattern=pattern, max_states=DEFAULT_MAX_STATES),
        vocab.trie,
        eos_token_ids=vocab.eos_token_ids,
        vocab_size=vocab.size,
        share_rows=share_rows,
    )


def mask_of(guide: Guide, state: int) -> np.ndarray:
    out = np.zeros((1, guide.bitmask_width), dtype=np.int32)
    guide.fill_bitmask(state, out)
    return out[0]


def walk_tokens(guide: Guide, rng: random.Random, steps: int) -> list[int]:
    """The tokens of a random walk over allowed tokens (EOS left out)."""
    eos, state, tokens = vocabulary().eos_token_ids, guide.initial_state, []
    for _ in range(steps):
        allowed = [t for t in guide.allowed_token_ids(state) if t not in eos]
        if not allowed:
            break
        tokens.append(rng.choice(allowed))
        state = guide.advance(state, tokens[-1])
    return tokens


def states_of(guide: Guide, tokens: list[int]) -> list[int]:
    """The states of ``guide`` along ``tokens``, the initial one first (state numbers are the
    guide's own: guides of the same pattern number their states in the order they meet them)."""
    states = [guide.initial_state]
    for token in tokens:
        states.append(guide.advance(states[-1], token))
    return states


def fill(guide: Guide, states: list[int]) -> None:
    out = np.zeros((len(states), guide.bitmask_width), dtype=np.int32)
    assert fill_bitmasks([guide] * len(states), states, out) == []


@QUICK
@given(
    patterns=st.lists(REGEXES | st.sampled_from(PATTERNS), min_size=1, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_shared_masks_are_the_masks_of_guides_with_their_own(
    patterns: list[str], seed: int
) -> None:
    rng = random.Random(seed)
    shared = [guide_of(p) for p in [*patterns, patterns[0]]]  # one pattern twice
    alone = [guide_of(p, share_rows=False) for p in [*patterns, patterns[0]]]
    assert all(g.mask_rows is shared[0].mask_rows for g in shared)
    for a, b in zip(shared, alone, strict=True):
        assert b.mask_rows is not a.mask_rows
        tokens = walk_tokens(b, rng, steps=12)
        states_a, states_b = states_of(a, tokens), states_of(b, tokens)
        out = np.zeros((len(states_a), a.bitmask_width), dtype=np.int32)
        assert fill_bitmasks([a] * len(states_a), states_a, out, threads=2) == []
        for k, (state_a, state_b) in enumerate(zip(states_a, states_b, strict=True)):
            expected = mask_of(b, state_b)
            assert np.array_equal(out[k], expected)
            assert np.array_equal(mask_of(a, state_a), expected)
            assert a.allowed_token_ids(state_a) == b.allowed_token_ids(state_b)


def test_rows_outlive_each_guide_but_the_last_in_any_order() -> None:
    """Guides of repeated patterns made and dropped at random, from two threads, their masks
    checked against guides with stores of their own: a row freed while a guide still holds it
    would show as a wrong mask (or a crash)."""
    vocab = fresh_vocabulary()
    reference = {p: guide_of(p, vocab, share_rows=False) for p in PATTERNS}
    walks = {p: walk_tokens(g, random.Random(i), 10) for i, (p, g) in enumerate(reference.items())}
    expected = {
        p: [mask_of(reference[p], s) for s in states_of(reference[p], walks[p])] for p in PATTERNS
    }
    errors: list[str] = []

    def churn(seed: int) -> None:
        rng = random.Random(seed)
        live: list[tuple[str, Guide]] = []
        for _ in range(80):
            if live and rng.random() < 0.45:
                del live[rng.randrange(len(live))]  # freed here: nothing else holds it
            else:
                pattern = rng.choice(PATTERNS)
                live.append((pattern, guide_of(pattern, vocab)))
            for pattern, guide in rng.sample(live, min(3, len(live))):
                states = states_of(guide, walks[pattern])
                k = rng.randrange(len(states))
                if not np.array_equal(mask_of(guide, states[k]), expected[pattern][k]):
                    errors.append(f"{pattern} after {walks[pattern][:k]}")

    threads = [threading.Thread(target=churn, args=(seed,)) for seed in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    held = guide_of(PATTERNS[2], vocab)
    rows = held.mask_rows
    assert len(rows) == 0  # every row went with its last guide
    mask_of(held, held.initial_state)
    assert len(rows) == 1
    del held
    assert len(rows) == 0 and rows.memory_usage()["rows"] == 0


def test_a_shared_mask_is_counted_once_over_its_guides() -> None:
    vocab = fresh_vocabulary()
    a, b = guide_of(PATTERNS[2], vocab), guide_of(PATTERNS[2], vocab)
    rows = a.mask_rows
    mask_of(a, a.initial_state)
    alone = a.memory_usage()["masks"]
    assert alone == rows.memory_usage()["rows"] > ROW_HEADER
    mask_of(b, b.initial_state)
    assert len(rows) == 1
    assert a.memory_usage()["masks"] == b.memory_usage()["masks"] == alone // 2
    own = guide_of(PATTERNS[2], vocab, share_rows=False)
    mask_of(own, own.initial_state)
    assert own.memory_usage()["masks"] == alone  # a store of its own: the whole row
    assert len(rows) == 1
    del b
    assert a.memory_usage()["masks"] == alone


def test_the_compilers_bytes_count_shared_masks_once() -> None:
    vocab = fresh_vocabulary()
    compiler = Compiler(vocab, max_bytes=2**30)
    guides = [compiler.regex(p) for p in PATTERNS[:2]]  # masks in common: strings, digits
    own = [guide_of(p, vocab, share_rows=False) for p in PATTERNS[:2]]
    held = 0
    for guide, alone in zip(guides, own, strict=True):
        tokens = walk_tokens(alone, random.Random(3), steps=15)
        fill(guide, sorted(set(states_of(guide, tokens))))
        states = sorted(set(states_of(alone, tokens)))
        fill(alone, states)
        held += len(states)
    guides.append(compiler.regex(PATTERNS[3]))  # an addition: the cache measures again
    assert compiler.cache_info().bytes == sum(g.memory for g in guides)
    shares = sum(g.memory_usage()["masks"] for g in guides)
    rows = guides[0].mask_rows.memory_usage()["rows"]
    assert rows - held < shares <= rows  # the rows of the store, counted once
    assert shares < sum(g.memory_usage()["masks"] for g in own)  # some are shared
