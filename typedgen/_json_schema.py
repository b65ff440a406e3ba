"""JSON Schema -> a regex over JSON text that matches exactly the JSON that validates.

:func:`json_schema_to_regex` turns a JSON Schema (draft 2020-12, plus the draft 4/7 spellings
that real schemas use: ``definitions``, array-form ``items`` + ``additionalItems``, boolean
``exclusiveMinimum``/``exclusiveMaximum``, OpenAPI ``nullable``; and where the root's ``$schema``
names drafts 3 to 7, their rule that ``$ref`` overrides the keywords beside it) into a regex in
the subset that typedgen's automaton compiler accepts (also valid Python ``re`` with the same
meaning).

Guarantee: every text the regex matches is JSON that validates against the schema (soundness);
every valid instance written the way typedgen writes JSON is matched, except where this module
documents a narrowing (see ``docs/json-schema.md``).  What cannot be honoured is refused with
:class:`~typedgen.SchemaError`, which carries the JSON pointer and the keyword at fault; nothing
is ever silently weakened.

How instances are written:

* whitespace: none by default (``{"a":1}``); :meth:`Whitespace.flexible` allows up to ``n``
  whitespace characters around every structural character, never an unbounded run;
* object members appear in schema order (``properties`` order, then other ``required`` names,
  then any additional members); each optional property may be present or absent;
* numbers: integers without exponent or leading zeros; numbers with bounds are written as plain
  decimals (``-12.5``), numbers without bounds may use an exponent; no fraction or exponent
  spelling overflows to infinity (at most 20 integer digits before a fraction or an exponent,
  exponents up to 199), integers are of any length;
* strings: raw characters or any JSON escape; where the content is constrained (``pattern``,
  ``format``, ``enum``, property names) each character is written one way, as
  ``json.dumps(..., ensure_ascii=False)`` writes it.

Recursion (``$ref`` cycles, and "any JSON value" for ``{}``/``true`` schemas) is unrolled to
``max_depth`` nested levels, fewer while the regex would exceed :data:`PREFERRED_REGEX_SIZE`;
deeper instances are not produced, and a schema that has no instance within that depth is
refused.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote

from typedgen._errors import SchemaError, escape_pointer_token
from typedgen._formats import FORMATS, INTEGER, INTEGER_PART, NUMBER
from typedgen._json_schema_numbers import (
    alternation,
    decimal_range,
    integer_range,
    multiples_range,
)
from typedgen._json_schema_strings import (
    CHAR,
    PatternError,
    canonical_literal,
    class_run_outside,
    contents_disjoint,
    disjoint_patterns,
    matches_every_string,
    not_in,
    pattern_key_complement,
    pattern_key_not_in,
    pattern_literals,
    pattern_regex,
    regex_width,
)
from typedgen._regex import VIRTUAL_COPIES

__all__ = ["DEFAULT_MAX_DEPTH", "Whitespace", "json_schema_to_regex"]

DEFAULT_MAX_DEPTH = 3
"""Nesting levels to which recursive ``$ref`` and schemas allowing any JSON value are unrolled
at most (fewer where the regex would be larger than :data:`PREFERRED_REGEX_SIZE`)."""

PREFERRED_REGEX_SIZE = 300_000
"""Unrolling stops one level short (down to none) while the regex would be larger than this:
each level multiplies the size of "any value" by about four, and compile time with it (some
30 ms at this size)."""

MAX_REGEX_SIZE = 1_000_000
"""Largest regex produced, in the units of :func:`regex_size` (about the number of NFA nodes it
needs, below ``DEFAULT_MAX_NODES``; some 0.1 s to compile at the limit); a schema whose regex
would be larger is refused (or, when recursion or "any value" unrolling makes it so, unrolled
fewer levels)."""

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


_ANY_SCALARS = ["null", "true", "false", NUMBER, f'"{CHAR}*"']
_MAX_ALTERNATIVES = 256
RULE_SIZE = 1000
"""In grammar mode, a value whose regex is at least this long is a rule of its own, shared by
every place that reaches it (instead of a copy at each place)."""
_GRAMMAR_EXPANSIONS = 2  # times one $ref target may be expanded within one value (grammar mode)
_OLD_DRAFT = re.compile(r"json-schema\.org/draft-0[3-7]/")
"""A ``$schema`` of drafts 3 to 7, where ``$ref`` overrides the keywords beside it."""
_MAX_PERMUTED = 4  # unique arrays of up to this many distinct values may come in any order
_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_ALL_TYPES = frozenset(_TYPES)

# Keywords that carry no validation meaning (annotations, containers, vendor metadata).
_IGNORED = frozenset(
    {
        "$schema",
        "$id",
        "id",
        "$comment",
        "$anchor",
        "$vocabulary",
        "$defs",
        "definitions",
        "title",
        "description",
        "default",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "discriminator",
        "xml",
        "externalDocs",
        "markdownDescription",
        "$dynamicAnchor",
        "$recursiveAnchor",
    }
)
# Validation keywords of the drafts that this module does not (fully) honour: refused when used.
_REFUSED = frozenset(
    {
        "contains",
        "minContains",
        "maxContains",
        "$dynamicRef",
        "$recursiveRef",
    }
)
_BOUND_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
# Keywords that constrain values of one type only (their complement holds values of that type)
_KEYWORD_TYPES: dict[str, frozenset[str]] = {
    **dict.fromkeys(("pattern", "format"), frozenset({"string"})),
    **dict.fromkeys(("multipleOf",), frozenset({"integer", "number"})),
    **dict.fromkeys(
        ("items", "prefixItems", "additionalItems", "unevaluatedItems", "uniqueItems"),
        frozenset({"array"}),
    ),
    **dict.fromkeys(
        (
            "additionalProperties",
            "patternProperties",
            "propertyNames",
            "unevaluatedProperties",
            "minProperties",
            "maxProperties",
            "dependencies",
            "dependentRequired",
            "dependentSchemas",
        ),
        frozenset({"object"}),
    ),
}
# Formats defined by the drafts but not honoured: refused.  Unknown formats are annotations.
_SPEC_FORMATS = frozenset(
    {
        "date",
        "time",
        "date-time",
        "duration",
        "email",
        "idn-email",
        "hostname",
        "idn-hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "iri",
        "iri-reference",
        "uuid",
        "uri-template",
        "json-pointer",
        "relative-json-pointer",
        "regex",
    }
)


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


def json_schema_to_regex(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> str:
    """Regex matching exactly the JSON texts (written as described in the module docstring)
    whose value validates against ``schema``.

    ``schema`` is a JSON Schema as a dict, a boolean, or a JSON string.  ``max_depth`` bounds the
    unrolling of recursive ``$ref`` and of "any value" schemas.  Raises :class:`SchemaError`
    (with ``pointer`` and ``keyword``) for anything that cannot be honoured exactly, including a
    schema that no JSON value satisfies.
    """
    schema = _load(schema)
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    found: tuple[str | None, _Compiler] | None = None
    recursion: dict[str, bool] = {}
    for depth in range(max_depth, -1, -1):
        compiler = _Compiler(schema, whitespace, depth, recursion=recursion)
        try:
            regex = compiler.value(schema, "")
            unrolled = bool(compiler.cut or compiler.any_used)
            size = 0 if regex is None else regex_size(regex)
            if size > MAX_REGEX_SIZE:
                raise _TooLargeError("")
        except _TooLargeError as error:
            if found is None and (depth == 0 or not (compiler.cut or compiler.any_used)):
                raise SchemaError(
                    f"the regex for this schema would need more than {MAX_REGEX_SIZE} "
                    "automaton states (estimated)",
                    pointer=error.pointer,
                ) from None
            continue
        if regex is None and found is not None:
            break  # no instance this shallow: keep the deeper unrolling
        found = (regex, compiler)
        if regex is None or size <= PREFERRED_REGEX_SIZE or not unrolled:
            break
    if found is None:  # every depth was too large (depth 0 raises above): unreachable
        raise SchemaError(f"the regex for this schema would need more than {MAX_REGEX_SIZE} states")
    regex, compiler = found
    if regex is None:
        if compiler.cut:
            raise SchemaError(
                f"the schema is recursive and has no instance nested at most {max_depth} levels "
                "deep; a regex cannot express unbounded recursion (raise max_depth or use a "
                "grammar)",
                pointer=compiler.cut,
                keyword="$ref",
            )
        raise SchemaError("no JSON value satisfies the schema")
    return regex


def schema_rules(
    schema: Mapping[str, Any] | bool | str, *, whitespace: Whitespace
) -> tuple[str, dict[int, str], dict[int, str]]:
    """The schema compiled in grammar mode (see :mod:`typedgen._json_schema_grammar`): the regex
    of the root value, the regex of each rule that has instances (by number; a rule without is
    left out, and so are the alternatives that need it), and the pointer each rule stands for.
    The regexes hold :func:`rule_reference` marks."""
    schema = _load(schema)
    compiler = _Compiler(schema, whitespace, DEFAULT_MAX_DEPTH, grammar=True)
    try:
        root = compiler.value(schema, "")
    except _TooLargeError as error:
        raise SchemaError(
            f"a value of this schema would need a regex of more than {MAX_REGEX_SIZE} automaton "
            "states (estimated)",
            pointer=error.pointer,
        ) from None
    if root is None:
        raise SchemaError("no JSON value satisfies the schema")
    rules = {number: body for number, body in compiler.rules.items() if body is not None}
    return root, rules, dict(compiler.rule_pointers)


def _load(schema: Mapping[str, Any] | bool | str) -> Mapping[str, Any] | bool:
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as error:
            raise SchemaError(f"the schema is not valid JSON: {error}") from error
    if not isinstance(schema, (Mapping, bool)):
        raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    return schema


# --- normalized schemas -------------------------------------------------------------------------

_Sub = tuple[Any, str]  # (subschema, its JSON pointer)


@dataclass(frozen=True)
class _Bound:
    value: Decimal
    open: bool


@dataclass(frozen=True)
class _Flat:
    """The conjunction of a schema's own keywords, with combinators resolved.

    A JSON value satisfies the flat schema iff it satisfies every field; subschemas are kept as
    lists meaning "all of".  ``where`` maps a keyword to the pointer it came from.
    """

    types: frozenset[str] = _ALL_TYPES
    enum: tuple[Any, ...] | None = None
    not_enum: tuple[Any, ...] = ()
    low: _Bound | None = None
    high: _Bound | None = None
    multiple_of: tuple[Decimal, ...] = ()
    min_length: int = 0
    max_length: int | None = None
    patterns: tuple[str, ...] = ()
    formats: tuple[str, ...] = ()
    properties: tuple[tuple[str, tuple[_Sub, ...]], ...] = ()
    pattern_properties: tuple[tuple[str, tuple[_Sub, ...]], ...] = ()
    additional: tuple[_Sub, ...] = ()
    property_names: tuple[_Sub, ...] = ()
    required: tuple[str, ...] = ()
    min_properties: int = 0
    max_properties: int | None = None
    prefix: tuple[tuple[_Sub, ...], ...] = ()
    items: tuple[_Sub, ...] = ()
    min_items: int = 0
    max_items: int | None = None
    unique: bool = False
    where: tuple[tuple[str, str], ...] = ()

    def pointer(self, keyword: str) -> str:
        return dict(self.where).get(keyword, "")

    def rule(self, name: str) -> tuple[_Sub, ...]:
        """The subschemas a member called ``name`` must satisfy: its ``properties`` entry and
        every ``patternProperties`` entry whose pattern it matches, else additionalProperties."""
        props = dict(self.properties)
        matching = tuple(s for p, subs in self.pattern_properties if _search(p, name) for s in subs)
        if name in props:
            return _unique_subs(props[name] + matching)
        return matching if matching else self.additional

    def conj(self, other: _Flat) -> _Flat | None:
        """The conjunction of two flat schemas (``None`` when it obviously has no instance)."""
        types = self.types & other.types  # "number" always comes with "integer"
        enum = self.enum
        if other.enum is not None:
            enum = other.enum if enum is None else tuple(v for v in enum if _in(v, other.enum))
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
        pattern_properties: tuple[tuple[str, tuple[_Sub, ...]], ...]
        if self.pattern_properties and same_patterns:
            pattern_properties = tuple(
                (p, _unique_subs(a + b))
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
        properties = tuple((n, _unique_subs(self.rule(n) + other.rule(n))) for n in names)
        prefix_len = max(len(self.prefix), len(other.prefix))
        prefix = tuple(
            (self.prefix[i] if i < len(self.prefix) else self.items)
            + (other.prefix[i] if i < len(other.prefix) else other.items)
            for i in range(prefix_len)
        )
        merged = _Flat(
            types=frozenset(types),
            enum=enum,
            not_enum=self.not_enum + other.not_enum,
            low=_tighter(self.low, other.low, lower=True),
            high=_tighter(self.high, other.high, lower=False),
            multiple_of=tuple(dict.fromkeys(self.multiple_of + other.multiple_of)),
            min_length=max(self.min_length, other.min_length),
            max_length=_min(self.max_length, other.max_length),
            patterns=tuple(dict.fromkeys(self.patterns + other.patterns)),
            formats=tuple(dict.fromkeys(self.formats + other.formats)),
            properties=properties,
            pattern_properties=pattern_properties,
            additional=_unique_subs(self.additional + other.additional),
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


def _may_fit(value: Any, kind: str, flat: _Flat) -> bool:
    """Whether the enum ``value`` is of type ``kind`` and may satisfy ``flat`` (judged on
    ``not``-ed values and, for strings, lengths and patterns; unsure: True)."""
    if not (_type_of(value) == kind or (kind == "number" and _type_of(value) == "integer")):
        return False
    if _in(value, flat.not_enum):
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


def _member_is(name: str, flat: _Flat, pointer: str) -> _Flat:
    """Objects that have a member ``name`` whose value satisfies ``flat``."""
    return _Flat(
        types=frozenset({"object"}),
        required=(name,),
        properties=((name, ((_Negated((flat,)), pointer),)),),
    )


def _unique_subs(subs: tuple[_Sub, ...]) -> tuple[_Sub, ...]:
    """``subs`` without repeats (the same subschema at the same pointer)."""
    seen: set[tuple[int, str]] = set()
    out = []
    for schema, pointer in subs:
        if (id(schema), pointer) not in seen:
            seen.add((id(schema), pointer))
            out.append((schema, pointer))
    return tuple(out)


def _other_types(kinds: set[str] | frozenset[str]) -> _Flat:
    return _Flat(types=_ALL_TYPES - frozenset(kinds))


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _tighter(a: _Bound | None, b: _Bound | None, *, lower: bool) -> _Bound | None:
    if a is None or b is None:
        return a or b
    if a.value == b.value:
        return _Bound(a.value, a.open or b.open)
    return (a if a.value > b.value else b) if lower else (a if a.value < b.value else b)


def _matches_every_string(pattern: str) -> bool:
    try:
        return matches_every_string(pattern)
    except PatternError:
        return False


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return False


def _json_key(value: Any) -> str:
    """A key under which equal JSON values (1 == 1.0, but true != 1) compare equal."""
    return json.dumps(_canonical(value), sort_keys=True)


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items()}
    return value


def _nesting(value: Any) -> int:
    """How many levels of arrays/objects ``value`` nests (0 for a scalar)."""
    if isinstance(value, list):
        return 1 + max((_nesting(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_nesting(v) for v in value.values()), default=0)
    return 0


def _in(value: Any, values: Sequence[Any]) -> bool:
    key = _json_key(value)
    return any(_json_key(v) == key for v in values)


def _type_of(value: Any) -> str:
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


# --- the compiler -------------------------------------------------------------------------------


@dataclass
class _Compiler:
    root: Mapping[str, Any] | bool
    whitespace: Whitespace
    max_depth: int
    cut: str = ""  # pointer of a $ref that recursion cut off (for the error message)
    any_used: bool = False  # whether an "any value" was unrolled
    depth: dict[str, int] = field(default_factory=dict)  # of $ref targets that recur
    # $ref target -> whether it can reach itself through $refs (shared by every compiler of a root)
    recursion: dict[str, bool] = field(default_factory=dict)
    # (id of the subschema, pointer, recursion state) -> (the subschema, kept alive so that its
    # id is not reused, and its regex)
    memo: dict[tuple[int, str, tuple[tuple[str, int], ...]], tuple[Any, str | None]] = field(
        default_factory=dict
    )
    # drafts 3 to 7 (by the root's $schema): keywords beside "$ref" are ignored
    ref_alone: bool = field(init=False)
    # grammar mode (see typedgen._json_schema_grammar): a value reached again inside itself,
    # a large value reached again elsewhere, and "any value" become rules, written in the regex
    # as rule_reference(number); no depth cut
    grammar: bool = False
    rules: dict[int, str | None] = field(default_factory=dict)  # rule number -> regex body
    rule_pointers: dict[int, str] = field(default_factory=dict)  # rule number -> pointer
    # (id, pointer) of the subschemas a value meets -> its rule
    rule_of: dict[tuple[tuple[int, str], ...], int] = field(default_factory=dict)
    active: set[tuple[tuple[int, str], ...]] = field(default_factory=set)  # being compiled
    # the same keys -> (the subschemas, kept alive so that their ids are not reused, the regex)
    rule_memo: dict[tuple[tuple[int, str], ...], tuple[Any, str | None]] = field(
        default_factory=dict
    )
    negating: set[str] = field(default_factory=set)  # $ref targets being negated

    def __post_init__(self) -> None:
        declared = self.root.get("$schema") if isinstance(self.root, Mapping) else None
        self.ref_alone = isinstance(declared, str) and _OLD_DRAFT.search(declared) is not None

    # ----- structure

    @property
    def ws(self) -> str:
        return self.whitespace.regex

    def _token(self, char: str) -> str:
        return f"{self.ws}{char}{self.ws}"

    # ----- entry point for one value

    def value(self, schema: Any, pointer: str) -> str | None:
        """Regex for one JSON value satisfying ``schema`` (``None``: no value does)."""
        if self.grammar:
            return self._rule([(schema, pointer)])
        key = (id(schema), pointer, tuple(sorted(self.depth.items())))
        if key in self.memo:
            return self.memo[key][1]
        saved = dict(self.depth)
        try:
            alternatives = self.flatten(schema, pointer)
            regexes = [self.generate(flat) for flat in alternatives]
            result = alternation([r for r in regexes if r is not None])
        finally:
            self.depth = saved
        if result is not None and len(result) // 2 > MAX_REGEX_SIZE:  # size >= length / 2
            raise _TooLargeError(pointer)
        self.memo[key] = (schema, result)
        return result

    def _rule(self, subs: Sequence[_Sub]) -> str | None:
        """:meth:`all_of` in grammar mode: a value reached again while it is being compiled (a
        cycle) or whose regex is long is a rule, written as a reference (and shared by every
        place that reaches the same subschemas)."""
        key = tuple((id(schema), pointer) for schema, pointer in subs)
        pointer = subs[0][1] if subs else ""
        number = self.rule_of.get(key)
        if number is not None:
            return rule_reference(number)
        if key in self.active:  # recursion: its body is filled in when the outer call ends
            return rule_reference(self._new_rule(key, pointer))
        if key in self.rule_memo:
            return self.rule_memo[key][1]
        saved = self.depth
        self.active.add(key)
        self.depth = {}  # $ref expansions are counted within one value (cycles of combinators)
        try:
            if len(subs) == 1:
                alternatives = self.flatten(*subs[0])
            else:
                alternatives = [_Flat()]
                for schema, sub_pointer in subs:
                    flats = self.flatten(schema, sub_pointer)
                    alternatives = self._conj(alternatives, flats, sub_pointer)
            regexes = [self.generate(flat) for flat in alternatives]
            result = alternation([r for r in regexes if r is not None])
        finally:
            self.active.discard(key)
            self.depth = saved
        if result is not None and len(result) // 2 > MAX_REGEX_SIZE:
            raise _TooLargeError(pointer)
        number = self.rule_of.get(key)  # set when reached inside itself
        if number is None and result is not None and len(result) >= RULE_SIZE:
            number = self._new_rule(key, pointer)
        if number is not None:
            self.rules[number] = result
            result = rule_reference(number)
        self.rule_memo[key] = (tuple(subs), result)
        return result

    def _new_rule(self, key: tuple[tuple[int, str], ...], pointer: str) -> int:
        number = len(self.rule_pointers)
        self.rule_of[key] = number
        self.rule_pointers[number] = pointer
        self.rules.setdefault(number, None)
        return number

    def all_of(self, subs: Sequence[_Sub]) -> str | None:
        """Regex for one value satisfying every subschema in ``subs`` (an empty list: any)."""
        if len(subs) == 1:
            return self.value(*subs[0])
        if self.grammar:
            return self._rule(subs)
        saved = dict(self.depth)
        try:
            alternatives = [_Flat()]
            for schema, pointer in subs:
                alternatives = self._conj(alternatives, self.flatten(schema, pointer), pointer)
            regexes = [self.generate(flat) for flat in alternatives]
            result = alternation([r for r in regexes if r is not None])
        finally:
            self.depth = saved
        if result is not None and len(result) // 2 > MAX_REGEX_SIZE:  # size >= length / 2
            raise _TooLargeError(subs[0][1] if subs else "")
        return result

    # ----- flattening: $ref, allOf, anyOf, oneOf, not, if/then/else

    def flatten(self, schema: Any, pointer: str) -> list[_Flat]:
        """The schema as a union of flat conjunctions (empty list: no value satisfies it)."""
        if schema is True:
            return [_Flat()]
        if schema is False:
            return []
        if isinstance(schema, _Negated):
            return list(schema.flats)
        if not isinstance(schema, Mapping):
            raise SchemaError(
                f"a schema must be an object or a boolean, not {type(schema).__name__}",
                pointer=pointer,
            )
        if self.ref_alone and "$ref" in schema:
            schema = {"$ref": schema["$ref"]}
        own = self._own(schema, pointer)
        alternatives: list[_Flat] = [] if own is None else [own]
        if "$ref" in schema and self.grammar:
            target, target_pointer = self._resolve(schema["$ref"], pointer)
            count = self.depth.get(target_pointer, 0)
            if count >= _GRAMMAR_EXPANSIONS:
                raise _CycleError(
                    "a $ref cycle that nests no value (through combinators only) cannot be "
                    "compiled",
                    pointer=pointer,
                    keyword="$ref",
                )
            self.depth[target_pointer] = count + 1
            try:
                expanded = self.flatten(target, target_pointer)
            finally:
                self.depth[target_pointer] = count
            alternatives = self._conj(alternatives, expanded, pointer)
        elif "$ref" in schema:
            target, target_pointer = self._resolve(schema["$ref"], pointer)
            if self._recursive(target, target_pointer):
                count = self.depth.get(target_pointer, 0)
                if count >= self.max_depth + 1:
                    self.cut = self.cut or f"{pointer}"
                    return []
                self.depth[target_pointer] = count + 1
            alternatives = self._conj(alternatives, self.flatten(target, target_pointer), pointer)
        for index, sub in enumerate(_list(schema, "allOf", pointer)):
            sub_pointer = f"{pointer}/allOf/{index}"
            alternatives = self._conj(alternatives, self.flatten(sub, sub_pointer), sub_pointer)
        if "anyOf" in schema:
            union: list[_Flat] = []
            for index, sub in enumerate(_list(schema, "anyOf", pointer)):
                union.extend(self.flatten(sub, f"{pointer}/anyOf/{index}"))
            alternatives = self._conj(alternatives, union, f"{pointer}/anyOf")
        if "oneOf" in schema:
            alternatives = self._one_of(schema, pointer, alternatives)
        for key in ("dependentRequired", "dependentSchemas", "dependencies"):
            if key in schema:
                alternatives = self._dependencies(schema[key], f"{pointer}/{key}", alternatives)
        if "not" in schema:
            negated = self.negate(schema["not"], f"{pointer}/not")
            alternatives = self._conj(alternatives, negated, f"{pointer}/not")
        if "if" in schema and ("then" in schema or "else" in schema):
            condition = schema["if"]
            then = self._conj(
                self.flatten(condition, f"{pointer}/if"),
                self.flatten(schema.get("then", True), f"{pointer}/then"),
                pointer,
            )
            otherwise = self._conj(
                self.negate(condition, f"{pointer}/if"),
                self.flatten(schema.get("else", True), f"{pointer}/else"),
                pointer,
            )
            alternatives = self._conj(alternatives, then + otherwise, pointer)
        return alternatives

    def _dependencies(self, value: Any, pointer: str, alternatives: list[_Flat]) -> list[_Flat]:
        """``name: [names]`` or ``name: schema``: either the member is absent, or it is present
        and the other names are required / the schema holds."""
        if not isinstance(value, Mapping):
            raise SchemaError("dependencies must be an object", pointer=pointer)
        for name, dependency in value.items():
            where = f"{pointer}/{escape_pointer_token(name)}"
            absent = _Flat(properties=((name, ((False, where),)),))
            if isinstance(dependency, list):
                present = [_Flat(required=(name, *dependency))]
            else:
                present = self._conj(
                    [_Flat(required=(name,))], self.flatten(dependency, where), where
                )
            alternatives = self._conj(alternatives, [absent, *present], where)
        return alternatives

    def _conj(self, left: list[_Flat], right: list[_Flat], pointer: str) -> list[_Flat]:
        if len(left) * len(right) > _MAX_ALTERNATIVES:
            raise SchemaError(
                f"combining these subschemas needs more than {_MAX_ALTERNATIVES} alternatives",
                pointer=pointer,
            )
        out: list[_Flat] = []
        for a in left:
            for b in right:
                merged = a.conj(b)
                if merged is not None:
                    out.append(merged)
        return out

    def _one_of(self, schema: Mapping[str, Any], pointer: str, base: list[_Flat]) -> list[_Flat]:
        """Exactly one branch: the values of a branch of the types on which another branch may
        overlap it are intersected with the negation of that branch (refused when the negation
        cannot be expressed, unless what it leaves out lies outside the first branch)."""
        subs = _list(schema, "oneOf", pointer)
        branches: list[list[_Flat]] = []
        for index, sub in enumerate(subs):
            branches.append(
                self._conj(base, self.flatten(sub, f"{pointer}/oneOf/{index}"), pointer)
            )
        out: list[_Flat] = []
        for i, left in enumerate(branches):
            alternatives = left
            for j, right in enumerate(branches):
                overlap = set() if i == j else self._overlap(alternatives, right)
                if not overlap:
                    continue
                lost: list[tuple[_Flat, str]] = []
                reason = ""
                try:
                    negated = self.negate(subs[j], f"{pointer}/oneOf/{j}", lost=lost)
                except SchemaError as error:
                    reason = error.reason
                # values of the overlapping types meet the negation; the others stay as they are
                kept = [replace(a, types=a.types - overlap) for a in alternatives]
                at_risk = [replace(a, types=a.types & overlap) for a in alternatives]
                for flat, why in lost:
                    if not reason and not all(self._disjoint(a, flat) for a in at_risk):
                        reason = why
                if reason:
                    raise SchemaError(
                        f"oneOf branches {i} and {j} may both match the same value, and exactly-"
                        f"one cannot be expressed ({reason})",
                        pointer=pointer,
                        keyword="oneOf",
                    )
                alternatives = [a for a in kept if a.types] + self._conj(
                    [a for a in at_risk if a.types], negated, pointer
                )
            out.extend(alternatives)
        return out

    def _overlap(self, left: list[_Flat], right: list[_Flat]) -> set[str]:
        """The types of the values that may satisfy an alternative of both ``left`` and
        ``right`` (conservative: a type is left out only when it is sure to be disjoint)."""
        kinds: set[str] = set()
        for a in left:
            for b in right:
                merged = a.conj(b)
                if merged is not None:
                    kinds.update(
                        k for k in merged.types if not self._disjoint_type(k, a, b, merged)
                    )
        if kinds & {"integer", "number"}:
            kinds |= {"integer", "number"}
        return kinds

    def _disjoint(self, a: _Flat, b: _Flat) -> bool:
        """True only when no value satisfies both (a conservative check)."""
        merged = a.conj(b)
        if merged is None:
            return True
        return all(self._disjoint_type(kind, a, b, merged) for kind in merged.types)

    def _disjoint_type(self, kind: str, a: _Flat, b: _Flat, merged: _Flat) -> bool:
        if merged.enum is not None:
            return not any(_may_fit(v, kind, merged) for v in merged.enum)
        if kind in ("integer", "number"):
            low, high = merged.low, merged.high
            if low is not None and high is not None:
                return low.value > high.value or (
                    low.value == high.value and (low.open or high.open)
                )
            return False
        if kind == "string":
            if merged.max_length is not None and merged.min_length > merged.max_length:
                return True
            # patterns only: formats are written narrower than validators read them
            return any(contents_disjoint(x, y) for x in a.patterns for y in b.patterns)
        if kind == "array":
            return merged.max_items is not None and merged.min_items > merged.max_items
        if kind == "object":
            for name in merged.required:
                rules = merged.rule(name)
                if any(s is False for s, _ in rules):
                    return True
                if self._subs_disjoint(a.rule(name), b.rule(name)):
                    return True
            return False
        return False

    def _subs_disjoint(self, left: tuple[_Sub, ...], right: tuple[_Sub, ...]) -> bool:
        saved = dict(self.depth)
        try:
            flats_a = [_Flat()]
            for schema, pointer in left:
                flats_a = self._conj(flats_a, self.flatten(schema, pointer), pointer)
            flats_b = [_Flat()]
            for schema, pointer in right:
                flats_b = self._conj(flats_b, self.flatten(schema, pointer), pointer)
            return all(self._disjoint(x, y) for x in flats_a for y in flats_b)
        except _CycleError:  # a recursion too deep to judge: not known to be disjoint
            return False
        finally:
            self.depth = saved

    # ----- negation (for `not` and the else-branch of `if`)

    def negate(
        self, schema: Any, pointer: str, *, lost: list[tuple[_Flat, str]] | None = None
    ) -> list[_Flat]:
        """The complement of ``schema`` as a union of flat schemas.

        Exact for types, const/enum, bounds, lengths, ``required`` and ``properties`` whose
        subschemas are negatable; a complement that is narrowed (never widened) where a type's
        remainder cannot be written (e.g. "numbers except 3" drops numbers).  Refused otherwise.
        A keyword that applies to one type (bounds, lengths, ``required``...) holds for every
        value of the other types, so its complement holds values of its own type only.

        With ``lost``, a keyword whose complement cannot be expressed is left out instead of
        refused (the complement narrowed), and ``lost`` gets a flat schema holding every value
        left out (the keyword's type, at its place), with the reason.
        """
        if schema is True:
            return []
        if schema is False:
            return [_Flat()]
        if not isinstance(schema, Mapping):
            raise SchemaError("a schema must be an object or a boolean", pointer=pointer)
        if self.ref_alone and "$ref" in schema:
            schema = {"$ref": schema["$ref"]}
        out: list[_Flat] = []
        low, high = _bounds(schema, pointer)
        numbers = frozenset({"integer", "number"})
        if low is not None:
            out.append(_Flat(types=numbers, high=_Bound(low.value, not low.open)))
        if high is not None:
            out.append(_Flat(types=numbers, low=_Bound(high.value, not high.open)))
        for key, value in schema.items():
            if key not in _BOUND_KEYWORDS:
                out.extend(self._negate_keyword(schema, key, value, pointer, lost))
        return out

    def _negate_keyword(
        self,
        schema: Mapping[str, Any],
        key: str,
        value: Any,
        pointer: str,
        lost: list[tuple[_Flat, str]] | None,
    ) -> list[_Flat]:
        if key in _IGNORED or key in ("then", "else") or key.startswith("x-"):
            return []
        if key == "type":
            kinds = _types_of(schema, pointer)
            if "number" in kinds:
                kinds = kinds | {"integer"}
            if "integer" in kinds:
                kinds = kinds | {"number"}  # "numbers that are not integers": narrowed away
            return [_other_types(kinds)] if _ALL_TYPES - kinds else []
        if key in ("const", "enum"):
            values = [value] if key == "const" else list(value)
            return [_Flat(not_enum=tuple(values))]
        if key in ("minLength", "maxLength", "minItems", "maxItems"):
            count = _count(value, pointer, key)
            kind = "string" if "Length" in key else "array"
            out = []
            only = frozenset({kind})
            if key == "minLength" and count > 0:
                out.append(_Flat(types=only, max_length=count - 1))
            elif key == "minItems" and count > 0:
                out.append(_Flat(types=only, max_items=count - 1))
            elif key == "maxLength":
                out.append(_Flat(types=only, min_length=count + 1))
            elif key == "maxItems":
                out.append(_Flat(types=only, min_items=count + 1))
            return out
        if key == "required":
            names = list(value)
            out = []
            for name in names:
                out.append(
                    _Flat(
                        types=frozenset({"object"}),
                        properties=((name, ((False, f"{pointer}/required"),)),),
                    )
                )
            return out
        if key == "properties":
            out = []
            for name, sub in value.items():
                sub_pointer = f"{pointer}/properties/{escape_pointer_token(name)}"
                sub_lost: list[tuple[_Flat, str]] | None = None if lost is None else []
                for negated in self.negate(sub, sub_pointer, lost=sub_lost):
                    out.append(_member_is(name, negated, sub_pointer))
                if lost is not None and sub_lost:
                    lost.extend((_member_is(name, f, sub_pointer), why) for f, why in sub_lost)
            return out
        if key == "not":
            return self.flatten(value, f"{pointer}/not")
        if key == "anyOf":
            result = [_Flat()]
            for index, sub in enumerate(value):
                complement = self.negate(sub, f"{pointer}/anyOf/{index}", lost=lost)
                result = self._conj(result, complement, pointer)
            return result
        if key == "allOf":
            return [
                f
                for i, sub in enumerate(value)
                for f in self.negate(sub, f"{pointer}/allOf/{i}", lost=lost)
            ]
        if key == "$ref":
            target, target_pointer = self._resolve(value, pointer)
            if target_pointer in self.negating:
                raise _CycleError(
                    "the negation of a recursive schema cannot be expressed",
                    pointer=pointer,
                    keyword="$ref",
                )
            self.negating.add(target_pointer)
            try:
                return self.negate(target, target_pointer, lost=lost)
            finally:
                self.negating.discard(target_pointer)
        if key == "pattern" and isinstance(value, str):
            outside = class_run_outside(value)
            if outside is not None:  # too short, too long, or a character outside the class
                character, least, most = outside
                strings = frozenset({"string"})
                out = [_Flat(types=strings, patterns=(character,))]
                if least > 0:
                    out.append(_Flat(types=strings, max_length=least - 1))
                if most is not None:
                    out.append(_Flat(types=strings, min_length=most + 1))
                return out
        reason = f"the negation of {key!r} cannot be expressed"
        if lost is None or key not in _KEYWORD_TYPES:
            raise SchemaError(reason, pointer=pointer, keyword=key)
        lost.append((_Flat(types=_KEYWORD_TYPES[key]), reason))
        return []

    # ----- $ref

    def _recursive(self, target: Any, target_pointer: str) -> bool:
        """Whether the subschema ``target`` can reach itself through ``$ref``s (only those are
        unrolled and counted; a subschema used again inside itself without a cycle is not)."""
        if target_pointer not in self.recursion:
            seen = {target_pointer}
            stack = [target]
            found = False
            while stack and not found:
                for node, node_pointer in self._refs_under(stack.pop()):
                    found = node_pointer == target_pointer
                    if found:
                        break
                    if node_pointer not in seen:
                        seen.add(node_pointer)
                        stack.append(node)
            self.recursion[target_pointer] = found
        return self.recursion[target_pointer]

    def _refs_under(self, node: Any) -> Iterator[tuple[Any, str]]:
        """The targets of the ``$ref``s anywhere in ``node`` (unresolvable ones skipped: they
        are refused where they are used)."""
        if isinstance(node, Mapping):
            ref = node.get("$ref")
            target: tuple[Any, str] | None = None
            if isinstance(ref, str):
                try:
                    target = self._resolve(ref, "")
                except SchemaError:
                    target = None
            if target is not None:
                yield target
            for value in node.values():
                if isinstance(value, (Mapping, list)):
                    yield from self._refs_under(value)
        elif isinstance(node, list):
            for value in node:
                if isinstance(value, (Mapping, list)):
                    yield from self._refs_under(value)

    def _resolve(self, ref: Any, pointer: str) -> tuple[Any, str]:
        if not isinstance(ref, str):
            raise SchemaError("$ref must be a string", pointer=pointer, keyword="$ref")
        base, _, fragment = ref.partition("#")
        root_id = self.root.get("$id", "") if isinstance(self.root, Mapping) else ""
        if base and base != str(root_id).partition("#")[0]:
            raise SchemaError(
                f"only local references are supported, not {ref!r}",
                pointer=pointer,
                keyword="$ref",
            )
        fragment = unquote(fragment)
        if fragment and not fragment.startswith("/"):
            found = _find_anchor(self.root, fragment, "")
            if found is None:
                raise SchemaError(f"anchor {ref!r} not found", pointer=pointer, keyword="$ref")
            return found
        node: Any = self.root
        for raw in fragment.split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise SchemaError(
                    f"reference {ref!r} does not resolve", pointer=pointer, keyword="$ref"
                )
        return node, fragment

    # ----- own keywords of one schema object

    def _own(self, schema: Mapping[str, Any], pointer: str) -> _Flat | None:
        """The flat conjunction of the keywords of ``schema`` other than combinators."""
        where: dict[str, str] = {}
        fields: dict[str, Any] = {}
        for key, value in schema.items():
            if key in _REFUSED:
                raise SchemaError(f"{key!r} is not supported", pointer=pointer, keyword=key)
            if key == "unevaluatedProperties":
                # after combinators are merged every declared property is evaluated, so this is
                # additionalProperties of the merged object (exact or narrower)
                fields["additional"] = ((value, f"{pointer}/{key}"),)
                where["additionalProperties"] = pointer
        if "type" in schema or "nullable" in schema:
            types = _types_of(schema, pointer)
            if schema.get("nullable") is True and "type" in schema:
                types = types | {"null"}
            fields["types"] = types
        if "enum" in schema:
            if not isinstance(schema["enum"], list):
                raise SchemaError("enum must be an array", pointer=pointer, keyword="enum")
            fields["enum"] = tuple(schema["enum"])
        if "const" in schema:
            const = (schema["const"],)
            fields["enum"] = tuple(v for v in fields.get("enum", const) if _in(v, const))
        low, high = _bounds(schema, pointer)
        if low is not None:
            fields["low"] = low
        if high is not None:
            fields["high"] = high
        if "multipleOf" in schema:
            step = _decimal(schema["multipleOf"], pointer, "multipleOf")
            if step <= 0:
                raise SchemaError("multipleOf must be > 0", pointer=pointer, keyword="multipleOf")
            fields["multiple_of"] = (step,)
            where["multipleOf"] = pointer
        for key, name in (
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
            ("minItems", "min_items"),
            ("maxItems", "max_items"),
            ("minProperties", "min_properties"),
            ("maxProperties", "max_properties"),
        ):
            if key in schema:
                fields[name] = _count(schema[key], pointer, key)
                where[key] = pointer
        if "pattern" in schema:
            if not isinstance(schema["pattern"], str):
                raise SchemaError("pattern must be a string", pointer=pointer, keyword="pattern")
            fields["patterns"] = (schema["pattern"],)
            where["pattern"] = pointer
        if "format" in schema and schema["format"] in _SPEC_FORMATS:
            fields["formats"] = (schema["format"],)
            where["format"] = pointer
        if "properties" in schema:
            props = schema["properties"]
            if not isinstance(props, Mapping):
                raise SchemaError(
                    "properties must be an object", pointer=pointer, keyword="properties"
                )
            fields["properties"] = tuple(
                (name, ((sub, f"{pointer}/properties/{escape_pointer_token(name)}"),))
                for name, sub in props.items()
            )
        if "patternProperties" in schema:
            fields["pattern_properties"] = tuple(
                (p, ((sub, f"{pointer}/patternProperties/{escape_pointer_token(p)}"),))
                for p, sub in schema["patternProperties"].items()
            )
            where["patternProperties"] = pointer
        if "additionalProperties" in schema:
            fields["additional"] = (
                (schema["additionalProperties"], f"{pointer}/additionalProperties"),
            )
            where["additionalProperties"] = pointer
        if "propertyNames" in schema:
            fields["property_names"] = ((schema["propertyNames"], f"{pointer}/propertyNames"),)
            where["propertyNames"] = pointer
        if "required" in schema:
            required = schema["required"]
            if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
                raise SchemaError(
                    "required must be an array of strings", pointer=pointer, keyword="required"
                )
            fields["required"] = tuple(dict.fromkeys(required))
        items = schema.get("items")
        if isinstance(items, list):  # drafts 4-7: array form of items
            fields["prefix"] = tuple(((s, f"{pointer}/items/{i}"),) for i, s in enumerate(items))
            if "additionalItems" in schema:
                fields["items"] = ((schema["additionalItems"], f"{pointer}/additionalItems"),)
        else:
            if "prefixItems" in schema:
                fields["prefix"] = tuple(
                    ((s, f"{pointer}/prefixItems/{i}"),)
                    for i, s in enumerate(schema["prefixItems"])
                )
            if "items" in schema:
                fields["items"] = ((items, f"{pointer}/items"),)
        if "unevaluatedItems" in schema:
            fields["items"] = (
                *fields.get("items", ()),
                (schema["unevaluatedItems"], f"{pointer}/unevaluatedItems"),
            )
        if schema.get("uniqueItems") is True:
            fields["unique"] = True
            where["uniqueItems"] = pointer
        if not fields and not where:
            return _Flat()
        flat = _Flat(**fields, where=tuple(where.items()))
        if flat.enum is not None and not flat.enum:
            return None
        return flat

    # ----- generation from a flat schema

    def generate(self, flat: _Flat) -> str | None:
        types = set(flat.types)
        if "number" in types:
            types.discard("integer")
        if flat.enum is not None:
            return self._enum(flat)
        parts: list[str] = []
        for kind in _TYPES:
            if kind not in types:
                continue
            regex = self._kind(kind, flat)
            if regex is not None:
                parts.append(regex)
        return alternation(parts)

    def _enum(self, flat: _Flat) -> str | None:
        rest = replace(flat, enum=None)
        checker: re.Pattern[str] | None = None
        parts: list[str] = []
        for value in flat.enum or ():
            kind = _type_of(value)
            if kind not in flat.types and not (kind == "integer" and "number" in flat.types):
                continue
            if _in(value, flat.not_enum):
                continue
            if rest != _Flat(types=rest.types, where=rest.where):
                if checker is None:
                    # unrolled only as deep as the values nest: a value is matched as exactly,
                    # and "any value" stays small (Python's re compiles it quickly)
                    levels = max(_nesting(v) for v in flat.enum or ())
                    if not self.grammar:
                        levels = min(self.max_depth, levels)
                    compact = _Compiler(
                        self.root,
                        Whitespace(),
                        levels,
                        depth=dict(self.depth),
                        recursion=self.recursion,
                    )
                    regex = compact.generate(rest)
                    if regex is None:
                        return None
                    checker = re.compile(regex)
                if not checker.fullmatch(_dumps(value)):
                    continue
            # an integral value also as ``n.0`` only where non-integers are allowed (drafts 3
            # and 4 do not count 1.0 as an integer)
            parts.append(self._literal(value, fraction="number" in flat.types))
        return alternation(parts)

    def _literal(self, value: Any, *, fraction: bool = True) -> str:
        """Regex for one JSON value written the typedgen way (integral numbers also as ``n.0``,
        unless ``fraction`` is false for the top-level value)."""
        if value is None or isinstance(value, bool):
            return json.dumps(value)
        if isinstance(value, (int, float)):
            number = _canonical(value)
            text = re.escape(json.dumps(number))
            return f"{text}(?:\\.0)?" if isinstance(number, int) and fraction else text
        if isinstance(value, str):
            return f'"{canonical_literal(value)}"'
        if isinstance(value, list):
            inner = self._token(",").join(self._literal(v) for v in value)
            return rf"\[{self.ws}{inner}{self.ws}\]" if value else rf"\[{self.ws}\]"
        if isinstance(value, dict):
            members = [
                f'"{canonical_literal(k)}"{self._token(":")}{self._literal(v)}'
                for k, v in value.items()
            ]
            inner = self._token(",").join(members)
            return rf"\{{{self.ws}{inner}{self.ws}\}}" if value else rf"\{{{self.ws}\}}"
        raise SchemaError(f"{value!r} is not a JSON value")

    def _kind(self, kind: str, flat: _Flat) -> str | None:
        not_enum = [
            v
            for v in flat.not_enum
            if _type_of(v) == kind or (kind == "number" and _type_of(v) == "integer")
        ]
        if kind == "null":
            return None if not_enum else "null"
        if kind == "boolean":
            allowed = [b for b in (True, False) if not _in(b, not_enum)]
            return alternation([json.dumps(b) for b in allowed])
        if kind in ("integer", "number"):
            return self._number_except(kind, flat, not_enum)
        if not_enum and kind != "string":
            return None  # "this type except these values": narrowed to no value of this type
        if kind == "string":
            return self._string(flat, not_enum)
        if kind == "array":
            return self._array(flat)
        return self._object(flat)

    # ----- numbers

    def _number_except(self, kind: str, flat: _Flat, not_enum: list[Any]) -> str | None:
        """Numbers of the flat schema other than the values in ``not_enum``."""
        if not not_enum:
            return self._number(kind, flat)
        points = sorted({_decimal(v, "", "enum") for v in not_enum})
        parts: list[str] = []
        low = flat.low
        for point in [*points, None]:
            high = _Bound(point, True) if point is not None else flat.high
            if point is not None and flat.high is not None and flat.high.value < point:
                high = flat.high
            piece = self._number(kind, replace(flat, low=low, high=high, not_enum=()))
            if piece is not None:
                parts.append(piece)
            if point is not None:
                low = _tighter(low, _Bound(point, True), lower=True)
        return alternation(parts)

    def _number(self, kind: str, flat: _Flat) -> str | None:
        low, high = flat.low, flat.high
        steps = flat.multiple_of
        integral = kind == "integer"
        fraction_digits: int | None = None
        int_step = 1
        for step in steps:
            if step == step.to_integral_value():
                integral = True
                int_step = math.lcm(int_step, int(step))
            elif step.normalize().as_tuple().digits == (1,):
                exponent = int(step.normalize().as_tuple().exponent)
                digits = -exponent
                fraction_digits = (
                    digits if fraction_digits is None else min(fraction_digits, digits)
                )
            else:
                raise SchemaError(
                    f"multipleOf {step} on numbers cannot be expressed (only integers and powers "
                    "of ten are)",
                    pointer=flat.pointer("multipleOf"),
                    keyword="multipleOf",
                )
        if integral:
            low_int = None if low is None else _ceil(low)
            high_int = None if high is None else _floor(high)
            if int_step > 1:
                try:
                    return multiples_range(int_step, low_int, high_int)
                except ValueError as error:
                    raise SchemaError(
                        str(error), pointer=flat.pointer("multipleOf"), keyword="multipleOf"
                    ) from None
            if low_int is None and high_int is None:
                return INTEGER
            return integer_range(low_int, high_int)
        if low is None and high is None and fraction_digits is None:
            return NUMBER
        if low is None and high is None:
            if fraction_digits == 0:
                return INTEGER
            return rf"(?:{INTEGER}|{INTEGER_PART}\.[0-9]{{1,{fraction_digits}}})"
        return decimal_range(
            None if low is None else low.value,
            low.open if low else False,
            None if high is None else high.value,
            high.open if high else False,
            fraction_digits=fraction_digits,
        )

    # ----- strings

    def _string(self, flat: _Flat, not_enum: list[Any]) -> str | None:
        low, high = flat.min_length, flat.max_length
        if high is not None and low > high:
            return None
        # a pattern searched in every string (``([a-z]+)?``) constrains nothing
        flat = replace(
            flat, patterns=tuple(p for p in flat.patterns if not _matches_every_string(p))
        )
        constraints = [f"pattern {p!r}" for p in flat.patterns] + [
            f"format {f!r}" for f in flat.formats
        ]
        if not_enum:
            if constraints or low or high is not None:
                raise SchemaError(
                    "excluding string values together with other string constraints is not "
                    "supported",
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
        return f'"{CHAR}{_quantifier(low, high)}"'

    # ----- arrays

    def _array(self, flat: _Flat) -> str | None:
        low, high = flat.min_items, flat.max_items
        if high is not None and low > high:
            return None
        prefix: list[str | None] = [self.all_of_any(subs) for subs in flat.prefix]
        items = self.all_of_any(flat.items)
        if flat.unique and (high is None or high > 1):
            return self._unique_array(flat, prefix, items, low, high)
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
        sep = self._token(",")
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
                    more = _quantifier(
                        max(0, min_rest - 1), None if max_rest is None else max_rest - 1
                    )
                    body = f"{items}(?:{sep}{items}){more}" if more != "{0}" else items
                    tail = body if min_rest > 0 else f"(?:{body})?"
            else:
                quant = _quantifier(min_rest, max_rest)
                tail = f"(?:{sep}{items}){quant}" if quant != "{0}" else ""
        positions = len(prefix) if high is None else min(len(prefix), high)
        body = tail
        for index in range(positions - 1, -1, -1):
            element = prefix[index] if index == 0 else f"{sep}{prefix[index]}"
            body = f"{element}{body}"
            if index >= low:
                body = f"(?:{body})?"
        return rf"\[{self.ws}{body}{self.ws}\]"

    def all_of_any(self, subs: Sequence[_Sub]) -> str | None:
        """Regex for a nested value satisfying all of ``subs`` (no subs: any JSON value)."""
        if not subs:
            return self._any_value()
        return self.all_of(subs)

    def _unique_array(
        self, flat: _Flat, prefix: list[str | None], items: str | None, low: int, high: int | None
    ) -> str | None:
        values = self._finite_values(flat.items) if not flat.prefix else None
        if values is None:
            raise SchemaError(
                "uniqueItems can only be expressed for items drawn from a finite set of values "
                "(enum, const, boolean)",
                pointer=flat.pointer("uniqueItems"),
                keyword="uniqueItems",
            )
        literals = [self._literal(v, fraction=False) for v in values]
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
        sep = self._token(",")
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
                    [
                        literals[i] + rest(tuple(j for j in range(count) if j != i))
                        for i in range(count)
                    ]
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
        return rf"\[{self.ws}{body}{self.ws}\]"

    def _finite_values(self, subs: Sequence[_Sub]) -> list[Any] | None:
        saved = dict(self.depth)
        try:
            flats = [_Flat()]
            for schema, pointer in subs:
                flats = self._conj(flats, self.flatten(schema, pointer), pointer)
        except _CycleError:  # recursive items: not a finite set
            return None
        finally:
            self.depth = saved
        values: list[Any] = []
        for flat in flats:
            if flat.enum is not None:
                values.extend(v for v in flat.enum if not _in(v, values))
            elif flat.types == frozenset({"boolean"}):
                values.extend(v for v in (True, False) if not _in(v, values))
            elif flat.types == frozenset({"null"}):
                values.extend(v for v in (None,) if not _in(v, values))
            else:
                return None
        return values

    # ----- objects

    def _object(self, flat: _Flat) -> str | None:
        colon = self._token(":")
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
            key = self._key_ok(flat, name)
            if not key:
                if name in required:
                    return None
                continue
            regex = self.all_of_any(rule)
            if regex is None:
                if name in required:
                    return None
                continue
            members.append((f'"{canonical_literal(name)}"{colon}{regex}', name in required))
        extra = self._extra_member(flat, names)
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
        body = self._members(members, extra, extra_max, min_one=min_one)
        if body is None and min_one:
            return None
        inner = "" if body is None else body
        return rf"\{{{self.ws}{inner}{self.ws}\}}"

    def _key_ok(self, flat: _Flat, name: str) -> bool:
        """Whether a declared name satisfies propertyNames."""
        if not flat.property_names:
            return True
        # a name is a string: no nesting to unroll
        compact = _Compiler(
            self.root, Whitespace(), 0, depth=dict(self.depth), recursion=self.recursion
        )
        regex = compact.all_of(flat.property_names)
        return regex is not None and re.fullmatch(regex, _dumps(name)) is not None

    def _extra_member(self, flat: _Flat, names: list[str]) -> str | None:
        """Regex of one member that is not a declared property (``None``: none allowed)."""
        colon = self._token(":")
        patterns = list(dict.fromkeys(p for p, _ in flat.pattern_properties))
        if len(patterns) == 1 and _matches_every_string(patterns[0]):
            # every name matches the one pattern: its schema is what additional members meet
            subs = tuple(s for _, pattern_subs in flat.pattern_properties for s in pattern_subs)
            flat = replace(flat, pattern_properties=(), additional=_unique_subs(subs))
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
            by_pattern: dict[str, list[_Sub]] = {}
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
                value = self.all_of_any(pattern_subs)
                content = self._pattern_key(flat, pattern, names)
                if value is not None and content is not None:
                    members.append(f'"{content}"{colon}{value}')
            outside = None
            if len(by_pattern) == 1 and not any(s is False for s, _ in flat.additional):
                outside = pattern_key_complement(next(iter(by_pattern)), names)
            if outside is not None:
                value = self.all_of_any(flat.additional)
                if value is not None:
                    members.append(f'"{outside}"{colon}{value}')
            return alternation(members)
        if any(s is False for s, _ in flat.additional):
            return None
        value = self.all_of_any(flat.additional)
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
            key = self.all_of(
                [({"type": "string"}, flat.pointer("propertyNames")), *flat.property_names]
            )
            if key is None:
                return None
        else:
            key = f'"{not_in(names)}"' if names else f'"{CHAR}*"'
        return f"{key}{colon}{value}"

    def _pattern_key(self, flat: _Flat, pattern: str, names: list[str]) -> str | None:
        """Regex over the content of a name that matches ``pattern`` and is no declared name
        (``None``: no such name)."""
        try:
            if not any(_search(pattern, n) for n in names):
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
        self,
        members: list[tuple[str, bool]],
        extra: str | None,
        extra_max: int | None,
        *,
        min_one: bool,
    ) -> str | None:
        """Members in order, separated by commas; optional ones present or absent; then up to
        ``extra_max`` (None: any number of) additional members ``extra``."""
        sep = self._token(",")
        extras = None if extra is None else f"(?:{sep}{extra}){_quantifier(0, extra_max)}"
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
        more = "" if extra is None else f"(?:{sep}{extra}){_quantifier(0, _less(extra_max))}"
        body = first + (more if not more.endswith("{0}") else "")
        return body if min_one else f"(?:{body})?"

    # ----- any value

    def _any_value(self) -> str:
        """Any JSON value with arrays/objects nested at most ``max_depth`` levels deep (in
        grammar mode: a reference to the one rule of any value, nested without bound)."""
        self.any_used = True
        if not self.grammar:
            return self._any_at(self.max_depth)
        key = ((0, ""),)  # no schema has id 0
        number = self.rule_of.get(key)
        if number is None:
            number = self._new_rule(key, "any value")
            self.rules[number] = self._any_around(rule_reference(number))
        return rule_reference(number)

    def _any_at(self, levels: int) -> str:
        if levels <= 0:
            return alternation(_ANY_SCALARS) or ""
        return self._any_around(self._any_at(levels - 1))

    def _any_around(self, inner: str) -> str:
        """Any JSON value: a scalar, or an array or object of ``inner`` values."""
        sep, colon = self._token(","), self._token(":")
        array = rf"\[{self.ws}(?:{inner}(?:{sep}{inner})*)?{self.ws}\]"
        member = f'"{CHAR}*"{colon}{inner}'
        obj = rf"\{{{self.ws}(?:{member}(?:{sep}{member})*)?{self.ws}\}}"
        return alternation([*_ANY_SCALARS, array, obj]) or ""


def rule_reference(number: int) -> str:
    """The mark that grammar mode writes in a regex for rule ``number`` (NUL never appears in
    the compiler's regexes otherwise: control characters are always written as escapes)."""
    return f"\x00{number}\x00"


class _CycleError(SchemaError):
    """A ``$ref`` cycle met where a regex cannot follow it (inside one value, or a negation)."""


class _TooLargeError(Exception):
    """Internal: the regex under construction exceeds MAX_REGEX_SIZE (at ``pointer``)."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer


@dataclass(frozen=True, eq=False)
class _Negated:
    """A subschema already given as flat alternatives (produced by negation)."""

    flats: tuple[_Flat, ...]


def _selection(members: list[str], sep: str) -> str:
    """Regex of a non-empty subsequence of ``members``, in order, separated by ``sep``.

    Built left to right: with ``S`` a selection from the members so far and ``m`` the next one,
    a selection that may end with ``m`` is ``S(?:,m)?|m`` (``m`` written twice) or, the same
    language, ``(?:S,)?m|S`` (``S`` written twice); whichever copies less text is used, so the
    regex is at most about twice the members' total length and a heavy member is written once.
    """
    selection = members[0]
    for member in members[1:]:
        if len(member) <= len(selection):
            selection = f"(?:{selection}(?:{sep}{member})?|{member})"
        else:
            selection = f"(?:(?:{selection}{sep})?{member}|{selection})"
    return selection


def _less(count: int | None) -> int | None:
    return None if count is None else count - 1


def _quantifier(low: int, high: int | None) -> str:
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == high:
        return f"{{{low}}}"
    if low == 0 and high == 1:
        return "?"
    return f"{{{low},{high}}}"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _list(schema: Mapping[str, Any], key: str, pointer: str) -> list[Any]:
    value = schema.get(key, [])
    if not isinstance(value, list) or (key != "allOf" and not value):
        raise SchemaError(f"{key} must be a non-empty array", pointer=pointer, keyword=key)
    return value


def _types_of(schema: Mapping[str, Any], pointer: str) -> frozenset[str]:
    if "type" not in schema:
        return _ALL_TYPES
    value = schema["type"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names):
        raise SchemaError(f"unknown type {value!r}", pointer=pointer, keyword="type")
    types = frozenset(names)
    return types | {"integer"} if "number" in types else types


def _decimal(value: Any, pointer: str, keyword: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{keyword} must be a number", pointer=pointer, keyword=keyword)
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise SchemaError(f"{keyword} must be finite", pointer=pointer, keyword=keyword) from None


def _count(value: Any, pointer: str, keyword: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError(
            f"{keyword} must be a non-negative integer", pointer=pointer, keyword=keyword
        )
    return value


def _bounds(schema: Mapping[str, Any], pointer: str) -> tuple[_Bound | None, _Bound | None]:
    low: _Bound | None = None
    high: _Bound | None = None
    if "minimum" in schema:
        open_ = schema.get("exclusiveMinimum") is True
        low = _Bound(_decimal(schema["minimum"], pointer, "minimum"), open_)
    if "maximum" in schema:
        open_ = schema.get("exclusiveMaximum") is True
        high = _Bound(_decimal(schema["maximum"], pointer, "maximum"), open_)
    for key, is_low in (("exclusiveMinimum", True), ("exclusiveMaximum", False)):
        value = schema.get(key)
        if value is None or isinstance(value, bool):
            continue
        bound = _Bound(_decimal(value, pointer, key), True)
        if is_low:
            low = _tighter(low, bound, lower=True)
        else:
            high = _tighter(high, bound, lower=False)
    return low, high


def _ceil(bound: _Bound) -> int:
    value = int(bound.value.to_integral_value(rounding="ROUND_CEILING"))
    return value + 1 if bound.open and value == bound.value else value


def _floor(bound: _Bound) -> int:
    value = int(bound.value.to_integral_value(rounding="ROUND_FLOOR"))
    return value - 1 if bound.open and value == bound.value else value


def _find_anchor(node: Any, name: str, pointer: str) -> tuple[Any, str] | None:
    if isinstance(node, Mapping):
        if (
            node.get("$anchor") == name
            or node.get("$id") == f"#{name}"
            or node.get("id") == f"#{name}"
        ):
            return node, pointer
        children: Iterator[tuple[str, Any]] = iter(node.items())
    elif isinstance(node, list):
        children = ((str(i), v) for i, v in enumerate(node))
    else:
        return None
    for key, child in children:
        found = _find_anchor(child, name, f"{pointer}/{escape_pointer_token(key)}")
        if found is not None:
            return found
    return None
