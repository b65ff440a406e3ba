"""Python type annotations -> JSON Schema, and back from JSON text to the user's own type.

Everything goes through pydantic's :class:`~pydantic.TypeAdapter`, so any annotation it accepts
works: ``BaseModel`` subclasses, dataclasses, ``TypedDict`` (``Required``/``NotRequired``),
``NamedTuple``, ``Enum``/``IntEnum``/``StrEnum``, ``Literal``, ``Annotated`` with
``annotated_types`` or ``Field`` constraints, ``Optional``/``Union``/discriminated unions,
``list``/``tuple``/``set``/``dict[str, T]``, scalars, ``date``/``datetime``/``time``/
``timedelta``, ``UUID``, ``EmailStr``, ``Decimal``.

API (used by the generation and function layers)::

    target = target_of(Person)          # Target[Person]
    target.schema                       # the JSON Schema (a fresh dict each time)
    person = target.validate_json(text) # a Person, not a dict

    schema_of(Person)                   # the same schema

The schema is pydantic's validation-mode JSON Schema with two deliberate changes.  ``Decimal`` is
a JSON number (pydantic's schema also allows any string, which its validator then rejects unless
it is numeric).  An object that
declares its properties and says nothing about other keys gets ``additionalProperties: false``.
pydantic ignores (drops) unknown keys for models, dataclasses and TypedDicts by default, so
generating them could only waste tokens; models configured with ``extra="allow"`` say so in their
schema and keep accepting extra keys.  Everything :meth:`Target.validate_json` accepts with that
change is exactly what the schema allows (tested with Hypothesis over the generated regexes).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

import pydantic
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from typedgen._errors import SchemaError

__all__ = ["Target", "schema_of", "target_of"]

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class Target(Generic[T]):
    """What a generation must produce: a JSON Schema, and how to turn the text into a ``T``.

    Build it with :func:`target_of`.  ``annotation`` is the annotation it was made from.
    """

    annotation: Any
    _adapter: pydantic.TypeAdapter[T]
    _schema: dict[str, Any]

    @property
    def schema(self) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the JSON text to generate (a fresh copy)."""
        return copy.deepcopy(self._schema)

    def validate_json(self, text: str | bytes) -> T:
        """Parse and validate JSON text into the user's own type (a dataclass comes back as that
        dataclass, a model as that model).  Raises :class:`pydantic.ValidationError`."""
        return self._adapter.validate_json(text)

    def validate_python(self, value: Any) -> T:
        """Validate an already-parsed JSON value into the user's type."""
        return self._adapter.validate_python(value)

    def validate_partial(self, value: Any) -> T:
        """Validate the parsed prefix of a JSON text (the last string of ``value`` may be cut
        short, its last list item or object member may be missing) in pydantic's partial mode:
        the last element of a container may be incomplete and is dropped if it does not
        validate, while missing required fields elsewhere still fail.  Raises
        :class:`pydantic.ValidationError`."""
        return self._adapter.validate_python(value, experimental_allow_partial="trailing-strings")


@overload
def target_of(annotation: type[T]) -> Target[T]: ...
@overload
def target_of(annotation: Any) -> Target[Any]: ...
def target_of(annotation: Any) -> Target[Any]:
    """The :class:`Target` of an annotation; raises :class:`SchemaError` when pydantic cannot
    build a validator or a JSON Schema for it."""
    return _target(annotation)


@functools.lru_cache(maxsize=256)
def _cached_target(annotation: Any) -> Target[Any]:
    return _build(annotation)


def _target(annotation: Any) -> Target[Any]:
    try:
        return _cached_target(annotation)
    except TypeError:  # unhashable annotation (rare): build without the cache
        return _build(annotation)


def _build(annotation: Any) -> Target[Any]:
    try:
        adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(annotation)
        schema = adapter.json_schema(mode="validation", schema_generator=_Generator)
    except (
        pydantic.PydanticSchemaGenerationError,
        pydantic.PydanticUserError,
        pydantic.PydanticInvalidForJsonSchema,
    ) as error:
        raise SchemaError(f"cannot derive a JSON Schema from {annotation!r}: {error}") from error
    return Target(annotation, adapter, _close_objects(schema))


class _Generator(GenerateJsonSchema):
    """pydantic's generator, with schemas no looser than the validator where pydantic's are."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        # pydantic says "a number or any string"; only numeric strings validate: keep the number
        # pydantic says "a number or any string"; only numeric strings validate: keep the number,
        # and say what max_digits/decimal_places mean (pydantic's schema leaves them out)
        generated = super().decimal_schema(schema)
        number = next(
            (dict(b) for b in generated.get("anyOf", ()) if b.get("type") == "number"), generated
        )
        places, digits = schema.get("decimal_places"), schema.get("max_digits")
        if digits is not None and places is None:
            raise SchemaError(
                "Decimal max_digits without decimal_places cannot be expressed",
                keyword="max_digits",
            )
        if places is not None:
            number["multipleOf"] = float(f"1e-{places}") if places else 1
        if digits is not None and places is not None:
            limit = 10 ** (digits - places)
            number.setdefault("exclusiveMaximum", limit)
            number.setdefault("exclusiveMinimum", -limit)
        return number


def schema_of(annotation: Any) -> dict[str, Any]:
    """The JSON Schema that typedgen generates for ``annotation`` (see the module docstring)."""
    return _target(annotation).schema


def _close_objects(node: Any) -> Any:
    """Copy of ``node`` where objects with declared properties forbid undeclared keys."""
    if isinstance(node, list):
        return [_close_objects(v) for v in node]
    if not isinstance(node, Mapping):
        return node
    out = {k: _close_objects(v) for k, v in node.items()}
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and "patternProperties" not in out
    ):
        out["additionalProperties"] = False
    return out
