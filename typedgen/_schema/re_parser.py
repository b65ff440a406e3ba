"""The one adapter over the standard library's private regex parser (``re._parser``, formerly
``sre_parse``), which gives ``pattern`` keywords their exact Python semantics.

Nothing else in typedgen imports it: a change of its interface in a new Python release is
mended here.  A parsed pattern is a list of items ``(opcode, argument)``; ``str(opcode)`` names
the construct (``"LITERAL"``, ``"IN"``, ``"BRANCH"``, ``"SUBPATTERN"``, one of :data:`REPEATS`,
``"AT"``...), and the arguments hold nested item lists as the standard library lays them out.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

__all__ = ["MAXREPEAT", "REPEATS", "Item", "PatternError", "is_parsed", "parse", "width"]

_PARSER: Any = importlib.import_module("re._parser")
MAXREPEAT: int = importlib.import_module("re._constants").MAXREPEAT
"""The upper count of an unbounded repeat."""
REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
"""The names of the repeat opcodes; their argument is ``(low, high, items)``."""

Item = tuple[Any, Any]


class PatternError(ValueError):
    """A ``pattern`` uses a construct that cannot be translated exactly."""


def parse(pattern: str) -> list[Item]:
    """The items of ``pattern``; :class:`PatternError` for an invalid pattern and for inline
    flags (``(?i)``, ``(?m)``, ``(?s)``, ``(?x)``), which would change what the items mean."""
    try:
        parsed = _PARSER.parse(pattern)
    except re.error as error:
        raise PatternError(f"invalid regular expression: {error}") from error
    if parsed.state.flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE):
        raise PatternError("inline flags are not supported")
    return list(parsed)


def width(items: list[Item]) -> tuple[int, int | None]:
    """(min, max) length of the strings ``items`` match (max ``None``: unbounded)."""
    sub = _PARSER.SubPattern(_PARSER.State(), list(items))
    low, high = sub.getwidth()
    return int(low), None if high >= MAXREPEAT else int(high)


def is_parsed(value: Any) -> bool:
    """Whether ``value`` (a part of an item's argument) is a nested parsed item list."""
    return isinstance(value, _PARSER.SubPattern)
