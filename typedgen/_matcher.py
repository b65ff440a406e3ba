"""The per-request half of the compiler/matcher split: :class:`Matcher`.

A :class:`~typedgen.Compiler` (or ``compile_*``) turns a constraint into a
:class:`~typedgen.Guide`, which is stateless apart from memoized masks, thread-safe and shared
by every request of that constraint. A :class:`Matcher` is what one request holds: the guide,
its current state and a bounded history of earlier states. It is all an inference engine needs
to constrain a request (typedgen's own vLLM processor uses it)::

    matcher = Matcher(guide, max_rollback=4)
    while not matcher.is_terminated():
        matcher.fill_next_token_bitmask(bitmask, row)   # before sampling
        ...                                            # mask logits, sample ``token``
        matcher.accept_token(token)                     # after sampling
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np

from typedgen._errors import GuideError, UsageError
from typedgen._fsm import Guide

__all__ = ["Matcher"]


class Matcher:
    """Follows one generation through a compiled :class:`~typedgen.Guide`.

    What it guarantees:

    * a token is accepted exactly when the guide allows it in the current state (its bytes keep
      the text a prefix of a string the constraint accepts, or it is EOS in a final state); a
      refused token leaves the matcher unchanged, and ``accept_token`` returns False instead of
      raising;
    * the mask written by :meth:`fill_next_token_bitmask` allows exactly the tokens that
      ``accept_token`` would accept;
    * after an EOS token has been accepted the matcher is terminated: the mask allows only EOS,
      a further EOS is accepted (it stays terminated) and every other token refused;
    * ``rollback(n)`` restores the state before the last ``n`` accepted tokens, for any ``n`` up
      to ``max_rollback`` (the history kept; older states are dropped as tokens are accepted);
    * errors of the constraint itself (an automaton passing its state limit,
      :class:`~typedgen.StateLimitError` / :class:`~typedgen.GrammarLimitError`) propagate: they
      are not a refused token.

    A matcher is cheap (a few Python attributes) and belongs to one request: it is not
    thread-safe, but any number of matchers may share a guide across threads.
    """

    __slots__ = ("_guide", "_history", "_initial", "_state")

    def __init__(self, guide: Guide, *, max_rollback: int = 0) -> None:
        if max_rollback < 0:
            raise UsageError(f"max_rollback must be >= 0, not {max_rollback}")
        self._guide = guide
        self._initial = guide.initial_state
        self._state = self._initial
        self._history: deque[int] = deque(maxlen=max_rollback)

    @property
    def guide(self) -> Guide:
        """The compiled guide this matcher follows (shared; never modified by the matcher)."""
        return self._guide

    @property
    def state(self) -> int:
        """The current guide state (:attr:`Guide.finished_state` once terminated)."""
        return self._state

    @property
    def max_rollback(self) -> int:
        """How many accepted tokens :meth:`rollback` can undo at most."""
        maxlen = self._history.maxlen
        return 0 if maxlen is None else maxlen

    def accept_token(self, token_id: int) -> bool:
        """Advance by ``token_id`` when the guide allows it; whether it was accepted."""
        state = self._state
        try:
            self._state = self._guide.advance(state, token_id)
        except GuideError:
            return False
        self._history.append(state)
        return True

    def accept_tokens(self, token_ids: Iterable[int]) -> bool:
        """Accept ``token_ids`` in order, all or none: True when every one was accepted; at the
        first refused token the matcher is left as it was before the call."""
        guide = self._guide
        state = self._state
        passed: list[int] = []
        for token_id in token_ids:
            try:
                following = guide.advance(state, token_id)
            except GuideError:
                return False
            passed.append(state)
            state = following
        self._history.extend(passed)
        self._state = state
        return True

    def fill_next_token_bitmask(
        self, bitmask: Any, row: int = 0, *, budget: int | None = None
    ) -> bool:
        """Write the tokens allowed next into row ``row`` of ``bitmask`` (int32, shape
        ``(rows, guide.bitmask_width)``, a numpy array or a CPU torch tensor, see
        :func:`typedgen.torch.allocate_token_bitmask`): bit ``t % 32`` of word ``t // 32`` is
        set exactly when token ``t`` may be sampled::

            allowed[t] = (bitmask[row, t // 32] >> (t % 32)) & 1

        ``budget``: the tokens the request may still generate, this one and EOS included; when
        given, only tokens after which the constraint can be completed within it are allowed
        (:meth:`Guide.fill_bitmask_within`; when the shortest completion does not fit, the
        plain mask is written).

        Returns whether the logits need masking: False exactly when every token id below
        ``guide.vocab_size`` is allowed.
        """
        guide = self._guide
        if budget is None:
            guide.fill_bitmask(self._state, bitmask, row)
        else:
            guide.fill_bitmask_within(self._state, budget, bitmask, row)
        words = bitmask[row] if isinstance(bitmask, np.ndarray) else bitmask.numpy()[row]
        return not _allows_every_token(words, guide.vocab_size)

    def is_final(self) -> bool:
        """True when the text so far is a complete match (EOS would be accepted now)."""
        return self._guide.is_final(self._state)

    def is_terminated(self) -> bool:
        """True once an EOS token has been accepted."""
        return self._state == Guide.finished_state

    def rollback(self, num_tokens: int) -> None:
        """Undo the last ``num_tokens`` accepted tokens (0 does nothing); raises
        :class:`~typedgen.UsageError` when fewer are in the history (see ``max_rollback``)."""
        history = self._history
        if num_tokens < 0 or num_tokens > len(history):
            raise UsageError(
                f"cannot roll back {num_tokens} tokens: {len(history)} are kept "
                f"(max_rollback={self.max_rollback})"
            )
        for _ in range(num_tokens):
            self._state = history.pop()

    def reset(self) -> None:
        """Back to the guide's initial state, with an empty history."""
        self._state = self._initial
        self._history.clear()


def _allows_every_token(words: np.ndarray[Any, Any], vocab_size: int) -> bool:
    """Whether a bitmask row allows every token id below ``vocab_size``."""
    full, rest = divmod(vocab_size, 32)
    if full and words[0] != -1:  # the usual answer, without scanning the row
        return False
    if not bool((words[:full] == -1).all()):
        return False
    tail = (1 << rest) - 1
    return rest == 0 or int(words[full]) & tail == tail
