"""The flat form of a whole schema: ``$ref``, ``allOf``, ``anyOf``, ``oneOf``, ``not``,
``if``/``then``/``else`` and dependencies turn a schema into a union of :class:`~.flat.Flat`
conjunctions; negation writes the complement of a schema the same way.

The writers of :mod:`.values` build on :class:`Flattener`, which holds the state these stages
share: the root, the ``$ref`` expansions on the way to the current value and the depth cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from typedgen._errors import SchemaError, escape_pointer_token
from typedgen._schema.flat import (
    ALL_TYPES,
    Bound,
    Flat,
    Negated,
    Sub,
    may_fit,
    member_is,
    other_types,
)
from typedgen._schema.keywords import (
    BOUND_KEYWORDS,
    IGNORED,
    KEYWORD_TYPES,
    OLD_DRAFT,
    read_bounds,
    read_count,
    read_list,
    read_own,
    read_types,
)
from typedgen._schema.patterns import class_run_outside, contents_disjoint
from typedgen._schema.refs import Refs

__all__ = ["MAX_ALTERNATIVES", "CycleError", "Flattener"]

MAX_ALTERNATIVES = 256
"""Most flat alternatives one combination of subschemas may need (more: refused)."""
_GRAMMAR_EXPANSIONS = 2  # times one $ref target may be expanded within one value (grammar mode)


class CycleError(SchemaError):
    """A ``$ref`` cycle met where a regex cannot follow it (inside one value, or a negation)."""


@dataclass
class Flattener:
    """Flattening and negation over one root schema."""

    refs: Refs
    max_depth: int
    cut: str = ""  # pointer of a $ref that recursion cut off (for the error message)
    depth: dict[str, int] = field(default_factory=dict)  # of $ref targets that recur
    # grammar mode (see typedgen._schema.lark): $ref targets are expanded without a depth cut
    grammar: bool = False
    negating: set[str] = field(default_factory=set)  # $ref targets being negated
    # whether what was flattened or written since the flag was cleared depends on max_depth
    # (a recursive $ref was counted or cut, "any value" was unrolled)
    depth_dependent: bool = False
    # drafts 3 to 7 (by the root's $schema): keywords beside "$ref" are ignored
    ref_alone: bool = field(init=False)

    def __post_init__(self) -> None:
        root = self.refs.root
        declared = root.get("$schema") if isinstance(root, Mapping) else None
        self.ref_alone = isinstance(declared, str) and OLD_DRAFT.search(declared) is not None

    def flatten(self, schema: Any, pointer: str) -> list[Flat]:
        """The schema as a union of flat conjunctions (empty list: no value satisfies it)."""
        if schema is True:
            return [Flat()]
        if schema is False:
            return []
        if isinstance(schema, Negated):
            return list(schema.flats)
        if not isinstance(schema, Mapping):
            raise SchemaError(
                f"a schema must be an object or a boolean, not {type(schema).__name__}",
                pointer=pointer,
            )
        if self.ref_alone and "$ref" in schema:
            schema = {"$ref": schema["$ref"]}
        own = read_own(schema, pointer)
        alternatives: list[Flat] = [] if own is None else [own]
        if "$ref" in schema and self.grammar:
            target, target_pointer = self.refs.resolve(schema["$ref"], pointer)
            count = self.depth.get(target_pointer, 0)
            if count >= _GRAMMAR_EXPANSIONS:
                raise CycleError(
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
            alternatives = self.conj(alternatives, expanded, pointer)
        elif "$ref" in schema:
            target, target_pointer = self.refs.resolve(schema["$ref"], pointer)
            if self.refs.recursive(target, target_pointer):
                self.depth_dependent = True
                count = self.depth.get(target_pointer, 0)
                if count >= self.max_depth + 1:
                    self.cut = self.cut or f"{pointer}"
                    return []
                self.depth[target_pointer] = count + 1
            alternatives = self.conj(alternatives, self.flatten(target, target_pointer), pointer)
        for index, sub in enumerate(read_list(schema, "allOf", pointer)):
            sub_pointer = f"{pointer}/allOf/{index}"
            alternatives = self.conj(alternatives, self.flatten(sub, sub_pointer), sub_pointer)
        if "anyOf" in schema:
            union: list[Flat] = []
            for index, sub in enumerate(read_list(schema, "anyOf", pointer)):
                union.extend(self.flatten(sub, f"{pointer}/anyOf/{index}"))
            alternatives = self.conj(alternatives, union, f"{pointer}/anyOf")
        if "oneOf" in schema:
            alternatives = self._one_of(schema, pointer, alternatives)
        for key in ("dependentRequired", "dependentSchemas", "dependencies"):
            if key in schema:
                alternatives = self._dependencies(schema[key], f"{pointer}/{key}", alternatives)
        if "not" in schema:
            negated = self.negate(schema["not"], f"{pointer}/not")
            alternatives = self.conj(alternatives, negated, f"{pointer}/not")
        if "if" in schema and ("then" in schema or "else" in schema):
            condition = schema["if"]
            then = self.conj(
                self.flatten(condition, f"{pointer}/if"),
                self.flatten(schema.get("then", True), f"{pointer}/then"),
                pointer,
            )
            otherwise = self.conj(
                self.negate(condition, f"{pointer}/if"),
                self.flatten(schema.get("else", True), f"{pointer}/else"),
                pointer,
            )
            alternatives = self.conj(alternatives, then + otherwise, pointer)
        return alternatives

    def flatten_all(self, subs: Sequence[Sub]) -> list[Flat]:
        """The conjunction of ``subs`` as a union of flat conjunctions (``[Flat()]`` for none);
        the ``$ref`` expansions it counts stay counted (the caller restores ``depth``)."""
        flats = [Flat()]
        for schema, pointer in subs:
            flats = self.conj(flats, self.flatten(schema, pointer), pointer)
        return flats

    def _dependencies(self, value: Any, pointer: str, alternatives: list[Flat]) -> list[Flat]:
        """``name: [names]`` or ``name: schema``: either the member is absent, or it is present
        and the other names are required / the schema holds."""
        if not isinstance(value, Mapping):
            raise SchemaError("dependencies must be an object", pointer=pointer)
        for name, dependency in value.items():
            where = f"{pointer}/{escape_pointer_token(name)}"
            absent = Flat(properties=((name, ((False, where),)),))
            if isinstance(dependency, list):
                present = [Flat(required=(name, *dependency))]
            else:
                present = self.conj(
                    [Flat(required=(name,))], self.flatten(dependency, where), where
                )
            alternatives = self.conj(alternatives, [absent, *present], where)
        return alternatives

    def conj(self, left: list[Flat], right: list[Flat], pointer: str) -> list[Flat]:
        if len(left) * len(right) > MAX_ALTERNATIVES:
            raise SchemaError(
                f"combining these subschemas needs more than {MAX_ALTERNATIVES} alternatives",
                pointer=pointer,
            )
        out: list[Flat] = []
        for a in left:
            for b in right:
                merged = a.conj(b)
                if merged is not None:
                    out.append(merged)
        return out

    def _one_of(self, schema: Mapping[str, Any], pointer: str, base: list[Flat]) -> list[Flat]:
        """Exactly one branch: the values of a branch of the types on which another branch may
        overlap it are intersected with the negation of that branch (refused when the negation
        cannot be expressed, unless what it leaves out lies outside the first branch)."""
        subs = read_list(schema, "oneOf", pointer)
        branches: list[list[Flat]] = []
        for index, sub in enumerate(subs):
            branches.append(self.conj(base, self.flatten(sub, f"{pointer}/oneOf/{index}"), pointer))
        out: list[Flat] = []
        for i, left in enumerate(branches):
            alternatives = left
            for j, right in enumerate(branches):
                overlap = set() if i == j else self._overlap(alternatives, right)
                if not overlap:
                    continue
                lost: list[tuple[Flat, str]] = []
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
                alternatives = [a for a in kept if a.types] + self.conj(
                    [a for a in at_risk if a.types], negated, pointer
                )
            out.extend(alternatives)
        return out

    def _overlap(self, left: list[Flat], right: list[Flat]) -> set[str]:
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

    def _disjoint(self, a: Flat, b: Flat) -> bool:
        """True only when no value satisfies both (a conservative check)."""
        merged = a.conj(b)
        if merged is None:
            return True
        return all(self._disjoint_type(kind, a, b, merged) for kind in merged.types)

    def _disjoint_type(self, kind: str, a: Flat, b: Flat, merged: Flat) -> bool:
        if merged.enum is not None:
            return not any(may_fit(v, kind, merged) for v in merged.enum)
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

    def _subs_disjoint(self, left: tuple[Sub, ...], right: tuple[Sub, ...]) -> bool:
        saved = dict(self.depth)
        try:
            flats_a = self.flatten_all(left)
            flats_b = self.flatten_all(right)
            return all(self._disjoint(x, y) for x in flats_a for y in flats_b)
        except CycleError:  # a recursion too deep to judge: not known to be disjoint
            return False
        finally:
            self.depth = saved

    # ----- negation (for `not` and the else-branch of `if`)

    def negate(
        self, schema: Any, pointer: str, *, lost: list[tuple[Flat, str]] | None = None
    ) -> list[Flat]:
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
            return [Flat()]
        if not isinstance(schema, Mapping):
            raise SchemaError("a schema must be an object or a boolean", pointer=pointer)
        if self.ref_alone and "$ref" in schema:
            schema = {"$ref": schema["$ref"]}
        out: list[Flat] = []
        low, high = read_bounds(schema, pointer)
        numbers = frozenset({"integer", "number"})
        if low is not None:
            out.append(Flat(types=numbers, high=Bound(low.value, not low.open)))
        if high is not None:
            out.append(Flat(types=numbers, low=Bound(high.value, not high.open)))
        for key, value in schema.items():
            if key not in BOUND_KEYWORDS:
                out.extend(self._negate_keyword(schema, key, value, pointer, lost))
        return out

    def _negate_keyword(
        self,
        schema: Mapping[str, Any],
        key: str,
        value: Any,
        pointer: str,
        lost: list[tuple[Flat, str]] | None,
    ) -> list[Flat]:
        if key in IGNORED or key in ("then", "else") or key.startswith("x-"):
            return []
        if key == "type":
            kinds = read_types(schema, pointer)
            if "number" in kinds:
                kinds = kinds | {"integer"}
            if "integer" in kinds:
                kinds = kinds | {"number"}  # "numbers that are not integers": narrowed away
            return [other_types(kinds)] if ALL_TYPES - kinds else []
        if key in ("const", "enum"):
            values = [value] if key == "const" else list(value)
            return [Flat(not_enum=tuple(values))]
        if key in ("minLength", "maxLength", "minItems", "maxItems"):
            count = read_count(value, pointer, key)
            kind = "string" if "Length" in key else "array"
            out = []
            only = frozenset({kind})
            if key == "minLength" and count > 0:
                out.append(Flat(types=only, max_length=count - 1))
            elif key == "minItems" and count > 0:
                out.append(Flat(types=only, max_items=count - 1))
            elif key == "maxLength":
                out.append(Flat(types=only, min_length=count + 1))
            elif key == "maxItems":
                out.append(Flat(types=only, min_items=count + 1))
            return out
        if key == "required":
            names = list(value)
            out = []
            for name in names:
                out.append(
                    Flat(
                        types=frozenset({"object"}),
                        properties=((name, ((False, f"{pointer}/required"),)),),
                    )
                )
            return out
        if key == "properties":
            out = []
            for name, sub in value.items():
                sub_pointer = f"{pointer}/properties/{escape_pointer_token(name)}"
                sub_lost: list[tuple[Flat, str]] | None = None if lost is None else []
                for negated in self.negate(sub, sub_pointer, lost=sub_lost):
                    out.append(member_is(name, negated, sub_pointer))
                if lost is not None and sub_lost:
                    lost.extend((member_is(name, f, sub_pointer), why) for f, why in sub_lost)
            return out
        if key == "not":
            return self.flatten(value, f"{pointer}/not")
        if key == "anyOf":
            result = [Flat()]
            for index, sub in enumerate(value):
                complement = self.negate(sub, f"{pointer}/anyOf/{index}", lost=lost)
                result = self.conj(result, complement, pointer)
            return result
        if key == "allOf":
            return [
                f
                for i, sub in enumerate(value)
                for f in self.negate(sub, f"{pointer}/allOf/{i}", lost=lost)
            ]
        if key == "$ref":
            target, target_pointer = self.refs.resolve(value, pointer)
            if target_pointer in self.negating:
                raise CycleError(
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
                out = [Flat(types=strings, patterns=(character,))]
                if least > 0:
                    out.append(Flat(types=strings, max_length=least - 1))
                if most is not None:
                    out.append(Flat(types=strings, min_length=most + 1))
                return out
        reason = f"the negation of {key!r} cannot be expressed"
        if lost is None or key not in KEYWORD_TYPES:
            raise SchemaError(reason, pointer=pointer, keyword=key)
        lost.append((Flat(types=KEYWORD_TYPES[key]), reason))
        return []
