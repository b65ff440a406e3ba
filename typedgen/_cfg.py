"""Grammar texts → :class:`Cfg`, the plain context-free form that ``typedgen._grammar`` compiles.

Two syntaxes are read:

* **Lark** (``rule: ...``, ``TERMINAL: ...``, ``%import``, ``%ignore``): read by the ``lark``
  package's own grammar loader (``lark.load_grammar``; no lark parser is built), with the checks
  of ``lark.Lark(..., parser="earley", lexer="dynamic_complete")``, which expands
  ``?rule``, ``[...]``, ``*``, ``+``, ``~ n..m``, templates and imports into plain rules (BNF)
  and terminals (regular expressions). Each terminal's regex is then read by typedgen's own
  regex front end (``typedgen._regex``), which refuses what it cannot honour exactly
  (lookarounds, inline flags, ...).
* **GBNF** (llama.cpp's ``root ::= ...``): a small parser of our own (:func:`read_gbnf`).
  Every sub-expression that calls no rule (literals, classes, their groups and repeats) becomes
  one terminal, so it is matched by a single lazy DFA.

Only the language matters here, never parse trees: aliases, ``?``/``!`` prefixes and rule
priorities (which under Earley only choose among parses) have no effect on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from typedgen._errors import GrammarError, RegexError

__all__ = [
    "Cfg",
    "Symbol",
    "Terminal",
    "detect_syntax",
    "loop",
    "read_gbnf",
    "read_grammar",
    "read_lark",
]

Syntax = Literal["lark", "gbnf"]

Symbol = tuple[Literal["rule", "term"], str]
"""A symbol of an alternative: ``("rule", name)`` or ``("term", name)``."""


@dataclass(frozen=True)
class Terminal:
    """A terminal: every string that ``pattern`` (typedgen's regex syntax) fully matches."""

    name: str
    pattern: str
    line: int | None = None


@dataclass
class Cfg:
    """A context-free grammar: per rule, its alternatives (sequences of symbols).

    ``ignore`` names the terminals that may appear between any two terminals, before the first
    and after the last (Lark's ``%ignore``); ``lines`` gives the line of each rule for errors.
    """

    start: str
    rules: dict[str, list[tuple[Symbol, ...]]]
    terminals: dict[str, Terminal]
    ignore: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int | None:
        terminal = self.terminals.get(name)
        return terminal.line if terminal is not None else self.lines.get(name)


def loop(
    rules: dict[str, list[tuple[Symbol, ...]]], name: str, once: tuple[Symbol, ...], low: int
) -> tuple[Symbol, ...]:
    """The symbols of ``once`` repeated ``low`` or more times: ``low`` copies, then rule
    ``name``, which this defines as ``once*`` (``name: | name once``: direct left recursion,
    which the grammar engine runs as a loop)."""
    rules[name] = [(), (("rule", name), *once)]
    return once * low + (("rule", name),)


def detect_syntax(text: str) -> Syntax:
    """``"gbnf"`` when a line defines a rule with ``::=`` (outside a comment), else ``"lark"``."""
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        if re.match(r"\s*[A-Za-z0-9_-]+\s*::=", code):
            return "gbnf"
    return "lark"


def read_grammar(text: str, *, syntax: Syntax | None = None, start: str | None = None) -> Cfg:
    """``text`` in the given syntax (detected by :func:`detect_syntax` when ``None``); ``start``
    defaults to ``"start"`` for Lark and ``"root"`` for GBNF."""
    if syntax is None:
        syntax = detect_syntax(text)
    if syntax == "lark":
        return read_lark(text, start=start or "start")
    if syntax == "gbnf":
        return read_gbnf(text, start=start or "root")
    raise GrammarError(f"unknown grammar syntax {syntax!r}; expected 'lark' or 'gbnf'")


# --------------------------------------------------------------------------------------------
# Lark

# lark's common.ESCAPED_STRING ends its body with a lookbehind; this is the same language
# under lark's Earley scanner: no newline, and a quote or backslash only escaped
_EXACT_COMMON = {
    "ESCAPED_STRING": r'"(?:[^"\\\n]|\\[^\n])*"',
}
_LARK_ESCAPED_STRING = r'".*?(?<!\\)(\\\\)*?"'


def read_lark(text: str, *, start: str = "start") -> Cfg:
    """Read a Lark grammar with the ``lark`` package; raises :class:`GrammarError` for a syntax
    error, a ``%declare``'d terminal (it has no pattern), a terminal with flags other than
    ``i`` on a string, or a terminal regex that typedgen cannot honour exactly."""
    from lark.exceptions import GrammarError as LarkGrammarError
    from lark.exceptions import LarkError
    from lark.load_grammar import load_grammar
    from lark.utils import get_regexp_width

    try:
        grammar, _ = load_grammar(text, "<string>", [], False)  # type: ignore[no-untyped-call]
        definitions, lark_rules, ignored = grammar.compile([start], set())
    except LarkGrammarError as exc:
        raise GrammarError(f"lark cannot read the grammar: {exc}", line=_lark_line(exc)) from exc
    except LarkError as exc:
        raise GrammarError(
            f"lark cannot read the grammar: {exc}", line=getattr(exc, "line", None)
        ) from exc
    lines = _definition_lines(text)
    terminals: dict[str, Terminal] = {}
    for definition in definitions:  # what lark's Earley parser (dynamic lexer) refuses
        try:
            empty = get_regexp_width(definition.pattern.to_regexp())[0] == 0
        except ValueError as exc:
            raise GrammarError(
                f"lark cannot read the regex of terminal {definition.name}: {exc}",
                rule=definition.name,
                line=lines.get(definition.name),
            ) from exc
        if empty:
            raise GrammarError(
                f"terminal {definition.name} matches the empty text (lark's Earley parser "
                "refuses zero-width terminals)",
                rule=definition.name,
                line=lines.get(definition.name),
            )
        terminals[definition.name] = _lark_terminal(definition, lines.get(definition.name))
    rules: dict[str, list[tuple[Symbol, ...]]] = {}
    for rule in lark_rules:
        name = rule.origin.name
        symbols: list[Symbol] = []
        for symbol in rule.expansion:
            if symbol.is_term:
                if symbol.name not in terminals:
                    raise GrammarError(
                        f"terminal {symbol.name} has no pattern (%declare is not supported: "
                        "typedgen needs the language of every terminal)",
                        rule=_user_rule(name),
                        line=lines.get(_user_rule(name)),
                    )
                symbols.append(("term", symbol.name))
            else:
                symbols.append(("rule", symbol.name))
        rules.setdefault(name, []).append(tuple(symbols))
    ignore = tuple(ignored)
    for name in ignore:
        if name not in terminals:
            raise GrammarError(f"%ignore of {name}, which is not a terminal", rule=name)
    if start not in rules:
        raise GrammarError(f"the grammar has no start rule {start!r}", rule=start)
    return Cfg(start, rules, terminals, ignore, {k: v for k, v in lines.items() if k in rules})


def _lark_terminal(definition: object, line: int | None) -> Terminal:
    from lark.lexer import PatternStr

    name: str = definition.name  # type: ignore[attr-defined]
    pattern = definition.pattern  # type: ignore[attr-defined]
    flags = set(pattern.flags)
    if isinstance(pattern, PatternStr):
        if flags - {"i"}:
            raise GrammarError(
                f"terminal {name} has flags {sorted(flags)}; only 'i' is supported on strings",
                rule=name,
                line=line,
            )
        value: str = pattern.value
        regex = "".join(_case_blind(c) if "i" in flags else _escape(c) for c in value)
        return Terminal(name, regex, line)
    if flags:
        raise GrammarError(
            f"terminal {name} is a regex with flags {sorted(flags)}; typedgen supports no "
            "regex flags (write the cases out, e.g. [aA])",
            rule=name,
            line=line,
        )
    regex = pattern.value
    if regex == _LARK_ESCAPED_STRING and name in _EXACT_COMMON:
        regex = _EXACT_COMMON[name]
    return Terminal(name, regex, line)


def _user_rule(name: str) -> str:
    """The user's rule behind a helper rule lark made (``__obj_star_0`` → ``obj``)."""
    match = re.fullmatch(r"__(.+?)_(?:star|plus|anon)_\d+", name)
    return match.group(1) if match else name


def _definition_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = re.match(r"\s*[?!]?([A-Za-z_][A-Za-z0-9_]*)(?:\.-?\d+)?\s*:", line)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _lark_line(exc: Exception) -> int | None:
    match = re.search(r"\bline (\d+)", str(exc))
    return int(match.group(1)) if match else None


_METACHARACTERS = frozenset("\\.^$*+?()[]{}|/-")


def _escape(c: str) -> str:
    if c in _METACHARACTERS:
        return "\\" + c
    if c == "\n":
        return "\\n"
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\x{ord(c):02x}"
    return c


def _case_blind(c: str) -> str:
    """``c`` matched in any case, as ``str.lower``/``upper`` single characters give it (what
    Python's ``re.IGNORECASE`` does for these letters)."""
    cases = {c, c.lower(), c.upper()}
    cases = {x for x in cases if len(x) == 1}
    if len(cases) == 1:
        return _escape(c)
    return "[" + "".join(_escape(x) for x in sorted(cases)) + "]"


# --------------------------------------------------------------------------------------------
# GBNF


@dataclass(frozen=True)
class _Token:
    kind: str  # name, define, literal, class, any, op, eof
    value: str
    line: int


_GBNF_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<define>::=)
  | (?P<name>[A-Za-z0-9_-]+)
  | (?P<literal>"(?:[^"\\\n]|\\.)*")
  | (?P<class>\[(?:[^\]\\\n]|\\.)*\])
  | (?P<any>\.)
  | (?P<op>\{\s*\d+\s*(?:,\s*\d*\s*)?\}|[|*+?()])
    """,
    re.VERBOSE,
)

_GBNF_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]"}


def _gbnf_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, line = 0, 1
    while pos < len(text):
        match = _GBNF_TOKEN.match(text, pos)
        if match is None:
            raise GrammarError(f"GBNF syntax error near {text[pos : pos + 20]!r}", line=line)
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group(), line))
        line += match.group().count("\n")
        pos = match.end()
    tokens.append(_Token("eof", "", line))
    return tokens


def _gbnf_chars(body: str, line: int) -> list[str]:
    """The characters of a literal's or class's body, escapes decoded (``\\`` before a class
    metacharacter is kept as ``\\x`` so the class reader still sees it escaped)."""
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= len(body):
            raise GrammarError("GBNF escape at the end of a literal", line=line)
        e = body[i + 1]
        if e in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise GrammarError(f"GBNF escape \\{e} needs {width} hex digits", line=line)
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif e in _GBNF_ESCAPES:
            out.append("\\" + e if e in "[]^-" else _GBNF_ESCAPES[e])
            i += 2
        elif e in "^-":
            out.append("\\" + e)
            i += 2
        else:
            raise GrammarError(f"unknown GBNF escape \\{e}", line=line)
    return out


def _class_regex(token: _Token) -> str:
    """A GBNF character class as a regex class."""
    chars = _gbnf_chars(token.value[1:-1], token.line)
    negate = bool(chars) and chars[0] == "^"
    if negate:
        chars = chars[1:]
    parts: list[str] = []
    i = 0
    while i < len(chars):
        c = chars[i][-1]
        if i + 2 < len(chars) and chars[i + 1] == "-":
            hi = chars[i + 2][-1]
            if ord(hi) < ord(c):
                raise GrammarError(f"GBNF class range {c!r}-{hi!r} is reversed", line=token.line)
            parts.append(_class_char(c) + "-" + _class_char(hi))
            i += 3
        else:
            parts.append(_class_char(c))
            i += 1
    if not parts:
        if negate:
            return "(?:.|\\n)"
        raise GrammarError("empty GBNF character class []", line=token.line)
    return "[" + ("^" if negate else "") + "".join(parts) + "]"


def _class_char(c: str) -> str:
    if c in "\\]^-[":
        return "\\" + c
    if ord(c) < 0x20 or ord(c) == 0x7F:
        return f"\\x{ord(c):02x}"
    return c


# GBNF expressions: ("lit", regex) for anything without rule references, ("ref", name),
# ("seq", items), ("alt", items), ("rep", item, lo, hi or -1)
_Expr = tuple[object, ...]


class _GbnfReader:
    def __init__(self, text: str) -> None:
        self.tokens = _gbnf_tokens(text)
        self.pos = 0
        self.rules: dict[str, list[tuple[Symbol, ...]]] = {}
        self.terminals: dict[str, Terminal] = {}
        self.by_pattern: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.helpers = 0

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def read(self) -> None:
        bodies: list[tuple[str, int, _Expr]] = []
        while self.peek().kind != "eof":
            name = self.take()
            if name.kind != "name" or self.peek().kind != "define":
                raise GrammarError(f"GBNF: expected 'name ::=' at {name.value!r}", line=name.line)
            self.take()
            if name.value in self.lines:
                raise GrammarError(
                    f"GBNF rule {name.value} is defined twice "
                    f"(first at line {self.lines[name.value]})",
                    rule=name.value,
                    line=name.line,
                )
            self.lines[name.value] = name.line
            bodies.append((name.value, name.line, self.alternatives()))
        for rule, line, body in bodies:
            self.define(rule, body, line)
        for rule, alternatives in self.rules.items():
            for alternative in alternatives:
                for kind, target in alternative:
                    if kind == "rule" and target not in self.rules:
                        raise GrammarError(
                            f"GBNF rule {rule} uses undefined rule {target}",
                            rule=rule,
                            line=self.lines.get(rule),
                        )

    def at_rule_start(self) -> bool:
        return self.peek().kind == "name" and self.peek(1).kind == "define"

    def alternatives(self) -> _Expr:
        items = [self.sequence()]
        while self.peek().value == "|" and self.peek().kind == "op":
            self.take()
            items.append(self.sequence())
        return items[0] if len(items) == 1 else ("alt", *items)

    def sequence(self) -> _Expr:
        items: list[_Expr] = []
        while True:
            token = self.peek()
            if token.kind == "eof" or self.at_rule_start():
                break
            if token.kind == "op" and token.value in "|)":
                break
            items.append(self.repeat(self.primary()))
        return items[0] if len(items) == 1 else ("seq", *items)

    def primary(self) -> _Expr:
        token = self.take()
        if token.kind == "name":
            return ("ref", token.value, token.line)
        if token.kind == "literal":
            chars = _gbnf_chars(token.value[1:-1], token.line)
            return ("lit", "".join(_escape(c[-1]) for c in chars))
        if token.kind == "class":
            return ("lit", _class_regex(token))
        if token.kind == "any":
            return ("lit", "(?:.|\\n)")
        if token.kind == "op" and token.value == "(":
            inner = self.alternatives()
            close = self.take()
            if close.value != ")":
                raise GrammarError("GBNF: unclosed '('", line=token.line)
            return inner
        raise GrammarError(f"GBNF: unexpected {token.value or 'end of text'!r}", line=token.line)

    def repeat(self, item: _Expr) -> _Expr:
        while self.peek().kind == "op" and self.peek().value[0] in "*+?{":
            op = self.take()
            if op.value == "*":
                item = ("rep", item, 0, -1)
            elif op.value == "+":
                item = ("rep", item, 1, -1)
            elif op.value == "?":
                item = ("rep", item, 0, 1)
            else:
                bounds = op.value[1:-1].replace(" ", "").split(",")
                lo = int(bounds[0])
                hi = lo if len(bounds) == 1 else (int(bounds[1]) if bounds[1] else -1)
                if hi != -1 and hi < lo:
                    raise GrammarError(f"GBNF repeat {op.value} has max < min", line=op.line)
                item = ("rep", item, lo, hi)
        return item

    # lowering to rules
    def regular(self, expr: _Expr) -> bool:
        kind = expr[0]
        if kind == "lit":
            return True
        if kind == "ref":
            return False
        if kind == "rep":
            return self.regular(expr[1])  # type: ignore[arg-type]
        return all(self.regular(e) for e in expr[1:])  # type: ignore[arg-type]

    def regex(self, expr: _Expr) -> str:
        kind = expr[0]
        if kind == "lit":
            return str(expr[1])
        if kind == "seq":
            return "".join(f"(?:{self.regex(e)})" for e in expr[1:])  # type: ignore[arg-type]
        if kind == "alt":
            return "|".join(f"(?:{self.regex(e)})" for e in expr[1:])  # type: ignore[arg-type]
        lo, hi = expr[2], expr[3]
        bound = {(0, -1): "*", (1, -1): "+", (0, 1): "?"}.get((lo, hi))  # type: ignore[arg-type]
        if bound is None:
            bound = f"{{{lo},}}" if hi == -1 else f"{{{lo},{hi}}}"
        return f"(?:{self.regex(expr[1])}){bound}"  # type: ignore[arg-type]

    def terminal(self, regex: str, line: int) -> Symbol:
        name = self.by_pattern.get(regex)
        if name is None:
            name = f"T{len(self.terminals)}"
            self.by_pattern[regex] = name
            self.terminals[name] = Terminal(name, regex, line)
        return ("term", name)

    def helper(self, owner: str, line: int) -> str:
        self.helpers += 1
        name = f"{owner}__{self.helpers}"
        self.lines[name] = line
        return name

    def define(self, rule: str, expr: _Expr, line: int) -> None:
        alternatives = list(expr[1:]) if expr[0] == "alt" and not self.regular(expr) else [expr]
        self.rules[rule] = [self.symbols(rule, alt, line) for alt in alternatives]  # type: ignore[arg-type]

    def symbols(self, owner: str, expr: _Expr, line: int) -> tuple[Symbol, ...]:
        if self.regular(expr):
            if expr == ("seq",):
                return ()
            return (self.terminal(self.regex(expr), line),)
        kind = expr[0]
        if kind == "ref":
            return (("rule", str(expr[1])),)
        if kind == "seq":
            return tuple(s for e in expr[1:] for s in self.symbols(owner, e, line))  # type: ignore[arg-type]
        name = self.helper(owner, line)
        if kind == "alt":
            self.define(name, expr, line)
            return (("rule", name),)
        item, lo, hi = expr[1], int(expr[2]), int(expr[3])  # type: ignore[call-overload]
        once = self.symbols(owner, item, line)  # type: ignore[arg-type]
        if hi == -1:  # item{lo,}: lo copies, then a loop
            return loop(self.rules, name, once, lo)
        # item{lo,hi}: lo copies, then hi - lo nested optional copies
        optional: tuple[Symbol, ...] = ()
        for _ in range(hi - lo):
            inner = self.helper(owner, line)
            self.rules[inner] = [(), once + optional]
            optional = (("rule", inner),)
        self.rules[name] = [once * lo + optional]
        return (("rule", name),)


def read_gbnf(text: str, *, start: str = "root") -> Cfg:
    """Read a llama.cpp GBNF grammar: rules ``name ::= ...``, ``"..."`` literals (escapes
    ``\\n \\t \\r \\\\ \\" \\xNN \\uNNNN \\UNNNNNNNN``), ``[...]``/``[^...]`` classes,
    ``.``, ``( )``, ``|``, ``* + ?``, ``{m}``, ``{m,}``, ``{m,n}`` and ``#`` comments. Raises
    :class:`GrammarError` with the line of a syntax error or an undefined rule."""
    reader = _GbnfReader(text)
    reader.read()
    if start not in reader.rules:
        raise GrammarError(f"the GBNF grammar has no start rule {start!r}", rule=start)
    return Cfg(start, reader.rules, reader.terminals, (), reader.lines)


def check_terminal(terminal: Terminal, error: RegexError) -> GrammarError:
    """The :class:`GrammarError` for a terminal whose regex typedgen refuses."""
    return GrammarError(
        f"terminal {terminal.name} cannot be honoured exactly: {error}",
        rule=terminal.name,
        line=terminal.line,
    )
