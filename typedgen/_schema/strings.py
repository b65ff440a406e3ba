"""JSON strings: the writer of string values (lengths, ``pattern``, ``format``, excluded
values) and the complements of finite sets of strings that object keys need.

String content is written in the units of :mod:`.charsets`: lengths count general units, and
constraints on the decoded content are written over canonical units.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from typedgen._errors import SchemaError
from typedgen._formats import FORMATS
from typedgen._schema.charsets import (
    ANY_CANONICAL,
    CHAR,
    MAX_CODE,
    SPECIAL,
    Ranges,
    charset_regex,
    class_range,
    complement,
    escape_code,
    intersect,
    normalize,
)
from typedgen._schema.flat import Flat
from typedgen._schema.patterns import (
    always_matches,
    class_run_outside,
    matches_every_string,
    pattern_regex,
    regex_width,
    repeated_class,
)
from typedgen._schema.re_parser import PatternError
from typedgen._schema.regex_text import optional_alternation, quantifier

__all__ = ["not_in", "pattern_key_complement", "pattern_key_not_in", "string_regex"]


def not_in(words: Iterable[str], *, alphabet: Ranges | None = None) -> str:
    """Regex over string content matching exactly the strings *not* in ``words`` (made of
    characters of ``alphabet`` when given, each written canonically).

    The prefix shared with a word is written in canonical units and the first character that
    differs is a raw one, so the decoded content decides (strings that differ first at an escaped
    character are not produced: a narrowing); after it diverges, any unit follows.

    When every word is ASCII, leaving the trie on a non-ASCII character is written once for all
    trie nodes (any prefix of a word, then one non-ASCII character) instead of once per node:
    a non-ASCII class costs many byte-level states, an ASCII one a single step.
    """
    key = None if alphabet is None else tuple(normalize(alphabet))
    return _not_in(frozenset(words), key)


@functools.lru_cache(maxsize=4096)
def _not_in(words: frozenset[str], alphabet: tuple[tuple[int, int], ...] | None) -> str:
    """:func:`not_in`, cached: large schemas ask for the same key complements many times."""
    allowed = complement([]) if alphabet is None else normalize(list(alphabet))
    in_alphabet = [w for w in words if all(intersect(allowed, [(ord(c), ord(c))]) for c in w)]
    trie: dict[str, Any] = {}
    ends: set[int] = set()
    for word in in_alphabet:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        ends.add(id(node))
    ascii_only = all(ord(c) < 0x80 for word in in_alphabet for c in word)
    raw = intersect(complement(SPECIAL), allowed)
    non_ascii = intersect(raw, [(0x80, MAX_CODE)])
    if ascii_only:
        raw = intersect(raw, [(0, 0x7F)])
    unit = CHAR if alphabet is None else charset_regex(allowed)

    def build(node: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(paths from here that stop on a non-word, paths that leave the trie by one unit)."""
        stops: list[str] = [] if id(node) in ends else [""]
        leaves: list[str] = []
        # leave the trie on a raw character (not an escape: compact, and never ambiguous)
        others = intersect(complement([(ord(c), ord(c)) for c in node]), raw)
        if others and ascii_only:
            leaves.append("[" + "".join(class_range(low, high) for low, high in others) + "]")
        elif others:
            leaves.append(charset_regex(others) or "")
        for char, child in sorted(node.items()):
            stop, leave = build(child)
            literal = escape_code(ord(char))
            if stop is not None:
                stops.append(literal + stop)
            if leave is not None:
                leaves.append(literal + leave)
        return optional_alternation(stops), optional_alternation(leaves)

    def prefixes(node: Mapping[str, Any]) -> str:
        """Every path from here into the trie (the empty one included)."""
        paths = [""] + [
            escape_code(ord(char)) + prefixes(child) for char, child in sorted(node.items())
        ]
        return optional_alternation(paths) or ""

    stop, leave = build(trie)
    if ascii_only and non_ascii:
        leave_non_ascii = prefixes(trie) + (
            r"[^\x00-\x7f]" if alphabet is None else (charset_regex(non_ascii) or "")
        )
        leave = optional_alternation([p for p in (leave, leave_non_ascii) if p is not None])
    parts = [
        p
        for p in (
            stop,
            None if leave is None or unit is None else f"{leave}{unit}*",
        )
        if p is not None
    ]
    return optional_alternation(parts) or ""


def pattern_key_not_in(pattern: str, words: Iterable[str]) -> str | None:
    """Regex over canonical string content for the strings in which ``pattern`` matches (search
    semantics) and that are none of ``words``; ``None`` when that is not expressible here.

    Expressed: a pattern that matches every string (``.*``, ``^[a-z]*``: it matches the empty
    string without an assertion), and a pattern that is one character class repeated over the
    whole string (``^[a-zA-Z0-9_]*$``, ``^[a-z]+$``).
    """
    if matches_every_string(pattern):
        return not_in(words)
    repeated = repeated_class(pattern)
    if repeated is None or repeated[1] > 1 or repeated[2] is not None:
        return None
    alphabet, least, _ = repeated
    return not_in([*words, *([""] if least == 1 else [])], alphabet=alphabet)


def pattern_key_complement(pattern: str, words: Iterable[str]) -> str | None:
    """Regex over canonical string content for strings in which ``pattern`` does not match
    (search semantics; ``$`` read as Python's, which also matches before a final newline, and as
    ECMA-262's alike) and that are none of ``words``.  ``None``: no such string is produced.

    Expressed for one character class repeated over the whole string (``^[a-z_]+$``): a string
    holding a printable ASCII character outside the class (strings whose only such characters
    are ``"``, ``\\``, control or non-ASCII characters are not produced: a narrowing that keeps
    clear of a final newline, which ``$`` also matches before, and of the Unicode meaning of
    ``\\w``, ``\\d``, ``\\s`` in Python's ``re``), and the empty string for ``+``; and only
    when every word matches the pattern.
    """
    outside = class_run_outside(pattern)
    if outside is None or outside[1] > 1 or outside[2] is not None:
        return None
    if not all(re.search(pattern, word) for word in words):
        return None
    character, least, _ = outside
    body = f"{ANY_CANONICAL}*{character}{ANY_CANONICAL}*"
    return f"(?:{body})?" if least == 1 else body


def string_regex(flat: Flat, not_enum: list[Any]) -> str | None:
    """Regex of the strings of ``flat`` other than the values in ``not_enum`` (``None``: none
    is left)."""
    low, high = flat.min_length, flat.max_length
    if high is not None and low > high:
        return None
    # a pattern searched in every string (``([a-z]+)?``) constrains nothing
    flat = replace(flat, patterns=tuple(p for p in flat.patterns if not always_matches(p)))
    constraints = [f"pattern {p!r}" for p in flat.patterns] + [
        f"format {f!r}" for f in flat.formats
    ]
    if not_enum:
        if constraints or low or high is not None:
            raise SchemaError(
                "excluding string values together with other string constraints is not supported",
                pointer=flat.pointer("pattern"),
                keyword="not",
            )
        return f'"{not_in([v for v in not_enum])}"'
    if len(constraints) > 1:
        keyword = "format" if flat.formats else "pattern"
        raise SchemaError(
            f"several content constraints on one string ({', '.join(constraints)}) cannot be "
            "intersected",
            pointer=flat.pointer(keyword),
            keyword=keyword,
        )
    if flat.formats:
        name = flat.formats[0]
        regex = FORMATS.get(name)
        if regex is None:
            raise SchemaError(
                f"format {name!r} is not supported",
                pointer=flat.pointer("format"),
                keyword="format",
            )
        width_low, width_high = regex_width(regex)
        if width_low < low or (high is not None and (width_high is None or width_high > high)):
            if (width_high is not None and width_high < low) or (
                high is not None and width_low > high
            ):
                return None
            raise SchemaError(
                f"format {name!r} together with minLength/maxLength cannot be expressed",
                pointer=flat.pointer("format"),
                keyword="format",
            )
        return f'"{regex}"'
    if flat.patterns:
        try:
            return '"' + pattern_regex(flat.patterns[0], min_length=low, max_length=high) + '"'
        except PatternError as error:
            raise SchemaError(
                str(error), pointer=flat.pointer("pattern"), keyword="pattern"
            ) from None
    return f'"{CHAR}{quantifier(low, high)}"'
