"""typedgen.Matcher: Hypothesis properties against the Guide it follows, and a generation loop
with a real tokenizer and torch tensors, as an engine integration writes it (no transformers
generation API, no vLLM)."""

from __future__ import annotations

import json
import re
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Compiler, Guide, GuideError, Matcher, UsageError, Vocabulary
from typedgen.testing import bitmask_to_bool, load_tokenizer, regex_patterns

torch = pytest.importorskip("torch")

from typedgen.torch import allocate_token_bitmask, apply_token_bitmask_inplace  # noqa: E402

PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# a small vocabulary: single letters and a few multi-byte tokens, EOS, an id without bytes
TOKENS = [b"a", b"b", b"c", b"ab", b"bc", b"abc", b"ca", None, None]
EOS = 7
PATTERNS = regex_patterns(["a", "b", "c", "[ab]", "[^a]"], max_leaves=6)


@cache
def compiler() -> Compiler:
    return Compiler(Vocabulary(TOKENS, eos_token_ids=[EOS], size=len(TOKENS)))


def token_walks(size: int = 12) -> st.SearchStrategy[list[int]]:
    """Token ids, allowed or not (EOS, the byte-less id, ids outside the vocabulary too)."""
    return st.lists(st.integers(-1, len(TOKENS)), max_size=size)


def guide_walk(guide: Guide, tokens: list[int]) -> list[int]:
    """The states the guide passes through, up to the first refused token."""
    states = [guide.initial_state]
    for token in tokens:
        try:
            states.append(guide.advance(states[-1], token))
        except GuideError:
            break
    return states


@PROPERTIES
@given(pattern=PATTERNS, tokens=token_walks())
def test_accept_token_agrees_with_the_guide(pattern: str, tokens: list[int]) -> None:
    guide = compiler().regex(pattern)
    matcher = Matcher(guide)
    states = guide_walk(guide, tokens)
    for k, token in enumerate(tokens):
        before = matcher.state
        accepted = matcher.accept_token(token)
        assert accepted == (k + 1 < len(states)), (pattern, tokens[: k + 1])
        if not accepted:
            assert matcher.state == before  # a refused token changes nothing
            break
        assert matcher.state == states[k + 1]
        assert matcher.is_final() == guide.is_final(matcher.state)
        assert matcher.is_terminated() == (matcher.state == Guide.finished_state)
        assert matcher.is_terminated() == (EOS in tokens[: k + 1])


@PROPERTIES
@given(pattern=PATTERNS, tokens=token_walks())
def test_accept_tokens_is_all_or_nothing(pattern: str, tokens: list[int]) -> None:
    guide = compiler().regex(pattern)
    matcher = Matcher(guide, max_rollback=len(tokens))
    states = guide_walk(guide, tokens)
    assert matcher.accept_tokens(tokens) == (len(states) == len(tokens) + 1)
    assert matcher.state == (states[-1] if len(states) == len(tokens) + 1 else guide.initial_state)


@PROPERTIES
@given(pattern=PATTERNS, tokens=token_walks(), data=st.data())
def test_rollback_restores_earlier_states(
    pattern: str, tokens: list[int], data: st.DataObject
) -> None:
    guide = compiler().regex(pattern)
    keep = data.draw(st.integers(0, 4))
    matcher = Matcher(guide, max_rollback=keep)
    states = guide_walk(guide, tokens)
    for token in tokens[: len(states) - 1]:
        assert matcher.accept_token(token)
    kept = min(keep, len(states) - 1)
    with pytest.raises(UsageError, match="cannot roll back"):
        matcher.rollback(kept + 1)
    back = data.draw(st.integers(0, kept))
    matcher.rollback(back)
    assert matcher.state == states[len(states) - 1 - back]
    matcher.reset()
    assert matcher.state == guide.initial_state
    with pytest.raises(UsageError):
        matcher.rollback(1)


@PROPERTIES
@given(pattern=PATTERNS, tokens=token_walks())
def test_the_bitmask_is_the_guides_and_says_whether_it_is_needed(
    pattern: str, tokens: list[int]
) -> None:
    guide = compiler().regex(pattern)
    matcher = Matcher(guide)
    bitmask = allocate_token_bitmask(2, guide.vocab_size)
    for token in [*tokens, EOS]:
        needed = matcher.fill_next_token_bitmask(bitmask, 1)
        allowed = np.flatnonzero(bitmask_to_bool(bitmask[1].numpy(), guide.vocab_size))
        assert allowed.tolist() == guide.allowed_token_ids(matcher.state)
        assert needed == (len(allowed) < guide.vocab_size)
        assert bitmask_to_bool(bitmask[0].numpy(), guide.vocab_size).all()  # other rows kept
        if not matcher.accept_token(token):
            assert token not in allowed


def test_a_mask_that_allows_every_token_is_not_needed() -> None:
    # every token of this vocabulary has bytes and EOS is allowed from the start: all allowed
    guide = Compiler(Vocabulary([b"a", b"b", None], eos_token_ids=[2], size=3)).regex("[ab]*")
    matcher = Matcher(guide)
    bitmask = np.zeros((1, guide.bitmask_width), dtype=np.int32)
    assert not matcher.fill_next_token_bitmask(bitmask, 0)
    assert matcher.accept_token(2) and matcher.is_terminated()
    assert matcher.fill_next_token_bitmask(bitmask, 0)  # EOS only from now on
    assert not matcher.accept_token(0)
    assert matcher.accept_token(2) and matcher.is_terminated()


def test_budget_keeps_only_tokens_that_can_still_finish() -> None:
    guide = compiler().regex("a(bc)*")
    matcher = Matcher(guide)
    bitmask = allocate_token_bitmask(1, guide.vocab_size)
    assert matcher.accept_token(0)  # "a": complete, or continue with "bc"s
    matcher.fill_next_token_bitmask(bitmask, budget=1)  # room for EOS only
    assert np.flatnonzero(bitmask_to_bool(bitmask.numpy(), guide.vocab_size)[0]).tolist() == [EOS]
    matcher.fill_next_token_bitmask(bitmask)
    allowed = np.flatnonzero(bitmask_to_bool(bitmask.numpy(), guide.vocab_size)[0]).tolist()
    assert allowed == guide.allowed_token_ids(matcher.state) == [1, 4, EOS]


def test_max_rollback_must_not_be_negative() -> None:
    with pytest.raises(UsageError, match="max_rollback"):
        Matcher(compiler().regex("a"), max_rollback=-1)


def test_a_generation_loop_with_a_real_tokenizer_and_torch_tensors() -> None:
    """What an integration of another engine does per step, batched: fill each request's row,
    mask the logits, sample, accept. Random logits stand in for a model; with the steps left as
    the budget, every request ends with EOS on a complete match within them."""
    tokenizer = load_tokenizer("gpt2-50k")
    vocabulary = Vocabulary.from_tokenizer(tokenizer)
    compiler = Compiler(vocabulary)
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "tag": {"enum": ["red", "green"]}},
        "required": ["id", "tag"],
    }
    guides = [compiler.regex(r"[0-9]{1,4}-[a-z]{2,5}"), compiler.json_schema(schema)]
    matchers = [Matcher(guides[k % 2]) for k in range(4)]
    generator = torch.Generator().manual_seed(0)
    bitmask = allocate_token_bitmask(len(matchers), vocabulary.size)
    outputs: list[list[int]] = [[] for _ in matchers]
    steps = 24
    for step in range(steps):
        live = [k for k, m in enumerate(matchers) if not m.is_terminated()]
        if not live:
            break
        logits = torch.randn(len(matchers), vocabulary.size, generator=generator)
        budget = steps - step
        needed = [k for k in live if matchers[k].fill_next_token_bitmask(bitmask, k, budget=budget)]
        apply_token_bitmask_inplace(logits, bitmask, indices=needed)
        probabilities = torch.softmax(logits[live] * 0.5, dim=-1)
        sampled = torch.multinomial(probabilities, 1, generator=generator)[:, 0].tolist()
        for k, token in zip(live, sampled, strict=True):
            assert matchers[k].accept_token(token)
            outputs[k].append(token)
    assert all(m.is_terminated() for m in matchers), outputs
    texts = [tokenizer.decode(out[:-1]) for out in outputs]
    assert all(out[-1] in vocabulary.eos_token_ids for out in outputs)
    for k, text in enumerate(texts):
        if k % 2 == 0:
            assert re.fullmatch(r"[0-9]{1,4}-[a-z]{2,5}", text), text
        else:
            value = json.loads(text)
            assert isinstance(value["id"], int) and value["tag"] in {"red", "green"}, text
