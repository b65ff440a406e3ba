"""The prompts of typed functions: the instruction, the arguments and the answer's JSON Schema
without titles (the default), or the answer's fields described in words (types, formats, bounds,
choices, descriptions)."""

from __future__ import annotations

import dataclasses
import datetime
import json
from enum import Enum
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, Field

from typedgen import Task, default_prompt, describe, fields_prompt, schema_of
from typedgen._prompt import _without_titles


class Colour(Enum):
    red = "red"
    green = "green"


class Address(BaseModel):
    """A postal address."""

    street: str = Field(description="street and house number")
    city: str


class Person(BaseModel):
    """Someone named in the text."""

    name: str
    born: datetime.date
    age: Annotated[int, Field(ge=0, le=150, description="in years")]
    nickname: str | None
    favourite: Colour
    title: Literal["Dr", "Mr", "Ms"]
    address: Address
    tags: list[str]
    scores: dict[str, float]
    pair: tuple[int, bool]


def test_an_object_is_its_keys_one_line_each_nested_objects_indented() -> None:
    assert describe(schema_of(Person)) == "\n".join(
        [
            "a JSON object (Someone named in the text) with these keys:",
            '- "name": a string',
            '- "born": a date (YYYY-MM-DD)',
            '- "age": an integer from 0 to 150 (in years)',
            '- "nickname": a string or null',
            '- "favourite": one of "red", "green"',
            '- "title": one of "Dr", "Mr", "Ms"',
            '- "address": an object with keys (A postal address):',
            '    - "street": a string (street and house number)',
            '    - "city": a string',
            '- "tags": a list of strings',
            '- "scores": an object whose values are each a number',
            '- "pair": a list of an integer, then true or false',
        ]
    )


def test_words_of_the_schema_are_not_shown() -> None:
    text = describe(schema_of(Person))
    for word in ('"type"', '"properties"', "$ref", "$defs", "Person", "Address", "title:"):
        assert word not in text


@pytest.mark.parametrize(
    ("annotation", "words"),
    [
        (int, "an integer"),
        (Annotated[float, Field(ge=1.5)], "a number of at least 1.5"),
        (Annotated[int, Field(le=9)], "an integer of at most 9"),
        (bool, "true or false"),
        (None, "null"),
        (datetime.datetime, "a date and time (YYYY-MM-DDTHH:MM:SS)"),
        (list[datetime.date], "a list of dates (YYYY-MM-DD)"),
        (list[Colour], 'a list, each item one of "red", "green"'),
        (Literal[3], "3"),
    ],
)
def test_scalars_and_lists(annotation: object, words: str) -> None:
    assert describe(schema_of(annotation)) == words


def test_a_list_of_objects_lists_the_item_keys() -> None:
    assert describe(schema_of(list[Address])) == "\n".join(
        [
            "a list, each item a JSON object (A postal address) with these keys:",
            '- "street": a string (street and house number)',
            '- "city": a string',
        ]
    )


def test_a_recursive_schema_is_described_without_looping() -> None:
    @dataclasses.dataclass
    class Node:
        value: int
        children: list[Node]

    text = describe(schema_of(Node))
    assert text.startswith('a JSON object with these keys:\n- "value": an integer\n')
    assert '"children": a list' in text


def test_the_fields_prompt_is_instruction_arguments_and_fields() -> None:
    task = Task(
        "Extract the address.",
        {"text": "12 Baker Street, London", "limit": 3},
        Address,
        schema_of(Address),
    )
    assert fields_prompt(task) == [
        {
            "role": "user",
            "content": "Extract the address.\n\n"
            "text: 12 Baker Street, London\nlimit: 3\n\n"
            "Answer with a JSON object (A postal address) with these keys:\n"
            '- "street": a string (street and house number)\n'
            '- "city": a string',
        }
    ]


def test_the_default_prompt_shows_the_schema_without_titles() -> None:
    task = Task("Extract the address.", {"text": "12 Baker Street"}, Address, schema_of(Address))
    ((message),) = default_prompt(task)
    asked = "Answer with JSON that follows this JSON Schema: "
    head, _, schema = message["content"].partition(asked)
    assert head == "Extract the address.\n\ntext: 12 Baker Street\n\n"
    assert json.loads(schema) == _without_titles(schema_of(Address))
    assert '"title"' not in schema and "Address" not in schema


def test_titles_are_dropped_but_properties_named_title_and_data_are_kept() -> None:
    schema = {
        "title": "Book",
        "type": "object",
        "properties": {
            "title": {"title": "Title", "type": "string"},
            "kind": {"enum": [{"title": "kept"}], "default": {"title": "kept"}},
        },
        "$defs": {"Author": {"title": "Author", "anyOf": [{"title": "A", "type": "null"}]}},
    }
    assert _without_titles(schema) == {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "kind": {"enum": [{"title": "kept"}], "default": {"title": "kept"}},
        },
        "$defs": {"Author": {"anyOf": [{"type": "null"}]}},
    }
