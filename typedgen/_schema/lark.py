"""JSON Schema -> a grammar (Lark syntax) over JSON text that matches exactly the JSON that
validates.

:func:`json_schema_to_grammar` runs the schema compiler (:mod:`.values`) in its
grammar mode, where a value reached again inside itself (a ``$ref`` cycle), a large value reached
again elsewhere (a shared ``$ref`` target) and "any JSON value" are rules instead of regex text:
the compiler writes a rule reference where a regex would need an unbounded or repeated copy.
Each rule's regex-with-references is then written as Lark EBNF: every maximal stretch without a
reference that cannot match the empty text becomes one regex terminal, verbatim from the
compiler, so every keyword is honoured exactly as on the regex path; the groups, alternatives and
repeats around references become EBNF.  Rules that derive no finite text (a required recursive
member) are pruned, so that every prefix the grammar allows can be completed.

:func:`schema_grammar` gives that EBNF as data (:class:`SchemaGrammar`): :meth:`~SchemaGrammar.lark`
writes the text, :meth:`~SchemaGrammar.cfg` the grammar engine's input directly (each repeat a
loop rule), so ``compile_json_schema`` never reads Lark text back; lark would also expand every
``x*`` of a sequence into an alternative with and one without it, ``2 ** k`` alternatives for
``k`` repeats.

The guarantee is that of :func:`~typedgen.json_schema_to_regex` without its depth cut: the
language is the JSON texts written the typedgen way (whitespace policy, members in schema order)
whose value validates, nested to any depth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from typedgen._cfg import Cfg, Symbol, Terminal, loop
from typedgen._errors import SchemaError
from typedgen._schema.regex_text import quantifier
from typedgen._schema.values import Deadline, schema_rules
from typedgen._schema.whitespace import Whitespace

__all__ = ["SchemaGrammar", "json_schema_to_grammar", "schema_grammar"]

MAX_REPEAT = 10_000
"""Largest counted repeat (``{m,n}``) of a part holding a rule reference (``n`` copies are
written); a larger one is refused."""

_TOKEN = re.compile(
    r"""\x00(?P<ref>\d+)\x00
    |(?P<open>\(\?:|\()
    |(?P<bar>\|)
    |(?P<repeat>(?:[*+?]|\{\d+(?:,\d*)?\})[?+]?)
    |(?P<atom>\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}|\\U[0-9a-fA-F]{8}|\\.
       |\[\^?\]?(?:\\.|[^\]\\])*\]|\{)
    |(?P<run>[^\\\[()|*+?{\x00]+)""",
    re.VERBOSE,
)
_ATOM, _GROUP, _REF = 0, 1, 2
_NAME = re.compile(r"\w+")


@dataclass(eq=False, slots=True)
class _Item:
    """One item of a sequence: an atom (a character run, escape or class), a group, or a rule
    reference, repeated ``low..high`` times; ``start:end`` is its text (repeat included),
    ``start:base_end`` the text before the repeat.  A group without references is not parsed
    further unless its nullability is asked (``parser`` set)."""

    kind: int
    start: int
    base_end: int
    end: int
    low: int = 1
    high: int | None = 1
    run: bool = False  # several literal characters
    branches: list[list[_Item]] = field(default_factory=list)
    rule: int = -1
    has_ref: bool = False
    empty: bool = False  # whether the text before the repeat may be empty
    parser: _Parser | None = None  # of a group not parsed yet

    def parsed(self) -> _Item:
        """This item with its branches (a group is parsed when first asked)."""
        if self.parser is not None:
            group = self.parser.group(self.start, self.base_end)
            self.branches, self.empty, self.parser = group.branches, group.empty, None
        return self

    @property
    def base_nullable(self) -> bool:
        return self.parsed().empty

    @property
    def nullable(self) -> bool:
        return self.low == 0 or self.base_nullable


class _UnwritableError(Exception):
    """A construct of the compiler's regex that the grammar writer cannot express."""


def json_schema_to_grammar(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    terminals: Literal["regex", "characters"] = "regex",
) -> str:
    """A Lark grammar (rule ``start``) whose language is the JSON texts, written as
    :func:`~typedgen.json_schema_to_regex` writes them, whose value validates against
    ``schema``, with no depth cut: ``$ref`` cycles are recursive rules, nesting is unbounded.

    A ``$ref`` target or "any value" used at several places is one shared rule; the parts
    without recursion are written by the same compiler as the regex path, so every keyword is
    honoured exactly or refused.  Every rule derives some text, so every prefix the grammar
    allows can be completed; no terminal matches the empty text.

    ``terminals="regex"`` (the default) makes each stretch without recursion one regex terminal,
    exact for parsers that try every end of a terminal (typedgen's grammar engine);
    ``"characters"`` makes each terminal a literal run or one character class (repeated at
    most), for lexers that take the first match ``re.match`` finds, such as
    ``lark.Lark(text, parser="earley", lexer="dynamic_complete")``.

    Raises :class:`SchemaError` (with ``pointer`` and ``keyword``) for anything that cannot be
    honoured exactly, and for a schema that no finite JSON value satisfies.
    """
    return schema_grammar(schema, whitespace=whitespace, terminals=terminals).lark()


def schema_grammar(
    schema: Mapping[str, Any] | bool | str,
    *,
    whitespace: Whitespace = Whitespace(),  # noqa: B008 (frozen, immutable)
    terminals: Literal["regex", "characters"] = "regex",
    deadline: Deadline | None = None,
) -> SchemaGrammar:
    """The grammar of :func:`json_schema_to_grammar` before it is written as text (the same
    rules, terminals and errors); the schema walk stops at ``deadline``."""
    if terminals not in ("regex", "characters"):
        raise ValueError(f"terminals must be 'regex' or 'characters', not {terminals!r}")
    root, regexes, pointers = schema_rules(schema, whitespace=whitespace, deadline=deadline)
    names = {number: _rule_name(number, pointer) for number, pointer in pointers.items()}
    names[-1] = "start"
    try:
        trees = {number: _parse(regex) for number, regex in regexes.items()}
        trees[-1] = _parse(root)
        writer = _Writer({**regexes, -1: root}, trees, names, atoms=terminals == "characters")
        if -1 not in writer.productive:
            raise SchemaError(
                "no finite JSON value satisfies the schema (a required member recurses without end)"
            )
        return writer.grammar()
    except _UnwritableError as error:
        raise SchemaError(f"the schema cannot be written as a grammar: {error}") from None
    except RecursionError:  # the writer descends one Python call per nested group
        raise SchemaError(
            "the schema cannot be written as a grammar: its regex nests groups deeper than "
            "Python's recursion limit allows"
        ) from None


def _rule_name(number: int, pointer: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", pointer.lower()).strip("_")[-32:].strip("_")
    return f"r{number}_{slug}" if slug else f"r{number}"


_ESCAPE = re.compile(r"\\.", re.DOTALL)
_PAREN_OR_CLASS = re.compile(r"\[\^?\]?[^\]]*\]|[()]")


class _Parser:
    """The structure of a regex written by the schema compiler (with rule references)."""

    def __init__(self, regex: str) -> None:
        self.regex = regex
        self.closing: dict[int, int] = {}  # position of "(" -> position of its ")"
        opened: list[int] = []
        for match in _PAREN_OR_CLASS.finditer(_ESCAPE.sub("__", regex)):
            char = match.group()
            if char == "(":
                opened.append(match.start())
            elif char == ")":
                if not opened:
                    raise _UnwritableError(f"unbalanced ')' at {match.start()}")
                self.closing[opened.pop()] = match.start()
        if opened:
            raise _UnwritableError(f"unbalanced '(' at {opened[-1]}")

    def group(self, start: int, end: int) -> _Item:
        """The group ``regex[start:end]`` (the whole text when it is not one group)."""
        regex = self.regex
        inner = start
        if start in self.closing and self.closing[start] == end - 1:
            inner = start + (3 if regex.startswith("(?:", start) else 1)
            end -= 1
        branches: list[list[_Item]] = []
        items: list[_Item] = []
        position = inner
        while position < end:
            match = _TOKEN.match(regex, position)
            if match is None:
                raise _UnwritableError(f"unexpected regex text {regex[position:][:20]!r}")
            kind = match.lastgroup
            token_end = match.end()
            if kind == "ref":
                rule = int(match["ref"])
                items.append(_Item(_REF, position, token_end, token_end, rule=rule, has_ref=True))
            elif kind in ("atom", "run"):
                items.append(_Item(_ATOM, position, token_end, token_end, run=kind == "run"))
            elif kind == "open":
                close = self.closing[position] + 1
                if regex.find("\x00", position, close) < 0:  # no reference inside
                    items.append(_Item(_GROUP, position, close, close, parser=self))
                else:
                    items.append(self.group(position, close))
                token_end = close
            elif kind == "bar":
                branches.append(items)
                items = []
            else:
                _repeat(items, match.group(), position, token_end)
            position = token_end
        branches.append(items)
        return _Item(
            _GROUP,
            start,
            end + (inner != start),
            end + (inner != start),
            branches=branches,
            has_ref=any(item.has_ref for branch in branches for item in branch),
            empty=any(
                not any(item.has_ref for item in branch) and all(item.nullable for item in branch)
                for branch in branches
            ),
        )


def _parse(regex: str) -> _Item:
    """The structure of ``regex``, as one group spanning the whole text."""
    return _Parser(regex).group(0, len(regex))


def _repeat(items: list[_Item], text: str, start: int, end: int) -> None:
    """Applies the repeat ``text`` (at ``start:end``) to the last item."""
    last = items[-1] if items else None
    if last is None or last.end != start or (last.low, last.high) != (1, 1):
        raise _UnwritableError(f"a repeat {text!r} with nothing (or a repeat) before it")
    if len(text) > 1 and text[-1] in "?+":
        raise _UnwritableError(f"lazy or possessive repeat {text!r}")
    if last.run and last.end - last.start > 1:  # a run of characters: the last one repeats
        last.end = last.base_end = start - 1
        last = _Item(_ATOM, start - 1, start, start)
        items.append(last)
    last.low, last.high = _bounds(text)
    last.end = end


def _bounds(text: str) -> tuple[int, int | None]:
    if text == "*":
        return 0, None
    if text == "+":
        return 1, None
    if text == "?":
        return 0, 1
    low, comma, high = text[1:-1].partition(",")
    if not comma:
        return int(low), int(low)
    return int(low), int(high) if high else None


def _repeat_text(low: int, high: int | None) -> str:
    return "" if (low, high) == (1, 1) else quantifier(low, high)


def _productive(trees: Mapping[int, _Item]) -> set[int]:
    """The rules that derive some finite text (the least fixed point)."""
    done: set[int] = set()
    changed = True
    while changed:
        changed = False
        for number, tree in trees.items():
            if number not in done and _derives(tree, done):
                done.add(number)
                changed = True
    return done


def _derives(item: _Item, done: set[int]) -> bool:
    if item.low == 0 or not item.has_ref:
        return True
    if item.kind == _REF:
        return item.rule in done
    return any(all(_derives(i, done) for i in branch) for branch in item.branches)


def _lark_regex(regex: str) -> str:
    """``regex`` as a Lark ``/.../`` literal (a ``/`` is escaped, which ``re`` reads alike)."""
    body = re.sub(r"\\.|/", lambda m: "\\/" if m.group() == "/" else m.group(), regex)
    return f"/{body}/"


@dataclass(frozen=True, slots=True)
class _Repeat:
    """A sequence repeated: ``op`` is ``"*"`` or ``"+"``."""

    body: _Sequence
    op: str


_Part = str | _Repeat  # a rule or terminal name, or a repeat
_Sequence = tuple[_Part, ...]  # () is the empty text
_Expression = tuple[_Sequence, bool]  # a sequence, whether it matches ""


def _text(sequence: _Sequence) -> str:
    """A sequence as Lark EBNF."""
    return " ".join(_part_text(part) for part in sequence)


def _part_text(part: _Part) -> str:
    if isinstance(part, str):
        return part
    body = part.body
    text = body[0] if len(body) == 1 and isinstance(body[0], str) else f"({_text(body)})"
    return text + part.op


@dataclass(frozen=True)
class SchemaGrammar:
    """The grammar of a schema as :class:`_Writer` writes it: per rule (``start`` first), its
    alternatives, sequences of names and repeats; per terminal name, its regex (typedgen's
    syntax, verbatim from the schema compiler)."""

    rules: dict[str, list[_Sequence]]
    terminals: dict[str, str]

    def lark(self) -> str:
        """The grammar as Lark text: one line per rule, then one per terminal."""
        lines = [f"{name}: {' | '.join(map(_text, body))}" for name, body in self.rules.items()]
        lines += [f"{name}: {_lark_regex(regex)}" for name, regex in self.terminals.items()]
        return "\n".join(lines) + "\n"

    def cfg(self) -> Cfg:
        """The same grammar as a :class:`~typedgen._cfg.Cfg`, without reading the Lark text:
        each repeat becomes a loop rule (:func:`~typedgen._cfg.loop`); the lines are those of
        :meth:`lark`."""
        lines = {name: number for number, name in enumerate(self.rules, 1)}
        terminals = {
            name: Terminal(name, regex, number)
            for number, (name, regex) in enumerate(self.terminals.items(), len(lines) + 1)
        }
        rules: dict[str, list[tuple[Symbol, ...]]] = {}
        loops: dict[_Sequence, str] = {}

        def symbols(owner: str, sequence: _Sequence) -> tuple[Symbol, ...]:
            out: list[Symbol] = []
            for part in sequence:
                if isinstance(part, str):
                    out.append(("term", part) if part in terminals else ("rule", part))
                    continue
                once = symbols(owner, part.body)
                name = loops.get(part.body)
                if name is None:
                    name = loops[part.body] = f"__{owner}_star_{len(loops)}"
                    lines[name] = lines[owner]
                out.extend(loop(rules, name, once, 1 if part.op == "+" else 0))
            return tuple(out)

        for name, body in self.rules.items():
            rules[name] = [symbols(name, sequence) for sequence in body]
        return Cfg("start", rules, terminals, (), lines)


class _Writer:
    """Writes parsed rule bodies as EBNF (:class:`SchemaGrammar`), one terminal per distinct
    regex text.

    Sequences hold names and repeats (``x*``, ``(x y)+``) only: every alternation and every
    optional part is a helper rule, since Lark rewrites ``a (b|c) d?`` into one alternative per
    combination (exponential in the optional members of an object)."""

    def __init__(
        self,
        regexes: Mapping[int, str],
        trees: Mapping[int, _Item],
        names: Mapping[int, str],
        *,
        atoms: bool,
    ) -> None:
        self.regexes = regexes
        self.trees = trees
        self.names = names
        self.productive = _productive(trees)
        self.terminals: dict[str, str] = {}
        self.helpers: dict[tuple[_Sequence, ...], str] = {}  # alternatives -> helper rule name
        self.wanted: dict[int, None] = {}  # rules referenced, in order of first use
        self.regex = ""
        self.atoms = atoms

    def grammar(self) -> SchemaGrammar:
        rules: dict[str, list[_Sequence]] = {}
        self.wanted[-1] = None
        done: set[int] = set()
        while len(done) < len(self.wanted):
            number = next(n for n in self.wanted if n not in done)
            done.add(number)
            self.regex = self.regexes[number]
            tree = self.trees[number]
            while len(tree.branches) == 1 and len(tree.branches[0]) == 1:  # (?:a|b) as a|b
                inner = tree.branches[0][0]
                if inner.kind != _GROUP or (inner.low, inner.high) != (1, 1):
                    break
                tree = inner
            options = self.alternatives(tree) if (tree.low, tree.high) == (1, 1) else None
            if options is None:
                expression = self.item(tree)
                options = None if expression is None else [expression[0]]
            if not options:  # unreachable: only productive rules are referenced
                raise _UnwritableError(f"rule {self.names[number]} derives nothing")
            rules[self.names[number]] = options
        for body, name in self.helpers.items():
            rules[name] = list(body)
        return SchemaGrammar(rules, {name: regex for regex, name in self.terminals.items()})

    def alternatives(self, group: _Item) -> list[_Sequence] | None:
        """The EBNF of each branch of ``group`` that derives text (``()``: the empty text; the
        empty text last), ``None`` when none does."""
        written = [w for w in (self.sequence(b) for b in group.branches) if w is not None]
        if not written:
            return None
        sequences = list(dict.fromkeys(sequence for sequence, _ in written if sequence))
        if any(nullable for _, nullable in written):
            sequences.append(())
        return sequences

    def sequence(self, items: list[_Item]) -> _Expression | None:
        parts: list[_Part] = []
        nullable = True
        run: list[_Item] = []
        for item in [*items, None]:
            if item is not None and not item.has_ref and not self.atoms:
                run.append(item)
                continue
            if run:
                if all(i.nullable for i in run):
                    parts.extend(part for i in run for part in self.optional(i))
                else:
                    parts.append(self.terminal(self.regex[run[0].start : run[-1].end]))
                    nullable = False
                run = []
            if item is not None:
                expression = self.item(item)
                if expression is None:
                    return None
                parts.extend(expression[0])
                nullable = nullable and expression[1]
        return tuple(parts), nullable

    def optional(self, item: _Item) -> _Sequence:
        """An item without references that may match the empty text, as EBNF whose terminals
        cannot (Earley's dynamic lexers refuse terminals that match the empty text)."""
        if item.high == 0:
            return ()
        if item.kind == _ATOM or not item.base_nullable:
            base = self.regex[item.start : item.base_end]
            terminal = self.terminal(base + _repeat_text(max(1, item.low), item.high))
            return (self.helper((terminal,), ()),)
        expression = self.item(item)
        return () if expression is None else expression[0]

    def item(self, item: _Item) -> _Expression | None:
        if item.high == 0:
            return (), True
        base: _Expression | None
        if item.kind == _REF:
            base = None
            if item.rule in self.productive:
                self.wanted.setdefault(item.rule)
                base = (self.names[item.rule],), False
        elif item.kind == _ATOM and self.atoms and (item.low, item.high) != (1, 1):
            # a repeated character as one terminal: lark's lexer finds every length of it
            if item.low > 0:
                return (self.terminal(self.regex[item.start : item.end]),), False
            text = self.regex[item.start : item.base_end] + _repeat_text(1, item.high)
            return (self.helper((self.terminal(text),), ()),), True
        elif item.kind == _ATOM or not (item.has_ref or self.atoms or item.base_nullable):
            base = (self.terminal(self.regex[item.start : item.base_end]),), False
        else:
            options = self.alternatives(item.parsed())
            if options is None:
                base = None
            elif len(options) == 1:
                base = options[0], not options[0]
            else:
                base = (self.helper(*options),), () in options
        return self.repeated(base, item.low, item.high)

    def repeated(self, base: _Expression | None, low: int, high: int | None) -> _Expression | None:
        if base is None:
            return ((), True) if low == 0 else None
        sequence, nullable = base
        if not sequence or (low, high) == (1, 1):
            return base
        if nullable and (high is None or high > 1):
            raise _UnwritableError("a repeat of a part that may be empty")
        if high is None and low <= 1:
            return (_Repeat(sequence, "*" if low == 0 else "+"),), low == 0
        if (high or low) > MAX_REPEAT:
            raise _UnwritableError(f"a repeat of more than {MAX_REPEAT} recursive values")
        name = self.helper(sequence)
        parts: list[_Part] = [name] * low
        if high is None:
            parts.append(_Repeat((name,), "*"))
        else:
            tail: _Sequence = ()  # up to high - low more copies: a chain of optional rules
            for _ in range(high - low):
                tail = (self.helper((name, *tail), ()),)
            parts.extend(tail)
        return tuple(parts), low == 0

    def terminal(self, regex: str) -> str:
        name = self.terminals.get(regex)
        if name is None:
            name = self.terminals[regex] = f"T{len(self.terminals)}"
        return name

    def helper(self, *alternatives: _Sequence) -> str:
        """A rule name for the alternatives (``()`` for the empty text)."""
        if len(alternatives) == 1 and len(alternatives[0]) == 1:
            only = alternatives[0][0]
            if isinstance(only, str):
                return only
        name = self.helpers.get(alternatives)
        if name is None:
            name = self.helpers[alternatives] = f"h{len(self.helpers)}"
        return name
