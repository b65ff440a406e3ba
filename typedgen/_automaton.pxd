# The C interface of ``typedgen/_automaton.pyx`` (see its docstring), for the token trie walk
# (``typedgen._trie``), the guide (``typedgen._fsm``) and automata written in Cython
# (``typedgen._grammar``).
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

# step() results besides states >= 0
cdef enum:
    UNKNOWN = -1   # a row entry not computed yet (memset 0xFF)
    DEAD = -2      # no string continues from here
    FAILED = -3    # the automaton hit its state limit; see Automaton.failure()

cdef enum:
    DIST_NONE = 0x3FFFFFFF  # distance() of a state from which no accepting state is reachable

cdef struct _Reverse:
    # the NFA's edges as CSR by destination: byte edges, then epsilon edges
    int32_t* start_b
    int32_t* src_b
    int32_t* start_e
    int32_t* src_e


cdef class Automaton:
    cdef int initial
    cdef bint is_regex  # a RegexAutomaton: the walk reads its rows directly
    cdef int step(self, int state, int byte) noexcept nogil
    cdef bint accepting(self, int state) noexcept nogil
    cdef int num_states(self) noexcept nogil
    cdef object failure(self)
    cdef size_t memory(self) noexcept nogil
    cdef int distance(self, int state) noexcept nogil
    cdef int max_distance(self) noexcept nogil
    cdef void _check_state(self, int state) except *

cdef class RegexAutomaton(Automaton):
    cdef int num_nodes, accept_node, max_states, n_states, cap_states
    cdef int n_blocks
    cdef int32_t* blocks        # per virtual repeat block (see _regex.Nfa): start, size, copies,
                                # lo, end, exit, and the number of the first node of copy 1
    cdef int32_t* block_min     # per block: the fewest bytes through one copy
    cdef int32_t* node_block    # per NFA node: b for a node of block b's first copy, -2 - b for
                                # block b's exit, else -1
    cdef int64_t num_ids        # NFA nodes and virtual copies' nodes
    cdef int work_cap           # capacity of stack and buf
    cdef int32_t* byte_start    # CSR of byte edges by source node (num_nodes + 1)
    cdef uint8_t* byte_lo
    cdef uint8_t* byte_hi
    cdef int32_t* byte_dst
    cdef int32_t* eps_start     # CSR of epsilon edges by source node
    cdef int32_t* eps_dst
    cdef int32_t** sets         # per DFA state: sorted NFA nodes (those with byte edges, or accept)
    cdef int32_t* set_len
    cdef int32_t** rows         # per DFA state: 256 next states, UNKNOWN until computed
    cdef uint8_t* accepts
    cdef uint64_t* hashes
    cdef int32_t* table         # open addressing: DFA state ids, -1 empty
    cdef int table_mask
    cdef int32_t* marks         # per node number (virtual too): the generation that reached it
    cdef int32_t generation
    cdef uint8_t* pages_touched # bit per 4 KiB page of marks: a virtual number on it was marked
    cdef int64_t n_pages_touched
    cdef int32_t* stack
    cdef int32_t* buf
    cdef size_t set_bytes
    cdef int32_t* node_dist     # per NFA node: the fewest bytes to accept (NULL until needed);
                                # in a block's first copy but its start: to the block's end
    cdef int max_node_dist
    cdef int32_t* dists         # per DFA state: the fewest bytes to acceptance, -1 unknown
    cdef int dists_cap
    cdef readonly object pattern
    cdef int num_states(self) noexcept nogil
    cdef bint accepting(self, int state) noexcept nogil
    cdef object failure(self)
    cdef size_t memory(self) noexcept nogil
    cdef int distance(self, int state) noexcept nogil
    cdef int _node_distance(self, int32_t node) noexcept nogil
    cdef inline int _locate(self, int32_t node, int* block, int* copy) noexcept nogil
    cdef inline int32_t _number(self, int b, int copy, int32_t local) noexcept nogil
    cdef int max_distance(self) noexcept nogil
    cdef void _node_distances(self) noexcept nogil
    cdef void _backward(self, _Reverse* rev, int32_t* dist, int32_t* queue, int64_t* heap, int target, int within) noexcept nogil
    cdef inline bint _takes_part(self, int node, int within) noexcept nogil
    cdef int step(self, int state, int byte) noexcept nogil
    cdef inline int _push(self, int32_t node, int pending) noexcept nogil
    cdef void _touch(self, int32_t node) noexcept nogil
    cdef void _grow_work(self) noexcept nogil
    cdef int _closure(self, int pending) noexcept nogil
    cdef int _compute(self, int state, int byte) noexcept nogil
    cdef int _intern(self, int count) noexcept nogil
    cdef void _grow_states(self) noexcept nogil
    cdef void _grow_table(self, int size) noexcept nogil


cdef inline int walk_step(Automaton automaton, void* regex, int state, int byte) noexcept nogil:
    """``automaton.step(state, byte)``; for a regex DFA (``regex`` is it, else NULL) its cached
    row is read directly, without a virtual call, on the trie walks' hot path."""
    cdef int s
    if regex == NULL:
        return automaton.step(state, byte)
    s = (<RegexAutomaton>regex).rows[state][byte]
    if s == UNKNOWN:
        s = (<RegexAutomaton>regex)._compute(state, byte)
    return s
