"""JSON arrays: the writer of array values (``prefixItems``, ``items``, lengths,
``uniqueItems`` over finite sets of values)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from typedgen._errors import SchemaError
from typedgen._schema.combinators import CycleError, Flattener
from typedgen._schema.flat import Flat, Sub, is_in
from typedgen._schema.regex_text import alternation, quantifier

if TYPE_CHECKING:
    from typedgen._schema.values import Compiler

__all__ = ["array_regex"]

_MAX_PERMUTED = 4  # unique arrays of up to this many distinct values may come in any order


def array_regex(c: Compiler, flat: Flat) -> str | None:
    """Regex of the arrays of ``flat`` (``None``: none), its elements written by ``c``."""
    low, high = flat.min_items, flat.max_items
    if high is not None and low > high:
        return None
    prefix: list[str | None] = [c.all_of_any(subs) for subs in flat.prefix]
    items = c.all_of_any(flat.items)
    if flat.unique and (high is None or high > 1):
        return _unique_array(c, flat, low, high)
    # positions beyond the prefix use `items`; the first impossible position caps the length
    for index, regex in enumerate(prefix):
        if regex is None:
            high = index if high is None else min(high, index)
            prefix = prefix[:index]
            break
    if items is None:
        high = len(prefix) if high is None else min(high, len(prefix))
    if high is not None and low > high:
        return None
    sep = c.token(",")
    # elements from position `i` on, each preceded by a separator when i > 0
    tail = ""
    if items is not None and (high is None or high > len(prefix)):
        start = len(prefix)
        min_rest = max(0, low - start)
        max_rest = None if high is None else high - start
        if start == 0:
            if max_rest == 0:
                tail = ""
            else:
                more = quantifier(max(0, min_rest - 1), None if max_rest is None else max_rest - 1)
                body = f"{items}(?:{sep}{items}){more}" if more != "{0}" else items
                tail = body if min_rest > 0 else f"(?:{body})?"
        else:
            quant = quantifier(min_rest, max_rest)
            tail = f"(?:{sep}{items}){quant}" if quant != "{0}" else ""
    positions = len(prefix) if high is None else min(len(prefix), high)
    body = tail
    for index in range(positions - 1, -1, -1):
        element = prefix[index] if index == 0 else f"{sep}{prefix[index]}"
        body = f"{element}{body}"
        if index >= low:
            body = f"(?:{body})?"
    return rf"\[{c.ws}{body}{c.ws}\]"


def _unique_array(c: Compiler, flat: Flat, low: int, high: int | None) -> str | None:
    values = _finite_values(c, flat.items) if not flat.prefix else None
    if values is None:
        raise SchemaError(
            "uniqueItems can only be expressed for items drawn from a finite set of values "
            "(enum, const, boolean)",
            pointer=flat.pointer("uniqueItems"),
            keyword="uniqueItems",
        )
    literals = [c.literal(v, fraction=False) for v in values]
    count = len(literals)
    if low > count:
        return None
    if (high is not None and high < count) or low > 1:
        raise SchemaError(
            "uniqueItems with minItems/maxItems can only be expressed when they do not "
            "restrict the count",
            pointer=flat.pointer("uniqueItems"),
            keyword="uniqueItems",
        )
    sep = c.token(",")
    if count <= _MAX_PERMUTED:
        # each value at most once, in any order
        def rest(remaining: tuple[int, ...]) -> str:
            if not remaining:
                return ""
            options = [
                f"{sep}{literals[i]}" + rest(tuple(j for j in remaining if j != i))
                for i in remaining
            ]
            return f"(?:{'|'.join(options)})?"

        body = (
            alternation(
                [literals[i] + rest(tuple(j for j in range(count) if j != i)) for i in range(count)]
            )
            or ""
        )
    else:
        # each value at most once, in the order of the enum (documented narrowing)
        alternatives = []
        for first in range(count):
            tail = "".join(f"(?:{sep}{lit})?" for lit in literals[first + 1 :])
            alternatives.append(literals[first] + tail)
        body = alternation(alternatives) or ""
    if low == 0:
        body = f"(?:{body})?"
    return rf"\[{c.ws}{body}{c.ws}\]"


def _finite_values(c: Flattener, subs: Sequence[Sub]) -> list[Any] | None:
    saved = dict(c.depth)
    try:
        flats = c.flatten_all(subs)
    except CycleError:  # recursive items: not a finite set
        return None
    finally:
        c.depth = saved
    values: list[Any] = []
    for flat in flats:
        if flat.enum is not None:
            values.extend(v for v in flat.enum if not is_in(v, values))
        elif flat.types == frozenset({"boolean"}):
            values.extend(v for v in (True, False) if not is_in(v, values))
        elif flat.types == frozenset({"null"}):
            values.extend(v for v in (None,) if not is_in(v, values))
        else:
            return None
    return values


# ----- objects
