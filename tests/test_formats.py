"""Every string that a format's automaton accepts is one its Python parser accepts, for the
plain-text formats of ``generate.format`` and the ``format`` values of JSON Schema strings
(both come from ``typedgen._formats``); the strings are drawn from the automaton itself."""

from __future__ import annotations

import datetime as dt
import encodings.idna
import ipaddress
import math
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from typedgen import Compiler, Vocabulary
from typedgen._formats import FORMATS, TEXT_FORMATS
from typedgen.testing import accepted_bytes, accepts_string

pydantic = pytest.importorskip("pydantic")
email_validator = pytest.importorskip("email_validator")

COMPILER = Compiler(Vocabulary.of_bytes())


def _hostname(text: str) -> object:
    return encodings.idna.ToASCII(text) if len(text) <= 253 else None  # label lengths


def _email(text: str) -> object:
    return email_validator.validate_email(text, check_deliverability=False)


def _uri(text: str) -> object:
    return pydantic.TypeAdapter(pydantic.AnyUrl).validate_python(text)


SCHEMA_PARSERS: dict[str, Callable[[str], object]] = {
    "date": dt.date.fromisoformat,
    "time": dt.time.fromisoformat,
    "date-time": dt.datetime.fromisoformat,
    "duration": pydantic.TypeAdapter(dt.timedelta).validate_python,
    "uuid": uuid.UUID,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "hostname": _hostname,
    "uri": _uri,
    "email": _email,
}

CHECKS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_every_schema_format_has_a_parser_here() -> None:
    assert set(SCHEMA_PARSERS) == set(FORMATS)


@pytest.mark.parametrize("python_type", list(TEXT_FORMATS), ids=lambda t: t.__name__)
@CHECKS
@given(data=st.data())
def test_text_format_strings_parse(python_type: type[Any], data: st.DataObject) -> None:
    pattern, parse = TEXT_FORMATS[python_type]
    text = data.draw(accepted_bytes(COMPILER.regex(pattern))).decode()
    value = parse(text)
    assert isinstance(value, python_type)
    if isinstance(value, float):
        assert math.isfinite(value), text


@pytest.mark.parametrize("name", list(FORMATS))
@CHECKS
@given(data=st.data())
def test_schema_format_strings_parse(name: str, data: st.DataObject) -> None:
    text = data.draw(accepted_bytes(COMPILER.regex(FORMATS[name]))).decode()
    assert SCHEMA_PARSERS[name](text) is not None


@pytest.mark.parametrize(
    ("python_type", "text"),
    [(dt.date, "2023-02-31"), (dt.date, "0000-01-01"), (dt.date, "2023-02-29"), (float, "1e400")],
)
def test_text_formats_refuse_what_the_parser_refuses(python_type: type[Any], text: str) -> None:
    assert not accepts_string(COMPILER.regex(TEXT_FORMATS[python_type][0]), text)


@pytest.mark.parametrize(
    ("name", "text"), [("uri", "a://b:65536"), ("date", "2023-02-29"), ("email", "a@ab--c.org")]
)
def test_schema_formats_refuse_what_the_parser_refuses(name: str, text: str) -> None:
    assert not accepts_string(COMPILER.regex(FORMATS[name]), text)
