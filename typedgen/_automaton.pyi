"""Typed stub of the Cython module ``typedgen/_automaton.pyx`` (see its docstring)."""

from typedgen._regex import Nfa

__all__ = ["DEFAULT_MAX_STATES", "Automaton", "RegexAutomaton"]

DEFAULT_MAX_STATES: int
"""Default limit on the DFA states of one pattern."""

class Automaton:
    """A deterministic byte automaton that a :class:`Guide` drives through C methods."""

    @property
    def initial_state(self) -> int: ...
    def run(self, data: bytes, state: int = -1) -> int:
        """State reached over ``data`` from ``state`` (default initial); -1 when dead."""
    def is_accepting(self, state: int) -> bool: ...
    def distance_to_final(self, state: int) -> int:
        """The fewest bytes from ``state`` to an accepting state (0 when it accepts)."""

class RegexAutomaton(Automaton):
    """The lazily built DFA of a byte NFA; raises StateLimitError past ``max_states``."""

    pattern: str
    def __init__(self, nfa: Nfa, *, pattern: str, max_states: int) -> None: ...
    @property
    def states(self) -> int: ...
