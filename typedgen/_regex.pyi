"""Typed stub of the Cython front end ``typedgen/_regex.pyx`` (see its docstring)."""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MAX_NODES",
    "MAX_NESTING",
    "MAX_NODE_IDS",
    "VIRTUAL_COPIES",
    "Nfa",
    "regex_to_nfa",
]

DEFAULT_MAX_NODES: int
"""Default limit on the NFA nodes of one pattern."""

MAX_NESTING: int
"""Deepest supported nesting of groups."""

VIRTUAL_COPIES: int
"""Counted repeats with at least this many copies are kept as one copy (see :class:`Nfa`)."""

MAX_NODE_IDS: int
"""Most node numbers, virtual copies included, of one NFA."""

@dataclass(frozen=True)
class Nfa:
    """An epsilon-NFA over bytes. Edge ``k`` goes from ``src[k]`` to ``dst[k]`` on any byte in
    ``lo[k]..hi[k]``, or on no input when ``lo[k] == -1``. Node 0 is the start, ``accept`` the
    only accepting node; every node lies on a path from the start to ``accept``.

    Each row ``(start, size, copies, lo, end, exit)`` of ``blocks`` is a counted repeat kept as
    one copy (nodes ``start .. start + size - 1``, left at ``end``); its other copies and the
    edges between copies are implied (see ``typedgen/_regex.pyx``)."""

    num_nodes: int
    src: npt.NDArray[np.int32]
    lo: npt.NDArray[np.int32]
    hi: npt.NDArray[np.int32]
    dst: npt.NDArray[np.int32]
    accept: int
    blocks: npt.NDArray[np.int32]

def regex_to_nfa(pattern: str, *, max_nodes: int = ...) -> Nfa:
    """Parse ``pattern`` and lower it to a byte-level :class:`Nfa`; raises RegexError (with the
    position of the construct at fault) or StateLimitError (more than ``max_nodes`` nodes)."""
