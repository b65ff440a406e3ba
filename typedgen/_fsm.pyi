"""Typed stub of the Cython module ``typedgen/_fsm.pyx`` (see its docstring): the guides, and
the re-exports of the automaton and trie modules."""

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from typedgen._automaton import DEFAULT_MAX_STATES, Automaton, RegexAutomaton
from typedgen._trie import TokenTrie

__all__ = [
    "DEFAULT_MAX_STATES",
    "PREFETCH_SUCCESSORS",
    "Automaton",
    "Guide",
    "MaskRows",
    "RegexAutomaton",
    "TokenTrie",
    "fill_bitmasks",
    "fill_bitmasks_within",
]

PREFETCH_SUCCESSORS: int
"""The most successor states whose masks one :meth:`Guide.prefetch` computes."""
ROW_HEADER: int
"""The bytes each mask of a :class:`MaskRows` takes besides its packed words."""

class MaskRows:
    """The packed masks of the guides of one vocabulary, each distinct mask held once."""

    @property
    def memory(self) -> int:
        """Bytes of C memory held: the sum of :meth:`memory_usage`."""
    def memory_usage(self) -> dict[str, int]:
        """Bytes held by part: ``rows`` (the masks), ``table``."""
    def __len__(self) -> int:
        """The number of distinct masks held."""

class Guide:
    """Allowed tokens of an automaton over a vocabulary; states are ints, 0 = finished."""

    finished_state: ClassVar[int]
    vocab_size: int
    mask_rows: MaskRows
    """Where the guide's masks are kept: its trie's store, or its own (``share_rows=False``)."""
    def __init__(
        self,
        automaton: Automaton,
        trie: TokenTrie,
        *,
        eos_token_ids: Iterable[int],
        vocab_size: int,
        shortcuts: bool = True,
        share_rows: bool = True,
    ) -> None:
        """``shortcuts=False``: no JSON-string or whole-subtree shortcut in the trie walk (same
        masks, slower; the reference the shortcuts are tested against). ``share_rows=False``: a
        store of masks of its own instead of the trie's shared one (same masks)."""
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

def fill_bitmasks_within(
    guides: Sequence[Guide],
    states: Sequence[int],
    budgets: Sequence[int],
    out: Any,
    rows: Sequence[int] | None = None,
    *,
    threads: int = 1,
) -> list[int]:
    """Row ``rows[j]`` (default ``j``) of ``out`` gets ``guides[j]``'s mask of ``states[j]``
    within ``budgets[j]`` tokens (:meth:`Guide.fill_bitmask_within`; ``sys.maxsize``: the plain
    mask), rows shared between ``threads`` threads; the positions whose automaton failed."""

def _wait_prefetched() -> None: ...
