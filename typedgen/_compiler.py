"""Compile constraints into guides: regex / JSON Schema / grammar + vocabulary →
:class:`~typedgen.Guide`.

Compiling is cheap: the pattern becomes a byte NFA and a lazy DFA, and masks are computed on
first use of each state. :class:`Compiler` keeps the compiled guides of one vocabulary in an
LRU cache bounded by bytes; there is no module-level cache.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from typedgen._cfg import Cfg, Syntax, read_grammar
from typedgen._errors import UsageError
from typedgen._fsm import DEFAULT_MAX_STATES, Guide, RegexAutomaton
from typedgen._grammar import (
    DEFAULT_MAX_STACK_DEPTH,
    DEFAULT_MAX_THREADS,
    DEFAULT_TIMEOUT,
    GrammarAutomaton,
)
from typedgen._regex import DEFAULT_MAX_NODES, regex_to_nfa
from typedgen._schema import Whitespace, json_schema_to_regex
from typedgen._schema.lark import SchemaGrammar, schema_grammar
from typedgen._schema.values import Deadline, exact_regex

if TYPE_CHECKING:
    from typedgen._vocab import Vocabulary

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_NODES",
    "DEFAULT_MAX_STATES",
    "CacheInfo",
    "Compiler",
    "compile_grammar",
    "compile_json_schema",
    "compile_regex",
    "json_schema_path",
]

JsonSchemaPath = Literal["regex", "grammar"]


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
    path: JsonSchemaPath | None = None,
    max_states: int = DEFAULT_MAX_STATES,
    max_nodes: int = DEFAULT_MAX_NODES,
    timeout: float = DEFAULT_TIMEOUT,
) -> Guide:
    """The guide that allows exactly the JSON texts valid under ``schema`` (a dict, a boolean
    or the schema's JSON text), written with the given ``whitespace`` policy (compact by
    default), through the path :func:`json_schema_path` chooses: the regex of
    :func:`~typedgen.json_schema_to_regex` where that regex has no depth cut and fits the
    regex path, the grammar engine (no depth cut) otherwise.

    ``path="regex"`` or ``path="grammar"`` forces one: the regex path then unrolls recursion
    and "any value" to ``json_schema_to_regex``'s depth, and refuses a schema whose regex is
    too large. Raises :class:`~typedgen.SchemaError` for a schema that cannot be honoured
    exactly, and :class:`~typedgen.GrammarLimitError` (option ``"timeout"``) when the schema
    walk and the grammar engine's build take more than ``timeout`` seconds together (the
    regex path's automaton is bounded by ``max_nodes`` and ``max_states`` instead).
    """
    if path not in (None, "regex", "grammar"):
        raise UsageError(f"path must be None, 'regex' or 'grammar', got {path!r}")
    deadline = Deadline(timeout)
    route: SchemaGrammar | str
    if path == "regex":
        route = json_schema_to_regex(schema, whitespace=whitespace)
    elif path == "grammar":
        route = schema_grammar(schema, whitespace=whitespace, deadline=deadline)
    else:
        route = _json_schema_route(schema, whitespace=whitespace, deadline=deadline)
    if isinstance(route, SchemaGrammar):  # the Cfg straight from the schema, no Lark text read
        cfg, source = route.cfg(), route.lark()
        deadline.check("")
        return _grammar_guide(
            cfg, source, vocabulary, max_states=max_states, timeout=deadline.left()
        )
    return compile_regex(route, vocabulary, max_states=max_states, max_nodes=max_nodes)


def json_schema_path(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
) -> tuple[JsonSchemaPath, str]:
    """How :func:`compile_json_schema` compiles ``schema``: ``("regex", pattern)``, the
    pattern of :func:`~typedgen.json_schema_to_regex`, when that pattern is exact (no depth
    cut: the schema reaches no ``$ref`` cycle and allows no "any value", a value nested
    without bound) and no larger than the regex path holds (``MAX_REGEX_SIZE``): there the
    regex path is the faster one; ``("grammar", text)``, the Lark grammar of
    :func:`~typedgen.json_schema_to_grammar`, otherwise (measured on MaskBench: see
    ``docs/json-schema.md``).

    Raises :class:`~typedgen.SchemaError` for a schema that cannot be honoured exactly.
    """
    route = _json_schema_route(schema, whitespace=whitespace, deadline=None)
    if isinstance(route, SchemaGrammar):
        return "grammar", route.lark()
    return "regex", route


def _json_schema_route(
    schema: Mapping[str, Any] | bool | str, *, whitespace: Whitespace, deadline: Deadline | None
) -> SchemaGrammar | str:
    """The choice of :func:`json_schema_path`: the schema's exact regex, or its grammar."""
    regex = exact_regex(schema, whitespace=whitespace, deadline=deadline)
    if regex is None:
        return schema_grammar(schema, whitespace=whitespace, deadline=deadline)
    return regex


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
    return _grammar_guide(
        read_grammar(grammar, syntax=syntax, start=start),
        grammar,
        vocabulary,
        max_states=max_states,
        max_stack_depth=max_stack_depth,
        max_threads=max_threads,
        timeout=timeout,
    )


def _grammar_guide(
    cfg: Cfg,
    source: str,
    vocabulary: Vocabulary,
    *,
    max_states: int,
    max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
    max_threads: int = DEFAULT_MAX_THREADS,
    timeout: float = DEFAULT_TIMEOUT,
) -> Guide:
    """The guide of a :class:`~typedgen._cfg.Cfg` (``source``: its text, for messages)."""
    automaton = GrammarAutomaton(
        cfg,
        source=source,
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


DEFAULT_MAX_BYTES = 256 * 2**20
"""The default bound of a :class:`Compiler`'s cache: 256 MiB of :attr:`Guide.memory`."""


class CacheInfo(NamedTuple):
    """A :class:`Compiler`'s cache: ``guides`` kept, the ``bytes`` they held when last
    measured (:attr:`Guide.memory`), the bound ``max_bytes``, and the lookups that found a
    guide (``hits``) or compiled one (``misses``: one per compilation, failed ones included)."""

    guides: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


class Compiler:
    """Compiles constraints for one vocabulary, and owns the one cache of their guides.

    Keys are (kind, text, options); a JSON Schema dict is keyed by its JSON text (key order
    included). A cached guide is shared: guides are stateless apart from memoized masks.
    Thread-safe; two threads asking for the same new constraint may both compile it, and the
    first one stored is kept.

    The cache is a least-recently-used list bounded by bytes, not by count: the sum of the
    :attr:`Guide.memory` of the guides it keeps stays at most ``max_bytes`` each time a guide
    is added (the least recently used ones are dropped first). A guide's memory grows as its
    masks are computed, so the sum is measured again at every addition; masks computed since
    the last addition count from the next one. A guide larger than ``max_bytes`` on its own is
    returned but not kept. ``max_bytes=0`` keeps nothing. The shared token trie of the
    vocabulary is not counted (``TokenTrie.memory``; one per vocabulary).
    """

    def __init__(
        self,
        vocabulary: Vocabulary,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_states: int = DEFAULT_MAX_STATES,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> None:
        if max_bytes < 0:
            raise UsageError(f"max_bytes must be >= 0, got {max_bytes}")
        self.vocabulary = vocabulary
        self.max_bytes = max_bytes
        self.max_states = max_states
        self.max_nodes = max_nodes
        self._cache: OrderedDict[tuple[str, str, str], Guide] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def regex(self, pattern: str) -> Guide:
        """The guide of ``pattern`` (see :func:`compile_regex`), from the cache when present."""
        return self._get(
            ("regex", pattern, ""),
            lambda: compile_regex(
                pattern, self.vocabulary, max_states=self.max_states, max_nodes=self.max_nodes
            ),
        )

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
        return self._get(
            ("json_schema", text, repr(whitespace)),
            lambda: compile_json_schema(
                schema,
                self.vocabulary,
                whitespace=whitespace,
                max_states=self.max_states,
                max_nodes=self.max_nodes,
            ),
        )

    def grammar(
        self, grammar: str, *, syntax: Syntax | None = None, start: str | None = None
    ) -> Guide:
        """The guide of a context-free ``grammar`` (see :func:`compile_grammar`), cached by
        its text, syntax and start rule."""
        return self._get(
            ("grammar", grammar, f"{syntax}:{start}"),
            lambda: compile_grammar(
                grammar, self.vocabulary, syntax=syntax, start=start, max_states=self.max_states
            ),
        )

    def cache_info(self) -> CacheInfo:
        """The cache's size, bound and counts (see :class:`CacheInfo`)."""
        with self._lock:
            return CacheInfo(
                len(self._cache), self._bytes, self.max_bytes, self._hits, self._misses
            )

    def clear(self) -> None:
        """Drop every cached guide (the counts are kept)."""
        with self._lock:
            self._cache.clear()
            self._bytes = 0

    def _get(self, key: tuple[str, str, str], compile: Callable[[], Guide]) -> Guide:
        with self._lock:
            guide = self._cache.get(key)
            if guide is not None:
                self._cache.move_to_end(key)
                self._hits += 1
                return guide
            self._misses += 1
        guide = compile()  # outside the lock: compiling may take long
        with self._lock:
            kept = self._cache.setdefault(key, guide)
            self._cache.move_to_end(key)
            sizes = [g.memory for g in self._cache.values()]
            total = sum(sizes)
            for size in sizes:
                if total <= self.max_bytes:
                    break
                self._cache.popitem(last=False)
                total -= size
            self._bytes = total
        return kept
