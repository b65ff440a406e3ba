"""Regular expression → byte-level NFA (UTF-8 aware), the input of the lazy DFA in ``_fsm``.

The pattern is parsed by a small recursive-descent parser of our own (it keeps the position of
every construct, so that an unsupported one is reported exactly where it is) into a tiny AST,
which is lowered to an epsilon-NFA over **bytes**: every character, literal or class, becomes
the UTF-8 byte sequences that encode it (surrogates excluded; they have no UTF-8 form). The NFA
is returned as flat ``int32`` edge arrays; :class:`typedgen._fsm.RegexAutomaton` builds DFA states
from it lazily, on first use, in C.

Compiled with Cython: the parser reads the pattern as a C array of code points, the AST and the
edges live in C arrays, and Python objects are made only for error messages and the result.

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
possessive quantifiers, conditionals, and groups nested more than ``MAX_NESTING`` deep.
Like Python, it refuses a group name defined twice.
"""

cimport cython
from libc.stdint cimport int32_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, qsort, realloc
from libc.string cimport memcmp, memcpy

from typedgen._hashing cimport hash_ints

import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from typedgen._errors import RegexError, StateLimitError

__all__ = [
    "DEFAULT_MAX_NODES",
    "MAX_NESTING",
    "MAX_NODE_IDS",
    "VIRTUAL_COPIES",
    "Nfa",
    "regex_to_nfa",
]

DEFAULT_MAX_NODES = 1_500_000
"""Default limit on the NFA nodes of one pattern (a node costs some 30 bytes: a regex of a
megabyte compiles in about 0.1 s)."""

MAX_NESTING = 1000
"""Deepest supported nesting of groups (the parser and the NFA builder recurse on it)."""

VIRTUAL_COPIES = 8
"""Counted repeats with at least this many copies are kept as one copy (see :class:`Nfa`)."""

MAX_NODE_IDS = 1 << 28
"""Most node numbers, virtual copies included, of one NFA (the automaton keeps one mark per
number, in memory the system maps only where it is touched)."""


@dataclass(frozen=True)
class Nfa:
    """An epsilon-NFA over bytes. Edge ``k`` goes from ``src[k]`` to ``dst[k]`` on any byte in
    ``lo[k]..hi[k]``, or on no input when ``lo[k] == -1``. Node 0 is the start, ``accept`` the
    only accepting node; every node lies on a path from the start to ``accept``.

    A counted repeat ``X{m,n}`` with ``n >= VIRTUAL_COPIES`` is not copied ``n`` times: row
    ``(start, size, copies, lo, end, exit)`` of ``blocks`` stands for it. Nodes
    ``start .. start + size - 1`` (with edges above) are its first copy of ``X``, entered at
    ``start`` and left at ``end``; copy ``i`` (``1 <= i < copies``) is the same nodes shifted,
    numbered after ``num_nodes`` (``typedgen._fsm.RegexAutomaton`` numbers them). The edges
    between copies are implied, not listed: the end of copy ``i`` leads to the start of copy
    ``i + 1``, the start of copy ``i >= lo`` and the end of the last copy lead to ``exit``. No
    block lies inside another block's first copy."""

    num_nodes: int
    src: npt.NDArray[np.int32]
    lo: npt.NDArray[np.int32]
    hi: npt.NDArray[np.int32]
    dst: npt.NDArray[np.int32]
    accept: int
    blocks: npt.NDArray[np.int32]


def regex_to_nfa(pattern, *, max_nodes=DEFAULT_MAX_NODES):
    """Parse ``pattern`` and lower it to a byte-level :class:`Nfa`.

    Raises :class:`RegexError` for unsupported or malformed syntax (with its position), or when
    the pattern matches no string, and :class:`StateLimitError` when the NFA would need more
    than ``max_nodes`` nodes (node numbers are ``int32``: never more than ``2**31 - 1``).
    """
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str, not {type(pattern).__name__}")
    return _Builder(pattern, max_nodes).build()


# --------------------------------------------------------------------------------------------
# C helpers: growable int32 vectors, an open-addressing hash index, UTF-8


cdef extern from "Python.h":
    Py_UCS4* PyUnicode_AsUCS4Copy(object text) except NULL
    void PyMem_Free(void* p)


cdef enum:
    MAX_CP = 0x10FFFF
    SURROGATE_LO = 0xD800
    SURROGATE_HI = 0xDFFF
    CLASS_ESCAPE = 0x110000  # escape(): CLASS_ESCAPE + k for \d \D \w \W \s \S (k = 0..5)
    EPS = -1
    # AST node kinds
    K_LIT = 0  # bytes a .. a+b of the literal buffer
    K_SET = 1  # set a (interned code point ranges)
    K_CAT = 2  # children a .. a+b of the child buffer
    K_ALT = 3  # children a .. a+b of the child buffer
    K_REP = 4  # node a, repeated lo..hi times (hi = -1: unbounded)
    K_EMPTY = 5
    K_NONE = 6
    # fixed node ids
    EMPTY = 0  # matches the empty string only
    NONE = 1  # matches nothing

cdef int64_t BIG_COUNT = (<int64_t>1) << 62  # repeat counts saturate here
cdef const char* CLASS_LETTERS = b"dDwWsS"  # escape() returns CLASS_ESCAPE + their index
cdef const char* CONTROL_LETTERS = b"afnrtv"  # escapes of the control characters below
cdef int32_t[6] CONTROL_CODES = [7, 12, 10, 13, 9, 11]
cdef int64_t NODE_CAP = 2147483647  # node numbers are int32


cdef struct Vec:
    int32_t* data
    Py_ssize_t n
    Py_ssize_t cap


cdef int vec_grow(Vec* v, Py_ssize_t extra) except -1:
    """Make room for ``extra`` more items."""
    if v.n + extra <= v.cap:
        return 0
    cdef Py_ssize_t cap = v.cap * 2
    if cap < v.n + extra:
        cap = v.n + extra
    if cap < 16:
        cap = 16
    cdef int32_t* data = <int32_t*>realloc(v.data, cap * sizeof(int32_t))
    if data == NULL:
        raise MemoryError()
    v.data = data
    v.cap = cap
    return 0


cdef inline int vec_push(Vec* v, int32_t x) except -1:
    if v.n == v.cap:
        vec_grow(v, 1)
    v.data[v.n] = x
    v.n += 1
    return 0


cdef inline int vec_push2(Vec* v, int32_t x, int32_t y) except -1:
    if v.n + 2 > v.cap:
        vec_grow(v, 2)
    v.data[v.n] = x
    v.data[v.n + 1] = y
    v.n += 2
    return 0


cdef struct Node:
    int32_t kind
    int32_t a
    int32_t b
    int64_t lo
    int64_t hi


cdef struct Index:
    # open addressing: slot -> entry id (-1 empty) and the entry's hash
    int32_t* ids
    uint64_t* hashes
    Py_ssize_t mask
    Py_ssize_t count


cdef int index_init(Index* t, Py_ssize_t capacity) except -1:
    cdef Py_ssize_t k
    t.ids = <int32_t*>realloc(NULL, capacity * sizeof(int32_t))
    t.hashes = <uint64_t*>realloc(NULL, capacity * sizeof(uint64_t))
    if t.ids == NULL or t.hashes == NULL:
        raise MemoryError()
    for k in range(capacity):
        t.ids[k] = -1
    t.mask = capacity - 1
    t.count = 0
    return 0


cdef int index_add(Index* t, uint64_t h, int32_t entry) except -1:
    cdef int32_t* old_ids
    cdef uint64_t* old_hashes
    cdef Py_ssize_t old_cap, k, slot
    if (t.count + 1) * 2 > t.mask + 1:
        old_ids, old_hashes, old_cap = t.ids, t.hashes, t.mask + 1
        t.ids = NULL
        t.hashes = NULL
        try:
            index_init(t, old_cap * 2)
        except MemoryError:
            free(t.ids)
            free(t.hashes)
            t.ids, t.hashes, t.mask = old_ids, old_hashes, old_cap - 1
            raise
        for k in range(old_cap):
            if old_ids[k] >= 0:
                slot = old_hashes[k] & t.mask
                while t.ids[slot] >= 0:
                    slot = (slot + 1) & t.mask
                t.ids[slot] = old_ids[k]
                t.hashes[slot] = old_hashes[k]
        free(old_ids)
        free(old_hashes)
    slot = h & t.mask
    while t.ids[slot] >= 0:
        slot = (slot + 1) & t.mask
    t.ids[slot] = entry
    t.hashes[slot] = h
    t.count += 1
    return 0


cdef inline uint64_t hash_chars(const Py_UCS4* items, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 1469598103934665603ULL ^ <uint64_t>n
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ <uint64_t>items[k]) * 1099511628211ULL
    return h ^ (h >> 29)


cdef inline int utf8_encode(uint32_t cp, int32_t* out) noexcept nogil:
    """Write the UTF-8 bytes of ``cp`` (not a surrogate) to ``out``; return their number."""
    if cp < 0x80:
        out[0] = cp
        return 1
    if cp < 0x800:
        out[0] = 0xC0 | (cp >> 6)
        out[1] = 0x80 | (cp & 0x3F)
        return 2
    if cp < 0x10000:
        out[0] = 0xE0 | (cp >> 12)
        out[1] = 0x80 | ((cp >> 6) & 0x3F)
        out[2] = 0x80 | (cp & 0x3F)
        return 3
    out[0] = 0xF0 | (cp >> 18)
    out[1] = 0x80 | ((cp >> 12) & 0x3F)
    out[2] = 0x80 | ((cp >> 6) & 0x3F)
    out[3] = 0x80 | (cp & 0x3F)
    return 4


cdef int compare_ranges(const void* x, const void* y) noexcept nogil:
    cdef const int32_t* a = <const int32_t*>x
    cdef const int32_t* b = <const int32_t*>y
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    if a[1] != b[1]:
        return -1 if a[1] < b[1] else 1
    return 0


cdef inline bint is_quantifier_start(Py_UCS4 c) noexcept nogil:
    return c == u'*' or c == u'+' or c == u'?' or c == u'{'


cdef inline bint is_octal(Py_UCS4 c) noexcept nogil:
    return u'0' <= c <= u'7'


cdef inline int hex_value(Py_UCS4 c) noexcept nogil:
    if u'0' <= c <= u'9':
        return <int>c - 48
    if u'a' <= c <= u'f':
        return <int>c - 87
    if u'A' <= c <= u'F':
        return <int>c - 55
    return -1


# code point ranges of the ASCII class escapes, as flat (lo, hi) pairs
cdef int32_t DIGIT_RANGES[2]
cdef int32_t WORD_RANGES[8]
cdef int32_t SPACE_RANGES[4]
DIGIT_RANGES[:] = [0x30, 0x39]
WORD_RANGES[:] = [0x30, 0x39, 0x41, 0x5A, 0x5F, 0x5F, 0x61, 0x7A]
SPACE_RANGES[:] = [0x09, 0x0D, 0x20, 0x20]
cdef int32_t DOT_RANGES[4]
DOT_RANGES[:] = [0, 9, 11, MAX_CP]


cdef struct Braces:
    int64_t lo
    int64_t hi  # -1: unbounded
    bint big  # a count saturated at BIG_COUNT
    Py_ssize_t lo_end  # index of ',' or '}' after the minimum
    Py_ssize_t end  # index of '}'


def _group_construct(rest: str) -> str:
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


# --------------------------------------------------------------------------------------------
# parser and NFA builder


@cython.final
cdef class _Builder:
    """Parses one pattern into a C AST, then emits its NFA edges into flat C arrays.

    AST nodes are rows of ``nodes``; node 0 is EMPTY and node 1 NONE. ``emit(node, entry)``
    adds the edges that match ``node`` starting from NFA node ``entry`` and returns the node
    reached at the end. Constructs that loop start from a fresh node, so that edges sharing an
    entry never mix alternatives."""

    cdef object pattern
    cdef object limit  # max_nodes as given, for StateLimitError
    cdef set group_names
    cdef int64_t cap  # max NFA nodes: min(max_nodes, NODE_CAP)
    cdef Py_UCS4* p
    cdef Py_ssize_t n, i
    # AST
    cdef Node* nodes
    cdef Py_ssize_t n_nodes, cap_nodes
    cdef Vec literal  # bytes of LIT nodes
    cdef Vec children  # child lists of CAT and ALT nodes
    cdef Vec items  # work stack of the parser
    cdef Vec scratch  # code point ranges of the class being parsed
    cdef Vec scratch2
    # interned sets: ranges, per set (offset, pairs, node, template)
    cdef Vec set_ranges, set_off, set_len, set_node
    cdef Index set_index
    # class text -> node, for classes written again (entries: start, length, node)
    cdef Vec class_start, class_len, class_node
    cdef Index class_index
    cdef int32_t escape_nodes[7]  # \d \D \w \W \s \S and '.'
    # UTF-8 templates of sets: per set (offset in template edges, edges, nodes) or -1
    cdef Vec tmpl_off, tmpl_len, tmpl_count
    cdef Vec tmpl  # quadruples src, lo, hi, dst (local nodes; 0 = entry, 1 = exit)
    cdef Vec stack  # range pairs of the UTF-8 split
    # NFA
    cdef int64_t num_nodes
    cdef Vec src, lo, hi, dst
    cdef Vec blocks  # six numbers per virtual repeat block, see Nfa
    cdef int64_t virtual_ids  # node numbers of the blocks' virtual copies

    def __cinit__(self, str pattern, max_nodes):
        cdef int k
        self.pattern = pattern
        self.limit = max_nodes
        self.group_names = set()
        cdef int64_t limit = max_nodes
        self.cap = limit if limit < NODE_CAP else NODE_CAP
        if self.cap < -1:
            self.cap = -1
        self.n = len(pattern)
        self.p = PyUnicode_AsUCS4Copy(pattern)
        index_init(&self.set_index, 64)
        index_init(&self.class_index, 64)
        for k in range(7):
            self.escape_nodes[k] = -1
        self.num_nodes = 1
        self.edges(self.n + 16)  # typical patterns have fewer edges than characters
        vec_grow(&self.literal, self.n + 16)
        self.add_node(K_EMPTY, 0, 0)
        self.add_node(K_NONE, 0, 0)

    def __dealloc__(self):
        PyMem_Free(self.p)
        free(self.nodes)
        free(self.literal.data)
        free(self.children.data)
        free(self.items.data)
        free(self.scratch.data)
        free(self.scratch2.data)
        free(self.set_ranges.data)
        free(self.set_off.data)
        free(self.set_len.data)
        free(self.set_node.data)
        free(self.class_start.data)
        free(self.class_len.data)
        free(self.class_node.data)
        free(self.tmpl_off.data)
        free(self.tmpl_len.data)
        free(self.tmpl_count.data)
        free(self.tmpl.data)
        free(self.stack.data)
        free(self.src.data)
        free(self.lo.data)
        free(self.hi.data)
        free(self.dst.data)
        free(self.blocks.data)
        free(self.set_index.ids)
        free(self.set_index.hashes)
        free(self.class_index.ids)
        free(self.class_index.hashes)

    cdef object build(self):
        cdef int32_t ast = self.parse()
        if ast == NONE:
            raise RegexError("the pattern matches no string", pattern=self.pattern)
        cdef int32_t accept = self.emit(ast, 0)
        edges = np.empty((4, self.src.n), dtype=np.int32)
        cdef int32_t[:, ::1] view = edges
        if self.src.n:
            memcpy(&view[0, 0], self.src.data, self.src.n * sizeof(int32_t))
            memcpy(&view[1, 0], self.lo.data, self.src.n * sizeof(int32_t))
            memcpy(&view[2, 0], self.hi.data, self.src.n * sizeof(int32_t))
            memcpy(&view[3, 0], self.dst.data, self.src.n * sizeof(int32_t))
        blocks = np.empty((self.blocks.n // 6, 6), dtype=np.int32)
        cdef int32_t[:, ::1] block_view = blocks
        if self.blocks.n:
            memcpy(&block_view[0, 0], self.blocks.data, self.blocks.n * sizeof(int32_t))
        return Nfa(  # the rows of one array: each is C-contiguous
            num_nodes=self.num_nodes,
            src=edges[0],
            lo=edges[1],
            hi=edges[2],
            dst=edges[3],
            accept=accept,
            blocks=blocks,
        )

    cdef int fail(self, message, Py_ssize_t position) except -1:
        raise RegexError(message, pattern=self.pattern, position=position)

    # --- AST nodes ---------------------------------------------------------------------------

    cdef int32_t add_node(self, int32_t kind, int32_t a, int32_t b) except -1:
        cdef Node* nodes
        if self.n_nodes == self.cap_nodes:
            self.cap_nodes = self.cap_nodes * 2 if self.cap_nodes else 256
            nodes = <Node*>realloc(self.nodes, self.cap_nodes * sizeof(Node))
            if nodes == NULL:
                raise MemoryError()
            self.nodes = nodes
        cdef Node* node = &self.nodes[self.n_nodes]
        node.kind = kind
        node.a = a
        node.b = b
        node.lo = 0
        node.hi = 0
        self.n_nodes += 1
        return <int32_t>(self.n_nodes - 1)

    cdef int32_t char_node(self, Py_UCS4 cp) except -1:
        if SURROGATE_LO <= cp <= SURROGATE_HI:
            return NONE  # a surrogate has no UTF-8 form: no valid text contains it
        vec_grow(&self.literal, 4)
        cdef int length = utf8_encode(cp, self.literal.data + self.literal.n)
        self.literal.n += length
        return self.add_node(K_LIT, <int32_t>(self.literal.n - length), length)

    cdef int32_t set_node_of(self, const int32_t* ranges, Py_ssize_t pairs) except -1:
        """The node of normalized code point ``ranges``, without surrogates; sets are
        interned, so equal sets share one node and one UTF-8 template."""
        cdef Vec* out = &self.scratch2
        cdef Py_ssize_t k, s
        cdef int32_t lo, hi
        out.n = 0
        for k in range(pairs):
            lo, hi = ranges[2 * k], ranges[2 * k + 1]
            if hi < SURROGATE_LO or lo > SURROGATE_HI:
                vec_push2(out, lo, hi)
                continue
            if lo < SURROGATE_LO:
                vec_push2(out, lo, SURROGATE_LO - 1)
            if hi > SURROGATE_HI:
                vec_push2(out, SURROGATE_HI + 1, hi)
        if out.n == 0:
            return NONE
        if out.n == 2 and out.data[0] == out.data[1]:
            return self.char_node(out.data[0])
        cdef uint64_t h = hash_ints(out.data, out.n)
        cdef Index* index = &self.set_index
        cdef Py_ssize_t slot = h & index.mask
        while index.ids[slot] >= 0:
            s = index.ids[slot]
            if (
                index.hashes[slot] == h
                and self.set_len.data[s] == out.n
                and memcmp(
                    self.set_ranges.data + self.set_off.data[s],
                    out.data,
                    out.n * sizeof(int32_t),
                ) == 0
            ):
                return self.set_node.data[s]
            slot = (slot + 1) & index.mask
        s = self.set_off.n
        vec_push(&self.set_off, <int32_t>self.set_ranges.n)
        vec_push(&self.set_len, <int32_t>out.n)
        vec_grow(&self.set_ranges, out.n)
        memcpy(self.set_ranges.data + self.set_ranges.n, out.data, out.n * sizeof(int32_t))
        self.set_ranges.n += out.n
        vec_push(&self.set_node, self.add_node(K_SET, <int32_t>s, 0))
        vec_push(&self.tmpl_off, -1)
        vec_push(&self.tmpl_len, 0)
        vec_push(&self.tmpl_count, 0)
        index_add(index, h, <int32_t>s)
        return self.set_node.data[s]

    cdef int push_escape_ranges(self, Vec* out, int which) except -1:
        """Append the ranges of class escape ``which`` (0..5: \\d \\D \\w \\W \\s \\S)."""
        cdef const int32_t* base
        cdef Py_ssize_t pairs, k
        if which < 2:
            base, pairs = DIGIT_RANGES, 1
        elif which < 4:
            base, pairs = WORD_RANGES, 4
        else:
            base, pairs = SPACE_RANGES, 2
        if which % 2 == 0:
            for k in range(2 * pairs):
                vec_push(out, base[k])
        else:
            negate(base, pairs, out)
        return 0

    cdef int32_t escape_node(self, int which) except -1:
        """The node of class escape ``which`` (0..5) or of '.' (6)."""
        if self.escape_nodes[which] < 0:
            if which == 6:
                self.escape_nodes[which] = self.set_node_of(DOT_RANGES, 2)
            else:
                self.scratch.n = 0
                self.push_escape_ranges(&self.scratch, which)
                self.escape_nodes[which] = self.set_node_of(self.scratch.data, self.scratch.n // 2)
        return self.escape_nodes[which]

    cdef int32_t list_node(self, int32_t kind, Py_ssize_t base) except -1:
        """A CAT or ALT node of items[base:] (two or more)."""
        cdef Py_ssize_t count = self.items.n - base
        cdef int32_t first = <int32_t>self.children.n
        vec_grow(&self.children, count)
        memcpy(self.children.data + first, self.items.data + base, count * sizeof(int32_t))
        self.children.n += count
        return self.add_node(kind, first, <int32_t>count)

    cdef int32_t rep_node(self, int32_t atom, int64_t lo, int64_t hi) except -1:
        if atom == NONE:
            return EMPTY if lo == 0 else NONE
        if atom == EMPTY or hi == 0:
            return EMPTY
        if lo == 1 and hi == 1:
            return atom
        cdef int32_t node = self.add_node(K_REP, atom, 0)
        self.nodes[node].lo = lo
        self.nodes[node].hi = hi
        return node

    # --- parser ------------------------------------------------------------------------------

    cdef int32_t parse(self) except -1:
        cdef int32_t node = self.alternation(True, 0)
        if self.i < self.n:  # only a stray ')' stops an alternation early
            self.fail("unbalanced parenthesis ')'", self.i)
        return node

    cdef int32_t alternation(self, bint top, int depth) except -1:
        cdef Py_ssize_t base = self.items.n
        cdef int32_t branch = self.concatenation(top, depth)
        if branch != NONE:
            vec_push(&self.items, branch)
        while self.i < self.n and self.p[self.i] == u'|':
            self.i += 1
            branch = self.concatenation(top, depth)
            if branch != NONE:
                vec_push(&self.items, branch)
        cdef Py_ssize_t live = self.items.n - base
        if live == 0:
            return NONE
        if live == 1:
            self.items.n = base
            return self.items.data[base]
        branch = self.list_node(K_ALT, base)
        self.items.n = base
        return branch

    cdef Py_ssize_t after_comments(self, Py_ssize_t pos) noexcept:
        """The position after the comments ``(?#...)`` that start at ``pos``, if any (as in
        Python, a comment is no item: a quantifier after it applies to the item before it). An
        unterminated comment is left for ``group`` to report."""
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t end
        while pos + 2 < self.n and p[pos] == u'(' and p[pos + 1] == u'?' and p[pos + 2] == u'#':
            end = pos + 3
            while end < self.n and p[end] != u')':
                end += 1
            if end >= self.n:
                break
            pos = end + 1
        return pos

    cdef int32_t concatenation(self, bint top, int depth) except -1:
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t n = self.n, base = self.items.n, start, k, nxt
        cdef bint none = False
        cdef int32_t pending = -1  # the LIT node that literal characters extend
        cdef int32_t atom
        cdef Node* node
        cdef Py_UCS4 c
        self.i = start = self.after_comments(self.i)
        while self.i < n:
            c = p[self.i]
            if c == u'|' or c == u')':
                break
            if c == u'(':
                nxt = self.after_comments(self.i)
                if nxt > self.i:
                    self.i = nxt
                    continue
            nxt = self.i + 1
            if nxt < n and p[nxt] == u'(':
                nxt = self.after_comments(nxt)
            if not (
                c == u'\\' or c == u'[' or c == u'(' or c == u'{' or c == u'*' or c == u'+'
                or c == u'?' or c == u'.' or c == u'^' or c == u'$'
            ) and not (nxt < n and is_quantifier_start(p[nxt])):
                # a character that stands for itself (and is not quantified)
                self.i += 1
                if SURROGATE_LO <= c <= SURROGATE_HI:
                    none = True  # no valid text contains it
                    continue
                if (
                    pending >= 0
                    and self.items.data[self.items.n - 1] == pending
                    and self.nodes[pending].a + self.nodes[pending].b == self.literal.n
                ):
                    vec_grow(&self.literal, 4)
                    k = utf8_encode(c, self.literal.data + self.literal.n)
                    self.literal.n += k
                    self.nodes[pending].b += <int32_t>k
                else:
                    pending = self.char_node(c)
                    vec_push(&self.items, pending)
                continue
            if c == u'^' or c == u'$' or (
                c == u'\\' and self.i + 1 < n and (
                    p[self.i + 1] == u'A' or p[self.i + 1] == u'Z'
                    or p[self.i + 1] == u'b' or p[self.i + 1] == u'B'
                )
            ):
                self.anchor(top, start)
                continue
            atom = self.atom(depth)
            self.i = self.after_comments(self.i)
            if self.i < n and is_quantifier_start(p[self.i]):
                atom = self.quantified(atom)
            if atom == NONE:
                none = True
            elif atom == EMPTY:
                pass
            elif self.nodes[atom].kind == K_CAT:
                node = &self.nodes[atom]
                for k in range(node.a, node.a + node.b):
                    vec_push(&self.items, self.children.data[k])
            else:
                vec_push(&self.items, atom)
        cdef Py_ssize_t count = self.items.n - base
        if none or count == 0:
            self.items.n = base
            return NONE if none else EMPTY
        if count == 1:
            atom = self.items.data[base]
        else:
            atom = self.list_node(K_CAT, base)
        self.items.n = base
        return atom

    cdef int anchor(self, bint top, Py_ssize_t start) except -1:
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i
        cdef Py_UCS4 c = p[pos], kind = c
        cdef bint at_start, ok
        if c == u'\\':
            kind = p[pos + 1]
            self.i += 2
            if kind == u'b' or kind == u'B':
                self.fail(f"word boundary '\\{chr(kind)}' is not supported", pos)
            at_start = kind == u'A'
        else:
            self.i += 1
            at_start = c == u'^'
        cdef Py_ssize_t nxt = self.after_comments(self.i)
        if at_start:
            ok = top and pos == start
        else:
            ok = top and (nxt >= self.n or p[nxt] == u'|')
        if not ok:
            text = chr(c) if c != u'\\' else "\\" + chr(kind)
            self.fail(
                f"anchor {text!r} is only supported at the start (^, \\A) or end ($, \\Z) "
                "of a top-level alternative",
                pos,
            )
        if nxt < self.n and (p[nxt] == u'*' or p[nxt] == u'+' or p[nxt] == u'?'):
            text = chr(c) if c != u'\\' else "\\" + chr(kind)
            self.fail(f"nothing to repeat: quantifier after anchor {text!r}", nxt)
        return 0

    cdef int32_t atom(self, int depth) except -1:
        cdef Py_ssize_t pos = self.i
        cdef Py_UCS4 c = self.p[pos]
        cdef int32_t cp
        cdef Braces braces
        if c == u'(':
            return self.group(depth)
        if c == u'[':
            return self.char_class()
        if c == u'.':
            self.i += 1
            return self.escape_node(6)
        if c == u'\\':
            cp = self.escape(False)
            if cp >= CLASS_ESCAPE:
                return self.escape_node(cp - CLASS_ESCAPE)
            return self.char_node(cp)
        if c == u'*' or c == u'+' or c == u'?':
            self.fail(f"nothing to repeat: {chr(c)!r}", pos)
        if c == u'{' and self.braces(pos, &braces):
            self.fail("nothing to repeat: '{'", pos)
        self.i += 1
        return self.char_node(c)

    cdef int32_t group(self, int depth) except -1:
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i, n = self.n, end
        if depth >= MAX_NESTING:
            self.fail(f"groups nested more than {MAX_NESTING} deep are not supported", pos)
        self.i += 1
        if self.i < n and p[self.i] == u'?':
            if self.i + 1 < n and p[self.i + 1] == u':':
                self.i += 2
            elif self.i + 2 < n and p[self.i + 1] == u'P' and p[self.i + 2] == u'<':
                end = self.pattern.find(">", self.i)
                name = self.pattern[self.i + 3 : end]
                if end < 0 or not name.isidentifier():
                    self.fail("bad group name in '(?P<'", pos)
                if name in self.group_names:
                    self.fail(f"redefinition of group name {name!r}", pos)
                self.group_names.add(name)
                self.i = end + 1
            elif self.i + 1 < n and p[self.i + 1] == u'#':  # complete ones are skipped before
                self.fail("unterminated comment '(?#'", pos)
            else:
                self.fail(_group_construct(self.pattern[self.i + 1 : self.i + 3]), pos)
        cdef int32_t node = self.alternation(False, depth + 1)
        if self.i >= n or p[self.i] != u')':
            self.fail("missing ')': group never closed", pos)
        self.i += 1
        return node

    cdef bint braces(self, Py_ssize_t at, Braces* out) noexcept:
        """Parse ``{m}``, ``{m,}``, ``{,n}``, ``{m,n}`` at ``at`` (not consumed); False if it is
        a literal brace (as Python does)."""
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t end = at + 1, comma = -1, k
        while end < self.n and p[end] != u'}':
            if p[end] == u',' and comma < 0:
                comma = end
            end += 1
        if end >= self.n:
            return False
        cdef Py_ssize_t lo_end = comma if comma >= 0 else end
        if lo_end == at + 1 and comma < 0:
            return False
        for k in range(at + 1, end):
            if k != comma and not (u'0' <= p[k] <= u'9'):
                return False
        out.big = False
        out.lo = self.count(at + 1, lo_end, out)
        if comma < 0:
            out.hi = out.lo
        elif comma + 1 == end:
            out.hi = -1
        else:
            out.hi = self.count(comma + 1, end, out)
        out.lo_end = lo_end
        out.end = end
        return True

    cdef int64_t count(self, Py_ssize_t begin, Py_ssize_t end, Braces* out) noexcept:
        """The decimal number p[begin:end] (0 if empty), saturated at BIG_COUNT."""
        cdef int64_t value = 0
        cdef Py_ssize_t k
        for k in range(begin, end):
            value = value * 10 + (<int>self.p[k] - 48)
            if value >= BIG_COUNT // 10:
                out.big = True
                return BIG_COUNT
        return value

    cdef int32_t quantified(self, int32_t atom) except -1:
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i
        cdef Py_UCS4 c = p[pos]
        cdef Braces braces
        cdef int64_t lo, hi
        if c == u'{':
            if not self.braces(pos, &braces):
                return atom  # a literal '{': the caller parses it as the next atom
            lo, hi = braces.lo, braces.hi
            if hi != -1:
                if braces.big:  # compare the exact numbers
                    py_lo = int(self.pattern[pos + 1 : braces.lo_end] or "0")
                    py_hi = int(self.pattern[braces.lo_end + 1 : braces.end] or py_lo)
                    if py_hi < py_lo:
                        self.fail(f"bad repeat interval {{{py_lo},{py_hi}}}: max < min", pos)
                elif hi < lo:
                    self.fail(f"bad repeat interval {{{lo},{hi}}}: max < min", pos)
            self.i = braces.end + 1
        else:
            self.i += 1
            lo, hi = (0, -1) if c == u'*' else (1, -1) if c == u'+' else (0, 1)
        if self.i < self.n:
            c = p[self.i]
            if c == u'?':
                self.i += 1  # lazy: the same language under a full match
            elif c == u'+':
                self.fail("possessive quantifier is not supported", self.i)
        cdef Py_ssize_t nxt = self.after_comments(self.i)
        if nxt < self.n:
            c = p[nxt]
            if c == u'*' or c == u'+' or c == u'?' or (c == u'{' and self.braces(nxt, &braces)):
                self.fail("multiple repeat", nxt)
        return self.rep_node(atom, lo, hi)

    cdef int32_t escape(self, bint in_class) except -1:
        """Parse an escape at self.i; return its code point, or CLASS_ESCAPE + k for the class
        escapes \\d \\D \\w \\W \\s \\S."""
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i, width, k, end
        cdef int64_t value
        cdef int digit
        if pos + 1 >= self.n:
            self.fail("bad escape: '\\' at end of pattern", pos)
        cdef Py_UCS4 c = p[pos + 1]
        self.i = pos + 2
        for k in range(6):
            if c == CLASS_LETTERS[k]:  # \d \D \w \W \s \S
                return CLASS_ESCAPE + <int32_t>k
            if c == CONTROL_LETTERS[k]:  # \a \f \n \r \t \v
                return CONTROL_CODES[k]
        if c == u'b' and in_class:
            return 8
        if c == u'x' or c == u'u' or c == u'U':
            width = 2 if c == u'x' else 4 if c == u'u' else 8
            value = 0
            for k in range(self.i, self.i + width):
                digit = hex_value(p[k]) if k < self.n else -1
                if digit < 0:
                    self.fail(f"bad escape '\\{chr(c)}': expected {width} hex digits", pos)
                value = value * 16 + digit
            if value > MAX_CP:
                digits = self.pattern[self.i : self.i + width]
                self.fail(f"bad escape '\\{chr(c)}{digits}': beyond U+10FFFF", pos)
            self.i += width
            return <int32_t>value
        if c == u'N':
            end = self.pattern.find("}", self.i)
            if self.i >= self.n or p[self.i] != u'{' or end < 0:
                self.fail("bad escape '\\N': expected '{NAME}'", pos)
            try:
                char = unicodedata.lookup(self.pattern[self.i + 1 : end])
            except KeyError:
                char = ""
            if len(char) != 1:  # unknown, or a named sequence of several characters
                self.fail("bad escape '\\N': unknown character name", pos)
            self.i = end + 1
            return ord(char)
        if is_octal(c) and (
            c == u'0'
            or in_class
            or (self.i + 1 < self.n and is_octal(p[self.i]) and is_octal(p[self.i + 1]))
        ):
            value = <int>c - 48
            while self.i - pos < 4 and self.i < self.n and is_octal(p[self.i]):
                value = value * 8 + (<int>p[self.i] - 48)
                self.i += 1
            if value > 0o377:
                digits = self.pattern[pos + 1 : self.i]
                self.fail(f"octal escape '\\{digits}' out of range", pos)
            return <int32_t>value
        if c.isdigit():
            if in_class:
                self.fail(f"bad escape '\\{chr(c)}' in a character class", pos)
            self.fail(f"backreference '\\{chr(c)}' is not supported", pos)
        if (u'a' <= c <= u'z') or (u'A' <= c <= u'Z'):
            self.fail(f"bad escape '\\{chr(c)}'", pos)
        return c

    cdef int32_t char_class(self) except -1:
        """A class ``[...]`` at self.i; a class written again reuses the node of the first."""
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i, end = pos + 1, length, slot, e
        if end < self.n and p[end] == u'^':
            end += 1
        if end < self.n and p[end] == u']':
            end += 1
        while end < self.n and p[end] != u']':
            end += 2 if p[end] == u'\\' else 1
        if end >= self.n:
            return self.parse_class()  # unterminated: it reports the error
        length = end + 1 - pos
        cdef uint64_t h = hash_chars(p + pos, length)
        cdef Index* index = &self.class_index
        slot = h & index.mask
        while index.ids[slot] >= 0:
            e = index.ids[slot]
            if (
                index.hashes[slot] == h
                and self.class_len.data[e] == length
                and memcmp(p + self.class_start.data[e], p + pos, length * sizeof(Py_UCS4)) == 0
            ):
                self.i = end + 1
                return self.class_node.data[e]
            slot = (slot + 1) & index.mask
        cdef int32_t node = self.parse_class()
        e = self.class_start.n
        vec_push(&self.class_start, <int32_t>pos)
        vec_push(&self.class_len, <int32_t>length)
        vec_push(&self.class_node, node)
        index_add(index, h, <int32_t>e)
        return node

    cdef int32_t parse_class(self) except -1:
        cdef const Py_UCS4* p = self.p
        cdef Py_ssize_t pos = self.i, n = self.n, item_pos
        cdef Vec* ranges = &self.scratch
        cdef int32_t lo, hi
        cdef bint first = True
        self.i += 1
        cdef bint negated = self.i < n and p[self.i] == u'^'
        if negated:
            self.i += 1
        ranges.n = 0
        while True:
            if self.i >= n:
                self.fail("unterminated character class '['", pos)
            if p[self.i] == u']' and not first:
                self.i += 1
                break
            first = False
            item_pos = self.i
            lo = self.class_item()
            if lo >= CLASS_ESCAPE:
                self.push_escape_ranges(ranges, lo - CLASS_ESCAPE)
                if self.i + 1 < n and p[self.i] == u'-' and p[self.i + 1] != u']':
                    self.fail("bad character range: a class escape as endpoint", item_pos)
                continue
            if self.i + 1 < n and p[self.i] == u'-' and p[self.i + 1] != u']':
                self.i += 1
                hi = self.class_item()
                if hi >= CLASS_ESCAPE:
                    self.fail("bad character range: a class escape as endpoint", item_pos)
                if hi < lo:
                    self.fail(f"bad character range {chr(lo)!r}-{chr(hi)!r}", item_pos)
                vec_push2(ranges, lo, hi)
            else:
                vec_push2(ranges, lo, lo)
        normalize(ranges)
        if not negated:
            return self.set_node_of(ranges.data, ranges.n // 2)
        self.stack.n = 0
        negate(ranges.data, ranges.n // 2, &self.stack)
        return self.set_node_of(self.stack.data, self.stack.n // 2)

    cdef int32_t class_item(self) except -1:
        cdef Py_UCS4 c = self.p[self.i]
        if c == u'\\':
            return self.escape(True)
        self.i += 1
        return c

    # --- NFA ---------------------------------------------------------------------------------

    cdef int64_t reserve(self, int64_t count) except -1:
        """Number the next ``count`` nodes; return the first."""
        cdef int64_t first = self.num_nodes
        if count > self.cap - self.num_nodes:
            limit = self.limit if self.cap < NODE_CAP else NODE_CAP
            raise StateLimitError(pattern=self.pattern, limit=limit, option="max_nodes")
        self.num_nodes += count
        return first

    cdef int edges(self, Py_ssize_t count) except -1:
        """Make room for ``count`` more edges."""
        if self.src.n + count > self.src.cap:
            vec_grow(&self.src, count)
            vec_grow(&self.lo, count)
            vec_grow(&self.hi, count)
            vec_grow(&self.dst, count)
        return 0

    cdef int edge(self, int64_t src, int32_t lo, int32_t hi, int64_t dst) except -1:
        if self.src.n == self.src.cap:
            self.edges(1)
        cdef Py_ssize_t k = self.src.n
        self.src.data[k] = <int32_t>src
        self.lo.data[k] = lo
        self.hi.data[k] = hi
        self.dst.data[k] = <int32_t>dst
        self.src.n = self.lo.n = self.hi.n = self.dst.n = k + 1
        return 0

    cdef int64_t emit(self, int32_t node_id, int64_t entry) except -1:
        cdef Node* node = &self.nodes[node_id]
        cdef int32_t kind = node.kind, a = node.a, b = node.b
        cdef int64_t first, exit_node, end
        cdef Py_ssize_t k, base
        if kind == K_LIT:
            first = self.reserve(b)
            self.edges(b)
            base = self.src.n
            for k in range(b):
                self.src.data[base + k] = <int32_t>(entry if k == 0 else first + k - 1)
                self.lo.data[base + k] = self.hi.data[base + k] = self.literal.data[a + k]
                self.dst.data[base + k] = <int32_t>(first + k)
            self.src.n = self.lo.n = self.hi.n = self.dst.n = base + b
            return first + b - 1
        if kind == K_SET:
            return self.emit_set(a, entry)
        if kind == K_CAT:
            for k in range(a, a + b):
                entry = self.emit(self.children.data[k], entry)
            return entry
        if kind == K_ALT:
            exit_node = self.reserve(1)
            for k in range(a, a + b):
                end = self.emit(self.children.data[k], entry)
                self.edge(end, EPS, EPS, exit_node)
            return exit_node
        if kind == K_REP:
            return self.emit_repeat(a, node.lo, node.hi, entry)
        return entry  # K_EMPTY (K_NONE never reaches the NFA)

    cdef int template(self, int32_t s) except -1:
        """Build the UTF-8 template of set ``s``: a prefix-shared trie of the byte sequences
        that encode its code points; local node 0 is the entry, 1 the exit."""
        cdef Vec* stack = &self.stack
        cdef Vec* tmpl = &self.tmpl
        cdef Py_ssize_t off = tmpl.n, k, e, length, j
        cdef int32_t count = 2, cur, nxt, lo, hi, bound
        cdef int64_t m
        cdef bint split
        cdef int32_t lo_bytes[4]
        cdef int32_t hi_bytes[4]
        cdef const int32_t* ranges = self.set_ranges.data + self.set_off.data[s]
        stack.n = 0
        for k in range(self.set_len.data[s]):
            vec_push(stack, ranges[k])
        while stack.n:
            lo, hi = stack.data[stack.n - 2], stack.data[stack.n - 1]
            stack.n -= 2
            split = False
            for bound in (0x7F, 0x7FF, 0xFFFF):
                if lo <= bound < hi:
                    vec_push2(stack, lo, bound)
                    vec_push2(stack, bound + 1, hi)
                    split = True
                    break
            if split:
                continue
            if hi < 0x80:
                length = 1
                lo_bytes[0], hi_bytes[0] = lo, hi
            else:
                length = utf8_encode(lo, lo_bytes)
                for j in range(1, length):
                    m = ((<int64_t>1) << (6 * j)) - 1
                    if lo & ~m != hi & ~m:
                        if lo & m:
                            vec_push2(stack, lo, <int32_t>(lo | m))
                            vec_push2(stack, <int32_t>((lo | m) + 1), hi)
                            split = True
                            break
                        if hi & m != m:
                            vec_push2(stack, lo, <int32_t>((hi & ~m) - 1))
                            vec_push2(stack, <int32_t>(hi & ~m), hi)
                            split = True
                            break
                if split:
                    continue
                utf8_encode(hi, hi_bytes)
            cur = 0
            for j in range(length):
                if j == length - 1:
                    nxt = 1
                else:
                    nxt = -1
                    for e in range(off, tmpl.n, 4):
                        if (
                            tmpl.data[e] == cur and tmpl.data[e + 1] == lo_bytes[j]
                            and tmpl.data[e + 2] == hi_bytes[j] and tmpl.data[e + 3] >= 2
                        ):
                            nxt = tmpl.data[e + 3]
                            break
                    if nxt >= 0:
                        cur = nxt
                        continue
                    nxt = count
                    count += 1
                vec_push2(tmpl, cur, lo_bytes[j])
                vec_push2(tmpl, hi_bytes[j], nxt)
                cur = nxt
        self.tmpl_off.data[s] = <int32_t>off
        self.tmpl_len.data[s] = <int32_t>((tmpl.n - off) // 4)
        self.tmpl_count.data[s] = count
        return 0

    cdef int64_t emit_set(self, int32_t s, int64_t entry) except -1:
        if self.tmpl_off.data[s] < 0:
            self.template(s)
        cdef Py_ssize_t size = self.tmpl_len.data[s], k, out
        cdef int64_t base = self.reserve(self.tmpl_count.data[s] - 1) - 1
        cdef const int32_t* t
        self.edges(size)
        t = self.tmpl.data + self.tmpl_off.data[s]
        out = self.src.n
        for k in range(size):
            self.src.data[out + k] = <int32_t>(entry if t[4 * k] == 0 else base + t[4 * k])
            self.lo.data[out + k] = t[4 * k + 1]
            self.hi.data[out + k] = t[4 * k + 2]
            self.dst.data[out + k] = <int32_t>(base + t[4 * k + 3])
        self.src.n = self.lo.n = self.hi.n = self.dst.n = out + size
        return base + 1

    cdef int64_t emit_repeat(self, int32_t child, int64_t lo, int64_t hi, int64_t entry) except -1:
        cdef int64_t exit_node, loop, start, end, size, copies, i
        cdef int32_t* row
        if lo == 0 and hi == 1:  # optional: a fresh exit, reached with or without the child
            exit_node = self.reserve(1)
            end = self.emit(child, entry)
            self.edge(end, EPS, EPS, exit_node)
            self.edge(entry, EPS, EPS, exit_node)
            return exit_node
        if lo == 0 and hi == -1:  # star: a fresh loop node
            loop = self.reserve(1)
            self.edge(entry, EPS, EPS, loop)
            end = self.emit(child, loop)
            self.edge(end, EPS, EPS, loop)
            return loop
        copies = lo if hi == -1 else hi
        # one block, emitted from a fresh node, then copied with shifted node numbers (or, when
        # bounded and long, kept as one virtual block)
        cdef Py_ssize_t mark = self.src.n, block_mark = self.blocks.n
        start = self.reserve(1)
        end = self.emit(child, start)
        size = self.num_nodes - start
        if hi != -1 and copies >= VIRTUAL_COPIES and self.blocks.n == block_mark:
            exit_node = self.reserve(1)
            if copies - 1 > MAX_NODE_IDS // size:
                self.add_virtual(MAX_NODE_IDS)  # raises StateLimitError
            self.add_virtual(size * (copies - 1))
            vec_grow(&self.blocks, 6)
            row = self.blocks.data + self.blocks.n
            row[0], row[1], row[2] = <int32_t>start, <int32_t>size, <int32_t>copies
            row[3], row[4], row[5] = <int32_t>lo, <int32_t>end, <int32_t>exit_node
            self.blocks.n += 6
            self.edge(entry, EPS, EPS, start)
            return exit_node
        if copies > 1:
            if copies - 1 > (self.cap - self.num_nodes) // size:
                self.reserve(self.cap - self.num_nodes + 1)  # raises StateLimitError
            self.reserve(size * (copies - 1))
            self.copy_block(mark, block_mark, <int32_t>size, copies - 1)
        self.edge(entry, EPS, EPS, start)
        for i in range(copies - 1):
            self.edge(end + i * size, EPS, EPS, start + (i + 1) * size)
        cdef int64_t last_start = start + (copies - 1) * size, last_end = end + (copies - 1) * size
        if hi == -1:  # {m,}: the last copy repeats
            self.edge(last_end, EPS, EPS, last_start)
            return last_end
        exit_node = self.reserve(1)
        for i in range(lo, copies):
            self.edge(start + i * size, EPS, EPS, exit_node)
        self.edge(last_end, EPS, EPS, exit_node)
        return exit_node

    cdef int add_virtual(self, int64_t count) except -1:
        """Count ``count`` more virtual node numbers, within ``MAX_NODE_IDS`` in all."""
        if count > MAX_NODE_IDS - self.num_nodes - self.virtual_ids:
            raise StateLimitError(pattern=self.pattern, limit=MAX_NODE_IDS, option="max_nodes")
        self.virtual_ids += count
        return 0

    cdef int copy_block(
        self, Py_ssize_t mark, Py_ssize_t block_mark, int32_t size, int64_t times
    ) except -1:
        """Append ``times`` copies of the edges emitted since ``mark`` and of the virtual blocks
        made since ``block_mark``, the k-th shifted by ``k * size`` nodes."""
        cdef Py_ssize_t length = self.src.n - mark, at, j, b, n_blocks = self.blocks.n
        cdef int64_t k
        cdef int32_t shift
        cdef int32_t* row
        cdef int64_t per_copy
        for b in range(block_mark, n_blocks, 6):
            per_copy = (<int64_t>self.blocks.data[b + 1]) * (self.blocks.data[b + 2] - 1)
            if times > MAX_NODE_IDS // per_copy:
                self.add_virtual(MAX_NODE_IDS)  # raises StateLimitError
            self.add_virtual(per_copy * times)
        vec_grow(&self.blocks, (n_blocks - block_mark) * times)
        for k in range(1, times + 1):
            shift = <int32_t>(k * size)
            for b in range(block_mark, n_blocks, 6):
                row = self.blocks.data + self.blocks.n
                memcpy(row, self.blocks.data + b, 6 * sizeof(int32_t))
                row[0] += shift  # start, end and exit move; size, copies and lo do not
                row[4] += shift
                row[5] += shift
                self.blocks.n += 6
        self.edges(length * times)
        at = self.src.n
        for k in range(1, times + 1):
            shift = <int32_t>(k * size)
            for j in range(length):
                self.src.data[at + j] = self.src.data[mark + j] + shift
                self.dst.data[at + j] = self.dst.data[mark + j] + shift
            memcpy(self.lo.data + at, self.lo.data + mark, length * sizeof(int32_t))
            memcpy(self.hi.data + at, self.hi.data + mark, length * sizeof(int32_t))
            at += length
        self.src.n = self.lo.n = self.hi.n = self.dst.n = at
        return 0


cdef int normalize(Vec* ranges) except -1:
    """Sort the (lo, hi) pairs and merge those that overlap or touch, in place."""
    cdef Py_ssize_t pairs = ranges.n // 2, k, out = 0
    cdef int32_t* r = ranges.data
    if pairs == 0:
        return 0
    qsort(r, pairs, 2 * sizeof(int32_t), compare_ranges)
    for k in range(1, pairs):
        if r[2 * k] <= r[2 * out + 1] + 1:
            if r[2 * k + 1] > r[2 * out + 1]:
                r[2 * out + 1] = r[2 * k + 1]
        else:
            out += 1
            r[2 * out] = r[2 * k]
            r[2 * out + 1] = r[2 * k + 1]
    ranges.n = 2 * (out + 1)
    return 0


cdef int negate(const int32_t* ranges, Py_ssize_t pairs, Vec* out) except -1:
    """Append the complement (within 0..U+10FFFF) of normalized ``ranges``."""
    cdef int32_t nxt = 0
    cdef Py_ssize_t k
    for k in range(pairs):
        if ranges[2 * k] > nxt:
            vec_push2(out, nxt, ranges[2 * k] - 1)
        nxt = ranges[2 * k + 1] + 1
    if nxt <= MAX_CP:
        vec_push2(out, nxt, MAX_CP)
    return 0
