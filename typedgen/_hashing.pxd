# Shared C helpers of the Cython modules (_regex, _fsm): declared inline here, compiled into each.
from libc.stdint cimport int32_t, uint32_t, uint64_t


cdef inline uint64_t hash_ints(const int32_t* items, Py_ssize_t n) noexcept nogil:
    """FNV-1a over ``n`` int32 values, with the length mixed in and the high bits folded down
    (for open-addressing tables indexed by the low bits)."""
    cdef uint64_t h = 1469598103934665603ULL ^ <uint64_t>n
    cdef Py_ssize_t k
    for k in range(n):
        h = (h ^ <uint64_t><uint32_t>items[k]) * 1099511628211ULL
    return h ^ (h >> 29)
