"""Typed stub of the Cython module ``typedgen/_trie.pyx`` (see its docstring)."""

from collections.abc import Sequence

from typedgen._automaton import Automaton

__all__ = ["TokenTrie", "TrieWalk"]

class TokenTrie:
    """Byte trie of a vocabulary; ``None`` or empty entries are never allowed."""

    def __init__(self, token_bytes: Sequence[bytes | None]) -> None: ...
    def __len__(self) -> int: ...
    @property
    def num_nodes(self) -> int: ...
    @property
    def memory(self) -> int: ...
    def token_bytes(self, token_id: int) -> bytes | None: ...

class TrieWalk:
    """The walks of an automaton over a trie (C methods), with the memos of its shortcuts."""

    trie: TokenTrie
    def __init__(
        self, trie: TokenTrie, automaton: Automaton, *, shortcuts: bool = True
    ) -> None: ...
