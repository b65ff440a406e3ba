"""Hypothesis strategies (Hypothesis is needed only by whoever calls them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy


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
