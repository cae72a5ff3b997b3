/* Row reductions of the row kernels and of the loss totals, vectorised by
   `omp simd` (compiled with -fopenmp-simd) in an order fixed by the build: a row
   is reduced by one thread, so results do not depend on the thread count. */
#ifndef FAD_REDUCE_H
#define FAD_REDUCE_H

#include "fad_common.h"

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

#endif /* FAD_REDUCE_H */
