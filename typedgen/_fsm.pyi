"""Typed stub of the Cython core ``typedgen/_fsm.pyx`` (see its docstring)."""

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from typedgen._regex import Nfa

__all__ = [
    "DEFAULT_MAX_STATES",
    "PREFETCH_SUCCESSORS",
    "Automaton",
    "Guide",
    "RegexAutomaton",
    "TokenTrie",
    "fill_bitmasks",
]

DEFAULT_MAX_STATES: int
"""Default limit on the DFA states of one pattern."""
PREFETCH_SUCCESSORS: int
"""The most successor states whose masks one :meth:`Guide.prefetch` computes."""

class Automaton:
    """A deterministic byte automaton that a :class:`Guide` drives through C methods."""

    @property
    def initial_state(self) -> int: ...
    def run(self, data: bytes, state: int = -1) -> int:
        """State reached over ``data`` from ``state`` (default initial); -1 when dead."""
    def is_accepting(self, state: int) -> bool: ...
    def distance_to_final(self, state: int) -> int:
        """The fewest bytes from ``state`` to an accepting state (0 when it accepts)."""
    def text_bound(self, state: int) -> tuple[int, bool]:
        """(how many text characters surely stay live from ``state``, whether exactly)."""

class RegexAutomaton(Automaton):
    """The lazily built DFA of a byte NFA; raises StateLimitError past ``max_states``."""

    pattern: str
    def __init__(self, nfa: Nfa, *, pattern: str, max_states: int) -> None: ...
    @property
    def states(self) -> int: ...

class TokenTrie:
    """Byte trie of a vocabulary; ``None`` or empty entries are never allowed."""

    def __init__(self, token_bytes: Sequence[bytes | None]) -> None: ...
    def __len__(self) -> int: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def memory(self) -> int: ...
    def token_bytes(self, token_id: int) -> bytes | None: ...

class Guide:
    """Allowed tokens of an automaton over a vocabulary; states are ints, 0 = finished."""

    finished_state: ClassVar[int]
    vocab_size: int
    def __init__(
        self,
        automaton: Automaton,
        trie: TokenTrie,
        *,
        eos_token_ids: Iterable[int],
        vocab_size: int,
    ) -> None: ...
    @property
    def initial_state(self) -> int: ...
    @property
    def bitmask_width(self) -> int: ...
    @property
    def num_states(self) -> int: ...
    @property
    def memory(self) -> int:
        """Bytes of C memory held (not the shared trie): the sum of :meth:`memory_usage`."""
    def memory_usage(self) -> dict[str, int]:
        """Bytes held by part: ``automaton``, ``masks``, ``index``."""
    def prefetch(self, state: int) -> None:
        """Queue the masks of the states one token after ``state`` for the background thread."""
    def precompute(self, state: int) -> int:
        """What :meth:`prefetch` does, in the calling thread; the number of masks computed."""
    def is_final(self, state: int) -> bool: ...
    @property
    def max_distance(self) -> int: ...
    def fill_bitmask(self, state: int, out: Any, row: int = 0) -> None: ...
    def fill_bitmask_within(self, state: int, budget: int, out: Any, row: int = 0) -> bool:
        """:meth:`fill_bitmask` keeping only tokens after which a completion fits in
        ``budget`` tokens (EOS included); False: none does, the plain mask was written."""
    def distance_to_final(self, state: int) -> int: ...
    def allowed_token_ids(self, state: int) -> list[int]: ...
    def is_allowed(self, state: int, token_id: int) -> bool: ...
    def advance(self, state: int, token_id: int) -> int: ...
    def advance_bytes(self, state: int, data: bytes) -> int: ...

def fill_bitmasks(
    guides: Sequence[Guide],
    states: Sequence[int],
    out: Any,
    rows: Sequence[int] | None = None,
    *,
    threads: int = 1,
) -> list[int]:
    """Row ``rows[j]`` (default ``j``) of ``out`` gets ``guides[j]``'s mask of ``states[j]``,
    rows shared between ``threads`` threads; the positions whose automaton failed."""

def _wait_prefetched() -> None: ...
