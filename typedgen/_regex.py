"""Regular expression → byte-level NFA (UTF-8 aware), the input of the lazy DFA in ``_fsm``.

The pattern is parsed by a small recursive-descent parser of our own (it keeps the position of
every construct, so that an unsupported one is reported exactly where it is) into a tiny AST,
which is lowered to an epsilon-NFA over **bytes**: every character, literal or class, becomes
the UTF-8 byte sequences that encode it (surrogates excluded; they have no UTF-8 form). The NFA
is returned as flat ``int32`` edge arrays; :class:`typedgen._fsm.RegexAutomaton` builds DFA states
from it lazily, on first use, in C.

Supported syntax (the meaning is Python's :func:`re.fullmatch` on ``str``, with ``re.ASCII``
classes): literals; escaped metacharacters; ``.`` (any character but ``\\n``); classes
``[...]``/``[^...]`` with ranges and escapes; ``\\d \\D \\w \\W \\s \\S`` (ASCII);
``\\a \\f \\n \\r \\t \\v \\0``, octal ``\\ooo``, ``\\xNN``, ``\\uNNNN``,
``\\UNNNNNNNN``, ``\\N{NAME}``; groups ``(...)``, ``(?:...)``, ``(?P<name>...)``; comments
``(?#...)``; ``|``; ``* + ?``, ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` and their lazy forms
(``*?``..., the same language under a full match); ``^``/``\\A`` at the start and
``$``/``\\Z`` at the end of a top-level alternative (no-ops under a full match).

Unsupported (raise :class:`~typedgen.RegexError` naming the construct and its position):
backreferences, lookarounds, inner anchors and word boundaries, inline flags, atomic groups,
possessive quantifiers, conditionals.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from typedgen._errors import RegexError, StateLimitError

__all__ = ["DEFAULT_MAX_STATES", "Nfa", "regex_to_nfa"]

DEFAULT_MAX_STATES = 200_000
"""Default limit on NFA nodes and on DFA states of one pattern."""

_MAX_CODEPOINT = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)
_DIGIT = ((0x30, 0x39),)
_WORD = ((0x30, 0x39), (0x41, 0x5A), (0x5F, 0x5F), (0x61, 0x7A))
_SPACE = ((0x09, 0x0D), (0x20, 0x20))
# a run of characters that stand for themselves (no metacharacter, no escape)
_LITERAL_RUN = re.compile(r"[^\\\[(){|*+?.^$]+")
# the text of a character class (the parser validates it)
_CLASS_EXTENT = re.compile(r"\[\^?\]?(?:\\.|[^\]\\])*\]", re.DOTALL)
_SIMPLE_ESCAPES = {"a": 7, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11}

# AST nodes are tuples (fast to build): ("lit", bytes) | ("set", ranges) | ("cat", [nodes])
# | ("alt", [nodes]) | ("rep", node, min, max or -1) ; plus the two constants below.
_EMPTY: tuple[object, ...] = ("empty",)  # matches the empty string only
_NONE: tuple[object, ...] = ("none",)  # matches nothing
_Node = tuple[object, ...]
_Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Nfa:
    """An epsilon-NFA over bytes. Edge ``k`` goes from ``src[k]`` to ``dst[k]`` on any byte in
    ``lo[k]..hi[k]``, or on no input when ``lo[k] == -1``. Node 0 is the start, ``accept`` the
    only accepting node; every node lies on a path from the start to ``accept``."""

    num_nodes: int
    src: npt.NDArray[np.int32]
    lo: npt.NDArray[np.int32]
    hi: npt.NDArray[np.int32]
    dst: npt.NDArray[np.int32]
    accept: int


def regex_to_nfa(pattern: str, *, max_states: int = DEFAULT_MAX_STATES) -> Nfa:
    """Parse ``pattern`` and lower it to a byte-level :class:`Nfa`.

    Raises :class:`RegexError` for unsupported or malformed syntax (with its position), or when
    the pattern matches no string, and :class:`StateLimitError` when the NFA would need more
    than ``max_states`` nodes.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, not {type(pattern).__name__}")
    ast = _Parser(pattern).parse()
    if ast is _NONE:
        raise RegexError("the pattern matches no string", pattern=pattern)
    builder = _NfaBuilder(pattern, max_states)
    accept = builder.emit(ast, 0)
    return builder.finish(accept)


# --------------------------------------------------------------------------------------------
# parser


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.n = len(pattern)
        self.classes: dict[str, _Node] = {}  # class text -> node, for repeated classes

    def error(self, message: str, position: int) -> RegexError:
        return RegexError(message, pattern=self.p, position=position)

    def parse(self) -> _Node:
        node = self.alternation(top=True)
        if self.i < self.n:  # only a stray ')' stops an alternation early
            raise self.error("unbalanced parenthesis ')'", self.i)
        return node

    def alternation(self, *, top: bool) -> _Node:
        branches = [self.concatenation(top=top)]
        while self.i < self.n and self.p[self.i] == "|":
            self.i += 1
            branches.append(self.concatenation(top=top))
        return _alt(branches)

    def concatenation(self, *, top: bool) -> _Node:
        p, n = self.p, self.n
        items: list[_Node] = []
        start = self.i
        while self.i < n:
            c = p[self.i]
            if c in "|)":
                break
            run = _LITERAL_RUN.match(p, self.i)
            if run is not None:
                end = run.end()
                if end < n and p[end] in "*+?{":
                    end -= 1  # the last character is quantified: it is parsed as an atom
                if end > self.i:
                    items.append(_literal(p[self.i : end]))
                    self.i = end
                    continue
            pos = self.i
            if c in "^$" or (c == "\\" and pos + 1 < n and p[pos + 1] in "AZbB"):
                self.anchor(top=top, start=start)
                continue
            atom = self.atom()
            if self.i < n and p[self.i] in "*+?{":
                atom = self.quantified(atom)
            items.append(atom)
        return _cat(items)

    def anchor(self, *, top: bool, start: int) -> None:
        p, pos = self.p, self.i
        c = p[pos]
        if c == "\\":
            kind = p[pos + 1]
            self.i += 2
            if kind in "bB":
                raise self.error(f"word boundary '\\{kind}' is not supported", pos)
            at_start = kind == "A"
            text = "\\" + kind
        else:
            self.i += 1
            at_start = c == "^"
            text = c
        ok = top and (pos == start if at_start else self.i >= self.n or p[self.i] == "|")
        if not ok:
            raise self.error(
                f"anchor {text!r} is only supported at the start (^, \\A) or end ($, \\Z) "
                "of a top-level alternative",
                pos,
            )
        if self.i < self.n and p[self.i] in "*+?":
            raise self.error(f"nothing to repeat: quantifier after anchor {text!r}", self.i)

    def atom(self) -> _Node:
        p, pos = self.p, self.i
        c = p[pos]
        if c == "(":
            return self.group()
        if c == "[":
            return self.char_class()
        if c == ".":
            self.i += 1
            return _set(((0, 9), (11, _MAX_CODEPOINT)))
        if c == "\\":
            ranges, cp = self.escape(in_class=False)
            return _set(ranges) if ranges is not None else _char(cp)
        if c in "*+?":
            raise self.error(f"nothing to repeat: {c!r}", pos)
        if c == "{" and self.braces() is not None:
            raise self.error("nothing to repeat: '{'", pos)
        self.i += 1
        return _char(ord(c))

    def group(self) -> _Node:
        p, pos, n = self.p, self.i, self.n
        self.i += 1
        if p.startswith("?", self.i):
            rest = p[self.i + 1 : self.i + 3]
            if rest.startswith(":"):
                self.i += 2
            elif rest == "P<":
                end = p.find(">", self.i)
                if end < 0 or not p[self.i + 3 : end].isidentifier():
                    raise self.error("bad group name in '(?P<'", pos)
                self.i = end + 1
            elif rest.startswith("#"):
                end = p.find(")", self.i)
                if end < 0:
                    raise self.error("unterminated comment '(?#'", pos)
                self.i = end + 1
                return _EMPTY
            else:
                raise self.error(self.group_construct(rest), pos)
        node = self.alternation(top=False)
        if self.i >= n or p[self.i] != ")":
            raise self.error("missing ')': group never closed", pos)
        self.i += 1
        return node

    @staticmethod
    def group_construct(rest: str) -> str:
        if rest.startswith(("=", "!")):
            return f"lookahead '(?{rest[0]}' is not supported"
        if rest in ("<=", "<!"):
            return f"lookbehind '(?{rest}' is not supported"
        if rest == "P=":
            return "backreference '(?P=' is not supported"
        if rest.startswith(">"):
            return "atomic group '(?>' is not supported"
        if rest.startswith("("):
            return "conditional '(?(' is not supported"
        return f"inline flags or group extension '(?{rest[:1]}' are not supported"

    def braces(self) -> tuple[int, int] | None:
        """Parse ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` at self.i (not consumed); None if it is
        a literal brace (as Python does)."""
        p = self.p
        end = p.find("}", self.i)
        if end < 0:
            return None
        body = p[self.i + 1 : end]
        lo_text, comma, hi_text = body.partition(",")
        if not (lo_text.isdigit() or (comma and not lo_text)) or not lo_text.isascii():
            return None
        if hi_text and not (hi_text.isdigit() and hi_text.isascii()):
            return None
        lo = int(lo_text) if lo_text else 0
        hi = (int(hi_text) if hi_text else -1) if comma else lo
        return lo, hi

    def quantified(self, atom: _Node) -> _Node:
        p, pos = self.p, self.i
        c = p[pos]
        if c == "{":
            bounds = self.braces()
            if bounds is None:
                return atom  # a literal '{': the caller parses it as the next atom
            lo, hi = bounds
            if hi != -1 and hi < lo:
                raise self.error(f"bad repeat interval {{{lo},{hi}}}: max < min", pos)
            self.i = p.index("}", pos) + 1
        else:
            self.i += 1
            lo, hi = {"*": (0, -1), "+": (1, -1), "?": (0, 1)}[c]
        if self.i < self.n:
            nxt = p[self.i]
            if nxt == "?":
                self.i += 1  # lazy: the same language under a full match
            elif nxt == "+":
                raise self.error("possessive quantifier is not supported", self.i)
        if self.i < self.n and (p[self.i] in "*+?" or (p[self.i] == "{" and self.braces())):
            raise self.error("multiple repeat", self.i)
        return _rep(atom, lo, hi)

    def escape(self, *, in_class: bool) -> tuple[_Ranges | None, int]:
        """Parse an escape at self.i; return (ranges, -1) for a class escape or (None, cp)."""
        p, pos = self.p, self.i
        if pos + 1 >= self.n:
            raise self.error("bad escape: '\\' at end of pattern", pos)
        c = p[pos + 1]
        self.i = pos + 2
        if c in "dDwWsS":
            base = {"d": _DIGIT, "w": _WORD, "s": _SPACE}[c.lower()]
            return (base if c.islower() else _negate(base)), -1
        if c in _SIMPLE_ESCAPES:
            return None, _SIMPLE_ESCAPES[c]
        if c == "b" and in_class:
            return None, 8
        if c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = p[self.i : self.i + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise self.error(f"bad escape '\\{c}': expected {width} hex digits", pos)
            self.i += width
            cp = int(digits, 16)
            if cp > _MAX_CODEPOINT:
                raise self.error(f"bad escape '\\{c}{digits}': beyond U+10FFFF", pos)
            return None, cp
        if c == "N":
            end = p.find("}", self.i)
            if not p.startswith("{", self.i) or end < 0:
                raise self.error("bad escape '\\N': expected '{NAME}'", pos)
            try:
                ch = unicodedata.lookup(p[self.i + 1 : end])
            except KeyError:
                raise self.error("bad escape '\\N': unknown character name", pos) from None
            self.i = end + 1
            return None, ord(ch)
        if c in "01234567" and (c == "0" or in_class or _is_octal(p[self.i : self.i + 2], 2)):
            digits = c
            while len(digits) < 3 and self.i < self.n and p[self.i] in "01234567":
                digits += p[self.i]
                self.i += 1
            value = int(digits, 8)
            if value > 0o377:
                raise self.error(f"octal escape '\\{digits}' out of range", pos)
            return None, value
        if c.isdigit():
            if in_class:
                raise self.error(f"bad escape '\\{c}' in a character class", pos)
            raise self.error(f"backreference '\\{c}' is not supported", pos)
        if c.isascii() and c.isalpha():
            raise self.error(f"bad escape '\\{c}'", pos)
        return None, ord(c)

    def char_class(self) -> _Node:
        extent = _CLASS_EXTENT.match(self.p, self.i)
        if extent is None:
            return self.parse_class()
        node = self.classes.get(extent.group())
        if node is None:
            node = self.classes[extent.group()] = self.parse_class()
        else:
            self.i = extent.end()
        return node

    def parse_class(self) -> _Node:
        p, pos, n = self.p, self.i, self.n
        self.i += 1
        negated = self.i < n and p[self.i] == "^"
        if negated:
            self.i += 1
        ranges: list[tuple[int, int]] = []
        first = True
        while True:
            if self.i >= n:
                raise self.error("unterminated character class '['", pos)
            c = p[self.i]
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            item_pos = self.i
            lo_ranges, lo = self.class_item()
            if lo_ranges is not None:
                ranges.extend(lo_ranges)
                if self.i + 1 < n and p[self.i] == "-" and p[self.i + 1] != "]":
                    raise self.error("bad character range: a class escape as endpoint", item_pos)
                continue
            if self.i + 1 < n and p[self.i] == "-" and p[self.i + 1] != "]":
                self.i += 1
                hi_ranges, hi = self.class_item()
                if hi_ranges is not None:
                    raise self.error("bad character range: a class escape as endpoint", item_pos)
                if hi < lo:
                    raise self.error(f"bad character range {chr(lo)!r}-{chr(hi)!r}", item_pos)
                ranges.append((lo, hi))
            else:
                ranges.append((lo, lo))
        merged = _normalize(ranges)
        return _set(_negate(merged) if negated else merged)

    def class_item(self) -> tuple[_Ranges | None, int]:
        c = self.p[self.i]
        if c == "\\":
            return self.escape(in_class=True)
        self.i += 1
        return None, ord(c)


def _is_octal(text: str, length: int) -> bool:
    return len(text) == length and all(ch in "01234567" for ch in text)


def _normalize(ranges: list[tuple[int, int]] | _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return tuple(out)


def _negate(ranges: _Ranges) -> _Ranges:
    out: list[tuple[int, int]] = []
    nxt = 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CODEPOINT:
        out.append((nxt, _MAX_CODEPOINT))
    return tuple(out)


def _without_surrogates(ranges: _Ranges) -> _Ranges:
    s_lo, s_hi = _SURROGATES
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if hi < s_lo or lo > s_hi:
            out.append((lo, hi))
            continue
        if lo < s_lo:
            out.append((lo, s_lo - 1))
        if hi > s_hi:
            out.append((s_hi + 1, hi))
    return tuple(out)


def _literal(text: str) -> _Node:
    try:
        return ("lit", text.encode())
    except UnicodeEncodeError:
        return _NONE  # a surrogate has no UTF-8 form: no valid text contains it


def _char(cp: int) -> _Node:
    if _SURROGATES[0] <= cp <= _SURROGATES[1]:
        return _NONE  # a surrogate has no UTF-8 form: no valid text contains it
    return ("lit", chr(cp).encode())


def _set(ranges: _Ranges) -> _Node:
    ranges = _without_surrogates(ranges)
    if not ranges:
        return _NONE
    if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
        return _char(ranges[0][0])
    return ("set", ranges)


def _cat(items: list[_Node]) -> _Node:
    out: list[_Node] = []
    for item in items:
        if item is _NONE:
            return _NONE
        if item is _EMPTY:
            continue
        if item[0] == "cat":
            out.extend(item[1])  # type: ignore[arg-type]
        elif item[0] == "lit" and out and out[-1][0] == "lit":
            out[-1] = ("lit", out[-1][1] + item[1])  # type: ignore[operator]
        else:
            out.append(item)
    if not out:
        return _EMPTY
    return out[0] if len(out) == 1 else ("cat", out)


def _alt(branches: list[_Node]) -> _Node:
    live = [b for b in branches if b is not _NONE]
    if not live:
        return _NONE
    return live[0] if len(live) == 1 else ("alt", live)


def _rep(atom: _Node, lo: int, hi: int) -> _Node:
    if atom is _NONE:
        return _EMPTY if lo == 0 else _NONE
    if atom is _EMPTY or hi == 0:
        return _EMPTY
    if lo == hi == 1:
        return atom
    return ("rep", atom, lo, hi)


# --------------------------------------------------------------------------------------------
# UTF-8 expansion


def _utf8_sequences(ranges: _Ranges) -> list[tuple[tuple[int, int], ...]]:
    """Byte-range sequences whose union encodes exactly the code points in ``ranges``."""
    out: list[tuple[tuple[int, int], ...]] = []
    stack = list(ranges)
    while stack:
        lo, hi = stack.pop()
        for bound in (0x7F, 0x7FF, 0xFFFF):
            if lo <= bound < hi:
                stack.append((lo, bound))
                stack.append((bound + 1, hi))
                break
        else:
            if hi < 0x80:
                out.append(((lo, hi),))
                continue
            length = len(chr(lo).encode())
            for i in range(1, length):
                m = (1 << (6 * i)) - 1
                if lo & ~m != hi & ~m:
                    if lo & m:
                        stack.append((lo, lo | m))
                        stack.append(((lo | m) + 1, hi))
                        break
                    if hi & m != m:
                        stack.append((lo, (hi & ~m) - 1))
                        stack.append((hi & ~m, hi))
                        break
            else:
                out.append(tuple(zip(chr(lo).encode(), chr(hi).encode(), strict=True)))
    return out


# --------------------------------------------------------------------------------------------
# NFA construction

_Edges = tuple[list[int], list[int], list[int], list[int]]


class _NfaBuilder:
    """Emit edges into flat arrays. ``emit(node, entry)`` adds the edges that match ``node``
    starting from node ``entry`` and returns the node reached at the end. Constructs that loop
    start from a fresh node, so that edges sharing an entry never mix alternatives."""

    def __init__(self, pattern: str, max_states: int) -> None:
        self.pattern = pattern
        self.max_states = max_states
        self.num_nodes = 1
        self.src: list[int] = []
        self.lo: list[int] = []
        self.hi: list[int] = []
        self.dst: list[int] = []
        self.chunks: list[npt.NDArray[np.int32]] = []  # flushed edges, shape (4, k)
        self.class_templates: dict[
            _Ranges, tuple[int, list[int], list[int], list[int], list[int]]
        ] = {}

    def new_node(self) -> int:
        node = self.num_nodes
        self.num_nodes += 1
        return node

    def reserve(self, count: int) -> int:
        first = self.num_nodes
        self.num_nodes += count
        if self.num_nodes > self.max_states:
            raise StateLimitError(pattern=self.pattern, limit=self.max_states)
        return first

    def edge(self, src: int, lo: int, hi: int, dst: int) -> None:
        self.src.append(src)
        self.lo.append(lo)
        self.hi.append(hi)
        self.dst.append(dst)

    def flush(self) -> int:
        """Move pending edges into a chunk; return the number of chunks."""
        if self.src:
            self.chunks.append(np.array([self.src, self.lo, self.hi, self.dst], dtype=np.int32))
            self.src, self.lo, self.hi, self.dst = [], [], [], []
        return len(self.chunks)

    def emit(self, node: _Node, entry: int) -> int:
        kind = node[0]
        if kind == "lit":
            data: bytes = node[1]  # type: ignore[assignment]
            first = self.reserve(len(data))
            last = first + len(data) - 1
            self.src.append(entry)
            self.src.extend(range(first, last))
            self.lo.extend(data)
            self.hi.extend(data)
            self.dst.extend(range(first, last + 1))
            return last
        if kind == "set":
            return self.emit_set(node[1], entry)  # type: ignore[arg-type]
        if kind == "cat":
            for child in node[1]:  # type: ignore[attr-defined]
                entry = self.emit(child, entry)
            return entry
        if kind == "alt":
            exit_node = self.reserve(1)
            for child in node[1]:  # type: ignore[attr-defined]
                self.edge(self.emit(child, entry), -1, -1, exit_node)
            return exit_node
        if kind == "rep":
            return self.emit_repeat(node[1], node[2], node[3], entry)  # type: ignore[arg-type]
        if kind == "empty":
            return entry
        raise AssertionError(f"unexpected AST node {kind}")  # pragma: no cover

    def emit_set(self, ranges: _Ranges, entry: int) -> int:
        template = self.class_templates.get(ranges)
        if template is None:
            # a prefix-shared trie of the UTF-8 sequences; node 0 = entry, node 1 = exit
            count = 2
            src: list[int] = []
            lo_bytes: list[int] = []
            hi_bytes: list[int] = []
            dst: list[int] = []
            inner: dict[tuple[int, int, int], int] = {}
            for seq in _utf8_sequences(ranges):
                cur = 0
                for k, (lo, hi) in enumerate(seq):
                    if k == len(seq) - 1:
                        nxt = 1
                    else:
                        nxt = inner.get((cur, lo, hi), -1)
                        if nxt >= 0:
                            cur = nxt
                            continue
                        nxt = inner[(cur, lo, hi)] = count
                        count += 1
                    src.append(cur)
                    lo_bytes.append(lo)
                    hi_bytes.append(hi)
                    dst.append(nxt)
                    cur = nxt
            template = self.class_templates[ranges] = (count, src, lo_bytes, hi_bytes, dst)
        count, src, lo_bytes, hi_bytes, dst = template
        base = self.reserve(count - 1) - 1  # local node k >= 1 -> base + k
        self.src.extend([entry if s == 0 else base + s for s in src])
        self.lo.extend(lo_bytes)
        self.hi.extend(hi_bytes)
        self.dst.extend([base + d for d in dst])
        return base + 1

    def emit_repeat(self, child: _Node, lo: int, hi: int, entry: int) -> int:
        if lo == 0 and hi == 1:  # optional: a fresh exit, reached with or without the child
            exit_node = self.reserve(1)
            self.edge(self.emit(child, entry), -1, -1, exit_node)
            self.edge(entry, -1, -1, exit_node)
            return exit_node
        if lo == 0 and hi == -1:  # star: a fresh loop node
            loop = self.reserve(1)
            self.edge(entry, -1, -1, loop)
            self.edge(self.emit(child, loop), -1, -1, loop)
            return loop
        copies = lo if hi == -1 else hi
        # one block, emitted from a fresh node, then copied with shifted node numbers
        mark_chunks, mark_edges = len(self.chunks), len(self.src)
        start = self.reserve(1)
        end = self.emit(child, start)
        size = self.num_nodes - start
        if copies > 1:
            self.reserve(size * (copies - 1))
            self.copy_block(mark_chunks, mark_edges, size, copies - 1)
        self.edge(entry, -1, -1, start)
        for i in range(copies - 1):
            self.edge(end + i * size, -1, -1, start + (i + 1) * size)
        last_start, last_end = start + (copies - 1) * size, end + (copies - 1) * size
        if hi == -1:  # {m,}: the last copy repeats
            self.edge(last_end, -1, -1, last_start)
            return last_end
        exit_node = self.reserve(1)
        for i in range(lo, copies):
            self.edge(start + i * size, -1, -1, exit_node)
        self.edge(last_end, -1, -1, exit_node)
        return exit_node

    def copy_block(self, mark_chunks: int, mark_edges: int, size: int, times: int) -> None:
        """Append ``times`` copies of the edges emitted since the mark, the k-th shifted by
        ``k * size`` nodes."""
        if len(self.chunks) == mark_chunks:
            block = [self.src[mark_edges:], self.lo[mark_edges:], self.hi[mark_edges:]]
            block.append(self.dst[mark_edges:])
            if len(block[0]) * times <= 2048:
                for k in range(1, times + 1):
                    shift = k * size
                    self.src.extend([x + shift for x in block[0]])
                    self.lo.extend(block[1])
                    self.hi.extend(block[2])
                    self.dst.extend([x + shift for x in block[3]])
                return
            array = np.array(block, dtype=np.int32)
        else:  # the block holds flushed chunks (a large repeat inside): gather them
            self.flush()
            parts = [self.chunks[mark_chunks][:, mark_edges:], *self.chunks[mark_chunks + 1 :]]
            array = np.concatenate(parts, axis=1)
        shifts = np.arange(1, times + 1, dtype=np.int32).repeat(array.shape[1]) * size
        copied = np.tile(array, times)
        copied[0] += shifts
        copied[3] += shifts
        self.flush()
        self.chunks.append(copied)

    def finish(self, accept: int) -> Nfa:
        self.flush()
        if self.chunks:
            edges = np.concatenate(self.chunks, axis=1)
        else:
            edges = np.zeros((4, 0), dtype=np.int32)
        return Nfa(
            num_nodes=self.num_nodes,
            src=np.ascontiguousarray(edges[0]),
            lo=np.ascontiguousarray(edges[1]),
            hi=np.ascontiguousarray(edges[2]),
            dst=np.ascontiguousarray(edges[3]),
            accept=accept,
        )
