# The C interface of ``typedgen/_fsm.pyx`` (see its docstring), for Cython modules that
# implement an automaton (``typedgen._grammar``) or drive guides at C speed.
from cpython.pythread cimport PyThread_type_lock
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

# step() results besides states >= 0
cdef enum:
    UNKNOWN = -1   # a row entry not computed yet (memset 0xFF)
    DEAD = -2      # no string continues from here
    FAILED = -3    # the automaton hit its state limit; see Automaton.failure()

cdef enum:
    DIST_NONE = 0x3FFFFFFF  # distance() of a state from which no accepting state is reachable

cdef enum:
    _PREFETCH_SUCCESSORS = 128  # Guide.prefetch: the most successor masks it computes

cdef struct _Yield:
    # a lock that a long walk holds and hands over to the threads counted in ``waiting``
    int* waiting
    PyThread_type_lock lock

cdef struct _Reverse:
    # the NFA's edges as CSR by destination: byte edges, then epsilon edges
    int32_t* start_b
    int32_t* src_b
    int32_t* start_e
    int32_t* src_e



cdef class Automaton:
    cdef int initial
    cdef int16_t* _depth
    cdef uint8_t* _depth_cut
    cdef int _depth_cap
    cdef bint is_regex  # a RegexAutomaton: the walk reads its rows directly
    cdef int step(self, int state, int byte) noexcept nogil
    cdef bint accepting(self, int state) noexcept nogil
    cdef int num_states(self) noexcept nogil
    cdef object failure(self)
    cdef size_t memory(self) noexcept nogil
    cdef int distance(self, int state) noexcept nogil
    cdef int max_distance(self) noexcept nogil
    cdef int text_depth(self, int state, bint refresh) noexcept nogil
    cdef bint text_exact(self, int state) noexcept nogil
    cdef int _text_depth(self, int state, int level) noexcept nogil
    cdef bint _text_dead(self, int state) noexcept nogil
    cdef int _text_target(self, int state) noexcept nogil
    cdef int _continuations(self, int state, int lo, int hi, int remaining, int target) noexcept nogil
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

cdef class TokenTrie:
    cdef int32_t n_nodes, n_tokens, max_depth, n_entries
    cdef uint8_t* node_byte
    cdef uint16_t* node_depth
    cdef int32_t* node_skip
    cdef uint16_t* node_maxlen # the longest token in node i's subtree (its depth)
    cdef uint8_t* node_text    # bit q: every path down from node i is text when entered in q
    cdef uint8_t* node_rooted  # 1 when every token below node i is text (from the root)
    cdef uint8_t* node_pathq   # the UTF-8 decoding state of text after the path to node i
    cdef uint16_t* node_chars  # characters started on the path to node i
    cdef uint8_t* node_ascii   # 1 when the path to node i and its whole subtree are ASCII
    cdef uint32_t* text_masks  # row L: the text tokens of at most L bytes (L <= max_depth)
    cdef uint32_t* open_masks  # row r: the text tokens that end at most r bytes before the
                               # end of a character (r <= 3; row 0: at a character boundary)
    cdef int32_t n_words
    cdef int32_t* node_first   # tokens ending at node i: entries[node_first[i]:node_first[i+1]]
    cdef int32_t* entries      # token ids, grouped by end node
    cdef uint8_t* data         # all token bytes, concatenated by id
    cdef int64_t* offsets      # token i's bytes: data[offsets[i]:offsets[i+1]]
    cdef void _build(self, int32_t* order, int32_t n_valid)
    cdef void _text_index(self, int32_t* parent, int32_t n_valid)
    cdef int walk(self, Automaton automaton, int state, uint32_t* mask, _Yield* y) noexcept nogil
    cdef int successors(self, Automaton automaton, int state, int32_t* out, int cap, _Yield* y) noexcept nogil
    cdef int walk_within(self, Automaton automaton, int state, uint32_t* mask, int limit, int* reach) noexcept nogil

cdef class Guide:
    cdef Automaton automaton
    cdef TokenTrie trie
    cdef readonly int vocab_size
    cdef int n_words
    cdef int32_t* eos
    cdef int n_eos
    cdef uint32_t** masks    # per guide state: its packed mask (see _pack_mask), or NULL
    cdef int masks_cap
    cdef int n_masks
    cdef size_t mask_bytes   # of the packed masks
    cdef int32_t* reach      # per guide state: the largest distance a token leads to, or -2
    cdef int reach_cap
    cdef uint32_t* scratch   # a dense mask being built (under the lock)
    cdef uint8_t* prefetched # per guide state: 1 once queued for prefetch (under the GIL)
    cdef int prefetched_cap
    cdef int waiting         # threads waiting for the lock (a prefetching walk yields to them)
    cdef PyThread_type_lock lock
    cdef inline int _check(self, long state) except -1
    cdef inline bint _is_eos(self, long token) noexcept nogil
    cdef void _acquire(self) noexcept
    cdef void _acquire_nogil(self) noexcept nogil
    cdef int _compute_mask(self, int state, uint32_t* dense, _Yield* y) noexcept nogil
    cdef const uint32_t* _publish(self, int state, const uint32_t* dense) noexcept nogil
    cdef const uint32_t* _mask_nogil(self, int state) noexcept nogil
    cdef const uint32_t* _mask(self, int state) except NULL
    cdef bint _accepting(self, int state) noexcept
    cdef int _fill_nogil(self, long state, uint32_t* target) noexcept nogil
    cdef int _precompute(self, int state) except -1
    cdef const uint32_t* _budget_mask(self, int state, long budget, bint* fits) except NULL
    cdef int _step_bytes(self, int state, const uint8_t* data, Py_ssize_t n) except -3
