# The C interface of ``typedgen/_fsm.pyx`` (see its docstring), for Cython modules that drive
# guides at C speed. The classes of _automaton and _trie are cimported by module: their names
# are the Python re-exports of _fsm.
cimport cython
from libc.stdint cimport int32_t, uint8_t, uint32_t

from typedgen cimport _automaton, _trie
from typedgen._cmem cimport Lock

cdef enum:
    _PREFETCH_SUCCESSORS = 128  # Guide.prefetch: the most successor masks it computes


cdef struct Row:
    # one packed mask of a MaskRows store, its words (see _fsm._pack_mask) right after this
    Row* next                # the next row of its hash bucket
    uint32_t hash
    uint32_t refs            # the guide states that hold it


@cython.final
cdef class MaskRows:
    cdef Lock guard          # held for every change of the table and of a row's refs
    cdef Row** buckets
    cdef size_t n_buckets
    cdef size_t n_rows
    cdef size_t row_bytes    # of the rows held, headers included
    cdef const uint32_t* intern(self, const uint32_t* dense, int n_words) noexcept nogil
    cdef void _grow(self) noexcept nogil
    cdef void release(self, uint32_t** masks, int n) noexcept
    cdef size_t share(self, uint32_t** masks, int n) noexcept nogil


@cython.no_gc_clear
cdef class Guide:
    cdef _automaton.Automaton automaton
    cdef _trie.TokenTrie trie
    cdef _trie.TrieWalk walker
    cdef readonly int vocab_size
    cdef int n_words
    cdef int32_t* eos
    cdef int n_eos
    cdef readonly MaskRows mask_rows # where its masks are kept (the trie's, or its own)
    cdef uint32_t** masks    # per guide state: its packed mask (a row of rows), or NULL
    cdef int masks_cap
    cdef int n_masks
    cdef int32_t* reach      # per guide state: the largest distance a token leads to, or REACH_UNKNOWN
    cdef int reach_cap
    cdef uint32_t* scratch   # a dense mask being built (under the lock)
    cdef uint8_t* prefetched # per guide state: 1 once queued for prefetch (under the GIL)
    cdef int prefetched_cap
    cdef Lock guard          # every walk and memo change holds it; the prefetcher hands it over
    cdef inline int _check(self, long state) except -1
    cdef inline bint _is_eos(self, long token) noexcept nogil
    cdef int _compute_mask(self, int state, uint32_t* dense, Lock* y) noexcept nogil
    cdef const uint32_t* _publish(self, int state, const uint32_t* dense) noexcept nogil
    cdef const uint32_t* _mask_nogil(self, int state) noexcept nogil
    cdef const uint32_t* _mask(self, int state) except NULL
    cdef bint _accepting(self, int state) noexcept
    cdef const uint32_t* _shared_mask(self, long state) except NULL
    cdef int _fill_nogil(self, long state, long budget, uint32_t* target) noexcept nogil
    cdef int _precompute(self, int state) except -1
    cdef object _failure(self)
    cdef const uint32_t* _budget_mask(self, int state, long budget, bint* fits) noexcept nogil
    cdef int _step_bytes(self, int state, const uint8_t* data, Py_ssize_t n) except -3
