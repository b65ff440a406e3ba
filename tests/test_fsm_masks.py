"""Masks ahead of time and in parallel: prefetched / precomputed masks are the masks computed on
first visit, the parallel fill writes what the serial one writes, and memory is reported by
part."""

from __future__ import annotations

import random
import threading
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Guide, GuideError, Vocabulary
from typedgen._compiler import compile_regex
from typedgen._fsm import PREFETCH_SUCCESSORS, _wait_prefetched, fill_bitmasks
from typedgen.testing import load_tokenizer, regex_patterns

ATOMS = ["a", "b", "é", "日", " ", "1", '"', "[ab]", "[^a]", "[a-z]", "\\d", "\\w", "."]
REGEXES = regex_patterns(ATOMS, max_leaves=6)
QUICK = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PATTERNS = [
    r"[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}(\.[a-zA-Z0-9-]{1,63})*\.[a-zA-Z]{2,24}",
    r'\{"id": (0|[1-9]\d{0,5}), "name": "[^"\\\x00-\x1f]{0,12}", "ok": (true|false)\}',
    r"(日本|中文|😀 ){1,4}[a-z ]{0,5}",
    r"-?(0|[1-9]\d*)(\.\d+)?",
]


@cache
def vocabulary() -> Vocabulary:
    return Vocabulary.from_tokenizer(load_tokenizer("sentencepiece-32k"))


def mask_of(guide: Guide, state: int) -> np.ndarray:
    out = np.zeros((1, guide.bitmask_width), dtype=np.int32)
    guide.fill_bitmask(state, out)
    return out[0]


def walk(guide: Guide, rng: random.Random, steps: int) -> list[int]:
    """Token ids of a random walk over allowed tokens (EOS left out)."""
    vocab, state, ids = vocabulary(), guide.initial_state, []
    for _ in range(steps):
        allowed = [t for t in guide.allowed_token_ids(state) if t not in vocab.eos_token_ids]
        if not allowed:
            break
        ids.append(rng.choice(allowed))
        state = guide.advance(state, ids[-1])
    return ids


@QUICK
@given(pattern=REGEXES | st.sampled_from(PATTERNS), seed=st.integers(0, 2**32 - 1))
def test_precomputed_masks_are_the_masks_computed_on_first_visit(pattern: str, seed: int) -> None:
    vocab = vocabulary()
    ids = walk(compile_regex(pattern, vocab), random.Random(seed), steps=12)
    lazy, ahead = compile_regex(pattern, vocab), compile_regex(pattern, vocab)
    s_lazy, s_ahead = lazy.initial_state, ahead.initial_state
    for token in [*ids, None]:
        ahead.precompute(s_ahead)  # this state's mask and its successors', before they are asked
        expected = mask_of(lazy, s_lazy)
        assert np.array_equal(mask_of(ahead, s_ahead), expected)
        allowed = np.flatnonzero(np.unpackbits(expected.view(np.uint8), bitorder="little"))
        assert ahead.allowed_token_ids(s_ahead) == allowed.tolist()
        for t in allowed[:: max(1, len(allowed) // 5)]:
            assert ahead.is_allowed(s_ahead, int(t))
        if token is not None:
            s_lazy, s_ahead = lazy.advance(s_lazy, token), ahead.advance(s_ahead, token)


def test_precompute_computes_the_successors_masks_once() -> None:
    guide = compile_regex(r"(ab|cd)[0-9]{1,3}", vocabulary())
    computed = guide.precompute(guide.initial_state)
    assert 2 <= computed <= PREFETCH_SUCCESSORS + 1
    masks = guide.memory_usage()["masks"]
    assert guide.precompute(guide.initial_state) == 0
    assert guide.memory_usage()["masks"] == masks
    state = guide.advance_bytes(guide.initial_state, b"ab")
    assert guide.precompute(state) < computed + 4  # only the states new after "ab"


def test_prefetch_in_the_background_while_other_threads_fill_and_advance() -> None:
    vocab = vocabulary()
    walks = {
        p: walk(compile_regex(p, vocab), random.Random(i), steps=20) for i, p in enumerate(PATTERNS)
    }
    expected = {}
    for pattern, ids in walks.items():
        guide, state, masks = compile_regex(pattern, vocab), None, []
        state = guide.initial_state
        for token in ids:
            masks.append(mask_of(guide, state))
            state = guide.advance(state, token)
        expected[pattern] = masks
    shared = {p: compile_regex(p, vocab) for p in PATTERNS}
    errors: list[str] = []

    def follow(pattern: str) -> None:
        guide = shared[pattern]
        state = guide.initial_state
        for k, token in enumerate(walks[pattern]):
            guide.prefetch(state)
            if not np.array_equal(mask_of(guide, state), expected[pattern][k]):
                errors.append(f"{pattern}: step {k}")
            state = guide.advance(state, token)

    threads = [threading.Thread(target=follow, args=(p,)) for p in PATTERNS for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _wait_prefetched()
    assert errors == []
    for pattern, guide in shared.items():  # what the background thread memoized is right too
        state = guide.initial_state
        for k, token in enumerate(walks[pattern]):
            assert np.array_equal(mask_of(guide, state), expected[pattern][k])
            state = guide.advance(state, token)


def test_prefetch_refuses_unknown_states_and_ignores_the_finished_one() -> None:
    guide = compile_regex("a+", vocabulary())
    with pytest.raises(GuideError):
        guide.prefetch(10**6)
    guide.prefetch(Guide.finished_state)
    _wait_prefetched()


@pytest.mark.parametrize("threads", [1, 4])
def test_parallel_fill_writes_what_the_serial_fill_writes(threads: int) -> None:
    vocab = vocabulary()
    rng = random.Random(threads)
    guides, states = [], []
    for pattern in PATTERNS * 3:
        guide = compile_regex(pattern, vocab)
        ids = walk(compile_regex(pattern, vocab), rng, steps=8)
        state = guide.initial_state
        for token in ids:  # several rows of one guide, most states not visited yet
            guides.append(guide)
            states.append(state)
            state = guide.advance(state, token)
    out = np.full((len(guides) + 2, guides[0].bitmask_width), -1, dtype=np.int32)
    assert fill_bitmasks(guides, states, out, threads=threads) == []
    for k, (guide, state) in enumerate(zip(guides, states, strict=True)):
        assert np.array_equal(out[k], mask_of(guide, state)), k
    assert (out[len(guides) :] == -1).all()  # rows past the batch are left alone


def test_parallel_fill_reports_failed_rows_and_refuses_unknown_states() -> None:
    vocab = vocabulary()
    tiny = compile_regex("[a-z]{3}[0-9]{3}", vocab, max_states=3)
    fine = compile_regex("[a-z]+", vocab)
    out = np.zeros((3, fine.bitmask_width), dtype=np.int32)
    state = tiny.initial_state
    failed = fill_bitmasks([fine, tiny, fine], [fine.initial_state, state, 0], out, threads=2)
    assert failed == [1]
    assert np.array_equal(out[0], mask_of(fine, fine.initial_state))
    with pytest.raises(GuideError, match="unknown guide state"):
        fill_bitmasks([fine], [10**6], out)
    with pytest.raises(ValueError, match="states"):
        fill_bitmasks([fine, fine], [1], out)
    with pytest.raises(IndexError):
        fill_bitmasks([fine], [1], out, rows=[3])
    out[:] = -1
    assert fill_bitmasks([fine, fine], [1, 1], out, rows=[2, 0], threads=2) == []
    assert np.array_equal(out[2], out[0]) and (out[1] == -1).all()


def test_memory_is_reported_by_part_and_masks_are_packed() -> None:
    vocab = vocabulary()
    guide = compile_regex(r'"[a-z]{0,30}"|[0-9]+', vocab)
    usage = guide.memory_usage()
    assert set(usage) == {"automaton", "masks", "index"}
    assert guide.memory == sum(usage.values())
    assert usage["masks"] == 0
    state = guide.initial_state
    guide.fill_bitmask(state, np.zeros((1, guide.bitmask_width), dtype=np.int32))
    first = guide.memory_usage()["masks"]
    assert 0 < first <= 8 + 4 * guide.bitmask_width
    digits = guide.advance_bytes(state, b"1")  # few tokens: packed far below a dense row
    guide.fill_bitmask(digits, np.zeros((1, guide.bitmask_width), dtype=np.int32))
    assert guide.memory_usage()["masks"] - first < guide.bitmask_width
