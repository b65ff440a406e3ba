"""Reading schema keywords: which keywords mean nothing for validation, which are refused, which
constrain one type; each keyword's value checked (a malformed one is a :class:`SchemaError` at
its pointer); the flat form of one schema object's own keywords (combinators aside).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from typedgen._errors import SchemaError, escape_pointer_token
from typedgen._schema.flat import ALL_TYPES, TYPES, Bound, Flat, is_in, tighter

__all__ = [
    "BOUND_KEYWORDS",
    "IGNORED",
    "KEYWORD_TYPES",
    "OLD_DRAFT",
    "REFUSED",
    "SPEC_FORMATS",
    "ceil_bound",
    "floor_bound",
    "load",
    "read_bounds",
    "read_count",
    "read_decimal",
    "read_list",
    "read_own",
    "read_types",
]

OLD_DRAFT = re.compile(r"json-schema\.org/draft-0[3-7]/")
"""A ``$schema`` of drafts 3 to 7, where ``$ref`` overrides the keywords beside it."""
# Keywords that carry no validation meaning (annotations, containers, vendor metadata).
IGNORED = frozenset(
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
REFUSED = frozenset(
    {
        "contains",
        "minContains",
        "maxContains",
        "$dynamicRef",
        "$recursiveRef",
    }
)
BOUND_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"})
# Keywords that constrain values of one type only (their complement holds values of that type)
KEYWORD_TYPES: dict[str, frozenset[str]] = {
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
SPEC_FORMATS = frozenset(
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


def load(schema: Mapping[str, Any] | bool | str) -> Mapping[str, Any] | bool:
    """The schema as a mapping or a boolean (JSON text parsed); :class:`SchemaError` otherwise."""
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as error:
            raise SchemaError(f"the schema is not valid JSON: {error}") from error
    if not isinstance(schema, (Mapping, bool)):
        raise SchemaError(f"a schema must be an object or a boolean, not {type(schema).__name__}")
    return schema


def read_own(schema: Mapping[str, Any], pointer: str) -> Flat | None:
    """The flat conjunction of the keywords of ``schema`` other than combinators (``None``: no
    value satisfies them); :class:`SchemaError` for a refused keyword or a malformed value."""
    where: dict[str, str] = {}
    fields: dict[str, Any] = {}
    for key, value in schema.items():
        if key in REFUSED:
            raise SchemaError(f"{key!r} is not supported", pointer=pointer, keyword=key)
        if key == "unevaluatedProperties":
            # after combinators are merged every declared property is evaluated, so this is
            # additionalProperties of the merged object (exact or narrower)
            fields["additional"] = ((value, f"{pointer}/{key}"),)
            where["additionalProperties"] = pointer
    if "type" in schema or "nullable" in schema:
        types = read_types(schema, pointer)
        if schema.get("nullable") is True and "type" in schema:
            types = types | {"null"}
        fields["types"] = types
    if "enum" in schema:
        if not isinstance(schema["enum"], list):
            raise SchemaError("enum must be an array", pointer=pointer, keyword="enum")
        fields["enum"] = tuple(schema["enum"])
    if "const" in schema:
        const = (schema["const"],)
        fields["enum"] = tuple(v for v in fields.get("enum", const) if is_in(v, const))
    low, high = read_bounds(schema, pointer)
    if low is not None:
        fields["low"] = low
    if high is not None:
        fields["high"] = high
    if "multipleOf" in schema:
        step = read_decimal(schema["multipleOf"], pointer, "multipleOf")
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
            fields[name] = read_count(schema[key], pointer, key)
            where[key] = pointer
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise SchemaError("pattern must be a string", pointer=pointer, keyword="pattern")
        fields["patterns"] = (schema["pattern"],)
        where["pattern"] = pointer
    if "format" in schema and schema["format"] in SPEC_FORMATS:
        fields["formats"] = (schema["format"],)
        where["format"] = pointer
    if "properties" in schema:
        props = schema["properties"]
        if not isinstance(props, Mapping):
            raise SchemaError("properties must be an object", pointer=pointer, keyword="properties")
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
                ((s, f"{pointer}/prefixItems/{i}"),) for i, s in enumerate(schema["prefixItems"])
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
        return Flat()
    flat = Flat(**fields, where=tuple(where.items()))
    if flat.enum is not None and not flat.enum:
        return None
    return flat


# ----- generation from a flat schema


def read_list(schema: Mapping[str, Any], key: str, pointer: str) -> list[Any]:
    """The array of subschemas under ``key`` (``allOf`` may be empty, the others may not)."""
    value = schema.get(key, [])
    if not isinstance(value, list) or (key != "allOf" and not value):
        raise SchemaError(f"{key} must be a non-empty array", pointer=pointer, keyword=key)
    return value


def read_types(schema: Mapping[str, Any], pointer: str) -> frozenset[str]:
    """The types ``type`` allows (all without it; ``number`` includes ``integer``)."""
    if "type" not in schema:
        return ALL_TYPES
    value = schema["type"]
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not all(isinstance(n, str) and n in TYPES for n in names):
        raise SchemaError(f"unknown type {value!r}", pointer=pointer, keyword="type")
    types = frozenset(names)
    return types | {"integer"} if "number" in types else types


def read_decimal(value: Any, pointer: str, keyword: str) -> Decimal:
    """The number ``value`` of ``keyword``, exactly (a float as its shortest repr)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{keyword} must be a number", pointer=pointer, keyword=keyword)
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise SchemaError(f"{keyword} must be finite", pointer=pointer, keyword=keyword) from None


def read_count(value: Any, pointer: str, keyword: str) -> int:
    """The non-negative integer ``value`` of ``keyword`` (``2.0`` counts as ``2``)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError(
            f"{keyword} must be a non-negative integer", pointer=pointer, keyword=keyword
        )
    return value


def read_bounds(schema: Mapping[str, Any], pointer: str) -> tuple[Bound | None, Bound | None]:
    """The lower and upper bound that ``minimum``, ``maximum`` and both spellings of
    ``exclusiveMinimum`` / ``exclusiveMaximum`` (drafts 4 and 6+) set."""
    low: Bound | None = None
    high: Bound | None = None
    if "minimum" in schema:
        open_ = schema.get("exclusiveMinimum") is True
        low = Bound(read_decimal(schema["minimum"], pointer, "minimum"), open_)
    if "maximum" in schema:
        open_ = schema.get("exclusiveMaximum") is True
        high = Bound(read_decimal(schema["maximum"], pointer, "maximum"), open_)
    for key, is_low in (("exclusiveMinimum", True), ("exclusiveMaximum", False)):
        value = schema.get(key)
        if value is None or isinstance(value, bool):
            continue
        bound = Bound(read_decimal(value, pointer, key), True)
        if is_low:
            low = tighter(low, bound, lower=True)
        else:
            high = tighter(high, bound, lower=False)
    return low, high


def ceil_bound(bound: Bound) -> int:
    """The least integer within ``bound`` taken as a lower bound."""
    value = int(bound.value.to_integral_value(rounding="ROUND_CEILING"))
    return value + 1 if bound.open and value == bound.value else value


def floor_bound(bound: Bound) -> int:
    """The greatest integer within ``bound`` taken as an upper bound."""
    value = int(bound.value.to_integral_value(rounding="ROUND_FLOOR"))
    return value - 1 if bound.open and value == bound.value else value
