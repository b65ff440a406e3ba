"""Plain-text formats of scalar types for ``typedgen.generate.format``: a regex that the text
must match and the function that turns the text into the value."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from typedgen._errors import SchemaError

__all__ = ["format_of"]

_INT = r"-?(0|[1-9][0-9]*)"
_FRACTION = r"(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_DATE = r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_TIME = r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
_OFFSET = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?"
_HEX = "[0-9a-f]"


def _bool(text: str) -> bool:
    if text not in ("true", "false"):
        raise ValueError(f"{text!r} is not 'true' or 'false'")
    return text == "true"


_FORMATS: dict[Any, tuple[str, Callable[[str], Any]]] = {
    int: (_INT, int),
    float: (_INT + _FRACTION, float),
    Decimal: (_INT + r"(\.[0-9]+)?", Decimal),
    bool: ("(true|false)", _bool),
    dt.date: (_DATE, dt.date.fromisoformat),
    dt.time: (_TIME + _OFFSET, dt.time.fromisoformat),
    dt.datetime: (_DATE + "T" + _TIME + _OFFSET, dt.datetime.fromisoformat),
    uuid.UUID: (
        f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}",
        uuid.UUID,
    ),
}


def format_of(python_type: type[Any]) -> tuple[str, Callable[[str], Any]]:
    """The regex of ``python_type``'s text form and its parser.

    Supported: ``int``, ``float``, ``Decimal``, ``bool`` (``true``/``false``), ``date``,
    ``time``, ``datetime`` (ISO 8601), ``UUID`` (lowercase, hyphenated). Raises
    :class:`~typedgen.SchemaError` for other types (``str`` is :func:`typedgen.generate.text`).
    """
    try:
        return _FORMATS[python_type]
    except (KeyError, TypeError):
        names = ", ".join(t.__name__ for t in _FORMATS)
        raise SchemaError(
            f"generate.format supports {names}; got {python_type!r} "
            "(use generate.text for str and generate.json for structured types)"
        ) from None
