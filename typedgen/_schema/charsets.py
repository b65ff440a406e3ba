"""Character units of JSON string text: code-point sets, canonical escapes, classes.

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
import re
from collections.abc import Iterable

from typedgen._schema.regex_text import alternation

__all__ = [
    "ANY_CANONICAL",
    "CHAR",
    "MAX_CODE",
    "SPECIAL",
    "Ranges",
    "canonical_literal",
    "charset_regex",
    "class_range",
    "complement",
    "escape_code",
    "intersect",
    "normalize",
]

CHAR = r'(?:[^"\\\x00-\x1f]|\\(?:["\\/bfnrt]|u00[0-9a-fA-F]{2}))'
"""One character unit of a JSON string, any spelling; decodes to exactly one code point."""

MAX_CODE = 0x10FFFF
"""The largest code point."""
_NAMED = {0x08: "b", 0x0C: "f", 0x0A: "n", 0x0D: "r", 0x09: "t"}
Ranges = list[tuple[int, int]]
"""Sets of code points as sorted, disjoint, inclusive ranges."""


def _hex_class(digit: str) -> str:
    return f"[{digit.lower()}{digit.upper()}]" if digit.isalpha() else digit


def escape_code(code: int) -> str:
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


_ESCAPED = re.compile(r'[\x00-\x1f"\\]')
"""The characters whose canonical spelling is an escape."""


@functools.lru_cache(maxsize=16384)
def canonical_literal(text: str) -> str:
    """Regex matching exactly the canonical spelling of ``text`` (without quotes)."""
    if _ESCAPED.search(text) is None:  # every character raw: as escape_code spells each one
        return re.escape(text)
    return "".join(escape_code(ord(c)) for c in text)


def normalize(ranges: Iterable[tuple[int, int]]) -> Ranges:
    out: Ranges = []
    for low, high in sorted(ranges):
        if out and low <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], high))
        else:
            out.append((low, high))
    return out


def complement(ranges: Ranges) -> Ranges:
    out: Ranges = []
    start = 0
    for low, high in normalize(ranges):
        if low > start:
            out.append((start, low - 1))
        start = high + 1
    if start <= MAX_CODE:
        out.append((start, MAX_CODE))
    return out


def intersect(a: Ranges, b: Ranges) -> Ranges:
    out: Ranges = []
    for low1, high1 in a:
        for low2, high2 in b:
            low, high = max(low1, low2), min(high1, high2)
            if low <= high:
                out.append((low, high))
    return normalize(out)


SPECIAL: Ranges = [(0, 0x1F), (0x22, 0x22), (0x5C, 0x5C), (0xD800, 0xDFFF)]


def charset_regex(ranges: Ranges) -> str | None:
    """Regex of one canonical unit whose code point lies in ``ranges`` (None: empty set)."""
    ranges = normalize(ranges)
    raw = intersect(ranges, complement(SPECIAL))
    parts: list[str] = []
    if raw:
        if raw == [(0x30, 0x39)]:
            parts.append(r"[0-9]")
        elif len(raw) == 1 and raw[0][0] == raw[0][1]:
            parts.append(escape_code(raw[0][0]))
        else:
            outside = intersect(complement(raw), complement(SPECIAL))
            if len(outside) < len(raw) and outside:
                body = "".join(class_range(low, high) for low, high in outside)
                parts.append(f'[^"\\\\\\x00-\\x1f{body}]')
            elif not outside:
                parts.append(r'[^"\\\x00-\x1f]')
            else:
                parts.append("[" + "".join(class_range(low, high) for low, high in raw) + "]")
    special = [
        code for low, high in intersect(ranges, SPECIAL[:3]) for code in range(low, high + 1)
    ]
    if len(special) == 34:
        parts.append(_ALL_ESCAPES)
    else:
        parts.extend(escape_code(code) for code in special)
    return alternation(parts)


_ALL_ESCAPES = r'\\(?:["\\bfnrt]|u00(?:0[0-7bBeEfF]|1[0-9a-fA-F]))'
"""The canonical escapes of all of ``"``, ``\\`` and the 32 control characters."""


def class_range(low: int, high: int) -> str:
    if low == high:
        return _class_char(low)
    if high == low + 1:
        return _class_char(low) + _class_char(high)
    return f"{_class_char(low)}-{_class_char(high)}"


ANY_CANONICAL = r"(?:[^\"\\\x00-\x1f]|\\[\"\\bfnrt]|\\u00[01][0-9a-fA-F])"
"""One canonical unit of any code point."""
