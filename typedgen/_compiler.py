"""Compile constraints into guides: regex / JSON Schema / grammar + vocabulary →
:class:`~typedgen.Guide`.

Compiling is cheap: the pattern becomes a byte NFA and a lazy DFA, and masks are computed on
first use of each state. :class:`Compiler` keeps a bounded LRU of compiled guides for one
vocabulary; there is no module-level cache.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from typedgen._cfg import Syntax, read_grammar
from typedgen._fsm import DEFAULT_MAX_STATES, Guide, RegexAutomaton
from typedgen._grammar import (
    DEFAULT_MAX_STACK_DEPTH,
    DEFAULT_MAX_THREADS,
    DEFAULT_TIMEOUT,
    GrammarAutomaton,
)
from typedgen._regex import DEFAULT_MAX_NODES, regex_to_nfa
from typedgen._schema import Whitespace, json_schema_to_regex

if TYPE_CHECKING:
    from typedgen._vocab import Vocabulary

__all__ = [
    "DEFAULT_MAX_NODES",
    "DEFAULT_MAX_STATES",
    "Compiler",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
]


def compile_regex(
    pattern: str,
    vocabulary: Vocabulary,
    *,
    max_states: int = DEFAULT_MAX_STATES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Guide:
    """The guide that allows exactly the token sequences whose text fully matches ``pattern``.

    ``pattern`` uses the syntax documented in ``docs/regex.md`` (Python ``re`` meaning, ASCII
    classes). Raises :class:`~typedgen.RegexError` for unsupported syntax, naming the construct
    and its position, and :class:`~typedgen.StateLimitError` when the automaton would need more
    than ``max_nodes`` NFA nodes or ``max_states`` DFA states (the DFA is built lazily, so this
    can also be raised later, by the guide call that reaches a new state).
    """
    automaton = RegexAutomaton(
        regex_to_nfa(pattern, max_nodes=max_nodes), pattern=pattern, max_states=max_states
    )
    return Guide(
        automaton,
        vocabulary.trie,
        eos_token_ids=vocabulary.eos_token_ids,
        vocab_size=vocabulary.size,
    )


def compile_json_schema(
    schema: Mapping[str, Any] | bool | str,
    vocabulary: Vocabulary,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    max_states: int = DEFAULT_MAX_STATES,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Guide:
    """The guide that allows exactly the JSON texts valid under ``schema`` (a dict, a boolean
    or the schema's JSON text), written with the given ``whitespace`` policy (compact by
    default), through :func:`~typedgen.json_schema_to_regex`.

    Raises :class:`~typedgen.SchemaError` for a schema that cannot be honoured exactly.
    """
    pattern = json_schema_to_regex(schema, whitespace=whitespace)
    return compile_regex(pattern, vocabulary, max_states=max_states, max_nodes=max_nodes)


def compile_grammar(
    grammar: str,
    vocabulary: Vocabulary,
    *,
    syntax: Syntax | None = None,
    start: str | None = None,
    max_states: int = DEFAULT_MAX_STATES,
    max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
    max_threads: int = DEFAULT_MAX_THREADS,
    timeout: float = DEFAULT_TIMEOUT,
) -> Guide:
    """The guide that allows exactly the token sequences whose text the context-free
    ``grammar`` derives (see ``docs/grammars.md``).

    ``syntax`` is ``"lark"`` (Lark grammar files, read with the ``lark`` package) or
    ``"gbnf"`` (llama.cpp); ``None`` detects GBNF by its ``::=``. ``start`` is the start rule
    (default ``"start"`` for Lark, ``"root"`` for GBNF). Raises
    :class:`~typedgen.GrammarError` for a grammar that cannot be honoured exactly (naming the
    rule and line) and :class:`~typedgen.GrammarLimitError` past ``timeout`` seconds of
    compiling; parser states are built lazily, so ``max_states``, ``max_stack_depth`` (rules
    open at one point of the text) and ``max_threads`` (simultaneous parses of a prefix) raise
    :class:`~typedgen.GrammarLimitError` from the guide call that would exceed them.
    """
    automaton = GrammarAutomaton(
        read_grammar(grammar, syntax=syntax, start=start),
        source=grammar,
        max_states=max_states,
        max_stack_depth=max_stack_depth,
        max_threads=max_threads,
        timeout=timeout,
    )
    return Guide(
        automaton,
        vocabulary.trie,
        eos_token_ids=vocabulary.eos_token_ids,
        vocab_size=vocabulary.size,
    )


class Compiler:
    """Compiles constraints for one vocabulary and keeps the last ``cache_size`` guides.

    Keys are (kind, text, options); a JSON Schema dict is keyed by its canonical JSON text.
    Thread-safe. A cached guide is shared: guides are stateless apart from memoized masks.
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        *,
        cache_size: int = 128,
        max_states: int = DEFAULT_MAX_STATES,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> None:
        if cache_size < 0:
            raise ValueError("cache_size must be >= 0")
        self.vocabulary = vocabulary
        self.cache_size = cache_size
        self.max_states = max_states
        self.max_nodes = max_nodes
        self._cache: OrderedDict[tuple[str, str, str], Guide] = OrderedDict()
        self._lock = threading.Lock()

    def regex(self, pattern: str) -> Guide:
        """The guide of ``pattern`` (see :func:`compile_regex`), from the cache when present."""
        key = ("regex", pattern, "")
        guide = self._lookup(key)
        if guide is None:
            guide = compile_regex(
                pattern, self.vocabulary, max_states=self.max_states, max_nodes=self.max_nodes
            )
            self._store(key, guide)
        return guide

    def json_schema(
        self,
        schema: Mapping[str, Any] | bool | str,
        *,
        whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    ) -> Guide:
        """The guide of ``schema`` (see :func:`compile_json_schema`), cached by the schema's
        JSON text and the whitespace policy. Key order is part of the key: properties are
        generated in schema order, so schemas that differ only in order compile differently."""
        text = schema if isinstance(schema, str) else json.dumps(schema)
        key = ("json_schema", text, repr(whitespace))
        guide = self._lookup(key)
        if guide is None:
            guide = compile_json_schema(
                schema,
                self.vocabulary,
                whitespace=whitespace,
                max_states=self.max_states,
                max_nodes=self.max_nodes,
            )
            self._store(key, guide)
        return guide

    def grammar(
        self, grammar: str, *, syntax: Syntax | None = None, start: str | None = None
    ) -> Guide:
        """The guide of a context-free ``grammar`` (see :func:`compile_grammar`), cached by
        its text, syntax and start rule."""
        key = ("grammar", grammar, f"{syntax}:{start}")
        guide = self._lookup(key)
        if guide is None:
            guide = compile_grammar(
                grammar, self.vocabulary, syntax=syntax, start=start, max_states=self.max_states
            )
            self._store(key, guide)
        return guide

    def cache_info(self) -> tuple[int, int]:
        """(number of cached guides, capacity)."""
        with self._lock:
            return len(self._cache), self.cache_size

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def _lookup(self, key: tuple[str, str, str]) -> Guide | None:
        with self._lock:
            guide = self._cache.get(key)
            if guide is not None:
                self._cache.move_to_end(key)
            return guide

    def _store(self, key: tuple[str, str, str], guide: Guide) -> None:
        if self.cache_size == 0:
            return
        with self._lock:
            self._cache[key] = guide
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
