"""JSON Schema -> a regex over JSON text that matches exactly the JSON that validates.

:func:`json_schema_to_regex` turns a JSON Schema (draft 2020-12, plus the draft 4/7 spellings
that real schemas use: ``definitions``, array-form ``items`` + ``additionalItems``, boolean
``exclusiveMinimum``/``exclusiveMaximum``, OpenAPI ``nullable``; and where the root's ``$schema``
names drafts 3 to 7, their rule that ``$ref`` overrides the keywords beside it) into a regex in
the subset that typedgen's automaton compiler accepts (also valid Python ``re`` with the same
meaning).

Guarantee: every text the regex matches is JSON that validates against the schema (soundness);
every valid instance written the way typedgen writes JSON is matched, except where this module
documents a narrowing (see ``docs/json-schema.md``).  What cannot be honoured is refused with
:class:`~typedgen.SchemaError`, which carries the JSON pointer and the keyword at fault; nothing
is ever silently weakened.

How instances are written:

* whitespace: none by default (``{"a":1}``); :meth:`Whitespace.flexible` allows up to ``n``
  whitespace characters around every structural character, never an unbounded run;
* object members appear in schema order (``properties`` order, then other ``required`` names,
  then any additional members); each optional property may be present or absent;
* numbers: integers without exponent or leading zeros; numbers with bounds are written as plain
  decimals (``-12.5``), numbers without bounds may use an exponent; no fraction or exponent
  spelling overflows to infinity (at most 20 integer digits before a fraction or an exponent,
  exponents up to 199), integers are of any length;
* strings: raw characters or any JSON escape; where the content is constrained (``pattern``,
  ``format``, ``enum``, property names) each character is written one way, as
  ``json.dumps(..., ensure_ascii=False)`` writes it.

Recursion (``$ref`` cycles, and "any JSON value" for ``{}``/``true`` schemas) is unrolled to
``max_depth`` nested levels, fewer while the regex would exceed :data:`PREFERRED_REGEX_SIZE`;
deeper instances are not produced, and a schema that has no instance within that depth is
refused.

The stages, one module each (their import graph: ``docs/how-it-works.md``): :mod:`.keywords`
(reading one schema object), :mod:`.flat` (the flat form), :mod:`.refs` (``$ref``),
:mod:`.combinators` (combinators and negation), one writer per JSON type (:mod:`.numbers`,
:mod:`.strings`, :mod:`.arrays`, :mod:`.objects`, with :mod:`.patterns` and :mod:`.charsets` for
string content), :mod:`.regex_text` (the regex text they share), :mod:`.values` (the compiler
and the regex path) and :mod:`.lark` (the grammar path).
"""

from __future__ import annotations

from typedgen._schema.lark import json_schema_to_grammar
from typedgen._schema.values import json_schema_to_regex
from typedgen._schema.whitespace import Whitespace

__all__ = ["Whitespace", "json_schema_to_grammar", "json_schema_to_regex"]
