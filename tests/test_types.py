"""Annotations -> schema -> regex -> text -> the user's own type.

For each annotation: a typical value, written by pydantic (compactly, by alias), matches the regex
(completeness), and texts drawn from the regex by Hypothesis validate both with ``jsonschema``
against the schema and with the type's own validator, which returns the user's type (soundness).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import re
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, Optional, Required, Union

import annotated_types as at
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, EmailStr, Field, TypeAdapter
from typing_extensions import TypedDict

from typedgen import SchemaError, json_schema_to_regex, schema_of
from typedgen._types import Target, target_of


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Mode(enum.StrEnum):
    FAST = "fast"
    SAFE = "safe"


@dataclass
class Point:
    x: int
    y: int = 0


@dataclass
class Segment:
    start: Point
    end: Point
    label: str = "segment"


class Address(BaseModel):
    street: str = Field(min_length=1, max_length=20)
    zip_code: str | None = Field(default=None, alias="zip", pattern=r"^\d{5}$")


class Person(BaseModel):
    name: str
    age: Annotated[int, at.Ge(18), at.Le(130)]
    email: EmailStr
    address: Address
    tags: list[Annotated[str, at.MaxLen(8)]] = []
    color: Color = Color.RED
    priority: Priority
    score: float = Field(gt=0, lt=1)


class Movie(TypedDict):
    title: Required[str]
    year: NotRequired[Annotated[int, at.Gt(1887)]]


class Pair(NamedTuple):
    left: int
    right: str


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: Annotated[int, at.Ge(0), at.Le(9)]


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Schedule(BaseModel):
    day: datetime.date
    at: datetime.datetime
    start: datetime.time
    length: datetime.timedelta
    id: uuid.UUID


UTC = datetime.UTC
CASES: list[tuple[Any, Any]] = [
    (
        Person,
        Person(
            name="Ann",
            age=30,
            email="ann@example.com",
            address=Address(street="Main St", zip="12345"),
            tags=["a"],
            priority=Priority.HIGH,
            score=0.5,
        ),
    ),
    (Segment, Segment(Point(1, 2), Point(-3, 4))),
    (Movie, {"title": "Metropolis", "year": 1927}),
    (Pair, Pair(1, "one")),
    (Color, Color.GREEN),
    (Priority, Priority.LOW),
    (Mode, Mode.SAFE),
    (Literal["a", "b", 3], 3),
    (Annotated[int, at.Gt(-5), at.Le(1000)], 999),
    (Annotated[float, at.Ge(0.5), at.Lt(99.99)], 12.25),
    (Annotated[str, at.MinLen(2), at.MaxLen(4)], "abc"),
    (Annotated[str, Field(pattern=r"^[A-Z]{2}-\d{3}$")], "AB-123"),
    (Optional[int], None),  # noqa: UP045 (the spelling under test)
    (Union[int, str, None], "x"),  # noqa: UP007 (the spelling under test)
    (Annotated[Cat | Dog, Field(discriminator="kind")], Dog(kind="dog", good=True)),
    (list[Point], [Point(1, 1)]),
    (tuple[int, str, bool], (1, "a", True)),
    (tuple[int, ...], (1, 2, 3)),
    (set[Color], {Color.RED}),
    (set[bool], {True, False}),
    (dict[str, int], {"a": 1, "b": 2}),
    (int, -17),
    (float, 2.5e-3),
    (bool, True),
    (str, 'h\u00e9llo "world"\n'),
    (None, None),
    (
        Schedule,
        Schedule(
            day=datetime.date(2024, 2, 29),
            at=datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
            start=datetime.time(12, 30, 0, tzinfo=UTC),
            length=datetime.timedelta(days=1, seconds=30),
            id=uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
    ),
    (EmailStr, "someone@example.org"),
]


def _ids(case: tuple[Any, Any]) -> str:
    return getattr(case[0], "__name__", None) or str(case[0])


def _dump(annotation: Any, value: Any) -> str:
    return TypeAdapter(annotation).dump_json(value, by_alias=True).decode()


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_typical_value_matches(case: tuple[Any, Any]) -> None:
    annotation, value = case
    target = target_of(annotation)
    regex = json_schema_to_regex(target.schema)
    text = _dump(annotation, value)
    assert re.fullmatch(regex, text), text
    result = target.validate_json(text)
    assert result == value
    assert type(result) is type(value)


@pytest.mark.parametrize("case", CASES, ids=_ids)
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_drawn_texts_validate(case: tuple[Any, Any], data: st.DataObject) -> None:
    annotation, _ = case
    target = target_of(annotation)
    schema = target.schema
    text = data.draw(st.from_regex(json_schema_to_regex(schema), fullmatch=True))
    jsonschema.validate(
        json.loads(text), schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    target.validate_json(text)  # the type's own validator accepts it


Price = Annotated[decimal.Decimal, Field(ge=0, max_digits=6, decimal_places=2)]


def test_decimal_is_a_bounded_number() -> None:
    target = target_of(Price)
    regex = json_schema_to_regex(target.schema)
    for text in ("0", "12.5", "9999.99"):
        assert re.fullmatch(regex, text)
        assert target.validate_json(text) == decimal.Decimal(text)
    for text in ("-1", "10000", "1.234", '"12.5"'):
        assert not re.fullmatch(regex, text)


@settings(max_examples=50, deadline=None)
@given(data=st.data())
def test_decimal_drawn_texts_validate(data: st.DataObject) -> None:
    target = target_of(Price)
    text = data.draw(st.from_regex(json_schema_to_regex(target.schema), fullmatch=True))
    assert isinstance(target.validate_json(text), decimal.Decimal)


def test_returns_the_users_own_type() -> None:
    target: Target[Segment] = target_of(Segment)
    segment = target.validate_json('{"start":{"x":1},"end":{"x":2,"y":3}}')
    assert isinstance(segment, Segment)
    assert isinstance(segment.start, Point)
    assert segment.end == Point(2, 3)
    assert segment.label == "segment"


def test_schema_of_closes_declared_objects() -> None:
    schema = schema_of(Point)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["x"]
    assert schema_of(Point) is not schema_of(Point)  # a fresh copy each time


def test_optional_properties_present_or_absent() -> None:
    regex = json_schema_to_regex(schema_of(Movie))
    assert re.fullmatch(regex, '{"title":"M"}')
    assert re.fullmatch(regex, '{"title":"M","year":1900}')
    assert not re.fullmatch(regex, '{"title":"M","year":1887}')
    assert not re.fullmatch(regex, '{"year":1900}')


def test_alias_and_field_constraints() -> None:
    regex = json_schema_to_regex(schema_of(Address))
    assert re.fullmatch(regex, '{"street":"a","zip":"12345"}')
    assert not re.fullmatch(regex, '{"street":"a","zip_code":"12345"}')
    assert not re.fullmatch(regex, '{"street":"a","zip":"1234"}')
    assert not re.fullmatch(regex, '{"street":""}')


def test_set_of_unbounded_values_is_refused() -> None:
    with pytest.raises(SchemaError) as info:
        json_schema_to_regex(schema_of(set[int]))
    assert info.value.keyword == "uniqueItems"


def test_decimal_digits_without_places_is_refused() -> None:
    with pytest.raises(SchemaError):
        schema_of(Annotated[decimal.Decimal, Field(max_digits=3)])


def test_unsupported_annotation_is_a_schema_error() -> None:
    with pytest.raises(SchemaError):
        schema_of(object())
