"""Hypothesis strategies (Hypothesis is needed only by whoever calls them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from typedgen._fsm import Guide

__all__ = ["accepted_bytes", "regex_patterns"]


def regex_patterns(atoms: Sequence[str], *, max_leaves: int) -> SearchStrategy[str]:
    """Patterns built from ``atoms`` (each a complete regex) by concatenation, alternation,
    ``*``, ``+``, ``?`` (on capturing and non-capturing groups) and counted repeats ``{m,n}``
    (small, or up to 9 copies: long enough to be kept as one copy, see ``typedgen._regex``)
    and ``{m,}`` with small bounds: every pattern means the same to typedgen and to ``re``."""
    from hypothesis import strategies as st

    def combine(children: SearchStrategy[str]) -> SearchStrategy[str]:
        pair = st.tuples(children, children)
        bounds = st.one_of(
            st.tuples(st.integers(0, 3), st.integers(0, 3)),
            st.tuples(st.integers(0, 9), st.integers(8, 9)),
        ).map(sorted)
        return st.one_of(
            pair.map(lambda p: p[0] + p[1]),
            pair.map(lambda p: f"(?:{p[0]}|{p[1]})"),
            children.map(lambda c: f"(?:{c})*"),
            children.map(lambda c: f"(?:{c})+"),
            children.map(lambda c: f"(?:{c})?"),
            children.map(lambda c: f"({c})?"),
            st.tuples(children, bounds).map(lambda t: f"(?:{t[0]}){{{t[1][0]},{t[1][1]}}}"),
            st.tuples(children, st.integers(0, 3)).map(lambda t: f"(?:{t[0]}){{{t[1]},}}"),
        )

    return st.recursive(st.sampled_from(list(atoms)), combine, max_leaves=max_leaves)


def accepted_bytes(guide: Guide, *, free_steps: int = 40) -> SearchStrategy[bytes]:
    """Complete strings of ``guide``, drawn from the automaton itself rather than from a regex
    engine: a walk that takes any allowed byte for up to ``free_steps`` bytes, stopping where the
    string is complete when the draw says so, then the shortest way to a complete string.

    ``guide`` must be over the byte vocabulary (token ``b`` is byte ``b``, as
    :meth:`typedgen.Vocabulary.of_bytes` builds it); every string it accepts can be drawn.
    """
    from hypothesis import strategies as st

    @st.composite
    def walk(draw: st.DrawFn) -> bytes:
        state = guide.initial_state
        out = bytearray()
        while True:
            steps = [t for t in guide.allowed_token_ids(state) if t < 256]
            if guide.is_final(state) and (not steps or not draw(st.booleans())):  # stop: simplest
                return bytes(out)
            if len(out) >= free_steps:  # from here on, only bytes that bring the end closer
                nearest = min(guide.distance_to_final(guide.advance(state, t)) for t in steps)
                steps = [
                    t for t in steps if guide.distance_to_final(guide.advance(state, t)) == nearest
                ]
            byte = draw(st.sampled_from(steps))
            state = guide.advance(state, byte)
            out.append(byte)

    return walk()
