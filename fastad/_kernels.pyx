# cython: language_level=3
# distutils: language = c
"""Compiled numeric kernels of fastad.

Every kernel is written once over the fused type ``floating`` (float32 and
float64).  The ``def`` wrappers validate their arguments with the GIL held and
raise before any work starts; the loops run with the GIL released.

Loop structure: every kernel is a *range function* ``fn(ctx, lo, hi)`` that
processes items ``[lo, hi)``.  ONE driver, :c:func:`run_blocks`, runs it either
serially (small inputs: no threads are ever started) or with
``prange(nblocks, schedule='static', num_threads=n)`` over fixed-size blocks.
Each item is always computed by the same serial code, so results are bitwise
identical for any thread count.

Elementwise ops: the op code is dispatched ONCE per block (``*_dispatch``); each
branch calls the ``cdef inline`` loop ``ew_loop`` with a literal op code, so the
C compiler inlines the loop per call site, folds the op ``switch`` away and
vectorises the remaining straight-line body.  exp, expm1, log, log1p, tanh,
sin, cos and erf are branch-free polynomial implementations (``fad_*`` below)
that vectorise with plain SSE2 and keep IEEE inf/NaN semantics (no -ffast-math).
"""
cimport cython
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sin, cos, sqrt, sqrtf, fabs, fabsf, NAN
from libc.stdint cimport int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
cimport numpy as cnp
from fastad._opcodes cimport *
import os
import warnings

import numpy as np

cnp.import_array()

IF FASTAD_OPENMP:
    cimport openmp

HAVE_OPENMP = FASTAD_OPENMP

# ---------------------------------------------------------------------------
# vectorisable exp / tanh (C, branch-free, IEEE special values preserved)
# ---------------------------------------------------------------------------
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Force `cdef inline` to really inline (GCC's size heuristics otherwise keep the
       per-op loops out of line and the op switch is never folded). */
    #if defined(__GNUC__)
    /* FP exceptions are never unmasked here: lets the vectoriser if-convert the
       select-style formulas (IEEE inf/NaN results are unchanged; NOT fast-math). */
    #pragma GCC optimize ("no-trapping-math")
    #undef CYTHON_INLINE
    #define CYTHON_INLINE __inline__ __attribute__((__always_inline__, __unused__))
    #define FAD_INLINE static __inline__ __attribute__((__always_inline__, __unused__))
    #else
    #define FAD_INLINE static inline
    #endif

    /* Runtime ISA dispatch (GCC function multiversioning): the per-op loop drivers
       below get an x86-64-v4 clone (AVX-512, 16 floats per op) and an x86-64-v3 one
       (AVX2 + FMA, 8 floats) next to the baseline SSE2 one, chosen once at load time
       by an ifunc resolver.  FMA contraction makes the clones differ in the last bit,
       but one machine always runs the same clone, whatever the thread count
       (measured: FMA took sigmoid forward on 2**24 floats from 30.6 to 24.0 ms, tanh
       from 28.1 to 19.6 ms; AVX-512 then took float32 sigmoid from 1.11 to 0.75 ns
       per element in cache, tanh from 1.01 to 0.57, exp from 0.49 to 0.31).
       These are forward declarations of the Cython-generated functions (names are
       Cython's deterministic mangling); if they ever stop matching, the declarations
       are simply unused and the baseline build is used. */
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
    #define FAD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
    #else
    #define FAD_CLONES
    #endif
    struct __pyx_t_6fastad_8_kernels_RowCtx;
    FAD_CLONES static void __pyx_fuse_0__pyx_f_6fastad_8_kernels_act_fwd_dispatch(int, float const *, float const *, float *, Py_ssize_t, Py_ssize_t, float, float);
    FAD_CLONES static void __pyx_fuse_1__pyx_f_6fastad_8_kernels_act_fwd_dispatch(int, double const *, double const *, double *, Py_ssize_t, Py_ssize_t, double, double);
    FAD_CLONES static void __pyx_fuse_0__pyx_f_6fastad_8_kernels_act_bwd_dispatch(int, float const *, float const *, float const *, float const *, float *, Py_ssize_t, Py_ssize_t, float, float);
    FAD_CLONES static void __pyx_fuse_1__pyx_f_6fastad_8_kernels_act_bwd_dispatch(int, double const *, double const *, double const *, double const *, double *, Py_ssize_t, Py_ssize_t, double, double);
    FAD_CLONES static void __pyx_fuse_0__pyx_f_6fastad_8_kernels_loss_dispatch(int, int, float const *, float const *, float const *, float const *, float *, Py_ssize_t, Py_ssize_t, float, float);
    FAD_CLONES static void __pyx_fuse_1__pyx_f_6fastad_8_kernels_loss_dispatch(int, int, double const *, double const *, double const *, double const *, double *, Py_ssize_t, Py_ssize_t, double, double);
    FAD_CLONES static void __pyx_fuse_0__pyx_f_6fastad_8_kernels_rows_impl(struct __pyx_t_6fastad_8_kernels_RowCtx *, float const *, float const *, float *, float const *, Py_ssize_t, Py_ssize_t);
    FAD_CLONES static void __pyx_fuse_1__pyx_f_6fastad_8_kernels_rows_impl(struct __pyx_t_6fastad_8_kernels_RowCtx *, double const *, double const *, double *, double const *, Py_ssize_t, Py_ssize_t);
    /* 2**k for integer-valued k in [-126, 127] / [-1022, 1023] with FP + shift only */
    FAD_INLINE float fad_pow2if(float k) {
        float d = (k + 8388608.0f) + 127.0f;          /* low mantissa bits = k + 127 */
        uint32_t u; memcpy(&u, &d, 4); u <<= 23; memcpy(&d, &u, 4); return d;
    }
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
    /* Row max, NaN if the row holds one: `omp simd` lets the compiler split the
       max into vector lanes (it may not reorder it otherwise, for NaN's sake);
       the NaN flag is its own reduction, so the lanes' order cannot matter. */
    #define FAD_ROW_MAX_LOOP(T)                                             \
        for (j = 0; j < C; j++) {                                            \
            T v = x[j];                                                      \
            nan |= v != v;                                                   \
            m = v > m ? v : m;                                               \
        }
    #define FAD_ROW_MAX(NAME, T, NEG_INF, NAN_VALUE)                          \
    FAD_INLINE T NAME(const T *x, Py_ssize_t C) {                           \
        T m = NEG_INF;                                                       \
        int nan = 0;                                                         \
        Py_ssize_t j;                                                        \
        if (C < 64) {   /* short rows (class logits): the vector set-up costs more */ \
            FAD_ROW_MAX_LOOP(T)                                              \
        } else {                                                             \
            _Pragma("omp simd reduction(max:m) reduction(|:nan)")            \
            FAD_ROW_MAX_LOOP(T)                                              \
        }                                                                    \
        return nan ? NAN_VALUE : m;                                          \
    }
    FAD_ROW_MAX(fad_row_maxf, float, -__builtin_inff(), __builtin_nanf(""))
    FAD_ROW_MAX(fad_row_max, double, -__builtin_inf(), __builtin_nan(""))
    /* Row sums of the softmax backward, the same way: `omp simd` splits the sum
       into vector lanes (it may not reorder it otherwise; partial-sum arrays
       written out in Cython stayed scalar).  The order is fixed by the build, and
       a row is reduced by one thread, so results do not depend on the thread count. */
    #define FAD_ROW_DOT(NAME, T)                                                \
    FAD_INLINE T NAME(const T *a, const T *b, Py_ssize_t C) {               \
        T s = 0;                                                             \
        Py_ssize_t j;                                                        \
        _Pragma("omp simd reduction(+:s)")                                   \
        for (j = 0; j < C; j++) s += a[j] * b[j];                            \
        return s;                                                            \
    }
    /* sum of a[0:n] accumulated in ACC (double sums of float32 values: loss totals) */
    #define FAD_SUM(NAME, T, ACC)                                               \
    FAD_INLINE ACC NAME(const T *a, Py_ssize_t n) {                         \
        ACC s = 0;                                                           \
        Py_ssize_t j;                                                        \
        _Pragma("omp simd reduction(+:s)")                                   \
        for (j = 0; j < n; j++) s += a[j];                                   \
        return s;                                                            \
    }
    FAD_ROW_DOT(fad_row_dotf, float)
    FAD_ROW_DOT(fad_row_dot, double)
    FAD_SUM(fad_row_sumf, float, float)
    FAD_SUM(fad_row_sum, double, double)
    FAD_SUM(fad_sum_as_doublef, float, double)
    /* Horner's rule over a table of coefficients, highest degree first: always
       inlined with a constant length, so it unrolls and its callers still vectorise */
    FAD_INLINE float fad_hornerf(float x, const float *c, int n) {
        float p = c[0];
        int i;
        for (i = 1; i < n; i++) p = p * x + c[i];
        return p;
    }
    FAD_INLINE double fad_horner(double x, const double *c, int n) {
        double p = c[0];
        int i;
        for (i = 1; i < n; i++) p = p * x + c[i];
        return p;
    }
    #define FAD_NCOEF(c) ((int)(sizeof(c) / sizeof((c)[0])))
    static const float FAD_EXPF_TAYLOR[] = {1.98412698e-4f, 1.38888889e-3f, 8.33333333e-3f, 4.16666667e-2f, 1.66666667e-1f, 0.5f, 1.0f, 1.0f};
    static const double FAD_EXP_TAYLOR[] = {1.6059043836821613e-10, 2.08767569878681e-09, 2.505210838544172e-08, 2.755731922398589e-07, 2.7557319223985893e-06, 2.48015873015873e-05, 1.984126984126984e-04, 1.388888888888889e-03, 8.333333333333333e-03, 4.1666666666666664e-02, 1.6666666666666666e-01, 0.5, 1.0, 1.0};
    static const float FAD_LOGF_P[] = {7.0376836292e-2f, -1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f, 1.4249322787e-1f, -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f};
    static const float FAD_ERFF_SMALL[] = {7.854070885979351e-05f, -8.010262252848546e-04f, 5.188336343172495e-03f, -2.6853817187015062e-02f, 1.1283585303825346e-01f, -3.761262584394248e-01f, 1.128379165733873f};
    static const double FAD_ERF_SMALL[] = {5.957176147748911e-11, -1.1372848856791674e-09, 1.4659775274047436e-08, -1.6350312701054695e-07, 1.6461000484121368e-06, -1.4925595266831182e-05, 0.0001205533111164271, -0.000854832698083379, 0.0052239776248180145, -0.026866170645076792, 0.11283791670954879, -0.3761263890318375, 1.1283791670955126};
    static const double FAD_ERF_LARGE[] = {0.5535888611630921, -0.4126653050574086, -0.35472591361373623, 0.5225613045608098, 0.07621143792160985, -0.4551979790631505, 0.0942994150579345, 0.3468585916222164, -0.16963712658886956, -0.2657747698285945, 0.1961941592371224, 0.24359275586583978, -0.2131176163726144, -0.3441290896194704, 0.23442498156110275, 1.327601228934298, -0.7274922853522042};
    static const float FAD_ERFF_LARGE[] = {-4.047740633818404e-08f, 1.618069633044728e-06f, -1.3104312874330417e-05f, 7.737639263234362e-05f, -4.2049099761999636e-04f, 2.1651856622595515e-03f, -1.0858300176837291e-02f, 5.6106348322982606e-02f, -3.526807177443081e-01f, -1.556815276250523f};
    FAD_INLINE double fad_pow2i(double k) {
        double d = (k + 4503599627370496.0) + 1023.0;
        uint64_t u; memcpy(&u, &d, 8); u <<= 52; memcpy(&d, &u, 8); return d;
    }
    /* exp: clamp (NaN passes), k = rint(x/ln2) via the 1.5*2^p shifter, Cody-Waite
       reduction, Taylor polynomial on |r| <= ln2/2, 2**k applied in two halves so
       that overflow gives +inf and underflow gives (sub)normals / 0. */
    FAD_INLINE float fad_expf(float x) {
        float t = x < -110.0f ? -110.0f : x;
        t = t > 90.0f ? 90.0f : t;
        float kf = t * 1.44269504088896341f + 12582912.0f;
        kf = kf - 12582912.0f;
        float r = t - kf * 0.693359375f;
        r = r - kf * -2.12194440e-4f;
        float p = fad_hornerf(r, FAD_EXPF_TAYLOR, FAD_NCOEF(FAD_EXPF_TAYLOR));
        float k1 = kf * 0.5f + 12582912.0f;
        k1 = k1 - 12582912.0f;
        float k2 = kf - k1;
        return p * fad_pow2if(k1) * fad_pow2if(k2);
    }
    FAD_INLINE double fad_exp(double x) {
        double t = x < -750.0 ? -750.0 : x;
        t = t > 720.0 ? 720.0 : t;
        double kf = t * 1.4426950408889634 + 6755399441055744.0;
        kf = kf - 6755399441055744.0;
        double r = t - kf * 6.93147180369123816490e-01;
        r = r - kf * 1.90821492927058770002e-10;
        double p = fad_horner(r, FAD_EXP_TAYLOR, FAD_NCOEF(FAD_EXP_TAYLOR));
        double k1 = kf * 0.5 + 6755399441055744.0;
        k1 = k1 - 6755399441055744.0;
        double k2 = kf - k1;
        return p * fad_pow2i(k1) * fad_pow2i(k2);
    }
    /* expm1: where exp(x) - 1 would cancel (|x| < ln2/2), x times exp's Taylor
       series less its constant term (the terms left out are under an ulp);
       exp(x) - 1 elsewhere; both computed, one selected (libm's expm1f is a call
       per element: ELU took 7.9 ns). */
    FAD_INLINE float fad_expm1f(float x) {
        float small = fad_hornerf(x, FAD_EXPF_TAYLOR, FAD_NCOEF(FAD_EXPF_TAYLOR) - 1) * x;
        float large = fad_expf(x) - 1.0f;
        return (x < 0.34657359f && x > -0.34657359f) ? small : large;
    }
    FAD_INLINE double fad_expm1(double x) {
        double small = fad_horner(x, FAD_EXP_TAYLOR, FAD_NCOEF(FAD_EXP_TAYLOR) - 1) * x;
        double large = fad_exp(x) - 1.0;
        return (x < 0.34657359027997264 && x > -0.34657359027997264) ? small : large;
    }
    /* sin and cos (Cephes coefficients; float32 goes through double): k = the
       nearest multiple of pi/2 by the 1.5*2**52 shifter, whose low mantissa bits
       are k mod 4 (no float-to-int conversion); r = x - k*pi/2 in three parts,
       exact while |k| < 2**27; then sin(r) or cos(r), signed by the quadrant.
       Beyond |x| = FAD_TRIG_LIMIT (and for NaN and inf) the result is garbage
       that trig_fixup recomputes with libm (libm's sin is a call per element:
       14 ns per float64 against about 1). */
    #define FAD_TRIG_LIMIT 1.0e6
    static const double FAD_SIN_P[] = {1.58962301576546568060e-10, -2.50507477628578072866e-8,
        2.75573136213857245213e-6, -1.98412698295895385996e-4, 8.33333333332211858878e-3,
        -1.66666666666666307295e-1};
    static const double FAD_COS_P[] = {-1.13585365213876817300e-11, 2.08757008419747316778e-9,
        -2.75573141792967388112e-7, 2.48015872888517045348e-5, -1.38888888888730564116e-3,
        4.16666666666665929218e-2};
    FAD_INLINE double fad_sin_quadrant(double x, unsigned quarter_turns) {
        double xc = (x < FAD_TRIG_LIMIT && x > -FAD_TRIG_LIMIT) ? x : 0.0;
        double kf = xc * 0.63661977236758134308 + 6755399441055744.0;
        uint64_t bits; memcpy(&bits, &kf, 8);
        unsigned q = (unsigned)(bits & 3u) + quarter_turns;
        double k = kf - 6755399441055744.0;
        double r = ((xc - k * 1.57079625129699707031e0) - k * 7.54978941586159635336e-8)
                   - k * 5.39030285815811905290e-15;
        double z = r * r;
        double s = r + r * (z * fad_horner(z, FAD_SIN_P, FAD_NCOEF(FAD_SIN_P)));
        double c = 1.0 - 0.5 * z + z * z * fad_horner(z, FAD_COS_P, FAD_NCOEF(FAD_COS_P));
        double v = (q & 1u) ? c : s;
        return (q & 2u) ? -v : v;
    }
    /* r + r*z*P(z) gives +0 for r = -0 (a zero times a negative coefficient):
       sin(-0) is -0, so zeros pass through */
    FAD_INLINE double fad_sin(double x) { return x == 0.0 ? x : fad_sin_quadrant(x, 0u); }
    FAD_INLINE double fad_cos(double x) { return fad_sin_quadrant(x, 1u); }
    /* log: x = m * 2**e with m in [sqrt(1/2), sqrt(2)) (subnormals scaled up
       first), log(m) = f - f*f/2 + f**3 * P(f) for f = m - 1 (Cephes: a polynomial
       for float, a rational function for double), e*ln2 added in two parts.
       Special values by selects, so the loops vectorise: NaN and x < 0 give NaN,
       +-0 gives -inf, inf gives inf.  (libm's logf is a call per element:
       3.3 ns per float32 against 0.5.) */
    FAD_INLINE float fad_logf(float x) {
        int sub = x < 1.17549435e-38f;
        float xs = sub ? x * 8388608.0f : x;
        uint32_t u; memcpy(&u, &xs, 4);
        float fe = (float)((int32_t)((u >> 23) & 0xffu) - (sub ? 149 : 126));
        uint32_t mu = (u & 0x007fffffu) | 0x3f000000u;      /* m in [0.5, 1) */
        float m; memcpy(&m, &mu, 4);
        int low = m < 0.70710678118654752f;
        fe = low ? fe - 1.0f : fe;
        float f = low ? m + m - 1.0f : m - 1.0f;
        float z = f * f;
        float p = fad_hornerf(f, FAD_LOGF_P, FAD_NCOEF(FAD_LOGF_P));
        float y = p * f * z + fe * -2.12194440e-4f - 0.5f * z;
        float r = (f + y) + fe * 0.693359375f;
        r = x == __builtin_inff() ? x : r;
        r = x == 0.0f ? -__builtin_inff() : r;
        r = x < 0.0f ? __builtin_nanf("") : r;
        return x != x ? x : r;
    }
    FAD_INLINE double fad_log(double x) {
        int sub = x < 2.2250738585072014e-308;
        double xs = sub ? x * 4503599627370496.0 : x;
        uint64_t u; memcpy(&u, &xs, 8);
        double fe = (double)((int64_t)((u >> 52) & 0x7ffu) - (sub ? 1074 : 1022));
        uint64_t mu = (u & 0x000fffffffffffffull) | 0x3fe0000000000000ull;
        double m; memcpy(&m, &mu, 8);
        int low = m < 0.70710678118654752440;
        fe = low ? fe - 1.0 : fe;
        double f = low ? m + m - 1.0 : m - 1.0;
        double z = f * f;
        double num = ((((1.01875663804580931796e-4 * f + 4.97494994976747001425e-1) * f
                        + 4.70579119878881725854e0) * f + 1.44989225341610930846e1) * f
                      + 1.79368678507819816313e1) * f + 7.70838733755885391666e0;
        double den = ((((f + 1.12873587189167450590e1) * f + 4.52279145837532221105e1) * f
                       + 8.29875266912776603211e1) * f + 7.11544750618563894466e1) * f
                     + 2.31251620126765340583e1;
        double y = f * (z * num / den) + fe * -2.121944400546905827679e-4 - 0.5 * z;
        double r = (f + y) + fe * 0.693359375;
        r = x == __builtin_inf() ? x : r;
        r = x == 0.0 ? -__builtin_inf() : r;
        r = x < 0.0 ? __builtin_nan("") : r;
        return x != x ? x : r;
    }
    /* erf for float32 (libm's erff is a call per element: 15 ns in GELU):
       x * P(x*x) below |x| = 1, else 1 - exp(-x*x + R(|x| - 2.5)) with the sign
       put back; 1 beyond |x| = 4, where erf rounds to 1 in float32.  P and R
       were fitted here for relative error under 5e-9 (against mpmath). */
    FAD_INLINE float fad_erff(float x) {
        float a = x < 0.0f ? -x : x;
        float s = x * x;
        float p = fad_hornerf(s, FAD_ERFF_SMALL, FAD_NCOEF(FAD_ERFF_SMALL));
        float small = x * p;
        float v = (a < 1.0f ? 1.0f : (a > 4.0f ? 4.0f : a)) - 2.5f;
        float r = fad_hornerf(v, FAD_ERFF_LARGE, FAD_NCOEF(FAD_ERFF_LARGE));
        float large = 1.0f - fad_expf(r - s);
        large = a > 4.0f ? 1.0f : large;
        large = x < 0.0f ? -large : large;
        return a < 1.0f ? small : (x != x ? x : large);
    }
    /* erf for float64 (libm's is a call per element: 16 ns in GELU): x * P(x*x)
       below |x| = 1; else 1 - t exp(-x*x + Q(t - 11/24)) with t = 2 / (2 + |x|)
       and the sign put back; 1 beyond |x| = 6, where erf rounds to 1.  P (degree
       12, relative error 1.6e-17) and Q (degree 16 over t in [1/4, 2/3], absolute
       error 5.5e-17) are Chebyshev interpolants: bench/prototypes/fit_erf.py. */
    FAD_INLINE double fad_erf(double x) {
        double a = x < 0.0 ? -x : x;
        double small = x * fad_horner(x * x, FAD_ERF_SMALL, FAD_NCOEF(FAD_ERF_SMALL));
        double v = a < 1.0 ? 1.0 : (a > 6.0 ? 6.0 : a);
        double t = 2.0 / (2.0 + v);
        double q = fad_horner(t - 0.45833333333333331, FAD_ERF_LARGE, FAD_NCOEF(FAD_ERF_LARGE));
        double large = 1.0 - t * fad_exp(q - v * v);
        large = a > 6.0 ? 1.0 : large;
        large = x < 0.0 ? -large : large;
        return a < 1.0 ? small : (x != x ? x : large);
    }
    /* log1p(z) = log(u) - ((u - 1) - z) / u with u = 1 + z: the quotient puts back
       what rounding 1 + z lost (exact to a few ulp); u = 0 and u = inf by select. */
    FAD_INLINE float fad_log1pf(float z) {
        float u = 1.0f + z;
        float r = fad_logf(u) - ((u - 1.0f) - z) / u;
        r = u == 0.0f ? -__builtin_inff() : r;
        return z == __builtin_inff() ? z : r;
    }
    FAD_INLINE double fad_log1p(double z) {
        double u = 1.0 + z;
        double r = fad_log(u) - ((u - 1.0) - z) / u;
        r = u == 0.0 ? -__builtin_inf() : r;
        return z == __builtin_inf() ? z : r;
    }
    /* tanh: odd polynomial / rational (Cephes) for |x| < 0.625, else
       1 - 2/(exp(2|x|)+1) with the sign restored; both computed, one selected. */
    FAD_INLINE float fad_tanhf(float x) {
        float ax = x < 0.0f ? -x : x;
        float z = x * x;
        float s = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z
                     - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                     - 3.33332819422e-1f) * z * x + x;
        float e = fad_expf(2.0f * ax);
        float l = 1.0f - 2.0f / (e + 1.0f);
        l = x < 0.0f ? -l : l;
        return ax < 0.625f ? s : l;
    }
    FAD_INLINE double fad_tanh(double x) {
        double ax = x < 0.0 ? -x : x;
        double z = x * x;
        double num = (-9.64399179425052238628e-1 * z - 9.92877231001918586564e1) * z
                     - 1.61468768441708447952e3;
        double den = ((z + 1.12811678491632931402e2) * z + 2.23548839060100448583e3) * z
                     + 4.84406305325125486048e3;
        double s = x + x * z * (num / den);
        double e = fad_exp(2.0 * ax);
        double l = 1.0 - 2.0 / (e + 1.0);
        l = x < 0.0 ? -l : l;
        return ax < 0.625 ? s : l;
    }
    """
    void fad_prefetch(const void* p, Py_ssize_t nbytes) noexcept nogil
    void fad_stream_copy(void* dst, const void* src, Py_ssize_t nbytes) noexcept nogil
    void fad_stream_fence() noexcept nogil
    float fad_row_maxf(const float* x, Py_ssize_t C) noexcept nogil
    double fad_row_max(const double* x, Py_ssize_t C) noexcept nogil
    double fad_sum_as_doublef(const float* a, Py_ssize_t n) noexcept nogil
    float fad_row_dotf(const float* a, const float* b, Py_ssize_t C) noexcept nogil
    double fad_row_dot(const double* a, const double* b, Py_ssize_t C) noexcept nogil
    float fad_row_sumf(const float* a, Py_ssize_t C) noexcept nogil
    double fad_row_sum(const double* a, Py_ssize_t C) noexcept nogil
    float fad_expf(float x) noexcept nogil
    double fad_exp(double x) noexcept nogil
    float fad_expm1f(float x) noexcept nogil
    double fad_expm1(double x) noexcept nogil
    double fad_sin(double x) noexcept nogil
    double fad_cos(double x) noexcept nogil
    double FAD_TRIG_LIMIT
    float fad_logf(float x) noexcept nogil
    double fad_log(double x) noexcept nogil
    float fad_erff(float x) noexcept nogil
    double fad_erf(double x) noexcept nogil
    float fad_log1pf(float x) noexcept nogil
    double fad_log1p(double x) noexcept nogil
    float fad_tanhf(float x) noexcept nogil
    double fad_tanh(double x) noexcept nogil

# ---------------------------------------------------------------------------
# recycled output buffers
# ---------------------------------------------------------------------------
# A fresh large array costs a page fault per page and a pass of the kernel
# zeroing it before our kernel writes a single value; a training loop allocates
# the same activation and gradient sizes every step.  Output buffers of a MiB or
# more are therefore allocated through a numpy memory handler that keeps the
# last few freed blocks, by exact size, and hands them out again.  Only arrays
# made by empty and empty_like below use it; every other allocation is numpy's own.
cdef extern from *:
    """
    #include <pthread.h>
    #include <numpy/ndarraytypes.h>
    #define FAD_POOL_MIN ((size_t)1 << 20)
    #define FAD_POOL_SLOTS 8
    #define FAD_POOL_MAX_BYTES ((size_t)256 << 20)
    static PyDataMemAllocator *fad_base;   /* numpy's default allocator */
    static pthread_mutex_t fad_pool_lock = PTHREAD_MUTEX_INITIALIZER;
    /* slots [0, fad_pool_count) hold free blocks, oldest first */
    static void *fad_pool_ptr[FAD_POOL_SLOTS];
    static size_t fad_pool_size[FAD_POOL_SLOTS];
    static int fad_pool_count;
    static size_t fad_pool_bytes;
    static unsigned long fad_pool_hits;

    static void fad_pool_remove(int i) {   /* lock held */
        fad_pool_bytes -= fad_pool_size[i];
        fad_pool_count--;
        memmove(fad_pool_ptr + i, fad_pool_ptr + i + 1, (fad_pool_count - i) * sizeof(void *));
        memmove(fad_pool_size + i, fad_pool_size + i + 1, (fad_pool_count - i) * sizeof(size_t));
    }
    static void *fad_pool_malloc(void *ctx, size_t n) {
        void *p = NULL;
        int i;
        if (n >= FAD_POOL_MIN) {
            pthread_mutex_lock(&fad_pool_lock);
            for (i = fad_pool_count - 1; i >= 0; i--) {   /* newest first: warmest in cache */
                if (fad_pool_size[i] == n) {
                    p = fad_pool_ptr[i];
                    fad_pool_remove(i);
                    fad_pool_hits++;
                    break;
                }
            }
            pthread_mutex_unlock(&fad_pool_lock);
            if (p) return p;
        }
        return fad_base->malloc(fad_base->ctx, n);
    }
    static void *fad_pool_calloc(void *ctx, size_t k, size_t n) {
        return fad_base->calloc(fad_base->ctx, k, n);
    }
    static void *fad_pool_realloc(void *ctx, void *p, size_t n) {
        return fad_base->realloc(fad_base->ctx, p, n);
    }
    static void fad_pool_free(void *ctx, void *p, size_t n) {
        if (p && n >= FAD_POOL_MIN && n <= FAD_POOL_MAX_BYTES) {
            pthread_mutex_lock(&fad_pool_lock);
            while (fad_pool_count == FAD_POOL_SLOTS || fad_pool_bytes + n > FAD_POOL_MAX_BYTES) {
                fad_base->free(fad_base->ctx, fad_pool_ptr[0], fad_pool_size[0]);
                fad_pool_remove(0);
            }
            fad_pool_ptr[fad_pool_count] = p;
            fad_pool_size[fad_pool_count++] = n;
            fad_pool_bytes += n;
            pthread_mutex_unlock(&fad_pool_lock);
            return;
        }
        fad_base->free(fad_base->ctx, p, n);
    }
    static void fad_pool_release(void) {
        pthread_mutex_lock(&fad_pool_lock);
        while (fad_pool_count) {
            fad_base->free(fad_base->ctx, fad_pool_ptr[0], fad_pool_size[0]);
            fad_pool_remove(0);
        }
        pthread_mutex_unlock(&fad_pool_lock);
    }
    /* a child forked while another thread held the lock must not wait for it forever */
    static void fad_pool_after_fork_in_child(void) {
        pthread_mutex_init(&fad_pool_lock, NULL);
    }
    static PyDataMem_Handler fad_pool_handler = {
        "fastad_pool", 1,
        {NULL, fad_pool_malloc, fad_pool_calloc, fad_pool_realloc, fad_pool_free}
    };
    static PyObject *fad_pool_capsule(PyObject *base_capsule) {
        PyDataMem_Handler *h = (PyDataMem_Handler *)PyCapsule_GetPointer(base_capsule, "mem_handler");
        if (!h) return NULL;
        fad_base = &h->allocator;
        pthread_atfork(NULL, NULL, fad_pool_after_fork_in_child);
        return PyCapsule_New(&fad_pool_handler, "mem_handler", NULL);
    }
    static size_t fad_pool_cached_bytes(void) { return fad_pool_bytes; }
    static unsigned long fad_pool_reuses(void) { return fad_pool_hits; }
    """
    object fad_pool_capsule(object base_capsule)
    size_t fad_pool_cached_bytes() noexcept
    unsigned long fad_pool_reuses() noexcept
    void fad_pool_release() noexcept nogil
    size_t FAD_POOL_MIN

# numpy's handler of this (import-time) context is its default one; the pool
# allocates its new blocks with it, so they get numpy's huge-page advice.
_POOL = fad_pool_capsule(cnp.PyDataMem_GetHandler())


cdef object _empty(int nd, cnp.npy_intp* dims, int typenum, size_t nbytes):
    if nbytes < FAD_POOL_MIN:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    previous = cnp.PyDataMem_SetHandler(_POOL)
    try:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        cnp.PyDataMem_SetHandler(previous)


def empty_like(cnp.ndarray a):
    """np.empty_like(a), C-contiguous, from the recycled blocks when it is large."""
    return _empty(a.ndim, a.shape, cnp.PyArray_TYPE(a), cnp.PyArray_NBYTES(a))


def empty(tuple shape, dtype):
    """np.empty(shape, dtype), from the recycled blocks when it is large."""
    cdef cnp.npy_intp dims[64]          # numpy's NPY_MAXDIMS
    cdef cnp.dtype d = np.dtype(dtype)
    cdef int nd = len(shape), k
    cdef size_t nbytes = d.itemsize
    if nd > 64:
        raise ValueError(f"too many dimensions: {nd}")
    for k in range(nd):
        dims[k] = shape[k]
        nbytes *= <size_t>dims[k]
    return _empty(nd, dims, d.type_num, nbytes)


def pool_stats():
    """(bytes held for reuse, blocks handed out again so far)."""
    return fad_pool_cached_bytes(), fad_pool_reuses()


def empty_cache():
    """Give the blocks held for reuse back to the system."""
    fad_pool_release()


# ---------------------------------------------------------------------------
# numpy's own BLAS, called directly
# ---------------------------------------------------------------------------
# numpy's matmul cannot add into its output, so x @ w.T + b costs a separate
# pass over the output for the bias.  With the GEMM of the OpenBLAS that numpy
# ships (found by fastad/__init__.py; ILP64 interface), the output is filled with
# the bias and the GEMM adds into it (beta = 1) instead of zeroing it first.
ctypedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                          float beta, float* c, int64_t ldc) noexcept nogil
ctypedef void (*dgemm_fn)(int order, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                          double alpha, const double* a, int64_t lda, const double* b, int64_t ldb,
                          double beta, double* c, int64_t ldc) noexcept nogil
cdef enum:
    CBLAS_ROW_MAJOR = 101
    CBLAS_NO_TRANS = 111
    CBLAS_TRANS = 112
cdef sgemm_fn _sgemm = NULL
cdef dgemm_fn _dgemm = NULL

# OpenBLAS packs the A operand of a GEMM whose A is transposed (in its
# column-major terms) with a slow, unvectorised copy, and x @ w.T is such a GEMM
# with w as A: for a small batch, that packing is a fifth of the GEMM.  Transposing
# x into a scratch buffer makes it an NN GEMM; its result comes out transposed,
# (n, m), and a second transpose, which also adds the bias, writes it out.
# Measured (numpy's OpenBLAS 0.3.31, SkylakeX kernels, float32, one GEMM call
# each way alternating): at 1 thread, a batch of 9 to 64 with n, k >= 64 gains,
# (64, 784) x (784, 128) 142 -> 125 us, (16, 784) x (784, 128) 70 -> 45,
# (64, 1024) x (1024, 1024) 1468 -> 1219, (32, 64) x (64, 64) 4.3 -> 2.6; a batch
# of 128 is a wash ((128, 784) x (784, 128) 239 -> 233, (128, 128) x (128, 128)
# 41 -> 44), larger batches or n < 64 lose ((512, 1024) x (1024, 10) 249 -> 728),
# and so do batches up to 8, where OpenBLAS takes another path ((8, 784) x
# (784, 128) 16.9 -> 20.5).
# The choice never depends on the thread count: the two forms round differently,
# and results must be bitwise the same at any thread count.
cdef extern from *:
    """
    /* dst (cols x rows, contiguous) = src (rows x cols, contiguous) transposed,
       plus bias[i] on every element from src row i (bias NULL: none, and the
       values are copied exactly: adding 0 would turn -0 into +0). */
    FAD_INLINE void fad_transpose_tile_scalar(const float *src, Py_ssize_t lds, float *dst,
                                              Py_ssize_t ldd, Py_ssize_t r, Py_ssize_t c,
                                              const float *bias) {
        Py_ssize_t i, j;
        for (j = 0; j < c; j++)
            for (i = 0; i < r; i++)
                dst[j * ldd + i] = bias ? src[i * lds + j] + bias[i] : src[i * lds + j];
    }
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    #include <immintrin.h>
    /* the 8 x 8 in-register transpose (unpack, shuffle, 128-bit permute) */
    __attribute__((target("avx2"))) static void
    fad_transpose_avx2(const float *src, Py_ssize_t rows, Py_ssize_t cols, float *dst,
                       const float *bias) {
        Py_ssize_t i0, j0, r8 = rows & ~(Py_ssize_t)7, c8 = cols & ~(Py_ssize_t)7;
        /* column blocks outside: each pass writes 8 whole rows of dst (row blocks
           outside wrote half lines all over dst, measured 2x slower) */
        for (j0 = 0; j0 < c8; j0 += 8) {
            for (i0 = 0; i0 < r8; i0 += 8) {
                __m256 b = bias ? _mm256_loadu_ps(bias + i0) : _mm256_setzero_ps();
    #define FAD_TRANSPOSED_ROW(p, v) _mm256_storeu_ps(p, bias ? _mm256_add_ps(v, b) : (v))
                const float *s = src + i0 * cols + j0;
                float *d = dst + j0 * rows + i0;
                __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + cols),
                       r2 = _mm256_loadu_ps(s + 2 * cols), r3 = _mm256_loadu_ps(s + 3 * cols),
                       r4 = _mm256_loadu_ps(s + 4 * cols), r5 = _mm256_loadu_ps(s + 5 * cols),
                       r6 = _mm256_loadu_ps(s + 6 * cols), r7 = _mm256_loadu_ps(s + 7 * cols);
                __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                       t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                       t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                       t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
                __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)),
                       u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2)),
                       u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)),
                       u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2)),
                       u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)),
                       u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2)),
                       u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)),
                       u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
                FAD_TRANSPOSED_ROW(d, _mm256_permute2f128_ps(u0, u4, 0x20));
                FAD_TRANSPOSED_ROW(d + rows, _mm256_permute2f128_ps(u1, u5, 0x20));
                FAD_TRANSPOSED_ROW(d + 2 * rows, _mm256_permute2f128_ps(u2, u6, 0x20));
                FAD_TRANSPOSED_ROW(d + 3 * rows, _mm256_permute2f128_ps(u3, u7, 0x20));
                FAD_TRANSPOSED_ROW(d + 4 * rows, _mm256_permute2f128_ps(u0, u4, 0x31));
                FAD_TRANSPOSED_ROW(d + 5 * rows, _mm256_permute2f128_ps(u1, u5, 0x31));
                FAD_TRANSPOSED_ROW(d + 6 * rows, _mm256_permute2f128_ps(u2, u6, 0x31));
                FAD_TRANSPOSED_ROW(d + 7 * rows, _mm256_permute2f128_ps(u3, u7, 0x31));
            }
        }
    #undef FAD_TRANSPOSED_ROW
        /* the last cols % 8 columns, then the last rows % 8 rows */
        fad_transpose_tile_scalar(src + c8, cols, dst + c8 * rows, rows, r8, cols - c8, bias);
        fad_transpose_tile_scalar(src + r8 * cols, cols, dst + r8, rows, rows - r8, cols,
                                  bias ? bias + r8 : NULL);
    }
    #define FAD_HAVE_AVX2_TRANSPOSE 1
    #endif
    static void fad_transpose_f32(const float *src, Py_ssize_t rows, Py_ssize_t cols, float *dst,
                                  const float *bias) {
        Py_ssize_t i0, j0;
    #if defined(FAD_HAVE_AVX2_TRANSPOSE)
        if (__builtin_cpu_supports("avx2")) {
            fad_transpose_avx2(src, rows, cols, dst, bias);
            return;
        }
    #endif
        for (i0 = 0; i0 < rows; i0 += 8)
            for (j0 = 0; j0 < cols; j0 += 8)
                fad_transpose_tile_scalar(src + i0 * cols + j0, cols, dst + j0 * rows + i0, rows,
                                          rows - i0 < 8 ? rows - i0 : 8, cols - j0 < 8 ? cols - j0 : 8,
                                          bias ? bias + i0 : NULL);
    }
    """
    void fad_transpose_f32(const float* src, Py_ssize_t rows, Py_ssize_t cols, float* dst,
                           const float* bias) noexcept nogil

#: how linear_forward runs a float32 GEMM: 0 by its shape (_transpose_x_first),
#: 1 always one GEMM with w transposed, 2 always x transposed first (tests use 1 and 2)
cdef int _linear_variant = 0


def _set_linear_variant(int variant):
    global _linear_variant
    if variant not in (0, 1, 2):
        raise ValueError(f"variant must be 0, 1 or 2, got {variant}")
    _linear_variant = variant


cdef inline bint _transpose_x_first(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    if _linear_variant:
        return _linear_variant == 2
    return 8 < m <= 64 and n >= 64 and k >= 64


# OpenBLAS's 2-thread GEMMs round differently from its 1-thread ones for some
# inner dimensions (bench/prototypes/blas_threads_bitwise.py: 22 of 100 shapes,
# all with k = 784), so fastad runs the GEMMs of linear layers with OpenBLAS on one
# thread and splits large ones itself: C's columns in blocks of a multiple of
# GEMM_SPLIT_ALIGN, one call per block on fastad's threads, blocks only where each
# keeps GEMM_SPLIT_MIN_WORK multiply-adds (so none falls to OpenBLAS's small-matrix
# kernels).  The blocks are the same at any thread count (_gemm_block), so results
# do not depend on it.  numpy's OpenBLAS has no
# per-thread setting (its _local setter is global in this pthreads build), so its
# thread count is 1 while a fastad GEMM runs and restored after: another Python
# thread's numpy matmul in that window runs on one thread.
cdef extern from *:
    """
    #include <pthread.h>
    typedef void (*fad_blas_set_fn)(int);
    typedef int (*fad_blas_get_fn)(void);
    static fad_blas_set_fn fad_blas_set;
    static fad_blas_get_fn fad_blas_get;
    static pthread_mutex_t fad_blas_lock = PTHREAD_MUTEX_INITIALIZER;
    static int fad_blas_users, fad_blas_saved = 1;
    static void fad_blas_after_fork_in_child(void) {
        pthread_mutex_init(&fad_blas_lock, NULL);
        fad_blas_users = 0;
    }
    static void fad_blas_threads_init(void *set, void *get) {
        static int registered;
        fad_blas_set = (fad_blas_set_fn)set;
        fad_blas_get = (fad_blas_get_fn)get;
        if (!registered) {
            pthread_atfork(NULL, NULL, fad_blas_after_fork_in_child);
            registered = 1;
        }
    }
    static int fad_blas_controlled(void) { return fad_blas_set && fad_blas_get; }
    /* OpenBLAS on one thread from the first begin to the last end (callers check
       fad_blas_controlled() first) */
    static void fad_blas_single_begin(void) {
        pthread_mutex_lock(&fad_blas_lock);
        if (fad_blas_users++ == 0) {
            fad_blas_saved = fad_blas_get();
            if (fad_blas_saved < 1) fad_blas_saved = 1;      /* nothing sensible to restore */
            if (fad_blas_saved != 1) fad_blas_set(1);
        }
        pthread_mutex_unlock(&fad_blas_lock);
    }
    static void fad_blas_single_end(void) {
        pthread_mutex_lock(&fad_blas_lock);
        if (--fad_blas_users == 0 && fad_blas_saved != 1) fad_blas_set(fad_blas_saved);
        pthread_mutex_unlock(&fad_blas_lock);
    }
    """
    void fad_blas_threads_init(void* set_threads, void* get_threads) noexcept
    bint fad_blas_controlled() noexcept nogil
    void fad_blas_single_begin() noexcept nogil
    void fad_blas_single_end() noexcept nogil


def _use_blas(size_t sgemm_address, size_t dgemm_address, size_t set_threads_address=0,
              size_t get_threads_address=0):
    """Addresses of cblas_sgemm and cblas_dgemm with 64-bit integers (0, 0: none,
    and linear_forward declines), and of OpenBLAS's thread-count setter and getter
    (0: none, and GEMMs run on OpenBLAS's own threads)."""
    global _sgemm, _dgemm
    _sgemm = <sgemm_fn>sgemm_address
    _dgemm = <dgemm_fn>dgemm_address
    fad_blas_threads_init(<void*>set_threads_address, <void*>get_threads_address)


DEF GEMM_SPLIT_ALIGN = 64
DEF GEMM_SPLIT_MIN_WORK = 1 << 24

ctypedef struct GemmJob:
    bint f64
    int ta, tb
    Py_ssize_t m, n, k, lda, ldb, ldc
    const char* a
    const char* b
    char* c
    double beta


cdef void _gemm_columns(void* job, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """C[:, lo:hi] = op(A) @ op(B)[:, lo:hi] + beta C[:, lo:hi] (a range_fn)."""
    cdef GemmJob* j = <GemmJob*>job
    cdef size_t item = 8 if j.f64 else 4
    # column lo of op(B): an untransposed B (k, n) starts at b + lo; a transposed one is (n, k)
    cdef const char* b = j.b + <size_t>(lo if j.tb == CBLAS_NO_TRANS else lo * j.ldb) * item
    cdef char* c = j.c + <size_t>lo * item
    if j.f64:
        _dgemm(CBLAS_ROW_MAJOR, j.ta, j.tb, j.m, hi - lo, j.k, 1.0, <const double*>j.a, j.lda,
               <const double*>b, j.ldb, j.beta, <double*>c, j.ldc)
    else:
        _sgemm(CBLAS_ROW_MAJOR, j.ta, j.tb, j.m, hi - lo, j.k, 1.0, <const float*>j.a, j.lda,
               <const float*>b, j.ldb, <float>j.beta, <float*>c, j.ldc)


@cython.cdivision(True)
cdef inline Py_ssize_t _thread_share(Py_ssize_t n, Py_ssize_t align) noexcept nogil:
    """A thread's share of n items, rounded up to a multiple of align."""
    cdef Py_ssize_t per = (n + _num_threads - 1) // _num_threads
    return (per + align - 1) // align * align


# A large GEMM runs as column blocks whose width depends on its shape and on the
# machine's processor count, never on the thread count: at one thread the same
# blocks run one after another.  (A block need not equal those columns of the
# one-call product: with OpenBLAS's Haswell kernels, OPENBLAS_CORETYPE=Haswell on
# an AMD EPYC, a (512, 784) x (784, 1024) product split in two differs from the
# one call in the last bit, so a split chosen by the thread count made 1- and
# 2-thread results differ.)
cdef Py_ssize_t _gemm_parts = max(1, min(8, os.cpu_count() or 1))


@cython.cdivision(True)
cdef Py_ssize_t _gemm_block(GemmJob* j) noexcept nogil:
    """The width of j's column blocks (j.n: one call)."""
    cdef Py_ssize_t per = (j.n + _gemm_parts - 1) // _gemm_parts
    per = (per + GEMM_SPLIT_ALIGN - 1) // GEMM_SPLIT_ALIGN * GEMM_SPLIT_ALIGN
    if per >= j.n or j.m * per * j.k < GEMM_SPLIT_MIN_WORK:
        return j.n
    return per


cdef void _gemm_serial(GemmJob* j) noexcept nogil:
    """j's column blocks one after another, on this thread."""
    cdef Py_ssize_t per = _gemm_block(j), lo = 0
    while lo < j.n:
        _gemm_columns(j, lo, lo + per if lo + per < j.n else j.n)
        lo += per


cdef void _gemm(GemmJob* j) noexcept nogil:
    """Run j's column blocks, shared by fastad's threads (see above)."""
    cdef Py_ssize_t per
    if j.m == 0 or j.n == 0:
        return
    if not fad_blas_controlled():         # no control over OpenBLAS's threads: its own split
        _gemm_columns(j, 0, j.n)
        return
    per = _gemm_block(j)
    fad_blas_single_begin()
    if _num_threads <= 1 or per >= j.n:
        _gemm_serial(j)
    else:
        run_split(_gemm_columns, j, j.n, per)
    fad_blas_single_end()


cdef int _gemm_output(object out, int t, Py_ssize_t m, Py_ssize_t n) except -1:
    cdef Py_ssize_t rows, cols
    _matrix(out, "out", t, &rows, &cols)
    if rows != m or cols != n or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>out):
        raise ValueError(f"out must be a writable ({m}, {n}) array, got shape {out.shape}")
    return 0


cdef int _matmul_job(GemmJob* j, a, b, out, bint trans_a, bint trans_b) except -1:
    """j = the GEMM out = op(a) @ op(b), its arrays checked (matmul_into's rules)."""
    cdef int t = _typenum(a, "a")
    cdef Py_ssize_t ar, ac, br, bc
    _matrix(a, "a", t, &ar, &ac)
    _matrix(b, "b", t, &br, &bc)
    cdef Py_ssize_t m = ac if trans_a else ar, k = ar if trans_a else ac
    cdef Py_ssize_t k2 = bc if trans_b else br, n = br if trans_b else bc
    if k2 != k:
        raise ValueError(f"inner dimensions differ: {k} and {k2}")
    _gemm_output(out, t, m, n)
    j.f64 = t == cnp.NPY_FLOAT64
    j.ta = CBLAS_TRANS if trans_a else CBLAS_NO_TRANS
    j.tb = CBLAS_TRANS if trans_b else CBLAS_NO_TRANS
    j.m = m; j.n = n; j.k = k; j.lda = ac; j.ldb = bc; j.ldc = n; j.beta = 0.0
    j.a = <const char*>_arr(a, "a", t, ar * ac, False)
    j.b = <const char*>_arr(b, "b", t, br * bc, False)
    j.c = <char*>_arr(out, "out", t, m * n, True)
    return 0


cdef void _gemm_or_zeros(GemmJob* j) noexcept nogil:
    if j.k == 0:
        memset(j.c, 0, <size_t>(j.m * j.n) * (8 if j.f64 else 4))
    else:
        _gemm(j)


cdef void _gemm_whole(void* jobs, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """GEMMs lo..hi-1 of an array of GemmJob, each whole on this thread (a range_fn)."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        _gemm_serial(&(<GemmJob*>jobs)[i])


def matmul_into(a, b, out, bint trans_a=False, bint trans_b=False):
    """out = op(a) @ op(b) (op: transposed when trans_*), for C-contiguous 2-D
    arrays of one float dtype, run as linear layers' GEMMs are (the same bits at
    any thread count).  Returns False, having done nothing, when numpy's BLAS was
    not found."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef GemmJob j
    _matmul_job(&j, a, b, out, trans_a, trans_b)
    with nogil:
        _gemm_or_zeros(&j)
    return True


def matmul_pair_into(a1, b1, out1, bint trans_a1, bint trans_b1,
                     a2, b2, out2, bint trans_a2, bint trans_b2):
    """matmul_into twice: a linear layer's two backward GEMMs.  At 2 threads, when
    both are large, they run at once, each in one call on its own thread: one
    parallel region instead of two, and no operand packed twice, as splitting
    each would.  A whole call gives the bits a 1-thread call gives."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef GemmJob jobs[2]
    _matmul_job(&jobs[0], a1, b1, out1, trans_a1, trans_b1)
    _matmul_job(&jobs[1], a2, b2, out2, trans_a2, trans_b2)
    with nogil:
        if (_num_threads == 2 and fad_blas_controlled()
                and jobs[0].m * jobs[0].n * jobs[0].k >= GEMM_SPLIT_MIN_WORK
                and jobs[1].m * jobs[1].n * jobs[1].k >= GEMM_SPLIT_MIN_WORK):
            fad_blas_single_begin()
            run_split(_gemm_whole, jobs, 2, 1)
            fad_blas_single_end()
        else:
            _gemm_or_zeros(&jobs[0])
            _gemm_or_zeros(&jobs[1])
    return True


def blas_available():
    return _sgemm != NULL and _dgemm != NULL


@cython.boundscheck(False)
@cython.wraparound(False)
def linear_forward(x, w, b, out):
    """out = x @ w.T + b (b None: no bias) with numpy's BLAS.  x (m, k), w (n, k),
    b (n,) and out (m, n), C-contiguous, of one float dtype.  Returns False, having
    done nothing, when numpy's BLAS was not found (the caller then uses np.matmul)."""
    if _sgemm == NULL or _dgemm == NULL:
        return False
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t m, k, n, k2, r
    _matrix(x, "x", t, &m, &k)
    _matrix(w, "w", t, &n, &k2)
    if k2 != k:
        raise ValueError(f"x has {k} columns, w has {k2}")
    _gemm_output(out, t, m, n)
    cdef const char* xp = <const char*>_arr(x, "x", t, m * k, False)
    cdef const char* wp = <const char*>_arr(w, "w", t, n * k, False)
    cdef char* op = <char*>_arr(out, "out", t, m * n, True)
    cdef const char* bp = NULL
    cdef size_t item = 8 if t == cnp.NPY_FLOAT64 else 4
    if b is not None:
        bp = <const char*>_arr(b, "b", t, n, False)
        if cnp.PyArray_NDIM(<cnp.ndarray>b) != 1:
            raise ValueError(f"b must be 1-D, got shape {b.shape}")
    cdef bint done = False
    cdef GemmJob job
    with nogil:
        if t == cnp.NPY_FLOAT32 and m > 0 and n > 0 and k > 0 and _transpose_x_first(m, n, k):
            done = _sgemm_x_transposed(<const float*>xp, <const float*>wp, <const float*>bp,
                                       <float*>op, m, n, k)
        if not done:
            if bp != NULL:
                for r in range(m):
                    memcpy(op + r * n * item, bp, n * item)
            if k == 0:
                if bp == NULL:
                    memset(op, 0, m * n * item)
            else:
                job.f64 = t == cnp.NPY_FLOAT64
                job.ta = CBLAS_NO_TRANS; job.tb = CBLAS_TRANS
                job.m = m; job.n = n; job.k = k; job.lda = k; job.ldb = k; job.ldc = n
                job.a = xp; job.b = wp; job.c = op
                job.beta = 1.0 if bp != NULL else 0.0
                _gemm(&job)
    return True


cdef bint _sgemm_x_transposed(const float* x, const float* w, const float* b, float* out,
                              Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """out (m, n) = x @ w.T + b as w @ x.T (an NN GEMM on a transposed copy of x),
    transposed back with the bias added; False (out untouched) if out of memory."""
    cdef float* xt = <float*>malloc(<size_t>(m * k) * sizeof(float))
    cdef float* wx = <float*>malloc(<size_t>(n * m) * sizeof(float))
    cdef bint ok = xt != NULL and wx != NULL
    cdef GemmJob job
    if ok:
        fad_transpose_f32(x, m, k, xt, NULL)
        job.f64 = False
        job.ta = CBLAS_NO_TRANS; job.tb = CBLAS_NO_TRANS
        job.m = n; job.n = m; job.k = k; job.lda = k; job.ldb = m; job.ldc = m
        job.a = <const char*>w; job.b = <const char*>xt; job.c = <char*>wx; job.beta = 0.0
        _gemm(&job)
        fad_transpose_f32(wx, n, m, out, b)
    free(xt)
    free(wx)
    return ok


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------
#: elementwise work items below which kernels never start threads.  Idle OpenMP
#: threads sleep (OMP_WAIT_POLICY=PASSIVE, set by fastad/__init__.py), and waking
#: one on these 2-core VMs costs about 120 us per parallel region.  Measured,
#: float32, median per call, 2 threads / 1: relu 2^15 129 / 4.8 us, 2^19 195 / 155,
#: 2^20 264 / 326; sigmoid 2^18 193 / 134, 2^19 262 / 285; exp 2^20 367 / 359,
#: 2^21 590 / 739.  From 2^20 elements on a second thread pays (32768, PyTorch's
#: threshold and ours before, made a 2-thread W4 step 343 us against 326).
PARALLEL_THRESHOLD = 1 << 20
DEF BLOCK = 16384          # work items per prange block (multiple of 64)
DEF LANES = 16             # elements per unrolled step: a line of float32, the vector width
DEF PREFETCH_AHEAD = 4096  # bytes: how far ahead of its loads a kernel prefetches

#: outputs of at least this many bytes are written with non-temporal stores
#: (fad_stream_copy); smaller ones stay in cache for the op that reads them next.
STREAM_THRESHOLD = 8 << 20
DEF SPILL_BYTES = 16384        # an elementwise block computed in L1, then streamed out
DEF SPILL_DOUBLES = SPILL_BYTES // 8
DEF ROW_SPILL_BYTES = 32768    # rows up to this size are streamed out whole
DEF ROW_SPILL_DOUBLES = ROW_SPILL_BYTES // 8

cdef Py_ssize_t _threshold = PARALLEL_THRESHOLD
cdef Py_ssize_t _stream_min = STREAM_THRESHOLD
cdef int _num_threads = 1
cdef bint _pool_started = False     # a prange has run: OpenMP threads exist
cdef bint _forked_after_pool = False


def _default_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    return os.cpu_count() or 1


def set_num_threads(int n):
    """Set the number of threads kernels use above PARALLEL_THRESHOLD."""
    global _num_threads
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    if _forked_after_pool and n > 1:
        warnings.warn("fastad: this process was forked after its parent ran OpenMP threads; "
                      "GNU OpenMP cannot start threads here, so kernels stay serial",
                      RuntimeWarning, stacklevel=2)
        n = 1
    _num_threads = n


def _after_fork_in_child():
    # GNU OpenMP's pool does not survive fork: a child that starts a parallel
    # region after its parent did hangs.  Such a child runs kernels serially.
    global _num_threads, _forked_after_pool
    if _pool_started:
        _forked_after_pool = True
        _num_threads = 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def get_num_threads():
    return _num_threads


def _set_parallel_threshold(Py_ssize_t n):
    """For measuring the break-even point (benchmarks/tests); returns the old value."""
    global _threshold
    old = _threshold
    _threshold = max(n, 1)
    return old


def _set_stream_threshold(Py_ssize_t nbytes):
    """For measuring (benchmarks/tests) and testing both store paths; returns the old value."""
    global _stream_min
    old = _stream_min
    _stream_min = max(nbytes, 0)
    return old


set_num_threads(_default_threads())

ctypedef void (*range_fn)(void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil


@cython.cdivision(True)
cdef void run_blocks(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t cost) noexcept nogil:
    """THE loop driver: items [0, n), each costing ~cost elements of work."""
    if n <= 0:
        return
    if _num_threads <= 1 or n * cost < _threshold or n == 1:
        fn(ctx, 0, n)
        return
    run_split(fn, ctx, n, BLOCK // cost if cost < BLOCK else 1)


@cython.cdivision(True)
cdef void run_split(range_fn fn, void* ctx, Py_ssize_t n, Py_ssize_t per) noexcept nogil:
    """fn over items [0, n) in blocks of `per`, the blocks shared by the threads."""
    cdef Py_ssize_t nblk = (n + per - 1) // per, c, lo, hi
    global _pool_started
    _pool_started = True
    for c in prange(nblk, schedule='static', num_threads=_num_threads):
        lo = c * per
        hi = lo + per
        if hi > n:
            hi = n
        fn(ctx, lo, hi)


include "_formulas.pxi"

# ---------------------------------------------------------------------------
# elementwise losses
# ---------------------------------------------------------------------------
@cython.cdivision(True)
cdef inline floating mse_forward(floating x, floating t) noexcept nogil:
    return (x - t) * (x - t)

@cython.cdivision(True)
cdef inline floating mse_backward(floating x, floating t, floating g) noexcept nogil:
    return <floating>2 * (x - t) * g

@cython.cdivision(True)
cdef inline floating l1_forward(floating x, floating t) noexcept nogil:
    return f_abs(x - t)

@cython.cdivision(True)
cdef inline floating l1_backward(floating x, floating t, floating g) noexcept nogil:
    return f_sgn(x - t) * g

@cython.cdivision(True)
cdef inline floating smooth_l1_forward(floating x, floating t, floating beta) noexcept nogil:
    cdef floating z = f_abs(x - t)
    return <floating>0.5 * z * z / beta if z < beta else z - <floating>0.5 * beta

@cython.cdivision(True)
cdef inline floating smooth_l1_backward(floating x, floating t, floating g, floating beta) noexcept nogil:
    cdef floating d = x - t
    if beta == 0:
        return l1_backward(x, t, g)
    if d <= -beta:
        return -g
    elif d >= beta:
        return g
    return d * g / beta

@cython.cdivision(True)
cdef inline floating huber_forward(floating x, floating t, floating delta) noexcept nogil:
    cdef floating z = f_abs(x - t)
    return <floating>0.5 * z * z if z < delta else delta * (z - <floating>0.5 * delta)

@cython.cdivision(True)
cdef inline floating huber_backward(floating x, floating t, floating g, floating delta) noexcept nogil:
    cdef floating d = x - t
    if d <= -delta:
        return -delta * g
    elif d >= delta:
        return delta * g
    return d * g

@cython.cdivision(True)
cdef inline floating max_f(floating a, floating b) noexcept nogil:
    # std::max(a, b) semantics: NaN in a propagates
    return b if a < b else a

@cython.cdivision(True)
cdef inline floating bce_forward(floating x, floating t) noexcept nogil:
    return (t - <floating>1) * max_f(f_log1p(-x), <floating>-100) - t * max_f(f_log(x), <floating>-100)

@cython.cdivision(True)
cdef inline floating bce_backward(floating x, floating t, floating g) noexcept nogil:
    # PyTorch's EPSILON is the float constant 1e-12f for both dtypes
    return g * (x - t) / max_f((<floating>1 - x) * x, <floating>(<float>1e-12))

@cython.cdivision(True)
cdef inline floating bce_target_backward(floating x, floating t, floating g) noexcept nogil:
    return -f_log(x / (<floating>1 - x)) * g

@cython.cdivision(True)
cdef inline floating bce_logits_forward_elem(floating x, floating t, floating pw) noexcept nogil:
    cdef floating lw = (pw - <floating>1) * t + <floating>1
    return (<floating>1 - t) * x - lw * logsigmoid_forward(x)

@cython.cdivision(True)
cdef inline floating bce_logits_backward_elem(floating x, floating t, floating pw, floating g) noexcept nogil:
    cdef floating tp = pw * t
    return g * ((tp + <floating>1 - t) * sigmoid_forward(x) - tp)

@cython.cdivision(True)
cdef inline floating bce_logits_target_backward(floating x, floating t, floating pw, floating g) noexcept nogil:
    return g * (-x - (pw - <floating>1) * logsigmoid_forward(x))

@cython.cdivision(True)
cdef inline floating kl_div_forward(floating x, floating t, bint log_target) noexcept nogil:
    if log_target:
        return f_exp(t) * (t - x)
    return (0 if t == 0 else t * f_log(t)) - t * x     # xlogy(t, t) - t * x

@cython.cdivision(True)
cdef inline floating kl_div_backward(floating x, floating t, floating g, bint log_target) noexcept nogil:
    if log_target:
        return -f_exp(t) * g
    return -t * g

@cython.cdivision(True)
cdef inline floating kl_div_target_backward(floating x, floating t, floating g, bint log_target) noexcept nogil:
    if log_target:
        return g * (f_exp(t) * (t - x + <floating>1))
    return 0 if t == 0 else g * (f_log(t) + <floating>1 - x)

# ---------------------------------------------------------------------------
# op codes and per-element dispatch (inlined with a literal op => folded)
# ---------------------------------------------------------------------------
cdef enum:
    K_ACT_FWD = 0
    K_ACT_BWD = 1
    K_LOSS_FWD = 2
    K_LOSS_GX = 3
    K_LOSS_GT = 4

cdef enum:
    L_MSE, L_L1, L_SMOOTH_L1, L_HUBER, L_BCE, L_BCE_LOGITS, L_KL_DIV, L_NUM


@cython.cdivision(True)
cdef inline floating ew_value(int kind, int op, floating v0, floating v1, floating v2,
                              floating v3, floating a, floating b) noexcept nogil:
    """kind/op are literals at every call site: the compiler folds this to one formula.
    ACT_FWD: v0=x (v1=slope for rrelu); ACT_BWD: v0=x, v1=y, v2=gy (v3=slope);
    LOSS_*: v0=x, v1=t, v2=gout, v3=pos_weight."""
    if kind == K_ACT_FWD or kind == K_ACT_BWD:
        return act_value(kind, op, v0, v1, v2, v3, a, b)
    if kind == K_LOSS_FWD:
        if op == L_MSE: return mse_forward(v0, v1)
        if op == L_L1: return l1_forward(v0, v1)
        if op == L_SMOOTH_L1: return smooth_l1_forward(v0, v1, a) if a != 0 else l1_forward(v0, v1)
        if op == L_HUBER: return huber_forward(v0, v1, a)
        if op == L_BCE: return bce_forward(v0, v1)
        if op == L_BCE_LOGITS: return bce_logits_forward_elem(v0, v1, v3)
        if op == L_KL_DIV: return kl_div_forward(v0, v1, a != 0)
    elif kind == K_LOSS_GX:
        if op == L_MSE: return mse_backward(v0, v1, v2)
        if op == L_L1: return l1_backward(v0, v1, v2)
        if op == L_SMOOTH_L1: return smooth_l1_backward(v0, v1, v2, a)
        if op == L_HUBER: return huber_backward(v0, v1, v2, a)
        if op == L_BCE: return bce_backward(v0, v1, v2)
        if op == L_BCE_LOGITS: return bce_logits_backward_elem(v0, v1, v3, v2)
        if op == L_KL_DIV: return kl_div_backward(v0, v1, v2, a != 0)
    elif kind == K_LOSS_GT:
        if op == L_MSE: return -mse_backward(v0, v1, v2)
        if op == L_L1: return -l1_backward(v0, v1, v2)
        if op == L_SMOOTH_L1: return -smooth_l1_backward(v0, v1, v2, a)
        if op == L_HUBER: return -huber_backward(v0, v1, v2, a)
        if op == L_BCE: return bce_target_backward(v0, v1, v2)
        if op == L_BCE_LOGITS: return bce_logits_target_backward(v0, v1, v3, v2)
        if op == L_KL_DIV: return kl_div_target_backward(v0, v1, v2, a != 0)
    return NAN


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void ew_loop(int kind, int op, const floating* p0, const floating* p1,
                         const floating* p2, const floating* p3, floating* out,
                         Py_ssize_t lo, Py_ssize_t hi, floating a, floating b) noexcept nogil:
    """The one elementwise loop body; unused inputs alias p0 (their loads are dead)."""
    cdef Py_ssize_t i, k
    cdef Py_ssize_t ahead = PREFETCH_AHEAD // sizeof(floating)
    if not ew_computes_long(kind, op):
        for i in range(lo, hi):
            out[i] = ew_value(kind, op, p0[i], p1[i], p2[i], p3[i], a, b)
        return
    # one line of each input prefetched per line of work: spread over the
    # arithmetic, the reads overlap it (whole pages at once stalled on the miss queue)
    i = lo
    while i + LANES <= hi:
        fad_prefetch(p0 + i + ahead, LANES * sizeof(floating))
        if p1 != p0:
            fad_prefetch(p1 + i + ahead, LANES * sizeof(floating))
        if p2 != p0:
            fad_prefetch(p2 + i + ahead, LANES * sizeof(floating))
        for k in range(i, i + LANES):
            out[k] = ew_value(kind, op, p0[k], p1[k], p2[k], p3[k], a, b)
        i += LANES
    if i < hi:
        ew_tail(kind, op, p0 + i, p1 + i, p2 + i, p3 + i, out + i, hi - i, a, b)
    if op == A_SIN or op == A_COS:
        trig_fixup(kind, op, p0, p2, out, lo, hi)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void ew_tail(int kind, int op, const floating* p0, const floating* p1,
                         const floating* p2, const floating* p3, floating* out,
                         Py_ssize_t n, floating a, floating b) noexcept nogil:
    """The last n < LANES elements, through a whole LANES-wide block like the
    loop's body: the compiler contracts a formula into FMAs differently in its
    vector body and in a scalar remainder, and an element must get the same bits
    wherever it sits (a 0-d tensor is such a remainder; measured: gelu's and
    silu's gradients differed in the last bit for 1 value in 50)."""
    cdef floating b0[LANES]
    cdef floating b1[LANES]
    cdef floating b2[LANES]
    cdef floating b3[LANES]
    cdef floating bo[LANES]
    cdef Py_ssize_t k
    for k in range(LANES):          # the padding repeats the first element
        b0[k] = p0[k if k < n else 0]
        b1[k] = p1[k if k < n else 0]
        b2[k] = p2[k if k < n else 0]
        b3[k] = p3[k if k < n else 0]
    for k in range(LANES):
        bo[k] = ew_value(kind, op, b0[k], b1[k], b2[k], b3[k], a, b)
    for k in range(n):
        out[k] = bo[k]


@cython.cdivision(True)
cdef inline void trig_fixup(int kind, int op, const floating* x, const floating* gy,
                            floating* out, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Recompute with libm the sin/cos elements beyond the vector code's range
    (|x| > FAD_TRIG_LIMIT, NaN, inf): a scan of x in cache, rarely a call."""
    cdef Py_ssize_t i
    for i in range(lo, hi):
        if not (fabs(x[i]) < FAD_TRIG_LIMIT):
            if kind == K_ACT_FWD:
                out[i] = <floating>(sin(x[i]) if op == A_SIN else cos(x[i]))
            elif op == A_SIN:                 # d sin = cos
                out[i] = gy[i] * <floating>cos(x[i])
            else:                             # d cos = -sin
                out[i] = gy[i] * -<floating>sin(x[i])


cdef inline bint ew_computes_long(int kind, int op) noexcept nogil:
    if kind == K_ACT_FWD or kind == K_ACT_BWD:
        return act_computes_long(kind, op)
    return op == L_BCE or op == L_BCE_LOGITS or op == L_KL_DIV


cdef struct EwCtx:
    int kind
    int op
    int f64
    void* p0
    void* p1
    void* p2
    void* p3
    void* out
    double a
    double b
    bint stream        # the output is large: written with non-temporal stores
    double* partials   # not NULL: no output; sum of each SPILL block (index j // per) instead
    void* colsum       # not NULL (ew_cols_range): also the output's column sums
    Py_ssize_t rows, cols


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void fill_nan(floating* out, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(lo, hi):
        out[i] = NAN


include "_dispatch.pxi"


@cython.cdivision(True)
cdef void loss_dispatch(int kind, int op, const floating* x, const floating* t,
                        const floating* g, const floating* pw, floating* out,
                        Py_ssize_t lo, Py_ssize_t hi, floating a, floating b) noexcept nogil:
    if kind == K_LOSS_FWD:
        if op == L_MSE: ew_loop(K_LOSS_FWD, L_MSE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_L1: ew_loop(K_LOSS_FWD, L_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_SMOOTH_L1: ew_loop(K_LOSS_FWD, L_SMOOTH_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_HUBER: ew_loop(K_LOSS_FWD, L_HUBER, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE: ew_loop(K_LOSS_FWD, L_BCE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE_LOGITS: ew_loop(K_LOSS_FWD, L_BCE_LOGITS, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_KL_DIV: ew_loop(K_LOSS_FWD, L_KL_DIV, x, t, g, pw, out, lo, hi, a, b)
    elif kind == K_LOSS_GX:
        if op == L_MSE: ew_loop(K_LOSS_GX, L_MSE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_L1: ew_loop(K_LOSS_GX, L_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_SMOOTH_L1: ew_loop(K_LOSS_GX, L_SMOOTH_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_HUBER: ew_loop(K_LOSS_GX, L_HUBER, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE: ew_loop(K_LOSS_GX, L_BCE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE_LOGITS: ew_loop(K_LOSS_GX, L_BCE_LOGITS, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_KL_DIV: ew_loop(K_LOSS_GX, L_KL_DIV, x, t, g, pw, out, lo, hi, a, b)
    elif kind == K_LOSS_GT:
        if op == L_MSE: ew_loop(K_LOSS_GT, L_MSE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_L1: ew_loop(K_LOSS_GT, L_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_SMOOTH_L1: ew_loop(K_LOSS_GT, L_SMOOTH_L1, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_HUBER: ew_loop(K_LOSS_GT, L_HUBER, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE: ew_loop(K_LOSS_GT, L_BCE, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_BCE_LOGITS: ew_loop(K_LOSS_GT, L_BCE_LOGITS, x, t, g, pw, out, lo, hi, a, b)
        elif op == L_KL_DIV: ew_loop(K_LOSS_GT, L_KL_DIV, x, t, g, pw, out, lo, hi, a, b)


cdef void ew_dispatch(EwCtx* c, Py_ssize_t off, void* out, Py_ssize_t n) noexcept nogil:
    """out[i] = op(inputs[off + i]) for i in [0, n)."""
    cdef Py_ssize_t item = 8 if c.f64 else 4
    cdef char* p0 = <char*>c.p0 + off * item
    cdef char* p1 = <char*>c.p1 + off * item
    cdef char* p2 = <char*>c.p2 + off * item
    cdef char* p3 = <char*>c.p3 + off * item
    if c.f64:
        if c.kind == K_ACT_FWD:
            act_fwd_dispatch(c.op, <double*>p0, <double*>p3, <double*>out, 0, n, c.a, c.b)
        elif c.kind == K_ACT_BWD:
            act_bwd_dispatch(c.op, <double*>p0, <double*>p1, <double*>p2, <double*>p3,
                             <double*>out, 0, n, c.a, c.b)
        else:
            loss_dispatch(c.kind, c.op, <double*>p0, <double*>p1, <double*>p2, <double*>p3,
                          <double*>out, 0, n, c.a, c.b)
    else:
        if c.kind == K_ACT_FWD:
            act_fwd_dispatch(c.op, <float*>p0, <float*>p3, <float*>out, 0, n,
                             <float>c.a, <float>c.b)
        elif c.kind == K_ACT_BWD:
            act_bwd_dispatch(c.op, <float*>p0, <float*>p1, <float*>p2, <float*>p3,
                             <float*>out, 0, n, <float>c.a, <float>c.b)
        else:
            loss_dispatch(c.kind, c.op, <float*>p0, <float*>p1, <float*>p2, <float*>p3,
                          <float*>out, 0, n, <float>c.a, <float>c.b)


@cython.cdivision(True)
cdef void ew_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef EwCtx* c = <EwCtx*>vctx
    cdef double spill[SPILL_DOUBLES]
    cdef Py_ssize_t item = 8 if c.f64 else 4
    cdef Py_ssize_t per = SPILL_BYTES // item, j, end
    if c.partials != NULL:
        # lo is a multiple of per (run_blocks' blocks are), so the blocks and
        # their sums are the same at any thread count
        j = lo
        while j < hi:
            end = j + per if j + per < hi else hi
            ew_dispatch(c, j, spill, end - j)
            c.partials[j // per] = (fad_row_sum(spill, end - j) if c.f64
                                    else fad_sum_as_doublef(<float*>spill, end - j))
            j = end
        return
    if not c.stream:
        ew_dispatch(c, lo, <char*>c.out + lo * item, hi - lo)
        return
    j = lo
    while j < hi:
        end = j + per if j + per < hi else hi
        ew_dispatch(c, j, spill, end - j)
        fad_stream_copy(<char*>c.out + j * item, spill, (end - j) * item)
        j = end
    fad_stream_fence()


# ---------------------------------------------------------------------------
# validation helpers (GIL held)
# ---------------------------------------------------------------------------
cdef int _typenum(object arr, str name) except -1:
    if not isinstance(arr, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>arr)
    if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>arr):
        raise ValueError(f"{name} must be C-contiguous")
    return t


cdef void* _arr(object arr, str name, int typenum, Py_ssize_t size, bint writable) except NULL:
    """Check arr is a C-contiguous ndarray of typenum with `size` elements; return data."""
    if not isinstance(arr, cnp.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(arr).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>arr
    if cnp.PyArray_TYPE(a) != typenum:
        raise TypeError(f"{name} has dtype {a.dtype}, expected "
                        f"{'float64' if typenum == cnp.NPY_FLOAT64 else 'float32'}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{name} must be C-contiguous")
    if size >= 0 and cnp.PyArray_SIZE(a) != size:
        raise ValueError(f"{name} has {cnp.PyArray_SIZE(a)} elements, expected {size}")
    if writable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{name} is read-only")
    cdef void* p = cnp.PyArray_DATA(a)
    if p == NULL:      # zero-size arrays may have a NULL-ish pointer; never dereferenced
        return <void*>1
    return p


cdef int _matrix(object arr, str name, int typenum, Py_ssize_t* rows, Py_ssize_t* cols) except -1:
    _arr(arr, name, typenum, -1, False)
    if cnp.PyArray_NDIM(<cnp.ndarray>arr) != 2:
        raise ValueError(f"{name} must be 2-D (rows, cols), got shape {arr.shape}")
    rows[0] = cnp.PyArray_DIM(<cnp.ndarray>arr, 0)
    cols[0] = cnp.PyArray_DIM(<cnp.ndarray>arr, 1)
    return 0


# ---------------------------------------------------------------------------
# 1. activations
# ---------------------------------------------------------------------------
cdef int _act_code(str name) except -1:
    try:
        return _ACT_CODE[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(_ACT_CODE)}") from None


cdef void _ew_init(EwCtx* c, int kind, int op, int typenum, double a, double b):
    c.kind = kind; c.op = op; c.f64 = typenum == cnp.NPY_FLOAT64; c.a = a; c.b = b
    c.partials = NULL
    c.colsum = NULL


cdef inline void sum_rows_into(floating* total, const floating* row, Py_ssize_t n,
                               bint first) noexcept nogil:
    cdef Py_ssize_t j
    if first:
        for j in range(n):
            total[j] = row[j]
    else:
        for j in range(n):
            total[j] += row[j]


cdef void ew_cols_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Columns [lo, hi) of a (rows, cols) op, row after row, each row's output
    segment summed into colsum while it is in cache.  Rows are added in order from
    the first, as numpy's add.reduce over axis 0 adds them, so the sums do not
    depend on how the columns are split."""
    cdef EwCtx* c = <EwCtx*>vctx
    cdef Py_ssize_t item = 8 if c.f64 else 4, i, off
    for i in range(c.rows):
        off = i * c.cols + lo
        ew_dispatch(c, off, <char*>c.out + off * item, hi - lo)
        if c.f64:
            sum_rows_into(<double*>c.colsum + lo, <double*>c.out + off, hi - lo, i == 0)
        else:
            sum_rows_into(<float*>c.colsum + lo, <float*>c.out + off, hi - lo, i == 0)


@cython.cdivision(True)
cdef void _run_ew_cols(EwCtx* c) noexcept nogil:
    # blocks of whole 64-column groups: every element gets the same vector or
    # tail code path at any thread count
    cdef Py_ssize_t per = _thread_share(c.cols, 64)
    if _num_threads <= 1 or c.rows * c.cols < _threshold or per >= c.cols:
        ew_cols_range(c, 0, c.cols)
    else:
        run_split(ew_cols_range, c, c.cols, per)


cdef inline void _run_ew(EwCtx* c, Py_ssize_t n) noexcept nogil:
    # Not for the exp/log/trig ops: their ordinary stores drain while the next
    # elements compute, and a separate streaming pass would not overlap
    # (measured, 2**24 float32: sigmoid forward 11.0 -> 12.3 ms streamed, relu 11.9 -> 8.3).
    c.stream = n * (8 if c.f64 else 4) >= _stream_min and not ew_computes_long(c.kind, c.op)
    run_blocks(ew_range, <void*>c, n, 1)


def activation_forward(str name, x, y, double a=0.0, double b=0.0):
    """y[i] = f(x[i]); x and y flat arrays of one dtype and equal size (y may be x)."""
    cdef int op = _act_code(name)
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    act_check_params(op, a, b)
    _ew_init(&c, K_ACT_FWD, op, t, a, b)
    c.p0 = _arr(x, "x", t, n, False)
    c.out = _arr(y, "y", t, n, True)
    c.p1 = c.p2 = c.p3 = c.p0
    with nogil:
        _run_ew(&c, n)


def activation_backward(str name, x, y, gy, gx, double a=0.0, double b=0.0, colsum=None):
    """gx[i] = gy[i] * f'(x[i]); x or y may be None when ACTIVATIONS[name]['saves'] allows.
    gx may be gy.  With colsum (1-D, length cols), gx is read as rows of cols
    elements and colsum receives its column sums (numpy's add.reduce(gx, 0)) from
    the same pass."""
    cdef int op = _act_code(name)
    cdef int t = _typenum(gy, "gy")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>gy)
    cdef EwCtx c
    act_check_params(op, a, b)
    op = act_backward_code(op, a, y is not None)
    _ew_init(&c, K_ACT_BWD, op, t, a, b)
    c.out = _arr(gx, "gx", t, n, True)
    if (op == A_SIN or op == A_COS) and _arr(gy, "gy", t, n, False) == c.out:
        gy = gy.copy()    # trig_fixup reads gy after the vector pass wrote gx
    c.p2 = _arr(gy, "gy", t, n, False)
    if act_reads_x(op) and x is None:
        raise ValueError(f"{name} backward needs x")
    if act_reads_y(op) and y is None:
        raise ValueError(f"{name} backward needs y")
    c.p0 = _arr(x, "x", t, n, False) if x is not None else c.p2
    c.p1 = _arr(y, "y", t, n, False) if y is not None else c.p2
    c.p3 = c.p2
    if colsum is None:
        with nogil:
            _run_ew(&c, n)
        return
    c.colsum = _arr(colsum, "colsum", t, -1, True)
    if cnp.PyArray_NDIM(<cnp.ndarray>colsum) != 1:
        raise ValueError(f"colsum must be 1-D, got shape {colsum.shape}")
    c.cols = cnp.PyArray_SIZE(<cnp.ndarray>colsum)
    if c.cols == 0 and n == 0:
        return
    if c.cols == 0 or n % c.cols:
        raise ValueError(f"{n} elements are not rows of colsum's {c.cols}")
    c.rows = n // c.cols
    c.stream = False
    with nogil:
        if c.rows == 0:
            memset(c.colsum, 0, c.cols * (8 if c.f64 else 4))
        else:
            _run_ew_cols(&c)


cdef bint backward_reads_x(int op, double a) noexcept nogil:
    """Whether op's gradient kernel, for parameter a, reads the op's input."""
    return act_reads_x(act_backward_code(op, a, True))


cdef int scalar_unary(int op, bint f64, double x, double a, double b, double* y,
                      double* d) noexcept nogil:
    """A 0-d op for the tape: y = f(x) and d = f'(x) (its backward with gy = 1),
    through the same loops as the array kernels, so a 0-d tensor gets the bits of
    the same value inside an array.  op is a table row's code; -1 otherwise."""
    cdef float xf = <float>x, yf, gf, onef = 1
    cdef double one = 1
    if op < 0 or op >= A_ROWS or op == A_RRELU:
        return -1
    cdef int bop = act_backward_code(op, a, True)
    if f64:
        act_fwd_dispatch(op, &x, &x, y, 0, 1, a, b)
        act_bwd_dispatch(bop, &x, y, &one, &x, d, 0, 1, a, b)
    else:
        act_fwd_dispatch(op, &xf, &xf, &yf, 0, 1, <float>a, <float>b)
        act_bwd_dispatch(bop, &xf, &yf, &onef, &xf, &gf, 0, 1, <float>a, <float>b)
        y[0] = yf
        d[0] = gf
    return 0


def rrelu_forward(x, slopes, y):
    """y = x if x >= 0 else x * slope (slopes drawn by the engine, same size as x)."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    _ew_init(&c, K_ACT_FWD, A_RRELU, t, 0.0, 0.0)
    c.p0 = _arr(x, "x", t, n, False)
    c.p3 = _arr(slopes, "slopes", t, n, False)
    c.out = _arr(y, "y", t, n, True)
    c.p1 = c.p2 = c.p0
    with nogil:
        _run_ew(&c, n)


def rrelu_backward(x, slopes, gy, gx):
    """gx = gy * (1 if x > 0 else slope)  (PyTorch: noise = slope where x <= 0)."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    _ew_init(&c, K_ACT_BWD, A_RRELU, t, 0.0, 0.0)
    c.p0 = _arr(x, "x", t, n, False)
    c.p3 = _arr(slopes, "slopes", t, n, False)
    c.p2 = _arr(gy, "gy", t, n, False)
    c.out = _arr(gx, "gx", t, n, True)
    c.p1 = c.p0
    with nogil:
        _run_ew(&c, n)


# ---------------------------------------------------------------------------
# row kernels: softmax family, cross entropy, nll, prelu
# ---------------------------------------------------------------------------
cdef enum:
    R_SOFTMAX_FWD, R_SOFTMAX_BWD, R_LSM_FWD, R_LSM_BWD, R_CE_FWD, R_CE_BWD,
    R_CEP_FWD, R_CEP_BWD, R_NLL_BWD, R_PRELU_FWD, R_PRELU_BWD


cdef struct RowCtx:
    int op
    int f64
    Py_ssize_t cols
    Py_ssize_t channels
    void* a            # input matrix (x / y / lsm / logits)
    void* b            # second matrix (gy / target probs)
    void* out          # output matrix
    void* w            # class weights (C,) or NULL / prelu weight
    const int64_t* target
    int64_t ignore
    double ls          # label smoothing
    double scale       # gradient scale for mean/sum
    void* gvec         # per-row gradient (reduction='none') or NULL
    double* row_loss   # per-row loss output
    double* row_aux    # per-row partial sums (prelu gw)
    bint stream        # the output is large: rows written with non-temporal stores


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline floating row_log_softmax(const floating* x, floating* y, Py_ssize_t C, bint log_out,
                                     const floating* next_row) noexcept nogil:
    """Writes softmax (or log_softmax) of row x into y; returns max + log(sum).
    next_row (or NULL) is prefetched while the exps are computed."""
    cdef Py_ssize_t j
    cdef floating m = row_max(x, C)
    cdef floating s, lse, inv
    if log_out:
        s = row_sum_exp(x, m, NULL, C, next_row)
        lse = f_log(s)
        for j in range(C):
            y[j] = (x[j] - m) - lse
        return m + lse
    s = row_sum_exp(x, m, y, C, next_row)
    inv = <floating>1 / s
    for j in range(C):
        y[j] = y[j] * inv
    return m + f_log(s)


DEF SHORT_BLOCK = 1024      # elements of short rows whose exps run as one flat loop


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef inline void short_rows_log_softmax(const floating* x, floating* y, Py_ssize_t rows, Py_ssize_t C,
                                        bint log_out) noexcept nogil:
    """row_log_softmax of `rows` rows of C < LANES columns (class logits), at most
    SHORT_BLOCK elements: the exps of all the rows run as one vector loop instead
    of C scalar ones per row (softmax of (100, 10) float32: 3.3 -> 1.7 us).  The
    flat loop covers whole LANES-blocks (padding computed and dropped), so every
    element goes through the same vector code whatever block it is in."""
    cdef double shifted_buf[SHORT_BLOCK + LANES]
    cdef double e_buf[SHORT_BLOCK + LANES]
    cdef floating* shifted = <floating*>shifted_buf
    cdef floating* e = <floating*>e_buf
    cdef Py_ssize_t n = rows * C, r, j, k, kb
    cdef floating m, s, lse, inv
    for r in range(rows):
        m = row_max(x + r * C, C)
        for j in range(C):
            shifted[r * C + j] = x[r * C + j] - m
    for k in range(n, (n + LANES - 1) // LANES * LANES):
        shifted[k] = 0
    for kb in range(0, n, LANES):
        for k in range(LANES):
            e[kb + k] = f_exp(shifted[kb + k])
    for r in range(rows):
        s = 0
        for j in range(C):
            s = s + e[r * C + j]
        if log_out:
            lse = f_log(s)
            for j in range(C):
                y[r * C + j] = shifted[r * C + j] - lse
        else:
            inv = <floating>1 / s
            for j in range(C):
                y[r * C + j] = e[r * C + j] * inv


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline floating row_max(const floating* x, Py_ssize_t C) noexcept nogil:
    """max of the row; NaN if the row holds a NaN (as PyTorch)."""
    if floating is float:
        return fad_row_maxf(x, C)
    else:
        return fad_row_max(x, C)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline floating row_sum_exp(const floating* x, floating m, floating* y, Py_ssize_t C,
                                 const floating* next_row) noexcept nogil:
    """sum of exp(x - m) over the row, also written to y when y is not NULL.
    The sum keeps LANES partial results, combined in a fixed order: they
    vectorise with the exps, and a row is always reduced by one thread, so the
    result does not depend on the thread count.
    A line of next_row (when not NULL) is prefetched per LANES elements: spread
    over the exps, the reads overlap the arithmetic (prefetching the whole row at
    once stalled on the full miss queues instead)."""
    cdef floating part[LANES]
    cdef floating e, s
    cdef Py_ssize_t j = 0, k
    for k in range(LANES):
        part[k] = 0
    while j + LANES <= C:
        if next_row != NULL:
            fad_prefetch(next_row + j, LANES * sizeof(floating))
        for k in range(LANES):
            e = f_exp(x[j + k] - m)
            if y != NULL:
                y[j + k] = e
            part[k] = part[k] + e
        j += LANES
    s = 0
    for k in range(LANES):
        s = s + part[k]
    while j < C:
        e = f_exp(x[j] - m)
        if y != NULL:
            y[j] = e
        s = s + e
        j += 1
    return s


cdef inline void row_prefetch_pair(const floating* p, const floating* q, Py_ssize_t j) noexcept nogil:
    """One line of each of the next row's inputs (either may be NULL), at column j:
    called per LANES elements, the reads are spread over the row's arithmetic."""
    if p != NULL:
        fad_prefetch(p + j, LANES * sizeof(floating))
    if q != NULL:
        fad_prefetch(q + j, LANES * sizeof(floating))


cdef inline floating row_dot(const floating* a, const floating* b, Py_ssize_t C) noexcept nogil:
    """sum of a[j] * b[j] over the row (b NULL: sum of a)."""
    if floating is float:
        return fad_row_dotf(a, b, C) if b != NULL else fad_row_sumf(a, C)
    else:
        return fad_row_dot(a, b, C) if b != NULL else fad_row_sum(a, C)


cdef inline bint row_prefetch_spread(int op) noexcept nogil:
    """Row ops that prefetch the next row themselves, a line at a time."""
    return op in (R_SOFTMAX_FWD, R_LSM_FWD, R_CE_FWD, R_CEP_FWD, R_SOFTMAX_BWD, R_LSM_BWD)


cdef inline bint row_is_softmax_forward(int op) noexcept nogil:
    return op in (R_SOFTMAX_FWD, R_LSM_FWD, R_CE_FWD, R_CEP_FWD)


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef void rows_impl(RowCtx* c, const floating* A, const floating* B, floating* O,
                    const floating* W, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t C = c.cols, i, j, k, end
    cdef const floating* a
    cdef const floating* nxt
    cdef const floating* bb
    cdef floating* o
    cdef floating s, p, wt, coef_t, coef_s, wsum, ls, scale, q
    cdef double acc, acc2
    cdef int64_t t
    # a streamed row is computed in L1 (`spill`), then written out whole
    cdef double spill_buf[ROW_SPILL_DOUBLES]
    cdef floating* spill = <floating*>spill_buf
    cdef bint stream = c.stream and C * <Py_ssize_t>sizeof(floating) <= ROW_SPILL_BYTES
    # short rows of a softmax-family forward: their softmax is computed a block of
    # rows at a time, written straight to O, before the per-row work below
    cdef bint short_rows = C < LANES and row_is_softmax_forward(c.op)
    cdef Py_ssize_t block_end = lo
    if short_rows:
        stream = False
    ls = <floating>c.ls
    for i in range(lo, hi):
        a = A + i * C
        o = spill if stream else O + i * C
        if short_rows and i == block_end:
            block_end = i + SHORT_BLOCK // C if i + SHORT_BLOCK // C < hi else hi
            short_rows_log_softmax(a, o, block_end - i, C, c.op != R_SOFTMAX_FWD)
        nxt = a + C if i + 1 < hi else NULL
        if nxt != NULL and not row_prefetch_spread(c.op):
            fad_prefetch(nxt, C * sizeof(floating))
        if c.op == R_SOFTMAX_FWD:
            if not short_rows:
                row_log_softmax(a, o, C, False, nxt)
        elif c.op == R_LSM_FWD:
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
        elif c.op == R_SOFTMAX_BWD:          # a = y, B = gy
            bb = B + i * C
            s = row_dot(bb, a, C)
            j = 0
            while j < C:
                end = j + LANES if j + LANES < C else C
                row_prefetch_pair(nxt, bb + C if nxt != NULL else NULL, j)
                for k in range(j, end):
                    o[k] = a[k] * (bb[k] - s)
                j = end
        elif c.op == R_LSM_BWD:              # a = y (log-probs), B = gy
            bb = B + i * C
            s = row_dot(bb, NULL, C)
            j = 0
            while j < C:
                end = j + LANES if j + LANES < C else C
                row_prefetch_pair(nxt, bb + C if nxt != NULL else NULL, j)
                for k in range(j, end):
                    o[k] = bb[k] - f_exp(a[k]) * s
                j = end
        elif c.op == R_CE_FWD:               # a = logits, O = lsm out
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
            t = c.target[i]
            if t == c.ignore:
                c.row_loss[i] = 0
                c.row_aux[i] = 0
            else:
                wt = W[t] if W != NULL else 1
                acc = -<double>wt * o[t] * (1 - c.ls)
                if c.ls > 0:
                    acc2 = 0
                    if W != NULL:
                        for j in range(C):
                            acc2 -= W[j] * o[j]
                    else:
                        for j in range(C):
                            acc2 -= o[j]
                    acc += acc2 * (c.ls / C)
                c.row_loss[i] = acc
                c.row_aux[i] = wt
        elif c.op == R_CE_BWD:               # a = lsm, O = glogits
            t = c.target[i]
            if t == c.ignore:
                for j in range(C):
                    o[j] = 0
            else:
                scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
                wt = W[t] if W != NULL else 1
                coef_t = scale * wt * (<floating>1 - ls)
                coef_s = scale * (ls / C)
                if ls > 0:
                    if W != NULL:
                        wsum = 0
                        for j in range(C):
                            wsum = wsum + W[j]
                        for j in range(C):
                            p = f_exp(a[j])
                            o[j] = coef_t * p + coef_s * (wsum * p - W[j])
                    else:
                        for j in range(C):
                            p = f_exp(a[j])
                            o[j] = coef_t * p + coef_s * (C * p - <floating>1)
                else:
                    for j in range(C):
                        o[j] = coef_t * f_exp(a[j])
                o[t] = o[t] - coef_t
        elif c.op == R_CEP_FWD:              # a = logits, B = target probs, O = lsm
            bb = B + i * C
            if not short_rows:
                row_log_softmax(a, o, C, True, nxt)
            acc = 0
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                if W != NULL:
                    acc -= o[j] * q * W[j]
                else:
                    acc -= o[j] * q
            c.row_loss[i] = acc
        elif c.op == R_CEP_BWD:              # a = lsm, B = target probs, O = glogits
            bb = B + i * C
            scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
            s = 0
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                s = s + (q * W[j] if W != NULL else q)
            for j in range(C):
                q = bb[j] * (<floating>1 - ls) + ls / C if ls > 0 else bb[j]
                if W != NULL:
                    q = q * W[j]
                o[j] = scale * (f_exp(a[j]) * s - q)
        elif c.op == R_NLL_BWD:              # O = glogp
            for j in range(C):
                o[j] = 0
            t = c.target[i]
            if t != c.ignore:
                scale = <floating>c.scale if c.gvec == NULL else (<floating*>c.gvec)[i]
                wt = W[t] if W != NULL else 1
                o[t] = -wt * scale
        elif c.op == R_PRELU_FWD:            # row i = (outer, channel); W = weight
            wt = W[i % c.channels] if c.channels > 1 else W[0]
            for j in range(C):
                o[j] = a[j] if a[j] > 0 else wt * a[j]
        elif c.op == R_PRELU_BWD:            # a = x, B = gy, O = gx; row_aux = gw partial
            bb = B + i * C
            wt = W[i % c.channels] if c.channels > 1 else W[0]
            acc = 0
            for j in range(C):
                if a[j] > 0:
                    o[j] = bb[j]
                else:
                    o[j] = wt * bb[j]
                    acc += <double>(a[j] * bb[j])
            c.row_aux[i] = acc
        if stream:
            fad_stream_copy(O + i * C, spill, C * sizeof(floating))
    if stream:
        fad_stream_fence()


cdef void rows_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef RowCtx* c = <RowCtx*>vctx
    if c.f64:
        rows_impl(c, <const double*>c.a, <const double*>c.b, <double*>c.out,
                  <const double*>c.w, lo, hi)
    else:
        rows_impl(c, <const float*>c.a, <const float*>c.b, <float*>c.out,
                  <const float*>c.w, lo, hi)


cdef inline void _run_rows(RowCtx* c, Py_ssize_t rows) noexcept nogil:
    c.stream = rows * c.cols * (8 if c.f64 else 4) >= _stream_min
    run_blocks(rows_range, c, rows, c.cols)


cdef void _row_init(RowCtx* c, int op, int typenum, Py_ssize_t cols):
    c.op = op; c.f64 = typenum == cnp.NPY_FLOAT64; c.cols = cols; c.channels = 1
    c.a = c.b = c.out = c.w = NULL
    c.target = NULL; c.ignore = -100; c.ls = 0; c.scale = 0; c.gvec = NULL
    c.row_loss = NULL; c.row_aux = NULL


cdef _softmax_common(int op, x, y, out):
    cdef Py_ssize_t rows, cols
    cdef int t = _typenum(x, "x")
    cdef RowCtx c
    _matrix(x, "x", t, &rows, &cols)
    _row_init(&c, op, t, cols)
    c.a = _arr(x, "x", t, rows * cols, False)
    if y is not None:
        c.b = _arr(y, "gy", t, rows * cols, False)
    c.out = _arr(out, "out", t, rows * cols, True)
    if cols == 0:
        return
    with nogil:
        _run_rows(&c, rows)


def softmax_forward(x, y):
    """y = softmax(x) over the last axis of a 2-D C-contiguous (rows, cols) array."""
    _softmax_common(R_SOFTMAX_FWD, x, None, y)


def softmax_backward(y, gy, gx):
    """gx = y * (gy - sum(gy * y)) per row."""
    _softmax_common(R_SOFTMAX_BWD, y, gy, gx)


def log_softmax_forward(x, y):
    _softmax_common(R_LSM_FWD, x, None, y)


def log_softmax_backward(y, gy, gx):
    """gx = gy - exp(y) * sum(gy) per row (y = log_softmax output)."""
    _softmax_common(R_LSM_BWD, y, gy, gx)


# ---- cross entropy / nll ---------------------------------------------------
cdef int _reduction(str reduction) except -1:
    if reduction == "none":
        return 0
    if reduction == "mean":
        return 1
    if reduction == "sum":
        return 2
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


cdef const int64_t* _targets(object target, Py_ssize_t n, Py_ssize_t C, int64_t ignore) except NULL:
    if not isinstance(target, cnp.ndarray):
        raise TypeError(f"target must be a numpy.ndarray, got {type(target).__name__}")
    cdef cnp.ndarray ta = <cnp.ndarray>target
    if cnp.PyArray_TYPE(ta) != cnp.NPY_INT64:
        raise TypeError(f"target must be int64, got {ta.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(ta) or cnp.PyArray_NDIM(ta) != 1:
        raise ValueError("target must be a 1-D C-contiguous array")
    if cnp.PyArray_DIM(ta, 0) != n:
        raise ValueError(f"target has {cnp.PyArray_DIM(ta, 0)} entries, expected {n}")
    cdef const int64_t* tp = <const int64_t*>cnp.PyArray_DATA(ta)
    cdef Py_ssize_t i, bad = -1
    with nogil:
        for i in range(n):
            if tp[i] != ignore and (tp[i] < 0 or tp[i] >= C):
                bad = i
                break
    if bad >= 0:
        raise IndexError(f"Target {tp[bad]} is out of bounds (n_classes={C}, "
                         f"ignore_index={ignore}) at position {bad}")
    if tp == NULL:
        return <const int64_t*>1
    return tp


cdef void* _weight(object weight, int t, Py_ssize_t C) except? NULL:
    if weight is None:
        return NULL
    return _arr(weight, "weight", t, C, False)


cdef double _sum_serial(double* v, Py_ssize_t n) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t i
    for i in range(n):
        s += v[i]
    return s


def cross_entropy_forward(logits, target, weight, long ignore_index, double label_smoothing,
                          str reduction, lsm_out):
    """Fused log_softmax + nll (+ label smoothing). Returns float or (N,) array."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(logits, "logits")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(logits, "logits", t, &N, &C)
    if not (0.0 <= label_smoothing <= 1.0):
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    _row_init(&c, R_CE_FWD, t, C)
    c.a = _arr(logits, "logits", t, N * C, False)
    c.out = _arr(lsm_out, "lsm_out", t, N * C, True)
    c.w = _weight(weight, t, C)
    c.target = _targets(target, N, C, ignore_index)
    c.ignore = ignore_index
    c.ls = label_smoothing
    cdef cnp.ndarray rl = np.empty(N, dtype=np.float64)
    cdef cnp.ndarray rw = np.empty(N, dtype=np.float64)
    c.row_loss = <double*>cnp.PyArray_DATA(rl)
    c.row_aux = <double*>cnp.PyArray_DATA(rw)
    cdef double total = 0, wtot = 0
    with nogil:
        if C > 0:
            _run_rows(&c, N)
        total = _sum_serial(c.row_loss, N)
        wtot = _sum_serial(c.row_aux, N)
    if red == 0:
        return rl.astype(logits.dtype)
    if red == 2:
        return total
    return total / wtot if wtot != 0 else float("nan")


cdef int _class_grad_scale(RowCtx* c, int red, object gout, int t, Py_ssize_t N,
                           long ignore_index) except -1:
    """The upstream gradient of a class-index loss: per row ('none'), or one
    factor, divided for 'mean' by the total weight of the rows not ignored."""
    cdef const float* wf = <const float*>c.w
    cdef const double* wd = <const double*>c.w
    cdef double wtot = 0
    cdef Py_ssize_t i
    if red == 0:
        c.gvec = _arr(gout, "gout", t, N, False)
        return 0
    c.scale = float(gout)
    if red == 1:
        with nogil:
            for i in range(N):
                if c.target[i] != ignore_index:
                    wtot += (1.0 if c.w == NULL else (wd[c.target[i]] if c.f64 else wf[c.target[i]]))
        c.scale = c.scale / wtot if wtot != 0 else 0.0
    return 0


def cross_entropy_backward(lsm, target, weight, long ignore_index, double label_smoothing,
                           str reduction, gout, glogits):
    """glogits = d loss / d logits given the saved log_softmax `lsm`."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(lsm, "lsm")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(lsm, "lsm", t, &N, &C)
    _row_init(&c, R_CE_BWD, t, C)
    c.a = _arr(lsm, "lsm", t, N * C, False)
    c.out = _arr(glogits, "glogits", t, N * C, True)
    c.w = _weight(weight, t, C)
    c.target = _targets(target, N, C, ignore_index)
    c.ignore = ignore_index
    c.ls = label_smoothing
    _class_grad_scale(&c, red, gout, t, N, ignore_index)
    if C == 0:
        return
    with nogil:
        _run_rows(&c, N)


def cross_entropy_prob_forward(logits, target_probs, weight, double label_smoothing,
                               str reduction, lsm_out):
    """Cross entropy with class-probability targets (N, C); mean divides by N."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(logits, "logits")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(logits, "logits", t, &N, &C)
    _row_init(&c, R_CEP_FWD, t, C)
    c.a = _arr(logits, "logits", t, N * C, False)
    c.b = _arr(target_probs, "target_probs", t, N * C, False)
    c.out = _arr(lsm_out, "lsm_out", t, N * C, True)
    c.w = _weight(weight, t, C)
    c.ls = label_smoothing
    cdef cnp.ndarray rl = np.empty(N, dtype=np.float64)
    c.row_loss = <double*>cnp.PyArray_DATA(rl)
    cdef double total = 0
    with nogil:
        if C > 0:
            _run_rows(&c, N)
        total = _sum_serial(c.row_loss, N)
    if red == 0:
        return rl.astype(logits.dtype)
    if red == 2:
        return total
    return total / N if N > 0 else float("nan")


def cross_entropy_prob_backward(lsm, target_probs, weight, double label_smoothing,
                                str reduction, gout, glogits):
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(lsm, "lsm")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(lsm, "lsm", t, &N, &C)
    _row_init(&c, R_CEP_BWD, t, C)
    c.a = _arr(lsm, "lsm", t, N * C, False)
    c.b = _arr(target_probs, "target_probs", t, N * C, False)
    c.out = _arr(glogits, "glogits", t, N * C, True)
    c.w = _weight(weight, t, C)
    c.ls = label_smoothing
    if red == 0:
        c.gvec = _arr(gout, "gout", t, N, False)
    else:
        c.scale = float(gout) / (N if red == 1 and N > 0 else 1)
    if C == 0:
        return
    with nogil:
        _run_rows(&c, N)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void nll_rows(const floating* logp, const floating* W, const int64_t* tg, int64_t ignore,
                   Py_ssize_t N, Py_ssize_t C, double* loss, double* wts) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating wt
    for i in range(N):
        if tg[i] == ignore:
            loss[i] = 0
            wts[i] = 0
        else:
            wt = W[tg[i]] if W != NULL else 1
            loss[i] = -<double>(wt * logp[i * C + tg[i]])
            wts[i] = wt


def nll_loss_forward(logp, target, weight, long ignore_index, str reduction):
    """-w[t] * logp[i, t]; mean divides by the summed weights of non-ignored targets."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(logp, "logp")
    cdef Py_ssize_t N, C
    _matrix(logp, "logp", t, &N, &C)
    cdef void* lp = _arr(logp, "logp", t, N * C, False)
    cdef void* w = _weight(weight, t, C)
    cdef const int64_t* tg = _targets(target, N, C, ignore_index)
    cdef cnp.ndarray rl = np.empty(N, dtype=np.float64)
    cdef cnp.ndarray rw = np.empty(N, dtype=np.float64)
    cdef double* pl = <double*>cnp.PyArray_DATA(rl)
    cdef double* pw = <double*>cnp.PyArray_DATA(rw)
    cdef double total, wtot
    with nogil:
        if t == cnp.NPY_FLOAT64:
            nll_rows(<const double*>lp, <const double*>w, tg, ignore_index, N, C, pl, pw)
        else:
            nll_rows(<const float*>lp, <const float*>w, tg, ignore_index, N, C, pl, pw)
        total = _sum_serial(pl, N)
        wtot = _sum_serial(pw, N)
    if red == 0:
        return rl.astype(logp.dtype)
    if red == 2:
        return total
    return total / wtot if wtot != 0 else float("nan")


def nll_loss_backward(target, weight, long ignore_index, str reduction, gout, glogp):
    """Writes glogp (N, C) (zeroed here) for nll_loss."""
    cdef int red = _reduction(reduction)
    cdef int t = _typenum(glogp, "glogp")
    cdef Py_ssize_t N, C
    cdef RowCtx c
    _matrix(glogp, "glogp", t, &N, &C)
    _row_init(&c, R_NLL_BWD, t, C)
    c.out = _arr(glogp, "glogp", t, N * C, True)
    c.a = c.out
    c.w = _weight(weight, t, C)
    c.target = _targets(target, N, C, ignore_index)
    c.ignore = ignore_index
    _class_grad_scale(&c, red, gout, t, N, ignore_index)
    if C == 0:
        return
    with nogil:
        _run_rows(&c, N)


# ---- prelu -----------------------------------------------------------------
def prelu_forward(x, w, y, Py_ssize_t inner, Py_ssize_t channels):
    """x viewed as (outer, channels, inner); w has `channels` elements or 1."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef RowCtx c
    if inner < 0 or channels < 1 or (n and n % (inner * channels) != 0) or (inner == 0 and n):
        raise ValueError(f"x of size {n} cannot be viewed as (outer, {channels}, {inner})")
    cdef Py_ssize_t nw = cnp.PyArray_SIZE(<cnp.ndarray>w) if isinstance(w, cnp.ndarray) else -1
    if nw != 1 and nw != channels:
        raise ValueError(f"w must have {channels} elements or 1, got {nw}")
    _row_init(&c, R_PRELU_FWD, t, inner)
    c.channels = channels if nw > 1 else 1
    c.a = _arr(x, "x", t, n, False)
    c.w = _arr(w, "w", t, nw, False)
    c.out = _arr(y, "y", t, n, True)
    if n == 0:
        return
    with nogil:
        _run_rows(&c, n // inner)


def prelu_backward(x, w, gy, gx, gw, Py_ssize_t inner, Py_ssize_t channels):
    """gx = gy * (x > 0 ? 1 : w[c]); gw[c] = sum over x <= 0 of x * gy (gw overwritten)."""
    cdef int t = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef RowCtx c
    cdef Py_ssize_t i, rows, nw
    if inner < 0 or channels < 1 or (n and n % (inner * channels) != 0) or (inner == 0 and n):
        raise ValueError(f"x of size {n} cannot be viewed as (outer, {channels}, {inner})")
    nw = cnp.PyArray_SIZE(<cnp.ndarray>w) if isinstance(w, cnp.ndarray) else -1
    if nw != 1 and nw != channels:
        raise ValueError(f"w must have {channels} elements or 1, got {nw}")
    _row_init(&c, R_PRELU_BWD, t, inner)
    c.channels = channels if nw > 1 else 1
    c.a = _arr(x, "x", t, n, False)
    c.w = _arr(w, "w", t, nw, False)
    c.b = _arr(gy, "gy", t, n, False)
    c.out = _arr(gx, "gx", t, n, True)
    cdef void* gwp = _arr(gw, "gw", t, nw, True)
    rows = n // inner if inner else 0
    cdef cnp.ndarray part = np.zeros(rows, dtype=np.float64)
    c.row_aux = <double*>cnp.PyArray_DATA(part)
    cdef double* acc = <double*>malloc(nw * sizeof(double))
    if acc == NULL:
        raise MemoryError()
    with nogil:
        if rows:
            _run_rows(&c, rows)
        for i in range(nw):
            acc[i] = 0
        for i in range(rows):        # fixed order: identical for any thread count
            acc[i % c.channels] += c.row_aux[i]
        for i in range(nw):
            if c.f64:
                (<double*>gwp)[i] = acc[i]
            else:
                (<float*>gwp)[i] = <float>acc[i]
    free(acc)


# ---------------------------------------------------------------------------
# 4. elementwise losses
# ---------------------------------------------------------------------------
cdef dict _LOSS_CODE = {
    "mse": L_MSE, "l1": L_L1, "smooth_l1": L_SMOOTH_L1, "huber": L_HUBER,
    "binary_cross_entropy": L_BCE, "binary_cross_entropy_with_logits": L_BCE_LOGITS,
    "kl_div": L_KL_DIV,
}

LOSSES = {
    "mse": {"params": ()},
    "l1": {"params": ()},
    "smooth_l1": {"params": (("beta", 1.0),)},
    "huber": {"params": (("delta", 1.0),)},
    "binary_cross_entropy": {"params": ()},
    "binary_cross_entropy_with_logits": {"params": ()},
    "kl_div": {"params": (("log_target", 0.0),)},
}


cdef int _loss_code(str name) except -1:
    try:
        return _LOSS_CODE[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; expected one of {sorted(_LOSS_CODE)}") from None




cdef void* _pos_weight(object pw, int t, Py_ssize_t n, list keep) except NULL:
    """pos_weight or, when None, a buffer of ones (bce_logits formula uses it)."""
    if pw is not None:
        return _arr(pw, "pos_weight", t, n, False)
    ones = np.ones(n, dtype=np.float64 if t == cnp.NPY_FLOAT64 else np.float32)
    keep.append(ones)
    return _arr(ones, "pos_weight", t, n, False)


cdef _loss_fwd(int op, x, t, pw, out, double a, double b):
    """Per-element losses into out; with out None, their sum (a float) instead."""
    cdef int tn = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef Py_ssize_t per = SPILL_BYTES // (8 if tn == cnp.NPY_FLOAT64 else 4), k
    cdef EwCtx c
    cdef list keep = []
    cdef double total = 0
    _ew_init(&c, K_LOSS_FWD, op, tn, a, b)
    c.p0 = _arr(x, "x", tn, n, False)
    c.p1 = _arr(t, "t", tn, n, False)
    c.p2 = c.p0
    c.p3 = _pos_weight(pw, tn, n, keep) if op == L_BCE_LOGITS else c.p0
    if out is not None:
        c.out = _arr(out, "out", tn, n, True)
        with nogil:
            _run_ew(&c, n)
        return None
    c.out = NULL
    c.partials = <double*>malloc(((n + per - 1) // per + 1) * sizeof(double))
    if c.partials == NULL:
        raise MemoryError()
    with nogil:
        _run_ew(&c, n)
        for k in range((n + per - 1) // per):
            total += c.partials[k]
    free(c.partials)
    return total


cdef _loss_bwd(int op, x, t, pw, gout, gx, gt, double a, double b):
    cdef int tn = _typenum(x, "x")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>x)
    cdef EwCtx c
    cdef list keep = []
    _ew_init(&c, K_LOSS_GX, op, tn, a, b)
    c.p0 = _arr(x, "x", tn, n, False)
    c.p1 = _arr(t, "t", tn, n, False)
    c.p2 = _arr(gout, "gout", tn, n, False)
    c.p3 = _pos_weight(pw, tn, n, keep) if op == L_BCE_LOGITS else c.p0
    cdef void* gxp = _arr(gx, "gx", tn, n, True) if gx is not None else NULL
    cdef void* gtp = _arr(gt, "gt", tn, n, True) if gt is not None else NULL
    with nogil:
        if gtp != NULL:          # target grad first: gx may alias gout, gt may not
            c.kind = K_LOSS_GT
            c.out = gtp
            _run_ew(&c, n)
        if gxp != NULL:
            c.kind = K_LOSS_GX
            c.out = gxp
            _run_ew(&c, n)


def loss_forward(str name, x, t, out, double a=0.0, double b=0.0):
    """Per-element loss into out (x, t, out: same dtype and size).  With out None,
    returns the sum of the losses instead, accumulated in double in an order that
    does not depend on the thread count."""
    return _loss_fwd(_loss_code(name), x, t, None, out, a, b)


def loss_backward(str name, x, t, gout, gx, gt, double a=0.0, double b=0.0):
    """gx (and gt when not None) from the per-element upstream gradient gout."""
    _loss_bwd(_loss_code(name), x, t, None, gout, gx, gt, a, b)


def bce_logits_forward(x, t, pos_weight, out):
    """Stable BCE-with-logits; pos_weight None or already broadcast to x's shape
    (out None: the sum, as loss_forward)."""
    return _loss_fwd(L_BCE_LOGITS, x, t, pos_weight, out, 0.0, 0.0)


def bce_logits_backward(x, t, pos_weight, gout, gx, gt=None):
    _loss_bwd(L_BCE_LOGITS, x, t, pos_weight, gout, gx, gt, 0.0, 0.0)


# ---------------------------------------------------------------------------
# 5. optimisers (torch.optim single-tensor update rules, scalars cast to dtype)
# ---------------------------------------------------------------------------
cdef struct OptCtx:
    int f64
    int kind             # 0 sgd, 1 adam
    void* p
    void* g
    void* m              # momentum buffer / exp_avg
    void* v              # exp_avg_sq
    double lr, momentum, dampening, wd, eps, beta1, beta2, step_size, bc2_sqrt
    bint nesterov, first, decoupled


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef void opt_impl(OptCtx* c, floating* p, const floating* g, floating* m, floating* v,
                   Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, bi, denom
    cdef floating lr = <floating>c.lr, neg_lr = <floating>(-c.lr)
    cdef floating wd = <floating>c.wd, mom = <floating>c.momentum
    cdef floating damp1 = <floating>(1 - c.dampening)
    cdef floating w1 = <floating>(1 - c.beta1), b2 = <floating>c.beta2
    cdef floating w2 = <floating>(1 - c.beta2), eps = <floating>c.eps
    cdef floating decay = <floating>(1 - c.lr * c.wd)
    cdef floating neg_step = <floating>(-c.step_size), bc2s = <floating>c.bc2_sqrt
    if c.kind == 0:
        for i in range(lo, hi):
            gi = g[i]
            if c.wd != 0:
                gi = gi + wd * p[i]
            if c.momentum != 0:
                if c.first:
                    bi = gi
                else:
                    bi = m[i] * mom
                    bi = bi + damp1 * gi
                m[i] = bi
                if c.nesterov:
                    gi = gi + mom * bi
                else:
                    gi = bi
            p[i] = p[i] + neg_lr * gi
    else:
        for i in range(lo, hi):
            gi = g[i]
            if c.wd != 0:
                if c.decoupled:
                    p[i] = p[i] * decay
                else:
                    gi = gi + wd * p[i]
            m[i] = m[i] + w1 * (gi - m[i])                    # lerp_(grad, 1 - beta1)
            v[i] = v[i] * b2
            v[i] = v[i] + w2 * gi * gi                        # addcmul_(g, g, 1 - beta2)
            denom = f_sqrt(v[i]) / bc2s + eps
            p[i] = p[i] + neg_step * m[i] / denom             # addcdiv_(m, denom, -step_size)


cdef void opt_range(void* vctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef OptCtx* c = <OptCtx*>vctx
    if c.f64:
        opt_impl(c, <double*>c.p, <const double*>c.g, <double*>c.m, <double*>c.v, lo, hi)
    else:
        opt_impl(c, <float*>c.p, <const float*>c.g, <float*>c.m, <float*>c.v, lo, hi)


cdef _opt_run(list params, list grads, list bufs1, list bufs2, OptCtx* proto, bint need1, bint need2):
    cdef Py_ssize_t k, n, np_ = len(params)
    for nm, lst in (("grads", grads), ("bufs", bufs1), ("exp_avg_sqs", bufs2)):
        if lst is not None and len(lst) != np_:
            raise ValueError(f"{nm} has {len(lst)} entries, expected {np_} (one per param)")
    cdef OptCtx* ctxs = <OptCtx*>malloc((np_ if np_ else 1) * sizeof(OptCtx))
    cdef Py_ssize_t* sizes = <Py_ssize_t*>malloc((np_ if np_ else 1) * sizeof(Py_ssize_t))
    if ctxs == NULL or sizes == NULL:
        free(ctxs); free(sizes)
        raise MemoryError()
    try:
        for k in range(np_):
            p = params[k]
            t = _typenum(p, f"params[{k}]")
            n = cnp.PyArray_SIZE(<cnp.ndarray>p)
            ctxs[k] = proto[0]
            ctxs[k].f64 = t == cnp.NPY_FLOAT64
            ctxs[k].p = _arr(p, f"params[{k}]", t, n, True)
            ctxs[k].g = _arr(grads[k], f"grads[{k}]", t, n, False)
            ctxs[k].m = _arr(bufs1[k], f"bufs[{k}]", t, n, True) if need1 else ctxs[k].p
            ctxs[k].v = _arr(bufs2[k], f"exp_avg_sqs[{k}]", t, n, True) if need2 else ctxs[k].p
            sizes[k] = n
        with nogil:
            for k in range(np_):
                run_blocks(opt_range, &ctxs[k], sizes[k], 1)
    finally:
        free(ctxs)
        free(sizes)


def sgd_step(list params, list grads, list bufs, double lr, double momentum, double dampening,
             double weight_decay, bint nesterov, bint first_step):
    """torch.optim.SGD (single-tensor): first_step initialises bufs to the grad."""
    cdef OptCtx c
    if nesterov and (momentum <= 0 or dampening != 0):
        raise ValueError("Nesterov momentum requires a momentum and zero dampening")
    c.kind = 0; c.lr = lr; c.momentum = momentum; c.dampening = dampening
    c.wd = weight_decay; c.nesterov = nesterov; c.first = first_step
    c.eps = c.beta1 = c.beta2 = c.step_size = c.bc2_sqrt = 0; c.decoupled = False
    _opt_run(params, grads, bufs if momentum != 0 else None, None, &c, momentum != 0, False)


def adam_step(list params, list grads, list exp_avgs, list exp_avg_sqs, double lr, double beta1,
              double beta2, double eps, double weight_decay, bint decoupled, long step):
    """torch.optim.Adam / AdamW (decoupled=True) single-tensor update; `step` is the
    1-based step count after increment."""
    cdef OptCtx c
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    c.kind = 1; c.lr = lr; c.beta1 = beta1; c.beta2 = beta2; c.eps = eps
    c.wd = weight_decay; c.decoupled = decoupled
    c.step_size = lr / bias_correction1
    c.bc2_sqrt = bias_correction2 ** 0.5
    c.momentum = c.dampening = 0; c.nesterov = False; c.first = False
    _opt_run(params, grads, exp_avgs, exp_avg_sqs, &c, True, True)
