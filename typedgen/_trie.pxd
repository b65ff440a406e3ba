# The C interface of ``typedgen/_trie.pyx`` (see its docstring), for the guide
# (``typedgen._fsm``).
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from typedgen._automaton cimport Automaton
from typedgen._cmem cimport Lock


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
    cdef uint16_t* node_maxchars # the most node_chars in node i's subtree
    cdef int32_t text_chars    # the most characters (started) of a text token
    cdef uint32_t* text_masks  # row L: the text tokens of at most L characters started
                               # (L <= text_chars)
    cdef uint32_t* open_masks  # row r: the text tokens that end at most r bytes before the
                               # end of a character (r <= 3; row 0: at a character boundary)
    cdef int32_t n_words
    cdef int32_t* node_set     # the bytes below node i: sets[4 * node_set[i]:][:4] (a 256-bit
                               # set), or -1 when fewer than SET_MIN nodes are below it
    cdef uint64_t* sets
    cdef int32_t n_sets
    cdef int32_t* node_first   # tokens ending at node i: entries[node_first[i]:node_first[i+1]]
    cdef int32_t* entries      # token ids, grouped by end node
    cdef uint8_t* data         # all token bytes, concatenated by id
    cdef int64_t* offsets      # token i's bytes: data[offsets[i]:offsets[i+1]]
    cdef object mask_rows      # the packed masks its guides share (_fsm.MaskRows), or None
    cdef void _build(self, int32_t* order, int32_t n_valid)
    cdef void _text_index(self, int32_t* parent, int32_t n_valid)
    cdef void _byte_sets(self, int32_t* parent)


@cython.final
cdef class TrieWalk:
    cdef readonly TokenTrie trie
    cdef Automaton automaton
    cdef void* regex             # the automaton when it is a RegexAutomaton, else NULL
    cdef int16_t* depth          # per automaton state: its text bound (see text_depth), or -1
    cdef uint8_t* depth_cut      # per automaton state: DEPTH_CUT / DEPTH_EXACT flags
    cdef int depth_cap
    cdef bint shortcuts          # False: every live node walked (the shortcuts' reference)
    cdef int32_t* uni_target     # per automaton state: the live state most bytes lead to
                                 # (UNI_UNKNOWN: not looked at yet, UNI_NONE: none)
    cdef uint64_t* uni_bytes     # per state, 4 words: the bytes that lead to uni_target
    cdef int16_t* uni_run        # per state: see TrieWalk._uniform_run (-1: not known)
    cdef uint8_t* uni_cut        # per state: 1 when uni_run stopped short of the chain's end
    cdef int uni_cap
    cdef size_t memory(self) noexcept nogil
    cdef int walk(self, int state, uint32_t* mask, Lock* y) noexcept nogil
    cdef int successors(self, int state, int32_t* out, int cap, Lock* y) noexcept nogil
    cdef int walk_within(self, int state, uint32_t* mask, int limit, int* reach) noexcept nogil
    cdef int _step(self, int state, int byte) noexcept nogil
    cdef int _uniform(self, int state) noexcept nogil
    cdef int _uniform_run(self, int state, int need) noexcept nogil
    cdef bint _accepts_below(self, int state, const uint64_t* below, int length) noexcept nogil
    cdef int _known_text_depth(self, int state) noexcept nogil
    cdef int text_depth(self, int state, bint refresh) noexcept nogil
    cdef bint text_exact(self, int state) noexcept nogil
    cdef int _text_depth(self, int state, int level) noexcept nogil
    cdef bint _text_dead(self, int state) noexcept nogil
    cdef int _text_target(self, int state) noexcept nogil
    cdef int _continuations(self, int state, int lo, int hi, int remaining, int target) noexcept nogil
