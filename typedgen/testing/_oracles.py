"""Reference oracles for guides: plain-Python answers that tests compare a guide against."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from typedgen._errors import GuideError
from typedgen._fsm import Guide

__all__ = [
    "accepts_string",
    "accepts_tokens",
    "bitmask_to_bool",
    "bool_to_bitmask",
    "shortest_completion",
]


def accepts_string(guide: Guide, text: str | bytes) -> bool:
    """True when the guide's language contains ``text`` (its UTF-8 bytes when a str), by
    walking the automaton byte by byte, independently of any tokenization."""
    data = text.encode() if isinstance(text, str) else text
    try:
        state = guide.advance_bytes(guide.initial_state, data)
    except GuideError:
        return False
    return guide.is_final(state)


def accepts_tokens(guide: Guide, token_ids: Iterable[int], *, complete: bool = True) -> bool:
    """True when every token is allowed in turn (the mask agrees with ``advance``) and, when
    ``complete``, the walk ends in a final state (EOS included in ``token_ids`` or not)."""
    state = guide.initial_state
    for token_id in token_ids:
        allowed = guide.is_allowed(state, token_id)
        try:
            state = guide.advance(state, token_id)
        except GuideError:
            if allowed:
                message = f"token {token_id} is in the mask but advance refused it"
                raise AssertionError(message) from None
            return False
        if not allowed:
            raise AssertionError(f"advance accepted token {token_id} outside the mask")
    return guide.is_final(state) or not complete


def shortest_completion(guide: Guide, state: int) -> int:
    """Bytes in the shortest completion from ``state`` of a guide over single bytes (token
    ``b`` is byte ``b``, as :meth:`~typedgen.Vocabulary.of_bytes` has it), by a breadth-first
    search that tries every byte: what :meth:`Guide.distance_to_final` must return."""
    seen = {state}
    queue = deque([(state, 0)])
    while queue:
        current, length = queue.popleft()
        if guide.is_final(current):
            return length
        for byte in range(256):
            try:
                following = guide.advance(current, byte)
            except GuideError:
                continue
            if following not in seen:
                seen.add(following)
                queue.append((following, length + 1))
    raise AssertionError("no completion: a live state must reach a final one")


def bitmask_to_bool(bitmask: npt.NDArray[np.int32], vocab_size: int) -> npt.NDArray[np.bool_]:
    """Expand a bitmask (one row or ``(rows, width)``) into booleans of length ``vocab_size``:
    ``out[..., t] = (bitmask[..., t // 32] >> (t % 32)) & 1``."""
    words = np.ascontiguousarray(bitmask, dtype=np.int32).view(np.uint32)
    bits = (words[..., :, None] >> np.arange(32, dtype=np.uint32)) & 1
    return bits.reshape(*words.shape[:-1], -1)[..., :vocab_size].astype(bool)


def bool_to_bitmask(allowed: npt.NDArray[np.bool_]) -> npt.NDArray[np.int32]:
    """The inverse of :func:`bitmask_to_bool` for one row or ``(rows, vocab_size)``."""
    flags = np.asarray(allowed, dtype=bool)
    width = (flags.shape[-1] + 31) // 32
    padded = np.zeros((*flags.shape[:-1], width * 32), dtype=np.uint32)
    padded[..., : flags.shape[-1]] = flags
    weights = np.uint32(1) << np.arange(32, dtype=np.uint32)
    words = (padded.reshape(*flags.shape[:-1], width, 32) * weights).sum(axis=-1, dtype=np.uint32)
    result: npt.NDArray[np.int32] = words.view(np.int32)
    return result
