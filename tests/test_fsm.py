"""The token index: masks, advance, EOS, bitmask I/O, on a small vocabulary and on real ones."""

from __future__ import annotations

import threading
from functools import cache

import numpy as np
import pytest

from typedgen import GuideError, StateLimitError, Vocabulary
from typedgen._compiler import compile_regex
from typedgen._fsm import TokenTrie
from typedgen.testing import (
    accepts_string,
    accepts_tokens,
    bitmask_to_bool,
    bool_to_bitmask,
    load_tokenizer,
)
from typedgen.torch import allocate_token_bitmask

# ids:         0     1     2      3     4        5        6              7      8      9
SMALL = [b"a", b"b", b"ab", None, b"\xc3", b"\xa9", b"\xc3\xa9", b"abc", b"c", b"ab"]
EOS = 3


@cache
def small_vocabulary() -> Vocabulary:
    return Vocabulary(SMALL, eos_token_ids=[EOS], size=40)


@cache
def vocabulary(name: str) -> Vocabulary:
    return Vocabulary.from_tokenizer(load_tokenizer(name))


def brute_force_allowed(guide, vocab: Vocabulary, state: int) -> set[int]:  # type: ignore[no-untyped-def]
    """Allowed ids by stepping every token's bytes (independent of the trie walk)."""
    allowed = set()
    for token_id, data in enumerate(vocab.token_bytes):
        if data is None:
            continue
        try:
            guide.advance_bytes(state, data)
        except GuideError:
            continue
        allowed.add(token_id)
    if guide.is_final(state):
        allowed |= vocab.eos_token_ids
    return allowed


def test_masks_advance_and_eos_on_a_small_vocabulary() -> None:
    guide = compile_regex("(ab)+é?", small_vocabulary())
    s0 = guide.initial_state
    assert guide.allowed_token_ids(s0) == [0, 2, 9]  # "a", "ab" and its duplicate
    assert not guide.is_final(s0)
    s1 = guide.advance(s0, 2)
    assert guide.is_final(s1)
    assert guide.allowed_token_ids(s1) == [0, 2, EOS, 4, 6, 9]
    s2 = guide.advance(s1, 4)  # half of "é"
    assert guide.allowed_token_ids(s2) == [5]
    assert not guide.is_final(s2)
    s3 = guide.advance(s2, 5)
    assert guide.allowed_token_ids(s3) == [EOS]
    done = guide.advance(s3, EOS)
    assert done == guide.finished_state == 0
    assert guide.is_final(done)
    assert guide.allowed_token_ids(done) == [EOS]
    assert guide.advance(done, EOS) == done


def test_disallowed_tokens_raise_guide_error() -> None:
    guide = compile_regex("ab", small_vocabulary())
    s0 = guide.initial_state
    for token_id in (1, 3, 7, 8, 10, 39, 40, -1):
        with pytest.raises(GuideError):
            guide.advance(s0, token_id)
    with pytest.raises(GuideError, match="not a complete match"):
        guide.advance(s0, EOS)
    with pytest.raises(GuideError, match="after EOS"):
        guide.advance(0, 0)
    with pytest.raises(GuideError, match="unknown guide state"):
        guide.advance(10_000, 0)
    with pytest.raises(GuideError):
        guide.advance_bytes(s0, b"ac")


def test_padded_ids_and_none_tokens_are_never_allowed() -> None:
    guide = compile_regex("[abc]*", small_vocabulary())
    allowed = guide.allowed_token_ids(guide.initial_state)
    assert allowed == [0, 1, 2, EOS, 7, 8, 9]
    out = allocate_token_bitmask(1, 40)
    guide.fill_bitmask(guide.initial_state, out)
    flags = bitmask_to_bool(out[0], 40)
    assert list(np.flatnonzero(flags)) == allowed
    assert out.shape == (1, 2) and out[0, 1] == 0


def test_fill_bitmask_writes_one_row_of_numpy_and_torch() -> None:
    torch = pytest.importorskip("torch")
    guide = compile_regex("a(b|c)", small_vocabulary())
    expected = allocate_token_bitmask(1, 40)
    guide.fill_bitmask(guide.initial_state, expected)
    out = np.full((3, 2), 7, dtype=np.int32)
    guide.fill_bitmask(guide.initial_state, out, 1)
    assert (out[1] == expected[0]).all() and (out[[0, 2]] == 7).all()
    tensor = torch.full((2, 2), 5, dtype=torch.int32)
    guide.fill_bitmask(guide.initial_state, tensor, row=1)
    assert tensor[1].tolist() == expected[0].tolist() and tensor[0].tolist() == [5, 5]


@pytest.mark.parametrize(
    ("out", "row", "error"),
    [
        (np.zeros((1, 3), np.int32), 0, ValueError),
        (np.zeros((1, 2), np.int64), 0, ValueError),
        (np.zeros(2, np.int32), 0, ValueError),
        (np.zeros((2, 2), np.int32), 2, IndexError),
        (np.zeros((2, 2), np.int32), -1, IndexError),
        (np.zeros((2, 4), np.int32)[:, ::2], 0, ValueError),
    ],
)
def test_fill_bitmask_rejects_bad_outputs(out: np.ndarray, row: int, error: type) -> None:  # type: ignore[type-arg]
    guide = compile_regex("a", small_vocabulary())
    with pytest.raises(error):
        guide.fill_bitmask(guide.initial_state, out, row)


def test_bitmask_helpers_round_trip() -> None:
    rng = np.random.default_rng(0)
    flags = rng.random((3, 70)) < 0.5
    words = bool_to_bitmask(flags)
    assert words.shape == (3, 3) and words.dtype == np.int32
    assert (bitmask_to_bool(words, 70) == flags).all()


def test_token_trie() -> None:
    trie = TokenTrie(SMALL)
    assert len(trie) == len(SMALL)
    assert trie.token_bytes(6) == b"\xc3\xa9"
    assert trie.token_bytes(3) is None
    assert trie.num_nodes == 8  # a, ab, abc, b, c, \xa9, \xc3, \xc3\xa9


def test_a_guide_reports_the_state_limit_when_a_walk_reaches_it() -> None:
    guide = compile_regex("[ab]*a[ab]{8}", small_vocabulary(), max_states=40)
    state = guide.initial_state
    with pytest.raises(StateLimitError):
        for token_id in [0, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 1] * 8:
            state = guide.advance(state, token_id)
            guide.allowed_token_ids(state)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sentencepiece-32k", "tekken-131k"])
def test_masks_equal_brute_force_on_real_vocabularies(name: str) -> None:
    vocab = vocabulary(name)
    pattern = r'\{"name": "[^"\\]{0,20}", "age": (0|[1-9]\d{0,2}), "tags": \[("[a-z]+"(, )?)*\]\}'
    guide = compile_regex(pattern, vocab)
    text = '{"name": "Zoë 日本", "age": 42, "tags": ["a", "bc"]}'
    state = guide.initial_state
    for piece in ['{"', "name", '": "', "Zo", "ë", " 日", "本", '", "age": 4', "2", ', "tags": ["']:
        assert set(guide.allowed_token_ids(state)) == brute_force_allowed(guide, vocab, state)
        state = guide.advance_bytes(state, piece.encode())
    assert accepts_string(guide, text)
    assert not accepts_string(guide, text[:-1])


def test_guides_are_safe_to_share_between_threads() -> None:
    vocab = small_vocabulary()
    guide = compile_regex("(a|b|c|é){0,200}", vocab)
    states = [guide.initial_state]
    for _ in range(150):
        states.append(guide.advance(states[-1], 6))
    results: dict[int, list[list[int]]] = {}

    def work(k: int) -> None:
        results[k] = [guide.allowed_token_ids(s) for s in states]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[k] == results[0] for k in range(4))
    assert results[0][-1] == [0, 1, 2, EOS, 4, 6, 7, 8, 9]


def test_accepts_tokens_oracle() -> None:
    guide = compile_regex("(ab)+", small_vocabulary())
    assert accepts_tokens(guide, [0, 1, 2])
    assert accepts_tokens(guide, [0, 1, 2, EOS])
    assert not accepts_tokens(guide, [0])
    assert accepts_tokens(guide, [0], complete=False)
    assert not accepts_tokens(guide, [1])


@pytest.mark.slow
@pytest.mark.parametrize(
    "pattern",
    [
        r'"[^"\\]*"',
        r'"[^"\\]{0,30}"x',
        r'"[^"\\]{0,6}"',
        r'"[^"\\]{0,4}"?,',
        r'"([^"\\\x00-\x1f]|\\["\\/bfnrt]){2,40}"',
        r"[^\n]*",
        r"(\.|[^é]){0,3}",
        r"[a-zé ]{0,9}!",
        r"[^\x00-\x7f]{0,4}",
    ],
)
def test_text_shortcuts_of_the_walk_equal_brute_force(pattern: str) -> None:
    """The walk accepts whole subtrees of text tokens at once where a state treats every text
    character alike; the masks must still be exactly the tokens that stay live."""
    vocab = vocabulary("tekken-131k")
    guide = compile_regex(pattern, vocab)
    state = guide.initial_state
    for piece in ['"', "ab", " ", "日", "本", "x" * 12, "\\"]:
        assert set(guide.allowed_token_ids(state)) == brute_force_allowed(guide, vocab, state)
        try:
            state = guide.advance_bytes(state, piece.encode())
        except GuideError:
            continue
