"""Hypothesis properties of the regex → DFA → token index pipeline, against Python's re.

(a) the DFA accepts exactly what ``re.fullmatch`` accepts (generated regexes and strings);
(b) random walks over allowed tokens only finish (EOS) on strings ``re.fullmatch`` accepts,
    and never get stuck;
(c) every string drawn from a regex, tokenized by a real tokenizer, is accepted token by token;
(d) multi-byte UTF-8 (CJK, emoji) through tokens that split characters;
(e) the trie walk's JSON-string shortcut changes no mask: guides with and without it agree in
    every state of drawn strings and random walks through JSON-string-like patterns;
(f) nor does its whole-subtree shortcut: the same on generated regexes and runs of byte
    classes, on every shipped vocabulary.
"""

from __future__ import annotations

import random
import re
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from typedgen import Guide, GuideError, Vocabulary
from typedgen._compiler import compile_regex
from typedgen._fsm import Guide as FsmGuide
from typedgen._fsm import RegexAutomaton
from typedgen._regex import regex_to_nfa
from typedgen.testing import accepts_string, accepts_tokens, load_tokenizer, regex_patterns

CHARS = ["a", "b", "é", "日", "😀", "\n", " ", "1", "."]
ATOMS = [
    *(re.escape(c) for c in CHARS),
    "[ab]",
    "[^a]",
    "[a-c1]",
    "[é-日]",
    "[^\\n😀]",
    ".",
    "\\d",
    "\\w",
    "\\s",
    "\\W",
    "[😀-🙏]",
]
QUICK = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


REGEXES = regex_patterns(ATOMS, max_leaves=8)


def dfa_accepts(pattern: str, text: str) -> bool:
    dfa = RegexAutomaton(regex_to_nfa(pattern), pattern=pattern, max_states=100_000)
    state = dfa.run(text.encode())
    return state >= 0 and dfa.is_accepting(state)


@QUICK
@given(pattern=REGEXES, data=st.data())
def test_a_dfa_accepts_exactly_what_re_fullmatch_accepts(pattern: str, data: st.DataObject) -> None:
    compiled = re.compile(pattern, re.ASCII)
    texts = data.draw(st.lists(st.text(st.sampled_from(CHARS), max_size=6), max_size=8))
    texts += data.draw(st.lists(st.from_regex(compiled, fullmatch=True), max_size=4))
    for text in texts:
        assert dfa_accepts(pattern, text) == (compiled.fullmatch(text) is not None), text


@cache
def vocabulary(name: str) -> Vocabulary:
    return Vocabulary.from_tokenizer(load_tokenizer(name))


def random_walk(guide: Guide, vocab: Vocabulary, rng: random.Random, steps: int) -> bytes | None:
    """Follow allowed tokens at random; the bytes produced when EOS was taken, else None."""
    state, out = guide.initial_state, b""
    for _ in range(steps):
        allowed = guide.allowed_token_ids(state)
        assert allowed, "a guide must never get stuck"
        eos = [t for t in allowed if t in vocab.eos_token_ids]
        token = rng.choice(eos) if eos and rng.random() < 0.3 else rng.choice(allowed)
        state = guide.advance(state, token)
        if token in vocab.eos_token_ids:
            return out
        data = vocab.token_bytes[token]
        assert data is not None
        out += data
    return None


@pytest.mark.slow
@REAL
@given(pattern=REGEXES, seed=st.integers(0, 2**32 - 1))
def test_b_random_walks_only_finish_on_matching_strings(pattern: str, seed: int) -> None:
    vocab = vocabulary("sentencepiece-32k")
    guide = compile_regex(pattern, vocab)
    compiled = re.compile(pattern, re.ASCII)
    rng = random.Random(seed)
    for _ in range(3):
        produced = random_walk(guide, vocab, rng, steps=30)
        if produced is not None:
            assert compiled.fullmatch(produced.decode()) is not None, produced


JSONISH = [
    r"[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,10}\.(com|org|net)",
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ",
    r'\{"id": (0|[1-9]\d{0,5}), "name": "[^"\\\x00-\x1f]{0,12}", "ok": (true|false)\}',
    r"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?",
    r"(日本|中文|한국어|😀 ){1,4}[a-z ]{0,5}",
]


@pytest.mark.slow
@REAL
@given(data=st.data(), pattern=st.sampled_from(JSONISH) | REGEXES)
def test_c_drawn_strings_tokenized_by_a_real_tokenizer_are_accepted(
    data: st.DataObject, pattern: str
) -> None:
    vocab = vocabulary("tekken-131k")
    text = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    ids = load_tokenizer("tekken-131k").encode(text, add_special_tokens=False)
    assume(b"".join(vocab.token_bytes[i] or b"\0" for i in ids) == text.encode())
    guide = compile_regex(pattern, vocab)
    assert accepts_tokens(guide, ids)
    assert accepts_string(guide, text)


MULTIBYTE = [
    "[一-龥]{1,6}",
    "(😀|😁|🙏)+!",
    "[\u0080-\u00ff\u4e00-\u4e3f\U0001f600-\U0001f64f]{1,4}",
    "(é|ü|ß|日本|🎉)*x",
    "[ab\u07ff\u0800\uffff\U00010000\U0010ffff]{2,5}",
]


@cache
def byte_tokens(name: str) -> dict[int, int]:
    """Byte value -> the id of a token made of exactly that byte."""
    return {v[0]: i for i, v in enumerate(vocabulary(name).token_bytes) if v and len(v) == 1}


@pytest.mark.slow
@REAL
@given(data=st.data(), pattern=st.sampled_from(MULTIBYTE))
def test_d_multibyte_characters_through_tokens_that_split_them(
    data: st.DataObject, pattern: str
) -> None:
    vocab = vocabulary("sentencepiece-32k")
    byte_token = byte_tokens("sentencepiece-32k")
    text = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    guide = compile_regex(pattern, vocab)
    ids = [byte_token[b] for b in text.encode()]  # one token per byte: every character split
    assert accepts_tokens(guide, ids)
    state = guide.initial_state
    for token, byte in zip(ids, text.encode(), strict=True):
        if byte >= 0xC0:  # inside a character: only its continuation bytes may follow
            after = guide.advance(state, token)
            for allowed in guide.allowed_token_ids(after):
                assert 0x80 <= (vocab.token_bytes[allowed] or b"\0")[0] <= 0xBF
        state = guide.advance(state, token)
    with pytest.raises(GuideError):  # a lone continuation byte never starts a character
        guide.advance(guide.initial_state, byte_token[0x80])
    rng = random.Random(len(text))
    produced = random_walk(guide, vocab, rng, steps=40)
    if produced is not None:
        assert re.fullmatch(pattern, produced.decode())


TEXT = r'[^"\\\x00-\x1f]'
JSON_STRINGS = st.builds(
    lambda head, body, tail: f'{head}"{body}"{tail}',
    st.sampled_from(["", r"\{ ?", "(a|b)", r'"k": ?']),
    st.sampled_from(
        [
            f"{TEXT}*",
            f"{TEXT}{{0,12}}",
            f"{TEXT}{{2,30}}",
            f"{TEXT}{{3}}",
            rf'({TEXT}|\\["\\/bfnrt])*',
            f"[a-z]{TEXT}{{0,5}}",
            f"({TEXT}{{1,4}}|日本)",
        ]
    ),
    st.sampled_from(["", r" ?\}", ", ?[0-9]{1,3}", "(x|é)*"]),
)


def mask(guide: FsmGuide, state: int, out: np.ndarray) -> np.ndarray:
    guide.fill_bitmask(state, out)
    return out.copy()


def assert_shortcuts_change_no_mask(
    pattern: str, tokenizer: str, data: st.DataObject, seed: int
) -> None:
    """Guides of ``pattern`` with and without the trie walk's shortcuts give the same mask in
    every state along a drawn string's tokens and along a random walk of allowed tokens."""
    vocab = vocabulary(tokenizer)
    guides = [
        FsmGuide(
            RegexAutomaton(regex_to_nfa(pattern), pattern=pattern, max_states=100_000),
            vocab.trie,
            eos_token_ids=vocab.eos_token_ids,
            vocab_size=vocab.size,
            shortcuts=shortcuts,
        )
        for shortcuts in (True, False)
    ]
    fast, plain = guides
    out = np.zeros((1, fast.bitmask_width), dtype=np.int32)
    text = data.draw(st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True))
    ids = load_tokenizer(tokenizer).encode(text, add_special_tokens=False)
    rng = random.Random(seed)
    walks = [ids, [rng.choice(fast.allowed_token_ids(fast.initial_state))]]
    for walk in walks:  # the two automata number their states apart: each guide advances
        states = [fast.initial_state, plain.initial_state]
        for token in walk:
            assert np.array_equal(mask(fast, states[0], out), mask(plain, states[1], out))
            if not fast.is_allowed(states[0], token):
                break
            states = [fast.advance(states[0], token), plain.advance(states[1], token)]
            if states[0] == 0:
                break
            if walk is not ids and len(walk) < 12:  # a random walk: one more allowed token
                walk.append(rng.choice(fast.allowed_token_ids(states[0])))


@pytest.mark.slow
@REAL
@given(data=st.data(), pattern=JSON_STRINGS, seed=st.integers(0, 2**32 - 1))
def test_e_json_string_shortcut_changes_no_mask(
    data: st.DataObject, pattern: str, seed: int
) -> None:
    assert_shortcuts_change_no_mask(pattern, "tekken-131k", data, seed)


VOCABULARIES = ["sentencepiece-32k", "tekken-131k", "gpt2-50k", "smollm2-49k"]
CLASS_RUNS = st.builds(
    lambda head, run, tail: head + run + tail,
    st.sampled_from(["", "x", "[0-9]{2}", '"', "(a|bc)", r"\.", " ?"]),
    st.sampled_from(
        [
            "[a-z]{1,8}",
            "[a-zA-Z0-9._%+-]{1,64}@[a-zA-Z0-9-]{1,63}",
            r"\d{3,6}",
            "[0-9]*",
            "[a-f0-9]{8}-[a-f0-9]{4}",
            "([a-z]{1,8}[.])*[a-z]{2,6}",
            r'[^"\\\x00-\x1f]{0,40}',
            "[ -~]+",
            "[^a]{2,5}",
            "([a-z]|[0-9][a-z]){1,12}",
            "[a-z]{3}[a-z0-9]{0,20}",
        ]
    ),
    st.sampled_from(["", "[.]", "@", '"', " [A-Z]{2}", "(x|[0-9])?"]),
)


@pytest.mark.slow
@REAL
@given(
    data=st.data(),
    pattern=CLASS_RUNS | REGEXES,
    tokenizer=st.sampled_from(VOCABULARIES),
    seed=st.integers(0, 2**32 - 1),
)
def test_f_whole_subtree_shortcut_changes_no_mask(
    data: st.DataObject, pattern: str, tokenizer: str, seed: int
) -> None:
    assert_shortcuts_change_no_mask(pattern, tokenizer, data, seed)
