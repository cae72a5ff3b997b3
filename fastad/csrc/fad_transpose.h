/* float32 transposes for the small-batch linear layer (x transposed first, an NN
   GEMM, its result transposed back with the bias added). */
#ifndef FAD_TRANSPOSE_H
#define FAD_TRANSPOSE_H

#include "fad_common.h"

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

#endif /* FAD_TRANSPOSE_H */
