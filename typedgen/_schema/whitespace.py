"""How much whitespace a generated JSON text may hold."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Whitespace"]


@dataclass(frozen=True)
class Whitespace:
    """Where and how much whitespace a generated JSON text may contain.

    ``Whitespace()`` (the default) is compact: no whitespace at all, ``{"a":[1,2]}``.
    ``Whitespace.flexible(max_chars)`` allows 0..``max_chars`` characters of JSON whitespace
    (space, tab, newline, carriage return) before and after each structural character
    (``{ } [ ] : ,``), enough for pretty-printed output; whitespace runs are always bounded.
    """

    max_chars: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.max_chars, int) or self.max_chars < 0:
            raise ValueError(f"max_chars must be a non-negative int, not {self.max_chars!r}")

    @classmethod
    def compact(cls) -> Whitespace:
        """No whitespace (the default)."""
        return cls(0)

    @classmethod
    def flexible(cls, max_chars: int = 8) -> Whitespace:
        """Up to ``max_chars`` whitespace characters around each structural character."""
        return cls(max_chars)

    @property
    def regex(self) -> str:
        """The regex of one whitespace run (``""`` when compact)."""
        if self.max_chars == 0:
            return ""
        return rf"[ \t\n\r]{{0,{self.max_chars}}}"
