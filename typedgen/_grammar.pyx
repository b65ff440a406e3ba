# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The grammar engine: a context-free grammar as a deterministic byte automaton for ``Guide``.

:class:`GrammarAutomaton` implements :class:`typedgen._automaton.Automaton`, so the token trie
walk, the per-state mask memo and finish-within-budget of ``_fsm.Guide`` drive a grammar
unchanged.

* Every terminal is a lazy byte DFA (:class:`typedgen._automaton.RegexAutomaton`, from the regex
  front end), so the regular part of a grammar costs what a regex costs.
* The rules form a recursive transition network: per rule a small graph whose edges are
  epsilon, "terminal t" or "call rule R". Direct left recursion (``a: a x | y``, which lark
  makes of every ``x*``) becomes a loop ``y x*``; indirect or hidden left recursion is refused.
* A parser state is an interned set of *threads* ``(terminal, DFA state, stack)``: the
  terminal being read, how far, and where to continue when it ends. Stacks are persistent and
  interned (frame = return node + parent stack), and a call at the end of a rule does not push
  (tail call), so ``list: item | item "," list`` runs in constant stack. States are dense ints
  and transitions are cached per (state, byte) in a 256-entry row, like the regex DFA, so a
  visited transition is one array read and the guide memoizes masks per state as for a regex.
  A new transition is computed in C without the GIL when it leads nowhere or to a known state
  (terminal DFAs stepped, the memoized closure after each ended terminal appended, the thread
  set sorted and looked up in a hash table); only a new state, a new stack frame or a closure
  not seen before takes the Python path.
* ``%ignore`` terminals may occur before every terminal and at the end of the text: a node
  that expects a terminal loops on each ignored terminal.

The language is the grammar's with each terminal replaced by every string its regex fully
matches, which is what lark's Earley parser with ``lexer="dynamic_complete"`` accepts whenever
``re.match`` of each terminal returns its longest match (greedy quantifiers).

Bounds: ``max_states`` parser states, ``max_stack_depth`` open rules at one point of the text,
``max_threads`` threads in one state, each raising :class:`~typedgen.GrammarLimitError` from
the guide call that needs more, and ``timeout`` seconds for the compile itself.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc, qsort, realloc
from libc.string cimport memcmp, memcpy, memset

from typedgen._hashing cimport hash_ints

from typedgen._automaton cimport Automaton, RegexAutomaton, DEAD, FAILED, UNKNOWN, DIST_NONE

import time

import numpy as np

from typedgen._cfg import Cfg, check_terminal
from typedgen._errors import GrammarError, GrammarLimitError, RegexError, StateLimitError
from typedgen._automaton import DEFAULT_MAX_STATES
from typedgen._regex import DEFAULT_MAX_NODES, regex_to_nfa

__all__ = [
    "DEFAULT_MAX_STACK_DEPTH",
    "DEFAULT_MAX_THREADS",
    "DEFAULT_TIMEOUT",
    "UNBOUNDED_DISTANCE",
    "GrammarAutomaton",
]

DEFAULT_MAX_STACK_DEPTH = 10_000
"""Default limit on the rules open at one point of the text (nesting depth, roughly)."""

DEFAULT_MAX_THREADS = 10_000
"""Default limit on the simultaneous parses (threads) of one prefix."""

DEFAULT_TIMEOUT = 10.0
"""Default limit, in seconds, on compiling one grammar (reading it and building terminals)."""

UNBOUNDED_DISTANCE = DIST_NONE - 1
"""``max_distance`` of a recursive grammar: distances have no bound, so a guide checks the
budget from the first token (one more trie scan per new state)."""

cdef enum:
    EPS = 0
    TERM = 1
    CALL = 2

cdef int INF = DIST_NONE


cdef class GrammarAutomaton(Automaton):
    """The parser of a :class:`~typedgen._cfg.Cfg` as a lazily built deterministic automaton.

    ``source`` is the grammar text (for error messages). Raises :class:`GrammarError` for a
    grammar that cannot be honoured exactly, :class:`GrammarLimitError` past ``timeout``.
    """

    cdef readonly object source
    cdef list terms              # RegexAutomaton per terminal index
    cdef list term_names
    cdef int32_t[::1] term_init
    cdef uint8_t[::1] term_nullable
    cdef int32_t[::1] edge_start  # CSR of edges by source node
    cdef int32_t[::1] edge_kind
    cdef int32_t[::1] edge_arg
    cdef int32_t[::1] edge_dst
    cdef int32_t[::1] rule_start
    cdef uint8_t[::1] node_end
    cdef uint8_t[::1] node_tail
    cdef int32_t[::1] node_dist
    cdef int max_dist
    cdef readonly int max_states, max_stack_depth, max_threads
    # stacks: frame 0 is the empty stack
    cdef list frame_node, frame_parent, frame_dist, frame_depth
    cdef dict frames
    cdef dict frame_closure  # stack id -> (threads, accept) after returning to its top frame
    # parser states
    cdef list state_threads
    cdef dict state_ids
    cdef int n_states, cap_states
    cdef int32_t** rows
    cdef int32_t** thread_arrays  # per state: its threads as (terminal, DFA state, stack) triples
    cdef int32_t* thread_counts
    cdef void** term_ptrs         # the terminal automata (owned by ``terms``), for nogil steps
    cdef int32_t* table           # open addressing over states by (accept, threads); -1 empty
    cdef int table_mask
    cdef int32_t** close_threads  # per stack id: the threads after returning to its top frame
    cdef int32_t* close_counts    # (-1: not computed yet)
    cdef uint8_t* close_accept
    cdef int close_cap
    cdef int32_t* buf             # the threads of a transition being computed without the GIL
    cdef int buf_cap
    cdef uint8_t* accepts
    cdef int32_t* dists
    cdef object error

    def __cinit__(self):
        self.n_states = 0
        self.cap_states = 0
        self.table_mask = -1

    def __init__(self, cfg, *, source: str, max_states: int = DEFAULT_MAX_STATES,
                 max_stack_depth: int = DEFAULT_MAX_STACK_DEPTH,
                 max_threads: int = DEFAULT_MAX_THREADS, timeout: float = DEFAULT_TIMEOUT,
                 max_nodes: int = DEFAULT_MAX_NODES):
        if max_states < 1 or max_stack_depth < 1 or max_threads < 1:
            raise ValueError("max_states, max_stack_depth and max_threads must be >= 1")
        self.source = source
        self.max_states = max_states
        self.max_stack_depth = max_stack_depth
        self.max_threads = max_threads
        self.is_regex = False
        deadline = time.monotonic() + timeout
        network = _Network(cfg, max_states, max_nodes, deadline, timeout)
        self.terms = network.automata
        self.term_ptrs = <void**>_xrealloc(NULL, (len(self.terms) + 1) * sizeof(void*))
        for i, automaton in enumerate(self.terms):
            self.term_ptrs[i] = <void*>automaton
        self.term_names = network.term_names
        self.term_init = np.array([(<RegexAutomaton>a).initial for a in self.terms] or [0],
                                  dtype=np.int32)
        self.term_nullable = np.array(
            [(<RegexAutomaton>a).accepting((<RegexAutomaton>a).initial) for a in self.terms]
            or [0], dtype=np.uint8)
        kinds, args, dsts, starts = network.csr()
        self.edge_start = starts
        self.edge_kind = kinds
        self.edge_arg = args
        self.edge_dst = dsts
        self.rule_start = np.array(network.rule_start, dtype=np.int32)
        self.node_end = np.array(network.node_end, dtype=np.uint8)
        self.node_tail = np.array(network.tail(), dtype=np.uint8)
        self.node_dist = np.array(network.distances(self._term_min()), dtype=np.int32)
        self.max_dist = network.max_distance(self._term_max(), self.node_dist)
        self.frame_node = [-1]
        self.frame_parent = [-1]
        self.frame_dist = [0]
        self.frame_depth = [0]
        self.frames = {}
        self.frame_closure = {}
        self.state_threads = []
        self.state_ids = {}
        threads = set()
        accept = self._close([(network.rule_start[network.top], 0)], threads)
        if accept is None:
            raise self.error
        initial = self._intern(accept, threads)
        if initial < 0:
            if initial == FAILED:
                raise self.error
            raise GrammarError("the grammar matches no string", rule=cfg.start)
        self.initial = initial

    def __dealloc__(self):
        cdef int i
        for i in range(self.n_states):
            free(self.rows[i])
            free(self.thread_arrays[i])
        free(self.rows)
        free(self.thread_arrays)
        free(self.thread_counts)
        free(self.term_ptrs)
        free(self.table)
        for i in range(self.close_cap):
            free(self.close_threads[i])
        free(self.close_threads)
        free(self.close_counts)
        free(self.close_accept)
        free(self.buf)
        free(self.accepts)
        free(self.dists)

    def _term_min(self):
        return [(<RegexAutomaton>a).distance((<RegexAutomaton>a).initial) for a in self.terms]

    def _term_max(self):
        return [(<RegexAutomaton>a).max_distance() for a in self.terms]

    @property
    def states(self) -> int:
        """Number of parser states built so far."""
        return self.n_states

    @property
    def stack_frames(self) -> int:
        """Number of distinct stack frames built so far."""
        return len(self.frame_node) - 1

    cdef int num_states(self) noexcept nogil:
        return self.n_states

    cdef bint accepting(self, int state) noexcept nogil:
        return self.accepts[state]

    cdef object failure(self):
        return self.error

    cdef size_t memory(self) noexcept nogil:
        return <size_t>self.n_states * (256 * sizeof(int32_t) + 96) \
            + <size_t>self.cap_states * (sizeof(void*) + 5)

    cdef int distance(self, int state) noexcept nogil:
        return self.dists[state]

    cdef int max_distance(self) noexcept nogil:
        return self.max_dist

    cdef int step(self, int state, int byte) noexcept nogil:
        cdef int s = self.rows[state][byte]
        if s != UNKNOWN:
            return s
        s = self._fast(state, byte)
        if s == UNKNOWN:
            with gil:
                s = self._compute(state, byte)
        return s

    cdef int _fast(self, int state, int byte) noexcept nogil:
        """The transition without the GIL when it leads to no state or to a known one, from
        C data only (terminal DFAs, memoized closures, the state table); UNKNOWN when the
        Python path must build something (a new state, a closure, a failure)."""
        cdef int32_t* threads = self.thread_arrays[state]
        cdef int n = self.thread_counts[state], i, j, q, k, count = 0, extra, w
        cdef bint accept = False
        cdef void* a
        cdef bint ends
        cdef int32_t* item
        cdef uint64_t h
        for i in range(n):
            a = self.term_ptrs[threads[3 * i]]
            q = (<RegexAutomaton>a).step(threads[3 * i + 1], byte)
            if q < 0:
                if q == FAILED:
                    return UNKNOWN
                continue
            k = threads[3 * i + 2]
            extra = 1
            ends = (<RegexAutomaton>a).accepting(q)
            if ends and k != 0:
                if k >= self.close_cap or self.close_counts[k] < 0:
                    return UNKNOWN
                extra += self.close_counts[k]
            if not self._reserve(count + extra):
                return UNKNOWN
            self.buf[3 * count] = threads[3 * i]
            self.buf[3 * count + 1] = q
            self.buf[3 * count + 2] = k
            count += 1
            if ends:
                if k == 0:
                    accept = True
                else:
                    accept = accept or self.close_accept[k]
                    memcpy(self.buf + 3 * count, self.close_threads[k],
                           3 * self.close_counts[k] * sizeof(int32_t))
                    count += self.close_counts[k]
        if count == 0 and not accept:
            self.rows[state][byte] = DEAD
            return DEAD
        qsort(self.buf, count, 3 * sizeof(int32_t), _cmp_triple)
        w = 0
        for i in range(count):  # dedupe
            if w == 0 or memcmp(self.buf + 3 * i, self.buf + 3 * (w - 1),
                                3 * sizeof(int32_t)) != 0:
                if w != i:
                    memcpy(self.buf + 3 * w, self.buf + 3 * i, 3 * sizeof(int32_t))
                w += 1
        if self.table_mask < 0:
            return UNKNOWN
        h = _state_hash(self.buf, w, accept)
        j = <int>(h & <uint64_t>self.table_mask)
        while self.table[j] >= 0:
            s = self.table[j]
            if (self.accepts[s] == accept and self.thread_counts[s] == w
                    and memcmp(self.thread_arrays[s], self.buf, 3 * w * sizeof(int32_t)) == 0):
                self.rows[state][byte] = s
                return s
            j = (j + 1) & self.table_mask
        return UNKNOWN

    cdef bint _reserve(self, int triples) noexcept nogil:
        cdef int cap
        cdef int32_t* grown
        if triples <= self.buf_cap:
            return True
        cap = max(64, 2 * self.buf_cap, triples)
        grown = <int32_t*>realloc(self.buf, 3 * <size_t>cap * sizeof(int32_t))
        if grown == NULL:
            return False
        self.buf = grown
        self.buf_cap = cap
        return True

    cdef void _table_insert(self, int s) noexcept:
        """Put state ``s`` in the table (growing it to keep it at most half full)."""
        cdef int size, j, i
        if 2 * (s + 1) > self.table_mask + 1:
            size = max(256, 2 * (self.table_mask + 1))
            free(self.table)
            self.table = <int32_t*>malloc(size * sizeof(int32_t))
            if self.table == NULL:
                self.table_mask = -1
                return
            memset(self.table, 0xFF, size * sizeof(int32_t))
            self.table_mask = size - 1
            for i in range(s):
                self._table_put(i)
        self._table_put(s)

    cdef void _table_put(self, int s) noexcept:
        cdef int j = <int>(_state_hash(self.thread_arrays[s], self.thread_counts[s],
                                       self.accepts[s]) & <uint64_t>self.table_mask)
        while self.table[j] >= 0:
            j = (j + 1) & self.table_mask
        self.table[j] = s

    cdef void _store_closure(self, int k, tuple threads, bint accept) except *:
        """Copy the memoized closure of stack ``k`` into C arrays for ``_fast``."""
        cdef int cap, i
        if k >= self.close_cap:
            cap = max(64, 2 * self.close_cap, k + 1)
            self.close_threads = <int32_t**>_xrealloc(self.close_threads, cap * sizeof(int32_t*))
            self.close_counts = <int32_t*>_xrealloc(self.close_counts, cap * sizeof(int32_t))
            self.close_accept = <uint8_t*>_xrealloc(self.close_accept, cap)
            for i in range(self.close_cap, cap):
                self.close_threads[i] = NULL
                self.close_counts[i] = -1
            self.close_cap = cap
        self.close_threads[k] = <int32_t*>_xrealloc(NULL, (3 * len(threads) + 1) * sizeof(int32_t))
        for i, thread in enumerate(threads):
            self.close_threads[k][3 * i] = thread[0]
            self.close_threads[k][3 * i + 1] = thread[1]
            self.close_threads[k][3 * i + 2] = thread[2]
        self.close_counts[k] = len(threads)
        self.close_accept[k] = accept

    cdef int _compute(self, int state, int byte) noexcept:
        """The transition of ``state`` on ``byte``, computed and stored in its row."""
        cdef int t, q, q2, k, s
        cdef RegexAutomaton a
        cdef set threads = set()
        cdef set completed = set()
        cdef bint accept = False
        try:
            for t, q, k in self.state_threads[state]:
                a = <RegexAutomaton>self.terms[t]
                q2 = a.step(q, byte)
                if q2 < 0:
                    if q2 == FAILED:
                        self.error = a.failure()
                        return FAILED
                    continue
                threads.add((t, q2, k))
                if a.accepting(q2):
                    completed.add(k)
            for k in completed:
                if k == 0:
                    accept = True
                    continue
                after = self.frame_closure.get(k)
                if after is None:  # what follows the end of a terminal: the same for any byte
                    found = set()
                    result = self._close([(self.frame_node[k], self.frame_parent[k])], found)
                    if result is None:
                        return FAILED
                    after = (tuple(found), result)
                    self.frame_closure[k] = after
                    self._store_closure(k, after[0], result)
                threads.update(after[0])
                accept = accept or after[1]
            s = self._intern(accept, threads)
            if s != FAILED:
                self.rows[state][byte] = s
            return s
        except BaseException as exc:  # MemoryError, KeyboardInterrupt: reported by failure()
            self.error = exc
            return FAILED

    def _close(self, list work, set threads):
        """Follow every (node, stack) in ``work`` through epsilon edges, calls and rule ends,
        adding to ``threads`` each terminal that can start; True when the text may end here
        (the top rule ended with the empty stack), None after a failure (see ``error``)."""
        cdef int node, k, e, kind, arg, dst, k2
        cdef bint accept = False
        cdef set seen = set()
        cdef int32_t[::1] edge_start = self.edge_start
        cdef int32_t[::1] edge_kind = self.edge_kind
        cdef int32_t[::1] edge_arg = self.edge_arg
        cdef int32_t[::1] edge_dst = self.edge_dst
        while work:
            node, k = work.pop()
            key = (node, k)
            if key in seen:
                continue
            seen.add(key)
            if self.node_end[node]:
                if k == 0:
                    accept = True
                else:
                    work.append((self.frame_node[k], self.frame_parent[k]))
                continue
            for e in range(edge_start[node], edge_start[node + 1]):
                kind = edge_kind[e]
                dst = edge_dst[e]
                if kind == EPS:
                    work.append((dst, k))
                    continue
                k2 = k if self.node_tail[dst] else self._push(dst, k)
                if k2 < 0:
                    return None
                arg = edge_arg[e]
                if kind == CALL:
                    work.append((self.rule_start[arg], k2))
                else:
                    threads.add((arg, self.term_init[arg], k2))
                    if self.term_nullable[arg]:
                        work.append((dst, k))
        return accept

    cdef int _push(self, int node, int parent) except? -9:
        """The interned stack ``node`` on top of ``parent``; -1 past ``max_stack_depth``."""
        key = (node, parent)
        k = self.frames.get(key)
        if k is not None:
            return k
        depth = self.frame_depth[parent] + 1
        if depth > self.max_stack_depth:
            self.error = GrammarLimitError(
                "the text nests rules too deeply", option="max_stack_depth",
                limit=self.max_stack_depth)
            return -1
        k = len(self.frame_node)
        self.frames[key] = k
        self.frame_node.append(node)
        self.frame_parent.append(parent)
        self.frame_dist.append(min(INF, self.node_dist[node] + self.frame_dist[parent]))
        self.frame_depth.append(depth)
        return k

    cdef int _intern(self, bint accept, set threads) except? -9:
        """The id of the state (accept, threads): DEAD when it has neither, FAILED past
        ``max_states``."""
        cdef int s, i, cap, d, best
        cdef RegexAutomaton a
        if not threads and not accept:
            return DEAD
        if len(threads) > self.max_threads:
            self.error = GrammarLimitError(
                "a prefix of the text has too many simultaneous parses (the grammar is very "
                "ambiguous)", option="max_threads", limit=self.max_threads)
            return FAILED
        key = (accept, tuple(sorted(threads)))
        found = self.state_ids.get(key)
        if found is not None:
            return found
        if self.n_states >= self.max_states:
            self.error = GrammarLimitError(
                "the grammar needs too many parser states", option="max_states",
                limit=self.max_states)
            return FAILED
        s = self.n_states
        if s >= self.cap_states:
            cap = max(64, 2 * self.cap_states)
            self.rows = <int32_t**>_xrealloc(self.rows, cap * sizeof(int32_t*))
            self.accepts = <uint8_t*>_xrealloc(self.accepts, cap)
            self.dists = <int32_t*>_xrealloc(self.dists, cap * sizeof(int32_t))
            self.thread_arrays = <int32_t**>_xrealloc(self.thread_arrays, cap * sizeof(int32_t*))
            self.thread_counts = <int32_t*>_xrealloc(self.thread_counts, cap * sizeof(int32_t))
            self.cap_states = cap
        self.rows[s] = <int32_t*>_xrealloc(NULL, 256 * sizeof(int32_t))
        self.thread_arrays[s] = <int32_t*>_xrealloc(NULL, (3 * len(key[1]) + 1) * sizeof(int32_t))
        self.thread_counts[s] = len(key[1])
        for i, thread in enumerate(key[1]):
            self.thread_arrays[s][3 * i] = thread[0]
            self.thread_arrays[s][3 * i + 1] = thread[1]
            self.thread_arrays[s][3 * i + 2] = thread[2]
        memset(self.rows[s], 0xFF, 256 * sizeof(int32_t))
        self.accepts[s] = accept
        best = 0
        if not accept:
            best = INF
            for t, q, k in key[1]:
                a = <RegexAutomaton>self.terms[t]
                d = a.distance(q) + self.frame_dist[k]
                if d < best:
                    best = d
        self.dists[s] = best
        self.state_threads.append(key[1])
        self.state_ids[key] = s
        self.n_states = s + 1
        self._table_insert(s)
        return s

    def describe(self, int state) -> list[tuple[str, int, int]]:
        """The threads of ``state`` as (terminal name, terminal DFA state, stack depth)."""
        self._check_state(state)
        return [(self.term_names[t], q, self.frame_depth[k])
                for t, q, k in self.state_threads[state]]


cdef int _cmp_triple(const void* a, const void* b) noexcept nogil:
    """Lexicographic order of (terminal, DFA state, stack) triples (as Python sorts tuples)."""
    cdef const int32_t* x = <const int32_t*>a
    cdef const int32_t* y = <const int32_t*>b
    cdef int i
    for i in range(3):
        if x[i] != y[i]:
            return -1 if x[i] < y[i] else 1
    return 0


cdef inline uint64_t _state_hash(const int32_t* threads, int count, bint accept) noexcept nogil:
    return hash_ints(threads, 3 * count) ^ (0x9E3779B97F4A7C15ULL if accept else 0)


cdef void* _xrealloc(void* p, size_t size) except NULL:
    cdef void* q = realloc(p, size if size else 1)
    if q == NULL:
        raise MemoryError()
    return q


class _Network:
    """The recursive transition network of a :class:`Cfg` (built in Python, once)."""

    def __init__(self, cfg: Cfg, max_states: int, max_nodes: int, deadline: float,
                 timeout: float) -> None:
        self.cfg = cfg
        self.deadline = deadline
        self.timeout = timeout
        self.term_index: dict[str, int] = {}
        self.term_names: list[str] = []
        self.automata: list[RegexAutomaton] = []
        by_pattern: dict[str, int] = {}
        rules = _productive(cfg)
        order = _reachable(cfg, rules)
        for name in order:
            for alternative in rules[name]:
                for kind, symbol in alternative:
                    if kind == "term" and symbol not in self.term_index:
                        self.term_index[symbol] = self._terminal(
                            symbol, by_pattern, max_states, max_nodes)
        ignored = []
        for name in cfg.ignore:
            if name not in self.term_index:
                self.term_index[name] = self._terminal(name, by_pattern, max_states, max_nodes)
            ignored.append(self.term_index[name])
        self.ignored = sorted(set(ignored))
        self.rule_index = {name: i for i, name in enumerate(order)}
        self.rule_names = list(order)
        self.top = len(order)
        self.rule_names.append("<top>")
        self.src: list[int] = []
        self.kind: list[int] = []
        self.arg: list[int] = []
        self.dst: list[int] = []
        self.node_end: list[int] = []
        self.node_rule: list[int] = []
        self.looped: set[int] = set()
        self.rule_start: list[int] = []
        self.rule_end: list[int] = []
        for r in range(self.top + 1):
            self.rule_start.append(self._node(r))
            self.rule_end.append(self._node(r, end=True))
        for name in order:
            self._rule(self.rule_index[name], rules[name])
        # the top rule: start, then trailing ignored terminals
        after = self._node(self.top)
        self._edge(self.rule_start[self.top], CALL, self.rule_index[cfg.start], after)
        self._edge(after, EPS, 0, self.rule_end[self.top])
        self._ignore_loops(after)
        self.nullable = self._nullable()
        self._check_left_recursion()

    # construction
    def _check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise GrammarLimitError("compiling the grammar takes too long", option="timeout",
                                    limit=self.timeout)

    def _terminal(self, name: str, by_pattern: dict[str, int], max_states: int,
                  max_nodes: int) -> int:
        self._check_time()
        terminal = self.cfg.terminals[name]
        index = by_pattern.get(terminal.pattern)
        if index is not None:
            return index
        try:
            nfa = regex_to_nfa(terminal.pattern, max_nodes=max_nodes)
            automaton = RegexAutomaton(nfa, pattern=terminal.pattern, max_states=max_states)
        except StateLimitError:
            raise
        except RegexError as exc:
            raise check_terminal(terminal, exc) from exc
        except ValueError as exc:  # the NFA accepts nothing
            raise GrammarError(f"terminal {name} matches no string", rule=name,
                               line=terminal.line) from exc
        index = len(self.automata)
        by_pattern[terminal.pattern] = index
        self.automata.append(automaton)
        self.term_names.append(name)
        return index

    def _node(self, rule: int, end: bool = False) -> int:
        self.node_end.append(1 if end else 0)
        self.node_rule.append(rule)
        return len(self.node_end) - 1

    def _edge(self, src: int, kind: int, arg: int, dst: int) -> None:
        self.src.append(src)
        self.kind.append(kind)
        self.arg.append(arg)
        self.dst.append(dst)

    def _ignore_loops(self, node: int) -> None:
        if node not in self.looped:
            self.looped.add(node)
            for t in self.ignored:
                self._edge(node, TERM, t, node)

    def _rule(self, r: int, alternatives: list) -> None:
        """Rule ``r``'s graph: the minimal DFA, over its symbols, of its alternatives, where
        ``a: a x | y`` (direct left recursion) becomes ``y x*``. Minimizing shares what
        lark's expansion of ``[x]`` and ``x?`` into alternatives repeats (a rule with ``k``
        optional parts has ``2 ** k`` alternatives but a graph of ``k + 1`` nodes)."""
        self._check_time()
        name = self.rule_names[r]
        labels: list[tuple[int, int] | None] = []  # local NFA: 0 start, 1 final, 2 loop
        edges: list[list[tuple[tuple[int, int] | None, int]]] = [[], [], []]

        def chain(symbols: tuple, src: int, dst: int) -> None:
            node = src
            for i, (kind, symbol) in enumerate(symbols):
                if i == len(symbols) - 1:
                    target = dst
                else:
                    target = len(edges)
                    edges.append([])
                label = (TERM, self.term_index[symbol]) if kind == "term" else (
                    CALL, self.rule_index[symbol])
                edges[node].append((label, target))
                node = target
            if not symbols:
                edges[src].append((None, dst))

        recursive = [alt[1:] for alt in alternatives if alt and alt[0] == ("rule", name)]
        base = [alt for alt in alternatives if not (alt and alt[0] == ("rule", name))]
        for alt in dict.fromkeys(base):
            chain(alt, 0, 2)
        for alt in dict.fromkeys(recursive):
            if alt:  # a: a  adds nothing
                chain(alt, 2, 2)
        edges[2].append((None, 1))
        states, initial, accepting, moves = _minimal_dfa(edges, 0, 1)
        nodes = {initial: self.rule_start[r]}
        for state in range(states):
            if state not in nodes:
                nodes[state] = self._node(r)
        for state, label, target in moves:
            self._edge(nodes[state], label[0], label[1], nodes[target])
            if label[0] == TERM:
                self._ignore_loops(nodes[state])
        for state in accepting:
            self._edge(nodes[state], EPS, 0, self.rule_end[r])

    # analyses
    def _out(self) -> list[list[tuple[int, int, int]]]:
        out: list[list[tuple[int, int, int]]] = [[] for _ in self.node_end]
        for s, k, a, d in zip(self.src, self.kind, self.arg, self.dst):
            out[s].append((k, a, d))
        return out

    def csr(self):
        n = len(self.node_end)
        order = sorted(range(len(self.src)), key=lambda e: self.src[e])
        starts = np.zeros(n + 1, dtype=np.int32)
        for s in self.src:
            starts[s + 1] += 1
        starts = np.cumsum(starts, dtype=np.int32)
        take = lambda values: np.array([values[e] for e in order] or [0], dtype=np.int32)
        return take(self.kind), take(self.arg), take(self.dst), starts

    def _nullable(self) -> list[bool]:
        """Per rule: whether it derives the empty string."""
        term_nullable = [a.is_accepting(a.initial_state) for a in self.automata]
        out = self._out()
        nullable = [False] * (self.top + 1)
        changed = True
        while changed:
            changed = False
            for r in range(self.top + 1):
                if not nullable[r] and self._reaches_end(r, out, nullable, term_nullable):
                    nullable[r] = True
                    changed = True
        self.term_null = term_nullable
        return nullable

    def _reaches_end(self, r: int, out: list, nullable: list, term_nullable: list) -> bool:
        seen = {self.rule_start[r]}
        todo = [self.rule_start[r]]
        while todo:
            node = todo.pop()
            if node == self.rule_end[r]:
                return True
            for kind, arg, dst in out[node]:
                if dst in seen:
                    continue
                if kind == EPS or (kind == CALL and nullable[arg]) or (
                        kind == TERM and term_nullable[arg]):
                    seen.add(dst)
                    todo.append(dst)
        return False

    def _left_calls(self, r: int, out: list) -> list[int]:
        """The rules that rule ``r`` may call before reading any byte."""
        seen = {self.rule_start[r]}
        todo = [self.rule_start[r]]
        calls = []
        while todo:
            node = todo.pop()
            for kind, arg, dst in out[node]:
                if kind == CALL:
                    calls.append(arg)
                passes = kind == EPS or (kind == CALL and self.nullable[arg]) or (
                    kind == TERM and self.term_null[arg])
                if passes and dst not in seen:
                    seen.add(dst)
                    todo.append(dst)
        return calls

    def _check_left_recursion(self) -> None:
        out = self._out()
        graph = [self._left_calls(r, out) for r in range(self.top + 1)]
        state = [0] * (self.top + 1)  # 0 new, 1 on the path, 2 done
        path: list[int] = []

        def visit(r: int) -> None:
            state[r] = 1
            path.append(r)
            for callee in graph[r]:
                if state[callee] == 1:
                    cycle = path[path.index(callee):] + [callee]
                    names = " -> ".join(self.rule_names[c] for c in cycle)
                    first = self.rule_names[callee]
                    raise GrammarError(
                        f"left recursion through {names} is not supported (only direct left "
                        f"recursion, '{first}: {first} x | y', is; rewrite it as a repeat)",
                        rule=first, line=self.cfg.lines.get(first))
                if state[callee] == 0:
                    visit(callee)
            path.pop()
            state[r] = 2

        for r in range(self.top + 1):
            if state[r] == 0:
                visit(r)

    def tail(self) -> list[int]:
        """Per node: 1 when it can only reach its rule's end without reading (a call or a
        terminal that returns there need not push a frame)."""
        out = self._out()
        tail = list(self.node_end)
        changed = True
        while changed:
            changed = False
            for node, edges in enumerate(out):
                if not tail[node] and edges and all(
                        k == EPS and tail[d] for k, _, d in edges):
                    tail[node] = 1
                    changed = True
        return tail

    def distances(self, term_min: list[int]) -> list[int]:
        """Per node: the fewest bytes to its rule's end (a fixpoint over the rules)."""
        dist = [INF] * len(self.node_end)
        for end in self.rule_end:
            dist[end] = 0
        edges = list(zip(self.src, self.kind, self.arg, self.dst))
        changed = True
        while changed:
            changed = False
            for s, k, a, d in edges:
                if dist[d] >= INF:
                    continue
                w = 0 if k == EPS else (term_min[a] if k == TERM else dist[self.rule_start[a]])
                if w >= INF:
                    continue
                if w + dist[d] < dist[s]:
                    dist[s] = w + dist[d]
                    changed = True
        return dist

    def max_distance(self, term_max: list[int], node_dist) -> int:
        """An upper bound on the distance of any parser state: for a grammar without
        recursion, the largest over its nested positions; else ``UNBOUNDED_DISTANCE``."""
        edges: list[list[tuple[int, int, int]]] = [[] for _ in range(self.top + 1)]
        for s, k, a, d in zip(self.src, self.kind, self.arg, self.dst):
            if k != EPS:
                edges[self.node_rule[s]].append((k, a, d))
        bound: dict[int, int] = {}
        active: set[int] = set()

        def worst(r: int) -> int:
            if r in bound:
                return bound[r]
            if r in active:
                raise _Recursive
            active.add(r)
            best = 0
            for k, a, d in edges[r]:
                inner = term_max[a] if k == TERM else worst(a)
                best = max(best, inner + node_dist[d])
            active.discard(r)
            bound[r] = best
            return best

        try:
            return min(worst(self.top), UNBOUNDED_DISTANCE)
        except (_Recursive, RecursionError):  # recursion in the grammar (or very deep nesting)
            return UNBOUNDED_DISTANCE


def _minimal_dfa(edges: list, start: int, final: int):
    """The minimal DFA of an NFA over symbol labels (``edges[node]``: (label or None for
    epsilon, target); every node reaches ``final``): (number of states, initial state,
    accepting states, moves (state, label, target))."""
    def closure(nodes) -> frozenset:
        seen = set(nodes)
        todo = list(nodes)
        while todo:
            for label, target in edges[todo.pop()]:
                if label is None and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return frozenset(seen)

    first = closure([start])
    ids = {first: 0}
    sets = [first]
    moves: list[tuple[int, tuple[int, int], int]] = []
    for current in sets:
        by_label: dict[tuple[int, int], set[int]] = {}
        for node in current:
            for label, target in edges[node]:
                if label is not None:
                    by_label.setdefault(label, set()).add(target)
        for label in sorted(by_label):
            successor = closure(by_label[label])
            if successor not in ids:
                ids[successor] = len(sets)
                sets.append(successor)
            moves.append((ids[current], label, ids[successor]))
    n = len(sets)
    out: list[list[tuple[tuple[int, int], int]]] = [[] for _ in range(n)]
    for state, label, target in moves:
        out[state].append((label, target))
    block = [1 if final in sets[i] else 0 for i in range(n)]
    count = len(set(block))
    while True:  # Moore's refinement: same block and same moves into blocks
        signatures = {}
        refined = []
        for i in range(n):
            signature = (block[i], tuple((label, block[t]) for label, t in out[i]))
            refined.append(signatures.setdefault(signature, len(signatures)))
        block = refined
        if len(signatures) == count:
            break
        count = len(signatures)
    reduced = sorted({(block[s], label, block[t]) for s, label, t in moves})
    accepting = sorted({block[i] for i in range(n) if final in sets[i]})
    return count, block[0], accepting, reduced


class _Recursive(Exception):
    """The grammar has recursion: distances are unbounded."""


def _productive(cfg: Cfg) -> dict[str, list]:
    """The rules that derive some string, with only their alternatives that can; raises
    GrammarError when the start rule derives none."""
    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, alternatives in cfg.rules.items():
            if name in productive:
                continue
            if any(all(k == "term" or s in productive for k, s in alt) for alt in alternatives):
                productive.add(name)
                changed = True
    if cfg.start not in productive:
        raise GrammarError("the grammar matches no string (its start rule never ends)",
                           rule=cfg.start, line=cfg.lines.get(cfg.start))
    return {
        name: [alt for alt in alternatives
               if all(k == "term" or s in productive for k, s in alt)]
        for name, alternatives in cfg.rules.items() if name in productive
    }


def _reachable(cfg: Cfg, rules: dict[str, list]) -> list[str]:
    """The rules reachable from the start rule, in order of discovery."""
    order = [cfg.start]
    seen = {cfg.start}
    for name in order:
        for alt in rules[name]:
            for kind, symbol in alt:
                if kind == "rule" and symbol not in seen:
                    seen.add(symbol)
                    order.append(symbol)
    return order
