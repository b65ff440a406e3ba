"""``pattern`` keywords: translated into regexes over canonical string content, and read for
what the compiler needs to know of them (widths, literals, whether two can match one string).

Patterns are parsed by the standard library's parser (through :mod:`.re_parser`), so they mean
exactly what Python's ``re`` makes of them; a translation keeps clear of where ECMA-262 (the
dialect JSON Schema names) reads a construct differently.  A construct that cannot be translated
exactly raises :class:`~.re_parser.PatternError`.
"""

from __future__ import annotations

import functools
import re
from typing import Any

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
from typedgen._schema.re_parser import (
    MAXREPEAT,
    REPEATS,
    Item,
    PatternError,
    is_parsed,
    parse,
    width,
)
from typedgen._schema.regex_text import quantifier

__all__ = [
    "always_matches",
    "class_run_outside",
    "contents_disjoint",
    "disjoint_patterns",
    "matches_every_string",
    "pattern_literals",
    "pattern_regex",
    "regex_width",
    "repeated_class",
]

# --- categories with a meaning that is safe under both ECMA-262 and Python `re` ---------------
# [0-9], \w are ASCII (a subset of Python's Unicode classes); their complements exclude every
# character that either dialect counts in the class, so the translation never accepts a string
# that one of them rejects.


@functools.cache
def _unicode_class(category: str) -> tuple[tuple[int, int], ...]:
    probe = re.compile(category)
    codes: Ranges = []
    for code in range(MAX_CODE + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        if probe.match(chr(code)):
            codes.append((code, code))
    return tuple(normalize(codes))


_ECMA_SPACE: Ranges = normalize(
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
        return complement(list(_unicode_class(r"\d")))
    if name == "CATEGORY_WORD":
        return [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A)]
    if name == "CATEGORY_NOT_WORD":
        return complement(
            [(0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A), (0x80, MAX_CODE)]
        )
    if name == "CATEGORY_SPACE":
        return intersect(_ECMA_SPACE, list(_unicode_class(r"\s")))
    if name == "CATEGORY_NOT_SPACE":
        return complement(normalize([*_ECMA_SPACE, *_unicode_class(r"\s")]))
    raise PatternError(f"character category {name} is not supported")


_DOT: Ranges = complement([(0x0A, 0x0A), (0x0D, 0x0D), (0x2028, 0x2029)])

# --- pattern translation ----------------------------------------------------------------------

_START = ("AT_BEGINNING", "AT_BEGINNING_STRING")
_END = ("AT_END", "AT_END_STRING")


def _ranges_of_in(items: list[Item]) -> Ranges:
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
    ranges = normalize(ranges)
    return complement(ranges) if negate else ranges


def _translate(items: list[Item]) -> str:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(escape_code(int(arg)))
        elif name == "NOT_LITERAL":
            out.append(_unit(complement([(int(arg), int(arg))])))
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
        elif name in REPEATS:
            low, high, sub = arg
            body = _translate(list(sub))
            most = None if high == MAXREPEAT else int(high)
            out.append(f"(?:{body}){quantifier(int(low), most)}")
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


def pattern_regex(pattern: str, *, min_length: int = 0, max_length: int | None = None) -> str:
    """Regex over canonical string content for strings in which ``pattern`` matches (search
    semantics, as JSON Schema says) and whose length lies in [min_length, max_length].

    Length bounds are honoured only when they can be merged exactly (the pattern already implies
    them, or it is anchored and ends or starts in an unbounded single-character repeat); otherwise
    :class:`PatternError` is raised.
    """
    items = _unwrap(parse(pattern))
    branch_items = [items]
    if len(items) == 1 and str(items[0][0]) == "BRANCH":
        branch_items = [list(b) for b in items[0][1][1]]
    branches = []
    for items_of_branch in branch_items:
        branch = _unwrap(items_of_branch)
        starts = bool(branch) and _is_anchor(branch[0], _START)
        if starts:
            branch = branch[1:]
        ends = bool(branch) and _is_anchor(branch[-1], _END)
        if ends:
            branch = branch[:-1]
        branches.append((starts, ends, branch))
    if len(branches) > 1 and (min_length > 0 or max_length is not None):
        raise PatternError("length bounds together with an alternation are not supported")
    out: list[str] = []
    for starts, ends, branch in branches:
        out.append(_anchored(starts, ends, branch, min_length, max_length))
    return out[0] if len(out) == 1 else "(?:" + "|".join(out) + ")"


def _unwrap(items: list[Item]) -> list[Item]:
    """The items of a pattern that is one group, ``(^...$)``, without the group (the group's
    number matters only to backreferences, which are refused)."""
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN" and not any(items[0][1][1:3]):
        items = list(items[0][1][3])
    return items


def _anchored(
    starts: bool,
    ends: bool,
    branch: list[Item],
    min_length: int,
    max_length: int | None,
) -> str:
    body = _translate(branch)
    low, high = width(branch)
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
            if str(op) not in REPEATS:
                continue
            rep_low, rep_high, sub = arg
            sub_low, sub_high = width(list(sub))
            if sub_low != 1 or sub_high != 1:
                continue
            rest = branch[:index] + branch[index + 1 :]
            rest_low, rest_high = width(rest)
            if rest_high is None or rest_low != rest_high:
                continue
            new_low = max(int(rep_low), min_length - rest_low)
            unbounded = rep_high == MAXREPEAT
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
        low, high = width(branch)
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


def _shrink_edge(branch: list[Item], index: int) -> list[Item]:
    """``branch`` with a repeat ``X{m,n}`` of one-character ``X`` at ``index`` (0: first item,
    -1: last) cut to ``X{m}``."""
    if not branch:
        return branch
    op, arg = branch[index]
    if str(op) not in REPEATS:
        return branch
    low, _, sub = arg
    if width(list(sub)) != (1, 1):
        return branch
    fixed = [(op, (low, low, sub))] if low else []
    return [*fixed, *branch[1:]] if index == 0 else [*branch[:-1], *fixed]


def regex_width(pattern: str) -> tuple[int, int | None]:
    """(min, max) length of the strings a regex over plain ASCII matches (max None: unbounded)."""
    return width(parse(pattern))


# --- complement of a finite set of strings ----------------------------------------------------


def pattern_literals(pattern: str) -> frozenset[str] | None:
    """The strings a pattern anchored at both ends and made of literals, groups and
    alternations matches (``^(cdn|Cdn)$``; a final newline that ``$`` also allows aside), else
    ``None``."""
    try:
        items = _unwrap(parse(pattern))
    except PatternError:
        return None
    if len(items) < 2 or not _is_anchor(items[0], _START) or not _is_anchor(items[-1], _END):
        return None
    literals = _literals(items[1:-1])
    return None if literals is None else frozenset(literals)


def matches_every_string(pattern: str) -> bool:
    """Whether ``pattern`` is searched in every string (``.*``, ``^[a-z]*``: it matches the
    empty string at the start without an assertion)."""
    items = _unwrap(parse(pattern))
    if items and _is_anchor(items[0], _START):
        items = items[1:]
    return not _has_assertion(items) and width(items)[0] == 0


def class_run_outside(pattern: str) -> tuple[str, int, int | None] | None:
    """For a pattern that is one character class repeated over the whole string (``^[a-z_]+$``,
    ``^\\w{2,8}$``): (a regex class of the printable ASCII characters outside the class, the
    least and the most count, ``None`` for no most).  A string that the pattern does not match
    is too short, too long, or holds a character outside the class; the class left out keeps
    clear of a final newline (which ``$`` also matches before) and of the Unicode meaning of
    ``\\w``, ``\\d``, ``\\s`` in Python's ``re``.  ``None`` for other patterns, and when no
    printable ASCII character is outside the class."""
    try:
        repeated = repeated_class(pattern)
    except PatternError:
        return None
    if repeated is None:
        return None
    alphabet, least, most = repeated
    outside = intersect(complement([*alphabet, *SPECIAL]), [(0x20, 0x7E)])
    if not outside:
        return None
    return f"[{''.join(class_range(low, high) for low, high in outside)}]", least, most


def repeated_class(pattern: str) -> tuple[Ranges, int, int | None] | None:
    """(the class, the least and the most count, ``None`` for no most) of a pattern that is one
    character class repeated over the whole string (``^[a-z]*$``, ``^\\w{2,8}$``), else
    ``None``."""
    items = _unwrap(parse(pattern))
    if not items or not _is_anchor(items[0], _START):
        return None
    items = items[1:]
    if len(items) != 2 or not _is_anchor(items[1], _END):
        return None
    op, arg = items[0]
    if str(op) not in ("MAX_REPEAT", "POSSESSIVE_REPEAT"):
        return None
    sub = _unwrap(list(arg[2]))
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
    return alphabet, int(arg[0]), None if arg[1] == MAXREPEAT else int(arg[1])


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
        items = _unwrap(parse(pattern))
    except PatternError:
        return None
    if not items or not _is_anchor(items[0], _START):
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
        a, b = _unwrap(parse(left)), _unwrap(parse(right))
    except PatternError:
        return False
    return (
        _first_disjoint(a, b)
        or _endings_disjoint(a, b)
        or _lacks_needed_char(a, b)
        or _lacks_needed_char(b, a)
    )


_ALL: Ranges = [(0, MAX_CODE)]
_PYTHON_DOT: Ranges = complement([(0x0A, 0x0A)])


def _first_disjoint(a: list[Item], b: list[Item]) -> bool:
    if not (a and b and _is_anchor(a[0], _START) and _is_anchor(b[0], _START)):
        return False
    first_a, empty_a = _first(a[1:])
    first_b, empty_b = _first(b[1:])
    return not empty_a and not empty_b and not intersect(first_a, first_b)


def _nested(op: Any, arg: Any) -> list[list[Item]] | None:
    """The item lists inside one parsed item: a repeat's or a group's body, a branch's
    alternatives (``None`` for an item with nothing inside)."""
    name = str(op)
    if name in REPEATS:
        return [list(arg[2])]
    if name == "SUBPATTERN":
        return [list(arg[3])]
    if name == "BRANCH":
        return [list(branch) for branch in arg[1]]
    return None


def _first(items: list[Item]) -> tuple[Ranges, bool]:
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
            sub = normalize([r for ranges, _ in parts for r in ranges])
            empty = any(e for _, e in parts) or (str(op) in REPEATS and arg[0] == 0)
        chars = normalize(chars + sub)
        if not empty:
            return chars, False
    return chars, True


def _chars(op: Any, arg: Any) -> Ranges:
    """A superset of the characters one item matches (``\\d``, ``\\w``, ``\\s``: any)."""
    name = str(op)
    if name == "LITERAL":
        return [(int(arg), int(arg))]
    if name == "NOT_LITERAL":
        return complement([(int(arg), int(arg))])
    if name == "ANY":
        return _PYTHON_DOT
    if name == "IN" and not any(str(o) == "CATEGORY" for o, _ in arg):
        return _ranges_of_in(arg)
    return _ALL


def _alphabet(items: list[Item]) -> Ranges:
    """A superset of the characters of any match."""
    chars: Ranges = []
    for op, arg in items:
        if str(op) == "AT":
            continue
        nested = _nested(op, arg)
        sub = _chars(op, arg) if nested is None else [r for i in nested for r in _alphabet(i)]
        chars = normalize(chars + sub)
    return chars


def _needed(items: list[Item]) -> set[int]:
    """Characters that every match contains."""
    needed: set[int] = set()
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            needed.add(int(arg))
        elif name == "SUBPATTERN":
            needed |= _needed(list(arg[3]))
        elif name in REPEATS and arg[0] >= 1:
            needed |= _needed(list(arg[2]))
        elif name == "BRANCH":
            needed |= set.intersection(*(_needed(list(branch)) for branch in arg[1]))
    return needed


def _lacks_needed_char(a: list[Item], b: list[Item]) -> bool:
    """Whether ``a`` is anchored at both ends and never holds a character ``b`` needs (a
    final newline, which ``$`` lets follow, counted in ``a``'s characters)."""
    if len(a) < 2 or not _is_anchor(a[0], _START) or not _is_anchor(a[-1], _END):
        return False
    alphabet = normalize([*_alphabet(a[1:-1]), (0x0A, 0x0A)])
    return any(not intersect(alphabet, [(c, c)]) for c in _needed(b))


def _endings_disjoint(a: list[Item], b: list[Item]) -> bool:
    ends_a, ends_b = _endings(a), _endings(b)
    if not ends_a or not ends_b or any("\n" in e for e in ends_a | ends_b):
        return False
    return not any(x.endswith(y) or y.endswith(x) for x in ends_a for y in ends_b)


def _endings(items: list[Item]) -> set[str]:
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


def _literals(items: list[Item]) -> set[str] | None:
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


def _is_anchor(item: Item, kinds: tuple[str, ...]) -> bool:
    return str(item[0]) == "AT" and str(item[1]) in kinds


def _has_assertion(items: list[Item]) -> bool:
    """Whether a parsed pattern contains an anchor, a lookaround or a backreference."""
    for op, arg in items:
        if str(op) in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF", "GROUPREF_EXISTS"):
            return True
        nested = arg if isinstance(arg, (list, tuple)) else [arg]
        for part in nested:
            subs = part if isinstance(part, list) else [part]
            for sub in subs:
                if is_parsed(sub) and _has_assertion(list(sub)):
                    return True
    return False


def always_matches(pattern: str) -> bool:
    """:func:`matches_every_string`, ``False`` for a pattern it cannot read."""
    try:
        return matches_every_string(pattern)
    except PatternError:
        return False
