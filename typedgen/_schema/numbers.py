"""JSON numbers: the writer of number values (bounds, ``multipleOf``, excluded values) and
regexes for numbers within exact bounds.

Every range function returns a regex (in the subset described in :mod:`typedgen._schema`) that
matches exactly the *canonical* JSON spellings of the numbers in a range: integers without leading
zeros (``-0`` excluded, ``0`` is written ``0``), and decimals written as ``int[.digits]`` without
an exponent.  ``None`` means that the range holds no number at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from typedgen._errors import SchemaError
from typedgen._formats import INTEGER, INTEGER_PART, NUMBER
from typedgen._schema.flat import Bound, Flat, tighter
from typedgen._schema.keywords import ceil_bound, floor_bound, read_decimal
from typedgen._schema.regex_text import alternation, group

__all__ = ["decimal_range", "integer_range", "multiples_range", "number_regex"]

# How many values of ``multipleOf`` in a bounded range are spelt out one by one at most.
MAX_ENUMERATED_MULTIPLES = 256


def _digit_class(low: int, high: int) -> str:
    if low == high:
        return str(low)
    if low == 0 and high == 9:
        return r"[0-9]"
    return f"[{low}-{high}]"


def _digits(count: int) -> str:
    if count == 0:
        return ""
    return r"[0-9]" if count == 1 else rf"[0-9]{{{count}}}"


def _same_length(low: str, high: str) -> str:
    """Digit strings of one length whose value lies in [low, high] (low <= high)."""
    if low == high:
        return low
    if len(low) == 1:
        return _digit_class(int(low), int(high))
    if low[0] == high[0]:
        return low[0] + group(_same_length(low[1:], high[1:]))
    rest = len(low) - 1
    parts: list[str] = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + group(_same_length(low[1:], "9" * rest)))
        first += 1
    tail = None
    if high[1:] != "9" * rest:
        tail = high[0] + group(_same_length("0" * rest, high[1:]))
        last -= 1
    if first <= last:
        parts.append(_digit_class(first, last) + _digits(rest))
    if tail is not None:
        parts.append(tail)
    return "|".join(parts) if len(parts) > 1 else parts[0]


def _non_negative(low: int, high: int | None) -> str | None:
    """Canonical spellings of the integers in [low, high] (0 <= low; high None: no bound)."""
    if high is not None and low > high:
        return None
    parts: list[str] = []
    low_len = len(str(low))
    high_len = len(str(high)) if high is not None else low_len
    for length in range(low_len, high_len + 1):
        start = max(low, 10 ** (length - 1) if length > 1 else 0)
        stop = min(high, 10**length - 1) if high is not None else 10**length - 1
        if start <= stop:
            parts.append(_same_length(str(start), str(stop)))
    if high is None:
        parts.append(rf"[1-9][0-9]{{{low_len},}}")
    return alternation(parts)


def integer_range(low: int | None, high: int | None) -> str | None:
    """Canonical spellings of the integers in [low, high] (``None``: unbounded on that side)."""
    if low is not None and high is not None and low > high:
        return None
    parts: list[str] = []
    if low is None or low < 0:
        magnitude_low = 1 if high is None or high >= 0 else -high
        negative = _non_negative(magnitude_low, None if low is None else -low)
        if negative is not None:
            parts.append("-" + group(negative))
    if high is None or high >= 0:
        positive = _non_negative(max(low, 0) if low is not None else 0, high)
        if positive is not None:
            parts.append(positive)
    return alternation(parts)


def multiples_range(step: int, low: int | None, high: int | None) -> str | None:
    """Canonical spellings of the multiples of ``step`` (> 0) in [low, high].

    Exact when the range is bounded and holds at most ``MAX_ENUMERATED_MULTIPLES`` multiples, or
    when the range is unbounded on both sides and ``step`` divides 1000.  Raises ``ValueError``
    otherwise (the caller turns it into a ``SchemaError``).
    """
    if low is not None and high is not None:
        first = -((-low) // step) * step
        count = (high - first) // step + 1 if high >= first else 0
        if count <= MAX_ENUMERATED_MULTIPLES:
            return alternation([str(first + i * step) for i in range(count)])
    if low is None and high is None:
        for width in (1, 2, 3):
            if 10**width % step == 0:
                short = [str(v) for v in range(0, 10**width, step)]
                suffixes = [str(v).zfill(width) for v in range(0, 10**width, step)]
                long = r"[1-9][0-9]*" + group("|".join(suffixes))
                magnitude = group("|".join([*short, long]))
                return rf"-?{magnitude}"
    raise ValueError(f"multipleOf {step} cannot be expressed over this range")


# --- decimals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fractions:
    """A set of fraction digit strings: ``nonempty`` alternatives, plus the empty string?"""

    nonempty: tuple[str, ...]
    empty: bool

    def suffix(self) -> str | None:
        """The set written after a digit: ``None`` if the set is empty."""
        body = alternation(list(self.nonempty))
        if body is None:
            return "" if self.empty else None
        return f"(?:{body})?" if self.empty else group(body)

    def json(self) -> str | None:
        """The set as the fraction of a JSON number: ``""``, ``.ddd`` or ``(?:.ddd)?``."""
        body = alternation(list(self.nonempty))
        if body is None:
            return "" if self.empty else None
        return rf"(?:\.{body})?" if self.empty else rf"\.{body}"


def _any_digits(limit: int | None) -> str:
    return r"[0-9]+" if limit is None else (rf"[0-9]{{1,{limit}}}" if limit > 1 else r"[0-9]")


def _fractions(
    low: str, low_open: bool, high: str | None, high_open: bool, limit: int | None
) -> _Fractions:
    """Digit strings x (len <= limit) with 0.low <(=) 0.x <(=) 0.high.

    ``low``/``high`` carry no trailing zeros; ``high`` None means no upper bound below 1.
    """
    empty = low == "" and not low_open and not (high == "" and high_open)
    if limit == 0:
        return _Fractions((), empty)
    if high == "":
        if low == "" and not low_open and not high_open:
            return _Fractions((r"0+" if limit is None else f"0{{1,{limit}}}",), True)
        return _Fractions((), False)
    if limit is None and low == "" and high is None:
        if not low_open:
            return _Fractions((r"[0-9]+",), True)
        return _Fractions((r"0*[1-9][0-9]*",), False)
    rest = None if limit is None else limit - 1
    first_low = int(low[0]) if low else 0
    low_rest = low[1:]
    first_high, high_rest = (9, None) if high is None else (int(high[0]), high[1:])
    parts: list[str] = []

    def add(digits: str, tail: _Fractions) -> None:
        suffix = tail.suffix()
        if suffix is not None:
            parts.append(digits + suffix)

    if first_low == first_high:
        add(str(first_low), _fractions(low_rest, low_open, high_rest, high_open, rest))
    else:
        add(str(first_low), _fractions(low_rest, low_open, None, False, rest))
        if first_low + 1 <= first_high - 1:
            middle = _digit_class(first_low + 1, first_high - 1)
            parts.append(
                middle + ("" if rest == 0 else rf"[0-9]{{0,{rest}}}" if rest else r"[0-9]*")
            )
        add(str(first_high), _fractions("", False, high_rest, high_open, rest))
    return _Fractions(tuple(parts), empty)


def _split(value: Decimal) -> tuple[int, str]:
    """(integer part, fraction digits without trailing zeros) of a non-negative decimal."""
    integer = int(value)
    text = format(value - integer, "f")
    fraction = text.split(".", 1)[1].rstrip("0") if "." in text else ""
    return integer, fraction


def _non_negative_decimal(
    low: Decimal, low_open: bool, high: Decimal | None, high_open: bool, limit: int | None
) -> str | None:
    """Plain spellings ``int[.digits]`` of the numbers in the interval (0 <= low)."""
    low_int, low_frac = _split(low)
    parts: list[str] = []

    def add(integer: int, fractions: _Fractions) -> None:
        fraction = fractions.json()
        if fraction is not None:
            parts.append(str(integer) + fraction)

    any_fraction = _Fractions((_any_digits(limit),) if limit != 0 else (), True)
    if high is None:
        middle = _non_negative(low_int + 1, None)
        add(low_int, _fractions(low_frac, low_open, None, False, limit))
    else:
        high_int, high_frac = _split(high)
        if low_int == high_int:
            add(low_int, _fractions(low_frac, low_open, high_frac, high_open, limit))
            middle = None
        else:
            add(low_int, _fractions(low_frac, low_open, None, False, limit))
            middle = _non_negative(low_int + 1, high_int - 1)
            add(high_int, _fractions("", False, high_frac, high_open, limit))
    if middle is not None:
        parts.append(group(middle) + (any_fraction.json() or ""))
    return alternation(parts)


def decimal_range(
    low: Decimal | None,
    low_open: bool,
    high: Decimal | None,
    high_open: bool,
    *,
    fraction_digits: int | None = None,
) -> str | None:
    """Plain decimal spellings (``-?int[.digits]``, no exponent) of the numbers in a range.

    ``fraction_digits`` caps the digits after the point (``0``: integers only).  Zero is never
    written with a minus sign.
    """
    if (
        low is not None
        and high is not None
        and (low > high or (low == high and (low_open or high_open)))
    ):
        return None
    parts: list[str] = []
    if low is None or low < 0:
        if high is not None and high < 0:
            magnitude_low, magnitude_low_open = -high, high_open
        else:
            magnitude_low, magnitude_low_open = Decimal(0), True
        magnitude_high = None if low is None else -low
        negative = _non_negative_decimal(
            magnitude_low, magnitude_low_open, magnitude_high, low_open, fraction_digits
        )
        if negative is not None:
            parts.append("-" + group(negative))
    if high is None or high > 0 or (high == 0 and not high_open):
        if low is not None and low >= 0:
            positive = _non_negative_decimal(low, low_open, high, high_open, fraction_digits)
        else:
            positive = _non_negative_decimal(Decimal(0), False, high, high_open, fraction_digits)
        if positive is not None:
            parts.append(positive)
    return alternation(parts)


# --- the writer of numbers -------------------------------------------------------------------


def number_regex(kind: str, flat: Flat, not_enum: list[Any]) -> str | None:
    """Regex of the numbers of type ``kind`` (``"integer"`` or ``"number"``) of ``flat`` other
    than the values in ``not_enum`` (``None``: none is left); :class:`SchemaError` for a
    ``multipleOf`` that cannot be expressed."""
    if not not_enum:
        return _number(kind, flat)
    points = sorted({read_decimal(v, "", "enum") for v in not_enum})
    parts: list[str] = []
    low = flat.low
    for point in [*points, None]:
        high = Bound(point, True) if point is not None else flat.high
        if point is not None and flat.high is not None and flat.high.value < point:
            high = flat.high
        piece = _number(kind, replace(flat, low=low, high=high, not_enum=()))
        if piece is not None:
            parts.append(piece)
        if point is not None:
            low = tighter(low, Bound(point, True), lower=True)
    return alternation(parts)


def _number(kind: str, flat: Flat) -> str | None:
    low, high = flat.low, flat.high
    steps = flat.multiple_of
    integral = kind == "integer"
    fraction_digits: int | None = None
    int_step = 1
    for step in steps:
        if step == step.to_integral_value():
            integral = True
            int_step = math.lcm(int_step, int(step))
        elif step.normalize().as_tuple().digits == (1,):
            exponent = int(step.normalize().as_tuple().exponent)
            digits = -exponent
            fraction_digits = digits if fraction_digits is None else min(fraction_digits, digits)
        else:
            raise SchemaError(
                f"multipleOf {step} on numbers cannot be expressed (only integers and powers "
                "of ten are)",
                pointer=flat.pointer("multipleOf"),
                keyword="multipleOf",
            )
    if integral:
        low_int = None if low is None else ceil_bound(low)
        high_int = None if high is None else floor_bound(high)
        if int_step > 1:
            try:
                return multiples_range(int_step, low_int, high_int)
            except ValueError as error:
                raise SchemaError(
                    str(error), pointer=flat.pointer("multipleOf"), keyword="multipleOf"
                ) from None
        if low_int is None and high_int is None:
            return INTEGER
        return integer_range(low_int, high_int)
    if low is None and high is None and fraction_digits is None:
        return NUMBER
    if low is None and high is None:
        if fraction_digits == 0:
            return INTEGER
        return rf"(?:{INTEGER}|{INTEGER_PART}\.[0-9]{{1,{fraction_digits}}})"
    return decimal_range(
        None if low is None else low.value,
        low.open if low else False,
        None if high is None else high.value,
        high.open if high else False,
        fraction_digits=fraction_digits,
    )
