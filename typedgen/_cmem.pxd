# Shared C helpers of the FSM modules (_automaton, _trie, _fsm): memory that raises
# MemoryError instead of returning NULL, arrays grown in one way, and the guide's lock with its
# hand-over to waiting threads. Declared inline here, compiled into each module.
from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    NOWAIT_LOCK,
    WAIT_LOCK,
)
from libc.stdlib cimport calloc, malloc, realloc
from libc.string cimport memset


cdef extern from "<sched.h>":
    int sched_yield() noexcept nogil

cdef extern from *:
    """
    static inline int tg_atomic_load(int* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void tg_atomic_add(int* p, int v) { __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }
    """
    int atomic_load "tg_atomic_load" (int* p) noexcept nogil
    void atomic_add "tg_atomic_add" (int* p, int v) noexcept nogil


cdef inline void* xmalloc(size_t size) noexcept nogil:
    cdef void* p = malloc(size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef inline void* xcalloc(size_t count, size_t size) noexcept nogil:
    """Zeroed memory (pages of a large block are mapped only when first touched)."""
    cdef void* p = calloc(count if count else 1, size)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef inline void* xrealloc(void* old, size_t size) noexcept nogil:
    cdef void* p = realloc(old, size if size else 1)
    if p == NULL:
        with gil:
            raise MemoryError()
    return p


cdef inline void* grow(void* array, int* cap, int index, size_t item, int fill) noexcept nogil:
    """``array`` (``cap[0]`` items of ``item`` bytes) made to hold ``index``: when it is too
    short, reallocated to at least 64 items, twice as many, or ``index + 1``, the new items'
    bytes set to ``fill``, and ``cap[0]`` updated. Returns the array."""
    cdef int old = cap[0], size
    if index < old:
        return array
    size = 64 if old < 32 else 2 * old
    if size <= index:
        size = index + 1
    array = xrealloc(array, <size_t>size * item)
    memset(<char*>array + <size_t>old * item, fill, <size_t>(size - old) * item)
    cap[0] = size
    return array


cdef struct Lock:
    # a lock with the number of threads waiting for it: a long walk that holds it hands it over
    # to them (see yield_lock)
    PyThread_type_lock lock
    int waiting


cdef inline void lock_nogil(Lock* lock) noexcept nogil:
    """Take the lock, counted in ``waiting`` while it waits so that a walk holding it yields."""
    if PyThread_acquire_lock(lock.lock, NOWAIT_LOCK):
        return
    atomic_add(&lock.waiting, 1)
    PyThread_acquire_lock(lock.lock, WAIT_LOCK)
    atomic_add(&lock.waiting, -1)


cdef inline void lock_gil(Lock* lock) noexcept:
    """Take the lock from a thread that holds the GIL (released while it waits)."""
    if PyThread_acquire_lock(lock.lock, NOWAIT_LOCK):
        return
    with nogil:
        lock_nogil(lock)


cdef inline void unlock(Lock* lock) noexcept nogil:
    PyThread_release_lock(lock.lock)


cdef inline void yield_lock(Lock* lock) noexcept nogil:
    """Hand ``lock`` (held) to the threads waiting for it, then take it back (a walk can pause
    there: DFA states are never removed, so its states stay valid). Nothing when ``lock`` is
    NULL or nobody waits."""
    if lock == NULL or atomic_load(&lock.waiting) == 0:
        return
    PyThread_release_lock(lock.lock)
    while atomic_load(&lock.waiting) > 0:
        sched_yield()
    PyThread_acquire_lock(lock.lock, WAIT_LOCK)
