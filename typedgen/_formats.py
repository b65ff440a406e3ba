"""The regexes of formats and numbers, in one place: the JSON Schema compiler
(:mod:`typedgen._schema`) and ``typedgen.generate.format`` both build on them.

Every regex here admits only texts that the matching Python parser accepts and maps to a finite
value: dates are leap-year aware and start at year 1 (``date.fromisoformat`` refuses
``2023-02-31`` and ``0000-01-01``), and no number written with a fraction or an exponent
overflows to infinity (``float("1e400")`` is ``inf``). ``tests/test_formats.py`` checks this with
Hypothesis over every string each format's automaton accepts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from typedgen._errors import UsageError

__all__ = ["FORMATS", "INTEGER", "INTEGER_PART", "NUMBER", "TEXT_FORMATS", "format_of"]

# --- numbers ----------------------------------------------------------------------------------

INTEGER = r"-?(?:0|[1-9][0-9]*)"
"""An integer of any length, without leading zeros (exact for Python's ``int`` and ``json``)."""
INTEGER_PART = r"-?(?:0|[1-9][0-9]{0,19})"
"""The integer part of a number with a fraction or an exponent: at most 20 digits."""
_EXPONENT = r"[eE](?:-[0-9]{1,3}|\+?[01]?[0-9]{1,2})"
_FLOAT = rf"{INTEGER_PART}(?:\.[0-9]+)?(?:{_EXPONENT})?"
NUMBER = rf"-?(?:0|[1-9][0-9]*|(?:0|[1-9][0-9]{{0,19}})(?:(?:\.[0-9]+)?{_EXPONENT}|\.[0-9]+))"
"""Any JSON number that no parser rounds to infinity: integers of any length (exact in JSON
parsers with big integers, like Python's), and numbers with a fraction or an exponent written
with at most 20 integer digits and an exponent up to 199 (below 1e220)."""

# --- formats of JSON Schema strings -----------------------------------------------------------


def _uuid(hex_digit: str) -> str:
    return "-".join(f"{hex_digit}{{{n}}}" for n in (8, 4, 4, 4, 12))


_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_LEAP_YEAR = r"(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_PARTIAL_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
_TIME = _PARTIAL_TIME + _OFFSET
_N = r"[0-9]{1,6}"
_DUR_SECOND = rf"{_N}S"
_DUR_MINUTE = rf"{_N}M(?:{_DUR_SECOND})?"
_DUR_HOUR = rf"{_N}H(?:{_DUR_MINUTE})?"
_DUR_TIME = rf"T(?:{_DUR_HOUR}|{_DUR_MINUTE}|{_DUR_SECOND})"
_DUR_DAY = rf"{_N}D"
_DUR_MONTH = rf"{_N}M(?:{_DUR_DAY})?"
_DUR_YEAR = rf"{_N}Y(?:{_DUR_MONTH})?"
_DURATION = rf"P(?:(?:{_DUR_DAY}|{_DUR_MONTH}|{_DUR_YEAR})(?:{_DUR_TIME})?|{_DUR_TIME}|{_N}W)"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL}){{0,3}}"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = "[0-9a-fA-F]{1,4}"
_IPV6 = (
    "(?:"
    + "|".join(
        [
            rf"(?:{_H16}:){{7}}{_H16}",
            rf"(?:{_H16}:){{1,7}}:",
            rf"(?:{_H16}:){{1,6}}:{_H16}",
            rf"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}",
            rf"(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}",
            rf"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}",
            rf"(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}",
            rf"{_H16}:(?::{_H16}){{1,6}}",
            rf":(?:(?::{_H16}){{1,7}}|:)",
        ]
    )
    + ")"
)
_ATOM = r"[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,16}"
# a domain label of 1 to 32 characters that has no "--" as its third and fourth characters (IDNA
# keeps that spelling for "xn--" labels, and email-validator refuses it)
_EMAIL_LABEL = (
    r"[a-zA-Z0-9](?:[a-zA-Z0-9]|[a-zA-Z0-9-][a-zA-Z0-9]|[a-zA-Z0-9-][a-zA-Z0-9-]?[a-zA-Z0-9]"
    r"|[a-zA-Z0-9-](?:[a-zA-Z0-9][a-zA-Z0-9-]|-[a-zA-Z0-9])[a-zA-Z0-9-]{0,27}[a-zA-Z0-9])?"
)
_PCHAR = r"(?:[a-zA-Z0-9._~!$&'()*+,;=:@-]|%[0-9a-fA-F]{2})"
# a port up to 65535, which URL parsers (urllib's .port, pydantic's AnyUrl) refuse to exceed
_PORT = r"(?:[0-9]{1,4}|[0-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_URI = (
    r"[a-zA-Z][a-zA-Z0-9+.-]{0,15}://"
    r"(?:[a-zA-Z0-9._~!$&'()*+,;=-]|%[0-9a-fA-F]{2}){1,64}"
    rf"(?::{_PORT})?"
    rf"(?:/{_PCHAR}*)*(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)


_EMAIL = (
    # pydantic's EmailStr (email-validator) refuses special-use top-level domains (test, local,
    # onion, ...) and caps lengths: two or three letters for the top-level domain stay clear
    rf"{_ATOM}(?:\.{_ATOM}){{0,2}}@{_EMAIL_LABEL}(?:\.{_EMAIL_LABEL}){{0,2}}\.[a-z]{{2,3}}"
)


FORMATS: dict[str, str] = {
    "date": _DATE,
    "time": _TIME,
    "date-time": rf"{_DATE}T{_TIME}",
    "duration": _DURATION,
    "uuid": _uuid("[0-9a-fA-F]"),
    "ipv4": _IPV4,
    "ipv6": _IPV6,
    "hostname": _HOSTNAME,
    "uri": _URI,
    "email": _EMAIL,
}
"""Formats honoured: name -> regex over the string content (plain ASCII, no escapes needed)."""


# --- plain-text formats of Python scalar types (typedgen.generate.format) ---------------------


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{text!r} is not 'true' or 'false'")
    return text == "true"


TEXT_FORMATS: dict[type[Any], tuple[str, Callable[[str], Any]]] = {
    int: (INTEGER, int),
    float: (_FLOAT, float),
    Decimal: (rf"{INTEGER}(?:\.[0-9]+)?", Decimal),
    bool: ("(?:true|false)", _bool),
    dt.date: (_DATE, dt.date.fromisoformat),
    dt.time: (f"{_PARTIAL_TIME}{_OFFSET}?", dt.time.fromisoformat),
    dt.datetime: (f"{_DATE}T{_PARTIAL_TIME}{_OFFSET}?", dt.datetime.fromisoformat),
    uuid.UUID: (_uuid("[0-9a-f]"), uuid.UUID),
}
"""Python type -> (regex of its text form, the parser that turns that text into the value)."""


def format_of(python_type: type[Any]) -> tuple[str, Callable[[str], Any]]:
    """The regex of ``python_type``'s text form and its parser.

    Supported: ``int``, ``float``, ``Decimal``, ``bool`` (``true``/``false``), ``date``,
    ``time``, ``datetime`` (ISO 8601, offset optional), ``UUID`` (lowercase, hyphenated).
    Raises :class:`~typedgen.UsageError` for other types (``str`` is
    :func:`typedgen.generate.text`).
    """
    try:
        return TEXT_FORMATS[python_type]
    except (KeyError, TypeError):
        names = ", ".join(t.__name__ for t in TEXT_FORMATS)
        raise UsageError(
            f"generate.format supports {names}; got {python_type!r} "
            "(use generate.text for str and generate.json for structured types)"
        ) from None
