"""JSON objects: the writer of object values (members in schema order, ``required``,
``additionalProperties``, ``patternProperties``, ``propertyNames``, member counts)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from typedgen._errors import SchemaError
from typedgen._schema.charsets import CHAR, canonical_literal
from typedgen._schema.flat import Flat, Sub, dumps, search, unique_subs
from typedgen._schema.patterns import (
    always_matches,
    disjoint_patterns,
    pattern_literals,
    pattern_regex,
)
from typedgen._schema.re_parser import PatternError
from typedgen._schema.regex_text import alternation, quantifier
from typedgen._schema.strings import not_in, pattern_key_complement, pattern_key_not_in

if TYPE_CHECKING:
    from typedgen._schema.values import Compiler

__all__ = ["object_regex"]


def object_regex(c: Compiler, flat: Flat) -> str | None:
    """Regex of the objects of ``flat`` (``None``: none), member values written by ``c``."""
    colon = c.token(":")
    names = [n for n, _ in flat.properties]
    names += [n for n in flat.required if n not in names]
    required = set(flat.required)
    # (member regex, required?) for each declared name, in schema order
    members: list[tuple[str, bool]] = []
    for name in names:
        rule = flat.rule(name)
        if any(s is False for s, _ in rule):
            if name in required:
                return None
            continue
        key = _key_ok(c, flat, name)
        if not key:
            if name in required:
                return None
            continue
        regex = c.all_of_any(rule)
        if regex is None:
            if name in required:
                return None
            continue
        members.append((f'"{canonical_literal(name)}"{colon}{regex}', name in required))
    extra = _extra_member(c, flat, names)
    n_required = sum(1 for _, r in members if r)
    extra_max: int | None = None  # how many additional members at most
    if flat.max_properties is not None:
        if flat.max_properties < n_required:
            return None
        if extra is not None and members:
            raise SchemaError(
                "maxProperties together with declared and additional properties cannot be "
                "expressed",
                pointer=flat.pointer("maxProperties"),
                keyword="maxProperties",
            )
        if extra is None and flat.max_properties < len(members):
            raise SchemaError(
                "maxProperties below the number of declared properties cannot be expressed",
                pointer=flat.pointer("maxProperties"),
                keyword="maxProperties",
            )
        extra_max = flat.max_properties
        if extra_max == 0:
            extra = None
    min_one = False
    if flat.min_properties > n_required:
        if flat.min_properties > 1:
            raise SchemaError(
                "minProperties beyond the required properties cannot be expressed (except "
                "minProperties 1)",
                pointer=flat.pointer("minProperties"),
                keyword="minProperties",
            )
        min_one = True  # no member is required: at least one of the optional ones
    body = _members(members, extra, extra_max, min_one=min_one, sep=c.token(","))
    if body is None and min_one:
        return None
    inner = "" if body is None else body
    return rf"\{{{c.ws}{inner}{c.ws}\}}"


def _key_ok(c: Compiler, flat: Flat, name: str) -> bool:
    """Whether a declared name satisfies propertyNames."""
    if not flat.property_names:
        return True
    compact = c.compact(0)  # a name is a string: no nesting
    regex = compact.all_of(flat.property_names)
    c.depth_dependent |= compact.depth_dependent
    return regex is not None and re.fullmatch(regex, dumps(name)) is not None


def _extra_member(c: Compiler, flat: Flat, names: list[str]) -> str | None:
    """Regex of one member that is not a declared property (``None``: none allowed)."""
    colon = c.token(":")
    patterns = list(dict.fromkeys(p for p, _ in flat.pattern_properties))
    if len(patterns) == 1 and always_matches(patterns[0]):
        # every name matches the one pattern: its schema is what additional members meet
        subs = tuple(s for _, pattern_subs in flat.pattern_properties for s in pattern_subs)
        flat = replace(flat, pattern_properties=(), additional=unique_subs(subs))
    if flat.pattern_properties:
        # keys that match no pattern need the complement of the patterns: produced for one
        # pattern of one repeated class, else not (a documented narrowing when
        # additionalProperties is not false)
        if flat.property_names:
            raise SchemaError(
                "propertyNames with patternProperties is not supported",
                pointer=flat.pointer("propertyNames"),
                keyword="propertyNames",
            )
        by_pattern: dict[str, list[Sub]] = {}
        for pattern, subs in flat.pattern_properties:
            by_pattern.setdefault(pattern, []).extend(subs)
        if len(by_pattern) > 1 and not disjoint_patterns(list(by_pattern)):
            raise SchemaError(
                "several patternProperties cannot be expressed (except patterns that no "
                "name matches two of, as told by literal prefixes, first characters or "
                "literal endings)",
                pointer=flat.pointer("patternProperties"),
                keyword="patternProperties",
            )
        members = []
        for pattern, pattern_subs in by_pattern.items():
            value = c.all_of_any(pattern_subs)
            content = _pattern_key(flat, pattern, names)
            if value is not None and content is not None:
                members.append(f'"{content}"{colon}{value}')
        outside = None
        if len(by_pattern) == 1 and not any(s is False for s, _ in flat.additional):
            outside = pattern_key_complement(next(iter(by_pattern)), names)
        if outside is not None:
            value = c.all_of_any(flat.additional)
            if value is not None:
                members.append(f'"{outside}"{colon}{value}')
        return alternation(members)
    if any(s is False for s, _ in flat.additional):
        return None
    value = c.all_of_any(flat.additional)
    if value is None:
        return None
    key: str | None
    if flat.property_names:
        if names:
            raise SchemaError(
                "propertyNames together with declared properties cannot be expressed",
                pointer=flat.pointer("propertyNames"),
                keyword="propertyNames",
            )
        key = c.all_of([({"type": "string"}, flat.pointer("propertyNames")), *flat.property_names])
        if key is None:
            return None
    else:
        key = f'"{not_in(names)}"' if names else f'"{CHAR}*"'
    return f"{key}{colon}{value}"


def _pattern_key(flat: Flat, pattern: str, names: list[str]) -> str | None:
    """Regex over the content of a name that matches ``pattern`` and is no declared name
    (``None``: no such name)."""
    try:
        if not any(search(pattern, n) for n in names):
            return pattern_regex(pattern)
        literals = pattern_literals(pattern)
        if literals is not None:  # a few names, some declared
            return alternation(sorted(canonical_literal(w) for w in literals - set(names)))
        content = pattern_key_not_in(pattern, names)
    except PatternError as error:
        raise SchemaError(
            str(error), pointer=flat.pointer("patternProperties"), keyword="patternProperties"
        ) from None
    if content is None:
        raise SchemaError(
            "a patternProperties pattern that matches a declared property cannot be "
            "expressed (except one matching every name, or one character class repeated "
            "over the whole name)",
            pointer=flat.pointer("patternProperties"),
            keyword="patternProperties",
        )
    return content


def _members(
    members: list[tuple[str, bool]],
    extra: str | None,
    extra_max: int | None,
    *,
    min_one: bool,
    sep: str,
) -> str | None:
    """Members in order; optional ones present or absent; then up to
    ``extra_max`` (None: any number of) additional members ``extra``, separated by ``sep``."""
    extras = None if extra is None else f"(?:{sep}{extra}){quantifier(0, extra_max)}"
    first_required = next((i for i, (_, r) in enumerate(members) if r), None)
    if first_required is not None:
        out = []
        for index, (regex, req) in enumerate(members):
            if index < first_required:
                out.append(f"(?:{regex}{sep})?")
            elif index == first_required or req:
                out.append(regex if index == first_required else f"{sep}{regex}")
            else:
                out.append(f"(?:{sep}{regex})?")
        return "".join(out) + (extras or "")
    # all optional: a non-empty ordered selection of the declared members, or an additional
    # member first; additional members follow
    declared = [] if not members else [_selection([m for m, _ in members], sep)]
    first = alternation([*declared, *([] if extra is None else [extra])])
    if first is None:
        return None
    more = "" if extra is None else f"(?:{sep}{extra}){quantifier(0, _less(extra_max))}"
    body = first + (more if not more.endswith("{0}") else "")
    return body if min_one else f"(?:{body})?"


# ----- any value


def _selection(members: list[str], sep: str) -> str:
    """Regex of a non-empty subsequence of ``members``, in order, separated by ``sep``.

    Built left to right: with ``S`` a selection from the members so far and ``m`` the next one,
    a selection that may end with ``m`` is ``S(?:,m)?|m`` (``m`` written twice) or, the same
    language, ``(?:S,)?m|S`` (``S`` written twice); whichever copies less text is used, so the
    regex is at most about twice the members' total length and a heavy member is written once.

    The text is built in time linear in its length: a run of the first form only wraps ``S``
    (``opens`` groups before it, ``tails`` after it), so ``S`` is written out only when the
    second form copies it.
    """
    base, opens, tails, length = members[0], 0, list[str](), len(members[0])
    for member in members[1:]:
        if len(member) <= length:
            tail = f"(?:{sep}{member})?|{member})"
            opens, length = opens + 1, length + 3 + len(tail)
            tails.append(tail)
        else:
            selection = "(?:" * opens + base + "".join(tails)
            base, opens, tails = f"(?:(?:{selection}{sep})?{member}|{selection})", 0, []
            length = len(base)
    return "(?:" * opens + base + "".join(tails)


def _less(count: int | None) -> int | None:
    return None if count is None else count - 1
