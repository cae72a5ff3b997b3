/* What every kernel module of fastad includes first: inlining that is really
   inlining, OpenMP detection, prefetch and streamed stores. */
#ifndef FAD_COMMON_H
#define FAD_COMMON_H

#include <Python.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
/* FP exceptions are never unmasked here: lets the vectoriser if-convert the
   select-style formulas (IEEE inf/NaN results are unchanged; NOT fast-math). */
#pragma GCC optimize ("no-trapping-math")
/* Force `cdef inline` to really inline (GCC's size heuristics otherwise keep the
   per-op loops out of line and the op switch is never folded). */
#undef CYTHON_INLINE
#define CYTHON_INLINE __inline__ __attribute__((__always_inline__, __unused__))
#define FAD_INLINE static __inline__ __attribute__((__always_inline__, __unused__))
#else
#define FAD_INLINE static inline
#endif

/* Whether this module was compiled with OpenMP threads (-fopenmp): without it,
   Cython's prange runs serially. */
#ifdef _OPENMP
#define FAD_HAVE_OPENMP 1
#else
#define FAD_HAVE_OPENMP 0
#endif

/* Hint that [p, p + nbytes) is read next (hardware prefetchers stop at page
   boundaries, and a row kernel runs long enough between rows to hide it). */
FAD_INLINE void fad_prefetch(const void *p, Py_ssize_t nbytes) {
    const char *c = (const char *)p;
    Py_ssize_t k;
    for (k = 0; k < nbytes; k += 64) __builtin_prefetch(c + k, 0, 2);
}

/* Output arrays larger than the caches are written with non-temporal stores:
   an ordinary store first reads the line it writes (read-for-ownership), so
   y = f(x) moved three streams, not two.  Kernels compute a block into a
   small buffer in L1 and stream it out (measured on 2**26 bytes: a scaled
   copy 11.0 -> 8.1 ms, memcpy 10.0).  SSE2 is x86-64's baseline, so every
   clone has it; elsewhere it is a plain copy. */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
FAD_INLINE void fad_stream_copy(void *dst, const void *src, Py_ssize_t nbytes) {
#if defined(__SSE2__)
    char *d = (char *)dst;
    const char *s = (const char *)src;
    Py_ssize_t head = (Py_ssize_t)((16 - ((uintptr_t)d & 15)) & 15);
    if (head > nbytes) head = nbytes;
    memcpy(d, s, (size_t)head);
    d += head; s += head; nbytes -= head;
    for (; nbytes >= 16; nbytes -= 16, d += 16, s += 16)
        _mm_stream_si128((__m128i *)d, _mm_loadu_si128((const __m128i *)s));
    memcpy(d, s, (size_t)nbytes);
#else
    memcpy(dst, src, (size_t)nbytes);
#endif
}

/* streamed stores are weakly ordered: fence them before the array is read */
FAD_INLINE void fad_stream_fence(void) {
#if defined(__SSE2__)
    _mm_sfence();
#endif
}

#endif /* FAD_COMMON_H */
