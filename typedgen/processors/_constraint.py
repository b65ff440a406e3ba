"""The constraint a request carries to the engine, as flat strings in ``SamplingParams.extra_args``.

A constraint is plain data: the engine process compiles it with its own tokenizer, so nothing
but strings crosses the process boundary, and the same keys work over HTTP (``vllm_xargs`` of
the OpenAI-compatible server accepts only flat values)::

    {"typedgen_regex": "[0-9]{3}"}
    {"typedgen_json_schema": '{"type": "integer"}', "typedgen_whitespace": "8"}
    {"typedgen_regex": "[0-9]+", "typedgen_finish_within_budget": False}
    {"typedgen_grammar": 'start: "a"+', "typedgen_grammar_syntax": "lark"}

``typedgen_finish_within_budget`` (default true; a bool, ``0``/``1`` or ``"true"``/``"false"``)
is an option of the request rather than of the constraint, read by
:func:`finish_within_budget`: when true, the last tokens a request may generate are restricted
so that its output still completes the constraint (see
:meth:`typedgen.Guide.fill_bitmask_within`).

``typedgen_grammar_syntax`` (``"lark"`` or ``"gbnf"``; detected when absent) applies only to
``typedgen_grammar``.

Compiling a constraint with :func:`byte_compiler` validates it without a tokenizer, so a bad
pattern, schema or grammar is refused where the request is made, with
:class:`~typedgen.RegexError`, :class:`~typedgen.SchemaError` or
:class:`~typedgen.GrammarError`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from typedgen._cfg import Syntax
from typedgen._compiler import Compiler
from typedgen._errors import SchemaError, UsageError
from typedgen._fsm import Guide
from typedgen._schema import Whitespace, json_schema_to_regex
from typedgen._vocab import Vocabulary

__all__ = [
    "FINISH_WITHIN_BUDGET",
    "PREFIX",
    "Constraint",
    "byte_compiler",
    "finish_within_budget",
]

PREFIX = "typedgen_"
_REGEX = PREFIX + "regex"
_SCHEMA = PREFIX + "json_schema"
_WHITESPACE = PREFIX + "whitespace"
_GRAMMAR = PREFIX + "grammar"
_SYNTAX = PREFIX + "grammar_syntax"
_SYNTAXES = ("lark", "gbnf")
FINISH_WITHIN_BUDGET = PREFIX + "finish_within_budget"
"""The ``extra_args`` key of the option read by :func:`finish_within_budget`."""
_KEYS = frozenset({_REGEX, _SCHEMA, _WHITESPACE, _GRAMMAR, _SYNTAX, FINISH_WITHIN_BUDGET})
_BOOLEANS: dict[object, bool] = {"true": True, "false": False}

ConstraintKind = Literal["regex", "json_schema", "grammar"]


@dataclass(frozen=True)
class Constraint:
    """What a request's output must match: a regex, a JSON Schema (as JSON text) or a
    context-free grammar (Lark or GBNF text).

    ``whitespace`` is the whitespace policy of a JSON Schema constraint: at most that many
    whitespace characters around each structural character (``Whitespace.max_chars``);
    ``None`` means the schema compiler's default (compact). ``syntax`` is a grammar's syntax
    (``None``: detected).
    """

    kind: ConstraintKind
    source: str
    whitespace: int | None = None
    syntax: Syntax | None = None

    @classmethod
    def regex(cls, pattern: str) -> Constraint:
        return cls("regex", pattern)

    @classmethod
    def grammar(cls, grammar: str, *, syntax: Syntax | None = None) -> Constraint:
        """A grammar constraint (see :func:`typedgen.compile_grammar`)."""
        return cls("grammar", grammar, syntax=syntax)

    @classmethod
    def json_schema(
        cls, schema: Mapping[str, Any] | str, *, whitespace: Whitespace | None = None
    ) -> Constraint:
        """A JSON Schema constraint. A mapping is serialised in its own key order: the order of
        ``properties`` is the order in which the generated object writes its keys, so it must
        not be sorted."""
        text = schema if isinstance(schema, str) else json.dumps(schema)
        return cls("json_schema", text, None if whitespace is None else whitespace.max_chars)

    def to_extra_args(self) -> dict[str, str]:
        """The flat ``extra_args`` entries that carry this constraint."""
        if self.kind == "regex":
            return {_REGEX: self.source}
        if self.kind == "grammar":
            if self.syntax is None:
                return {_GRAMMAR: self.source}
            return {_GRAMMAR: self.source, _SYNTAX: self.syntax}
        args = {_SCHEMA: self.source}
        if self.whitespace is not None:
            args[_WHITESPACE] = str(self.whitespace)
        return args

    @classmethod
    def from_extra_args(cls, extra_args: Mapping[str, Any] | None) -> Constraint | None:
        """The constraint in ``extra_args``, or ``None`` when there is none.

        Raises :class:`~typedgen.UsageError` for unknown ``typedgen_*`` keys, non-string
        values, or both a regex and a schema.
        """
        if not extra_args:
            return None
        ours = {k: v for k, v in extra_args.items() if isinstance(k, str) and k.startswith(PREFIX)}
        if not ours:
            return None
        unknown = sorted(set(ours) - _KEYS)
        if unknown:
            raise UsageError(f"unknown typedgen extra_args {unknown}; expected {sorted(_KEYS)}")
        finish_within_budget(ours)  # refuse a malformed option with the constraint
        for key, value in ours.items():
            if key != FINISH_WITHIN_BUDGET and not isinstance(value, str):
                raise UsageError(
                    f"extra_args[{key!r}] must be a string, got {type(value).__name__}"
                )
        if sum(key in ours for key in (_REGEX, _SCHEMA, _GRAMMAR)) != 1:
            raise UsageError(
                f"give exactly one of extra_args {_REGEX!r}, {_SCHEMA!r} and {_GRAMMAR!r}"
            )
        if _SYNTAX in ours and _GRAMMAR not in ours:
            raise UsageError(f"{_SYNTAX!r} applies only to {_GRAMMAR!r}")
        if _GRAMMAR in ours:
            if _WHITESPACE in ours:
                raise UsageError(f"{_WHITESPACE!r} applies only to {_SCHEMA!r}")
            syntax = ours.get(_SYNTAX)
            if syntax is not None and syntax not in _SYNTAXES:
                raise UsageError(f"extra_args[{_SYNTAX!r}] must be one of {list(_SYNTAXES)}")
            return cls("grammar", ours[_GRAMMAR], syntax=cast("Syntax | None", syntax))
        if _REGEX in ours:
            if _WHITESPACE in ours:
                raise UsageError(f"{_WHITESPACE!r} applies only to {_SCHEMA!r}")
            return cls("regex", ours[_REGEX])
        spaces = ours.get(_WHITESPACE)
        if spaces is not None and not (spaces.isascii() and spaces.isdigit()):
            raise UsageError(f"extra_args[{_WHITESPACE!r}] must be a count of characters")
        return cls("json_schema", ours[_SCHEMA], None if spaces is None else int(spaces))

    def schema(self) -> Any:
        """The parsed JSON Schema of a ``json_schema`` constraint."""
        try:
            return json.loads(self.source)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"the JSON Schema is not valid JSON: {exc}") from exc

    def compile(self, compiler: Compiler) -> Guide:
        """This constraint's guide from ``compiler`` (compiled once, then from its cache).

        Raises :class:`~typedgen.RegexError`, :class:`~typedgen.SchemaError` or
        :class:`~typedgen.GrammarError` for a constraint that cannot be honoured."""
        if self.kind == "grammar":
            return compiler.grammar(self.source, syntax=self.syntax)
        if self.kind == "regex":
            return compiler.regex(self.source)
        self.schema()  # refuse text that is not JSON with a SchemaError
        if self.whitespace is None:
            return compiler.json_schema(self.source)
        return compiler.json_schema(self.source, whitespace=Whitespace(self.whitespace))

    def pattern(self) -> str:
        """The regex the output must match (a JSON Schema is translated by
        :func:`~typedgen.json_schema_to_regex`); raises :class:`~typedgen.SchemaError` for a
        schema that cannot be honoured exactly, and :class:`~typedgen.UsageError` for a grammar
        (it has no regex)."""
        if self.kind == "grammar":
            raise UsageError("a grammar constraint has no regex")
        if self.kind == "regex":
            return self.source
        if self.whitespace is None:
            return json_schema_to_regex(self.schema())
        return json_schema_to_regex(self.schema(), whitespace=Whitespace(self.whitespace))


def finish_within_budget(extra_args: Mapping[str, Any] | None) -> bool:
    """The ``typedgen_finish_within_budget`` option of a request's ``extra_args``: True (the
    default) or False. Accepts a bool, the integers 0 and 1 and the strings ``"true"`` and
    ``"false"`` (what ``vllm_xargs`` can carry over HTTP); raises
    :class:`~typedgen.UsageError` for anything else."""
    value = (extra_args or {}).get(FINISH_WITHIN_BUDGET, True)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str) and value.lower() in _BOOLEANS:
        return _BOOLEANS[value.lower()]
    raise UsageError(
        f"extra_args[{FINISH_WITHIN_BUDGET!r}] must be a bool, 0, 1, 'true' or 'false', "
        f"got {value!r}"
    )


@functools.cache
def byte_compiler() -> Compiler:
    """The process's :class:`~typedgen.Compiler` over single bytes
    (:meth:`~typedgen.Vocabulary.of_bytes`), made at the first call.

    Its guides check a constraint without a tokenizer (typed functions when decorated,
    generators when built, the vLLM processor's ``validate_params`` when a request is made) and
    tell whether an output is complete. They all share this one, so a constraint is compiled
    over bytes once per process (and its JSON Schema translated once for it); the engine
    compiles it once more, over its tokenizer's vocabulary, in its own compiler.
    """
    return Compiler(Vocabulary.of_bytes())
