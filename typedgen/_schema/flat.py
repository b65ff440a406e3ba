"""The flat form of a schema (:class:`Flat`: the conjunction of its keywords, combinators
resolved) and its conjunction; helpers on JSON values (equality as JSON Schema has it, types).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from typedgen._errors import SchemaError

__all__ = [
    "ALL_TYPES",
    "TYPES",
    "Bound",
    "Flat",
    "Negated",
    "Sub",
    "canonical",
    "dumps",
    "is_in",
    "may_fit",
    "member_is",
    "nesting",
    "other_types",
    "search",
    "tighter",
    "type_of",
    "unique_subs",
]

TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
ALL_TYPES = frozenset(TYPES)

Sub = tuple[Any, str]  # (subschema, its JSON pointer)


@dataclass(frozen=True)
class Bound:
    value: Decimal
    open: bool


@dataclass(frozen=True)
class Flat:
    """The conjunction of a schema's own keywords, with combinators resolved.

    A JSON value satisfies the flat schema iff it satisfies every field; subschemas are kept as
    lists meaning "all of".  ``where`` maps a keyword to the pointer it came from.
    """

    types: frozenset[str] = ALL_TYPES
    enum: tuple[Any, ...] | None = None
    not_enum: tuple[Any, ...] = ()
    low: Bound | None = None
    high: Bound | None = None
    multiple_of: tuple[Decimal, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    properties: tuple[tuple[str, tuple[Sub, ...]], ...] = ()
    pattern_properties: tuple[tuple[str, tuple[Sub, ...]], ...] = ()
    additional: tuple[Sub, ...] = ()
    property_names: tuple[Sub, ...] = ()
    required: tuple[str, ...] = ()
    min_properties: int = 0
    max_properties: int | None = None
    prefix: tuple[tuple[Sub, ...], ...] = ()
    items: tuple[Sub, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False
    where: tuple[tuple[str, str], ...] = ()

    def pointer(self, keyword: str) -> str:
        return dict(self.where).get(keyword, "")

    @functools.cached_property
    def _property_map(self) -> dict[str, tuple[Sub, ...]]:
        return dict(self.properties)

    def rule(self, name: str) -> tuple[Sub, ...]:
        """The subschemas a member called ``name`` must satisfy: its ``properties`` entry and
        every ``patternProperties`` entry whose pattern it matches, else additionalProperties."""
        props = self._property_map
        matching = tuple(s for p, subs in self.pattern_properties if search(p, name) for s in subs)
        if name in props:
            return unique_subs(props[name] + matching)
        return matching if matching else self.additional

    def conj(self, other: Flat) -> Flat | None:
        """The conjunction of two flat schemas (``None`` when it obviously has no instance)."""
        types = self.types & other.types  # "number" always comes with "integer"
        enum = self.enum
        if other.enum is not None:
            enum = other.enum if enum is None else tuple(v for v in enum if is_in(v, other.enum))
        same_patterns = [p for p, _ in self.pattern_properties] == [
            p for p, _ in other.pattern_properties
        ]
        if (
            self.pattern_properties
            and other.pattern_properties
            and not same_patterns
            and (self.additional or other.additional)
        ):
            raise SchemaError(
                "different patternProperties on both sides combined with additionalProperties "
                "is not supported",
                pointer=self.pointer("patternProperties") or other.pointer("patternProperties"),
                keyword="patternProperties",
            )
        pattern_properties: tuple[tuple[str, tuple[Sub, ...]], ...]
        if self.pattern_properties and same_patterns:
            pattern_properties = tuple(
                (p, unique_subs(a + b))
                for (p, a), (_, b) in zip(
                    self.pattern_properties, other.pattern_properties, strict=True
                )
            )
        else:
            # a name matching one side's pattern meets the other side's additionalProperties
            pattern_properties = tuple(
                (p, subs + other.additional) for p, subs in self.pattern_properties
            ) + tuple((p, subs + self.additional) for p, subs in other.pattern_properties)
        names = list(
            dict.fromkeys([n for n, _ in self.properties] + [n for n, _ in other.properties])
        )
        properties = tuple((n, unique_subs(self.rule(n) + other.rule(n))) for n in names)
        prefix_len = max(len(self.prefix), len(other.prefix))
        prefix = tuple(
            (self.prefix[i] if i < len(self.prefix) else self.items)
            + (other.prefix[i] if i < len(other.prefix) else other.items)
            for i in range(prefix_len)
        )
        merged = Flat(
            types=frozenset(types),
            enum=enum,
            not_enum=self.not_enum + other.not_enum,
            low=tighter(self.low, other.low, lower=True),
            high=tighter(self.high, other.high, lower=False),
            multiple_of=tuple(dict.fromkeys(self.multiple_of + other.multiple_of)),
            min_length=max(self.min_length, other.min_length),
            max_length=_min(self.max_length, other.max_length),
            patterns=tuple(dict.fromkeys(self.patterns + other.patterns)),
            formats=tuple(dict.fromkeys(self.formats + other.formats)),
            properties=properties,
            pattern_properties=pattern_properties,
            additional=unique_subs(self.additional + other.additional),
            property_names=self.property_names + other.property_names,
            required=tuple(dict.fromkeys(self.required + other.required)),
            min_properties=max(self.min_properties, other.min_properties),
            max_properties=_min(self.max_properties, other.max_properties),
            prefix=prefix,
            items=self.items + other.items,
            min_items=max(self.min_items, other.min_items),
            max_items=_min(self.max_items, other.max_items),
            unique=self.unique or other.unique,
            where=self.where + tuple(w for w in other.where if w[0] not in dict(self.where)),
        )
        if not merged.types or (merged.enum is not None and not merged.enum):
            return None
        return merged


def may_fit(value: Any, kind: str, flat: Flat) -> bool:
    """Whether the enum ``value`` is of type ``kind`` and may satisfy ``flat`` (judged on
    ``not``-ed values and, for strings, lengths and patterns; unsure: True)."""
    if not (type_of(value) == kind or (kind == "number" and type_of(value) == "integer")):
        return False
    if is_in(value, flat.not_enum):
        return False
    if kind != "string":
        return True
    if len(value) < flat.min_length or (
        flat.max_length is not None and len(value) > flat.max_length
    ):
        return False
    try:
        return all(re.search(pattern, value) for pattern in flat.patterns)
    except re.error:
        return True


def member_is(name: str, flat: Flat, pointer: str) -> Flat:
    """Objects that have a member ``name`` whose value satisfies ``flat``."""
    return Flat(
        types=frozenset({"object"}),
        required=(name,),
        properties=((name, ((Negated((flat,)), pointer),)),),
    )


def unique_subs(subs: tuple[Sub, ...]) -> tuple[Sub, ...]:
    """``subs`` without repeats (the same subschema at the same pointer)."""
    seen: set[tuple[int, str]] = set()
    out = []
    for schema, pointer in subs:
        if (id(schema), pointer) not in seen:
            seen.add((id(schema), pointer))
            out.append((schema, pointer))
    return tuple(out)


def other_types(kinds: set[str] | frozenset[str]) -> Flat:
    return Flat(types=ALL_TYPES - frozenset(kinds))


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def tighter(a: Bound | None, b: Bound | None, *, lower: bool) -> Bound | None:
    if a is None or b is None:
        return a or b
    if a.value == b.value:
        return Bound(a.value, a.open or b.open)
    return (a if a.value > b.value else b) if lower else (a if a.value < b.value else b)


def search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _json_key(value: Any) -> str:
    """A key under which equal JSON values (1 == 1.0, but true != 1) compare equal."""
    return json.dumps(canonical(value), sort_keys=True)


def canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    return value


def nesting(value: Any) -> int:
    """How many levels of arrays/objects ``value`` nests (0 for a scalar)."""
    if isinstance(value, list):
        return 1 + max((nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting(v) for v in value.values()), default=0)
    return 0


def is_in(value: Any, values: Sequence[Any]) -> bool:
    key = _json_key(value)
    return any(_json_key(v) == key for v in values)


def type_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(frozen=True, eq=False)
class Negated:
    """A subschema already given as flat alternatives (produced by negation)."""

    flats: tuple[Flat, ...]


def dumps(value: Any) -> str:
    """``value`` as compact JSON text, non-ASCII characters raw (as typedgen writes JSON)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
