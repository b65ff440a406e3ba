"""Regex text helpers shared by every writer of the schema compiler: alternation, groups,
quantifiers, the size estimate and grammar-mode rule references.

Every function returns text in the regex subset that typedgen's automaton compiler accepts
(also valid Python ``re`` with the same meaning).
"""

from __future__ import annotations

import re

from typedgen._regex import VIRTUAL_COPIES

__all__ = [
    "alternation",
    "group",
    "optional_alternation",
    "quantifier",
    "regex_size",
    "rule_reference",
]


def alternation(parts: list[str]) -> str | None:
    """``a|b|c`` as one group, repeats dropped (``None`` for no alternative, the part itself
    for one)."""
    unique = list(dict.fromkeys(parts))
    if not unique:
        return None
    if len(unique) == 1:
        return unique[0]
    return "(?:" + "|".join(unique) + ")"


def optional_alternation(parts: list[str]) -> str | None:
    """Alternation that keeps a possible empty alternative as ``(?:...)?``; never an alternation
    at the top level, so it concatenates as it is.  ``parts`` do not have one either."""
    nonempty = [p for p in parts if p]
    if not nonempty:
        return "" if parts else None
    if len(nonempty) == 1:
        return f"(?:{nonempty[0]})?" if len(parts) > 1 else nonempty[0]
    body = "|".join(nonempty)
    return f"(?:{body})?" if len(nonempty) < len(parts) else f"(?:{body})"


def group(regex: str) -> str:
    """``regex`` as one item that a concatenation can hold: wrapped when it has a ``|``."""
    return f"(?:{regex})" if "|" in regex else regex


def quantifier(low: int, high: int | None) -> str:
    """The shortest quantifier for ``low`` to ``high`` repeats (``None``: no most)."""
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == high:
        return f"{{{low}}}"
    if low == 0 and high == 1:
        return "?"
    return f"{{{low},{high}}}"


# counted repeats of a class and of a group, with the states one copy costs (each pattern starts
# with a literal, which `re` searches for fast)
_COUNTED = (
    (re.compile(r"\]\{(\d+)(?:(,)(\d*))?\}"), 2),
    (re.compile(r"\)\{(\d+)(?:(,)(\d*))?\}"), 30),
)


def regex_size(regex: str) -> int:
    """The size of ``regex`` as the automaton compiler pays for it, an estimate of its states:
    half its length, plus the copies that short counted repeats ``X{m,n}`` unroll (a class
    costs about 2 states a copy, a group such as one string character about 30); repeats of
    ``VIRTUAL_COPIES`` or more copies are kept as one copy (see ``typedgen._regex``)."""
    size = len(regex) // 2
    for counted, cost in _COUNTED:
        for low, comma, high in counted.findall(regex):
            copies = int(low) if not comma else int(high or int(low) + 1)
            if copies < VIRTUAL_COPIES:
                size += cost * copies
    return size


def rule_reference(number: int) -> str:
    """The mark that grammar mode writes in a regex for rule ``number`` (NUL never appears in
    the compiler's regexes otherwise: control characters are always written as escapes)."""
    return f"\x00{number}\x00"
