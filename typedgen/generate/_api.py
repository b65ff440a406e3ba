"""The ``typedgen.generate`` functions: each builds a :class:`Generator` for one constraint."""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar, overload

from typedgen._cfg import Syntax
from typedgen._errors import UsageError
from typedgen._formats import format_of
from typedgen._schema import Whitespace
from typedgen._types import target_of
from typedgen.generate._generator import Generator
from typedgen.processors._constraint import Constraint

if TYPE_CHECKING:
    from typedgen.models import Model

__all__ = ["cfg", "choice", "format", "json", "regex", "text"]

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

_METACHARACTERS = frozenset("\\.^$*+?()[]{}|")


def text(model: Model) -> Generator[str]:
    """Unconstrained text."""
    return Generator(model, None, str)


def regex(model: Model, pattern: str, *, finish_within_budget: bool = True) -> Generator[str]:
    """Text that matches ``pattern`` entirely (typedgen's regex subset; see
    :func:`typedgen.compile_regex`). Raises :class:`~typedgen.RegexError` for a bad pattern.

    ``finish_within_budget``: steer the output to complete within ``max_tokens`` rather than
    be cut (see :class:`Generator`); False lets it be cut, raising
    :class:`~typedgen.TruncatedGenerationError` with the raw text."""
    return Generator(
        model, Constraint.regex(pattern), str, finish_within_budget=finish_within_budget
    )


@overload
def choice(  # type: ignore[overload-overlap]
    model: Model, choices: type[E], *, finish_within_budget: bool = True
) -> Generator[E]: ...
@overload
def choice(
    model: Model, choices: Iterable[str], *, finish_within_budget: bool = True
) -> Generator[str]: ...
def choice(
    model: Model, choices: type[Enum] | Iterable[str], *, finish_within_budget: bool = True
) -> Generator[Any]:
    """Exactly one of ``choices``: strings (returns the string) or an ``Enum`` class whose
    values are strings (returns the member). ``finish_within_budget``: as for :func:`regex`.
    Raises :class:`~typedgen.UsageError` for a choice that is not a string, or for none."""
    if isinstance(choices, type) and issubclass(choices, Enum):
        enum = choices
        by_value = {str(member.value): member for member in enum}
        constraint = Constraint.regex(_alternation(by_value))
        return Generator(
            model, constraint, by_value.__getitem__, finish_within_budget=finish_within_budget
        )
    options = list(choices)
    constraint = Constraint.regex(_alternation(options))
    return Generator(model, constraint, str, finish_within_budget=finish_within_budget)


def format(
    model: Model, python_type: type[T], *, finish_within_budget: bool = True
) -> Generator[T]:
    """A value of a scalar type written as plain text: ``int``, ``float``, ``Decimal``, ``bool``
    (``true``/``false``), ``date``, ``time``, ``datetime`` (ISO 8601), ``UUID``.
    ``finish_within_budget``: as for :func:`regex`."""
    pattern, parse = format_of(python_type)
    return Generator(
        model, Constraint.regex(pattern), parse, finish_within_budget=finish_within_budget
    )


@overload
def json(
    model: Model,
    target: type[T],
    *,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
) -> Generator[T]: ...
@overload
def json(
    model: Model,
    target: Mapping[str, Any] | str | object,
    *,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
) -> Generator[Any]: ...
def json(
    model: Model,
    target: object,
    *,
    whitespace: Whitespace | None = None,
    finish_within_budget: bool = True,
) -> Generator[Any]:
    """JSON text of ``target``, returned as a validated instance.

    ``target`` is a type annotation (pydantic model, dataclass, TypedDict, ``list[int]``, ...),
    returning an instance of it, or a JSON Schema (a mapping, or its JSON text), returning the
    parsed JSON value. ``whitespace`` is the whitespace policy (a
    :class:`~typedgen.Whitespace` value); ``finish_within_budget`` as for :func:`regex` (an
    endless list or string is closed in the last tokens). Raises
    :class:`~typedgen.SchemaError` when the target cannot be honoured exactly.
    """
    if isinstance(target, Mapping | str):
        constraint = Constraint.json_schema(target, whitespace=whitespace)
        constraint.schema()  # refuse text that is not JSON right here
        parse: Callable[[str], Any] = _json.loads
        partial: Callable[[Any], Any] = _identity
    else:
        typed = target_of(target)
        constraint = Constraint.json_schema(typed.schema, whitespace=whitespace)
        parse = typed.validate_json
        partial = typed.validate_partial
    return Generator(
        model, constraint, parse, finish_within_budget=finish_within_budget, partial=partial
    )


def _identity(value: T) -> T:
    return value


def cfg(
    model: Model,
    grammar: str,
    *,
    syntax: Syntax | None = None,
    finish_within_budget: bool = True,
) -> Generator[str]:
    """Text that the context-free ``grammar`` derives: a Lark grammar (``start`` rule) or a
    llama.cpp GBNF grammar (``root`` rule), told apart by GBNF's ``::=`` unless ``syntax``
    says (see :func:`typedgen.compile_grammar`; ready-made ones in :mod:`typedgen.grammars`).
    Raises :class:`~typedgen.GrammarError` for a grammar that cannot be honoured exactly.
    ``finish_within_budget``: as for :func:`regex`."""
    return Generator(
        model,
        Constraint.grammar(grammar, syntax=syntax),
        str,
        finish_within_budget=finish_within_budget,
    )


def _alternation(options: Iterable[str]) -> str:
    escaped = []
    for option in options:
        if not isinstance(option, str):
            raise UsageError(f"choices must be strings, got {option!r}")
        escaped.append("".join("\\" + c if c in _METACHARACTERS else c for c in option))
    if not escaped:
        raise UsageError("choice needs at least one option")
    return "(" + "|".join(escaped) + ")"
