# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Deterministic automata over bytes: the interface the token trie walk drives, and the lazy
DFA of a regular expression.

* :class:`Automaton` is the abstract interface: ``step(state, byte)`` (a C method, ``nogil``)
  returns the next state or a negative code (dead / failed), ``accepting(state)``, and the
  distance bounds that finish-within-budget reads. ``typedgen._grammar.GrammarAutomaton``
  implements it for a context-free grammar.
* :class:`RegexAutomaton` implements it for a regular expression by lazy subset construction
  over a byte NFA (see ``typedgen._regex``): a DFA state is an interned set of NFA nodes, built
  the first time a byte leads to it; its 256-entry transition row is filled on demand, one
  byte interval at a time.

The NFA only has nodes from which acceptance is reachable, so every non-empty DFA state is
live. DFA states are never removed: a state number stays valid for the automaton's lifetime.
"""

from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, qsort
from libc.string cimport memcmp, memcpy, memset

from typedgen._cmem cimport grow, xcalloc, xmalloc, xrealloc
from typedgen._hashing cimport hash_ints

from typedgen._errors import StateLimitError

__all__ = ["DEFAULT_MAX_STATES", "Automaton", "RegexAutomaton"]

DEFAULT_MAX_STATES = 200_000
"""Default limit on the DFA states of one pattern (each holds a 1 KiB row and, once visited, a
token mask)."""


# --------------------------------------------------------------------------------------------
# the abstract automaton


cdef class Automaton:
    """A deterministic automaton over bytes, driven by the token trie walk
    (``typedgen._trie``) and ``typedgen._fsm.Guide`` through C methods.

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

    cdef void _check_state(self, int state) except *:
        if state < 0 or state >= self.num_states():
            raise ValueError(f"unknown automaton state {state}")


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
        self.byte_start = <int32_t*>xcalloc(n + 1, sizeof(int32_t))
        self.eps_start = <int32_t*>xcalloc(n + 1, sizeof(int32_t))
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
        self.byte_lo = <uint8_t*>xmalloc(n_byte + 1)
        self.byte_hi = <uint8_t*>xmalloc(n_byte + 1)
        self.byte_dst = <int32_t*>xmalloc((n_byte + 1) * sizeof(int32_t))
        self.eps_dst = <int32_t*>xmalloc((n_eps + 1) * sizeof(int32_t))
        cdef int32_t* fill_b = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* fill_e = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
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
        self.blocks = <int32_t*>xmalloc((self.n_blocks * 7 + 1) * sizeof(int32_t))
        self.block_min = <int32_t*>xmalloc((self.n_blocks + 1) * sizeof(int32_t))
        self.node_block = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
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
        self.marks = <int32_t*>xcalloc(self.num_ids + 1, sizeof(int32_t))
        self.pages_touched = <uint8_t*>xcalloc(
            ((self.num_ids + 1) * sizeof(int32_t) >> 15) + 1, 1)
        self.work_cap = min(n + 1, 1024)  # grown on demand (a closure rarely holds every node)
        self.stack = <int32_t*>xmalloc(self.work_cap * sizeof(int32_t))
        self.buf = <int32_t*>xmalloc(self.work_cap * sizeof(int32_t))
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
        (node set, 1 KiB row, hash, flags), the intern table, the memoized distances."""
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
                + <size_t>self.dists_cap * sizeof(int32_t))

    cdef int distance(self, int state) noexcept nogil:
        """The fewest bytes from ``state`` to acceptance: the least distance of its NFA nodes
        (computed once per automaton, see ``_node_distances``), memoized per DFA state."""
        cdef int i, d, best = DIST_NONE
        cdef int32_t* nodes
        if state < self.dists_cap and self.dists[state] >= 0:
            return self.dists[state]
        if self.node_dist == NULL:
            self._node_distances()
        self.dists = <int32_t*>grow(self.dists, &self.dists_cap, state, sizeof(int32_t), 0xFF)
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
        rev.start_b = <int32_t*>xcalloc(n + 1, sizeof(int32_t))
        rev.start_e = <int32_t*>xcalloc(n + 1, sizeof(int32_t))
        rev.src_b = <int32_t*>xmalloc((self.byte_start[n] + 1) * sizeof(int32_t))
        rev.src_e = <int32_t*>xmalloc((self.eps_start[n] + 1) * sizeof(int32_t))
        cdef int32_t* cursor = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* dist = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
        cdef int32_t* queue = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
        cdef int64_t* heap = <int64_t*>xmalloc((self.n_blocks + 1) * sizeof(int64_t))
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
        self.stack = <int32_t*>xrealloc(self.stack, self.work_cap * sizeof(int32_t))
        self.buf = <int32_t*>xrealloc(self.buf, self.work_cap * sizeof(int32_t))

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
        self.sets[s] = <int32_t*>xmalloc(count * sizeof(int32_t))
        self.rows[s] = <int32_t*>xmalloc(256 * sizeof(int32_t))
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
        self.sets = <int32_t**>xrealloc(self.sets, cap * sizeof(int32_t*))
        self.rows = <int32_t**>xrealloc(self.rows, cap * sizeof(int32_t*))
        self.set_len = <int32_t*>xrealloc(self.set_len, cap * sizeof(int32_t))
        self.accepts = <uint8_t*>xrealloc(self.accepts, cap)
        self.hashes = <uint64_t*>xrealloc(self.hashes, cap * sizeof(uint64_t))
        self.cap_states = cap

    cdef void _grow_table(self, int size) noexcept nogil:
        cdef int i, slot
        free(self.table)
        self.table = <int32_t*>xmalloc(size * sizeof(int32_t))
        memset(self.table, 0xFF, size * sizeof(int32_t))
        self.table_mask = size - 1
        for i in range(self.n_states):
            slot = <int>(self.hashes[i] & <uint64_t>self.table_mask)
            while self.table[slot] >= 0:
                slot = (slot + 1) & self.table_mask
            self.table[slot] = i


cdef inline bint _contains(const int32_t* items, int n, int32_t x) noexcept nogil:
    cdef int i
    for i in range(n):
        if items[i] == x:
            return True
    return False

