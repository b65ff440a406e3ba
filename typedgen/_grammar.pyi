"""Typed stub of the Cython grammar engine ``typedgen/_grammar.pyx`` (see its docstring)."""

from typedgen._automaton import Automaton
from typedgen._cfg import Cfg

__all__ = [
    "DEFAULT_MAX_STACK_DEPTH",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_TIMEOUT",
    "UNBOUNDED_DISTANCE",
    "GrammarAutomaton",
]

DEFAULT_MAX_STACK_DEPTH: int
"""Default limit on the rules open at one point of the text."""

DEFAULT_MAX_THREADS: int
"""Default limit on the simultaneous parses (threads) of one prefix."""

DEFAULT_TIMEOUT: float
"""Default limit, in seconds, on compiling one grammar."""

UNBOUNDED_DISTANCE: int
"""``max_distance`` of a recursive grammar (distances have no bound)."""

class GrammarAutomaton(Automaton):
    """The parser of a :class:`~typedgen._cfg.Cfg` as a lazily built deterministic automaton;
    raises GrammarError / GrammarLimitError."""

    source: str
    max_states: int
    max_stack_depth: int
    max_threads: int
    def __init__(
        self,
        cfg: Cfg,
        *,
        source: str,
        max_states: int = ...,
        max_stack_depth: int = ...,
        max_threads: int = ...,
        timeout: float = ...,
        max_nodes: int = ...,
    ) -> None: ...
    @property
    def states(self) -> int:
        """Number of parser states built so far."""
    @property
    def stack_frames(self) -> int:
        """Number of distinct stack frames built so far."""
    def describe(self, state: int) -> list[tuple[str, int, int]]:
        """The threads of ``state`` as (terminal name, terminal DFA state, stack depth)."""
