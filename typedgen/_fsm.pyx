# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The hot core: a lazy byte-level DFA, the vocabulary's byte trie, and the token index.

* :class:`Automaton` is the abstract interface the token index drives: ``step(state, byte)``
  (a C method, ``nogil``) returns the next state or a negative code (dead / failed), and
  ``accepting(state)``. :class:`RegexAutomaton` implements it for a regular expression by
  lazy subset construction over a byte NFA (see ``typedgen._regex``): a DFA state is an interned
  set of NFA nodes, built the first time a byte leads to it; its 256-entry transition row is
  filled on demand, one byte interval at a time. A later grammar engine implements the same
  interface and reuses everything below.
* :class:`TokenTrie` is a byte trie of a vocabulary in preorder arrays (each node knows where
  its subtree ends), built once per vocabulary and shared by every guide.
* :class:`Guide` is the token index of one automaton over one trie. The mask of a state is
  computed on its first visit by one scan of the trie that skips every subtree whose prefix
  leads the automaton to a dead state (GIL released), then memoized; later masks are a
  ``memcpy``. The next state of a token is not stored: ``advance`` steps the token's bytes
  through the cached DFA rows (a few array reads), so a visited state costs its bitmask
  (``4 * ceil(vocab/32)`` bytes) plus its DFA row (1 KiB) and NFA node set.

Soundness: the NFA only has nodes from which acceptance is reachable, so every non-empty DFA
state is live; a token is allowed exactly when its bytes lead to a live state, and EOS exactly
in accepting states. Any byte string is reachable through tokens when the vocabulary has a
token for every byte (byte-fallback and byte-level vocabularies do), so a walk over allowed
tokens can always finish.
"""

from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    NOWAIT_LOCK,
    WAIT_LOCK,
)
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memcmp, memcpy, memset
from cython.parallel cimport prange

cimport numpy as cnp

from typedgen._hashing cimport hash_ints
import queue
import threading

import numpy as np

from typedgen._errors import GuideError, StateLimitError, TypedgenError

cnp.import_array()

__all__ = [
    "DEFAULT_MAX_STATES",
    "PREFETCH_SUCCESSORS",
    "Automaton",
    "Guide",
    "RegexAutomaton",
    "TokenTrie",
    "fill_bitmasks",
]

DEFAULT_MAX_STATES = 200_000
"""Default limit on the DFA states of one pattern (each holds a 1 KiB row and, once visited, a
token mask)."""

cdef extern from "<sched.h>":
    int sched_yield() noexcept nogil

cdef extern from *:
    """
    static inline int tg_atomic_load(int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void tg_atomic_add(int* p, int v) { __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }
    """
    int _atomic_load "tg_atomic_load" (int* p) noexcept nogil
    void _atomic_add "tg_atomic_add" (int* p, int v) noexcept nogil


cdef inline void _yield_lock(_Yield* y) noexcept nogil:
    """Hand the lock ``y`` holds to the threads waiting for it, then take it back (a walk can
    pause there: DFA states are never removed, so its states stay valid)."""
    if y == NULL or _atomic_load(y.waiting) == 0:
        return
    PyThread_release_lock(y.lock)
    while _atomic_load(y.waiting) > 0:
        sched_yield()
    PyThread_acquire_lock(y.lock, WAIT_LOCK)


cdef enum:
    DEPTH_CUT = 1      # the text bound stopped at the horizon (a lower bound)
    DEPTH_EXACT = 2    # every text string longer than the bound is dead

cdef enum:
    TEXT_UNBOUNDED = 0x7FFF
    TEXT_HORIZON = 24
    DEPTH_UNKNOWN = -1
    DEPTH_IN_PROGRESS = -2


# UTF-8 lead bytes 0xC2..0xF4: sequence length and the range of the second byte
cdef int _UTF8_LENGTH[51]
cdef int _UTF8_SECOND_LO[51]
cdef int _UTF8_SECOND_HI[51]
for _lead in range(0xC2, 0xF5):
    _UTF8_LENGTH[_lead - 0xC2] = 2 if _lead < 0xE0 else (3 if _lead < 0xF0 else 4)
    _UTF8_SECOND_LO[_lead - 0xC2] = {0xE0: 0xA0, 0xF0: 0x90}.get(_lead, 0x80)
    _UTF8_SECOND_HI[_lead - 0xC2] = {0xED: 0x9F, 0xF4: 0x8F}.get(_lead, 0xBF)

# UTF-8 decoding states of text (see _text_step): at a character boundary, or inside one
cdef enum:
    U_START = 0
    U_NEED1 = 1     # one continuation byte 80..BF
    U_NEED2 = 2     # two, the first 80..BF
    U_NEED3 = 3
    U_E0 = 4        # two, the first A0..BF
    U_ED = 5        # two, the first 80..9F
    U_F0 = 6        # three, the first 90..BF
    U_F4 = 7        # three, the first 80..8F
    U_BAD = 8


cdef inline int _text_step(int q, uint8_t b) noexcept nogil:
    """The next UTF-8 decoding state of text after byte ``b``, U_BAD when ``b`` cannot be
    there (controls, ``"``, ``\\``, DEL, malformed UTF-8)."""
    if q == U_START:
        if 0x20 <= b < 0x7F:
            return U_BAD if b == 0x22 or b == 0x5C else U_START
        if 0xC2 <= b <= 0xDF:
            return U_NEED1
        if b == 0xE0:
            return U_E0
        if b == 0xED:
            return U_ED
        if 0xE1 <= b <= 0xEF:
            return U_NEED2
        if b == 0xF0:
            return U_F0
        if b == 0xF4:
            return U_F4
        if 0xF1 <= b <= 0xF3:
            return U_NEED3
        return U_BAD
    if q == U_E0:
        return U_NEED1 if 0xA0 <= b <= 0xBF else U_BAD
    if q == U_ED:
        return U_NEED1 if 0x80 <= b <= 0x9F else U_BAD
    if q == U_F0:
        return U_NEED2 if 0x90 <= b <= 0xBF else U_BAD
    if q == U_F4:
        return U_NEED2 if 0x80 <= b <= 0x8F else U_BAD
    if 0x80 <= b <= 0xBF:
        return U_START if q == U_NEED1 else q - 1
    return U_BAD


# --------------------------------------------------------------------------------------------
# the abstract automaton


cdef class Automaton:
    """A deterministic automaton over bytes, driven by :class:`Guide` through C methods.

    Subclasses implement ``step`` (next state, or ``DEAD`` (-2), or ``FAILED`` (-3) after which
    ``failure()`` returns the exception to raise), ``accepting`` and ``initial``.
    """

    cdef int step(self, int state, int byte) noexcept nogil:
        return DEAD

    cdef bint accepting(self, int state) noexcept nogil:
        return False

    cdef int num_states(self) noexcept nogil:
        return 0

    cdef object failure(self):
        return RuntimeError("automaton failure")

    cdef size_t memory(self) noexcept nogil:
        return 0

    cdef int distance(self, int state) noexcept nogil:
        """A lower bound on the number of bytes that lead from ``state`` to an accepting state
        (0 in an accepting state, ``DIST_NONE`` when none is reachable). This base knows
        nothing: 0."""
        return 0

    cdef int max_distance(self) noexcept nogil:
        """An upper bound on ``distance`` over every live state (this base: 0, so a guide
        never restricts a mask by the budget)."""
        return 0

    cdef int text_depth(self, int state, bint refresh) noexcept nogil:
        """A lower bound on the largest ``L`` such that every *text* string of at most ``L``
        bytes leads from ``state`` to a live state (``TEXT_UNBOUNDED``: no bound). Text is
        UTF-8 without controls, ``"`` and ``\\`` (the body of a JSON string), including
        prefixes that end inside a character. Memoized per state.

        It is positive only for a state whose every text character leads to one same state
        (itself for an unbounded string, the next position for a counted one), so it costs a
        few hundred steps per state and lets the token walk accept whole trie subtrees of
        text at once. A chain of counted positions is followed ``TEXT_HORIZON`` states ahead;
        ``refresh`` extends a bound that was cut at that horizon."""
        if refresh and state < self._depth_cap and self._depth_cut[state] & DEPTH_CUT:
            self._depth[state] = DEPTH_UNKNOWN
        return self._text_depth(state, 0)

    cdef bint text_exact(self, int state) noexcept nogil:
        """After ``text_depth(state)``: True when that bound is exact, every text string of
        more characters than it being dead (a counted string that must end there)."""
        return (state < self._depth_cap
                and self._depth_cut[state] & (DEPTH_CUT | DEPTH_EXACT) == DEPTH_EXACT)

    cdef int _text_depth(self, int state, int level) noexcept nogil:
        cdef int i, cap, d, target
        if state >= self._depth_cap:
            cap = max(64, 2 * self._depth_cap, state + 1)
            self._depth = <int16_t*>_xrealloc(self._depth, cap * sizeof(int16_t))
            self._depth_cut = <uint8_t*>_xrealloc(self._depth_cut, cap)
            for i in range(self._depth_cap, cap):
                self._depth[i] = DEPTH_UNKNOWN
                self._depth_cut[i] = 0
            self._depth_cap = cap
        d = self._depth[state]
        if d != DEPTH_UNKNOWN:
            return 0 if d == DEPTH_IN_PROGRESS else d
        if level >= TEXT_HORIZON:
            return -1  # cut: the caller's bound becomes a lower bound
        target = self._text_target(state)
        self._depth_cut[state] = 0
        if target < 0:
            d = 0
            if self._text_dead(state):
                self._depth_cut[state] = DEPTH_EXACT
        elif target == state:
            d = TEXT_UNBOUNDED
        else:
            self._depth[state] = DEPTH_IN_PROGRESS
            d = self._text_depth(target, level + 1)
            if d < 0 or (target < self._depth_cap and self._depth_cut[target] & DEPTH_CUT):
                self._depth_cut[state] = DEPTH_CUT
                d = max(d, 0)
            elif self._depth_cut[target] & DEPTH_EXACT:
                self._depth_cut[state] = DEPTH_EXACT
            d = TEXT_UNBOUNDED if d == TEXT_UNBOUNDED else d + 1
        self._depth[state] = <int16_t>d
        return d

    cdef bint _text_dead(self, int state) noexcept nogil:
        """True when no text character can start in ``state``."""
        cdef int b
        for b in range(0x20, 0xF5):
            if (b < 0x7F and b != 0x22 and b != 0x5C) or b >= 0xC2:
                if self.step(state, b) >= 0:
                    return False
        return True

    cdef int _text_target(self, int state) noexcept nogil:
        """The state every text character leads to from ``state``, or -1 when they do not
        all lead to one live state."""
        cdef int b, lead, target = self.step(state, 0x61)
        if target < 0:
            return -1
        for b in range(0x20, 0x7F):
            if b != 0x22 and b != 0x5C and self.step(state, b) != target:
                return -1
        for lead in range(0xC2, 0xF5):
            if self._continuations(self.step(state, lead), _UTF8_SECOND_LO[lead - 0xC2],
                                   _UTF8_SECOND_HI[lead - 0xC2], _UTF8_LENGTH[lead - 0xC2] - 1,
                                   target) != target:
                return -1
        return target

    cdef int _continuations(self, int state, int lo, int hi, int remaining,
                            int target) noexcept nogil:
        """The state reached from ``state`` by any ``remaining`` continuation bytes (the first
        in ``lo..hi``), -1 when they do not all lead to one live state."""
        cdef int b, common = -1, t
        if state < 0:
            return -1
        for b in range(lo, hi + 1):
            t = self.step(state, b)
            if t < 0 or (common >= 0 and t != common):
                return -1
            common = t
        if remaining == 1:
            return common
        return self._continuations(common, 0x80, 0xBF, remaining - 1, target)

    @property
    def initial_state(self) -> int:
        return self.initial

    def run(self, data, int state=-1) -> int:
        """State reached from ``state`` (default: the initial state) over ``data``; -1 when
        the bytes lead nowhere (dead)."""
        cdef const uint8_t[:] view = data
        cdef Py_ssize_t i
        cdef int s = self.initial if state < 0 else state
        self._check_state(s)
        for i in range(view.shape[0]):
            s = self.step(s, view[i])
            if s == FAILED:
                raise self.failure()
            if s < 0:
                return -1
        return s

    def is_accepting(self, int state) -> bool:
        self._check_state(state)
        return self.accepting(state)

    def distance_to_final(self, int state) -> int:
        """The fewest bytes that lead from ``state`` to an accepting state (0 when it accepts;
        for an automaton that does not know, 0)."""
        self._check_state(state)
        return self.distance(state)

    def text_bound(self, int state) -> tuple[int, bool]:
        """(``text_depth(state)``, whether it is exact); see the C method."""
        self._check_state(state)
        cdef int bound = self.text_depth(state, True)
        return bound, self.text_exact(state)

    cdef void _check_state(self, int state) except *:
        if state < 0 or state >= self.num_states():
            raise ValueError(f"unknown automaton state {state}")


    def __dealloc__(self):
        free(self._depth)
        free(self._depth_cut)


# --------------------------------------------------------------------------------------------
# the regex automaton: lazy subset construction


cdef int _heap_push(int64_t* heap, int n, int64_t item) noexcept nogil:
    """Add ``item`` to the binary min-heap ``heap[:n]``; the new size."""
    cdef int i = n, parent
    while i > 0:
        parent = (i - 1) >> 1
        if heap[parent] <= item:
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = item
    return n + 1


cdef int _heap_pop(int64_t* heap, int n) noexcept nogil:
    """Remove the least item of the binary min-heap ``heap[:n]``; the new size."""
    cdef int i = 0, child
    cdef int64_t last = heap[n - 1]
    n -= 1
    while True:
        child = 2 * i + 1
        if child >= n:
            break
        if child + 1 < n and heap[child + 1] < heap[child]:
            child += 1
        if heap[child] >= last:
            break
        heap[i] = heap[child]
        i = child
    heap[i] = last
    return n


cdef int _cmp_int32(const void* a, const void* b) noexcept nogil:
    cdef int32_t x = (<const int32_t*>a)[0]
    cdef int32_t y = (<const int32_t*>b)[0]
    return (x > y) - (x < y)


cdef class RegexAutomaton(Automaton):
    """The DFA of a byte NFA (``typedgen._regex.Nfa``), built lazily, one state at a time.

    ``max_states`` bounds the number of DFA states; exceeding it raises StateLimitError (for
    ``pattern``) from whichever call needed the new state. Not thread-safe by itself: a
    :class:`Guide` serializes every use of its automaton.

    The NFA's repeat blocks (long counted repeats, see ``typedgen._regex.Nfa``) are expanded
    virtually: the nodes of their later copies are numbered after the NFA's own, and their edges
    and distances derived from the first copy as DFA states reach them, so a repeat costs one
    copy however many it allows.
    """


    def __cinit__(self):
        self.n_states = 0
        self.cap_states = 0
        self.table_mask = -1

    def __init__(self, nfa, *, pattern: str, max_states: int):
        cdef int32_t[::1] src = nfa.src
        cdef int32_t[::1] lo = nfa.lo
        cdef int32_t[::1] hi = nfa.hi
        cdef int32_t[::1] dst = nfa.dst
        cdef Py_ssize_t n_edges = src.shape[0], k
        cdef int n = nfa.num_nodes, i, node, start_set
        if max_states < 1:
            raise ValueError("max_states must be >= 1")
        self.pattern = pattern
        self.max_states = max_states
        self.is_regex = True
        self.num_nodes = n
        self.accept_node = nfa.accept
        self.byte_start = <int32_t*>_xcalloc(n + 1, sizeof(int32_t))
        self.eps_start = <int32_t*>_xcalloc(n + 1, sizeof(int32_t))
        cdef Py_ssize_t n_byte = 0, n_eps = 0
        for k in range(n_edges):
            if lo[k] < 0:
                self.eps_start[src[k] + 1] += 1
                n_eps += 1
            else:
                self.byte_start[src[k] + 1] += 1
                n_byte += 1
        for i in range(n):
            self.byte_start[i + 1] += self.byte_start[i]
            self.eps_start[i + 1] += self.eps_start[i]
        self.byte_lo = <uint8_t*>_xmalloc(n_byte + 1)
        self.byte_hi = <uint8_t*>_xmalloc(n_byte + 1)
        self.byte_dst = <int32_t*>_xmalloc((n_byte + 1) * sizeof(int32_t))
        self.eps_dst = <int32_t*>_xmalloc((n_eps + 1) * sizeof(int32_t))
        cdef int32_t* fill_b = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* fill_e = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        memcpy(fill_b, self.byte_start, n * sizeof(int32_t))
        memcpy(fill_e, self.eps_start, n * sizeof(int32_t))
        for k in range(n_edges):
            node = src[k]
            if lo[k] < 0:
                self.eps_dst[fill_e[node]] = dst[k]
                fill_e[node] += 1
            else:
                self.byte_lo[fill_b[node]] = <uint8_t>lo[k]
                self.byte_hi[fill_b[node]] = <uint8_t>hi[k]
                self.byte_dst[fill_b[node]] = dst[k]
                fill_b[node] += 1
        free(fill_b)
        free(fill_e)
        cdef int32_t[:, ::1] blocks = nfa.blocks
        cdef int b, u
        cdef int32_t* block
        self.n_blocks = blocks.shape[0]
        self.blocks = <int32_t*>_xmalloc((self.n_blocks * 7 + 1) * sizeof(int32_t))
        self.block_min = <int32_t*>_xmalloc((self.n_blocks + 1) * sizeof(int32_t))
        self.node_block = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        memset(self.node_block, 0xFF, (n + 1) * sizeof(int32_t))
        self.num_ids = n
        for b in range(self.n_blocks):
            block = self.blocks + 7 * b
            for i in range(6):
                block[i] = blocks[b, i]
            block[6] = <int32_t>self.num_ids
            self.num_ids += (<int64_t>block[1]) * (block[2] - 1)
            for u in range(block[0], block[0] + block[1]):
                self.node_block[u] = b
            self.node_block[block[5]] = -2 - b
        if self.num_ids > 0x7FFFFFFF:
            raise ValueError("the NFA has more node numbers than int32 holds")
        self.marks = <int32_t*>_xcalloc(self.num_ids + 1, sizeof(int32_t))
        self.pages_touched = <uint8_t*>_xcalloc(
            ((self.num_ids + 1) * sizeof(int32_t) >> 15) + 1, 1)
        self.work_cap = min(n + 1, 1024)  # grown on demand (a closure rarely holds every node)
        self.stack = <int32_t*>_xmalloc(self.work_cap * sizeof(int32_t))
        self.buf = <int32_t*>_xmalloc(self.work_cap * sizeof(int32_t))
        self.generation = 0
        self._grow_table(64)
        # the initial state: the closure of node 0
        self.generation += 1
        self.marks[0] = self.generation
        self.stack[0] = 0
        start_set = self._intern(self._closure(1))
        if start_set == FAILED:
            raise self.failure()
        if start_set == DEAD:
            raise ValueError("the NFA accepts nothing")
        self.initial = start_set

    def __dealloc__(self):
        cdef int i
        for i in range(self.n_states):
            free(self.sets[i])
            free(self.rows[i])
        free(self.sets)
        free(self.rows)
        free(self.set_len)
        free(self.accepts)
        free(self.hashes)
        free(self.table)
        free(self.byte_start)
        free(self.byte_lo)
        free(self.byte_hi)
        free(self.byte_dst)
        free(self.eps_start)
        free(self.eps_dst)
        free(self.marks)
        free(self.pages_touched)
        free(self.stack)
        free(self.buf)
        free(self.node_dist)
        free(self.dists)
        free(self.blocks)
        free(self.block_min)
        free(self.node_block)

    @property
    def states(self) -> int:
        """Number of DFA states built so far."""
        return self.n_states

    cdef int num_states(self) noexcept nogil:
        return self.n_states

    cdef bint accepting(self, int state) noexcept nogil:
        return self.accepts[state]

    cdef object failure(self):
        return StateLimitError(pattern=self.pattern, limit=self.max_states)

    cdef size_t memory(self) noexcept nogil:
        """The bytes this automaton holds: the NFA's edges (CSR), the marks of its node
        numbers (for the virtual copies' numbers, the pages reached so far: the others are
        zeroed pages never touched, which cost no memory), the work buffers, the DFA states
        (node set, 1 KiB row, hash, flags), the intern table, the memoized distances and text
        bounds."""
        cdef size_t n = <size_t>self.num_nodes + 1
        cdef size_t edges_b = <size_t>self.byte_start[self.num_nodes]
        cdef size_t edges_e = <size_t>self.eps_start[self.num_nodes]
        return (2 * n * sizeof(int32_t) + edges_b * (2 + sizeof(int32_t))
                + edges_e * sizeof(int32_t)
                + n * sizeof(int32_t) + <size_t>self.n_blocks * 8 * sizeof(int32_t)
                + n * sizeof(int32_t) + <size_t>self.n_pages_touched * 4096
                + (((<size_t>self.num_ids + 1) * sizeof(int32_t) >> 15) + 1)
                + 2 * <size_t>self.work_cap * sizeof(int32_t)
                + <size_t>self.n_states * 256 * sizeof(int32_t) + self.set_bytes
                + <size_t>self.cap_states * (2 * sizeof(void*) + sizeof(int32_t) + 1
                                             + sizeof(uint64_t))
                + (<size_t>self.table_mask + 1) * sizeof(int32_t)
                + (n * sizeof(int32_t) if self.node_dist != NULL else 0)
                + <size_t>self.dists_cap * sizeof(int32_t)
                + <size_t>self._depth_cap * (sizeof(int16_t) + 1))

    cdef int distance(self, int state) noexcept nogil:
        """The fewest bytes from ``state`` to acceptance: the least distance of its NFA nodes
        (computed once per automaton, see ``_node_distances``), memoized per DFA state."""
        cdef int i, cap, d, best = DIST_NONE
        cdef int32_t* nodes
        if state < self.dists_cap and self.dists[state] >= 0:
            return self.dists[state]
        if self.node_dist == NULL:
            self._node_distances()
        if state >= self.dists_cap:
            cap = max(64, 2 * self.dists_cap, state + 1)
            self.dists = <int32_t*>_xrealloc(self.dists, cap * sizeof(int32_t))
            memset(self.dists + self.dists_cap, 0xFF, (cap - self.dists_cap) * sizeof(int32_t))
            self.dists_cap = cap
        nodes = self.sets[state]
        for i in range(self.set_len[state]):
            d = self._node_distance(nodes[i])
            if d < best:
                best = d
        self.dists[state] = best
        return best

    cdef int _node_distance(self, int32_t node) noexcept nogil:
        """The fewest bytes from NFA node number ``node`` (virtual too) to acceptance: inside a
        block, through the rest of its copy, the further copies it needs, then from its exit."""
        cdef int copy, b, local = self._locate(node, &b, &copy)
        cdef int32_t* block
        cdef int64_t through, more, total
        if b < 0:
            return self.node_dist[local]
        block = self.blocks + 7 * b
        if self.node_dist[block[5]] >= DIST_NONE:
            return DIST_NONE
        if local == block[0]:
            if copy >= block[3]:
                return self.node_dist[block[5]]
            through = self.block_min[b]
        else:
            through = self.node_dist[local]
        more = block[3] - copy - 1
        total = through + (more if more > 0 else 0) * self.block_min[b] + self.node_dist[block[5]]
        return <int>total if total < DIST_NONE else DIST_NONE

    cdef inline int _locate(self, int32_t node, int* block, int* copy) noexcept nogil:
        """The NFA node whose edges number ``node`` has (itself, unless virtual), with the block
        whose first copy holds that node (or -1) and the copy ``node`` is in."""
        cdef int lo = 0, hi = self.n_blocks - 1, mid
        cdef int32_t* row
        cdef int64_t offset
        if node < self.num_nodes:
            block[0] = self.node_block[node]
            if block[0] < 0:
                block[0] = -1
            copy[0] = 0
            return node
        while lo < hi:  # the last block whose virtual numbers start at or before node
            mid = (lo + hi + 1) >> 1
            if self.blocks[7 * mid + 6] <= node:
                lo = mid
            else:
                hi = mid - 1
        row = self.blocks + 7 * lo
        offset = node - row[6]
        block[0] = lo
        copy[0] = <int>(1 + offset // row[1])
        return <int>(row[0] + offset % row[1])

    cdef inline int32_t _number(self, int b, int copy, int32_t local) noexcept nogil:
        """The number of node ``local`` (of block ``b``'s first copy) in copy ``copy``."""
        cdef int32_t* row
        if copy == 0:
            return local
        row = self.blocks + 7 * b
        return <int32_t>(row[6] + (<int64_t>copy - 1) * row[1] + (local - row[0]))

    cdef int max_distance(self) noexcept nogil:
        if self.node_dist == NULL:
            self._node_distances()
        return self.max_node_dist

    cdef void _node_distances(self) noexcept nogil:
        """``node_dist`` (see its declaration), ``block_min`` and ``max_node_dist``, the largest
        finite distance of any node number: breadth-first searches backwards (byte edges weigh
        1, epsilon edges 0), first from each block's end over its first copy, then from the
        accept node over the nodes outside blocks, where a block's exit leads back to its start
        with ``lo`` times the block's fewest bytes."""
        cdef int n = self.num_nodes, u, e, b
        cdef int64_t d, worst
        cdef int32_t* block
        cdef _Reverse rev
        rev.start_b = <int32_t*>_xcalloc(n + 1, sizeof(int32_t))
        rev.start_e = <int32_t*>_xcalloc(n + 1, sizeof(int32_t))
        rev.src_b = <int32_t*>_xmalloc((self.byte_start[n] + 1) * sizeof(int32_t))
        rev.src_e = <int32_t*>_xmalloc((self.eps_start[n] + 1) * sizeof(int32_t))
        cdef int32_t* cursor = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* dist = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* queue = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        cdef int64_t* heap = <int64_t*>_xmalloc((self.n_blocks + 1) * sizeof(int64_t))
        # the reverse edges, as CSR by destination
        for u in range(n):
            for e in range(self.byte_start[u], self.byte_start[u + 1]):
                rev.start_b[self.byte_dst[e] + 1] += 1
            for e in range(self.eps_start[u], self.eps_start[u + 1]):
                rev.start_e[self.eps_dst[e] + 1] += 1
        for u in range(n):
            rev.start_b[u + 1] += rev.start_b[u]
            rev.start_e[u + 1] += rev.start_e[u]
        memcpy(cursor, rev.start_b, n * sizeof(int32_t))
        for u in range(n):
            for e in range(self.byte_start[u], self.byte_start[u + 1]):
                rev.src_b[cursor[self.byte_dst[e]]] = u
                cursor[self.byte_dst[e]] += 1
        memcpy(cursor, rev.start_e, n * sizeof(int32_t))
        for u in range(n):
            for e in range(self.eps_start[u], self.eps_start[u + 1]):
                rev.src_e[cursor[self.eps_dst[e]]] = u
                cursor[self.eps_dst[e]] += 1
        for u in range(n):
            dist[u] = DIST_NONE
        for b in range(self.n_blocks):
            block = self.blocks + 7 * b
            self._backward(&rev, dist, queue, heap, block[4], b)
            self.block_min[b] = dist[block[0]]
            dist[block[0]] = DIST_NONE  # the start's distance is to acceptance, below
        self._backward(&rev, dist, queue, heap, self.accept_node, -1)
        worst = 0
        for u in range(n):
            if self.node_block[u] < 0 and dist[u] < DIST_NONE and dist[u] > worst:
                worst = dist[u]
        self.node_dist = dist
        for b in range(self.n_blocks):  # the first copy is the farthest from the exit
            block = self.blocks + 7 * b
            for u in range(block[0], block[0] + block[1]):
                d = self._node_distance(u)
                if d < DIST_NONE and d > worst:
                    worst = d
        self.max_node_dist = <int>worst
        free(rev.start_b)
        free(rev.start_e)
        free(rev.src_b)
        free(rev.src_e)
        free(cursor)
        free(queue)
        free(heap)

    cdef void _backward(self, _Reverse* rev, int32_t* dist, int32_t* queue, int64_t* heap,
                        int target, int within) noexcept nogil:
        """Set ``dist`` of the nodes that reach ``target`` to their fewest bytes to it, by
        levels: a level's nodes first add those that reach them by epsilon edges, then the nodes
        one byte before them form the next level. With ``within = b >= 0`` only nodes of block
        b's first copy take part; with -1 only nodes outside every first copy (and the blocks'
        starts), a block's exit reaching its start with ``lo * block_min`` bytes (held in the
        min-heap ``heap`` of ``level << 32 | node`` until that level)."""
        cdef int head = 0, tail = 1, k, u, p, e, b, level = 0, level_end, heap_n = 0
        cdef int64_t through
        cdef int32_t* block
        dist[target] = 0
        queue[0] = target
        while True:
            while heap_n > 0 and (heap[0] >> 32) == level:
                p = <int>(heap[0] & <int64_t>0xFFFFFFFF)
                heap_n = _heap_pop(heap, heap_n)
                if dist[p] > level:
                    dist[p] = level
                    queue[tail] = p
                    tail += 1
            if head == tail:
                if heap_n == 0:
                    break
                level = <int>(heap[0] >> 32)
                continue
            k = head
            while k < tail:
                u = queue[k]
                k += 1
                for e in range(rev.start_e[u], rev.start_e[u + 1]):
                    p = rev.src_e[e]
                    if dist[p] > level and self._takes_part(p, within):
                        dist[p] = level
                        queue[tail] = p
                        tail += 1
                b = self.node_block[u]
                if within < 0 and b <= -2:  # u is the exit of block -2 - b
                    block = self.blocks + 7 * (-2 - b)
                    through = level + (<int64_t>block[3]) * self.block_min[-2 - b]
                    if through == level:
                        if dist[block[0]] > level:
                            dist[block[0]] = level
                            queue[tail] = block[0]
                            tail += 1
                    elif through < DIST_NONE:
                        heap_n = _heap_push(heap, heap_n, (through << 32) | block[0])
            level_end = tail
            for k in range(head, level_end):
                u = queue[k]
                for e in range(rev.start_b[u], rev.start_b[u + 1]):
                    p = rev.src_b[e]
                    if dist[p] > level + 1 and self._takes_part(p, within):
                        dist[p] = level + 1
                        queue[tail] = p
                        tail += 1
            head = level_end
            level += 1

    cdef inline bint _takes_part(self, int node, int within) noexcept nogil:
        """Whether ``node`` is in the search of ``_backward`` over ``within``."""
        cdef int b = self.node_block[node]
        if within >= 0:
            return b == within
        return b < 0 or node == self.blocks[7 * b]

    cdef int step(self, int state, int byte) noexcept nogil:
        cdef int32_t r = self.rows[state][byte]
        if r != UNKNOWN:
            return r
        return self._compute(state, byte)

    cdef inline int _push(self, int32_t node, int pending) noexcept nogil:
        """Mark ``node`` and push it on the stack unless already marked; the new stack size."""
        if self.marks[node] == self.generation:
            return pending
        if node >= self.num_nodes and not self.marks[node]:
            self._touch(node)
        self.marks[node] = self.generation
        if pending == self.work_cap:
            self._grow_work()
        self.stack[pending] = node
        return pending + 1

    cdef void _touch(self, int32_t node) noexcept nogil:
        """Count the page of ``marks`` that virtual node number ``node`` is on, the first time
        one of its numbers is marked (pages never reached cost no resident memory)."""
        cdef int64_t page = (<int64_t>node * sizeof(int32_t)) >> 12
        if not self.pages_touched[page >> 3] & (1 << (page & 7)):
            self.pages_touched[page >> 3] |= 1 << (page & 7)
            self.n_pages_touched += 1

    cdef void _grow_work(self) noexcept nogil:
        self.work_cap *= 2
        self.stack = <int32_t*>_xrealloc(self.stack, self.work_cap * sizeof(int32_t))
        self.buf = <int32_t*>_xrealloc(self.buf, self.work_cap * sizeof(int32_t))

    cdef int _closure(self, int pending) noexcept nogil:
        """Expand the ``pending`` nodes on the stack (already marked) through epsilon edges
        into ``buf``, keeping the nodes a DFA state needs; return how many."""
        cdef int count = 0, node, local, e, b, copy
        cdef int32_t* block
        while pending > 0:
            pending -= 1
            node = self.stack[pending]
            local = self._locate(node, &b, &copy)
            if self.byte_start[local + 1] > self.byte_start[local] or node == self.accept_node:
                if count == self.work_cap:
                    self._grow_work()
                self.buf[count] = node
                count += 1
            for e in range(self.eps_start[local], self.eps_start[local + 1]):
                pending = self._push(self._number(b, copy, self.eps_dst[e]), pending)
            if b >= 0:  # the edges between a block's copies
                block = self.blocks + 7 * b
                if local == block[0] and copy >= block[3]:
                    pending = self._push(block[5], pending)
                if local == block[4]:
                    if copy + 1 < block[2]:
                        pending = self._push(self._number(b, copy + 1, block[0]), pending)
                    else:
                        pending = self._push(block[5], pending)
        return count

    cdef int _compute(self, int state, int byte) noexcept nogil:
        """Fill the row of ``state`` for the interval of bytes that behave like ``byte``."""
        cdef int32_t* nodes = self.sets[state]
        cdef int n = self.set_len[state], i, e, lo, hi, pending = 0, low = 0, high = 255
        cdef int result, local, b, copy
        self.generation += 1
        for i in range(n):
            local = self._locate(nodes[i], &b, &copy)
            for e in range(self.byte_start[local], self.byte_start[local + 1]):
                lo = self.byte_lo[e]
                hi = self.byte_hi[e]
                if hi < byte:
                    if hi + 1 > low:
                        low = hi + 1
                elif lo > byte:
                    if lo - 1 < high:
                        high = lo - 1
                else:
                    if lo > low:
                        low = lo
                    if hi < high:
                        high = hi
                    pending = self._push(self._number(b, copy, self.byte_dst[e]), pending)
        if pending == 0:
            result = DEAD
        else:
            result = self._intern(self._closure(pending))
            if result == FAILED:
                return FAILED
        cdef int32_t* row = self.rows[state]
        for i in range(low, high + 1):
            row[i] = result
        return result

    cdef int _intern(self, int count) noexcept nogil:
        """The DFA state of the node set in ``buf[:count]``, created if new."""
        if count == 0:
            return DEAD
        if count > 1:
            qsort(self.buf, count, sizeof(int32_t), _cmp_int32)
        cdef uint64_t h = hash_ints(self.buf, count)
        cdef int slot = <int>(h & <uint64_t>self.table_mask), s
        while True:
            s = self.table[slot]
            if s < 0:
                break
            if (self.hashes[s] == h and self.set_len[s] == count
                    and memcmp(self.sets[s], self.buf, count * sizeof(int32_t)) == 0):
                return s
            slot = (slot + 1) & self.table_mask
        if self.n_states >= self.max_states:
            return FAILED
        if self.n_states == self.cap_states:
            self._grow_states()
        s = self.n_states
        self.sets[s] = <int32_t*>malloc(count * sizeof(int32_t))
        self.rows[s] = <int32_t*>malloc(256 * sizeof(int32_t))
        if self.sets[s] == NULL or self.rows[s] == NULL:
            with gil:
                raise MemoryError()
        memcpy(self.sets[s], self.buf, count * sizeof(int32_t))
        memset(self.rows[s], 0xFF, 256 * sizeof(int32_t))
        self.set_len[s] = count
        self.set_bytes += count * sizeof(int32_t)
        self.hashes[s] = h
        self.accepts[s] = self.buf[count - 1] == self.accept_node or _contains(
            self.buf, count, self.accept_node)
        self.table[slot] = s
        self.n_states += 1
        if 2 * self.n_states > self.table_mask:
            self._grow_table(2 * (self.table_mask + 1))
        return s

    cdef void _grow_states(self) noexcept nogil:
        cdef int cap = 64 if self.cap_states == 0 else 2 * self.cap_states
        self.sets = <int32_t**>_xrealloc(self.sets, cap * sizeof(int32_t*))
        self.rows = <int32_t**>_xrealloc(self.rows, cap * sizeof(int32_t*))
        self.set_len = <int32_t*>_xrealloc(self.set_len, cap * sizeof(int32_t))
        self.accepts = <uint8_t*>_xrealloc(self.accepts, cap)
        self.hashes = <uint64_t*>_xrealloc(self.hashes, cap * sizeof(uint64_t))
        self.cap_states = cap

    cdef void _grow_table(self, int size) noexcept nogil:
        cdef int i, slot
        free(self.table)
        self.table = <int32_t*>_xmalloc(size * sizeof(int32_t))
        memset(self.table, 0xFF, size * sizeof(int32_t))
        self.table_mask = size - 1
        for i in range(self.n_states):
            slot = <int>(self.hashes[i] & <uint64_t>self.table_mask)
            while self.table[slot] >= 0:
                slot = (slot + 1) & self.table_mask
            self.table[slot] = i


cdef inline int _walk_step(Automaton automaton, void* regex, int state, int byte) noexcept nogil:
    """``automaton.step(state, byte)``; for a regex DFA (``regex`` is it, else NULL) its cached
    row is read directly, without a virtual call, on the trie walks' hot path."""
    cdef int s
    if regex == NULL:
        return automaton.step(state, byte)
    s = (<RegexAutomaton>regex).rows[state][byte]
    if s == UNKNOWN:
        s = (<RegexAutomaton>regex)._compute(state, byte)
    return s


cdef inline int _known_text_depth(Automaton automaton, int state) noexcept nogil:
    """``automaton.text_depth(state)``, read from the memo when it is there."""
    if state < automaton._depth_cap and automaton._depth[state] >= 0:
        return automaton._depth[state]
    return automaton.text_depth(state, False)


cdef inline bint _contains(const int32_t* items, int n, int32_t x) noexcept nogil:
    cdef int i
    for i in range(n):
        if items[i] == x:
            return True
    return False


cdef void* _xmalloc(size_t size) noexcept nogil:
    cdef void* p = malloc(size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef void* _xcalloc(size_t count, size_t size) noexcept nogil:
    """Zeroed memory (pages of a large block are mapped only when first touched)."""
    cdef void* p = calloc(count if count else 1, size)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef void* _xrealloc(void* old, size_t size) noexcept nogil:
    cdef void* p = realloc(old, size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


# --------------------------------------------------------------------------------------------
# the vocabulary trie


cdef const uint8_t* _sort_data
cdef const int64_t* _sort_offsets



cdef int _cmp_tokens(const void* a, const void* b) noexcept nogil:
    cdef int32_t x = (<const int32_t*>a)[0]
    cdef int32_t y = (<const int32_t*>b)[0]
    cdef int64_t xs = _sort_offsets[x], xl = _sort_offsets[x + 1] - xs
    cdef int64_t ys = _sort_offsets[y], yl = _sort_offsets[y + 1] - ys
    cdef int c = memcmp(_sort_data + xs, _sort_data + ys, xl if xl < yl else yl)
    if c != 0:
        return c
    if xl != yl:
        return -1 if xl < yl else 1
    return (x > y) - (x < y)


cdef class TokenTrie:
    """The byte trie of a vocabulary: ``token_bytes[i]`` is token ``i``'s exact bytes, or None
    for a token that is never allowed (special/control ids); empty tokens are never allowed.

    Nodes are stored in preorder (children by byte value), each with its byte, its depth and
    the index just past its subtree, so a walk is one forward scan that can skip a subtree.
    """


    def __init__(self, token_bytes):
        cdef Py_ssize_t n = len(token_bytes), i
        cdef list chunks = []
        cdef int64_t total = 0
        cdef bytes b
        self.n_tokens = <int32_t>n
        self.offsets = <int64_t*>_xmalloc((n + 1) * sizeof(int64_t))
        cdef int32_t* order = <int32_t*>_xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t n_valid = 0
        for i in range(n):
            self.offsets[i] = total
            tb = token_bytes[i]
            if tb is None:
                continue
            b = bytes(tb)
            if len(b) == 0:
                continue
            if len(b) > 65535:
                raise ValueError(f"token {i} is longer than 65535 bytes")
            chunks.append(b)
            total += len(b)
            order[n_valid] = <int32_t>i
            n_valid += 1
        self.offsets[n] = total
        joined = b"".join(chunks)
        self.data = <uint8_t*>_xmalloc(total + 1)
        memcpy(self.data, <const char*>joined, total)
        self.n_entries = n_valid
        global _sort_data, _sort_offsets
        _sort_data = self.data
        _sort_offsets = self.offsets
        qsort(order, n_valid, sizeof(int32_t), _cmp_tokens)
        self._build(order, n_valid)
        free(order)

    cdef void _build(self, int32_t* order, int32_t n_valid):
        # upper bound on nodes: total bytes
        cdef int64_t cap = self.offsets[self.n_tokens] + 1
        self.node_byte = <uint8_t*>_xmalloc(cap)
        self.node_depth = <uint16_t*>_xmalloc(cap * sizeof(uint16_t))
        self.node_skip = <int32_t*>_xmalloc(cap * sizeof(int32_t))
        self.node_first = <int32_t*>_xmalloc((cap + 1) * sizeof(int32_t))
        self.entries = <int32_t*>_xmalloc((n_valid + 1) * sizeof(int32_t))
        cdef int32_t* end_node = <int32_t*>_xmalloc((n_valid + 1) * sizeof(int32_t))
        cdef int32_t* path = <int32_t*>_xmalloc(65537 * sizeof(int32_t))
        cdef int32_t* parent = <int32_t*>_xmalloc(cap * sizeof(int32_t))
        self.node_maxlen = <uint16_t*>_xmalloc(cap * sizeof(uint16_t))
        self.node_text = <uint8_t*>_xmalloc(cap)
        cdef int32_t count = 0, depth = 0, k, t, prev = -1, lcp, d, length, plen, j
        cdef const uint8_t* p
        cdef const uint8_t* q
        self.max_depth = 0
        for k in range(n_valid):
            t = order[k]
            p = self.data + self.offsets[t]
            length = <int32_t>(self.offsets[t + 1] - self.offsets[t])
            lcp = 0
            if prev >= 0:
                q = self.data + self.offsets[prev]
                plen = <int32_t>(self.offsets[prev + 1] - self.offsets[prev])
                while lcp < length and lcp < plen and p[lcp] == q[lcp]:
                    lcp += 1
            for d in range(depth, lcp, -1):
                self.node_skip[path[d]] = count
            for d in range(lcp + 1, length + 1):
                self.node_byte[count] = p[d - 1]
                self.node_depth[count] = <uint16_t>d
                self.node_maxlen[count] = <uint16_t>d
                self.node_text[count] = _text_entries(p[d - 1])
                parent[count] = path[d - 1] if d > 1 else -1
                path[d] = count
                count += 1
            depth = length
            if length > self.max_depth:
                self.max_depth = length
            end_node[k] = path[length]
            self.entries[k] = t
            prev = t
        for d in range(depth, 0, -1):
            self.node_skip[path[d]] = count
        self.n_nodes = count
        j = 0
        for k in range(count + 1):
            while j < n_valid and end_node[j] < k:
                j += 1
            self.node_first[k] = j
        for k in range(count - 1, -1, -1):  # children come after their parent in preorder
            j = parent[k]
            if j >= 0:
                if self.node_maxlen[k] > self.node_maxlen[j]:
                    self.node_maxlen[j] = self.node_maxlen[k]
                self.node_text[j] &= _text_parents(self.node_byte[j], self.node_text[k])
        free(end_node)
        free(path)
        self._text_index(parent, n_valid)
        free(parent)

    cdef void _text_index(self, int32_t* parent, int32_t n_valid):
        """node_rooted and the per-length masks of text tokens."""
        cdef int32_t i, k, t, j, w, length, L
        self.node_pathq = <uint8_t*>_xmalloc(self.n_nodes + 1)
        self.node_chars = <uint16_t*>_xmalloc((self.n_nodes + 1) * sizeof(uint16_t))
        cdef uint8_t* pathq = self.node_pathq
        cdef uint8_t q
        self.node_rooted = <uint8_t*>_xmalloc(self.n_nodes + 1)
        self.node_ascii = <uint8_t*>_xmalloc(self.n_nodes + 1)
        for i in range(self.n_nodes):  # subtrees of ASCII bytes (children follow parents)
            self.node_ascii[i] = self.node_byte[i] < 0x80
        for i in range(self.n_nodes - 1, -1, -1):
            if parent[i] >= 0 and not self.node_ascii[i]:
                self.node_ascii[parent[i]] = 0
        cdef uint8_t* path_ascii = <uint8_t*>_xmalloc(self.n_nodes + 1)
        for i in range(self.n_nodes):  # and ASCII paths
            path_ascii[i] = self.node_byte[i] < 0x80 and (parent[i] < 0 or path_ascii[parent[i]])
            if parent[i] >= 0 and not path_ascii[parent[i]]:
                self.node_ascii[i] = 0
        free(path_ascii)
        for i in range(self.n_nodes):
            q = U_START if parent[i] < 0 else pathq[parent[i]]
            pathq[i] = U_BAD if q == U_BAD else <uint8_t>_text_step(q, self.node_byte[i])
            self.node_chars[i] = (0 if parent[i] < 0 else self.node_chars[parent[i]]) + (
                (self.node_byte[i] & 0xC0) != 0x80)
            self.node_rooted[i] = q != U_BAD and (self.node_text[i] >> q) & 1
        self.n_words = (self.n_tokens + 31) // 32
        self.text_masks = <uint32_t*>_xcalloc(
            <size_t>(self.max_depth + 1) * self.n_words + 1, sizeof(uint32_t))
        for i in range(self.n_nodes):
            if pathq[i] == U_BAD:
                continue
            length = self.node_depth[i]
            for k in range(self.node_first[i], self.node_first[i + 1]):
                t = self.entries[k]
                self.text_masks[length * self.n_words + (t >> 5)] |= (<uint32_t>1) << (t & 31)
        for L in range(1, self.max_depth + 1):
            for w in range(self.n_words):
                self.text_masks[L * self.n_words + w] |= self.text_masks[(L - 1) * self.n_words + w]
        self.open_masks = <uint32_t*>_xcalloc(4 * <size_t>self.n_words + 1, sizeof(uint32_t))
        for i in range(self.n_nodes):
            if pathq[i] == U_BAD:
                continue
            L = _pending_bytes(pathq[i])
            for k in range(self.node_first[i], self.node_first[i + 1]):
                t = self.entries[k]
                for length in range(L, 4):
                    self.open_masks[length * self.n_words + (t >> 5)] |= (<uint32_t>1) << (t & 31)

    def __dealloc__(self):
        free(self.node_maxlen)
        free(self.node_text)
        free(self.node_rooted)
        free(self.node_pathq)
        free(self.node_chars)
        free(self.node_ascii)
        free(self.text_masks)
        free(self.open_masks)
        free(self.node_byte)
        free(self.node_depth)
        free(self.node_skip)
        free(self.node_first)
        free(self.entries)
        free(self.data)
        free(self.offsets)

    def __len__(self) -> int:
        """Number of tokens (ids) the trie was built from."""
        return self.n_tokens

    @property
    def num_nodes(self) -> int:
        return self.n_nodes

    @property
    def memory(self) -> int:
        """Bytes of C memory held."""
        return (self.n_nodes * 19 + self.n_entries * 4
                + (self.max_depth + 5) * self.n_words * 4 + self.offsets[self.n_tokens]
                + (self.n_tokens + 1) * 8)

    def token_bytes(self, int token_id) -> bytes | None:
        if token_id < 0 or token_id >= self.n_tokens:
            raise IndexError(token_id)
        cdef int64_t s = self.offsets[token_id], e = self.offsets[token_id + 1]
        return self.data[s:e] if e > s else None

    cdef int walk(self, Automaton automaton, int state, uint32_t* mask, _Yield* y) noexcept nogil:
        """Set in ``mask`` the bit of every token whose bytes lead ``automaton`` from ``state``
        to a live state. Returns 0, or -1 when the automaton failed. With ``y``, the lock it
        names is handed over every few hundred nodes to threads waiting for it."""
        cdef int32_t* states = <int32_t*>malloc((self.max_depth + 1) * sizeof(int32_t))
        if states == NULL:
            return -1
        cdef int32_t i = 0, n = self.n_nodes, s, k, t, visited = 0
        cdef uint8_t* node_byte = self.node_byte
        cdef uint16_t* node_depth = self.node_depth
        cdef int32_t* node_skip = self.node_skip
        cdef int32_t* node_first = self.node_first
        cdef int32_t* entries = self.entries
        cdef uint16_t* node_maxlen = self.node_maxlen
        cdef uint8_t* node_text = self.node_text
        cdef uint8_t* node_rooted = self.node_rooted
        cdef uint8_t* node_pathq = self.node_pathq
        cdef uint16_t* node_chars = self.node_chars
        cdef uint8_t* node_ascii = self.node_ascii
        cdef int d, parent_state, w, bound = automaton.text_depth(state, True)
        cdef int limit = bound if bound < self.max_depth else self.max_depth
        cdef bint exact = bound < TEXT_UNBOUNDED and automaton.text_exact(state)
        cdef void* regex = <void*>automaton if automaton.is_regex else NULL
        if limit > 0:  # every text token of at most `limit` bytes is allowed: all at once
            for w in range(self.n_words):
                mask[w] |= self.text_masks[limit * self.n_words + w]
        states[0] = state
        while i < n:
            visited += 1
            if y != NULL and (visited & 255) == 0:
                _yield_lock(y)
            if limit > 0 and node_rooted[i] and node_maxlen[i] <= limit:
                i = node_skip[i]  # all of its tokens were just taken
                continue
            if exact and ((node_pathq[i] != U_BAD and node_chars[i] > bound)
                          or (node_rooted[i] and node_ascii[i])):
                # text longer than the state allows is dead; ASCII text tokens short enough
                # were taken with the mask above
                i = node_skip[i]
                continue
            d = node_depth[i]
            parent_state = states[d - 1]
            if node_text[i] & 1 and _known_text_depth(automaton, parent_state) > node_maxlen[i] - d:
                # every token below is text short enough to stay live: all allowed
                for k in range(node_first[i], node_first[node_skip[i]]):
                    t = entries[k]
                    mask[t >> 5] |= (<uint32_t>1) << (t & 31)
                i = node_skip[i]
                continue
            s = _walk_step(automaton, regex, parent_state, node_byte[i])
            if s < 0:
                if s == FAILED:
                    free(states)
                    return -1
                i = node_skip[i]
                continue
            states[d] = s
            for k in range(node_first[i], node_first[i + 1]):
                t = entries[k]
                mask[t >> 5] |= (<uint32_t>1) << (t & 31)
            i += 1
        free(states)
        return 0

    cdef int successors(self, Automaton automaton, int state, int32_t* out, int cap,
                        _Yield* y) noexcept nogil:
        """The distinct states a token leads ``automaton`` to from ``state`` (a live one), at
        most ``cap`` of them, in trie order, into ``out``: how many, or -1 when the automaton
        failed. ``y``: as for :meth:`walk`."""
        cdef int32_t* states = <int32_t*>malloc((self.max_depth + 1) * sizeof(int32_t))
        cdef int size = 16, slot, count = 0
        while size < 2 * cap:
            size *= 2
        cdef int32_t* seen = <int32_t*>malloc(size * sizeof(int32_t))
        if states == NULL or seen == NULL:
            free(states)
            free(seen)
            return -1
        memset(seen, 0xFF, size * sizeof(int32_t))
        cdef int32_t i = 0, n = self.n_nodes, s, visited = 0
        cdef void* regex = <void*>automaton if automaton.is_regex else NULL
        states[0] = state
        while i < n and count < cap:
            visited += 1
            if y != NULL and (visited & 255) == 0:
                _yield_lock(y)
            s = _walk_step(automaton, regex, states[self.node_depth[i] - 1], self.node_byte[i])
            if s < 0:
                if s == FAILED:
                    count = -1
                    break
                i = self.node_skip[i]
                continue
            states[self.node_depth[i]] = s
            if self.node_first[i] < self.node_first[i + 1]:
                slot = <int>((<uint32_t>s * 2654435761u) & <uint32_t>(size - 1))
                while seen[slot] >= 0 and seen[slot] != s:
                    slot = (slot + 1) & (size - 1)
                if seen[slot] < 0:
                    seen[slot] = s
                    out[count] = s
                    count += 1
            i += 1
        free(states)
        free(seen)
        return count

    cdef int walk_within(self, Automaton automaton, int state, uint32_t* mask, int limit,
                         int* reach) noexcept nogil:
        """Set in ``mask`` the bit of every token whose bytes lead ``automaton`` from ``state``
        to a live state at distance at most ``limit`` from acceptance. With ``reach`` not
        NULL, every live token is visited and ``reach[0]`` receives an upper bound on the
        distance they lead to (-1 when none is live); without, subtrees that cannot come
        within ``limit`` (a byte lowers the distance by at most one) are skipped. Returns 0,
        or -1 when the automaton failed.

        In a state that every text character leads back to (inside an unbounded string), a
        token made of text ends there or inside a character, as many bytes farther as the
        character still needs: such tokens are taken at once from ``open_masks``, and the
        subtrees made only of them are skipped."""
        cdef int32_t* states = <int32_t*>malloc((self.max_depth + 1) * sizeof(int32_t))
        if states == NULL:
            return -1
        cdef int32_t i = 0, n = self.n_nodes, s, k, t
        cdef int d, dist, best = -1
        cdef void* regex = <void*>automaton if automaton.is_regex else NULL
        cdef int loop_dist = automaton.distance(state), w, row
        cdef bint loop = automaton._text_target(state) == state
        if loop:
            if limit >= loop_dist:
                row = min(limit - loop_dist, 3) * self.n_words
                for w in range(self.n_words):
                    mask[w] |= self.open_masks[row + w]
            best = loop_dist + 3
        states[0] = state
        while i < n:
            if loop and self.node_rooted[i]:
                i = self.node_skip[i]
                continue
            d = self.node_depth[i]
            s = _walk_step(automaton, regex, states[d - 1], self.node_byte[i])
            if s < 0:
                if s == FAILED:
                    free(states)
                    return -1
                i = self.node_skip[i]
                continue
            if regex != NULL and s < (<RegexAutomaton>regex).dists_cap \
                    and (<RegexAutomaton>regex).dists[s] >= 0:  # memoized, no virtual call
                dist = (<RegexAutomaton>regex).dists[s]
            else:
                dist = automaton.distance(s)
            if reach == NULL and dist - (self.node_maxlen[i] - d) > limit:
                i = self.node_skip[i]
                continue
            states[d] = s
            if self.node_first[i] < self.node_first[i + 1]:
                if dist > best:
                    best = dist
                if dist <= limit:
                    for k in range(self.node_first[i], self.node_first[i + 1]):
                        t = self.entries[k]
                        mask[t >> 5] |= (<uint32_t>1) << (t & 31)
            i += 1
        free(states)
        if reach != NULL:
            reach[0] = best
        return 0


# --------------------------------------------------------------------------------------------
# the token index


cdef class Guide:
    """The allowed tokens of an automaton over a vocabulary, state by state.

    States are plain ints: ``initial_state`` to start, ``advance`` to move. State 0 is the
    finished state (after EOS): only EOS is allowed there. A mask is computed on a state's first
    visit (or ahead of it, see :meth:`prefetch`) and memoized, packed (see ``_pack_mask``);
    ``fill_bitmask`` of a memoized state is a copy or a clear-and-scatter.

    Bitmask layout (the reference loop)::

        for t in range(vocab_size):
            allowed[t] = (out[row, t // 32] >> (t % 32)) & 1

    Guides are safe to share between threads: every method holds the guide's lock while it
    reads or grows memoized data, and releases the GIL while it walks the trie. The background
    prefetcher holds the same lock and hands it over, within a few hundred trie nodes, to any
    thread that waits for it.
    """


    finished_state = 0

    def __cinit__(self):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()

    def __init__(self, Automaton automaton not None, TokenTrie trie not None, *,
                 eos_token_ids, int vocab_size):
        cdef list eos = sorted(set(int(t) for t in eos_token_ids))
        cdef int i
        if vocab_size < len(trie):
            raise ValueError(f"vocab_size {vocab_size} < number of tokens {len(trie)}")
        for t in eos:
            if t < 0 or t >= vocab_size:
                raise ValueError(f"EOS token id {t} outside the vocabulary (size {vocab_size})")
        self.automaton = automaton
        self.trie = trie
        self.vocab_size = vocab_size
        self.n_words = (vocab_size + 31) // 32
        self.n_eos = len(eos)
        self.eos = <int32_t*>_xmalloc((self.n_eos + 1) * sizeof(int32_t))
        for i in range(self.n_eos):
            self.eos[i] = eos[i]

    def __dealloc__(self):
        cdef int i
        for i in range(self.n_masks):
            free(self.masks[i])
        free(self.masks)
        free(self.eos)
        free(self.reach)
        free(self.scratch)
        free(self.prefetched)
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    @property
    def initial_state(self) -> int:
        return self.automaton.initial + 1

    @property
    def bitmask_width(self) -> int:
        """Number of int32 words per bitmask row: ``(vocab_size + 31) // 32``."""
        return self.n_words

    @property
    def num_states(self) -> int:
        """Number of automaton states built so far (not all visited by the guide)."""
        return self.automaton.num_states()

    @property
    def memory(self) -> int:
        """Bytes of C memory held by this guide and its automaton (not the shared trie): the
        sum of :meth:`memory_usage`."""
        return sum(self.memory_usage().values())

    def memory_usage(self) -> dict[str, int]:
        """Bytes of C memory held, by part: ``automaton`` (the NFA and the DFA states built so
        far, see ``RegexAutomaton``; for another automaton what it reports), ``masks`` (the
        packed masks memoized so far: at most ``8 + 4 * bitmask_width`` bytes a state, far less
        for masks that allow few tokens or almost all), ``index`` (per-state tables and the
        scratch mask). The vocabulary's trie is shared by every guide of the vocabulary and not
        counted (``TokenTrie.memory``)."""
        cdef size_t automaton, masks, index
        self._acquire()
        automaton = self.automaton.memory()
        masks = self.mask_bytes
        index = (self.masks_cap * sizeof(void*) + self.reach_cap * sizeof(int32_t)
                 + self.prefetched_cap + self.n_eos * sizeof(int32_t))
        if self.scratch != NULL:
            index += self.n_words * sizeof(uint32_t)
        PyThread_release_lock(self.lock)
        return {"automaton": automaton, "masks": masks, "index": index}

    cdef inline int _check(self, long state) except -1:
        if state < 0 or state > self.automaton.num_states():
            raise GuideError(f"unknown guide state {state}")
        return 0

    cdef inline bint _is_eos(self, long token) noexcept nogil:
        cdef int i
        for i in range(self.n_eos):
            if self.eos[i] == token:
                return True
        return False

    def is_final(self, long state) -> bool:
        """True when EOS is allowed in ``state`` (the text so far is a complete match)."""
        self._check(state)
        return state == 0 or self._accepting(<int>state - 1)

    cdef void _acquire(self) noexcept:
        """Take the lock from a thread that holds the GIL (released while it waits)."""
        if PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            return
        with nogil:
            self._acquire_nogil()

    cdef void _acquire_nogil(self) noexcept nogil:
        """Take the lock, counted in ``waiting`` while it waits so that the prefetcher yields."""
        if PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            return
        _atomic_add(&self.waiting, 1)
        PyThread_acquire_lock(self.lock, WAIT_LOCK)
        _atomic_add(&self.waiting, -1)

    cdef int _compute_mask(self, int state, uint32_t* dense, _Yield* y) noexcept nogil:
        """The mask of guide state ``state`` into ``dense``; the caller holds the lock. 0, or
        -1 when the automaton failed."""
        cdef int i
        memset(dense, 0, self.n_words * sizeof(uint32_t))
        if state > 0 and self.trie.walk(self.automaton, state - 1, dense, y) != 0:
            return -1
        for i in range(self.n_eos):
            dense[self.eos[i] >> 5] &= ~((<uint32_t>1) << (self.eos[i] & 31))
        if state == 0 or self.automaton.accepting(state - 1):
            for i in range(self.n_eos):
                dense[self.eos[i] >> 5] |= (<uint32_t>1) << (self.eos[i] & 31)
        return 0

    cdef const uint32_t* _publish(self, int state, const uint32_t* dense) noexcept nogil:
        """Memoize ``dense`` as the mask of ``state`` unless one is there (the caller holds the
        lock); the packed mask kept."""
        cdef int i, cap
        cdef size_t size
        if state < self.n_masks and self.masks[state] != NULL:
            return self.masks[state]
        if state >= self.masks_cap:
            cap = max(64, 2 * self.masks_cap, state + 1)
            self.masks = <uint32_t**>_xrealloc(self.masks, cap * sizeof(uint32_t*))
            for i in range(self.masks_cap, cap):
                self.masks[i] = NULL
            self.masks_cap = cap
        self.masks[state] = _pack_mask(dense, self.n_words, &size)
        self.mask_bytes += size
        if state >= self.n_masks:
            self.n_masks = state + 1
        return self.masks[state]

    cdef const uint32_t* _mask_nogil(self, int state) noexcept nogil:
        """The memoized mask of a guide state, computed now if needed (the caller holds the
        lock); NULL when the automaton failed."""
        if state < self.n_masks and self.masks[state] != NULL:
            return self.masks[state]
        if self.scratch == NULL:
            self.scratch = <uint32_t*>_xmalloc(self.n_words * sizeof(uint32_t))
        if self._compute_mask(state, self.scratch, NULL) != 0:
            return NULL
        return self._publish(state, self.scratch)

    cdef const uint32_t* _mask(self, int state) except NULL:
        """``_mask_nogil`` raising the automaton's failure; the caller holds the lock."""
        cdef const uint32_t* mask
        if state < self.n_masks and self.masks[state] != NULL:
            return self.masks[state]
        with nogil:
            mask = self._mask_nogil(state)
        if mask == NULL:
            raise self.automaton.failure()
        return mask

    cdef bint _accepting(self, int state) noexcept:
        """Whether automaton state ``state`` accepts, read under the lock (a walk in another
        thread may be growing the automaton's arrays)."""
        cdef bint result
        self._acquire()
        result = self.automaton.accepting(state)
        PyThread_release_lock(self.lock)
        return result

    def fill_bitmask(self, long state, out, Py_ssize_t row=0) -> None:
        """Write the allowed tokens of ``state`` into row ``row`` of ``out``, an int32 numpy
        array or CPU torch tensor of shape ``(rows, bitmask_width)``, in place."""
        cdef char* target = _bitmask_row(out, row, self.n_words)
        self._check(state)
        self._acquire()
        try:
            _unpack_mask(self._mask(<int>state), <uint32_t*>target, self.n_words)
        finally:
            PyThread_release_lock(self.lock)

    cdef int _fill_nogil(self, long state, uint32_t* target) noexcept nogil:
        """``fill_bitmask`` without the GIL: 0, 1 for an unknown state, 2 when the automaton
        failed (the caller raises)."""
        cdef const uint32_t* mask
        if state < 0 or state > self.automaton.num_states():
            return 1
        self._acquire_nogil()
        mask = self._mask_nogil(<int>state)
        if mask != NULL:
            _unpack_mask(mask, target, self.n_words)
        PyThread_release_lock(self.lock)
        return 0 if mask != NULL else 2

    def prefetch(self, long state) -> None:
        """Compute ahead of time, in typedgen's background thread, the masks of the states one
        token after ``state`` (at most ``PREFETCH_SUCCESSORS`` of them), so that a later
        ``fill_bitmask`` of the state a sampled token leads to is a copy instead of a trie walk.

        Returns at once; a state is queued once in the guide's lifetime. The masks written are
        the ones ``fill_bitmask`` would compute itself (the same walk); a state the background
        thread has not reached yet is computed by the caller as usual, and the thread hands the
        guide's lock over to callers waiting for it. Failures (the automaton's state limit) are
        left to the call that needs the state."""
        cdef int cap
        self._check(state)
        if state == 0:
            return
        if state >= self.prefetched_cap:  # these flags are read and written under the GIL
            cap = max(64, 2 * self.prefetched_cap, state + 1)
            self.prefetched = <uint8_t*>_xrealloc(self.prefetched, cap)
            memset(self.prefetched + self.prefetched_cap, 0, cap - self.prefetched_cap)
            self.prefetched_cap = cap
        if self.prefetched[state]:
            return
        self.prefetched[state] = 1
        _prefetcher().put((self, state))

    def precompute(self, long state) -> int:
        """What :meth:`prefetch` does, in the calling thread (GIL released): memoize the masks
        of ``state`` and of the states one token after it; how many masks were computed."""
        self._check(state)
        return self._precompute(<int>state)

    cdef int _precompute(self, int state) except -1:
        cdef int32_t* succ = <int32_t*>_xmalloc((_PREFETCH_SUCCESSORS + 1) * sizeof(int32_t))
        cdef uint32_t* dense = <uint32_t*>_xmalloc(self.n_words * sizeof(uint32_t))
        cdef int n = 0, k, t, done = 0, rc = 0
        cdef _Yield y
        y.waiting = &self.waiting
        y.lock = self.lock
        with nogil:
            self._acquire_nogil()
            if state > 0:
                succ[0] = state - 1
                n = self.trie.successors(self.automaton, state - 1, succ + 1,
                                         _PREFETCH_SUCCESSORS, &y)
                n = n + 1 if n >= 0 else 1
            for k in range(n):
                t = succ[k] + 1
                if t < self.n_masks and self.masks[t] != NULL:
                    continue
                if self._compute_mask(t, dense, &y) != 0:
                    rc = -1
                    break
                if not (t < self.n_masks and self.masks[t] != NULL):
                    done += 1
                self._publish(t, dense)
                _yield_lock(&y)
            PyThread_release_lock(self.lock)
        free(succ)
        free(dense)
        return done

    def fill_bitmask_within(self, long state, long budget, out, Py_ssize_t row=0) -> bool:
        """Like :meth:`fill_bitmask`, for a generation that may emit at most ``budget`` more
        tokens, this one and the final EOS included: only the tokens after which an accepting
        state is at most ``budget - 2`` bytes away are allowed (one token per byte in the
        worst case, then EOS), and EOS when ``state`` is final.

        Returns True when that mask was written. Every token it allows keeps the same promise
        one step later, so when every byte of some shortest completion is a single-byte token
        of the vocabulary (byte-level and byte-fallback vocabularies have all 256), a walk that
        starts with ``budget >= distance_to_final(state) + 1`` and takes one allowed token per
        step, the budget dropping by one each time, always ends with EOS in a final state
        within its budget.

        Returns False when the budget is below ``distance_to_final(state) + 1`` (the shortest
        completion does not fit, one token per byte), or when no token fits it (the vocabulary
        lacks the single-byte tokens of every shortest completion): then the unrestricted mask
        of :meth:`fill_bitmask` is written, and the generation may be cut before it completes.

        Costs a copy, like :meth:`fill_bitmask`, while ``budget - 2 >= max_distance``; below
        that, a scan of the vocabulary's trie the first time a state is seen (which memoizes
        the largest distance its tokens lead to) and whenever the budget restricts its mask.
        """
        cdef char* target = _bitmask_row(out, row, self.n_words)
        cdef const uint32_t* mask
        cdef bint fits = True
        self._check(state)
        self._acquire()
        try:
            mask = self._budget_mask(<int>state, budget, &fits)
            if mask == self.scratch:
                memcpy(target, mask, self.n_words * sizeof(uint32_t))
            else:
                _unpack_mask(mask, <uint32_t*>target, self.n_words)
        finally:
            PyThread_release_lock(self.lock)
        return fits

    cdef const uint32_t* _budget_mask(self, int state, long budget, bint* fits) except NULL:
        """The mask of :meth:`fill_bitmask_within`: the memoized (packed) mask of ``state``,
        or the scratch buffer (dense); the caller holds the lock."""
        cdef const uint32_t* mask = self._mask(state)
        cdef int s = state - 1, i, cap, rc = 0, reach = -2
        cdef long limit = budget - 2
        cdef uint32_t any_bit = 0
        if state == 0:
            return mask
        if limit >= self.automaton.max_distance():
            return mask  # no token can lead farther than the budget allows
        if state < self.reach_cap and self.reach[state] != -2 and limit >= self.reach[state]:
            return mask
        if self.automaton.distance(s) > budget - 1:
            fits[0] = False  # the shortest completion does not fit, one token per byte
            return mask
        if self.scratch == NULL:
            self.scratch = <uint32_t*>_xmalloc(self.n_words * sizeof(uint32_t))
        if state >= self.reach_cap:
            cap = max(64, 2 * self.reach_cap, state + 1)
            self.reach = <int32_t*>_xrealloc(self.reach, cap * sizeof(int32_t))
            for i in range(self.reach_cap, cap):
                self.reach[i] = -2
            self.reach_cap = cap
        memset(self.scratch, 0, self.n_words * sizeof(uint32_t))
        with nogil:
            if self.reach[state] == -2:  # the first time: every token, to learn the reach
                rc = self.trie.walk_within(self.automaton, s, self.scratch, <int>limit, &reach)
                if rc == 0:
                    self.reach[state] = reach
            else:
                rc = self.trie.walk_within(self.automaton, s, self.scratch, <int>limit, NULL)
        if rc != 0:
            raise self.automaton.failure()
        if limit >= self.reach[state]:
            return mask
        for i in range(self.n_eos):
            self.scratch[self.eos[i] >> 5] &= ~((<uint32_t>1) << (self.eos[i] & 31))
        if self.automaton.accepting(s):
            for i in range(self.n_eos):
                self.scratch[self.eos[i] >> 5] |= (<uint32_t>1) << (self.eos[i] & 31)
        for i in range(self.n_words):
            any_bit |= self.scratch[i]
        if any_bit == 0:
            fits[0] = False
            return mask
        return self.scratch

    def distance_to_final(self, long state) -> int:
        """The fewest bytes that complete a match from ``state`` (0 when it is final): a
        request can surely finish with EOS within ``distance_to_final(state) + 1`` tokens
        under :meth:`fill_bitmask_within` when the vocabulary has the single-byte tokens."""
        cdef int d
        self._check(state)
        if state == 0:
            return 0
        self._acquire()
        d = self.automaton.distance(<int>state - 1)
        PyThread_release_lock(self.lock)
        return d

    @property
    def max_distance(self) -> int:
        """An upper bound on :meth:`distance_to_final` over every state: a budget of at least
        ``max_distance + 2`` tokens never restricts :meth:`fill_bitmask_within`."""
        cdef int d
        self._acquire()
        d = self.automaton.max_distance()
        PyThread_release_lock(self.lock)
        return d

    def allowed_token_ids(self, long state) -> list[int]:
        """The token ids allowed in ``state``, ascending (EOS ids included when final)."""
        cdef uint32_t* dense = <uint32_t*>_xmalloc(self.n_words * sizeof(uint32_t))
        cdef list out = []
        cdef int w, b
        cdef uint32_t word
        try:
            self._check(state)
            self._acquire()
            try:
                _unpack_mask(self._mask(<int>state), dense, self.n_words)
            finally:
                PyThread_release_lock(self.lock)
            for w in range(self.n_words):
                word = dense[w]
                while word:
                    b = _ctz(word)
                    out.append(w * 32 + b)
                    word &= word - 1
        finally:
            free(dense)
        return out

    def is_allowed(self, long state, long token_id) -> bool:
        """True when ``token_id`` is allowed in ``state``."""
        cdef bint allowed
        if token_id < 0 or token_id >= self.vocab_size:
            return False
        self._check(state)
        self._acquire()
        try:
            allowed = (_mask_word(self._mask(<int>state), <int>(token_id >> 5), self.n_words)
                       >> (token_id & 31)) & 1
        finally:
            PyThread_release_lock(self.lock)
        return allowed

    def advance(self, long state, long token_id) -> int:
        """The state after ``token_id``; raises GuideError when the token is not allowed.

        EOS in a final state leads to the finished state 0.
        """
        cdef int s
        self._check(state)
        if token_id < 0 or token_id >= self.vocab_size:
            raise GuideError(f"token id {token_id} outside the vocabulary (size {self.vocab_size})")
        if self._is_eos(token_id):
            if state == 0 or self._accepting(<int>state - 1):
                return 0
            raise GuideError(f"EOS token {token_id} is not allowed in state {state}: the text "
                             "so far is not a complete match")
        if state == 0:
            raise GuideError(f"token {token_id} is not allowed after EOS")
        cdef int64_t start = 0, end = 0
        if token_id < self.trie.n_tokens:
            start = self.trie.offsets[token_id]
            end = self.trie.offsets[token_id + 1]
        if end == start:
            raise GuideError(f"token {token_id} is never allowed (no bytes)")
        s = self._step_bytes(<int>state - 1, self.trie.data + start, end - start)
        if s < 0:
            raise GuideError(f"token {token_id} ({self.trie.data[start:end]!r}) is not allowed "
                             f"in state {state}")
        return s + 1

    def advance_bytes(self, long state, data) -> int:
        """The state after the raw bytes ``data`` (not necessarily whole tokens); raises
        GuideError when they lead out of the language."""
        cdef const uint8_t[:] view = data
        cdef int s
        self._check(state)
        if view.shape[0] == 0:
            return state
        if state == 0:
            raise GuideError("no bytes are allowed after EOS")
        s = self._step_bytes(<int>state - 1, &view[0], view.shape[0])
        if s < 0:
            raise GuideError(f"bytes {bytes(data)!r} are not allowed in state {state}")
        return s + 1

    cdef int _step_bytes(self, int state, const uint8_t* data, Py_ssize_t n) except -3:
        cdef Py_ssize_t i
        cdef int s = state
        self._acquire()  # the steps read cached rows: a few array reads, the GIL kept
        for i in range(n):
            s = self.automaton.step(s, data[i])
            if s < 0:
                break
        PyThread_release_lock(self.lock)
        if s == FAILED:
            raise self.automaton.failure()
        return s if s >= 0 else -1


def fill_bitmasks(guides, states, out, rows=None, *, int threads=1) -> list[int]:
    """Fill many rows of ``out`` at once: row ``rows[j]`` (default ``j``) gets what
    ``guides[j].fill_bitmask(states[j], out, rows[j])`` writes, with the GIL released and, with
    ``threads > 1``, that many threads sharing the rows (OpenMP). A row's guide is locked while
    its row is written, so rows of one guide take turns, and a mask first computed here is the
    one ``fill_bitmask`` computes. ``out`` is as for :meth:`Guide.fill_bitmask` (every guide has
    its width); ``states`` and ``rows`` are sequences of ints, ``rows`` distinct.

    Returns the positions ``j`` whose automaton failed (its state limit; nothing was written
    in their rows: ``fill_bitmask`` raises the error). Raises :class:`GuideError` for an
    unknown state, after the other rows are written."""
    cdef Py_ssize_t n = len(guides), j, stride, n_rows
    cdef int n_words, bad = -1
    if len(states) != n or (rows is not None and len(rows) != n):
        raise ValueError(f"{len(states)} states and {n if rows is None else len(rows)} rows "
                         f"for {n} guides")
    if n == 0:
        return []
    n_words = (<Guide?>guides[0]).n_words
    cdef char* base = _bitmask_row(out, 0, n_words)
    arr = out if isinstance(out, cnp.ndarray) else out.numpy()
    stride, n_rows = arr.strides[0], arr.shape[0]
    cdef void** ptrs = <void**>_xmalloc(n * sizeof(void*))
    cdef int64_t* wanted = <int64_t*>_xmalloc(n * sizeof(int64_t))
    cdef Py_ssize_t* target = <Py_ssize_t*>_xmalloc(n * sizeof(Py_ssize_t))
    cdef int* status = <int*>_xmalloc(n * sizeof(int))
    cdef Guide guide
    try:
        for j in range(n):
            guide = <Guide?>guides[j]
            if guide.n_words != n_words:
                raise ValueError(f"guide {j} has bitmask width {guide.n_words}, not {n_words}")
            ptrs[j] = <void*>guide
            wanted[j] = states[j]
            target[j] = j if rows is None else rows[j]
            if target[j] < 0 or target[j] >= n_rows:
                raise IndexError(f"row {target[j]} out of range for {n_rows} rows")
        with nogil:
            if threads > 1:
                for j in prange(n, num_threads=threads, schedule="dynamic", chunksize=4):
                    status[j] = (<Guide>ptrs[j])._fill_nogil(
                        wanted[j], <uint32_t*>(base + target[j] * stride))
            else:
                for j in range(n):
                    status[j] = (<Guide>ptrs[j])._fill_nogil(
                        wanted[j], <uint32_t*>(base + target[j] * stride))
        failed = []
        for j in range(n):
            if status[j] == 2:
                failed.append(j)
            elif status[j] == 1 and bad < 0:
                bad = <int>j
        if bad >= 0:
            raise GuideError(f"unknown guide state {wanted[bad]} (row {target[bad]})")
        return failed
    finally:
        free(ptrs)
        free(wanted)
        free(target)
        free(status)


cdef char* _bitmask_row(out, Py_ssize_t row, int n_words) except NULL:
    """The address of row ``row`` of the bitmask ``out`` (an int32 numpy array or CPU torch
    tensor of shape ``(rows, n_words)`` with contiguous, writeable rows)."""
    cdef cnp.ndarray arr
    if isinstance(out, cnp.ndarray):
        arr = <cnp.ndarray>out
    else:
        arr = out.numpy()  # a CPU torch tensor shares its memory with the array
    if cnp.PyArray_NDIM(arr) != 2 or cnp.PyArray_DIMS(arr)[1] != n_words:
        raise ValueError(
            f"bitmask must have shape (rows, {n_words}), got {(<object>arr).shape}")
    if cnp.PyArray_TYPE(arr) != cnp.NPY_INT32:
        raise ValueError(f"bitmask must be int32, got {arr.dtype}")
    if row < 0 or row >= cnp.PyArray_DIMS(arr)[0]:
        raise IndexError(f"row {row} out of range for {cnp.PyArray_DIMS(arr)[0]} rows")
    if cnp.PyArray_STRIDES(arr)[1] != 4 or not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError("bitmask rows must be contiguous and writeable")
    return <char*>cnp.PyArray_DATA(arr) + row * cnp.PyArray_STRIDES(arr)[0]


cdef inline int _pending_bytes(uint8_t q) noexcept nogil:
    """How many continuation bytes the UTF-8 decoding state ``q`` still needs."""
    if q == U_START:
        return 0
    if q == U_NEED1:
        return 1
    if q == U_NEED2 or q == U_E0 or q == U_ED:
        return 2
    return 3


cdef inline uint8_t _text_entries(uint8_t b) noexcept nogil:
    """The decoding states in which byte ``b`` may come next in text."""
    cdef uint8_t bits = 0
    cdef int q
    for q in range(U_BAD):
        if _text_step(q, b) != U_BAD:
            bits |= 1 << q
    return bits


cdef inline uint8_t _text_parents(uint8_t b, uint8_t child_bits) noexcept nogil:
    """The decoding states q in which byte ``b`` leads to a state the child accepts."""
    cdef uint8_t bits = 0
    cdef int q, nxt
    for q in range(U_BAD):
        nxt = _text_step(q, b)
        if nxt != U_BAD and child_bits & (1 << nxt):
            bits |= 1 << q
    return bits


cdef inline int _ctz(uint32_t x) noexcept nogil:
    cdef int n = 0
    while (x & 1) == 0:
        x >>= 1
        n += 1
    return n


# --------------------------------------------------------------------------------------------
# packed masks


cdef enum:
    MASK_DENSE = 0     # then every word
    MASK_SPARSE = 1    # then (word index, word) pairs of the words that are not 0
    MASK_COSPARSE = 2  # then (word index, word) pairs of the words that are not all ones


cdef uint32_t* _pack_mask(const uint32_t* dense, int n_words, size_t* size) noexcept nogil:
    """A packed copy of a mask: ``[kind, count, ...]`` (see the kinds above), whichever of the
    three is smallest; ``size`` receives its bytes (at most ``8 + 4 * n_words``)."""
    cdef int w, nonzero = 0, nonfull = 0, kind = MASK_DENSE, count = n_words, k = 2
    cdef uint32_t skip = 0
    cdef uint32_t* packed
    for w in range(n_words):
        if dense[w] != 0:
            nonzero += 1
        if dense[w] != 0xFFFFFFFFu:
            nonfull += 1
    if 2 * nonzero < n_words and nonzero <= nonfull:
        kind = MASK_SPARSE
        count = nonzero
    elif 2 * nonfull < n_words:
        kind = MASK_COSPARSE
        count = nonfull
        skip = 0xFFFFFFFFu
    cdef size_t words = 2 + (<size_t>count if kind == MASK_DENSE else 2 * <size_t>count)
    packed = <uint32_t*>_xmalloc(words * sizeof(uint32_t))
    packed[0] = kind
    packed[1] = count
    if kind == MASK_DENSE:
        memcpy(packed + 2, dense, n_words * sizeof(uint32_t))
    else:
        for w in range(n_words):
            if dense[w] != skip:
                packed[k] = w
                packed[k + 1] = dense[w]
                k += 2
    size[0] = words * sizeof(uint32_t)
    return packed


cdef void _unpack_mask(const uint32_t* packed, uint32_t* out, int n_words) noexcept nogil:
    """Write the packed mask into the dense row ``out``."""
    cdef uint32_t k, count = packed[1]
    if packed[0] == MASK_DENSE:
        memcpy(out, packed + 2, n_words * sizeof(uint32_t))
        return
    memset(out, 0 if packed[0] == MASK_SPARSE else 0xFF, n_words * sizeof(uint32_t))
    for k in range(count):
        out[packed[2 + 2 * k]] = packed[3 + 2 * k]


cdef uint32_t _mask_word(const uint32_t* packed, int w, int n_words) noexcept nogil:
    """Word ``w`` of a packed mask (a binary search over the pairs)."""
    cdef int lo = 0, hi = <int>packed[1] - 1, mid
    if packed[0] == MASK_DENSE:
        return packed[2 + w]
    while lo <= hi:
        mid = (lo + hi) >> 1
        if <int>packed[2 + 2 * mid] == w:
            return packed[3 + 2 * mid]
        if <int>packed[2 + 2 * mid] < w:
            lo = mid + 1
        else:
            hi = mid - 1
    return 0 if packed[0] == MASK_SPARSE else 0xFFFFFFFFu


# --------------------------------------------------------------------------------------------
# the background prefetcher


PREFETCH_SUCCESSORS = _PREFETCH_SUCCESSORS
"""The most successor states whose masks one :meth:`Guide.prefetch` computes."""

cdef object _queue = None
cdef object _queue_lock = threading.Lock()


cdef object _prefetcher():
    """The prefetch queue, with its daemon thread started on first use (one per process)."""
    global _queue
    if _queue is None:
        with _queue_lock:
            if _queue is None:
                work = queue.Queue()
                threading.Thread(target=_prefetch_loop, args=(work,), daemon=True,
                                 name="typedgen-prefetch").start()
                _queue = work
    return _queue


def _prefetch_loop(work) -> None:
    """The prefetch thread: (guide, state) items, in order."""
    while True:
        guide, state = work.get()
        try:
            (<Guide>guide)._precompute(state)
        except TypedgenError:
            pass  # the automaton's state limit: the call that needs the state raises it
        finally:
            del guide
            work.task_done()


def _wait_prefetched() -> None:
    """Block until every queued prefetch is done (for tests and benchmarks)."""
    if _queue is not None:
        _queue.join()
