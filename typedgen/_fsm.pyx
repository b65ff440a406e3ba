# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The token index: per automaton state, the tokens of a vocabulary that keep the text live.

The FSM core is three Cython modules, each with a ``.pxd`` interface: ``typedgen._automaton``
(:class:`Automaton`, the lazy regex DFA :class:`RegexAutomaton`), ``typedgen._trie`` (the
vocabulary's :class:`TokenTrie` and the walks of an automaton over it, with the JSON-string
shortcut), and this one, which re-exports them.

:class:`Guide` is the token index of one automaton over one trie. The mask of a state is
computed on its first visit by one scan of the trie that skips every subtree whose prefix
leads the automaton to a dead state (GIL released), then memoized; later masks are a
``memcpy``. The next state of a token is not stored: ``advance`` steps the token's bytes
through the cached DFA rows (a few array reads), so a visited state costs its packed bitmask
(at most ``4 * ceil(vocab/32)`` bytes and a header, held once for all the states of the
vocabulary's guides that have that mask: :class:`MaskRows`) plus its DFA row (1 KiB) and NFA
node set.

Soundness: every non-empty DFA state is live (see ``typedgen._automaton``); a token is allowed
exactly when its bytes lead to a live state, and EOS exactly in accepting states. Any byte
string is reachable through tokens when the vocabulary has a token for every byte
(byte-fallback and byte-level vocabularies do), so a walk over allowed tokens can always
finish.
"""

from cpython.pythread cimport PyThread_allocate_lock, PyThread_free_lock
from libc.limits cimport LONG_MAX
from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t
from libc.stdlib cimport free
from libc.string cimport memcmp, memcpy, memset
from cython.parallel cimport prange

cimport cython
cimport numpy as cnp

from typedgen._automaton cimport FAILED
from typedgen._cmem cimport (
    Lock,
    grow,
    lock_gil,
    lock_nogil,
    unlock,
    xcalloc,
    xmalloc,
    yield_lock,
)
from typedgen._hashing cimport hash_ints

import queue
import threading

from typedgen._automaton import DEFAULT_MAX_STATES, Automaton, RegexAutomaton
from typedgen._errors import GuideError, TypedgenError
from typedgen._trie import TokenTrie

cnp.import_array()

__all__ = [
    "DEFAULT_MAX_STATES",
    "PREFETCH_SUCCESSORS",
    "Automaton",
    "Guide",
    "MaskRows",
    "RegexAutomaton",
    "TokenTrie",
    "fill_bitmasks",
    "fill_bitmasks_within",
]


cdef long NO_BUDGET = LONG_MAX  # Guide._fill_nogil: the plain mask, no budget

cdef enum:
    REACH_UNKNOWN_BYTE = 0xFE
    REACH_UNKNOWN = -0x01010102  # Guide.reach of a state not walked yet: every byte 0xFE


@cython.no_gc_clear  # __dealloc__ hands its rows back to self.mask_rows
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

    ``shortcuts=False`` turns off the trie walk's shortcuts, the JSON-string one and the
    whole-subtree one (see ``typedgen._trie.TrieWalk.walk``): every live trie node is stepped.
    The masks are the same; this is the reference the shortcuts are tested against.

    Masks are kept in the trie's :class:`MaskRows`, shared by every guide of the trie: a mask
    that several states (of this guide or of others) have is held once. ``share_rows=False``
    gives the guide a store of its own (the same masks: the reference sharing is tested
    against).
    """


    finished_state = 0

    def __cinit__(self):
        self.guard.lock = PyThread_allocate_lock()
        if self.guard.lock == NULL:
            raise MemoryError()

    def __init__(self, _automaton.Automaton automaton not None, _trie.TokenTrie trie not None, *,
                 eos_token_ids, int vocab_size, bint shortcuts=True, bint share_rows=True):
        cdef list eos = sorted(set(int(t) for t in eos_token_ids))
        cdef int i
        if vocab_size < len(trie):
            raise ValueError(f"vocab_size {vocab_size} < number of tokens {len(trie)}")
        for t in eos:
            if t < 0 or t >= vocab_size:
                raise ValueError(f"EOS token id {t} outside the vocabulary (size {vocab_size})")
        self.automaton = automaton
        self.trie = trie
        self.walker = _trie.TrieWalk(trie, automaton, shortcuts=shortcuts)
        if not share_rows:
            self.mask_rows = MaskRows()
        else:
            if trie.mask_rows is None:  # under the GIL: one store per trie
                trie.mask_rows = MaskRows()
            self.mask_rows = <MaskRows>trie.mask_rows
        self.vocab_size = vocab_size
        self.n_words = (vocab_size + 31) // 32
        self.n_eos = len(eos)
        self.eos = <int32_t*>xmalloc((self.n_eos + 1) * sizeof(int32_t))
        for i in range(self.n_eos):
            self.eos[i] = eos[i]

    def __dealloc__(self):
        if self.mask_rows is not None:
            self.mask_rows.release(self.masks, self.n_masks)
        free(self.masks)
        free(self.eos)
        free(self.reach)
        free(self.scratch)
        free(self.prefetched)
        if self.guard.lock != NULL:
            PyThread_free_lock(self.guard.lock)

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
        packed masks memoized so far: at most ``ROW_HEADER + 8 + 4 * bitmask_width`` bytes a
        state, far less for masks that allow few tokens or almost all), ``index`` (per-state
        tables and the scratch mask, the text bounds of the trie walk). The vocabulary's trie
        is shared by every guide of the vocabulary and not counted (``TokenTrie.memory``).

        A mask shared with other states (see :class:`MaskRows`) counts its bytes divided by the
        number of states that hold it, rounded down: summed over the guides of a trie, the
        ``masks`` parts are the ``rows`` bytes of the trie's store (``MaskRows.memory_usage``),
        less under a byte per state holding a shared mask. A guide's share shrinks as other
        guides take its masks and grows back as they are freed; the store's hash table is not
        counted."""
        cdef size_t automaton, masks, index
        lock_gil(&self.guard)
        automaton = self.automaton.memory()
        with nogil:
            masks = self.mask_rows.share(self.masks, self.n_masks)
        index = (self.masks_cap * sizeof(void*) + self.reach_cap * sizeof(int32_t)
                 + self.prefetched_cap + self.n_eos * sizeof(int32_t) + self.walker.memory())
        if self.scratch != NULL:
            index += self.n_words * sizeof(uint32_t)
        unlock(&self.guard)
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

    cdef int _compute_mask(self, int state, uint32_t* dense, Lock* y) noexcept nogil:
        """The mask of guide state ``state`` into ``dense``; the caller holds the lock. 0, or
        -1 when the automaton failed."""
        cdef int i
        memset(dense, 0, self.n_words * sizeof(uint32_t))
        if state > 0 and self.walker.walk(state - 1, dense, y) != 0:
            return -1
        for i in range(self.n_eos):
            dense[self.eos[i] >> 5] &= ~((<uint32_t>1) << (self.eos[i] & 31))
        if state == 0 or self.automaton.accepting(state - 1):
            for i in range(self.n_eos):
                dense[self.eos[i] >> 5] |= (<uint32_t>1) << (self.eos[i] & 31)
        return 0

    cdef const uint32_t* _publish(self, int state, const uint32_t* dense) noexcept nogil:
        """Memoize ``dense`` as the mask of ``state`` unless one is there (the caller holds the
        lock); the packed mask kept, a row of the guide's :class:`MaskRows`."""
        if state < self.n_masks and self.masks[state] != NULL:
            return self.masks[state]
        self.masks = <uint32_t**>grow(self.masks, &self.masks_cap, state, sizeof(uint32_t*), 0)
        self.masks[state] = <uint32_t*>self.mask_rows.intern(dense, self.n_words)
        if state >= self.n_masks:
            self.n_masks = state + 1
        return self.masks[state]

    cdef const uint32_t* _mask_nogil(self, int state) noexcept nogil:
        """The memoized mask of a guide state, computed now if needed (the caller holds the
        lock); NULL when the automaton failed."""
        if state < self.n_masks and self.masks[state] != NULL:
            return self.masks[state]
        if self.scratch == NULL:
            self.scratch = <uint32_t*>xmalloc(self.n_words * sizeof(uint32_t))
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
        lock_gil(&self.guard)
        result = self.automaton.accepting(state)
        unlock(&self.guard)
        return result

    cdef const uint32_t* _shared_mask(self, long state) except NULL:
        """The memoized (packed) mask of guide state ``state``, computed now if needed, taken
        under the lock: it is never changed nor freed while the guide lives, so the caller
        reads it without the lock."""
        cdef const uint32_t* mask
        self._check(state)
        lock_gil(&self.guard)
        try:
            mask = self._mask(<int>state)
        finally:
            unlock(&self.guard)
        return mask

    def fill_bitmask(self, long state, out, Py_ssize_t row=0) -> None:
        """Write the allowed tokens of ``state`` into row ``row`` of ``out``, an int32 numpy
        array or CPU torch tensor of shape ``(rows, bitmask_width)``, in place."""
        cdef char* target = _bitmask_row(out, row, self.n_words)
        _unpack_mask(self._shared_mask(state), <uint32_t*>target, self.n_words)

    cdef int _fill_nogil(self, long state, long budget, uint32_t* target) noexcept nogil:
        """``fill_bitmask_within`` without the GIL (``fill_bitmask`` when ``budget`` is
        ``NO_BUDGET``, a budget that never restricts the mask): 0, 3 when the budget did not fit (the plain mask written), 1 for an
        unknown state, 2 when the automaton failed (the caller raises; nothing written)."""
        cdef const uint32_t* mask
        cdef bint fits = True
        if state < 0 or state > self.automaton.num_states():
            return 1
        lock_nogil(&self.guard)
        if budget == NO_BUDGET:
            mask = self._mask_nogil(<int>state)
        else:
            mask = self._budget_mask(<int>state, budget, &fits)
            if mask != NULL and mask == self.scratch:  # only read under the lock
                memcpy(target, mask, self.n_words * sizeof(uint32_t))
                unlock(&self.guard)
                return 0
        unlock(&self.guard)
        if mask == NULL:
            return 2
        _unpack_mask(mask, target, self.n_words)  # a memoized mask never changes
        return 0 if fits else 3

    def prefetch(self, long state) -> None:
        """Compute ahead of time, in typedgen's background thread, the masks of the states one
        token after ``state`` (at most ``PREFETCH_SUCCESSORS`` of them), so that a later
        ``fill_bitmask`` of the state a sampled token leads to is a copy instead of a trie walk.

        Returns at once; a state is queued once in the guide's lifetime. The masks written are
        the ones ``fill_bitmask`` would compute itself (the same walk); a state the background
        thread has not reached yet is computed by the caller as usual, and the thread hands the
        guide's lock over to callers waiting for it. Failures (the automaton's state limit) are
        left to the call that needs the state."""
        self._check(state)
        if state == 0:
            return
        # these flags are read and written under the GIL
        self.prefetched = <uint8_t*>grow(self.prefetched, &self.prefetched_cap, <int>state, 1, 0)
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
        cdef int32_t* succ = <int32_t*>xmalloc((_PREFETCH_SUCCESSORS + 1) * sizeof(int32_t))
        cdef uint32_t* dense = <uint32_t*>xmalloc(self.n_words * sizeof(uint32_t))
        cdef int n = 0, k, t, done = 0, rc = 0
        with nogil:
            lock_nogil(&self.guard)
            if state > 0:
                succ[0] = state - 1
                n = self.walker.successors(state - 1, succ + 1, _PREFETCH_SUCCESSORS,
                                           &self.guard)
                n = n + 1 if n >= 0 else 1
            for k in range(n):
                t = succ[k] + 1
                if t < self.n_masks and self.masks[t] != NULL:
                    continue
                if self._compute_mask(t, dense, &self.guard) != 0:
                    rc = -1
                    break
                if not (t < self.n_masks and self.masks[t] != NULL):
                    done += 1
                self._publish(t, dense)
                yield_lock(&self.guard)
            unlock(&self.guard)
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
        cdef int rc
        self._check(state)
        with nogil:
            rc = self._fill_nogil(state, budget, <uint32_t*>target)
        if rc == 2:
            raise self._failure()
        return rc == 0

    cdef object _failure(self):
        """The automaton's failure (its state limit), read under the lock."""
        lock_gil(&self.guard)
        try:
            return self.automaton.failure()
        finally:
            unlock(&self.guard)

    cdef const uint32_t* _budget_mask(self, int state, long budget, bint* fits) noexcept nogil:
        """The mask of :meth:`fill_bitmask_within`: the memoized (packed) mask of ``state``,
        or the scratch buffer (dense); NULL when the automaton failed. The caller holds the
        lock."""
        cdef const uint32_t* mask = self._mask_nogil(state)
        cdef int s = state - 1, i, rc = 0, reach = REACH_UNKNOWN
        cdef long limit = budget - 2
        cdef uint32_t any_bit = 0
        if state == 0 or mask == NULL:
            return mask
        if limit >= self.automaton.max_distance():
            return mask  # no token can lead farther than the budget allows
        if (state < self.reach_cap and self.reach[state] != REACH_UNKNOWN
                and limit >= self.reach[state]):
            return mask
        if self.automaton.distance(s) > budget - 1:
            fits[0] = False  # the shortest completion does not fit, one token per byte
            return mask
        if self.scratch == NULL:
            self.scratch = <uint32_t*>xmalloc(self.n_words * sizeof(uint32_t))
        self.reach = <int32_t*>grow(self.reach, &self.reach_cap, state, sizeof(int32_t),
                                    REACH_UNKNOWN_BYTE)
        memset(self.scratch, 0, self.n_words * sizeof(uint32_t))
        if self.reach[state] == REACH_UNKNOWN:  # the first time: every token, to learn it
            rc = self.walker.walk_within(s, self.scratch, <int>limit, &reach)
            if rc == 0:
                self.reach[state] = reach
        else:
            rc = self.walker.walk_within(s, self.scratch, <int>limit, NULL)
        if rc != 0:
            return NULL
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
        lock_gil(&self.guard)
        d = self.automaton.distance(<int>state - 1)
        unlock(&self.guard)
        return d

    @property
    def max_distance(self) -> int:
        """An upper bound on :meth:`distance_to_final` over every state: a budget of at least
        ``max_distance + 2`` tokens never restricts :meth:`fill_bitmask_within`."""
        cdef int d
        lock_gil(&self.guard)
        d = self.automaton.max_distance()
        unlock(&self.guard)
        return d

    def allowed_token_ids(self, long state) -> list[int]:
        """The token ids allowed in ``state``, ascending (EOS ids included when final)."""
        cdef uint32_t* dense = <uint32_t*>xmalloc(self.n_words * sizeof(uint32_t))
        cdef list out = []
        cdef int w, b
        cdef uint32_t word
        try:
            _unpack_mask(self._shared_mask(state), dense, self.n_words)
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
        if token_id < 0 or token_id >= self.vocab_size:
            return False
        return (_mask_word(self._shared_mask(state), <int>(token_id >> 5), self.n_words)
                >> (token_id & 31)) & 1

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
        lock_gil(&self.guard)  # the steps read cached rows: a few array reads, the GIL kept
        for i in range(n):
            s = self.automaton.step(s, data[i])
            if s < 0:
                break
        unlock(&self.guard)
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
    return _fill_rows(guides, states, None, out, rows, threads)


def fill_bitmasks_within(guides, states, budgets, out, rows=None, *, int threads=1) -> list[int]:
    """:func:`fill_bitmasks` for generations with a token budget: row ``rows[j]`` (default
    ``j``) gets what ``guides[j].fill_bitmask_within(states[j], budgets[j], out, rows[j])``
    writes, GIL released, rows shared between ``threads`` threads. A row whose budget does not
    fit gets the plain mask, as there (where that call returns False); a budget of
    ``sys.maxsize`` never restricts: the row gets what :meth:`Guide.fill_bitmask` writes, at
    the same cost (so one call serves a batch of rows with and without budgets).

    Returns the positions whose automaton failed, nothing written in their rows; raises
    :class:`GuideError` for an unknown state, after the other rows are written."""
    if budgets is None:
        raise ValueError("budgets must be a sequence of ints (fill_bitmasks: no budget)")
    return _fill_rows(guides, states, budgets, out, rows, threads)


cdef list _fill_rows(guides, states, budgets, out, rows, int threads):
    """``fill_bitmasks`` (``budgets`` None) and ``fill_bitmasks_within``."""
    cdef Py_ssize_t n = len(guides), j, stride, n_rows
    cdef int n_words, bad = -1
    if (len(states) != n or (rows is not None and len(rows) != n)
            or (budgets is not None and len(budgets) != n)):
        raise ValueError(f"{len(states)} states, {n if rows is None else len(rows)} rows and "
                         f"{n if budgets is None else len(budgets)} budgets for {n} guides")
    if n == 0:
        return []
    n_words = (<Guide?>guides[0]).n_words
    cdef char* base = _bitmask_row(out, 0, n_words)
    arr = out if isinstance(out, cnp.ndarray) else out.numpy()
    stride, n_rows = arr.strides[0], arr.shape[0]
    cdef void** ptrs = <void**>xmalloc(n * sizeof(void*))
    cdef int64_t* wanted = <int64_t*>xmalloc(n * sizeof(int64_t))
    cdef long* budget = <long*>xmalloc(n * sizeof(long))
    cdef Py_ssize_t* target = <Py_ssize_t*>xmalloc(n * sizeof(Py_ssize_t))
    cdef int* status = <int*>xmalloc(n * sizeof(int))
    cdef Guide guide
    try:
        for j in range(n):
            guide = <Guide?>guides[j]
            if guide.n_words != n_words:
                raise ValueError(f"guide {j} has bitmask width {guide.n_words}, not {n_words}")
            ptrs[j] = <void*>guide
            wanted[j] = states[j]
            budget[j] = NO_BUDGET
            if budgets is not None:
                budget[j] = budgets[j]
            target[j] = j if rows is None else rows[j]
            if target[j] < 0 or target[j] >= n_rows:
                raise IndexError(f"row {target[j]} out of range for {n_rows} rows")
        with nogil:
            if threads > 1:
                for j in prange(n, num_threads=threads, schedule="dynamic", chunksize=4):
                    status[j] = (<Guide>ptrs[j])._fill_nogil(
                        wanted[j], budget[j], <uint32_t*>(base + target[j] * stride))
            else:
                for j in range(n):
                    status[j] = (<Guide>ptrs[j])._fill_nogil(
                        wanted[j], budget[j], <uint32_t*>(base + target[j] * stride))
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
        free(budget)
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


cdef size_t _packed_words(const uint32_t* dense, int n_words, uint32_t* kind,
                         uint32_t* count) noexcept nogil:
    """The layout of the packed copy of a mask, ``[kind, count, ...]`` (see the kinds above),
    whichever of the three is smallest: its kind, count and words (at most ``2 + n_words``)."""
    cdef int w, nonzero = 0, nonfull = 0
    for w in range(n_words):
        if dense[w] != 0:
            nonzero += 1
        if dense[w] != 0xFFFFFFFFu:
            nonfull += 1
    kind[0], count[0] = MASK_DENSE, n_words
    if 2 * nonzero < n_words and nonzero <= nonfull:
        kind[0], count[0] = MASK_SPARSE, nonzero
    elif 2 * nonfull < n_words:
        kind[0], count[0] = MASK_COSPARSE, nonfull
    return 2 + (<size_t>n_words if kind[0] == MASK_DENSE else 2 * <size_t>count[0])


cdef void _pack_mask(const uint32_t* dense, int n_words, uint32_t kind, uint32_t count,
                     uint32_t* packed) noexcept nogil:
    """Write the packed mask of layout ``kind``, ``count`` (see ``_packed_words``)."""
    cdef int w, k = 2
    cdef uint32_t skip = 0xFFFFFFFFu if kind == MASK_COSPARSE else 0
    packed[0] = kind
    packed[1] = count
    if kind == MASK_DENSE:
        memcpy(packed + 2, dense, n_words * sizeof(uint32_t))
        return
    for w in range(n_words):
        if dense[w] != skip:
            packed[k] = w
            packed[k + 1] = dense[w]
            k += 2


cdef inline size_t _row_bytes(const uint32_t* packed) noexcept nogil:
    """The bytes of the row that holds ``packed``, its header included."""
    cdef size_t words = 2 + (<size_t>packed[1] if packed[0] == MASK_DENSE
                             else 2 * <size_t>packed[1])
    return sizeof(Row) + words * sizeof(uint32_t)


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
# the shared store of packed masks


ROW_HEADER = sizeof(Row)
"""The bytes each mask of a :class:`MaskRows` takes besides its packed words."""


@cython.final
cdef class MaskRows:
    """The packed masks of the guides of one vocabulary, each held once: a hash table of
    rows by content, each with the number of guide states that hold it (its ``refs``).

    A guide's state that computes a mask takes the row of equal content when there is one
    (``intern``), else adds it; a guide hands its rows back when it is freed (``release``), and
    a row is freed with its last holder, in whatever order the guides go. A row never changes
    while it is held, so guides read their rows without this store's lock; the lock (a C lock,
    taken without the GIL, never while waiting for another lock) covers the table and the
    counts. Guides of a :class:`TokenTrie` share the one store it keeps (``Guide`` creates it
    with the trie's first guide); its memory is counted in the guides' ``memory_usage``, not in
    ``TokenTrie.memory``.
    """

    def __cinit__(self):
        self.guard.lock = PyThread_allocate_lock()
        if self.guard.lock == NULL:
            raise MemoryError()
        self.n_buckets = 256
        self.buckets = <Row**>xcalloc(self.n_buckets, sizeof(Row*))

    def __dealloc__(self):
        cdef size_t b
        cdef Row* row
        cdef Row* nxt
        for b in range(self.n_buckets):  # rows are only left when a guide's release failed
            row = self.buckets[b]
            while row != NULL:
                nxt = row.next
                free(row)
                row = nxt
        free(self.buckets)
        if self.guard.lock != NULL:
            PyThread_free_lock(self.guard.lock)

    @property
    def memory(self) -> int:
        """Bytes of C memory held: the sum of :meth:`memory_usage`."""
        return sum(self.memory_usage().values())

    def memory_usage(self) -> dict[str, int]:
        """Bytes of C memory held, by part: ``rows`` (the masks, ``ROW_HEADER`` each besides
        their packed words: what the guides' ``masks`` parts add up to) and ``table`` (the hash
        table)."""
        cdef size_t rows, table
        lock_gil(&self.guard)
        rows, table = self.row_bytes, self.n_buckets * sizeof(Row*)
        unlock(&self.guard)
        return {"rows": rows, "table": table}

    def __len__(self) -> int:
        """The number of distinct masks held."""
        return self.n_rows

    cdef const uint32_t* intern(self, const uint32_t* dense, int n_words) noexcept nogil:
        """The packed words of the row of the mask ``dense``, taken (its refs counted) or
        added: equal masks of guides of the same width get the same pointer."""
        cdef uint32_t kind, count
        cdef size_t words = _packed_words(dense, n_words, &kind, &count)
        cdef size_t size = sizeof(Row) + words * sizeof(uint32_t)
        cdef Row* fresh = <Row*>xmalloc(size)
        cdef uint32_t* packed = <uint32_t*>(fresh + 1)
        cdef Row* row
        _pack_mask(dense, n_words, kind, count, packed)
        fresh.hash = <uint32_t>hash_ints(<const int32_t*>packed, words)
        lock_nogil(&self.guard)
        row = self.buckets[fresh.hash & (self.n_buckets - 1)]
        while row != NULL:
            if (row.hash == fresh.hash and _row_bytes(<uint32_t*>(row + 1)) == size
                    and memcmp(row + 1, packed, words * sizeof(uint32_t)) == 0):
                row.refs += 1
                unlock(&self.guard)
                free(fresh)
                return <uint32_t*>(row + 1)
            row = row.next
        if self.n_rows >= self.n_buckets:
            self._grow()
        fresh.refs = 1
        fresh.next = self.buckets[fresh.hash & (self.n_buckets - 1)]
        self.buckets[fresh.hash & (self.n_buckets - 1)] = fresh
        self.n_rows += 1
        self.row_bytes += size
        unlock(&self.guard)
        return packed

    cdef void _grow(self) noexcept nogil:
        """Twice the buckets (the caller holds the lock)."""
        cdef size_t b, n = 2 * self.n_buckets
        cdef Row** buckets = <Row**>xcalloc(n, sizeof(Row*))
        cdef Row* row
        cdef Row* nxt
        for b in range(self.n_buckets):
            row = self.buckets[b]
            while row != NULL:
                nxt = row.next
                row.next = buckets[row.hash & (n - 1)]
                buckets[row.hash & (n - 1)] = row
                row = nxt
        free(self.buckets)
        self.buckets = buckets
        self.n_buckets = n

    cdef void release(self, uint32_t** masks, int n) noexcept:
        """Hand back the rows of ``masks[:n]`` (NULL entries skipped): each row loses a ref,
        and is freed with its last."""
        cdef int i
        cdef Row* row
        cdef Row** link
        lock_gil(&self.guard)
        for i in range(n):
            if masks[i] == NULL:
                continue
            row = (<Row*>masks[i]) - 1
            row.refs -= 1
            if row.refs > 0:
                continue
            link = &self.buckets[row.hash & (self.n_buckets - 1)]
            while link[0] != row:
                link = &link[0].next
            link[0] = row.next
            self.n_rows -= 1
            self.row_bytes -= _row_bytes(masks[i])
            free(row)
        unlock(&self.guard)

    cdef size_t share(self, uint32_t** masks, int n) noexcept nogil:
        """The bytes of the rows of ``masks[:n]``, each divided by its refs (rounded down)."""
        cdef int i
        cdef size_t total = 0
        cdef Row* row
        lock_nogil(&self.guard)
        for i in range(n):
            if masks[i] != NULL:
                row = (<Row*>masks[i]) - 1
                total += _row_bytes(masks[i]) // row.refs
        unlock(&self.guard)
        return total


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
