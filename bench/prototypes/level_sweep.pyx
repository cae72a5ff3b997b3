# cython: boundscheck=False, wraparound=False, cdivision=True, language_level=3
"""Prototype: a level-scheduled, pull-style parallel reverse sweep over a
fastad tape, against the engine's serial push sweep (see measure_levels.py)."""
from cython.parallel cimport prange
from libc.stdint cimport int32_t, uint8_t
import numpy as np


def serial_sweep(const int32_t[::1] in0, const int32_t[::1] in1, const double[::1] d0,
                 const double[::1] d1, double[::1] adj):
    cdef Py_ssize_t i
    cdef int32_t a, b
    cdef double g
    with nogil:
        for i in range(in0.shape[0] - 1, -1, -1):
            g = adj[i]
            a = in0[i]
            b = in1[i]
            if a >= 0:
                adj[a] += d0[i] * g
            if b >= 0:
                adj[b] += d1[i] * g


def build_levels(const int32_t[::1] in0, const int32_t[::1] in1):
    """Level = longest distance from the root; returns nodes ordered by level and level bounds."""
    cdef Py_ssize_t n = in0.shape[0], i
    cdef int32_t[::1] lvl = np.zeros(n, np.int32)
    cdef int32_t a, b, top = 0
    with nogil:
        for i in range(n - 1, -1, -1):
            a = in0[i]
            b = in1[i]
            if a >= 0 and lvl[a] < lvl[i] + 1:
                lvl[a] = lvl[i] + 1
            if b >= 0 and lvl[b] < lvl[i] + 1:
                lvl[b] = lvl[i] + 1
            if lvl[i] > top:
                top = lvl[i]
    cdef int32_t[::1] start = np.zeros(top + 2, np.int32)
    cdef int32_t[::1] order = np.empty(n, np.int32)
    with nogil:
        for i in range(n):
            start[lvl[i] + 1] += 1
        for i in range(top + 1):
            start[i + 1] += start[i]
        for i in range(n):
            order[start[lvl[i]]] = i
            start[lvl[i]] += 1
        for i in range(top, 0, -1):
            start[i] = start[i - 1]
        start[0] = 0
    return np.asarray(order), np.asarray(start)


def build_consumers(const int32_t[::1] in0, const int32_t[::1] in1, const double[::1] d0,
                    const double[::1] d1):
    """CSR of (consumer, partial) per node, so that each node pulls its adjoint."""
    cdef Py_ssize_t n = in0.shape[0], i
    cdef int32_t[::1] ptr = np.zeros(n + 1, np.int32)
    with nogil:
        for i in range(n):
            if in0[i] >= 0:
                ptr[in0[i] + 1] += 1
            if in1[i] >= 0:
                ptr[in1[i] + 1] += 1
        for i in range(n):
            ptr[i + 1] += ptr[i]
    cdef int32_t[::1] fill = np.array(ptr[:n], np.int32)
    cdef int32_t[::1] cons = np.empty(ptr[n], np.int32)
    cdef double[::1] part = np.empty(ptr[n], np.float64)
    with nogil:
        for i in range(n):
            if in0[i] >= 0:
                cons[fill[in0[i]]] = <int32_t>i
                part[fill[in0[i]]] = d0[i]
                fill[in0[i]] += 1
            if in1[i] >= 0:
                cons[fill[in1[i]]] = <int32_t>i
                part[fill[in1[i]]] = d1[i]
                fill[in1[i]] += 1
    return np.asarray(ptr), np.asarray(cons), np.asarray(part)


cdef inline double pull(Py_ssize_t v, const int32_t[::1] ptr, const int32_t[::1] cons,
                        const double[::1] part, double[::1] adj) noexcept nogil:
    cdef double s = adj[v]
    cdef Py_ssize_t j
    for j in range(ptr[v], ptr[v + 1]):
        s += part[j] * adj[cons[j]]
    return s


def level_sweep(const int32_t[::1] order, const int32_t[::1] start, const int32_t[::1] ptr,
                const int32_t[::1] cons, const double[::1] part, double[::1] adj, int threads):
    cdef Py_ssize_t L, k, lo, hi
    cdef Py_ssize_t nlev = start.shape[0] - 1
    with nogil:
        for L in range(1, nlev):
            lo = start[L]
            hi = start[L + 1]
            for k in prange(lo, hi, schedule='static', num_threads=threads):
                adj[order[k]] = pull(order[k], ptr, cons, part, adj)
