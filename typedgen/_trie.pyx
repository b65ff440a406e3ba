# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The vocabulary's byte trie, and the walks of an automaton over it.

* :class:`TokenTrie` is a byte trie of a vocabulary in preorder arrays (each node knows where
  its subtree ends), built once per vocabulary and shared by every guide. It also indexes the
  tokens that are *text* (the body of a JSON string: UTF-8 without controls, ``"`` and
  ``\\``), by length, for the JSON-string shortcut below.
* :class:`TrieWalk` walks one automaton over one trie: the tokens whose bytes lead to a live
  state (a mask), the states tokens lead to, the tokens that keep a completion within a
  budget. One scan of the trie skips every subtree whose prefix leads the automaton to a dead
  state. It owns the JSON-string shortcut: in a state where every text string up to some
  length stays live (inside a JSON string), the text tokens that short are taken from the
  trie's per-length masks at once instead of being walked, the bound memoized per automaton
  state. And the whole-subtree shortcut: the trie knows the bytes below each node with many
  nodes below it; where a state leads every one of them to one same state, and that one too,
  as deep as the subtree goes (the repeated ``[a-z]`` of a counted string, a run of digits),
  every token of the subtree is allowed without stepping its nodes.
"""

from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, qsort
from libc.string cimport memcmp, memcpy, memset

from typedgen._automaton cimport Automaton, RegexAutomaton, FAILED, walk_step
from typedgen._cmem cimport Lock, grow, xcalloc, xmalloc, xrealloc, yield_lock

__all__ = ["TokenTrie", "TrieWalk"]



cdef enum:
    DEPTH_CUT = 1      # the text bound stopped at the horizon (a lower bound)
    DEPTH_EXACT = 2    # every text string longer than the bound is dead

cdef enum:
    SUBTREE_MIN = 64   # the fewest trie nodes below which the walk looks for a text bound
    SET_MIN = 4       # the fewest trie nodes below a node whose byte set the trie keeps
    UNI_UNKNOWN = -1   # TrieWalk.uni_target of a state not looked at yet (memset 0xFF)
    UNI_NONE = -2      # ... of a state no byte leads to a live state from
    UNI_ENDLESS = 0x7FFF  # TrieWalk.uni_run of a state its uniform bytes lead back to
    UNI_HORIZON = 64   # the longest run the whole-subtree shortcut looks for
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
# the vocabulary trie


cdef extern from *:
    int _ctz64 "__builtin_ctzll" (uint64_t x) noexcept nogil


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
        self.offsets = <int64_t*>xmalloc((n + 1) * sizeof(int64_t))
        cdef int32_t* order = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
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
        self.data = <uint8_t*>xmalloc(total + 1)
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
        self.node_byte = <uint8_t*>xmalloc(cap)
        self.node_depth = <uint16_t*>xmalloc(cap * sizeof(uint16_t))
        self.node_skip = <int32_t*>xmalloc(cap * sizeof(int32_t))
        self.node_first = <int32_t*>xmalloc((cap + 1) * sizeof(int32_t))
        self.entries = <int32_t*>xmalloc((n_valid + 1) * sizeof(int32_t))
        cdef int32_t* end_node = <int32_t*>xmalloc((n_valid + 1) * sizeof(int32_t))
        cdef int32_t* path = <int32_t*>xmalloc(65537 * sizeof(int32_t))
        cdef int32_t* parent = <int32_t*>xmalloc(cap * sizeof(int32_t))
        self.node_maxlen = <uint16_t*>xmalloc(cap * sizeof(uint16_t))
        self.node_text = <uint8_t*>xmalloc(cap)
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
        self._byte_sets(parent)
        free(parent)

    cdef void _text_index(self, int32_t* parent, int32_t n_valid):
        """node_rooted, the characters on paths and in subtrees, and the masks of text tokens
        by their number of characters."""
        cdef int32_t i, k, t, j, w, length, L
        self.node_pathq = <uint8_t*>xmalloc(self.n_nodes + 1)
        self.node_chars = <uint16_t*>xmalloc((self.n_nodes + 1) * sizeof(uint16_t))
        cdef uint8_t* pathq = self.node_pathq
        cdef uint8_t q
        self.node_rooted = <uint8_t*>xmalloc(self.n_nodes + 1)
        self.node_maxchars = <uint16_t*>xmalloc((self.n_nodes + 1) * sizeof(uint16_t))
        self.text_chars = 0
        for i in range(self.n_nodes):
            q = U_START if parent[i] < 0 else pathq[parent[i]]
            pathq[i] = U_BAD if q == U_BAD else <uint8_t>_text_step(q, self.node_byte[i])
            self.node_chars[i] = (0 if parent[i] < 0 else self.node_chars[parent[i]]) + (
                (self.node_byte[i] & 0xC0) != 0x80)
            self.node_maxchars[i] = self.node_chars[i]
            self.node_rooted[i] = q != U_BAD and (self.node_text[i] >> q) & 1
            if pathq[i] != U_BAD and self.node_chars[i] > self.text_chars:
                self.text_chars = self.node_chars[i]
        for i in range(self.n_nodes - 1, -1, -1):  # children come after their parent
            if parent[i] >= 0 and self.node_maxchars[i] > self.node_maxchars[parent[i]]:
                self.node_maxchars[parent[i]] = self.node_maxchars[i]
        self.n_words = (self.n_tokens + 31) // 32
        self.text_masks = <uint32_t*>xcalloc(
            <size_t>(self.text_chars + 1) * self.n_words + 1, sizeof(uint32_t))
        for i in range(self.n_nodes):
            if pathq[i] == U_BAD:
                continue
            length = self.node_chars[i]
            for k in range(self.node_first[i], self.node_first[i + 1]):
                t = self.entries[k]
                self.text_masks[length * self.n_words + (t >> 5)] |= (<uint32_t>1) << (t & 31)
        for L in range(1, self.text_chars + 1):
            for w in range(self.n_words):
                self.text_masks[L * self.n_words + w] |= self.text_masks[(L - 1) * self.n_words + w]
        self.open_masks = <uint32_t*>xcalloc(4 * <size_t>self.n_words + 1, sizeof(uint32_t))
        for i in range(self.n_nodes):
            if pathq[i] == U_BAD:
                continue
            L = _pending_bytes(pathq[i])
            for k in range(self.node_first[i], self.node_first[i + 1]):
                t = self.entries[k]
                for length in range(L, 4):
                    self.open_masks[length * self.n_words + (t >> 5)] |= (<uint32_t>1) << (t & 31)

    cdef void _byte_sets(self, int32_t* parent):
        """node_set and sets: the bytes below every node with at least SET_MIN nodes below."""
        cdef int32_t n = self.n_nodes, i, j, w, k
        cdef uint8_t b
        cdef uint64_t* below = <uint64_t*>xcalloc(4 * <size_t>n + 4, sizeof(uint64_t))
        self.node_set = <int32_t*>xmalloc((n + 1) * sizeof(int32_t))
        self.n_sets = 0
        for i in range(n):
            if self.node_skip[i] - i - 1 >= SET_MIN:
                self.n_sets += 1
        self.sets = <uint64_t*>xmalloc((4 * <size_t>self.n_sets + 4) * sizeof(uint64_t))
        k = 0
        for i in range(n - 1, -1, -1):  # a node's descendants come after it: all done here
            if self.node_skip[i] - i - 1 >= SET_MIN:
                self.node_set[i] = k
                memcpy(self.sets + 4 * <size_t>k, below + 4 * <size_t>i, 4 * sizeof(uint64_t))
                k += 1
            else:
                self.node_set[i] = -1
            j = parent[i]
            if j >= 0:
                b = self.node_byte[i]
                below[4 * <size_t>j + (b >> 6)] |= (<uint64_t>1) << (b & 63)
                for w in range(4):
                    below[4 * <size_t>j + w] |= below[4 * <size_t>i + w]
        free(below)

    def __dealloc__(self):
        free(self.node_set)
        free(self.sets)
        free(self.node_maxlen)
        free(self.node_text)
        free(self.node_rooted)
        free(self.node_pathq)
        free(self.node_chars)
        free(self.node_maxchars)
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
        return (self.n_nodes * 25 + self.n_entries * 4 + self.n_sets * 32
                + (self.text_chars + 5) * self.n_words * 4 + self.offsets[self.n_tokens]
                + (self.n_tokens + 1) * 8)

    def token_bytes(self, int token_id) -> bytes | None:
        if token_id < 0 or token_id >= self.n_tokens:
            raise IndexError(token_id)
        cdef int64_t s = self.offsets[token_id], e = self.offsets[token_id + 1]
        return self.data[s:e] if e > s else None


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


# --------------------------------------------------------------------------------------------
# walks of an automaton over the trie


cdef class TrieWalk:
    """The walks of ``automaton`` over ``trie``, and the memos of its shortcuts: a text bound
    per automaton state (the JSON-string shortcut, see :meth:`text_depth`) and the bytes that
    lead a state to one same state (the whole-subtree shortcut, see :meth:`_accepts_below`).

    Not thread-safe by itself: ``typedgen._fsm.Guide`` holds its lock around every walk.
    """

    def __init__(self, TokenTrie trie not None, Automaton automaton not None, *,
                 bint shortcuts=True):
        self.trie = trie
        self.automaton = automaton
        self.shortcuts = shortcuts
        self.regex = <void*>automaton if automaton.is_regex else NULL

    def __dealloc__(self):
        free(self.depth)
        free(self.depth_cut)
        free(self.uni_target)
        free(self.uni_bytes)
        free(self.uni_run)
        free(self.uni_cut)

    cdef size_t memory(self) noexcept nogil:
        """Bytes of the memoized text bounds and uniform byte sets."""
        return (<size_t>self.depth_cap * (sizeof(int16_t) + 1)
                + <size_t>self.uni_cap * (sizeof(int32_t) + 4 * sizeof(uint64_t)
                                          + sizeof(int16_t) + 1))

    cdef int _step(self, int state, int byte) noexcept nogil:
        return walk_step(self.automaton, self.regex, state, byte)

    cdef int _uniform(self, int state) noexcept nogil:
        """Make ``uni_target``, ``uni_bytes`` of ``state`` known: the live state most bytes lead
        ``state`` to (``UNI_NONE`` when none does), and those bytes. Returns that state. Steps
        all 256 bytes once per state."""
        cdef int cap = self.uni_cap, b, t, k, n_targets = 0, best = 0
        cdef int32_t row[256]
        cdef int32_t targets[256]
        cdef int32_t counts[256]
        self.uni_target = <int32_t*>grow(self.uni_target, &cap, state, sizeof(int32_t), 0xFF)
        cap = self.uni_cap
        self.uni_run = <int16_t*>grow(self.uni_run, &cap, state, sizeof(int16_t), 0xFF)
        cap = self.uni_cap
        self.uni_cut = <uint8_t*>grow(self.uni_cut, &cap, state, 1, 0)
        self.uni_bytes = <uint64_t*>grow(self.uni_bytes, &self.uni_cap, state,
                                         4 * sizeof(uint64_t), 0)
        if self.uni_target[state] != UNI_UNKNOWN:
            return self.uni_target[state]
        for b in range(256):
            t = row[b] = self._step(state, b)
            if t < 0:
                continue
            k = 0
            while k < n_targets and targets[k] != t:
                k += 1
            if k == n_targets:
                targets[k] = t
                counts[k] = 0
                n_targets += 1
            counts[k] += 1
            if counts[k] > counts[best]:
                best = k
        t = targets[best] if n_targets > 0 else UNI_NONE
        cdef uint64_t* bits = self.uni_bytes + 4 * <size_t>state
        if t >= 0:
            for b in range(256):
                if row[b] == t:
                    bits[b >> 6] |= (<uint64_t>1) << (b & 63)
        self.uni_target[state] = t
        return t

    cdef int _uniform_run(self, int state, int need) noexcept nogil:
        """A lower bound on how many bytes of ``uni_bytes[state]`` in a row surely lead from
        ``state`` to live states: along the chain of ``uni_target`` while each state's bytes
        include the first one's, ``UNI_ENDLESS`` when it comes back to itself. Memoized; the
        chain is followed at most ``need`` (<= ``UNI_HORIZON``) states ahead, a bound cut there
        is extended when more is needed."""
        cdef int t = self._uniform(state), r, w
        cdef uint64_t* bits
        cdef uint64_t* next_bits
        if t < 0:
            return 0
        r = self.uni_run[state]
        if r >= need or (r >= 0 and not self.uni_cut[state]):
            return r
        if t == state:
            r = UNI_ENDLESS
            self.uni_cut[state] = 0
        elif need <= 1 or self._uniform(t) < 0:
            r = 1
            self.uni_cut[state] = need <= 1
        else:
            bits = self.uni_bytes + 4 * <size_t>state
            next_bits = self.uni_bytes + 4 * <size_t>t
            for w in range(4):
                if bits[w] & ~next_bits[w]:
                    break
            else:
                r = self._uniform_run(t, need - 1)
                self.uni_cut[state] = self.uni_cut[t]
                self.uni_run[state] = UNI_ENDLESS if r == UNI_ENDLESS else r + 1
                return self.uni_run[state]
            r = 1
            self.uni_cut[state] = 0
        self.uni_run[state] = r
        return r

    cdef bint _accepts_below(self, int state, const uint64_t* below, int length) noexcept nogil:
        """True when every string of at most ``length`` bytes of the 256-bit set ``below`` is
        found to lead from ``state`` to a live state: every byte of ``below`` leads ``state``
        to ``uni_target`` and the uniform run (:meth:`_uniform_run`) is that long. False when
        it is not found so (some of those strings may still be live)."""
        cdef int w
        cdef const uint64_t* bits
        if length > UNI_HORIZON or self._uniform(state) < 0:
            return False
        bits = self.uni_bytes + 4 * <size_t>state
        for w in range(4):
            if below[w] & ~bits[w]:
                return False
        return self._uniform_run(state, length) >= length

    cdef int _known_text_depth(self, int state) noexcept nogil:
        """``text_depth(state)``, read from the memo when it is there."""
        if state < self.depth_cap and self.depth[state] >= 0:
            return self.depth[state]
        return self.text_depth(state, False)

    cdef int text_depth(self, int state, bint refresh) noexcept nogil:
        """A lower bound on the largest ``L`` such that every *text* string of at most ``L``
        characters leads from ``state`` to a live state (``TEXT_UNBOUNDED``: no bound). Text is
        UTF-8 without controls, ``"`` and ``\\`` (the body of a JSON string), including
        prefixes that end inside a character. Memoized per state.

        It is positive only for a state whose every text character leads to one same state
        (itself for an unbounded string, the next position for a counted one), so it costs a
        few hundred steps per state and lets the token walk accept whole trie subtrees of
        text at once. A chain of counted positions is followed ``TEXT_HORIZON`` states ahead;
        ``refresh`` extends a bound that was cut at that horizon."""
        if refresh and state < self.depth_cap and self.depth_cut[state] & DEPTH_CUT:
            self.depth[state] = DEPTH_UNKNOWN
        return self._text_depth(state, 0)

    cdef bint text_exact(self, int state) noexcept nogil:
        """After ``text_depth(state)``: True when that bound is exact, every text string of
        more characters than it being dead (a counted string that must end there)."""
        return (state < self.depth_cap
                and self.depth_cut[state] & (DEPTH_CUT | DEPTH_EXACT) == DEPTH_EXACT)

    cdef int _text_depth(self, int state, int level) noexcept nogil:
        cdef int d, target, cap = self.depth_cap
        self.depth = <int16_t*>grow(self.depth, &cap, state, sizeof(int16_t), 0xFF)  # UNKNOWN
        self.depth_cut = <uint8_t*>grow(self.depth_cut, &self.depth_cap, state, 1, 0)
        d = self.depth[state]
        if d != DEPTH_UNKNOWN:
            return 0 if d == DEPTH_IN_PROGRESS else d
        if level >= TEXT_HORIZON:
            return -1  # cut: the caller's bound becomes a lower bound
        target = self._text_target(state)
        self.depth_cut[state] = 0
        if target < 0:
            d = 0
            if self._text_dead(state):
                self.depth_cut[state] = DEPTH_EXACT
        elif target == state:
            d = TEXT_UNBOUNDED
        else:
            self.depth[state] = DEPTH_IN_PROGRESS
            d = self._text_depth(target, level + 1)
            if d < 0 or (target < self.depth_cap and self.depth_cut[target] & DEPTH_CUT):
                self.depth_cut[state] = DEPTH_CUT
                d = max(d, 0)
            elif self.depth_cut[target] & DEPTH_EXACT:
                self.depth_cut[state] = DEPTH_EXACT
            d = TEXT_UNBOUNDED if d == TEXT_UNBOUNDED else d + 1
        self.depth[state] = <int16_t>d
        return d

    cdef bint _text_dead(self, int state) noexcept nogil:
        """True when no text character can start in ``state``."""
        cdef int b
        for b in range(0x20, 0xF5):
            if (b < 0x7F and b != 0x22 and b != 0x5C) or b >= 0xC2:
                if self._step(state, b) >= 0:
                    return False
        return True

    cdef int _text_target(self, int state) noexcept nogil:
        """The state every text character leads to from ``state``, or -1 when they do not
        all lead to one live state. The continuations after a lead byte are checked once per
        state it leads to (and kind of lead)."""
        cdef int b, lead, k, after, target = self._step(state, 0x61)
        cdef int32_t checked[51]  # per lead: the state after it (its continuations checked)
        if target < 0:
            return -1
        for b in range(0x20, 0x7F):
            if b != 0x22 and b != 0x5C and self._step(state, b) != target:
                return -1
        for lead in range(0xC2, 0xF5):
            after = checked[lead - 0xC2] = self._step(state, lead)
            for k in range(lead - 0xC2):  # leads of one kind mostly lead to one state
                if (checked[k] == after and _UTF8_LENGTH[k] == _UTF8_LENGTH[lead - 0xC2]
                        and _UTF8_SECOND_LO[k] == _UTF8_SECOND_LO[lead - 0xC2]
                        and _UTF8_SECOND_HI[k] == _UTF8_SECOND_HI[lead - 0xC2]):
                    break
            else:
                if self._continuations(after, _UTF8_SECOND_LO[lead - 0xC2],
                                       _UTF8_SECOND_HI[lead - 0xC2],
                                       _UTF8_LENGTH[lead - 0xC2] - 1, target) != target:
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
            t = self._step(state, b)
            if t < 0 or (common >= 0 and t != common):
                return -1
            common = t
        if remaining == 1:
            return common
        return self._continuations(common, 0x80, 0xBF, remaining - 1, target)

    cdef int walk(self, int state, uint32_t* mask, Lock* y) noexcept nogil:
        """Set in ``mask`` the bit of every token whose bytes lead ``automaton`` from ``state``
        to a live state. Returns 0, or -1 when the automaton failed. With ``y`` (held), the lock
        is handed over every few hundred nodes to threads waiting for it.

        The JSON-string shortcut (unless ``shortcuts`` is off): where every text string of up
        to some number of characters stays live (see :meth:`text_depth`), the text tokens
        that short are taken at once from the trie's ``text_masks`` and the subtrees made only
        of them are skipped, and so is every subtree below a node from which all paths are
        text that short (its tokens are set without stepping the automaton). When the bound
        is exact, longer text is dead: every subtree of text tokens is skipped.

        The whole-subtree shortcut (unless ``shortcuts`` is off): below a node with at least
        ``SET_MIN`` nodes under it, from the state its path leads to, when every string of the
        bytes below it, as long as its deepest token, is found live (:meth:`_accepts_below`),
        every token of its subtree is allowed and the subtree is skipped."""
        cdef int32_t* states = <int32_t*>malloc((self.trie.max_depth + 1) * sizeof(int32_t))
        if states == NULL:
            return -1
        cdef int32_t i = 0, n = self.trie.n_nodes, s, k, t, visited = 0
        cdef uint8_t* node_byte = self.trie.node_byte
        cdef uint16_t* node_depth = self.trie.node_depth
        cdef int32_t* node_skip = self.trie.node_skip
        cdef int32_t* node_first = self.trie.node_first
        cdef int32_t* entries = self.trie.entries
        cdef uint16_t* node_maxchars = self.trie.node_maxchars
        cdef uint8_t* node_text = self.trie.node_text
        cdef uint8_t* node_rooted = self.trie.node_rooted
        cdef uint8_t* node_pathq = self.trie.node_pathq
        cdef uint16_t* node_chars = self.trie.node_chars
        cdef uint16_t* node_maxlen = self.trie.node_maxlen
        cdef int32_t* node_set = self.trie.node_set
        cdef uint64_t* sets = self.trie.sets
        cdef bint shortcuts = self.shortcuts
        cdef int d, parent_state, w, bound = self.text_depth(state, True) if shortcuts else 0
        cdef int limit = bound if bound < self.trie.text_chars else self.trie.text_chars
        cdef bint exact = shortcuts and bound < TEXT_UNBOUNDED and self.text_exact(state)
        cdef void* regex = self.regex
        if limit > 0:  # every text token of at most `limit` bytes is allowed: all at once
            for w in range(self.trie.n_words):
                mask[w] |= self.trie.text_masks[limit * self.trie.n_words + w]
        states[0] = state
        while i < n:
            visited += 1
            if (visited & 255) == 0:
                yield_lock(y)
            if node_rooted[i] and (exact or node_maxchars[i] <= limit):
                # its tokens short enough were just taken; with an exact bound, longer text
                # is dead
                i = node_skip[i]
                continue
            if exact and node_pathq[i] != U_BAD and node_chars[i] > bound:
                i = node_skip[i]  # text longer than the state allows is dead
                continue
            d = node_depth[i]
            parent_state = states[d - 1]
            if (shortcuts and node_text[i] & 1 and node_skip[i] - i >= SUBTREE_MIN
                    and self._known_text_depth(parent_state) > node_maxchars[i] - node_chars[i]):
                # every token below is text of few enough characters to stay live: all allowed
                # (small subtrees are walked: the text bound can cost more than they do)
                for k in range(node_first[i], node_first[node_skip[i]]):
                    t = entries[k]
                    mask[t >> 5] |= (<uint32_t>1) << (t & 31)
                i = node_skip[i]
                continue
            s = walk_step(self.automaton, regex, parent_state, node_byte[i])
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
            if (shortcuts and node_set[i] >= 0 and self._accepts_below(
                    s, sets + 4 * <size_t>node_set[i], node_maxlen[i] - d)):
                # every token below leads to a live state: all allowed, none stepped
                for k in range(node_first[i + 1], node_first[node_skip[i]]):
                    t = entries[k]
                    mask[t >> 5] |= (<uint32_t>1) << (t & 31)
                i = node_skip[i]
                continue
            i += 1
        free(states)
        return 0

    cdef int successors(self, int state, int32_t* out, int cap, Lock* y) noexcept nogil:
        """The distinct states a token leads ``automaton`` to from ``state`` (a live one), at
        most ``cap`` of them, in trie order, into ``out``: how many, or -1 when the automaton
        failed. ``y``: as for :meth:`walk`."""
        cdef void* regex = self.regex
        cdef int32_t* states = <int32_t*>malloc((self.trie.max_depth + 1) * sizeof(int32_t))
        cdef int size = 16, slot, count = 0
        while size < 2 * cap:
            size *= 2
        cdef int32_t* seen = <int32_t*>malloc(size * sizeof(int32_t))
        if states == NULL or seen == NULL:
            free(states)
            free(seen)
            return -1
        memset(seen, 0xFF, size * sizeof(int32_t))
        cdef int32_t i = 0, n = self.trie.n_nodes, s, visited = 0
        states[0] = state
        while i < n and count < cap:
            visited += 1
            if (visited & 255) == 0:
                yield_lock(y)
            s = walk_step(self.automaton, regex, states[self.trie.node_depth[i] - 1], self.trie.node_byte[i])
            if s < 0:
                if s == FAILED:
                    count = -1
                    break
                i = self.trie.node_skip[i]
                continue
            states[self.trie.node_depth[i]] = s
            if self.trie.node_first[i] < self.trie.node_first[i + 1]:
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

    cdef int walk_within(self, int state, uint32_t* mask, int limit, int* reach) noexcept nogil:
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
        cdef int32_t* states = <int32_t*>malloc((self.trie.max_depth + 1) * sizeof(int32_t))
        if states == NULL:
            return -1
        cdef int32_t i = 0, n = self.trie.n_nodes, s, k, t
        cdef int d, dist, best = -1
        cdef void* regex = self.regex
        cdef int loop_dist = self.automaton.distance(state), w, row
        cdef bint loop = self._text_target(state) == state
        if loop:
            if limit >= loop_dist:
                row = min(limit - loop_dist, 3) * self.trie.n_words
                for w in range(self.trie.n_words):
                    mask[w] |= self.trie.open_masks[row + w]
            best = loop_dist + 3
        states[0] = state
        while i < n:
            if loop and self.trie.node_rooted[i]:
                i = self.trie.node_skip[i]
                continue
            d = self.trie.node_depth[i]
            s = walk_step(self.automaton, regex, states[d - 1], self.trie.node_byte[i])
            if s < 0:
                if s == FAILED:
                    free(states)
                    return -1
                i = self.trie.node_skip[i]
                continue
            if regex != NULL and s < (<RegexAutomaton>regex).dists_cap \
                    and (<RegexAutomaton>regex).dists[s] >= 0:  # memoized, no virtual call
                dist = (<RegexAutomaton>regex).dists[s]
            else:
                dist = self.automaton.distance(s)
            if reach == NULL and dist - (self.trie.node_maxlen[i] - d) > limit:
                i = self.trie.node_skip[i]
                continue
            states[d] = s
            if self.trie.node_first[i] < self.trie.node_first[i + 1]:
                if dist > best:
                    best = dist
                if dist <= limit:
                    for k in range(self.trie.node_first[i], self.trie.node_first[i + 1]):
                        t = self.trie.entries[k]
                        mask[t >> 5] |= (<uint32_t>1) << (t & 31)
            i += 1
        free(states)
        if reach != NULL:
            reach[0] = best
        return 0


