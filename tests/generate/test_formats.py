"""Plain-text formats and choice patterns (no engine needed)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from decimal import Decimal
from typing import Any

import pytest

import typedgen
from typedgen._formats import format_of
from typedgen.generate._api import _alternation


@pytest.mark.parametrize(
    ("python_type", "text", "value"),
    [
        (int, "-42", -42),
        (float, "3.5e2", 350.0),
        (Decimal, "0.10", Decimal("0.10")),
        (bool, "false", False),
        (dt.date, "2024-02-29", dt.date(2024, 2, 29)),
        (dt.time, "23:59:01", dt.time(23, 59, 1)),
        (dt.datetime, "2024-01-02T03:04:05Z", dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
        (
            uuid.UUID,
            "12345678-1234-5678-9abc-def012345678",
            uuid.UUID(int=0x123456781234567_89ABCDEF012345678),
        ),
    ],
)
def test_formats_match_and_parse(python_type: type[Any], text: str, value: Any) -> None:
    pattern, parse = format_of(python_type)
    assert re.fullmatch(pattern, text)
    assert parse(text) == value


@pytest.mark.parametrize(
    ("python_type", "text"), [(int, "01"), (bool, "True"), (dt.date, "2024-13-01")]
)
def test_formats_reject(python_type: type[Any], text: str) -> None:
    assert not re.fullmatch(format_of(python_type)[0], text)


def test_unsupported_format() -> None:
    with pytest.raises(typedgen.UsageError, match=r"generate\.text"):
        format_of(str)


def test_choice_pattern_escapes_metacharacters() -> None:
    options = ["a.b", "(x)", "a|b", "[z]", "plain", "1+1?"]
    pattern = _alternation(options)
    assert all(re.fullmatch(pattern, o) for o in options)
    assert not re.fullmatch(pattern, "axb")
