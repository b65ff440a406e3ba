"""Regexes over the *text* of JSON strings (private helper of :mod:`typedgen._json_schema`).

A JSON string's content is a sequence of character units: a raw character (anything but ``"``,
``\\`` and the control characters U+0000..U+001F) or an escape.  Two alphabets are used:

* the **general** unit (:data:`CHAR`) accepts raw characters, the two-character escapes and
  ``\\u00XX`` (other characters are written raw, as ``json.dumps(..., ensure_ascii=False)``
  does; surrogate escapes are never produced), so each unit decodes to exactly one code point and
  ``{m,n}`` counts code points exactly as JSON Schema's ``minLength``/``maxLength`` do;
* the **canonical** unit writes each code point one way only (``json.dumps(..., ensure_ascii=
  False)``: raw, except ``\\"``, ``\\\\``, ``\\b \\f \\n \\r \\t`` and ``\\u00XX`` for the other
  control characters).  Constraints on the decoded content (``pattern``, ``format``, ``enum``,
  property names) are written over canonical units, so a regex over the text decides the content.
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from typedgen._json_schema_numbers import alternation

__all__ = [
    "CHAR",
    "PatternError",
    "canonical_literal",
    "contents_disjoint",
    "disjoint_patterns",
    "matches_every_string",
    "not_in",
    "pattern_key_complement",
    "pattern_key_not_in",
    "pattern_literals",
    "pattern_regex",
    "regex_width",
]

# the standard library's own regex parser (exact Python semantics for `pattern`)
_PARSER: Any = importlib.import_module("re._parser")
_MAXREPEAT: int = importlib.import_module("re._constants").MAXREPEAT
_HEX = "[0-9a-fA-F]"
CHAR = r'(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u00[0-9a-fA-F]{2}))'
"""One character unit of a JSON string, any spelling; decodes to exactly one code point."""

_MAX = 0x10FFFF
_NAMED = {0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
Ranges = list[tuple[int, int]]


class PatternError(ValueError):
    """A ``pattern`` uses a construct that cannot be translated exactly."""


def _hex_class(digit: str) -> str:
    return f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit


def _escape_code(code: int) -> str:
    """The canonical spelling of one code point, as a regex."""
    if code == 0x22:
        return r"\\\""
    if code == 0x5C:
        return r"\\\\"
    if code < 0x20:
        if code in _NAMED:
            return r"\\" + _NAMED[code]
        digits = f"{code:04x}"
        return r"\\u00" + "".join(_hex_class(d) for d in digits[2:])
    return _class_char(code) if chr(code) in "^-]\\[" else re.escape(chr(code))


def _class_char(code: int) -> str:
    char = chr(code)
    if char in "\\]^-[":
        return "\\" + char
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if 0xD800 <= code <= 0xDFFF or code > 0xFFFF:
        return char
    return char


def canonical_literal(text: str) -> str:
    """Regex matching exactly the canonical spelling of ``text`` (without quotes)."""
    return "".join(_escape_code(ord(c)) for c in text)


def _normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: Ranges = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def _complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    start = 0
    for low, high in _normalize(ranges):
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= _MAX:
        out.append((start, _MAX))
    return out


def _intersect(a: Ranges, b: Ranges) -> Ranges:
    out: Ranges = []
    for low1, high1 in a:
        for low2, high2 in b:
            low, high = max(low1, low2), min(high1, high2)
            if low <= high:
                out.append((low, high))
    return _normalize(out)


_SPECIAL: Ranges = [(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0xD800, 0xDFFF)]


def charset_regex(ranges: Ranges) -> str | None:
    """Regex of one canonical unit whose code point lies in ``ranges`` (None: empty set)."""
    ranges = _normalize(ranges)
    raw = _intersect(ranges, _complement(_SPECIAL))
    parts: list[str] = []
    if raw:
        if raw == [(0x30, 0x39)]:
            parts.append(r"[0-9]")
        elif len(raw) == 1 and raw[0][0] == raw[0][1]:
            parts.append(_escape_code(raw[0][0]))
        else:
            complement = _intersect(_complement(raw), _complement(_SPECIAL))
            if len(complement) < len(raw) and complement:
                body = "".join(_class_range(low, high) for low, high in complement)
                parts.append(f'[^"\\\\\\x00-\\x1f{body}]')
            elif not complement:
                parts.append(r'[^"\\\x00-\x1f]')
            else:
                parts.append("[" + "".join(_class_range(low, high) for low, high in raw) + "]")
    special = [
        code for low, high in _intersect(ranges, _SPECIAL[:3]) for code in range(low, high + 1)
    ]
    if len(special) == 34:
        parts.append(_ALL_ESCAPES)
    else:
        parts.extend(_escape_code(code) for code in special)
    return alternation(parts)


_ALL_ESCAPES = r'\\(?:["\\bfnrt]|u00(?:0[0-7bBeEfF]|1[0-9a-fA-F]))'
"""The canonical escapes of all of ``"``, ``\\`` and the 32 control characters."""


def _class_range(low: int, high: int) -> str:
    if low == high:
        return _class_char(low)
    if high == low + 1:
        return _class_char(low) + _class_char(high)
    return f"{_class_char(low)}-{_class_char(high)}"


# --- categories with a meaning that is safe under both ECMA-262 and Python `re` ---------------
# [0-9], \w are ASCII (a subset of Python's Unicode classes); their complements exclude every
# character that either dialect counts in the class, so the translation never accepts a string
# that one of them rejects.


@functools.cache
def _unicode_class(category: str) -> tuple[tuple[int, int], ...]:
    probe = re.compile(category)
    codes: Ranges = []
    for code in range(_MAX + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        if probe.match(chr(code)):
            codes.append((code, code))
    return tuple(_normalize(codes))


_ECMA_SPACE: Ranges = _normalize(
    [
        (0x09, 0x0D),
        (0x20, 0x20),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
        (0xFEFF, 0xFEFF),
    ]
)


def _category(name: str) -> Ranges:
    if name == "CATEGORY_DIGIT":
        return [(0x30, 0x39)]
    if name == "CATEGORY_NOT_DIGIT":
        return _complement(list(_unicode_class(r"\d")))
    if name == "CATEGORY_WORD":
        return [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
    if name == "CATEGORY_NOT_WORD":
        return _complement([(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A), (0x80, _MAX)])
    if name == "CATEGORY_SPACE":
        return _intersect(_ECMA_SPACE, list(_unicode_class(r"\s")))
    if name == "CATEGORY_NOT_SPACE":
        return _complement(_normalize([*_ECMA_SPACE, *_unicode_class(r"\s")]))
    raise PatternError(f"character category {name} is not supported")


_DOT: Ranges = _complement([(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)])

# --- pattern translation ----------------------------------------------------------------------

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")  # sre_parse names of repeats


def _parse(pattern: str) -> Any:
    try:
        parsed = _PARSER.parse(pattern)
    except re.error as error:
        raise PatternError(f"invalid regular expression: {error}") from error
    if parsed.state.flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE):
        raise PatternError("inline flags are not supported")
    return parsed


def _ranges_of_in(items: list[tuple[Any, Any]]) -> Ranges:
    ranges: Ranges = []
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            ranges.append((int(arg), int(arg)))
        elif name == "RANGE":
            low, high = arg
            ranges.append((int(low), int(high)))
        elif name == "CATEGORY":
            ranges.extend(_category(str(arg)))
        else:
            raise PatternError(f"character class item {name} is not supported")
    ranges = _normalize(ranges)
    return _complement(ranges) if negate else ranges


def _translate(items: list[tuple[Any, Any]]) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(_escape_code(int(arg)))
        elif name == "NOT_LITERAL":
            out.append(_unit(_complement([(int(arg), int(arg))])))
        elif name == "ANY":
            out.append(_unit(_DOT))
        elif name == "IN":
            out.append(_unit(_ranges_of_in(arg)))
        elif name == "BRANCH":
            _, branches = arg
            out.append("(?:" + "|".join(_translate(list(b)) for b in branches) + ")")
        elif name == "SUBPATTERN":
            _, add_flags, del_flags, sub = arg
            if add_flags or del_flags:
                raise PatternError("inline flags are not supported")
            out.append("(?:" + _translate(list(sub)) + ")")
        elif name in _REPEATS:
            low, high, sub = arg
            body = _translate(list(sub))
            out.append(f"(?:{body}){_quantifier(int(low), int(high))}")
        elif name == "AT":
            raise PatternError(f"anchor {arg} inside a pattern is not supported")
        elif name == "CATEGORY":
            out.append(_unit(_category(str(arg))))
        else:
            raise PatternError(f"regex construct {name} is not supported")
    return "".join(out)


def _unit(ranges: Ranges) -> str:
    regex = charset_regex(ranges)
    if regex is None:
        raise PatternError("a character class matches no character")
    return regex


def _quantifier(low: int, high: int) -> str:
    if high == _MAXREPEAT:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == 0 and high == 1:
        return "?"
    return f"{{{low}}}" if low == high else f"{{{low},{high}}}"


ANY_CANONICAL = r"(?:[^\"\\\x00-\x1f]|\\[\"\\bfnrt]|\\u00[01][0-9a-fA-F])"


def pattern_regex(pattern: str, *, min_length: int = 0, max_length: int | None = None) -> str:
    """Regex over canonical string content for strings in which ``pattern`` matches (search
    semantics, as JSON Schema says) and whose length lies in [min_length, max_length].

    Length bounds are honoured only when they can be merged exactly (the pattern already implies
    them, or it is anchored and ends or starts in an unbounded single-character repeat); otherwise
    :class:`PatternError` is raised.
    """
    parsed = _parse(pattern)
    items = _unwrap(list(parsed))
    branch_items = [items]
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        branch_items = [list(b) for b in items[0][1][1]]
    branches = []
    for items_of_branch in branch_items:
        branch = _unwrap(items_of_branch)
        starts = (
            bool(branch)
            and str(branch[0][0]) == "AT"
            and str(branch[0][1]) in ("AT_BEGINNING", "AT_BEGINNING_STRING")
        )
        if starts:
            branch = branch[1:]
        ends = (
            bool(branch)
            and str(branch[-1][0]) == "AT"
            and str(branch[-1][1]) in ("AT_END", "AT_END_STRING")
        )
        if ends:
            branch = branch[:-1]
        branches.append((starts, ends, branch))
    if len(branches) > 1 and (min_length > 0 or max_length is not None):
        raise PatternError("length bounds together with an alternation are not supported")
    out: list[str] = []
    for starts, ends, branch in branches:
        out.append(_anchored(starts, ends, branch, min_length, max_length))
    return out[0] if len(out) == 1 else "(?:" + "|".join(out) + ")"


def _unwrap(items: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """The items of a pattern that is one group, ``(^...$)``, without the group (the group's
    number matters only to backreferences, which are refused)."""
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN" and not any(items[0][1][1:3]):
        items = list(items[0][1][3])
    return items


def _width(items: list[tuple[Any, Any]]) -> tuple[int, int | None]:
    sub = _PARSER.SubPattern(_PARSER.State(), list(items))
    low, high = sub.getwidth()
    return int(low), None if high >= _MAXREPEAT else int(high)


def _anchored(
    starts: bool,
    ends: bool,
    branch: list[tuple[Any, Any]],
    min_length: int,
    max_length: int | None,
) -> str:
    body = _translate(branch)
    low, high = _width(branch)
    # a minLength that every match already reaches bounds nothing
    bounded = (min_length > 0 and low < min_length) or max_length is not None
    if starts and ends:
        if low >= min_length and (max_length is None or (high is not None and high <= max_length)):
            return body
        # ^ ... X{a,b} $ or ^ X{a,b} ... $: the repeat absorbs the length bounds
        for index in (len(branch) - 1, 0):
            if not branch:
                break
            op, arg = branch[index]
            if str(op) not in _REPEATS:
                continue
            rep_low, rep_high, sub = arg
            sub_low, sub_high = _width(list(sub))
            if sub_low != 1 or sub_high != 1:
                continue
            rest = branch[:index] + branch[index + 1 :]
            rest_low, rest_high = _width(rest)
            if rest_high is None or rest_low != rest_high:
                continue
            new_low = max(int(rep_low), min_length - rest_low)
            unbounded = rep_high == _MAXREPEAT
            caps = [] if unbounded else [int(rep_high)]
            if max_length is not None:
                caps.append(max_length - rest_low)
            new_high = min(caps) if caps else None
            if new_high is not None and new_low > new_high:
                raise PatternError("pattern and length bounds admit no string")
            quant = f"{{{new_low},}}" if new_high is None else f"{{{new_low},{new_high}}}"
            repeat = f"(?:{_translate(list(sub))}){quant}"
            before = _translate(branch[:index])
            after = _translate(branch[index + 1 :])
            return before + repeat + after
        raise PatternError("pattern together with minLength/maxLength cannot be merged exactly")
    if bounded:
        # a search match of X{m,n} at an unanchored end contains one of X{m}: the rest of the
        # repeat is absorbed by the free text around it
        if not ends:
            branch = _shrink_edge(branch, -1)
        if not starts:
            branch = _shrink_edge(branch, 0)
        body = _translate(branch)
        low, high = _width(branch)
        if high is None or low != high:
            raise PatternError("an unanchored pattern with minLength/maxLength is not supported")
        if max_length is not None and max_length < low:
            raise PatternError("pattern and length bounds admit no string")
        free_low = max(0, min_length - low)
        free_high = "" if max_length is None else str(max_length - low)
        free = f"{ANY_CANONICAL}{{{free_low},{free_high}}}"
        # anchored at neither end: the match is placed at the start (a documented narrowing)
        return free + body if ends else body + free
    prefix = "" if starts else f"{CHAR}*"
    suffix = "" if ends else f"{CHAR}*"
    return prefix + body + suffix


def _shrink_edge(branch: list[tuple[Any, Any]], index: int) -> list[tuple[Any, Any]]:
    """``branch`` with a repeat ``X{m,n}`` of one-character ``X`` at ``index`` (0: first item,
    -1: last) cut to ``X{m}``."""
    if not branch:
        return branch
    op, arg = branch[index]
    if str(op) not in _REPEATS:
        return branch
    low, _, sub = arg
    if _width(list(sub)) != (1, 1):
        return branch
    fixed = [(op, (low, low, sub))] if low else []
    return [*fixed, *branch[1:]] if index == 0 else [*branch[:-1], *fixed]


def regex_width(pattern: str) -> tuple[int, int | None]:
    """(min, max) length of the strings a regex over plain ASCII matches (max None: unbounded)."""
    parsed = _parse(pattern)
    return _width(list(parsed))


# --- complement of a finite set of strings ----------------------------------------------------


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
    key = None if alphabet is None else tuple(_normalize(alphabet))
    return _not_in(frozenset(words), key)


@functools.lru_cache(maxsize=4096)
def _not_in(words: frozenset[str], alphabet: tuple[tuple[int, int], ...] | None) -> str:
    """:func:`not_in`, cached: large schemas ask for the same key complements many times."""
    allowed = _complement([]) if alphabet is None else _normalize(list(alphabet))
    in_alphabet = [w for w in words if all(_intersect(allowed, [(ord(c), ord(c))]) for c in w)]
    trie: dict[str, Any] = {}
    ends: set[int] = set()
    for word in in_alphabet:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        ends.add(id(node))
    ascii_only = all(ord(c) < 0x80 for word in in_alphabet for c in word)
    raw = _intersect(_complement(_SPECIAL), allowed)
    non_ascii = _intersect(raw, [(0x80, _MAX)])
    if ascii_only:
        raw = _intersect(raw, [(0, 0x7F)])
    unit = CHAR if alphabet is None else charset_regex(allowed)

    def build(node: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(paths from here that stop on a non-word, paths that leave the trie by one unit)."""
        stops: list[str] = [] if id(node) in ends else [""]
        leaves: list[str] = []
        # leave the trie on a raw character (not an escape: compact, and never ambiguous)
        others = _intersect(_complement([(ord(c), ord(c)) for c in node]), raw)
        if others and ascii_only:
            leaves.append("[" + "".join(_class_range(low, high) for low, high in others) + "]")
        elif others:
            leaves.append(charset_regex(others) or "")
        for char, child in sorted(node.items()):
            stop, leave = build(child)
            literal = _escape_code(ord(char))
            if stop is not None:
                stops.append(literal + stop)
            if leave is not None:
                leaves.append(literal + leave)
        return _alternatives(stops), _alternatives(leaves)

    def prefixes(node: Mapping[str, Any]) -> str:
        """Every path from here into the trie (the empty one included)."""
        paths = [""] + [
            _escape_code(ord(char)) + prefixes(child) for char, child in sorted(node.items())
        ]
        return _alternatives(paths) or ""

    stop, leave = build(trie)
    if ascii_only and non_ascii:
        leave_non_ascii = prefixes(trie) + (
            r"[^\x00-\x7f]" if alphabet is None else (charset_regex(non_ascii) or "")
        )
        leave = _alternatives([p for p in (leave, leave_non_ascii) if p is not None])
    parts = [
        p
        for p in (
            stop,
            None if leave is None or unit is None else f"{leave}{unit}*",
        )
        if p is not None
    ]
    return _alternatives(parts) or ""


def pattern_key_not_in(pattern: str, words: Iterable[str]) -> str | None:
    """Regex over canonical string content for the strings in which ``pattern`` matches (search
    semantics) and that are none of ``words``; ``None`` when that is not expressible here.

    Expressed: a pattern that matches every string (``.*``, ``^[a-z]*``: it matches the empty
    string without an assertion), and a pattern that is one character class repeated over the
    whole string (``^[a-zA-Z0-9_]*$``, ``^[a-z]+$``).
    """
    if matches_every_string(pattern):
        return not_in(words)
    repeated = _repeated_class(pattern)
    if repeated is None or repeated[1] > 1 or repeated[2] is not None:
        return None
    alphabet, least, _ = repeated
    return not_in([*words, *([""] if least == 1 else [])], alphabet=alphabet)


def pattern_literals(pattern: str) -> frozenset[str] | None:
    """The strings a pattern anchored at both ends and made of literals, groups and
    alternations matches (``^(cdn|Cdn)$``; a final newline that ``$`` also allows aside), else
    ``None``."""
    try:
        items = _unwrap(list(_parse(pattern)))
    except PatternError:
        return None
    if len(items) < 2 or not _is_anchor(items[0], _START) or not _is_anchor(items[-1], _END):
        return None
    literals = _literals(items[1:-1])
    return None if literals is None else frozenset(literals)


def matches_every_string(pattern: str) -> bool:
    """Whether ``pattern`` is searched in every string (``.*``, ``^[a-z]*``: it matches the
    empty string at the start without an assertion)."""
    items = _unwrap(list(_parse(pattern)))
    if items and _is_anchor(items[0], ("AT_BEGINNING", "AT_BEGINNING_STRING")):
        items = items[1:]
    return not _has_assertion(items) and _width(items)[0] == 0


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


def class_run_outside(pattern: str) -> tuple[str, int, int | None] | None:
    """For a pattern that is one character class repeated over the whole string (``^[a-z_]+$``,
    ``^\\w{2,8}$``): (a regex class of the printable ASCII characters outside the class, the
    least and the most count, ``None`` for no most).  A string that the pattern does not match
    is too short, too long, or holds a character outside the class; the class left out keeps
    clear of a final newline (which ``$`` also matches before) and of the Unicode meaning of
    ``\\w``, ``\\d``, ``\\s`` in Python's ``re``.  ``None`` for other patterns, and when no
    printable ASCII character is outside the class."""
    try:
        repeated = _repeated_class(pattern)
    except PatternError:
        return None
    if repeated is None:
        return None
    alphabet, least, most = repeated
    outside = _intersect(_complement([*alphabet, *_SPECIAL]), [(0x20, 0x7E)])
    if not outside:
        return None
    return f"[{''.join(_class_range(low, high) for low, high in outside)}]", least, most


def _repeated_class(pattern: str) -> tuple[Ranges, int, int | None] | None:
    """(the class, the least and the most count, ``None`` for no most) of a pattern that is one
    character class repeated over the whole string (``^[a-z]*$``, ``^\\w{2,8}$``), else
    ``None``."""
    items = _unwrap(list(_parse(pattern)))
    if not items or not _is_anchor(items[0], ("AT_BEGINNING", "AT_BEGINNING_STRING")):
        return None
    items = items[1:]
    if len(items) != 2 or not _is_anchor(items[1], ("AT_END", "AT_END_STRING")):
        return None
    op, arg = items[0]
    if str(op) not in ("MAX_REPEAT", "POSSESSIVE_REPEAT"):
        return None
    sub = list(arg[2])
    while len(sub) == 1 and str(sub[0][0]) == "SUBPATTERN" and not any(sub[0][1][1:3]):
        sub = list(sub[0][1][3])
    if len(sub) != 1:
        return None
    name, value = str(sub[0][0]), sub[0][1]
    if name == "LITERAL":
        alphabet = [(int(value), int(value))]
    elif name == "IN":
        alphabet = _ranges_of_in(value)
    elif name == "CATEGORY":
        alphabet = _category(str(value))
    else:
        return None
    return alphabet, int(arg[0]), None if arg[1] == _MAXREPEAT else int(arg[1])


def disjoint_patterns(patterns: list[str]) -> bool:
    """Whether no string matches two of ``patterns`` (search semantics), judged pairwise: on
    their literal prefixes (both anchored at the start and beginning with literal characters,
    neither prefix beginning the other: ``^BIOS$``, ``^x-``, ``^platform_``), or as
    :func:`contents_disjoint` judges."""
    prefixes = [_literal_prefix(pattern) for pattern in patterns]
    return all(
        (a is not None and b is not None and not a.startswith(b) and not b.startswith(a))
        or contents_disjoint(patterns[i], patterns[j])
        for i, a in enumerate(prefixes)
        for j, b in enumerate(prefixes)
        if i < j
    )


def _literal_prefix(pattern: str) -> str | None:
    """The literal characters that begin every match of a pattern anchored at the start."""
    try:
        items = _unwrap(list(_parse(pattern)))
    except PatternError:
        return None
    if not items or not _is_anchor(items[0], ("AT_BEGINNING", "AT_BEGINNING_STRING")):
        return None
    prefix = ""
    for op, arg in items[1:]:
        if str(op) != "LITERAL":
            break
        prefix += chr(int(arg))
    return prefix


def contents_disjoint(left: str, right: str) -> bool:
    """True only when no string is searched by both patterns (Python ``re`` semantics, so also
    ECMA-262's): judged on the first characters of patterns anchored at the start, on the
    literal endings of patterns anchored at the end, and on the characters one pattern must
    contain that the other, anchored at both ends, never holds.  ``False`` when unsure."""
    try:
        a, b = _unwrap(list(_parse(left))), _unwrap(list(_parse(right)))
    except PatternError:
        return False
    return (
        _first_disjoint(a, b)
        or _endings_disjoint(a, b)
        or _lacks_needed_char(a, b)
        or _lacks_needed_char(b, a)
    )


_ALL: Ranges = [(0, _MAX)]
_PYTHON_DOT: Ranges = _complement([(0x0A, 0x0A)])
_START = ("AT_BEGINNING", "AT_BEGINNING_STRING")
_END = ("AT_END", "AT_END_STRING")


def _first_disjoint(a: list[tuple[Any, Any]], b: list[tuple[Any, Any]]) -> bool:
    if not (a and b and _is_anchor(a[0], _START) and _is_anchor(b[0], _START)):
        return False
    first_a, empty_a = _first(a[1:])
    first_b, empty_b = _first(b[1:])
    return not empty_a and not empty_b and not _intersect(first_a, first_b)


def _nested(op: Any, arg: Any) -> list[list[tuple[Any, Any]]] | None:
    """The item lists inside one parsed item: a repeat's or a group's body, a branch's
    alternatives (``None`` for an item with nothing inside)."""
    name = str(op)
    if name in _REPEATS:
        return [list(arg[2])]
    if name == "SUBPATTERN":
        return [list(arg[3])]
    if name == "BRANCH":
        return [list(branch) for branch in arg[1]]
    return None


def _first(items: list[tuple[Any, Any]]) -> tuple[Ranges, bool]:
    """(a superset of the first characters of a match, whether a match may be empty)."""
    chars: Ranges = []
    for op, arg in items:
        if str(op) == "AT":
            continue
        nested = _nested(op, arg)
        if nested is None:
            sub, empty = _chars(op, arg), False
        else:
            parts = [_first(inner) for inner in nested]
            sub = _normalize([r for ranges, _ in parts for r in ranges])
            empty = any(e for _, e in parts) or (str(op) in _REPEATS and arg[0] == 0)
        chars = _normalize(chars + sub)
        if not empty:
            return chars, False
    return chars, True


def _chars(op: Any, arg: Any) -> Ranges:
    """A superset of the characters one item matches (``\\d``, ``\\w``, ``\\s``: any)."""
    name = str(op)
    if name == "LITERAL":
        return [(int(arg), int(arg))]
    if name == "NOT_LITERAL":
        return _complement([(int(arg), int(arg))])
    if name == "ANY":
        return _PYTHON_DOT
    if name == "IN" and not any(str(o) == "CATEGORY" for o, _ in arg):
        return _ranges_of_in(arg)
    return _ALL


def _alphabet(items: list[tuple[Any, Any]]) -> Ranges:
    """A superset of the characters of any match."""
    chars: Ranges = []
    for op, arg in items:
        if str(op) == "AT":
            continue
        nested = _nested(op, arg)
        sub = _chars(op, arg) if nested is None else [r for i in nested for r in _alphabet(i)]
        chars = _normalize(chars + sub)
    return chars


def _needed(items: list[tuple[Any, Any]]) -> set[int]:
    """Characters that every match contains."""
    needed: set[int] = set()
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            needed.add(int(arg))
        elif name == "SUBPATTERN":
            needed |= _needed(list(arg[3]))
        elif name in _REPEATS and arg[0] >= 1:
            needed |= _needed(list(arg[2]))
        elif name == "BRANCH":
            needed |= set.intersection(*(_needed(list(branch)) for branch in arg[1]))
    return needed


def _lacks_needed_char(a: list[tuple[Any, Any]], b: list[tuple[Any, Any]]) -> bool:
    """Whether ``a`` is anchored at both ends and never holds a character ``b`` needs (a
    final newline, which ``$`` lets follow, counted in ``a``'s characters)."""
    if len(a) < 2 or not _is_anchor(a[0], _START) or not _is_anchor(a[-1], _END):
        return False
    alphabet = _normalize([*_alphabet(a[1:-1]), (0x0A, 0x0A)])
    return any(not _intersect(alphabet, [(c, c)]) for c in _needed(b))


def _endings_disjoint(a: list[tuple[Any, Any]], b: list[tuple[Any, Any]]) -> bool:
    ends_a, ends_b = _endings(a), _endings(b)
    if not ends_a or not ends_b or any("\n" in e for e in ends_a | ends_b):
        return False
    return not any(x.endswith(y) or y.endswith(x) for x in ends_a for y in ends_b)


def _endings(items: list[tuple[Any, Any]]) -> set[str]:
    """Literal endings one of which ends every match of a pattern anchored at the end (empty
    when there are none or too many)."""
    if not items or not _is_anchor(items[-1], _END):
        return set()
    endings = {""}
    for item in reversed(items[:-1]):
        literals = _literals([item])
        if literals is None:
            break
        endings = {literal + ending for literal in literals for ending in endings}
        if len(endings) > 64:
            return set()
    return set() if endings == {""} else endings


def _literals(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The strings a sequence of literals, groups and alternations matches (``None``: any
    other construct, or more than 64 strings)."""
    out = {""}
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            parts: set[str] | None = {chr(int(arg))}
        elif name == "IN" and all(str(o) == "LITERAL" for o, _ in arg):
            parts = {chr(int(a)) for _, a in arg}
        elif name == "SUBPATTERN":
            parts = _literals(list(arg[3]))
        elif name == "BRANCH":
            parts = set()
            for branch in arg[1]:
                found = _literals(list(branch))
                if found is None:
                    return None
                parts |= found
        else:
            return None
        if parts is None:
            return None
        out = {x + y for x in out for y in parts}
        if len(out) > 64:
            return None
    return out


def _is_anchor(item: tuple[Any, Any], kinds: tuple[str, ...]) -> bool:
    return str(item[0]) == "AT" and str(item[1]) in kinds


def _has_assertion(items: list[tuple[Any, Any]]) -> bool:
    """Whether a parsed pattern contains an anchor, a lookaround or a backreference."""
    for op, arg in items:
        if str(op) in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS"):
            return True
        nested = arg if isinstance(arg, (list, tuple)) else [arg]
        for part in nested:
            subs = part if isinstance(part, list) else [part]
            for sub in subs:
                if isinstance(sub, _PARSER.SubPattern) and _has_assertion(list(sub)):
                    return True
    return False


def _alternatives(parts: list[str]) -> str | None:
    """Alternation that keeps a possible empty alternative as ``(?:...)?``; never an alternation
    at the top level, so it concatenates as it is.  ``parts`` do not have one either."""
    nonempty = [p for p in parts if p]
    if not nonempty:
        return "" if parts else None
    if len(nonempty) == 1:
        return f"(?:{nonempty[0]})?" if len(parts) > 1 else nonempty[0]
    body = "|".join(nonempty)
    return f"(?:{body})?" if len(nonempty) < len(parts) else f"(?:{body})"
