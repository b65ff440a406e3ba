"""The schema compiler: a value of a schema as regex text, the entry points of the regex and the
grammar path, the unrolling of recursion and "any value", and the size cap.

:class:`Compiler` flattens a schema (:mod:`.combinators`) and writes each flat alternative with
the writer of its type (:mod:`.numbers`, :mod:`.strings`, :mod:`.arrays`, :mod:`.objects`);
the writers of arrays and objects call back for the values nested in them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from typedgen._errors import GrammarLimitError, SchemaError
from typedgen._formats import NUMBER
from typedgen._schema.arrays import array_regex
from typedgen._schema.charsets import CHAR, canonical_literal
from typedgen._schema.combinators import Flattener
from typedgen._schema.flat import TYPES, Flat, Sub, canonical, dumps, is_in, nesting, type_of
from typedgen._schema.keywords import load
from typedgen._schema.numbers import number_regex
from typedgen._schema.objects import object_regex
from typedgen._schema.refs import Refs
from typedgen._schema.regex_text import alternation, regex_size, rule_reference
from typedgen._schema.strings import string_regex
from typedgen._schema.whitespace import Whitespace

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "MAX_REGEX_SIZE",
    "PREFERRED_REGEX_SIZE",
    "Compiler",
    "Deadline",
    "RegexSizeError",
    "exact_regex",
    "json_schema_to_regex",
    "ref_cycle",
    "schema_rules",
]

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

_ANY_SCALARS = ["null", "true", "false", NUMBER, f'"{CHAR}*"']
RULE_SIZE = 1000
"""In grammar mode, a value whose regex is at least this long is a rule of its own, shared by
every place that reaches it (instead of a copy at each place)."""


def json_schema_to_regex(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> str:
    """Regex matching exactly the JSON texts (written as described in :mod:`typedgen._schema`)
    whose value validates against ``schema``.

    ``schema`` is a JSON Schema as a dict, a boolean, or a JSON string.  ``max_depth`` bounds the
    unrolling of recursive ``$ref`` and of "any value" schemas.  Raises :class:`SchemaError`
    (with ``pointer`` and ``keyword``) for anything that cannot be honoured exactly, including a
    schema that no JSON value satisfies.
    """
    schema = load(schema)
    if max_depth < 0:
        raise ValueError("max_depth must be >= 0")
    found: tuple[str | None, Compiler] | None = None
    refs = Refs(schema)
    stable: dict[tuple[int, str], tuple[Any, str | None]] = {}  # shared by every depth
    for depth in range(max_depth, -1, -1):
        compiler = Compiler(refs=refs, max_depth=depth, whitespace=whitespace, stable=stable)
        try:
            regex = compiler.value(schema, "")
            unrolled = bool(compiler.cut or compiler.any_used)
            size = 0 if regex is None else regex_size(regex)
            if size > MAX_REGEX_SIZE:
                raise TooLargeError("")
        except TooLargeError as error:
            if found is None and (depth == 0 or not (compiler.cut or compiler.any_used)):
                raise RegexSizeError(
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


@dataclass(frozen=True)
class Deadline:
    """The end of a compile that may take ``timeout`` seconds from this object's creation."""

    timeout: float
    at: float = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", time.monotonic() + self.timeout)

    def left(self) -> float:
        """The seconds left (0 once past)."""
        return max(0.0, self.at - time.monotonic())

    def check(self, pointer: str) -> None:
        """Raise :class:`~typedgen.GrammarLimitError` (option ``"timeout"``) once past, naming
        the schema location ``pointer`` being compiled then."""
        if time.monotonic() > self.at:
            raise GrammarLimitError(
                f"compiling the JSON Schema takes too long (at {pointer or '/'})",
                option="timeout",
                limit=self.timeout,
            )


def exact_regex(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    deadline: Deadline | None = None,
) -> str | None:
    """The regex of :func:`json_schema_to_regex` where it has no depth cut, else ``None``:
    ``None`` when ``schema`` reaches a ``$ref`` cycle, allows "any value" somewhere (a value
    nested without bound: ``{}``, ``true``, ``items`` or ``additionalProperties`` left open),
    or needs a regex above :data:`MAX_REGEX_SIZE`. Where it returns a regex, that regex
    matches every valid instance written the typedgen way (up to the documented narrowings)
    and nothing else. Raises :class:`SchemaError` as :func:`json_schema_to_regex` does; the
    walk stops at the first value that needs a grammar, and at ``deadline``."""
    schema = load(schema)
    refs = Refs(schema)
    if refs.cycle() is not None:
        return None
    compiler = Compiler(
        refs=refs, max_depth=DEFAULT_MAX_DEPTH, whitespace=whitespace, exact=True, deadline=deadline
    )
    try:
        regex = compiler.value(schema, "")
    except (_UnboundedError, TooLargeError):
        return None
    if compiler.cut or (regex is not None and regex_size(regex) > MAX_REGEX_SIZE):
        return None
    if regex is None:
        raise SchemaError("no JSON value satisfies the schema")
    return regex


def ref_cycle(schema: Mapping[str, Any] | bool | str) -> str | None:
    """The pointer of a ``$ref`` target that ``schema`` reaches and that reaches itself again
    through ``$ref`` (see :meth:`Refs.cycle`), or ``None``."""
    return Refs(load(schema)).cycle()


def schema_rules(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace,
    deadline: Deadline | None = None,
) -> tuple[str, dict[int, str], dict[int, str]]:
    """The schema compiled in grammar mode (see :mod:`typedgen._schema.lark`): the regex
    of the root value, the regex of each rule that has instances (by number; a rule without is
    left out, and so are the alternatives that need it), and the pointer each rule stands for.
    The regexes hold :func:`rule_reference` marks."""
    schema = load(schema)
    compiler = Compiler(
        refs=Refs(schema),
        max_depth=DEFAULT_MAX_DEPTH,
        whitespace=whitespace,
        grammar=True,
        deadline=deadline,
    )
    try:
        root = compiler.value(schema, "")
    except TooLargeError as error:
        raise SchemaError(
            f"a value of this schema would need a regex of more than {MAX_REGEX_SIZE} automaton "
            "states (estimated)",
            pointer=error.pointer,
        ) from None
    if root is None:
        raise SchemaError("no JSON value satisfies the schema")
    rules = {number: body for number, body in compiler.rules.items() if body is not None}
    return root, rules, dict(compiler.rule_pointers)


@dataclass
class Compiler(Flattener):
    """Writes the regex of a value of a schema (see :func:`json_schema_to_regex`)."""

    whitespace: Whitespace = Whitespace()  # noqa: RUF009 (frozen, immutable)
    any_used: bool = False  # whether an "any value" was unrolled
    exact: bool = False  # raise _UnboundedError at an "any value" instead of unrolling it
    deadline: Deadline | None = None  # checked at each value written
    # (id of the subschema, pointer, recursion state) -> (the subschema, kept alive so that its
    # id is not reused, and its regex)
    memo: dict[tuple[int, str, tuple[tuple[str, int], ...]], tuple[Any, str | None]] = field(
        default_factory=dict
    )
    # (id of the subschema, pointer) -> (the subschema, its regex) of the values whose regex is
    # the same at every max_depth (shared by the compilers of one root and whitespace)
    stable: dict[tuple[int, str], tuple[Any, str | None]] = field(default_factory=dict)
    # grammar mode (see typedgen._schema.lark): a value reached again inside itself, a large
    # value reached again elsewhere, and "any value" become rules, written in the regex as
    # rule_reference(number); no depth cut
    rules: dict[int, str | None] = field(default_factory=dict)  # rule number -> regex body
    rule_pointers: dict[int, str] = field(default_factory=dict)  # rule number -> pointer
    # (id, pointer) of the subschemas a value meets -> its rule
    rule_of: dict[tuple[tuple[int, str], ...], int] = field(default_factory=dict)
    active: set[tuple[tuple[int, str], ...]] = field(default_factory=set)  # being compiled
    # the same keys -> (the subschemas, kept alive so that their ids are not reused, the regex)
    rule_memo: dict[tuple[tuple[int, str], ...], tuple[Any, str | None]] = field(
        default_factory=dict
    )

    @property
    def ws(self) -> str:
        """The regex of one whitespace run."""
        return self.whitespace.regex

    def token(self, char: str) -> str:
        """The structural character ``char`` (a regex) with the whitespace around it."""
        return f"{self.ws}{char}{self.ws}"

    def value(self, schema: Any, pointer: str) -> str | None:
        """Regex for one JSON value satisfying ``schema`` (``None``: no value does)."""
        if self.grammar:
            return self._rule([(schema, pointer)])
        stable_key = (id(schema), pointer)
        if stable_key in self.stable:
            return self.stable[stable_key][1]
        key = (*stable_key, tuple(sorted(self.depth.items())))
        if key in self.memo:  # not stable: it depends on max_depth
            self.depth_dependent = True
            return self.memo[key][1]
        saved, outer = dict(self.depth), self.depth_dependent
        self.depth_dependent = False
        try:
            result = self._write(self.flatten(schema, pointer), pointer)
            if not self.depth_dependent:
                self.stable[stable_key] = (schema, result)
        finally:
            self.depth = saved
            self.depth_dependent = outer or self.depth_dependent
        self.memo[key] = (schema, result)
        return result

    def _rule(self, subs: Sequence[Sub]) -> str | None:
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
            flats = self.flatten(*subs[0]) if len(subs) == 1 else self.flatten_all(subs)
            result = self._write(flats, pointer)
        finally:
            self.active.discard(key)
            self.depth = saved
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

    def all_of(self, subs: Sequence[Sub]) -> str | None:
        """Regex for one value satisfying every subschema in ``subs`` (an empty list: any)."""
        if len(subs) == 1:
            return self.value(*subs[0])
        if self.grammar:
            return self._rule(subs)
        saved = dict(self.depth)
        try:
            return self._write(self.flatten_all(subs), subs[0][1] if subs else "")
        finally:
            self.depth = saved

    def all_of_any(self, subs: Sequence[Sub]) -> str | None:
        """Regex for a nested value satisfying all of ``subs`` (no subs: any JSON value)."""
        if not subs:
            return self._any_value()
        return self.all_of(subs)

    def _write(self, alternatives: list[Flat], pointer: str) -> str | None:
        """The regex of the values of any of ``alternatives``; :class:`TooLargeError` (at
        ``pointer``) when it is surely above :data:`MAX_REGEX_SIZE`."""
        if self.deadline is not None:
            self.deadline.check(pointer)
        result = alternation([r for r in map(self.generate, alternatives) if r is not None])
        if result is not None and len(result) // 2 > MAX_REGEX_SIZE:  # size >= length / 2
            raise TooLargeError(pointer)
        return result

    def compact(self, max_depth: int) -> Compiler:
        """A compiler of the same root and ``$ref`` expansions, for compact JSON nested at most
        ``max_depth`` levels (to check a value against a schema with ``re``)."""
        return Compiler(refs=self.refs, max_depth=max_depth, depth=dict(self.depth))

    # ----- one flat schema

    def generate(self, flat: Flat) -> str | None:
        """Regex of the values of ``flat`` (``None``: no value)."""
        types = set(flat.types)
        if "number" in types:
            types.discard("integer")
        if flat.enum is not None:
            return self._enum(flat)
        parts: list[str] = []
        for kind in TYPES:
            if kind not in types:
                continue
            regex = self._kind(kind, flat)
            if regex is not None:
                parts.append(regex)
        return alternation(parts)

    def _enum(self, flat: Flat) -> str | None:
        rest = replace(flat, enum=None)
        checker: re.Pattern[str] | None = None
        parts: list[str] = []
        for value in flat.enum or ():
            kind = type_of(value)
            if kind not in flat.types and not (kind == "integer" and "number" in flat.types):
                continue
            if is_in(value, flat.not_enum):
                continue
            if rest != Flat(types=rest.types, where=rest.where):
                if checker is None:
                    # unrolled only as deep as the values nest: a value is matched as exactly,
                    # and "any value" stays small (Python's re compiles it quickly)
                    levels = max(nesting(v) for v in flat.enum or ())
                    if not (self.grammar or self.exact) and levels > self.max_depth:
                        levels = self.max_depth
                        self.depth_dependent = True
                    compact = self.compact(levels)
                    regex = compact.generate(rest)
                    self.depth_dependent |= compact.depth_dependent
                    if regex is None:
                        return None
                    checker = re.compile(regex)
                if not checker.fullmatch(dumps(value)):
                    continue
            # an integral value also as ``n.0`` only where non-integers are allowed (drafts 3
            # and 4 do not count 1.0 as an integer)
            parts.append(self.literal(value, fraction="number" in flat.types))
        return alternation(parts)

    def literal(self, value: Any, *, fraction: bool = True) -> str:
        """Regex for one JSON value written the typedgen way (integral numbers also as ``n.0``,
        unless ``fraction`` is false for the top-level value)."""
        if value is None or isinstance(value, bool):
            return json.dumps(value)
        if isinstance(value, (int, float)):
            number = canonical(value)
            text = re.escape(json.dumps(number))
            return f"{text}(?:\\.0)?" if isinstance(number, int) and fraction else text
        if isinstance(value, str):
            return f'"{canonical_literal(value)}"'
        if isinstance(value, list):
            inner = self.token(",").join(self.literal(v) for v in value)
            return rf"\[{self.ws}{inner}{self.ws}\]" if value else rf"\[{self.ws}\]"
        if isinstance(value, dict):
            members = [
                f'"{canonical_literal(k)}"{self.token(":")}{self.literal(v)}'
                for k, v in value.items()
            ]
            inner = self.token(",").join(members)
            return rf"\{{{self.ws}{inner}{self.ws}\}}" if value else rf"\{{{self.ws}\}}"
        raise SchemaError(f"{value!r} is not a JSON value")

    def _kind(self, kind: str, flat: Flat) -> str | None:
        not_enum = [
            v
            for v in flat.not_enum
            if type_of(v) == kind or (kind == "number" and type_of(v) == "integer")
        ]
        if kind == "null":
            return None if not_enum else "null"
        if kind == "boolean":
            allowed = [b for b in (True, False) if not is_in(b, not_enum)]
            return alternation([json.dumps(b) for b in allowed])
        if kind in ("integer", "number"):
            return number_regex(kind, flat, not_enum)
        if not_enum and kind != "string":
            return None  # "this type except these values": narrowed to no value of this type
        if kind == "string":
            return string_regex(flat, not_enum)
        if kind == "array":
            return array_regex(self, flat)
        return object_regex(self, flat)

    # ----- any value

    def _any_value(self) -> str:
        """Any JSON value with arrays/objects nested at most ``max_depth`` levels deep (in
        grammar mode: a reference to the one rule of any value, nested without bound)."""
        if self.exact:
            raise _UnboundedError
        self.any_used = True
        if not self.grammar:
            self.depth_dependent = True
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
        sep, colon = self.token(","), self.token(":")
        array = rf"\[{self.ws}(?:{inner}(?:{sep}{inner})*)?{self.ws}\]"
        member = f'"{CHAR}*"{colon}{inner}'
        obj = rf"\{{{self.ws}(?:{member}(?:{sep}{member})*)?{self.ws}\}}"
        return alternation([*_ANY_SCALARS, array, obj]) or ""


class RegexSizeError(SchemaError):
    """The regex of a schema would exceed :data:`MAX_REGEX_SIZE` (a grammar may still hold it:
    see :func:`typedgen.compile_json_schema`)."""


class _UnboundedError(Exception):
    """Internal: an exact compiler met a value nested without bound ("any value")."""


class TooLargeError(Exception):
    """Internal: the regex under construction exceeds MAX_REGEX_SIZE (at ``pointer``)."""

    def __init__(self, pointer: str) -> None:
        super().__init__(pointer)
        self.pointer = pointer
